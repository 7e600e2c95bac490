"""The /v1 intake as an attacker and a careless client use it: every Segment type, one bad event refused alone,
input that differs between SQLite and PostgreSQL handled the same on both, and bodies bounded before the write
key is known.

The PostgreSQL variants share one database, so each test names its people and messages with a tag of its own.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from select import select as ready_to_read
from typing import Any

import httpx
import psutil
import pytest
import segment.analytics as analytics
from sqlalchemy import select
from sqlmodel import col

from engine.accounts import create_write_key
from engine.api import create_api
from engine.intake import (
    GROUP_TRAIT,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MAX_ID_CHARS,
    MAX_NESTING,
    MAX_PROPERTIES,
)
from engine.store import Event, Profile, ProfileAlias, session_scope
from tests.integration.journey_harness import api_server, free_port
from tests.security.serving import served

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Intake:
    database_url: str
    client: httpx.Client
    key: str
    tag: str

    def id(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def post(self, path: str, body: Any, *, key: str | None = None, **options: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(path, content=content, auth=(key if key is not None else self.key, ""), **options)

    def batch(self, *messages: dict[str, Any]) -> httpx.Response:
        return self.post("/v1/batch", {"batch": list(messages)})

    def events(self) -> list[Event]:
        """This test's events, in the order they were stored."""
        with session_scope(self.database_url) as session:
            return list(
                session.execute(
                    select(Event).where(col(Event.message_id).like(f"%{self.tag}%")).order_by(col(Event.id))
                ).scalars()
            )

    def profile(self, user_id: str) -> Profile | None:
        with session_scope(self.database_url) as session:
            return session.execute(select(Profile).where(col(Profile.user_id) == user_id)).scalar_one_or_none()


def _intake(database_url: str) -> Iterator[Intake]:
    with session_scope(database_url) as session:
        key = create_write_key(session=session, name="security").secret
    with served(create_api(database_url)) as client:
        yield Intake(database_url, client, key, uuid.uuid4().hex[:10])


@pytest.fixture
def intake(db_url: str) -> Iterator[Intake]:
    yield from _intake(db_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def both(request: pytest.FixtureRequest) -> Iterator[Intake]:
    """The same intake on SQLite and on PostgreSQL: what they store must not differ."""
    yield from _intake(request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url"))


def track(intake: Intake, message: str, user: str = "ada", **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": intake.id(user),
        "event": "Signed Up",
        "messageId": intake.id(message),
        **fields,
    }


# --- every Segment type ---------------------------------------------------------------------------------------


def test_screen_group_and_alias_are_stored_beside_the_tracks_of_their_batch(intake: Intake) -> None:
    ada, visitor = intake.id("ada"), intake.id("visitor")
    response = intake.batch(
        {"type": "track", "anonymousId": visitor, "event": "Viewed Pricing", "messageId": intake.id("m0")},
        track(intake, "m1"),
        {"type": "screen", "userId": ada, "name": "Home", "properties": {"tab": 1}, "messageId": intake.id("m2")},
        {
            "type": "group",
            "userId": ada,
            "groupId": "acme",
            "traits": {"name": "Acme", "plan": "enterprise"},
            "messageId": intake.id("m3"),
        },
        {"type": "alias", "previousId": visitor, "userId": ada, "messageId": intake.id("m4")},
        track(intake, "m5", event="Upgraded"),
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 6, "duplicates": 0, "rejected": []}
    stored = intake.events()
    assert [(e.type, e.name, e.properties) for e in stored] == [
        ("track", "Viewed Pricing", {}),
        ("track", "Signed Up", {}),
        ("screen", "Home", {"tab": 1}),
        ("group", "acme", {"name": "Acme", "plan": "enterprise"}),
        ("alias", None, {"previous_id": visitor}),
        ("track", "Upgraded", {}),
    ]
    profile = intake.profile(ada)
    assert profile is not None
    assert profile.traits == {GROUP_TRAIT: "acme"}
    assert {e.profile_id for e in stored} == {profile.id}


def test_the_segment_library_flushes_screen_group_and_alias_with_its_tracks(db_url: str) -> None:
    with session_scope(db_url) as session:
        key = create_write_key(session=session, name="segment").secret
    with api_server(db_url) as base:
        client = analytics.Client(key, host=base, max_retries=0, upload_interval=0.05)
        try:
            client.track("grace", "Trial Started", {"plan": "pro"})
            client.screen("grace", name="Settings")
            client.group("grace", "acme", {"name": "Acme"})
            client.alias("grace-old", "grace")
            client.track("grace", "Trial Ended")
            client.flush()
        finally:
            client.shutdown()

    with session_scope(db_url) as session:
        types = [e.type for e in session.execute(select(Event).order_by(col(Event.id))).scalars()]
    assert types == ["track", "screen", "group", "alias", "track"]


def test_an_alias_merges_the_anonymous_visitor_into_the_customer(intake: Intake) -> None:
    ada, visitor = intake.id("ada"), intake.id("visitor")
    intake.batch({"type": "page", "anonymousId": visitor, "name": "Pricing", "messageId": intake.id("m1")})
    intake.batch({"type": "identify", "userId": ada, "traits": {"plan": "pro"}, "messageId": intake.id("m2")})

    response = intake.post("/v1/alias", {"previousId": visitor, "userId": ada, "messageId": intake.id("m3")})

    assert response.status_code == 200, response.text
    profile = intake.profile(ada)
    assert profile is not None
    assert {e.profile_id for e in intake.events()} == {profile.id}
    with session_scope(intake.database_url) as session:
        assert session.get(ProfileAlias, visitor) is not None
        assert session.get(ProfileAlias, visitor).profile_id == profile.id  # type: ignore[union-attr]
        assert len(session.execute(select(Profile)).all()) == 1


def test_an_alias_from_an_old_user_id_keeps_the_customer_under_the_new_one(intake: Intake) -> None:
    old, new = intake.id("old"), intake.id("new")
    intake.batch({"type": "identify", "userId": old, "traits": {"plan": "pro"}, "messageId": intake.id("m1")})

    response = intake.batch({"type": "alias", "previousId": old, "userId": new, "messageId": intake.id("m2")})

    assert response.json()["accepted"] == 1
    assert intake.profile(old) is None
    profile = intake.profile(new)
    assert profile is not None
    assert profile.traits == {"plan": "pro"}
    assert {e.profile_id for e in intake.events()} == {profile.id}


def test_an_alias_joins_two_known_customers(intake: Intake) -> None:
    old, new = intake.id("old"), intake.id("new")
    intake.batch(
        {"type": "identify", "userId": old, "traits": {"plan": "pro", "city": "Oslo"}, "messageId": intake.id("m1")},
        {"type": "identify", "userId": new, "traits": {"plan": "team"}, "messageId": intake.id("m2")},
    )

    intake.batch({"type": "alias", "previousId": old, "userId": new, "messageId": intake.id("m3")})

    assert intake.profile(old) is None
    profile = intake.profile(new)
    assert profile is not None
    assert profile.traits == {"plan": "team", "city": "Oslo"}
    assert {e.profile_id for e in intake.events()} == {profile.id}


@pytest.mark.parametrize(
    ("path", "body", "stored"),
    [
        ("/v1/screen", {"userId": "u", "name": "Home"}, ("screen", "Home")),
        ("/v1/group", {"userId": "u", "groupId": "g1", "traits": {"name": "G"}}, ("group", "g1")),
        ("/v1/alias", {"userId": "u", "previousId": "a"}, ("alias", None)),
    ],
)
def test_every_segment_type_has_its_own_route(
    intake: Intake, path: str, body: dict[str, Any], stored: tuple[str, str | None]
) -> None:
    response = intake.post(path, {**body, "messageId": intake.id("m1")})

    assert response.status_code == 200, response.text
    assert [(e.type, e.name) for e in intake.events()] == [stored]


# --- one bad event is refused alone --------------------------------------------------------------------------


def test_one_bad_event_is_refused_alone_with_its_index_and_reason(intake: Intake) -> None:
    response = intake.batch(
        track(intake, "m0"),
        {"type": "track", "userId": intake.id("ada"), "messageId": intake.id("m1")},
        {"type": "teleport", "userId": intake.id("ada"), "messageId": intake.id("m2")},
        "not an object",
        track(intake, "m4", event="Second"),
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 2
    assert [r["index"] for r in answer["rejected"]] == [1, 2, 3]
    reasons = [r["reason"] for r in answer["rejected"]]
    assert "event" in reasons[0]
    assert "'teleport'" in reasons[1]
    assert "object" in reasons[2]
    assert [e.name for e in intake.events()] == ["Signed Up", "Second"]


def test_a_batch_whose_every_event_is_refused_answers_400_listing_them(intake: Intake) -> None:
    response = intake.batch({"type": "track", "userId": "u"}, {"type": "identify"})

    assert response.status_code == 400
    body = response.json()
    assert "batch.0" in body["detail"]
    assert "batch.1" in body["detail"]
    assert [r["index"] for r in body["rejected"]] == [0, 1]


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2024-01-01T00:00:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T02:00:00+02:00", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_naive_and_date_only_timestamps_are_taken_as_utc(intake: Intake, timestamp: str, expected: datetime) -> None:
    response = intake.batch(track(intake, "m0", timestamp=timestamp), track(intake, "m1"))

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert intake.events()[0].occurred_at == expected


# --- the same on SQLite and PostgreSQL -----------------------------------------------------------------------


def test_nul_characters_are_stripped_from_what_is_stored(both: Intake) -> None:
    response = both.batch(
        track(
            both,
            "m0",
            event="Signed\u0000 Up",
            properties={"no\u0000te": "a\u0000b", "list": ["\u0000x"]},
            context={"timezone": "Europe/Paris\u0000"},
        ),
        {"type": "page", "userId": both.id("ada"), "name": "Pri\u0000cing", "messageId": both.id("m1")},
        {
            "type": "identify",
            "userId": both.id("ada"),
            "traits": {"city\u0000": "Os\u0000lo"},
            "messageId": both.id("m2"),
        },
    )

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    assert [(e.name, e.properties) for e in both.events()] == [
        ("Signed Up", {"note": "ab", "list": ["x"]}),
        ("Pricing", {}),
        (None, {"city": "Oslo"}),
    ]
    profile = both.profile(both.id("ada"))
    assert profile is not None
    assert (profile.traits, profile.timezone) == ({"city": "Oslo"}, "Europe/Paris")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", str(2**64)])
def test_a_number_json_cannot_carry_refuses_its_event_alone(both: Intake, number: str) -> None:
    good = json.dumps(track(both, "m0"))
    bad = json.dumps(track(both, "m1", properties={"price": "PLACEHOLDER"})).replace('"PLACEHOLDER"', number)

    response = both.post("/v1/batch", f'{{"batch": [{good}, {bad}]}}'.encode())

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    (refused,) = response.json()["rejected"]
    assert refused["index"] == 1
    assert "properties.price" in refused["reason"]
    assert [e.message_id for e in both.events()] == [both.id("m0")]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"userId": "u" * (MAX_ID_CHARS + 1)}, "userId"),
        ({"userId": None, "anonymousId": "a" * (MAX_ID_CHARS + 1)}, "anonymousId"),
        ({"userId": 10 ** (MAX_ID_CHARS + 1)}, "userId"),
        ({"userId": "ad\u0000a"}, "userId"),
        ({"messageId": "m" * (MAX_ID_CHARS + 1)}, "messageId"),
        ({"type": "group", "groupId": "g" * (MAX_ID_CHARS + 1)}, "groupId"),
        ({"type": "alias", "previousId": "p" * (MAX_ID_CHARS + 1)}, "previousId"),
        ({"type": "page", "name": "n" * 201}, "name"),
        ({"event": "e" * 201}, "event"),
        ({"context": {"timezone": "Z" * 65}}, "timezone"),
        ({"timestamp": "0001-01-01T00:00:00+05:00"}, "timestamp"),
    ],
)
def test_what_a_column_cannot_hold_refuses_its_event_alone(both: Intake, fields: dict[str, Any], named: str) -> None:
    response = both.batch(track(both, "m0"), track(both, "m1", **fields))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    (refused,) = answer["rejected"]
    assert refused["index"] == 1
    assert named in refused["reason"]
    assert [e.message_id for e in both.events()] == [both.id("m0")]


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"[]",
        b'"text"',
        b'{"batch": null}',
        b'{"batch": [null, 1, "x", [], {}]}',
        b'{"batch": [{"type": null}]}',
        b'{"batch": [{"type": "track", "userId": true, "event": "x"}]}',
        b'{"batch": [{"type": "track", "userId": 1.5, "event": "x"}]}',
        b'{"batch": [{"type": "track", "userId": "u", "event": "x", "timestamp": 1e300}]}',
        b'{"batch": [{"type": "track", "userId": "u", "event": "x", "timestamp": "9999-12-31T23:00:00-05:00"}]}',
        b'{"batch": [{"type": "track", "userId": "u", "event": "x", "context": "text"}]}',
        b'{"batch": [{"type": "identify", "userId": "u", "traits": {"timezone": 5}}]}',
        b'{"batch": [{"type": "identify", "userId": "u", "traits": {"consent": {"\\u0000": "no"}}}]}',
        b'{"batch": [{"type": "alias", "userId": "u", "previousId": "u"}]}',
        b'{"batch": [{"type": "alias", "previousId": "p"}]}',
        b'{"batch": [{"type": "group", "userId": "u", "groupId": null}]}',
        b'{"batch": [{"type": "track", "userId": "u", "event": "x"}], "writeKey": 5}',
        '{"batch": [{"type": "track", "userId": "\u00e9\u6f22", "event": "\U0001f600"}]}'.encode(),
        b'{"batch": [{"type": "track", "userId": "u", "event": "\\ud800"}]}',
        b"\xff\xfe not utf-8",
    ],
)
def test_no_body_makes_the_intake_answer_500(both: Intake, body: bytes) -> None:
    response = both.post("/v1/batch", body)

    assert response.status_code in (200, 400), response.text
    assert "detail" in response.json() or response.json()["success"] is True


# --- limits --------------------------------------------------------------------------------------------------


def test_an_event_nested_too_deep_is_refused_alone(intake: Intake) -> None:
    nested: dict[str, Any] = {}
    for _ in range(MAX_NESTING + 1):
        nested = {"n": nested}

    response = intake.batch(track(intake, "m0"), track(intake, "m1", properties=nested))

    assert response.json()["accepted"] == 1
    assert [r["index"] for r in response.json()["rejected"]] == [1]
    assert "deep" in response.json()["rejected"][0]["reason"]


def test_a_body_nested_a_thousand_deep_is_refused_without_a_key_and_with_one(intake: Intake) -> None:
    body = b'{"batch": ' + b"[" * 1000 + b"]" * 1000 + b"}"

    without_key = intake.client.post("/v1/batch", content=body)
    with_key = intake.post("/v1/batch", body)

    assert without_key.status_code == 401
    assert "write key" in without_key.json()["detail"]
    assert with_key.status_code == 400
    assert "invalid" in with_key.json()["detail"]


def test_too_many_properties_refuse_their_event_alone(intake: Intake) -> None:
    many = {f"p{i}": i for i in range(MAX_PROPERTIES + 1)}

    response = intake.batch(
        track(intake, "m0"),
        track(intake, "m1", properties=many),
        {"type": "identify", "userId": intake.id("ada"), "traits": many, "messageId": intake.id("m2")},
    )

    assert response.json()["accepted"] == 1
    assert [r["index"] for r in response.json()["rejected"]] == [1, 2]
    assert str(MAX_PROPERTIES) in response.json()["rejected"][0]["reason"]


def test_an_event_over_the_event_size_is_refused_alone_inside_a_batch(intake: Intake) -> None:
    response = intake.batch(track(intake, "m0"), track(intake, "m1", properties={"p": "x" * MAX_EVENT_BYTES}))

    assert response.json()["accepted"] == 1
    (refused,) = response.json()["rejected"]
    assert refused["index"] == 1
    assert str(MAX_EVENT_BYTES) in refused["reason"]


def test_a_batch_of_too_many_events_is_refused_naming_the_limit(intake: Intake) -> None:
    response = intake.batch(*[{"type": "track", "userId": "u", "event": "x"}] * (MAX_BATCH_EVENTS + 1))

    assert response.status_code == 400
    assert str(MAX_BATCH_EVENTS) in response.json()["detail"]
    assert intake.events() == []


def test_a_gzip_body_that_inflates_past_the_limit_is_refused_413(intake: Intake) -> None:
    bomb = gzip.compress(b'{"batch": [' + b"{}," * (4 * MAX_BATCH_BYTES) + b"{}]}")

    response = intake.post("/v1/batch", bomb, headers={"Content-Encoding": "gzip"})
    unkeyed = intake.client.post("/v1/batch", content=bomb, headers={"Content-Encoding": "gzip"})

    assert len(bomb) < MAX_BATCH_BYTES
    assert (response.status_code, unkeyed.status_code) == (413, 413)
    assert str(MAX_BATCH_BYTES) in response.json()["detail"]


# --- memory: unauthenticated bodies are not read whole ---------------------------------------------------------

SERVER = """
import sys, uvicorn
from engine.api import create_api
uvicorn.run(create_api(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@pytest.fixture
def backend(db_url: str) -> Iterator[tuple[int, psutil.Process]]:
    """The API served by uvicorn in a process of its own, whose memory the test can read."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, db_url, str(port)], cwd=ROOT, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.1)
        yield port, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _basic(key: str) -> bytes:
    return b"Authorization: Basic " + base64.b64encode(f"{key}:".encode()) + b"\r\n"


def _answer(connection: socket.socket) -> bytes:
    """What the server answered, up to the end of its headers; empty when it closed without a word."""
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            more = connection.recv(65536)
            if not more:
                break
            answer += more
    except OSError:
        pass
    return answer


THIRTY_MB = 30 * 1024 * 1024
CHUNK = b"{}," * (64 * 1024 // 3)


@pytest.mark.parametrize("key", [None, "wk_wrong"])
def test_a_declared_30_mb_body_is_refused_on_its_headers(backend: tuple[int, psutil.Process], key: str | None) -> None:
    port, process = backend
    before = process.memory_info().rss
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + (_basic(key) if key else b"")
            + f"Content-Length: {THIRTY_MB}\r\n\r\n".encode()
        )
        # A server that answers on the headers has answered by now; one that waits for the body gets it.
        if not ready_to_read([connection], [], [], 5)[0]:
            connection.sendall(b'{"batch": [' + b"{}," * ((THIRTY_MB - 14) // 3) + b"{}]}")
        answer = _answer(connection)

    assert answer.startswith(b"HTTP/1.1 401" if key else b"HTTP/1.1 413"), answer[:300]
    assert process.memory_info().rss - before < 50 * 1024 * 1024


def test_a_streamed_30_mb_body_without_a_key_is_not_read_whole(backend: tuple[int, psutil.Process]) -> None:
    port, process = backend
    before = process.memory_info().rss
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        try:
            while sent < THIRTY_MB and not ready_to_read([connection], [], [], 0)[0]:
                piece = (b'{"batch": [' if sent == 0 else b"") + CHUNK
                connection.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
            if sent >= THIRTY_MB:
                connection.sendall(b"3\r\n{}]\r\n1\r\n}\r\n0\r\n\r\n")
        except OSError:
            pass  # the server closed the connection on a body it refused
        answer = _answer(connection)

    grown = process.memory_info().rss - before
    assert grown < 50 * 1024 * 1024, f"the backend grew by {grown / 2**20:.0f} MB"
    # Sockets buffer a few megabytes; a server that stops reading at its limit never takes the whole body.
    assert sent < THIRTY_MB, f"the backend read the whole body and answered {answer[:100]!r}"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:300]
