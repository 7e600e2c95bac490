"""The engine reacts to what the intake stored: each event once, a customer's events in order, nothing lost when a
consumer dies mid-batch; on SQLite and PostgreSQL (several consumers at once on PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.intake import ingest
from engine.runtime import advance_due, consume_batch, consume_events
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    PendingEvent,
    Profile,
    Transition,
    session_scope,
    upgrade_database,
    utc_now,
)
from tests.conftest import scratch_postgres_database
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    journey_map,
    node,
    publish_and_launch,
    react_to_pending,
    track,
    trait_trigger,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(own_database_url: str) -> str:
    return own_database_url


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[str]:
    with scratch_postgres_database("journey_consume") as pg_url:
        upgrade_database(pg_url)
        yield pg_url


def ping_journey() -> object:
    """Entered on every "go" (re-entry always, so an event reacted to twice makes a second run); a "ping" while
    waiting moves the run on to "hold"."""
    return journey_map(
        [
            event_trigger("go"),
            node("await_ping", "wait_for_event", event="ping", timeout="P1D"),
            node("hold", "wait", duration="P1D", stage="s2"),
            node("late", "wait", duration="P1D", stage="s2"),
        ],
        [("entry", "await_ping"), ("await_ping", "hold", "event"), ("await_ping", "late", "timeout")],
        reentry="always",
        name="Ping",
    )


def launched(url: str, doc: object) -> int:
    with session_scope(url) as session:
        journey_id, _ = publish_and_launch(session, doc)  # type: ignore[arg-type]
    return journey_id


def runs_by_user(session: Session) -> dict[str, list[tuple[str, str | None, str | None]]]:
    rows = session.execute(
        select(col(Profile.user_id), col(Enrollment.status), col(Enrollment.step_id), col(Enrollment.end_reason))
        .join(Profile, col(Profile.id) == col(Enrollment.profile_id))
        .order_by(col(Enrollment.id))
    )
    runs: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for user_id, status, step_id, end_reason in rows:
        runs.setdefault(user_id, []).append((str(status), step_id, end_reason))
    return runs


def pending(url: str) -> int:
    with session_scope(url) as session:
        return int(session.execute(select(func.count()).select_from(PendingEvent)).scalar_one())


def store(url: str, *messages: object) -> None:
    with session_scope(url) as session:
        ingest(session=session, messages=list(messages), now=NOW)  # type: ignore[arg-type]


def test_the_intake_only_stores_and_the_engine_reacts_afterwards(url: str) -> None:
    launched(url, ping_journey())
    store(url, track("u1", "go"))

    with session_scope(url) as session:
        assert runs_by_user(session) == {}
    assert pending(url) == 1

    assert react_to_pending(url) == 1
    with session_scope(url) as session:
        assert runs_by_user(session) == {"u1": [("waiting", "await_ping", None)]}
    assert pending(url) == 0
    assert react_to_pending(url) == 0


@pytest.mark.parametrize("limit", [1, 2, 1_000], ids=["one-a-batch", "two-a-batch", "all-in-one-batch"])
def test_a_customers_events_are_reacted_to_in_the_order_received_within_and_across_batches(
    url: str, limit: int
) -> None:
    """go then ping moves the run on, ping then go leaves it waiting; an identify entering a trait journey before
    the goal event of the same request ends that run as reached. Consumed one, two or all events at a time."""
    launched(url, ping_journey())
    goal = journey_map(
        [trait_trigger({"field": "plan", "op": "eq", "value": "pro"}), node("stay", "wait", duration="P1D")],
        [("entry", "stay")],
        name="Pro",
        goal_event="purchased",
    )
    launched(url, goal)
    store(url, track("a", "go"), track("b", "ping"), identify("c", {"plan": "pro"}), track("a", "ping"))
    store(url, track("b", "go"), track("c", "purchased"), track("a", "go"), identify("d", {"plan": "pro"}))
    store(url, track("d", "purchased"), identify("d", {"plan": "pro", "seats": 2}))

    while True:
        with session_scope(url) as session:
            if not consume_events(session=session, now=NOW, limit=limit).events:
                break

    with session_scope(url) as session:
        assert runs_by_user(session) == {
            "a": [("waiting", "hold", None), ("waiting", "await_ping", None)],
            "b": [("waiting", "await_ping", None)],
            "c": [("ended", None, "goal")],
            "d": [("ended", None, "goal")],
        }
    assert pending(url) == 0


def test_a_consumer_killed_before_it_commits_loses_no_reaction(url: str, tmp_path: Path) -> None:
    """A worker SIGKILLed after reacting to a batch but before its commit: the events stay pending, and the next
    consumer reacts to each of them once."""
    launched(url, ping_journey())
    store(url, *[track(f"k{i}", "go") for i in range(50)], *[track(f"k{i}", "ping") for i in range(0, 50, 2)])
    script = (
        "import sys, time\n"
        "from engine.runtime import consume_events\n"
        "from engine.store import session_scope, utc_now\n"
        "with session_scope(sys.argv[1]) as session:\n"
        "    done = consume_events(session=session, now=utc_now(), limit=1000)\n"
        "    print(done.events, flush=True)\n"
        "    time.sleep(120)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as worker:
        assert worker.stdout is not None
        try:
            reacted_uncommitted = worker.stdout.readline()
            worker.send_signal(signal.SIGKILL)
        finally:
            worker.kill()
            worker.wait(10)
    assert reacted_uncommitted.strip() == "75"
    assert worker.returncode == -signal.SIGKILL

    assert pending(url) == 75
    with session_scope(url) as session:
        assert runs_by_user(session) == {}
    assert react_to_pending(url) == 50
    with session_scope(url) as session:
        runs = runs_by_user(session)
    assert {user: len(user_runs) for user, user_runs in runs.items()} == {f"k{i}": 1 for i in range(50)}
    assert Counter(step for user_runs in runs.values() for _, step, _ in user_runs) == {"hold": 25, "await_ping": 25}
    assert pending(url) == 0


@pytest.mark.postgres
def test_two_consumers_at_once_react_to_each_event_exactly_once(pg: str) -> None:
    """Two consumers in parallel on PostgreSQL, in small batches so their claims interleave: every customer is
    entered once per "go" and moved on by their "ping", whichever consumer took which event."""
    launched(pg, ping_journey())
    customers = 300
    again = set(range(0, customers, 3))
    for start in range(0, customers, 100):
        store(pg, *[track(f"w{i}", "go") for i in range(start, start + 100)])
        store(pg, *[track(f"w{i}", "ping") for i in range(start, start + 100)])
        store(pg, *[track(f"w{i}", "go") for i in range(start, start + 100) if i in again])
    errors: list[BaseException] = []
    counts: list[int] = []

    def consumer() -> None:
        try:
            while True:
                with session_scope(pg) as session:
                    done = consume_events(session=session, now=NOW, limit=25)
                counts.append(done.events)
                if done.events == 0 and done.deferred == 0 and pending(pg) == 0:
                    return
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors

    with session_scope(pg) as session:
        runs = runs_by_user(session)
    for i in range(customers):
        expected = [("waiting", "hold", None)] + ([("waiting", "await_ping", None)] if i in again else [])
        assert runs[f"w{i}"] == expected, f"w{i}"
    assert sum(counts) == customers * 2 + len(again)
    assert pending(pg) == 0


@pytest.mark.postgres
def test_a_consumer_leaves_a_customer_whose_earlier_event_another_consumer_holds(pg: str) -> None:
    """Consumer A holds a customer's first event (not yet committed); consumer B, taking the next ones, hands that
    customer's back untouched and reacts to the others; after A commits, the rest follows in order."""
    launched(pg, ping_journey())
    store(pg, track("x", "go"))
    store(pg, track("x", "ping"), track("y", "go"))

    with session_scope(pg) as first:
        held = consume_events(session=first, now=NOW, limit=1)
        assert (held.events, held.entered) == (1, 1)
        with session_scope(pg) as second:
            other = consume_events(session=second, now=NOW)
            assert (other.events, other.entered, other.deferred) == (1, 1, 1)

    with session_scope(pg) as session:
        assert runs_by_user(session) == {"x": [("waiting", "await_ping", None)], "y": [("waiting", "await_ping", None)]}
    assert pending(pg) == 1
    react_to_pending(pg)
    with session_scope(pg) as session:
        assert runs_by_user(session)["x"] == [("waiting", "hold", None)]
    assert pending(pg) == 0


@pytest.mark.postgres
def test_a_run_the_tick_is_walking_is_not_also_moved_by_an_event(pg: str) -> None:
    """The tick holds a timed-out run (walking it to its timeout path) when its awaited event is reacted to: the
    consumer waits for the tick and then finds the run no longer awaiting, so the run moves once."""
    launched(pg, ping_journey())
    store(pg, track("t", "go"))
    react_to_pending(pg)
    store(pg, track("t", "ping"))
    later = utc_now() + timedelta(days=2)
    reacted = threading.Event()

    def consume() -> None:
        with session_scope(pg) as session:
            consume_events(session=session, now=later)
        reacted.set()

    with session_scope(pg) as tick:
        assert advance_due(session=tick, now=later) == 1
        consumer = threading.Thread(target=consume)
        consumer.start()
        assert not reacted.wait(1.0)
    consumer.join(30)

    assert reacted.is_set()
    with session_scope(pg) as session:
        (run,) = session.execute(select(Enrollment)).scalars()
        steps = [
            node_id for (node_id,) in session.execute(select(col(Transition.node_id)).order_by(col(Transition.id)))
        ]
    assert (run.status, run.step_id) == (EnrollmentStatus.WAITING, "late")
    assert steps == ["entry", "await_ping", "late"]


def test_an_event_whose_reaction_fails_is_set_aside_and_the_others_go_on(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch that fails as a whole (a bug, not one customer's run) would hold up every event behind it: its oldest
    event is tried alone, and the one that fails alone is logged and left without a reaction."""
    launched(url, ping_journey())
    store(url, track("a", "go"), track("b", "boom"), track("c", "go"))

    def react(*, happenings: list[Any], **rest: Any) -> int:
        if any(getattr(happening, "name", None) == "boom" for happening in happenings):
            raise RuntimeError("a bug")
        return real_react(happenings=happenings, **rest)

    real_react = consume_events.__globals__["react"]
    monkeypatch.setattr("engine.runtime.consume.react", react)
    done = [consume_batch(sessions=lambda: session_scope(url), now=NOW, limit=1_000) for _ in range(3)]

    assert [(d.events, d.dropped) for d in done] == [(1, 0), (0, 1), (1, 0)]
    with session_scope(url) as session:
        assert runs_by_user(session) == {"a": [("waiting", "await_ping", None)], "c": [("waiting", "await_ping", None)]}
    assert pending(url) == 0
    assert "left without a reaction" in caplog.text
