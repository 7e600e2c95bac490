"""A send cut short (its worker killed mid-send) in a journey paused or stopped since: no claim takes it, as only
live journeys are claimed, yet it must not stay ``sending`` with no owner. Stopped: held in doubt on every channel
(a stopped journey sends nothing more). Paused: an email is held; an SMS waits, in doubt, for the resume."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.delivery import LEASE, InDoubtError, dispatch_due, in_doubt_messages, mark_sent, resend
from engine.map import Channel, PausePolicy
from engine.runtime import pause_journey, resume_journey, stop_journey
from engine.store import MessageStatus, session_scope
from tests.engine_factories import NOW
from tests.unit.delivery.test_dispatcher import RecordingSender, messages, sessions
from tests.unit.delivery.test_fencing import DyingSender, Killed, attempts, customers, journey_on


def cut_short(session: Session, db_url: str, channel: str) -> int:
    """A journey whose one message, to u0, was with the provider when its worker was killed."""
    journey_id = journey_on(session, channel)
    customers(session, 1)
    dying = DyingSender(dies_at=frozenset({"u0@example.com", "+15550100"}))
    with pytest.raises(Killed):
        dispatch_due(sessions=sessions(db_url), senders={Channel(channel): dying}, now=lambda: NOW)
    return journey_id


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_send_cut_short_in_a_journey_stopped_since_is_held_in_doubt_and_never_sent_again(
    session: Session, db_url: str, channel: str
) -> None:
    journey_id = cut_short(session, db_url, channel)
    with session_scope(db_url) as other:
        stop_journey(session=other, journey_id=journey_id, actor="test")
    after = RecordingSender()

    report = dispatch_due(sessions=sessions(db_url), senders={Channel(channel): after}, now=lambda: NOW + LEASE)

    assert after.sent == []
    assert report.in_doubt == 1
    (message,) = messages(db_url)
    assert (message.status, message.in_doubt, message.lease_owner) == (MessageStatus.IN_DOUBT, True, None)
    assert "the journey is stopped, so it is not sent again" in message.reason
    assert [a.outcome for a in attempts(db_url)] == ["in_doubt"]
    with session_scope(db_url) as check:
        count, held = in_doubt_messages(session=check, journey_id=journey_id)
    assert (count, [(m.held, m.resendable) for m in held]) == (1, [(True, False)])
    with session_scope(db_url) as person, pytest.raises(InDoubtError, match="stopped"):
        resend(session=person, message_id=message.id, actor="ops@example.com")
    with session_scope(db_url) as person:
        mark_sent(session=person, message_id=message.id, actor="ops@example.com", now=NOW + LEASE)
    (settled,) = messages(db_url)
    assert settled.status == MessageStatus.DELIVERED


def test_an_sms_cut_short_in_a_journey_paused_since_is_shown_in_doubt_and_asked_again_with_its_key_on_resume(
    session: Session, db_url: str
) -> None:
    journey_id = cut_short(session, db_url, "sms")
    with session_scope(db_url) as other:
        pause_journey(session=other, journey_id=journey_id, actor="test")
    after = RecordingSender()

    dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: after}, now=lambda: NOW + LEASE)

    assert after.sent == []
    (waiting,) = messages(db_url)
    assert (waiting.status, waiting.in_doubt) == (MessageStatus.PENDING, True)
    assert "asked again with the same idempotency key after it resumes" in waiting.reason
    with session_scope(db_url) as check:
        count, shown = in_doubt_messages(session=check, journey_id=journey_id)
    assert (count, [(m.held, m.resendable) for m in shown]) == (1, [(False, False)])

    with session_scope(db_url) as other:
        resume_journey(
            session=other, journey_id=journey_id, actor="test", policy=PausePolicy.SEND_LATE, now=NOW + LEASE
        )
    dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: after}, now=lambda: NOW + LEASE)

    assert [m.idempotency_key for m in after.sent] == [waiting.idempotency_key]
    (sent,) = messages(db_url)
    assert (sent.status, sent.in_doubt) == (MessageStatus.DELIVERED, True)
    with session_scope(db_url) as check:
        assert in_doubt_messages(session=check, journey_id=journey_id)[0] == 0


def test_an_email_cut_short_in_a_journey_paused_since_is_held_for_a_person(session: Session, db_url: str) -> None:
    journey_id = cut_short(session, db_url, "email")
    with session_scope(db_url) as other:
        pause_journey(session=other, journey_id=journey_id, actor="test")

    dispatch_due(sessions=sessions(db_url), senders={Channel.EMAIL: RecordingSender()}, now=lambda: NOW + LEASE)

    (message,) = messages(db_url)
    assert message.status == MessageStatus.IN_DOUBT
    with session_scope(db_url) as check:
        count, held = in_doubt_messages(session=check, journey_id=journey_id)
    assert (count, [(m.held, m.resendable) for m in held]) == (1, [(True, True)])


@pytest.mark.parametrize("then", ["stop", "resume skipping overdue sends"])
def test_an_sms_waiting_in_doubt_is_held_not_skipped_when_its_journey_stops_or_skips_overdue_sends(
    session: Session, db_url: str, then: str
) -> None:
    journey_id = cut_short(session, db_url, "sms")
    with session_scope(db_url) as other:
        pause_journey(session=other, journey_id=journey_id, actor="test")
    dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: RecordingSender()}, now=lambda: NOW + LEASE)

    with session_scope(db_url) as other:
        if then == "stop":
            stop_journey(session=other, journey_id=journey_id, actor="test", now=NOW + LEASE)
        else:
            resume_journey(
                session=other,
                journey_id=journey_id,
                actor="test",
                policy=PausePolicy.SKIP_OVERDUE_SENDS,
                now=NOW + LEASE,
            )
    after = RecordingSender()
    dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: after}, now=lambda: NOW + LEASE)

    assert after.sent == []
    (message,) = messages(db_url)
    assert (message.status, message.in_doubt) == (MessageStatus.IN_DOUBT, True)
    assert "held, not sent again" in message.reason
    with session_scope(db_url) as check:
        count, held = in_doubt_messages(session=check, journey_id=journey_id)
    assert (count, [m.held for m in held]) == (1, [True])
