"""A run the goal event ends where it waits enters the goal node: by the event path of the wait it is at,
when that wait listens for the goal event and its path leads to a goal, and straight from where it is
otherwise; the steps on the way are passed over, as the goal ends the run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.runtime import advance_due
from engine.store import Enrollment, OutboxMessage, Transition
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    send,
    track,
)

LATER = NOW.replace(hour=13)


def vip_check() -> dict[str, Any]:
    return node("check", "branch", conditions=[{"field": "vip", "op": "eq", "value": True}])


def steps_after_entry(session: Session, journey_id: int) -> list[tuple[str | None, str, str]]:
    rows = session.execute(
        select(Transition.from_node_id, Transition.node_id, Transition.stage_id)
        .where(col(Transition.journey_id) == journey_id, col(Transition.from_node_id).is_not(None))
        .order_by(col(Transition.id))
    ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def the_run(session: Session, journey_id: int) -> Enrollment:
    return session.execute(select(Enrollment).where(col(Enrollment.journey_id) == journey_id)).scalar_one()


def play(session: Session, doc: Any, traits: dict[str, Any]) -> int:
    journey_id, _ = publish_and_launch(session, doc)
    ingest_and_react(
        session=session, messages=[identify("u1", {"email": "u1@example.com", **traits}), track("u1", "go")], now=NOW
    )
    ingest_and_react(session=session, messages=[track("u1", "purchased")], now=LATER)
    session.flush()
    return journey_id


def awaiting_the_goal_through_a_branch() -> Any:
    return journey_map(
        [
            event_trigger("go"),
            node("await", "wait_for_event", event="purchased", timeout="P1D"),
            vip_check(),
            send("thanks", stage="s2"),
            node("won", "goal", stage="s2"),
            node("gave_up", "exit"),
        ],
        [
            ("entry", "await"),
            ("await", "check", "event"),
            ("await", "gave_up", "timeout"),
            ("check", "thanks", "yes"),
            ("check", "won", "no"),
            ("thanks", "won"),
        ],
    )


def test_the_awaited_goal_event_takes_the_waits_event_path_to_the_goal(session: Session) -> None:
    journey_id = play(session, awaiting_the_goal_through_a_branch(), {"vip": True})

    assert steps_after_entry(session, journey_id) == [
        ("entry", "await", "s1"),
        ("await", "check", "s1"),
        ("check", "thanks", "s2"),
        ("thanks", "won", "s2"),
    ]
    run = the_run(session, journey_id)
    assert (run.end_reason, run.stage_id, run.stage_entered_at, run.goal_reached_at) == ("goal", "s2", LATER, LATER)
    # The goal ended the run: the steps on its way there were counted, not carried out.
    assert session.execute(select(OutboxMessage)).all() == []


def test_the_branch_on_the_way_to_the_goal_is_decided_by_the_customers_traits(session: Session) -> None:
    journey_id = play(session, awaiting_the_goal_through_a_branch(), {"vip": False})

    assert steps_after_entry(session, journey_id)[-2:] == [("await", "check", "s1"), ("check", "won", "s2")]


def test_the_goal_event_while_waiting_elsewhere_moves_straight_to_the_first_goal(session: Session) -> None:
    # Two goal cards: the plan's first (the map's first goal card) is the one the goal is counted on.
    doc = journey_map(
        [
            event_trigger("go"),
            node("hold", "wait", duration="P1D"),
            vip_check(),
            node("won", "goal", stage="s2"),
            node("also_won", "goal", stage="s2"),
        ],
        [("entry", "hold"), ("hold", "check"), ("check", "also_won", "yes"), ("check", "won", "no")],
    )
    journey_id = play(session, doc, {})

    assert steps_after_entry(session, journey_id) == [("entry", "hold", "s1"), ("hold", "won", "s2")]
    moved = session.execute(
        select(Transition.from_stage_id, Transition.from_stage_at, Transition.first_in_stage).where(
            col(Transition.node_id) == "won"
        )
    ).one()
    assert tuple(moved) == ("s1", NOW, True)
    assert the_run(session, journey_id).stage_id == "s2"


def test_a_plan_without_a_goal_step_ends_the_run_where_it_is(session: Session) -> None:
    doc = journey_map([event_trigger("go"), node("hold", "wait", duration="P1D")], [("entry", "hold")])
    journey_id = play(session, doc, {})

    assert steps_after_entry(session, journey_id) == [("entry", "hold", "s1")]
    run = the_run(session, journey_id)
    assert (run.end_reason, run.stage_id) == ("goal", "s1")


def test_a_run_that_passed_a_goal_already_is_not_counted_on_it_twice(session: Session) -> None:
    doc = journey_map(
        [event_trigger("go"), node("won", "goal", stage="s2"), node("hold", "wait", duration="P1D", stage="s2")],
        [("entry", "won"), ("won", "hold")],
    )
    journey_id = play(session, doc, {})

    assert steps_after_entry(session, journey_id) == [("entry", "won", "s2"), ("won", "hold", "s2")]
    assert the_run(session, journey_id).end_reason == "goal"


def test_a_run_that_passed_a_goal_in_the_same_batch_is_not_counted_on_it_twice(session: Session) -> None:
    doc = journey_map(
        [event_trigger("go"), node("won", "goal", stage="s2"), node("hold", "wait", duration="P1D", stage="s2")],
        [("entry", "won"), ("won", "hold")],
    )
    journey_id, _ = publish_and_launch(session, doc)
    ingest_and_react(session=session, messages=[track("u1", "go"), track("u1", "purchased")], now=NOW)

    assert steps_after_entry(session, journey_id) == [("entry", "won", "s2"), ("won", "hold", "s2")]
    assert the_run(session, journey_id).end_reason == "goal"


def test_a_goal_passed_before_a_wait_stays_reached_when_the_run_goes_on(session: Session) -> None:
    doc = journey_map(
        [event_trigger("go"), node("won", "goal", stage="s2"), node("hold", "wait", duration="PT1H", stage="s2")],
        [("entry", "won"), ("won", "hold")],
    )
    journey_id, _ = publish_and_launch(session, doc)
    ingest_and_react(session=session, messages=[track("u1", "go")], now=NOW)
    advance_due(session=session, now=LATER)
    session.flush()

    run = the_run(session, journey_id)
    assert (run.end_reason, run.goal_reached_at) == ("completed", NOW)
