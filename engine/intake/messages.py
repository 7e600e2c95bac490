"""Segment's messages as the intake takes them, each checked on its own: a bad event is refused alone, with a reason.

Every rule here gives the same result on SQLite and PostgreSQL. NUL characters, which PostgreSQL's text cannot
hold, are stripped from what is stored (names, properties, traits, context), but an id holding one refuses its
event: stripped, it could name somebody else. NaN, Infinity and integers past 64 bits refuse their event (no JSON
column carries them alike). Ids, names and time zones longer than their columns refuse their event. A timestamp
without a zone, or a date alone, is taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Self

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from engine.intake.limits import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MAX_ID_CHARS,
    MAX_INTEGER,
    MAX_NAME_CHARS,
    MAX_NESTING,
    MAX_PROPERTIES,
    MAX_TIMEZONE_CHARS,
    MIN_INTEGER,
)


class IngestError(ValueError):
    """A request or an event the intake refuses; nothing of it was stored."""


class TooLargeError(IngestError):
    """A body over its byte limit (HTTP 413)."""


class _UnstorableError(ValueError):
    """What is wrong with one value of an event; the path to it is filled in on the way out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def _clean(value: Any, depth: int) -> Any:
    """``value`` with NUL stripped from every text (keys too); raises _UnstorableError at what no column can hold.

    Every value of every message goes through here, so JSON's own types are told apart by ``type`` first and a
    dict's scalars are checked in its loop, without a call each.
    """
    kind = type(value)
    if kind is dict:
        return _clean_dict(value, depth)
    if kind is str:
        return value.replace("\x00", "") if "\x00" in value else value
    if kind is int:
        return _bounded_integer(value)
    if kind is float:
        return _finite(value)
    if kind is list:
        return _clean_list(value, depth)
    # Messages built in Python may hold subclasses of JSON's types (a StrEnum, an IntEnum, an OrderedDict).
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _bounded_integer(value)
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return _clean_dict(value, depth)
    if isinstance(value, list | tuple):
        return _clean_list(list(value), depth)
    return value


def _clean_dict(value: dict[Any, Any], depth: int) -> dict[Any, Any]:
    if depth > MAX_NESTING:
        raise _UnstorableError(f"objects and arrays may nest at most {MAX_NESTING} deep")
    cleaned: dict[Any, Any] = {}
    for key, item in value.items():
        try:
            kind = type(item)
            if kind is str:
                if "\x00" in item:
                    item = item.replace("\x00", "")
            elif kind is int:
                _bounded_integer(item)
            elif kind is float:
                _finite(item)
            elif item is not None and kind is not bool:
                item = _clean(item, depth + 1)
        except _UnstorableError as refused:
            refused.path.append(str(key))
            raise
        cleaned[key.replace("\x00", "") if type(key) is str and "\x00" in key else key] = item
    return cleaned


def _clean_list(value: list[Any], depth: int) -> list[Any]:
    if depth > MAX_NESTING:
        raise _UnstorableError(f"objects and arrays may nest at most {MAX_NESTING} deep")
    items = []
    for index, item in enumerate(value):
        try:
            items.append(_clean(item, depth + 1))
        except _UnstorableError as refused:
            refused.path.append(str(index))
            raise
    return items


def _bounded_integer(value: int) -> int:
    if not MIN_INTEGER <= value <= MAX_INTEGER:
        raise _UnstorableError("integers must fit in 64 bits")
    return value


def _finite(value: float) -> float:
    # Zero for every float but NaN and the infinities.
    if value - value != 0.0:
        raise _UnstorableError("NaN and Infinity are not numbers JSON can carry")
    return value


# What is stored or acted on; other fields (integrations, _metadata...) are dropped, so left as sent.
_CLEANED_FIELDS = ("event", "name", "properties", "traits", "context")


def _checked_id(value: str | int | None) -> str | int | None:
    if value is None:
        return None
    text = str(value)
    if len(text) > MAX_ID_CHARS:
        raise PydanticCustomError(
            "id_too_long", "at most {limit} characters, got {length}", {"limit": MAX_ID_CHARS, "length": len(text)}
        )
    if "\x00" in text:
        raise PydanticCustomError("id_nul", "an id may not hold a NUL character")
    return value


class _Message(BaseModel):
    # Segment's libraries add fields over time (integrations, _metadata, writeKey...); accept them.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    userId: str | int | None = Field(None)  # noqa: N815 - Segment's field names
    anonymousId: str | int | None = Field(None)  # noqa: N815
    messageId: str | None = Field(None, max_length=MAX_ID_CHARS)  # noqa: N815
    timestamp: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)

    @model_validator(mode="before")
    @classmethod
    def _cleaned(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned = dict(data)
        for field in _CLEANED_FIELDS:
            if field in data:
                try:
                    cleaned[field] = _clean(data[field], 1)
                except _UnstorableError as refused:
                    # Keys are the sender's text: the path is cut short, not echoed whole.
                    where = ".".join([field, *reversed(refused.path)])[:MAX_NAME_CHARS]
                    raise PydanticCustomError(
                        "unstorable", "{where}: {reason}", {"where": where, "reason": refused.reason}
                    ) from refused
        return cleaned

    @field_validator("userId", "anonymousId", "messageId")
    @classmethod
    def _bounded_id(cls, value: str | int | None) -> str | int | None:
        return _checked_id(value)

    @field_validator("timestamp")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError as error:
            raise PydanticCustomError("timestamp_range", "the time falls outside the years 1 to 9999 in UTC") from error

    @model_validator(mode="after")
    def _someone_somewhere(self) -> Self:
        if self.user_id is None and self.anonymous_id is None:
            raise PydanticCustomError("no_one", "either userId or anonymousId is required")
        timezone = self.timezone
        if timezone is not None and len(timezone) > MAX_TIMEZONE_CHARS:
            raise PydanticCustomError(
                "timezone_too_long", "timezone: at most {limit} characters", {"limit": MAX_TIMEZONE_CHARS}
            )
        return self

    @property
    def user_id(self) -> str | None:
        return None if self.userId in (None, "") else str(self.userId)

    @property
    def anonymous_id(self) -> str | None:
        return None if self.anonymousId in (None, "") else str(self.anonymousId)

    @property
    def timezone(self) -> str | None:
        tz = self.context.get("timezone")
        return str(tz) if tz else None


class TrackMessage(_Message):
    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    properties: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)


class IdentifyMessage(_Message):
    type: Literal["identify"] = "identify"
    traits: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)

    @property
    def timezone(self) -> str | None:
        tz = self.traits.get("timezone") or self.context.get("timezone")
        return str(tz) if tz else None


class PageMessage(_Message):
    type: Literal["page"] = "page"
    name: str | None = Field(None, max_length=MAX_NAME_CHARS)
    properties: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)


class ScreenMessage(_Message):
    """A mobile app's page view: stored as a page is, under its own type."""

    type: Literal["screen"] = "screen"
    name: str | None = Field(None, max_length=MAX_NAME_CHARS)
    properties: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)


class GroupMessage(_Message):
    """The customer belongs to a group (an account, a company): the group's traits stay on the event."""

    type: Literal["group"] = "group"
    groupId: str | int  # noqa: N815
    traits: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)

    @field_validator("groupId")
    @classmethod
    def _bounded_group_id(cls, value: str | int) -> str | int:
        if value == "":
            raise PydanticCustomError("no_group", "groupId may not be empty")
        _checked_id(value)
        return value

    @property
    def group_id(self) -> str:
        return str(self.groupId)


class AliasMessage(_Message):
    """``previousId`` (an anonymous id or an earlier user id) is the same person as ``userId`` from now on."""

    type: Literal["alias"] = "alias"
    previousId: str | int  # noqa: N815

    @field_validator("previousId")
    @classmethod
    def _bounded_previous_id(cls, value: str | int) -> str | int:
        if value == "":
            raise PydanticCustomError("no_previous_id", "previousId may not be empty")
        _checked_id(value)
        return value

    @model_validator(mode="after")
    def _named(self) -> Self:
        if self.user_id is None:
            raise PydanticCustomError("no_user_id", "userId is required: the id the customer goes by from now on")
        return self

    @property
    def previous_id(self) -> str:
        return str(self.previousId)


AnyMessage = TrackMessage | IdentifyMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage
MessageKind = (
    type[TrackMessage]
    | type[IdentifyMessage]
    | type[PageMessage]
    | type[ScreenMessage]
    | type[GroupMessage]
    | type[AliasMessage]
)

MESSAGE_KINDS: dict[str, MessageKind] = {
    "track": TrackMessage,
    "identify": IdentifyMessage,
    "page": PageMessage,
    "screen": ScreenMessage,
    "group": GroupMessage,
    "alias": AliasMessage,
}


@dataclass(frozen=True)
class Rejection:
    """A message of a batch that was not stored: its position in the batch and why."""

    index: int
    reason: str


@dataclass(frozen=True)
class ParsedBatch:
    messages: list[AnyMessage]
    rejected: list[Rejection]


def parse_batch(body: bytes) -> ParsedBatch:
    """A ``/v1/batch`` body's valid messages and, for each invalid one, its index and reason.

    Raises TooLargeError or IngestError when the body as a whole cannot be taken.
    """
    if len(body) > MAX_BATCH_BYTES:
        raise TooLargeError(f"the batch is {len(body)} bytes; the limit is {MAX_BATCH_BYTES}")
    document = _json(body)
    batch = document.get("batch") if isinstance(document, dict) else None
    if not isinstance(batch, list):
        raise IngestError('invalid payload: batch: the body must be an object holding a "batch" list of messages')
    if len(batch) > MAX_BATCH_EVENTS:
        raise IngestError(f"invalid payload: batch holds {len(batch)} messages; the limit is {MAX_BATCH_EVENTS}")
    # No message can be over the event limit when the whole body is not.
    measured = len(body) > MAX_EVENT_BYTES
    messages: list[AnyMessage] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(batch):
        if not isinstance(item, dict):
            rejected.append(Rejection(index, "a message must be a JSON object"))
            continue
        size = len(pydantic_core.to_json(item)) if measured else 0
        if size > MAX_EVENT_BYTES:
            rejected.append(Rejection(index, f"the message is {size} bytes; the limit is {MAX_EVENT_BYTES}"))
            continue
        try:
            messages.append(_validated(item, None))
        except IngestError as error:
            rejected.append(Rejection(index, str(error)))
    return ParsedBatch(messages, rejected)


def parse_single(body: bytes, kind: MessageKind) -> AnyMessage:
    """The message of a ``/v1/track`` (``/v1/identify``...) body; raises TooLargeError or IngestError naming what
    is wrong."""
    if len(body) > MAX_EVENT_BYTES:
        raise TooLargeError(f"the event is {len(body)} bytes; the limit is {MAX_EVENT_BYTES}")
    document = _json(body)
    if not isinstance(document, dict):
        raise IngestError("invalid payload: the body must be a JSON object")
    try:
        return _validated(document, kind)
    except IngestError as error:
        raise IngestError(f"invalid payload: {error}") from error


def describe_rejections(rejected: list[Rejection]) -> str:
    """The first few refused messages of a batch, as one line."""
    shown = "; ".join(f"batch.{r.index}: {r.reason}" for r in rejected[:5])
    more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
    return f"invalid payload: every message was refused: {shown}{more}"


def _json(body: bytes) -> Any:
    # pydantic's parser stops at 200 levels of nesting, where json.loads would overflow the stack.
    try:
        return pydantic_core.from_json(body)
    except ValueError as error:
        raise IngestError(f"invalid payload: the body is not JSON: {error}") from error


def _validated(item: dict[str, Any], kind: MessageKind | None) -> AnyMessage:
    if kind is None:
        name = item.get("type")
        found = MESSAGE_KINDS.get(name) if isinstance(name, str) else None
        if found is None:
            shown = repr(name)[:40] if name is not None else "missing"
            raise IngestError(f"type: {shown} is not a Segment message type ({', '.join(MESSAGE_KINDS)})")
        kind = found
    try:
        return kind.model_validate(item)
    except ValidationError as error:
        raise IngestError(_described(error)) from error


def _described(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)
