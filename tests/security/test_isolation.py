"""One customer's bad data fails that customer's run, never the tick, the intake or anyone else's run.

A Liquid filter that chokes on event data, a wait that ends after the year 9999, a value the database
refuses: each is recorded on the one run it concerns (and on its message), with the reason, and
everyone else due in the same tick or batch goes on.
"""

from __future__ import annotations

import base64
import importlib
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.accounts import create_write_key
from engine.kpis import MetricsFilter, journey_overlay, stage_metrics
from engine.runtime import advance_due, find_customer, run_overview
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    Event,
    JourneyVersion,
    MessageStatus,
    OutboxMessage,
    Profile,
    get_engine,
    session_scope,
    upgrade_database,
)
from engine.worker import Engine, EngineSettings
from tests.conftest import scratch_postgres_database
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    react_to_pending,
    send,
    track,
)
from tests.integration.journey_harness import api_server

POISON = -99999999999999
DIGEST = '{{ event.d | date: "%b %d" }}'
AFTER_THE_WAIT = NOW + timedelta(hours=2)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database: a SQLite file, or a PostgreSQL database of its own, dropped afterwards."""
    if request.param == "sqlite":
        sqlite = f"sqlite:///{tmp_path / 'isolation.db'}"
        upgrade_database(sqlite)
        yield sqlite
        get_engine(sqlite).dispose()
        return
    with scratch_postgres_database("journey_isolation") as postgres:
        upgrade_database(postgres)
        yield postgres


def digest_journey(name: str, event: str, *, body: str = DIGEST, wait_first: bool = True) -> Any:
    """Entry on ``event``; (an hour's wait, then) an email rendered from the event's ``d``; then a day's wait."""
    nodes = [
        event_trigger(event, properties=["d"]),
        send("digest", body=body, stage="s2"),
        node("later", "wait", stage="s2", duration="P1D"),
    ]
    edges: list[tuple[str, str]] = [("digest", "later")]
    if wait_first:
        nodes.append(node("hold", "wait", duration="PT1H"))
        edges += [("entry", "hold"), ("hold", "digest")]
    else:
        edges.append(("entry", "digest"))
    return journey_map(nodes, edges, name=name)


def plain_journey(name: str, event: str) -> Any:
    """Entry on ``event``; an hour's wait; a plain email; a day's wait."""
    return journey_map(
        [
            event_trigger(event),
            node("hold", "wait", duration="PT1H"),
            send("hello", stage="s2"),
            node("later", "wait", stage="s2", duration="P1D"),
        ],
        [("entry", "hold"), ("hold", "hello"), ("hello", "later")],
        name=name,
    )


def run_of(session: Session, user_id: str, journey_id: int) -> Enrollment:
    return session.execute(
        select(Enrollment)
        .join(Profile, col(Profile.id) == col(Enrollment.profile_id))
        .where(col(Profile.user_id) == user_id, col(Enrollment.journey_id) == journey_id)
    ).scalar_one()


def messages_of(session: Session, run: Enrollment) -> list[OutboxMessage]:
    return list(session.execute(select(OutboxMessage).where(col(OutboxMessage.enrollment_id) == run.id)).scalars())


def assert_moved_on(session: Session, user_id: str, journey_id: int, *, at: Any) -> None:
    """The run went through its send and waits at ``later``, due a day after ``at``."""
    run = run_of(session, user_id, journey_id)
    assert (run.status, run.step_id, run.due_at, run.failure) == (
        EnrollmentStatus.WAITING,
        "later",
        at + timedelta(days=1),
        None,
    ), user_id
    [message] = messages_of(session, run)
    assert message.status is MessageStatus.PENDING, (user_id, message.reason)


def assert_failed_at_digest(session: Session, user_id: str, journey_id: int) -> Enrollment:
    """The run ended as failed at the send, saying why, and its message is recorded as failed with the reason."""
    run = run_of(session, user_id, journey_id)
    assert (run.status, run.end_reason, run.due_at) == (EnrollmentStatus.ENDED, "failed", None)
    assert run.failure is not None
    assert "digest" in run.failure
    assert "could not be rendered" in run.failure
    [message] = messages_of(session, run)
    assert message.status is MessageStatus.FAILED
    assert "could not be rendered" in message.reason
    return run


def test_a_poisoned_customer_fails_alone_and_everyone_due_advances_in_the_first_tick(url: str) -> None:
    good_a = [f"a{i}" for i in range(5)]
    good_b = [f"b{i}" for i in range(5)]
    with session_scope(url) as session:
        journey_a, _ = publish_and_launch(session, digest_journey("Digest", "go"))
        journey_b, _ = publish_and_launch(session, plain_journey("Unrelated", "visit"))
        messages: list[Any] = []
        for i, user in enumerate(good_a):
            messages += [identify(user), track(user, "go", {"d": 1_700_000_000 + i})]
            if i == 2:
                messages += [identify("poison"), track("poison", "go", {"d": POISON})]
        messages += [m for user in good_b for m in (identify(user), track(user, "visit"))]
        ingest_and_react(session=session, messages=messages, now=NOW)

    engine = Engine(EngineSettings(database_url=url), senders={}, now=lambda: AFTER_THE_WAIT)
    ticks, started = 0, time.perf_counter()
    while True:
        ticks += 1
        engine.advance_once()
        with session_scope(url) as session:
            behind = session.execute(
                select(func.count()).where(
                    col(Enrollment.status) == EnrollmentStatus.WAITING, col(Enrollment.step_id) == "hold"
                )
            ).scalar_one()
        if behind == 0 or ticks == 5:
            break
    seconds = time.perf_counter() - started
    print(f"\n{url.split(':')[0]}: every good customer advanced after {ticks} tick(s), {seconds:.3f} s")

    assert ticks == 1
    with session_scope(url) as session:
        for user in good_a:
            assert_moved_on(session, user, journey_a, at=AFTER_THE_WAIT)
        for user in good_b:
            assert_moved_on(session, user, journey_b, at=AFTER_THE_WAIT)
        poisoned = assert_failed_at_digest(session, "poison", journey_a)
        # Where it failed: the step it was walking into, recorded as its last step; it waits nowhere.
        assert poisoned.stage_id == "s2"
        overview = run_overview(session=session, journey_id=journey_a)
        assert (overview.in_flight, overview.ended, overview.failed) == (5, 1, 1)
        [failure] = overview.recent_failures
        assert (failure.enrollment_id, failure.user_id, failure.reason) == (poisoned.id, "poison", poisoned.failure)
        assert run_overview(session=session, journey_id=journey_b).failed == 0
        customer = find_customer(session=session, query="poison")
        assert customer is not None
        [run] = customer.runs
        assert (run.end_reason, run.failure) == ("failed", poisoned.failure)
        assert any(item.kind == "run:failed" and item.detail == poisoned.failure for item in customer.timeline)
        # On the KPIs a failed run is one that left the journey where it failed, without the goal: a drop-off.
        figures = MetricsFilter(journey_id=journey_a)
        stages = {stage.stage_id: stage for stage in stage_metrics(session=session, metrics_filter=figures)}
        assert (stages["s1"].moved_on, stages["s2"].dropped_off, stages["s2"].in_flight) == (6, 1, 5)
        assert journey_overlay(session=session, metrics_filter=figures).stages == tuple(stages.values())


def test_a_poisoned_event_in_a_batch_fails_its_run_and_the_rest_of_the_batch_is_stored_and_acted_on(
    url: str,
) -> None:
    with session_scope(url) as session:
        journey_c, _ = publish_and_launch(session, digest_journey("Instant digest", "go", wait_first=False))
        journey_b, _ = publish_and_launch(session, plain_journey("Unrelated", "visit"))
        write_key = create_write_key(session=session, name="storefront").secret
    batch = [
        {"type": "identify", "userId": "a0", "traits": {"email": "a0@example.com"}, "messageId": "m1"},
        {"type": "track", "userId": "a0", "event": "go", "properties": {"d": 1_700_000_000}, "messageId": "m2"},
        {"type": "identify", "userId": "poison", "traits": {"email": "p@example.com"}, "messageId": "m3"},
        {"type": "track", "userId": "poison", "event": "go", "properties": {"d": POISON}, "messageId": "m4"},
        {"type": "identify", "userId": "a1", "traits": {"email": "a1@example.com"}, "messageId": "m5"},
        {"type": "track", "userId": "a1", "event": "go", "properties": {"d": 1_700_086_400}, "messageId": "m6"},
        {"type": "track", "userId": "b0", "event": "visit", "messageId": "m7"},
    ]

    with api_server(url) as base_url, httpx.Client(base_url=base_url) as client:
        response = client.post("/v1/batch", json={"batch": batch}, auth=(write_key, ""))
        single = client.post(
            "/v1/track",
            json={"userId": "poison2", "event": "go", "properties": {"d": POISON}, "messageId": "m8"},
            auth=(write_key, ""),
        )

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 7, "duplicates": 0, "rejected": []}
    assert single.status_code == 200, single.text
    # a0, poison, a1 and b0 from the batch, poison2 from the single track.
    assert react_to_pending(url) == 5
    with session_scope(url) as session:
        assert session.execute(select(func.count()).select_from(Event)).scalar_one() == 8
        for user in ("a0", "a1"):
            run = run_of(session, user, journey_c)
            assert (run.status, run.step_id, run.failure) == (EnrollmentStatus.WAITING, "later", None)
            [message] = messages_of(session, run)
            assert message.status is MessageStatus.PENDING
        assert run_of(session, "b0", journey_b).step_id == "hold"
        assert_failed_at_digest(session, "poison", journey_c)
        assert_failed_at_digest(session, "poison2", journey_c)


# NaN and Infinity as JSON numbers are refused by the intake itself (tests/security/test_intake.py); as texts they
# reach the filters.
FILTER_POISONS = [
    pytest.param("{{ event.d | round }}", "NaN", "2.5", id="round-nan-text"),
    pytest.param("{{ event.d | ceil }}", "Infinity", "2.5", id="ceil-infinity-text"),
    pytest.param("{{ event.d | floor }}", "NaN", "2.5", id="floor-nan-text"),
    pytest.param("{{ event.d | sum }}", ["a", "b"], [1, 2], id="sum-of-texts"),
    pytest.param("{{ event.d | base64_decode }}", "!!!garbage", base64.b64encode(b"hi").decode(), id="base64-garbage"),
    pytest.param("{{ event.d | base64_decode }}", "gA==", base64.b64encode(b"hi").decode(), id="base64-not-utf8"),
]


@pytest.mark.parametrize(("template", "poison", "fine"), FILTER_POISONS)
def test_a_filter_that_fails_on_event_data_fails_only_that_customers_run(
    db_url: str, template: str, poison: Any, fine: Any
) -> None:
    with session_scope(db_url) as session:
        journey, _ = publish_and_launch(session, digest_journey("Filters", "go", body=template, wait_first=False))
        messages = [identify("good"), identify("poison"), identify("late")]
        messages += [track("good", "go", {"d": fine}), track("poison", "go", {"d": poison})]
        messages += [track("late", "go", {"d": fine})]
        ingest_and_react(session=session, messages=messages, now=NOW)

    with session_scope(db_url) as session:
        for user in ("good", "late"):
            assert_moved_on(session, user, journey, at=NOW)
        assert_failed_at_digest(session, "poison", journey)


def forever_journey(name: str, event: str, *, wait: dict[str, Any]) -> Any:
    """Entry on ``event``; an hour's wait; then ``wait`` (a wait node named ``forever``), a day long: maps
    refuse longer than ten years, see ``stretch_forever``."""
    day = {key: "P1D" if key in {"duration", "timeout"} else value for key, value in wait.items()}
    return journey_map(
        [event_trigger(event), node("hold", "wait", duration="PT1H"), node("forever", stage="s2", **day)],
        [("entry", "hold"), ("hold", "forever")],
        name=name,
    )


def stretch_forever(session: Session, version_id: int, wait: dict[str, Any]) -> None:
    """Gives the stored plan's ``forever`` step the overflowing duration of ``wait``, as a version published
    before maps were bounded to ten years stored it (plans still load such durations)."""
    version = session.get(JourneyVersion, version_id)
    assert version is not None
    long = {key: value for key, value in wait.items() if key in {"duration", "timeout"}}
    version.plan = {
        **version.plan,
        "steps": [{**step, **long} if step["id"] == "forever" else step for step in version.plan["steps"]],
    }
    session.add(version)


OVERFLOWING_WAITS = [
    pytest.param({"kind": "wait", "duration": "P999999999D"}, id="wait-P999999999D"),
    pytest.param({"kind": "wait", "duration": "P3000000D"}, id="wait-P3000000D"),
    pytest.param({"kind": "wait_for_event", "event": "paid", "timeout": "P999999999D"}, id="timeout-P999999999D"),
]


@pytest.mark.parametrize("wait", OVERFLOWING_WAITS)
def test_a_wait_that_would_end_after_the_year_9999_fails_its_runs_and_the_tick_goes_on(
    db_url: str, wait: dict[str, Any]
) -> None:
    with session_scope(db_url) as session:
        journey, version_id = publish_and_launch(session, forever_journey("Forever", "go", wait=wait))
        stretch_forever(session, version_id, wait)
        other, _ = publish_and_launch(session, plain_journey("Unrelated", "visit"))
        messages = [identify("stuck"), track("stuck", "go")]
        messages += [m for user in ("b0", "b1") for m in (identify(user), track(user, "visit"))]
        ingest_and_react(session=session, messages=messages, now=NOW)

    with session_scope(db_url) as session:
        assert advance_due(session=session, now=AFTER_THE_WAIT) == 3

    with session_scope(db_url) as session:
        for user in ("b0", "b1"):
            assert_moved_on(session, user, other, at=AFTER_THE_WAIT)
        run = run_of(session, "stuck", journey)
        assert (run.status, run.end_reason, run.due_at) == (EnrollmentStatus.ENDED, "failed", None)
        assert run.failure is not None
        assert "forever" in run.failure
        assert "9999" in run.failure


@pytest.mark.parametrize("wait", OVERFLOWING_WAITS)
def test_a_wait_that_would_end_after_the_year_9999_fails_the_entrant_and_intake_goes_on(
    db_url: str, wait: dict[str, Any]
) -> None:
    with session_scope(db_url) as session:
        day = {key: "P1D" if key in {"duration", "timeout"} else value for key, value in wait.items()}
        doc = journey_map([event_trigger("go"), node("forever", **day)], [("entry", "forever")], name="Forever")
        journey, version_id = publish_and_launch(session, doc)
        stretch_forever(session, version_id, wait)
        other, _ = publish_and_launch(session, plain_journey("Unrelated", "visit"))
        result = ingest_and_react(
            session=session, messages=[track("stuck", "go"), track("b0", "visit"), track("b1", "visit")], now=NOW
        )
        assert (result.accepted, result.enrolled) == (3, 3)

    with session_scope(db_url) as session:
        run = run_of(session, "stuck", journey)
        assert (run.status, run.end_reason) == (EnrollmentStatus.ENDED, "failed")
        assert run.failure is not None
        assert "forever" in run.failure
        for user in ("b0", "b1"):
            assert run_of(session, user, other).step_id == "hold"


def test_any_other_error_in_a_walk_drops_what_that_run_wrote_and_fails_it_alone(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(db_url) as session:
        journey, _ = publish_and_launch(session, plain_journey("Plain", "go"))
        users = ("a", "broken", "b")
        ingest_and_react(
            session=session, messages=[m for user in users for m in (identify(user), track(user, "go"))], now=NOW
        )
        broken = run_of(session, "broken", journey)

    # The message row is built after the run's transition past the wait was written: an error there
    # leaves something of the run's walk behind, which must be dropped.
    walk_module = importlib.import_module("engine.runtime.walk")
    message_row = walk_module._message_row

    def breaks_for_one(run: Any, *args: Any, **kwargs: Any) -> Any:
        if run.enrollment_id == broken.id:
            raise RuntimeError("a bug the engine did not foresee")
        return message_row(run, *args, **kwargs)

    monkeypatch.setattr(walk_module, "_message_row", breaks_for_one)
    with session_scope(db_url) as session:
        assert advance_due(session=session, now=AFTER_THE_WAIT) == 3

    with session_scope(db_url) as session:
        for user in ("a", "b"):
            assert_moved_on(session, user, journey, at=AFTER_THE_WAIT)
        run = run_of(session, "broken", journey)
        assert (run.status, run.end_reason) == (EnrollmentStatus.ENDED, "failed")
        assert run.failure is not None
        assert "hold" in run.failure
        assert "RuntimeError" in run.failure
        # Nothing of the failed walk was kept: no transition past the wait and no message.
        assert messages_of(session, run) == []
        assert run.stage_id == "s1"


# A NUL byte was the other such value; the intake now strips it before anything is stored (test_intake.py).
@pytest.mark.postgres
@pytest.mark.parametrize("props", [pytest.param({"d": "x", "cart": "c" * 300}, id="correlation-too-long")])
def test_a_value_postgresql_refuses_fails_only_its_run(props: dict[str, Any]) -> None:
    """Data the database itself refuses (a NUL byte in a text, a value longer than its column) is found
    when the batch is written; the batch is written again run by run and only the refused run fails."""
    doc = journey_map(
        [
            event_trigger("go", properties=["d", "cart"]),
            node("hold", "wait", duration="PT1H"),
            send("digest", body="{{ event.d }}", stage="s2"),
            node("paid", "wait_for_event", stage="s2", event="paid", correlate_on="cart", timeout="P1D"),
        ],
        [("entry", "hold"), ("hold", "digest"), ("digest", "paid")],
    )
    with scratch_postgres_database("journey_isolation") as url:
        upgrade_database(url)
        with session_scope(url) as session:
            journey, _ = publish_and_launch(session, doc)
            messages = [track(user, "go", {"d": "fine", "cart": user}) for user in ("a", "b")]
            ingest_and_react(session=session, messages=[*messages, track("refused", "go", props)], now=NOW)

        engine = Engine(EngineSettings(database_url=url), senders={}, now=lambda: AFTER_THE_WAIT)
        assert engine.advance_once() == 3

        with session_scope(url) as session:
            for user in ("a", "b"):
                run = run_of(session, user, journey)
                assert (run.status, run.step_id, run.correlation) == (EnrollmentStatus.WAITING, "paid", user)
            run = run_of(session, "refused", journey)
            assert (run.status, run.end_reason) == (EnrollmentStatus.ENDED, "failed")
            assert run.failure is not None
            assert "could not be stored" in run.failure
            assert messages_of(session, run) == []


@pytest.mark.postgres
def test_a_new_run_postgresql_refuses_is_stored_as_failed_and_the_others_enter() -> None:
    """On PostgreSQL a new run is first written at the batch's flush, as its walk left it: refused there (its
    correlation is longer than the column), it is stored as failed at its entry and the batch's other runs enter."""
    doc = journey_map(
        [
            event_trigger("go", properties=["cart"]),
            node("paid", "wait_for_event", event="paid", correlate_on="cart", timeout="P1D"),
        ],
        [("entry", "paid")],
    )
    with scratch_postgres_database("journey_isolation") as url:
        upgrade_database(url)
        with session_scope(url) as session:
            journey, _ = publish_and_launch(session, doc)
            messages = [track(user, "go", {"cart": user}) for user in ("a", "b")]
            ingest_and_react(
                session=session, messages=[*messages, track("refused", "go", {"cart": "c" * 300})], now=NOW
            )

        with session_scope(url) as session:
            for user in ("a", "b"):
                run = run_of(session, user, journey)
                assert (run.status, run.step_id, run.correlation) == (EnrollmentStatus.WAITING, "paid", user)
            run = run_of(session, "refused", journey)
            assert (run.status, run.end_reason, run.entered_at) == (EnrollmentStatus.ENDED, "failed", NOW)
            assert run.failure is not None
            assert "could not be stored" in run.failure
