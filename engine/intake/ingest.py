"""Event intake in Segment's shape: store each event once, resolve the person, react.

A batch is handled in one transaction: existing ``messageId``s are looked up in one query (a
retried event is harmless), profiles are resolved for the whole batch, events are inserted in
bulk, then the batch's tracks and trait changes go, in the order they happened, to one call of
:func:`engine.runtime.reactions.react`, which decides what they do to the customers' runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import Session, col

from engine.runtime import Happening, IncomingEvent, TraitsChanged, react
from engine.store import Enrollment, Event, OutboxMessage, Profile, ProfileAlias, utc_now

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2_500


class IngestError(ValueError):
    """A request the intake refuses as a whole; nothing of it was stored."""


class _Message(BaseModel):
    # Segment's libraries add fields over time (integrations, _metadata, writeKey...); accept them.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    userId: str | int | None = Field(None)  # noqa: N815 - Segment's field names
    anonymousId: str | int | None = Field(None)  # noqa: N815
    messageId: str | None = Field(None, max_length=200)  # noqa: N815
    timestamp: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _someone(self) -> _Message:
        if self.userId in (None, "") and self.anonymousId in (None, ""):
            raise ValueError("either userId or anonymousId is required")
        return self

    @property
    def user_id(self) -> str | None:
        return None if self.userId in (None, "") else str(self.userId)

    @property
    def anonymous_id(self) -> str | None:
        return None if self.anonymousId in (None, "") else str(self.anonymousId)


class TrackMessage(_Message):
    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class IdentifyMessage(_Message):
    type: Literal["identify"] = "identify"
    traits: dict[str, Any] = Field(default_factory=dict)


class PageMessage(_Message):
    type: Literal["page"] = "page"
    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


AnyMessage = Annotated[TrackMessage | IdentifyMessage | PageMessage, Field(discriminator="type")]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    batch: list[AnyMessage] = Field(max_length=MAX_BATCH_EVENTS)


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    enrolled: int


def _timezone(message: _Message) -> str | None:
    tz = message.context.get("timezone")
    if isinstance(message, IdentifyMessage):
        tz = message.traits.get("timezone", tz)
    return str(tz) if tz else None


@dataclass(eq=False)
class _Person:
    """A profile as the intake works on it: plain values, saved for the whole batch in one statement."""

    id: int
    user_id: str | None
    traits: dict[str, Any]
    consent: dict[str, bool]
    timezone: str | None
    updated_at: datetime


_PERSON_COLUMNS = select(
    col(Profile.id),
    col(Profile.user_id),
    col(Profile.traits),
    col(Profile.consent),
    col(Profile.timezone),
    col(Profile.updated_at),
)


class _Profiles:
    """Profiles of one batch, resolved with a few queries and created or merged as needed."""

    def __init__(self, session: Session, messages: Sequence[_Message], now: datetime) -> None:
        self.session = session
        self.now = now
        user_ids = {m.user_id for m in messages if m.user_id}
        anonymous_ids = {m.anonymous_id for m in messages if m.anonymous_id}
        self.by_user: dict[str, _Person] = {}
        self.by_anonymous: dict[str, _Person] = {}
        loaded: dict[int, _Person] = {}
        if user_ids:
            for row in session.execute(_PERSON_COLUMNS.where(col(Profile.user_id).in_(user_ids))):
                person = loaded.setdefault(row.id, _Person(*row))
                assert person.user_id is not None
                self.by_user[person.user_id] = person
        if anonymous_ids:
            rows = session.execute(
                _PERSON_COLUMNS.add_columns(col(ProfileAlias.anonymous_id))
                .join(ProfileAlias, col(Profile.id) == col(ProfileAlias.profile_id))
                .where(col(ProfileAlias.anonymous_id).in_(anonymous_ids))
            ).all()
            for *columns, anonymous_id in rows:
                self.by_anonymous[anonymous_id] = loaded.setdefault(columns[0], _Person(*columns))
        self.unsaved_aliases: set[str] = set()
        self.new_aliases: list[dict[str, Any]] = []
        # A profile merged away mid-batch may already be named by earlier messages of the batch.
        self.merged_into: dict[int, _Person] = {}
        self._create_unknown(messages)

    def _create_unknown(self, messages: Sequence[_Message]) -> None:
        """Insert every person this batch sees for the first time in one statement."""
        users, anonymous = set(self.by_user), set(self.by_anonymous)
        owners = {anonymous_id: profile.user_id for anonymous_id, profile in self.by_anonymous.items()}
        planned: list[tuple[str | None, str | None]] = []
        for message in messages:
            user_id, anonymous_id = message.user_id, message.anonymous_id
            device_known = bool(
                anonymous_id and anonymous_id in anonymous and _same_person(owners.get(anonymous_id), user_id)
            )
            if not ((user_id and user_id in users) or device_known):
                # A device another signed-in customer already uses stays theirs: a new person gets no alias.
                planned.append((user_id, anonymous_id if anonymous_id not in anonymous else None))
            if user_id:
                users.add(user_id)
            if anonymous_id:
                anonymous.add(anonymous_id)
                owners[anonymous_id] = owners.get(anonymous_id) or user_id
        if not planned:
            return
        table = Profile.__table__  # type: ignore[attr-defined]
        named = [(u, a) for u, a in planned if u]
        # Rows are matched back by user id, not by position: an ordered RETURNING costs SQLite one
        # statement per row. People known only by an anonymous id have nothing to match on, and are
        # inserted one by one (rare: server-side tracking names people).
        if named:
            ids = dict(
                (user_id, profile_id)
                for profile_id, user_id in self.session.execute(
                    insert(table).returning(table.c.id, table.c.user_id),
                    [self._new_row(user_id) for user_id, _ in named],
                )
            )
            for user_id, anonymous_id in named:
                assert user_id is not None
                self._register(self._new_person(ids[user_id], user_id), user_id, anonymous_id)
        for user_id, anonymous_id in planned:
            if user_id is None:
                profile_id = self.session.execute(insert(table).returning(table.c.id), self._new_row(None)).scalar_one()
                self._register(self._new_person(profile_id, None), None, anonymous_id)

    def _new_row(self, user_id: str | None) -> dict[str, Any]:
        return {"user_id": user_id, "traits": {}, "consent": {}, "created_at": self.now, "updated_at": self.now}

    def _new_person(self, profile_id: int, user_id: str | None) -> _Person:
        return _Person(id=profile_id, user_id=user_id, traits={}, consent={}, timezone=None, updated_at=self.now)

    def _register(self, profile: _Person, user_id: str | None, anonymous_id: str | None) -> None:
        if user_id:
            self.by_user[user_id] = profile
        if anonymous_id:
            self.by_anonymous[anonymous_id] = profile
            self.unsaved_aliases.add(anonymous_id)

    def resolve(self, message: _Message) -> _Person:
        user_id, anonymous_id = message.user_id, message.anonymous_id
        known_user = self.by_user.get(user_id) if user_id else None
        known_anonymous = self.by_anonymous.get(anonymous_id) if anonymous_id else None
        if known_anonymous and not _same_person(known_anonymous.user_id, user_id):
            # Two people signed in on one device (a shared computer): never merge two user ids.
            known_anonymous = None
        if known_user and known_anonymous and known_user.id != known_anonymous.id:
            profile = self._merge(into=known_user, other=known_anonymous)
        else:
            found = known_user or known_anonymous
            assert found is not None, "every person of the batch was created up front"
            profile = found
        if user_id and profile.user_id is None:
            profile.user_id = user_id
        if user_id:
            self.by_user[user_id] = profile
        if anonymous_id and (anonymous_id not in self.by_anonymous or anonymous_id in self.unsaved_aliases):
            self.new_aliases.append({"anonymous_id": anonymous_id, "profile_id": profile.id})
            self.by_anonymous[anonymous_id] = profile
            self.unsaved_aliases.discard(anonymous_id)
        return profile

    def _merge(self, *, into: _Person, other: _Person) -> _Person:
        """One person seen first anonymously, then signed in: keep one profile with all they did."""
        into.traits = {**other.traits, **into.traits}
        into.consent = {**other.consent, **into.consent}
        into.timezone = into.timezone or other.timezone
        for table, column in (
            (ProfileAlias, col(ProfileAlias.profile_id)),
            (Event, col(Event.profile_id)),
            (Enrollment, col(Enrollment.profile_id)),
            # Messages not yet sent must meet the merged person's consent, caps and time zone.
            (OutboxMessage, col(OutboxMessage.profile_id)),
        ):
            self.session.execute(
                update(table).where(column == other.id).values(profile_id=into.id),
                execution_options={"synchronize_session": False},
            )
        self.session.execute(delete(Profile.__table__).where(Profile.__table__.c.id == other.id))  # type: ignore[attr-defined]
        for key, profile in list(self.by_anonymous.items()):
            if profile.id == other.id:
                self.by_anonymous[key] = into
        for alias in self.new_aliases:
            if alias["profile_id"] == other.id:
                alias["profile_id"] = into.id
        self.merged_into[other.id] = into
        for merged_id, survivor in list(self.merged_into.items()):
            if survivor.id == other.id:
                self.merged_into[merged_id] = into
        return into

    def current(self, profile: _Person) -> _Person:
        """The profile as it stands after the batch's merges."""
        return self.merged_into.get(profile.id, profile)


def _same_person(known_user_id: str | None, user_id: str | None) -> bool:
    """Whether a message naming ``user_id`` may belong to a profile known as ``known_user_id``."""
    return known_user_id is None or user_id is None or known_user_id == user_id


def _save_profiles(session: Session, people: _Profiles, profiles: dict[int, _Person]) -> None:
    """Write the batch's people in one statement each: new aliases, then every changed profile."""
    if people.new_aliases:
        session.execute(insert(ProfileAlias.__table__), people.new_aliases)  # type: ignore[attr-defined]
    table = Profile.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table).where(table.c.id == bindparam("pid")),
        [
            {
                "pid": p.id,
                "user_id": p.user_id,
                "traits": p.traits,
                "consent": p.consent,
                "timezone": p.timezone,
                "updated_at": p.updated_at,
            }
            for p in profiles.values()
        ],
        execution_options={"synchronize_session": False},
    )


def _consent_changes(traits: dict[str, Any]) -> dict[str, bool]:
    """Consent arrives as a ``consent`` trait ({"sms": false}) or as ``unsubscribed_<channel>``."""
    changes: dict[str, bool] = {}
    consent = traits.get("consent")
    if isinstance(consent, dict):
        for channel, value in consent.items():
            given = _yes_or_no(value)
            if given is not None:
                changes[str(channel)] = given
    for key, value in traits.items():
        unsubscribed = _yes_or_no(value) if key.startswith("unsubscribed_") else None
        if unsubscribed is not None:
            changes[key.removeprefix("unsubscribed_")] = not unsubscribed
    return changes


def _yes_or_no(value: Any) -> bool | None:
    """A flag as sources send it (true, "false", 0, "yes"); None when it says neither, so it changes nothing.

    ``bool("false")`` is True: taken at face value, a text flag would re-subscribe a customer who opted out.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
            value.strip().lower()
        )
    return None


def ingest(*, session: Session, messages: Sequence[AnyMessage], now: datetime | None = None) -> IngestResult:
    """Store and act on a list of messages in one transaction (the caller commits)."""
    now = now or utc_now()
    ids = [m.messageId or f"generated-{uuid.uuid4()}" for m in messages]
    existing = set(session.execute(select(col(Event.message_id)).where(col(Event.message_id).in_(set(ids)))).scalars())
    fresh: list[tuple[str, AnyMessage]] = []
    seen: set[str] = set()
    for message_id, message in zip(ids, messages, strict=True):
        if message_id in existing or message_id in seen:
            continue
        seen.add(message_id)
        fresh.append((message_id, message))
    duplicates = len(messages) - len(fresh)
    if not fresh:
        return IngestResult(accepted=0, duplicates=duplicates, enrolled=0)

    profiles = _Profiles(session, [m for _, m in fresh], now)
    rows: list[dict[str, Any]] = []
    reactions: list[tuple[AnyMessage, _Person, dict[str, Any]]] = []
    for message_id, message in fresh:
        profile = profiles.resolve(message)
        before = dict(profile.traits)
        if isinstance(message, IdentifyMessage):
            profile.traits = {**profile.traits, **{k: v for k, v in message.traits.items() if k != "consent"}}
            consent = _consent_changes(message.traits)
            if consent:
                profile.consent = {**profile.consent, **consent}
        tz = _timezone(message)
        if tz:
            profile.timezone = tz
        profile.updated_at = now
        rows.append(
            {
                "message_id": message_id,
                "profile_id": profile.id,
                "type": message.type,
                "name": message.event if isinstance(message, TrackMessage) else getattr(message, "name", None),
                "properties": message.properties if isinstance(message, TrackMessage | PageMessage) else message.traits,
                "occurred_at": message.timestamp or now,
                "received_at": now,
            }
        )
        reactions.append((message, profile, before))
    reactions = [(message, profiles.current(profile), before) for message, profile, before in reactions]
    for row, (_, profile, _) in zip(rows, reactions, strict=True):
        row["profile_id"] = profile.id
    _save_profiles(session, profiles, {profile.id: profile for _, profile, _ in reactions})
    session.execute(insert(Event.__table__), rows)  # type: ignore[attr-defined]

    happenings: list[Happening] = []
    for message, profile, before in reactions:
        assert profile.id is not None
        if isinstance(message, TrackMessage):
            happenings.append(
                IncomingEvent(
                    profile_id=profile.id,
                    user_id=profile.user_id,
                    traits=profile.traits,
                    timezone=profile.timezone,
                    name=message.event,
                    properties=message.properties,
                )
            )
        elif isinstance(message, IdentifyMessage):
            happenings.append(
                TraitsChanged(
                    profile_id=profile.id,
                    user_id=profile.user_id,
                    before=before,
                    after=profile.traits,
                    timezone=profile.timezone,
                )
            )
    enrolled = react(session=session, happenings=happenings, now=now)
    return IngestResult(accepted=len(fresh), duplicates=duplicates, enrolled=enrolled)


def parse_batch(body: bytes) -> list[AnyMessage]:
    """Validate a ``/v1/batch`` body; raises IngestError naming what is wrong."""
    if len(body) > MAX_BATCH_BYTES:
        raise IngestError(f"batch is {len(body)} bytes; the limit is {MAX_BATCH_BYTES}")
    try:
        request = BatchRequest.model_validate_json(body)
    except ValueError as error:
        raise IngestError(_describe(error)) from error
    return list(request.batch)


def parse_single(body: bytes, kind: type[TrackMessage | IdentifyMessage | PageMessage]) -> AnyMessage:
    if len(body) > MAX_EVENT_BYTES:
        raise IngestError(f"event is {len(body)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        return kind.model_validate_json(body)
    except ValueError as error:
        raise IngestError(_describe(error)) from error


def _describe(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        parts = []
        for item in errors()[:5]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        return "invalid payload: " + "; ".join(parts)
    return f"invalid payload: {error}"
