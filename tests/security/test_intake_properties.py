"""Hypothesis against the intake: any body, bytes or JSON-shaped, is parsed into messages and refusals or refused
whole with the documented errors, nothing else; and every message the parser lets through is stored by ``ingest``
on SQLite and PostgreSQL without an error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from engine.intake import IdentifyMessage, IngestError, ParsedBatch, TrackMessage, ingest, parse_batch, parse_single
from engine.store import get_engine, upgrade_database
from tests.conftest import scratch_postgres_database

TYPES = ["track", "identify", "page", "screen", "group", "alias", "bogus", None, 3]
KEYS = ["userId", "anonymousId", "messageId", "event", "name", "groupId", "previousId", "timestamp", "traits",
        "properties", "context", "type", "writeKey"]  # fmt: skip
HOSTILE_TEXT = st.sampled_from(
    ["", "\x00", "a\x00b", "x" * 300, "2024-01-01T00:00:00", "2024-01-01", "0001-01-01T00:00:00+14:00",
     "9999-12-31T23:59:59-12:00", "not a date", "NaN", "\ud800", "ü" * 70]
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20), HOSTILE_TEXT)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | HOSTILE_TEXT, inner, max_size=4),
    max_leaves=20,
)
MESSAGES = st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=8),
    VALUES | st.sampled_from(TYPES),
    max_size=8,
).map(lambda m: {"type": "track", "userId": "u", "event": "e", **m})
DEEP = {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": json.loads("[" * 40 + "]" * 40)}]}


def _body(value: Any) -> bytes:
    # NaN and Infinity are written as JavaScript writes them, which Python's JSON reader accepts.
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


BATCH_BODIES = st.builds(lambda ms: _body({"batch": ms}), st.lists(MESSAGES, max_size=6))


def _parsed(body: bytes) -> ParsedBatch | str:
    """The parsed batch, or the reason the body was refused whole."""
    try:
        return parse_batch(body)
    except IngestError as error:
        return str(error)


def _single(body: bytes, kind: Any) -> object:
    try:
        return parse_single(body, kind)
    except IngestError as error:
        return str(error)


@given(st.binary(max_size=200) | st.builds(_body, VALUES) | BATCH_BODIES)
@example(_body(DEEP))
@example(b'{"batch": [' + b"[" * 5000 + b"]" * 5000 + b"]}")
@example(b'{"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"d": NaN}}]}')
@SETTINGS
def test_a_batch_body_is_parsed_or_refused_with_a_reason(body: bytes) -> None:
    parsed = _parsed(body)
    if isinstance(parsed, str):
        assert parsed, "a refusal says why"
        return
    assert all(rejection.reason for rejection in parsed.rejected)
    assert len({r.index for r in parsed.rejected}) == len(parsed.rejected)


@pytest.mark.parametrize("kind", [TrackMessage, IdentifyMessage])
@given(body=st.binary(max_size=100) | st.builds(_body, MESSAGES))
@SETTINGS
def test_a_single_event_body_is_parsed_or_refused_with_a_reason(kind: Any, body: bytes) -> None:
    parsed = _single(body, kind)
    assert not isinstance(parsed, str) or parsed, "a refusal says why"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def intake_database(request: pytest.FixtureRequest, db_url: str) -> Iterator[str]:
    if request.param == "sqlite":
        yield db_url
        return
    with scratch_postgres_database("journey_intake_fuzz") as url:
        upgrade_database(url)
        yield url


@given(messages=st.lists(MESSAGES, min_size=1, max_size=5))
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_whatever_the_parser_lets_through_is_stored(intake_database: str, messages: list[dict[str, Any]]) -> None:
    parsed = _parsed(_body({"batch": messages}))
    if isinstance(parsed, str):
        return
    with Session(get_engine(intake_database), expire_on_commit=False) as session:
        result = ingest(session=session, messages=parsed.messages)
        session.commit()
    assert result.accepted + result.duplicates == len(parsed.messages)
