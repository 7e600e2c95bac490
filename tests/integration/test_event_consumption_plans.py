"""Every look-up that storing and reacting to a batch makes is bounded by the batch's customers through an index,
never by all waiting runs: each statement run is planned again with EXPLAIN QUERY PLAN (SQLite, which has no
statistics here, as in production) or EXPLAIN (PostgreSQL, analysed), with thousands of other customers waiting
and a backlog of other events pending."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, text
from sqlmodel import col

from engine.intake import ingest
from engine.runtime import consume_events
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    Event,
    JourneyVersion,
    MessageStatus,
    OutboxMessage,
    PendingEvent,
    Profile,
    ProfileAlias,
    get_engine,
    session_scope,
    upgrade_database,
)
from tests.conftest import scratch_postgres_database
from tests.engine_factories import NOW, event_trigger, identify, journey_map, node, publish_and_launch, track

WAITING = 5_000
BACKLOG = 2_000
CUSTOMER_TABLES = ("enrollment", "event", "pending_event", "profile", "profile_alias", "transition", "outbox_message")


@pytest.fixture
def url(own_database_url: str) -> str:
    return own_database_url


def seed_waiting_customers(url: str) -> None:
    """A live journey with WAITING customers waiting for an event, each with a device and a message."""
    doc = journey_map(
        [
            event_trigger("go"),
            node("await_ping", "wait_for_event", event="ping", timeout="P1D"),
            node("hold", "wait", duration="P1D", stage="s2"),
            node("late", "wait", duration="P1D", stage="s2"),
        ],
        [("entry", "await_ping"), ("await_ping", "hold", "event"), ("await_ping", "late", "timeout")],
        reentry="always",
    )
    with session_scope(url) as session:
        journey_id, version_id = publish_and_launch(session, doc)
        assert session.get(JourneyVersion, version_id) is not None
        profiles = Profile.__table__  # type: ignore[attr-defined]
        ids = list(
            session.execute(
                insert(profiles).returning(profiles.c.id),
                [
                    {"user_id": f"waiting-{i}", "traits": {}, "consent": {}, "created_at": NOW, "updated_at": NOW}
                    for i in range(WAITING)
                ],
            ).scalars()
        )
        session.execute(
            insert(Enrollment.__table__),  # type: ignore[attr-defined]
            [
                {
                    "journey_id": journey_id,
                    "version_id": version_id,
                    "profile_id": profile_id,
                    "status": EnrollmentStatus.WAITING,
                    "step_id": "await_ping",
                    "wait_event": "ping",
                    "due_at": NOW + timedelta(days=1),
                    "context": {},
                    "entered_at": NOW,
                    "step_entered_at": NOW,
                    "stage_id": "s1",
                    "stage_entered_at": NOW,
                }
                for profile_id in ids
            ],
        )
        # Each waiting customer with a device and a message sent: the tables a merge of two people updates.
        session.execute(
            insert(ProfileAlias.__table__),  # type: ignore[attr-defined]
            [{"anonymous_id": f"device-of-{profile_id}", "profile_id": profile_id} for profile_id in ids],
        )
        session.execute(
            insert(OutboxMessage.__table__),  # type: ignore[attr-defined]
            [
                {
                    "idempotency_key": f"seed-{profile_id}",
                    "profile_id": profile_id,
                    "journey_id": journey_id,
                    "node_id": "mail",
                    "channel": "email",
                    "status": MessageStatus.DELIVERED,
                    "created_at": NOW,
                }
                for profile_id in ids
            ],
        )


def seed_backlog(url: str) -> None:
    with session_scope(url) as session:
        events = Event.__table__  # type: ignore[attr-defined]
        profile_ids = list(session.execute(select(col(Profile.id)).limit(BACKLOG)).scalars())
        rows = session.execute(
            insert(events).returning(events.c.id, events.c.profile_id),
            [
                {
                    "message_id": f"backlog-{i}",
                    "profile_id": profile_id,
                    "type": "track",
                    "name": "browsed",
                    "properties": {},
                    "occurred_at": NOW,
                    "received_at": NOW,
                }
                for i, profile_id in enumerate(profile_ids)
            ],
        ).all()
        session.execute(
            insert(PendingEvent.__table__),  # type: ignore[attr-defined]
            [{"event_id": event_id, "profile_id": profile_id} for event_id, profile_id in rows],
        )


class Recorder:
    """Every statement an engine runs while recording, with its (first) parameters."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def __enter__(self) -> Recorder:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        first = many and isinstance(parameters, list | tuple) and parameters
        self.statements.append((statement, parameters[0] if first else parameters))


def plans(url: str, statements: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(statement, its plan as text) for every statement that reads or changes rows (not inserts)."""
    engine = get_engine(url)
    planned = []
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        for statement, parameters in statements:
            if not re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)\b", statement, re.IGNORECASE):
                continue
            if engine.dialect.name == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plan = "\n".join(str(row[3]) for row in cursor.fetchall())
            else:
                cursor.execute(f"EXPLAIN {statement}", parameters)
                plan = "\n".join(str(row[0]) for row in cursor.fetchall())
            planned.append((statement, plan))
        cursor.close()
    return planned


def full_scans(url: str, plan: str, statement: str) -> list[str]:
    """The customer tables a plan reads whole. The claim reads the pending events in key order up to its LIMIT."""
    claim = "pending_event" in statement and "LIMIT" in statement.upper() and "ORDER BY" in statement.upper()
    found = []
    for table in CUSTOMER_TABLES:
        if claim and table == "pending_event":
            continue
        if get_engine(url).dialect.name == "sqlite":
            if re.search(rf"^SCAN {table}\b(?! USING (COVERING )?INDEX)", plan, re.MULTILINE):
                found.append(table)
        elif re.search(rf"Seq Scan on {table}\b", plan):
            found.append(table)
    return found


def test_storing_and_reacting_to_a_batch_reads_only_the_batchs_customers(url: str) -> None:
    seed_waiting_customers(url)
    if get_engine(url).dialect.name == "postgresql":
        with get_engine(url).connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    batch = [
        identify("new-1", {"plan": "pro"}),
        track("new-1", "go"),
        track("waiting-7", "ping"),
        track("waiting-8", "go"),
        identify(None, {"plan": "free"}, anonymous_id="device-9"),
        track("waiting-9", "ping", anonymous_id="device-9"),
    ]
    with Recorder(get_engine(url)) as intake, session_scope(url) as session:
        ingest(session=session, messages=batch, now=NOW)
    seed_backlog(url)
    if get_engine(url).dialect.name == "postgresql":
        with get_engine(url).connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    with Recorder(get_engine(url)) as engine_side, session_scope(url) as session:
        done = consume_events(session=session, now=NOW, limit=len(batch))
    assert (done.events, done.entered) == (len(batch), 2)

    planned = plans(url, intake.statements + engine_side.statements)
    scanned = {statement: full_scans(url, plan, statement) for statement, plan in planned}
    assert {statement: tables for statement, tables in scanned.items() if tables} == {}
    waiting_lookups = [
        plan
        for statement, plan in planned
        if "FROM enrollment" in statement and "status" in statement.split("WHERE")[-1]
    ]
    assert waiting_lookups, "the customers' runs were not looked up"
    assert all("ix_enrollment_profile" in plan for plan in waiting_lookups), waiting_lookups
    held_checks = [plan for statement, plan in planned if "min(pending_event.event_id)" in statement]
    assert held_checks
    assert all("ix_pending_event_profile" in plan for plan in held_checks), held_checks


@pytest.fixture
def unanalysed_postgres() -> Iterator[str]:
    with scratch_postgres_database("journey_young") as url:
        upgrade_database(url)
        yield url


def test_on_postgresql_the_intakes_look_ups_use_their_index_before_the_tables_are_first_analysed(
    unanalysed_postgres: str,
) -> None:
    """A new database's tables have no statistics until autovacuum first analyses them, a minute or more after they
    fill: the look-ups must not depend on them."""
    url = unanalysed_postgres
    with get_engine(url).begin() as connection:
        for table in ("event", "profile", "profile_alias"):
            connection.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        connection.execute(
            text(
                "INSERT INTO profile (user_id, traits, consent, created_at, updated_at) "
                "SELECT 'known-' || i, '{}', '{}', now(), now() FROM generate_series(1, 20000) AS i"
            )
        )
        connection.execute(
            text("INSERT INTO profile_alias (anonymous_id, profile_id) SELECT 'device-' || id, id FROM profile")
        )
        connection.execute(
            text(
                "INSERT INTO event (message_id, profile_id, type, properties, occurred_at, received_at) "
                "SELECT 'stored-' || id, id, 'track', '{}', now(), now() FROM profile"
            )
        )
    # A batch as Segment sends them: a hundred messages, known customers and new ones, some on devices.
    batch = [
        *(identify(f"known-{i}", {"plan": "pro"}, message_id=f"stored-{i + 1}" if i < 10 else None) for i in range(50)),
        *(track(f"new-{i}", "go", anonymous_id=f"device-{20_000 + i}") for i in range(50)),
    ]
    with Recorder(get_engine(url)) as intake, session_scope(url) as session:
        result = ingest(session=session, messages=batch, now=NOW)

    assert (result.accepted, result.duplicates) == (90, 10)
    lookups = [
        (statement, plan)
        for statement, plan in plans(url, intake.statements)
        if statement.lstrip().startswith("SELECT")
        and any(key in statement for key in ("event.message_id", "profile.user_id", "profile_alias.anonymous_id"))
    ]
    # The stored messageIds, the customers by user id, the devices by anonymous id.
    assert len(lookups) == 3, [statement for statement, _ in lookups]
    scanned = {statement: full_scans(url, plan, statement) for statement, plan in lookups}
    assert {statement: tables for statement, tables in scanned.items() if tables} == {}
