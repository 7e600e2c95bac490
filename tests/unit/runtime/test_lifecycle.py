from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.delivery import claim, send_proof
from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap, PausePolicy
from engine.runtime import (
    LifecycleError,
    StopMode,
    advance_due,
    finish_drained,
    launch_journey,
    pause_journey,
    resume_journey,
    stop_journey,
)
from engine.store import Enrollment, EnrollmentStatus, JourneyStatus, MessageStatus, OutboxMessage, audit
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


def reminder_journey(wait: str = "PT1H", **settings: object) -> JourneyMap:
    """Wait, email, wait a day, end: a customer inside has an overdue send after a long pause."""
    return journey_map(
        [
            event_trigger("go"),
            node("hold", "wait", duration=wait),
            send("mail"),
            node("after", "wait", stage="s2", duration="P1D"),
        ],
        [("entry", "hold"), ("hold", "mail"), ("mail", "after")],
        **settings,
    )


def enter(session: Session, *users: str, at: datetime = NOW) -> None:
    ingest_and_react(
        session=session, messages=[m for user in users for m in (identify(user), track(user, "go"))], now=at
    )


def runs(session: Session) -> list[Enrollment]:
    return list(session.execute(select(Enrollment).order_by(col(Enrollment.id))).scalars())


def outbox(session: Session) -> list[OutboxMessage]:
    return list(session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).scalars())


def test_a_journey_cannot_be_launched_before_a_version_is_published(session: Session) -> None:
    journey = create_journey(session=session, doc=reminder_journey())
    assert journey.id is not None

    with pytest.raises(LifecycleError, match="cannot launch journey 'Test journey': publish a version first"):
        launch_journey(session=session, journey_id=journey.id, actor="maria")

    assert journey.status is JourneyStatus.DRAFT
    assert audit.entries(session=session, journey_id=journey.id) == []


@pytest.mark.parametrize(
    ("steps", "refused", "message"),
    [
        ([], "pause", "cannot pause journey 'Test journey': it is draft, and pause needs live"),
        ([], "resume", "it is draft, and resume needs paused"),
        ([], "stop", "it is draft, and stop needs draining or live or paused"),
        (["launch"], "launch", "it is live, and launch needs draft"),
        (["launch"], "resume", "it is live, and resume needs paused"),
        (["launch", "pause"], "pause", "it is paused, and pause needs live"),
        (["launch", "stop"], "launch", "it is stopped, and launch needs draft"),
        (["launch", "stop"], "stop", "it is stopped, and stop needs draining or live or paused"),
        (["launch", "stop"], "resume", "it is stopped, and resume needs paused"),
    ],
)
def test_transitions_the_status_does_not_allow_are_refused(
    session: Session, steps: list[str], refused: str, message: str
) -> None:
    journey = create_journey(session=session, doc=reminder_journey())
    assert journey.id is not None
    publish_journey(session=session, journey_id=journey.id)
    actions = {"launch": launch_journey, "pause": pause_journey, "resume": resume_journey, "stop": stop_journey}
    for step in steps:
        actions[step](session=session, journey_id=journey.id, actor="maria")
    before = journey.status

    with pytest.raises(LifecycleError, match=message):
        actions[refused](session=session, journey_id=journey.id, actor="maria")

    assert journey.status is before
    assert len(audit.entries(session=session, journey_id=journey.id)) == len(steps)


def test_every_action_is_audited_with_who_did_it(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, reminder_journey(), actor="maria")
    pause_journey(session=session, journey_id=journey_id, actor="maria", now=NOW)
    resume_journey(session=session, journey_id=journey_id, actor="omar", now=NOW + timedelta(minutes=1))
    stop_journey(session=session, journey_id=journey_id, actor="omar", now=NOW + timedelta(minutes=2))
    session.flush()

    trail = audit.entries(session=session, journey_id=journey_id)

    assert [(e.action, e.actor) for e in reversed(trail)] == [
        ("launch", "maria"),
        ("pause", "maria"),
        ("resume", "omar"),
        ("stop", "omar"),
    ]
    launch, resume = trail[-1], trail[1]
    assert launch.detail == {"version": 1}
    assert resume.detail == {"policy": "skip_overdue_sends", "overdue_customers": 0}


def test_pause_stops_entries(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, reminder_journey())
    pause_journey(session=session, journey_id=journey_id, actor="maria")

    enter(session, "late")

    assert runs(session) == []


def test_resume_sending_late_continues_overdue_customers_as_if_nothing_happened(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, reminder_journey())
    enter(session, "u1")
    pause_journey(session=session, journey_id=journey_id, actor="maria", now=NOW)
    back = NOW + timedelta(hours=3)

    resume_journey(session=session, journey_id=journey_id, actor="maria", policy=PausePolicy.SEND_LATE, now=back)
    advance_due(session=session, now=back)

    (run,) = runs(session)
    (message,) = outbox(session)
    assert run.resume_mode is None
    assert run.step_id == "after"
    assert message.status is MessageStatus.PENDING


def test_resume_skipping_overdue_sends_skips_them_once(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, reminder_journey())
    enter(session, "overdue")
    enter(session, "on_time", at=NOW + timedelta(hours=2, minutes=30))
    pause_journey(session=session, journey_id=journey_id, actor="maria", now=NOW)
    back = NOW + timedelta(hours=3)

    resume_journey(session=session, journey_id=journey_id, actor="maria", now=back)
    session.flush()
    overdue, on_time = runs(session)
    assert (overdue.resume_mode, on_time.resume_mode) == ("skip_overdue_sends", None)

    advance_due(session=session, now=back)
    advance_due(session=session, now=back + timedelta(hours=1))

    skipped, sent = outbox(session)
    assert (skipped.profile_id, skipped.status) == (overdue.profile_id, MessageStatus.SKIPPED)
    assert skipped.reason == "fell due while the journey was paused"
    assert (sent.profile_id, sent.status) == (on_time.profile_id, MessageStatus.PENDING)
    session.refresh(overdue)
    assert overdue.resume_mode is None
    assert overdue.step_id == "after"


def test_resume_skipping_overdue_sends_skips_messages_held_by_the_pause(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, reminder_journey())
    enter(session, "u1")
    advance_due(session=session, now=NOW + timedelta(hours=1))
    pause_journey(session=session, journey_id=journey_id, actor="maria", now=NOW + timedelta(hours=1))
    proof = send_proof(session=session, journey_id=journey_id, node_id="mail", customer="u1")

    resume_journey(session=session, journey_id=journey_id, actor="maria", now=NOW + timedelta(hours=5))
    session.flush()

    held, test_send = outbox(session)
    assert test_send.id == proof.id
    assert (held.status, held.reason) == (
        MessageStatus.SKIPPED,
        "held while the journey was paused; skipped on resume",
    )
    assert test_send.status is MessageStatus.PENDING


def test_resume_leaves_messages_that_were_not_yet_due(session: Session) -> None:
    quiet = {"start": "21:00:00", "end": "08:00:00"}
    journey_id, _ = publish_and_launch(session, reminder_journey(quiet_hours=quiet, default_timezone="UTC"))
    enter(session, "u1", at=NOW + timedelta(hours=10))
    night = NOW + timedelta(hours=11)
    advance_due(session=session, now=night)
    claim(session=session, now=night)
    session.flush()
    (message,) = outbox(session)
    assert message.next_attempt_at == NOW + timedelta(hours=20)
    pause_journey(session=session, journey_id=journey_id, actor="maria", now=night)

    resume_journey(session=session, journey_id=journey_id, actor="maria", now=night + timedelta(hours=1))
    session.flush()
    session.refresh(message)

    assert message.status is MessageStatus.PENDING
    assert message.reason.startswith("deferred: quiet hours")


def test_stop_now_ends_every_run_and_skips_pending_messages(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, reminder_journey())
    enter(session, "u1", "u2")
    advance_due(session=session, now=NOW + timedelta(hours=1))
    proof = send_proof(session=session, journey_id=journey_id, node_id="mail", customer="u1")
    stopped_at = NOW + timedelta(hours=2)

    stop_journey(session=session, journey_id=journey_id, actor="maria", now=stopped_at)
    session.flush()

    assert all(
        (r.status, r.end_reason, r.ended_at, r.due_at) == (EnrollmentStatus.ENDED, "stopped", stopped_at, None)
        for r in runs(session)
    )
    journey_messages = [m for m in outbox(session) if m.id != proof.id]
    assert len(journey_messages) == 2
    assert {(m.status, m.reason) for m in journey_messages} == {(MessageStatus.SKIPPED, "journey stopped")}
    session.refresh(proof)
    assert proof.status is MessageStatus.PENDING
    assert audit.entries(session=session, journey_id=journey_id)[0].detail == {"ended_runs": 2}


def test_drain_takes_no_entries_and_stops_once_everyone_has_finished(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, reminder_journey())
    enter(session, "inside")

    journey = stop_journey(session=session, journey_id=journey_id, actor="maria", mode=StopMode.DRAIN, now=NOW)
    enter(session, "too_late")
    session.flush()
    assert journey.status is JourneyStatus.DRAINING
    assert finish_drained(session=session, now=NOW) == []

    advance_due(session=session, now=NOW + timedelta(hours=1))
    advance_due(session=session, now=NOW + timedelta(days=2))
    session.flush()

    (run,) = runs(session)
    assert (run.status, run.end_reason) == (EnrollmentStatus.ENDED, "completed")
    assert [m.node_id for m in outbox(session)] == ["mail"]
    assert finish_drained(session=session, now=NOW + timedelta(days=2)) == [journey_id]
    assert journey.status is JourneyStatus.STOPPED
    assert [(e.action, e.actor) for e in audit.entries(session=session, journey_id=journey_id)][:2] == [
        ("drained", "engine"),
        ("drain", "maria"),
    ]


def test_a_customer_inside_a_draining_journey_is_resumed_by_the_event_it_waits_for(session: Session) -> None:
    doc = journey_map(
        [
            event_trigger("go"),
            node("await", "wait_for_event", event="confirmed", timeout="P1D"),
            send("thanks", stage="s2"),
            node("gave_up", "exit"),
        ],
        [("entry", "await"), ("await", "thanks", "event"), ("await", "gave_up", "timeout")],
    )
    journey_id, _ = publish_and_launch(session, doc)
    enter(session, "u1")
    stop_journey(session=session, journey_id=journey_id, actor="maria", mode=StopMode.DRAIN, now=NOW)

    ingest_and_react(session=session, messages=[track("u1", "confirmed")], now=NOW + timedelta(minutes=5))

    (run,) = runs(session)
    assert (run.status, run.end_reason) == (EnrollmentStatus.ENDED, "completed")
    assert [m.node_id for m in outbox(session)] == ["thanks"]
