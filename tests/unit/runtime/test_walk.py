from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.journeys import publish_journey, save_draft
from engine.map import JourneyMap
from engine.runtime import advance_due, enroll_scheduled_audience, pause_journey, resume_journey
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    OutboxMessage,
    Profile,
    Transition,
    get_engine,
    session_scope,
    upgrade_database,
)
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    schedule_trigger,
    send,
    track,
    trait_trigger,
)


@pytest.fixture
def other_db_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade_database(url)
    yield url
    get_engine(url).dispose()


def enrollments(session: Session) -> list[Enrollment]:
    return list(session.execute(select(Enrollment).order_by(col(Enrollment.id))).scalars())


def test_each_database_runs_its_own_plan_for_the_same_version_id(db_url: str, other_db_url: str) -> None:
    for url, wait in ((db_url, "P1D"), (other_db_url, "PT1H")):
        with session_scope(url) as session:
            doc = journey_map([event_trigger("go"), node("hold", "wait", duration=wait)], [("entry", "hold")])
            _, version_id = publish_and_launch(session, doc)
            assert version_id == 1
            ingest_and_react(session=session, messages=[track("u1", "go")], now=NOW)

    for url, due in ((db_url, NOW + timedelta(days=1)), (other_db_url, NOW + timedelta(hours=1))):
        with session_scope(url) as session:
            (run,) = enrollments(session)
            assert run.due_at == due


CART_PROPERTIES = ["cart_id"]


def cart_journey(*, reentry: str = "after_exit", filters: list[dict[str, Any]] | None = None, **settings: Any) -> Any:
    """Entry on cart_abandoned; wait up to an hour for that cart's order, else email and end."""
    return journey_map(
        [
            event_trigger("cart_abandoned", filters=filters, properties=CART_PROPERTIES),
            node("await_order", "wait_for_event", event="order_completed", correlate_on="cart_id", timeout="PT1H"),
            node("ordered", "goal", stage="s2"),
            send("reminder", stage="s2"),
        ],
        [("entry", "await_order"), ("await_order", "ordered", "event"), ("await_order", "reminder", "timeout")],
        reentry=reentry,
        exit_criteria=[{"event": "cart_emptied", "correlate_on": "cart_id"}],
        **settings,
    )


def abandon(user: str, cart: str, **extra: Any) -> Any:
    return track(user, "cart_abandoned", {"cart_id": cart, **extra})


def runs_of(session: Session, journey_id: int) -> list[Enrollment]:
    return [e for e in enrollments(session) if e.journey_id == journey_id]


def transitions(session: Session, enrollment_id: int | None = None) -> list[Transition]:
    query = select(Transition).order_by(col(Transition.id))
    if enrollment_id is not None:
        query = query.where(Transition.enrollment_id == enrollment_id)
    return list(session.execute(query).scalars())


def outbox(session: Session) -> list[OutboxMessage]:
    return list(session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).scalars())


def test_an_event_enrolls_only_when_its_properties_pass_the_filters(session: Session) -> None:
    journey_id, _ = publish_and_launch(
        session, cart_journey(filters=[{"source": "event", "field": "cart_total", "op": "gte", "value": 50}])
    )

    ingest_and_react(
        session=session, messages=[abandon("small", "c1", cart_total=20), abandon("big", "c2", cart_total=80)]
    )

    (run,) = runs_of(session, journey_id)
    assert run.context == {"cart_id": "c2", "cart_total": 80}
    assert run.step_id == "await_order"
    assert run.wait_event == "order_completed"
    assert run.correlation == "c2"


@pytest.mark.parametrize(
    ("policy", "runs_after_second_entry", "runs_after_reentry_post_exit"),
    [("never", 1, 1), ("after_exit", 1, 2), ("always", 2, 3)],
)
def test_reentry_policies(
    session: Session, policy: str, runs_after_second_entry: int, runs_after_reentry_post_exit: int
) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey(reentry=policy))

    ingest_and_react(session=session, messages=[abandon("u1", "c1")], now=NOW)
    ingest_and_react(session=session, messages=[abandon("u1", "c2")], now=NOW)
    assert len(runs_of(session, journey_id)) == runs_after_second_entry

    ingest_and_react(session=session, messages=[track("u1", "purchased")], now=NOW)
    assert all(run.status is EnrollmentStatus.ENDED for run in runs_of(session, journey_id))
    ingest_and_react(session=session, messages=[abandon("u1", "c3")], now=NOW)
    assert len(runs_of(session, journey_id)) == runs_after_reentry_post_exit


def test_reentry_is_judged_per_event_inside_one_batch(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey(reentry="after_exit"))

    ingest_and_react(session=session, messages=[abandon("u1", "c1"), abandon("u1", "c2")], now=NOW)

    assert len(runs_of(session, journey_id)) == 1


def test_an_exit_event_for_another_cart_does_not_end_the_run(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[abandon("u1", "c1")], now=NOW)

    ingest_and_react(session=session, messages=[track("u1", "cart_emptied", {"cart_id": "other"})], now=NOW)
    (run,) = runs_of(session, journey_id)
    assert run.status is EnrollmentStatus.WAITING

    ingest_and_react(session=session, messages=[track("u1", "cart_emptied", {"cart_id": "c1"})], now=NOW)
    session.refresh(run)
    assert run.status is EnrollmentStatus.ENDED
    assert run.end_reason == "exit_criteria"
    assert run.ended_at == NOW
    assert run.goal_reached_at is None


def test_the_goal_event_ends_the_run_as_converted(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[abandon("u1", "c1")], now=NOW)
    later = NOW + timedelta(minutes=5)

    ingest_and_react(session=session, messages=[track("u1", "purchased")], now=later)

    (run,) = runs_of(session, journey_id)
    assert run.status is EnrollmentStatus.ENDED
    assert run.end_reason == "goal"
    assert run.goal_reached_at == later
    assert run.due_at is None
    # It reached the goal in the stage it was waiting in: the stage KPIs count it there.
    entered_stage = [t for t in transitions(session, run.id) if t.first_in_stage][-1]
    assert (run.stage_id, run.stage_entered_at) == (entered_stage.stage_id, entered_stage.at)


def test_a_wait_for_event_is_resumed_only_by_the_correlated_event(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[abandon("u1", "c1")], now=NOW)

    ingest_and_react(session=session, messages=[track("u1", "order_completed", {"cart_id": "c9"})], now=NOW)
    (run,) = runs_of(session, journey_id)
    assert run.step_id == "await_order"

    ingest_and_react(session=session, messages=[track("u1", "order_completed", {"cart_id": "c1"})], now=NOW)
    session.refresh(run)
    assert run.status is EnrollmentStatus.ENDED
    assert run.end_reason == "goal"
    assert [t.node_id for t in transitions(session, run.id)] == ["entry", "await_order", "ordered"]
    assert outbox(session) == []


def test_a_wait_that_times_out_takes_the_timeout_path(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[identify("u1"), abandon("u1", "c1")], now=NOW)

    assert advance_due(session=session, now=NOW + timedelta(minutes=59)) == 0
    assert advance_due(session=session, now=NOW + timedelta(hours=1)) == 1

    (run,) = runs_of(session, journey_id)
    (message,) = outbox(session)
    assert run.status is EnrollmentStatus.ENDED
    assert run.end_reason == "completed"
    assert (message.node_id, message.recipient, message.status) == ("reminder", "u1@example.com", "pending")


def two_stage_map() -> JourneyMap:
    """entry -> wait 1 h -> update profile in s1, then wait 1 h -> exit in s2."""
    return journey_map(
        [
            event_trigger("go"),
            node("hold", "wait", duration="PT1H"),
            node("tag", "update_profile", set_traits={"nudged": True}),
            node("later", "wait", stage="s2", duration="PT1H"),
            node("done", "exit", stage="s2"),
        ],
        [("entry", "hold"), ("hold", "tag"), ("tag", "later"), ("later", "done")],
    )


def test_transitions_flag_the_first_entry_into_each_stage(session: Session) -> None:
    doc = two_stage_map()
    publish_and_launch(session, doc)
    ingest_and_react(session=session, messages=[track("u1", "go")], now=NOW)

    advance_due(session=session, now=NOW + timedelta(hours=1))
    advance_due(session=session, now=NOW + timedelta(hours=2))

    assert [(t.node_id, t.stage_id, t.first_in_stage) for t in transitions(session)] == [
        ("entry", "s1", True),
        ("hold", "s1", False),
        ("tag", "s1", False),
        ("later", "s2", True),
        ("done", "s2", False),
    ]


def test_transitions_record_the_step_they_came_from_and_when_it_was_entered(session: Session) -> None:
    doc = two_stage_map()
    journey_id, _ = publish_and_launch(session, doc)
    ingest_and_react(session=session, messages=[track("u1", "go")], now=NOW)

    # Each wait ends later than it began: a resumed step names the wait and when the run entered it.
    advance_due(session=session, now=NOW + timedelta(hours=1, minutes=5))
    advance_due(session=session, now=NOW + timedelta(hours=2, minutes=10))

    assert [(t.node_id, t.at, t.from_node_id, t.from_at) for t in transitions(session)] == [
        ("entry", NOW, None, None),
        ("hold", NOW, "entry", NOW),
        ("tag", NOW + timedelta(hours=1, minutes=5), "hold", NOW),
        ("later", NOW + timedelta(hours=1, minutes=5), "tag", NOW + timedelta(hours=1, minutes=5)),
        ("done", NOW + timedelta(hours=2, minutes=10), "later", NOW + timedelta(hours=1, minutes=5)),
    ]
    # Entering s2 names the stage left, when the run had entered it and how long ago; the run ended in s2.
    entries = [t for t in transitions(session) if t.first_in_stage]
    assert [(t.node_id, t.from_stage_id, t.from_stage_at, t.from_stage_seconds) for t in entries] == [
        ("entry", None, None, None),
        ("later", "s1", NOW, 3900.0),
    ]
    (run,) = runs_of(session, journey_id)
    assert (run.stage_id, run.stage_entered_at) == ("s2", NOW + timedelta(hours=1, minutes=5))


def test_an_event_resuming_a_wait_records_the_wait_and_when_it_began(session: Session) -> None:
    doc = journey_map(
        [
            event_trigger("go"),
            node("first", "wait_for_event", event="opened", timeout="P1D"),
            node("second", "wait_for_event", event="clicked", timeout="P1D"),
            node("won", "goal"),
        ],
        [("entry", "first"), ("first", "second", "event"), ("second", "won", "event")],
    )
    journey_id, _ = publish_and_launch(session, doc)
    ingest_and_react(session=session, messages=[track("u1", "go")], now=NOW)

    # One batch resumes the run twice: the second wait began at this batch's time, not the first's.
    later = NOW + timedelta(minutes=30)
    ingest_and_react(session=session, messages=[track("u1", "opened"), track("u1", "clicked")], now=later)

    (run,) = runs_of(session, journey_id)
    assert [(t.node_id, t.at, t.from_node_id, t.from_at) for t in transitions(session, run.id)] == [
        ("entry", NOW, None, None),
        ("first", NOW, "entry", NOW),
        ("second", later, "first", NOW),
        ("won", later, "second", later),
    ]


def test_split_arms_are_recorded_on_the_split_transition(session: Session) -> None:
    doc = journey_map(
        [
            event_trigger("go"),
            node("ab", "split", arms=[{"name": "a", "percent": 50}, {"name": "b", "percent": 50}]),
            node("a_wait", "wait", duration="PT1H"),
            node("b_wait", "wait", duration="PT2H"),
        ],
        [("entry", "ab"), ("ab", "a_wait", "a"), ("ab", "b_wait", "b")],
    )
    publish_and_launch(session, doc)

    ingest_and_react(session=session, messages=[track(f"u{i}", "go") for i in range(40)], now=NOW)

    splits = [t for t in transitions(session) if t.node_id == "ab"]
    waits = {e.id: e.step_id for e in enrollments(session)}
    assert len(splits) == 40
    assert {t.arm for t in splits} == {"a", "b"}
    assert all(waits[t.enrollment_id] == f"{t.arm}_wait" for t in splits)
    assert all(t.arm is None for t in transitions(session) if t.node_id != "ab")


def test_a_trait_trigger_enrolls_when_traits_start_to_match(session: Session) -> None:
    doc = journey_map(
        [trait_trigger({"field": "plan", "op": "eq", "value": "pro"}), node("hold", "wait", duration="P1D")],
        [("entry", "hold")],
        reentry="always",
    )
    journey_id, _ = publish_and_launch(session, doc)

    ingest_and_react(session=session, messages=[identify("u1", {"plan": "free"})], now=NOW)
    assert runs_of(session, journey_id) == []
    ingest_and_react(session=session, messages=[identify("u1", {"plan": "pro"})], now=NOW)
    assert len(runs_of(session, journey_id)) == 1
    ingest_and_react(session=session, messages=[identify("u1", {"plan": "pro", "seats": 5})], now=NOW)
    assert len(runs_of(session, journey_id)) == 1

    ingest_and_react(
        session=session, messages=[identify("u1", {"plan": "free"}), identify("u1", {"plan": "pro"})], now=NOW
    )
    assert len(runs_of(session, journey_id)) == 2


def test_a_scheduled_journey_enrolls_its_audience(session: Session) -> None:
    doc = journey_map(
        [
            schedule_trigger("0 9 * * 1", {"field": "plan", "op": "eq", "value": "pro"}),
            node("hold", "wait", duration="P1D"),
        ],
        [("entry", "hold")],
        reentry="after_exit",
    )
    ingest_and_react(
        session=session,
        messages=[
            identify("pro1", {"plan": "pro"}),
            identify("free1", {"plan": "free"}),
            identify("pro2", {"plan": "pro"}),
        ],
        now=NOW,
    )
    journey_id, _ = publish_and_launch(session, doc)

    first = enroll_scheduled_audience(session=session, journey_id=journey_id, now=NOW)
    again = enroll_scheduled_audience(session=session, journey_id=journey_id, now=NOW + timedelta(days=7))

    users = {p.id: p.user_id for p in session.execute(select(Profile)).scalars()}
    assert (first, again) == (2, 0)
    assert sorted(users[run.profile_id] for run in runs_of(session, journey_id)) == ["pro1", "pro2"]


def test_a_paused_journey_does_not_advance(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[identify("u1"), abandon("u1", "c1")], now=NOW)
    pause_journey(session=session, journey_id=journey_id, actor="test")

    assert advance_due(session=session, now=NOW + timedelta(hours=2)) == 0
    ingest_and_react(session=session, messages=[abandon("u2", "c2")], now=NOW)

    (run,) = runs_of(session, journey_id)
    assert run.step_id == "await_order"
    assert outbox(session) == []


def test_new_entrants_take_the_newest_version_while_runs_in_flight_keep_theirs(session: Session) -> None:
    journey_id, first_version = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[identify("old"), abandon("old", "c1")], now=NOW)
    longer = cart_journey().model_dump(mode="json")
    longer["nodes"][1]["timeout"] = "PT5H"
    save_draft(session=session, journey_id=journey_id, doc=JourneyMap.from_dict(longer), expected_revision=1)
    second_version = publish_journey(session=session, journey_id=journey_id).id

    ingest_and_react(session=session, messages=[identify("new"), abandon("new", "c2")], now=NOW)
    advance_due(session=session, now=NOW + timedelta(hours=1))

    old, new = runs_of(session, journey_id)
    assert (old.version_id, new.version_id) == (first_version, second_version)
    assert old.status is EnrollmentStatus.ENDED
    assert (new.status, new.due_at) == (EnrollmentStatus.WAITING, NOW + timedelta(hours=5))


@pytest.mark.parametrize("ending", ["purchased", "cart_emptied"])
def test_a_run_ended_earlier_in_the_batch_lets_the_customer_in_again(session: Session, ending: str) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey(reentry="after_exit"))

    ingest_and_react(
        session=session,
        messages=[abandon("u1", "c1"), track("u1", ending, {"cart_id": "c1"}), abandon("u1", "c2")],
        now=NOW,
    )

    first, second = runs_of(session, journey_id)
    assert (first.status, first.context["cart_id"]) == (EnrollmentStatus.ENDED, "c1")
    assert (second.status, second.context["cart_id"]) == (EnrollmentStatus.WAITING, "c2")


def test_an_event_resumes_a_run_entered_earlier_in_the_same_batch(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())

    ingest_and_react(
        session=session,
        messages=[abandon("u1", "c1"), track("u1", "order_completed", {"cart_id": "c1"})],
        now=NOW,
    )

    (run,) = runs_of(session, journey_id)
    assert (run.status, run.end_reason, run.goal_reached_at) == (EnrollmentStatus.ENDED, "goal", NOW)
    assert [t.node_id for t in transitions(session, run.id)] == ["entry", "await_order", "ordered"]


def test_two_journeys_updating_one_customer_at_once_keep_both_changes(session: Session) -> None:
    for name, trait in (("Tags plan", "plan_nudged"), ("Tags churn", "churn_nudged")):
        doc = journey_map(
            [
                event_trigger("signed_up"),
                node("hold", "wait", duration="PT1H"),
                node("tag", "update_profile", set_traits={trait: True}),
            ],
            [("entry", "hold"), ("hold", "tag")],
            name=name,
        )
        publish_and_launch(session, doc)
    ingest_and_react(
        session=session, messages=[identify("u1", {"email": "u1@example.com"}), track("u1", "signed_up")], now=NOW
    )

    assert advance_due(session=session, now=NOW + timedelta(hours=1)) == 2
    session.expire_all()

    profile = session.execute(select(Profile)).scalar_one()
    assert profile.traits == {"email": "u1@example.com", "plan_nudged": True, "churn_nudged": True}


def test_an_awaited_event_during_a_pause_is_kept_and_taken_after_resuming(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[identify("u1"), abandon("u1", "c1")], now=NOW)
    pause_journey(session=session, journey_id=journey_id, actor="test")

    ingest_and_react(
        session=session, messages=[track("u1", "order_completed", {"cart_id": "c1"})], now=NOW + timedelta(minutes=5)
    )
    assert advance_due(session=session, now=NOW + timedelta(minutes=6)) == 0
    (run,) = runs_of(session, journey_id)
    assert (run.status, run.step_id) == (EnrollmentStatus.WAITING, "await_order")

    resume_journey(session=session, journey_id=journey_id, actor="test", now=NOW + timedelta(hours=2))
    assert advance_due(session=session, now=NOW + timedelta(hours=2)) == 1

    session.refresh(run)
    assert (run.status, run.end_reason) == (EnrollmentStatus.ENDED, "goal")
    assert [t.node_id for t in transitions(session, run.id)] == ["entry", "await_order", "ordered"]
    assert outbox(session) == []


def test_an_uncorrelated_event_during_a_pause_leaves_the_run_waiting_for_its_own(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, cart_journey())
    ingest_and_react(session=session, messages=[identify("u1"), abandon("u1", "c1")], now=NOW)
    pause_journey(session=session, journey_id=journey_id, actor="test")

    ingest_and_react(
        session=session, messages=[track("u1", "order_completed", {"cart_id": "c9"})], now=NOW + timedelta(minutes=5)
    )
    resume_journey(session=session, journey_id=journey_id, actor="test", now=NOW + timedelta(minutes=10))

    assert advance_due(session=session, now=NOW + timedelta(minutes=10)) == 0
    (run,) = runs_of(session, journey_id)
    assert (run.step_id, run.wait_event, run.due_at) == ("await_order", "order_completed", NOW + timedelta(hours=1))


def test_events_before_an_identify_in_one_batch_act_before_its_trait_entry(session: Session) -> None:
    doc = journey_map(
        [trait_trigger({"field": "plan", "op": "eq", "value": "pro"}), node("hold", "wait", duration="P1D")],
        [("entry", "hold")],
    )
    journey_id, _ = publish_and_launch(session, doc)

    ingest_and_react(session=session, messages=[track("u1", "purchased"), identify("u1", {"plan": "pro"})], now=NOW)

    (run,) = runs_of(session, journey_id)
    assert (run.status, run.step_id) == (EnrollmentStatus.WAITING, "hold")
