"""Who each message of a batch is about: profiles found, created, merged and saved in a few statements.

A customer first seen in the batch is worked on in memory and inserted once, at the end, with the traits, consent
and time zone the batch gave them; a profile that already existed is updated. Merges are written then too.

A message names a person by ``userId`` (signed in) and/or ``anonymousId`` (a device). A device first seen
anonymously and then signed in is merged into the signed-in customer; two user ids are never merged by that
rule (a shared computer), only by an explicit ``alias``, which says its ``previousId`` is the ``userId`` person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import Session, col

from engine.intake.messages import AliasMessage, AnyMessage
from engine.store import (
    Enrollment,
    Event,
    OutboxMessage,
    PendingEvent,
    Profile,
    ProfileAlias,
    insert_rows,
    select_by_unique,
    update_rows,
)


@dataclass(eq=False)
class Person:
    """A profile as the intake works on it: plain values, saved for the whole batch in one statement.

    ``id`` is None for a customer this batch creates, until :meth:`Profiles.save` inserts them.
    """

    id: int | None
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


class Profiles:
    """Profiles of one batch, resolved with a few queries and created or merged as needed."""

    def __init__(self, session: Session, messages: Sequence[AnyMessage], now: datetime) -> None:
        self.session = session
        # Core statements on the session's connection (and, on PostgreSQL, a batch's rows as one array per column):
        # the intake loads no ORM object.
        self.connection = connection = session.connection()
        self.dialect = dialect = connection.dialect.name
        self.now = now
        user_ids = {m.user_id for m in messages if m.user_id}
        anonymous_ids = {m.anonymous_id for m in messages if m.anonymous_id}
        # An alias's previous id may be either: an anonymous id, or the user id the customer went by before.
        previous_ids = {m.previous_id for m in messages if isinstance(m, AliasMessage)}
        user_ids |= previous_ids
        anonymous_ids |= previous_ids
        self.by_user: dict[str, Person] = {}
        self.by_anonymous: dict[str, Person] = {}
        loaded: dict[int, Person] = {}
        if user_ids:
            for row in connection.execute(
                select_by_unique(_PERSON_COLUMNS, col(Profile.user_id), user_ids, dialect=dialect)
            ):
                person = loaded.setdefault(row.id, Person(*row))
                assert person.user_id is not None
                self.by_user[person.user_id] = person
        if anonymous_ids:
            rows = connection.execute(
                select_by_unique(
                    _PERSON_COLUMNS.add_columns(col(ProfileAlias.anonymous_id)).join(
                        ProfileAlias, col(Profile.id) == col(ProfileAlias.profile_id)
                    ),
                    col(ProfileAlias.anonymous_id),
                    anonymous_ids,
                    dialect=dialect,
                )
            ).all()
            for *columns, anonymous_id in rows:
                self.by_anonymous[anonymous_id] = loaded.setdefault(columns[0], Person(*columns))
        self.unsaved_aliases: set[str] = set()
        self.new_aliases: list[tuple[str, Person]] = []
        self.created: list[Person] = []
        # A profile merged away mid-batch may already be named by earlier messages of the batch.
        self.merged_into: dict[Person, Person] = {}
        # Stored profiles merged away, by id, with whom they were merged into: written when the batch is saved.
        self.merges: list[tuple[int, Person]] = []
        self._create_unknown(messages)

    def _create_unknown(self, messages: Sequence[AnyMessage]) -> None:
        """A person, not stored yet, for each one this batch sees for the first time."""
        users, anonymous = set(self.by_user), set(self.by_anonymous)
        owners = {anonymous_id: profile.user_id for anonymous_id, profile in self.by_anonymous.items()}
        for message in messages:
            user_id, anonymous_id = message.user_id, message.anonymous_id
            if isinstance(message, AliasMessage):
                # Whoever the previous id names takes the new user id; only two ids never seen make a new person.
                anonymous_id = message.previous_id
                if anonymous_id in users or anonymous_id in anonymous:
                    if user_id:
                        users.add(user_id)
                    continue
            device_known = bool(
                anonymous_id and anonymous_id in anonymous and _same_person(owners.get(anonymous_id), user_id)
            )
            if not ((user_id and user_id in users) or device_known):
                person = Person(id=None, user_id=user_id, traits={}, consent={}, timezone=None, updated_at=self.now)
                self.created.append(person)
                # A device another signed-in customer already uses stays theirs: a new person gets no alias.
                self._register(person, user_id, anonymous_id if anonymous_id not in anonymous else None)
            if user_id:
                users.add(user_id)
            if anonymous_id:
                anonymous.add(anonymous_id)
                owners[anonymous_id] = owners.get(anonymous_id) or user_id

    def _register(self, profile: Person, user_id: str | None, anonymous_id: str | None) -> None:
        if user_id:
            self.by_user[user_id] = profile
        if anonymous_id:
            self.by_anonymous[anonymous_id] = profile
            self.unsaved_aliases.add(anonymous_id)

    def resolve(self, message: AnyMessage) -> Person:
        if isinstance(message, AliasMessage):
            return self._alias(message)
        user_id, anonymous_id = message.user_id, message.anonymous_id
        known_user = self.by_user.get(user_id) if user_id else None
        known_anonymous = self.by_anonymous.get(anonymous_id) if anonymous_id else None
        if known_anonymous and not _same_person(known_anonymous.user_id, user_id):
            # Two people signed in on one device (a shared computer): never merge two user ids.
            known_anonymous = None
        if known_user and known_anonymous and known_user is not known_anonymous:
            profile = self._merge(into=known_user, other=known_anonymous)
        else:
            found = known_user or known_anonymous
            assert found is not None, "every person of the batch was created up front"
            profile = found
        if user_id and profile.user_id is None:
            profile.user_id = user_id
        if user_id:
            self.by_user[user_id] = profile
        if anonymous_id:
            self._keep_alias(anonymous_id, profile)
        return profile

    def _alias(self, message: AliasMessage) -> Person:
        """Segment's alias: the person the previous id names is the ``userId`` person, merged into one profile.

        The previous id is looked up as a user id first, then as an anonymous id. It stays an alias of the
        profile, so events sent later with it as ``anonymousId`` find the customer.
        """
        user_id, previous_id = message.user_id, message.previous_id
        assert user_id is not None, "an alias without a userId is refused when it is parsed"
        target = self.by_user.get(user_id)
        previous = self.by_user.get(previous_id) or self.by_anonymous.get(previous_id)
        if target is None:
            assert previous is not None, "a person neither id names was created up front"
            target = previous
            target.user_id = user_id
        elif previous is not None and previous is not target:
            target = self._merge(into=target, other=previous)
        self.by_user[user_id] = target
        self._keep_alias(previous_id, target)
        return target

    def _keep_alias(self, anonymous_id: str, profile: Person) -> None:
        if anonymous_id not in self.by_anonymous or anonymous_id in self.unsaved_aliases:
            self.new_aliases.append((anonymous_id, profile))
            self.by_anonymous[anonymous_id] = profile
            self.unsaved_aliases.discard(anonymous_id)

    def _merge(self, *, into: Person, other: Person) -> Person:
        """One person seen first anonymously, then signed in: keep one profile with all they did."""
        into.traits = {**other.traits, **into.traits}
        into.consent = {**other.consent, **into.consent}
        into.timezone = into.timezone or other.timezone
        if other.id is not None:
            self.merges.append((other.id, into))
        for key, profile in list(self.by_anonymous.items()):
            if profile is other:
                self.by_anonymous[key] = into
        self.merged_into[other] = into
        for merged, survivor in list(self.merged_into.items()):
            if survivor is other:
                self.merged_into[merged] = into
        return into

    def current(self, profile: Person) -> Person:
        """The profile as it stands after the batch's merges."""
        return self.merged_into.get(profile, profile)

    def save(self, people: Sequence[Person]) -> bool:
        """Write the batch: new customers inserted with what the batch says of them, merges, new aliases, and the
        stored ``people`` updated, each in one statement; every person then has an id.

        False, with nothing of this written, when another request has just created one of the new customers: the
        batch is then resolved again, and finds them.
        """
        created = [person for person in self.created if person not in self.merged_into]
        if not self._insert(created):
            return False
        for other_id, into in self.merges:
            survivor = self.current(into).id
            for table, column in (
                (ProfileAlias, col(ProfileAlias.profile_id)),
                (Event, col(Event.profile_id)),
                (PendingEvent, col(PendingEvent.profile_id)),
                (Enrollment, col(Enrollment.profile_id)),
                # Messages not yet sent must meet the merged person's consent, caps and time zone.
                (OutboxMessage, col(OutboxMessage.profile_id)),
            ):
                self.connection.execute(update(table).where(column == other_id).values(profile_id=survivor))
            self.connection.execute(delete(Profile.__table__).where(Profile.__table__.c.id == other_id))  # type: ignore[attr-defined]
        if self.new_aliases:
            aliases = ProfileAlias.__table__  # type: ignore[attr-defined]
            rows = [
                {"anonymous_id": anonymous_id, "profile_id": self.current(profile).id}
                for anonymous_id, profile in self.new_aliases
            ]
            # Another request may have just saved the same new device for the same customer: keep theirs.
            insert_rows(self.session, aliases, rows, unless_taken=("anonymous_id",))
        fresh = set(created)
        stored = [person for person in dict.fromkeys(people) if person not in fresh]
        if stored:
            self._update(stored)
        return True

    def _update(self, stored: list[Person]) -> None:
        table = Profile.__table__  # type: ignore[attr-defined]
        rows = [{"pid": person.id, **self._values(person)} for person in stored]
        if self.dialect == "postgresql":
            types = {name: table.c[name].type for name in rows[0] if name != "pid"}
            update_rows(
                self.session,
                table,
                rows,
                key=("id", "pid"),
                types={"pid": table.c.id.type, **types},
                assign={name: f"u.{name}" for name in types},
            )
        else:
            self.connection.execute(update(table).where(table.c.id == bindparam("pid")), rows)

    def _insert(self, created: list[Person]) -> bool:
        """Insert the batch's new customers; False, inserting none, when another request has just created one."""
        table = Profile.__table__  # type: ignore[attr-defined]
        named = [person for person in created if person.user_id]
        # Rows are matched back by user id, not by position: an ordered RETURNING costs SQLite one statement per
        # row. People known only by an anonymous id have nothing to match on, and are inserted one by one (rare:
        # server-side tracking names people).
        if named:
            rows = [{**self._values(person), "created_at": self.now} for person in named]
            # The insert waits for a request creating one of these user ids at the same moment, then leaves it out.
            returned = insert_rows(self.session, table, rows, returning=("user_id", "id"), unless_taken=("user_id",))
            ids: dict[str, int] = {row.user_id: row.id for row in returned}
            if len(ids) < len(named):
                if ids:
                    self.connection.execute(delete(table).where(table.c.id.in_(list(ids.values()))))
                return False
            for person in named:
                assert person.user_id is not None
                person.id = ids[person.user_id]
        for person in created:
            if not person.user_id:
                person.id = self.connection.execute(
                    insert(table).returning(table.c.id), {**self._values(person), "created_at": self.now}
                ).scalar_one()
        return True

    @staticmethod
    def _values(person: Person) -> dict[str, Any]:
        return {
            "user_id": person.user_id,
            "traits": person.traits,
            "consent": person.consent,
            "timezone": person.timezone,
            "updated_at": person.updated_at,
        }


def _same_person(known_user_id: str | None, user_id: str | None) -> bool:
    """Whether a message naming ``user_id`` may belong to a profile known as ``known_user_id``."""
    return known_user_id is None or user_id is None or known_user_id == user_id
