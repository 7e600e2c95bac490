"""Emails in doubt (their worker died mid-send; SMTP cannot be asked again safely) are held for a person, who
resends them or marks them sent."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.delivery import LEASE, InDoubtError, dispatch_due, in_doubt_messages, mark_sent, resend
from engine.map import Channel
from engine.store import MessageStatus, session_scope
from tests.engine_factories import NOW, identify, ingest_and_react, track
from tests.unit.delivery.test_dispatcher import RecordingSender, messages, sessions
from tests.unit.delivery.test_fencing import DyingSender, Killed, journey_on


def test_an_email_in_doubt_is_held_for_a_person_who_resends_or_marks_it_sent(session: Session, db_url: str) -> None:
    journey_id = journey_on(session, "email")
    dying = DyingSender(dies_at=frozenset({"u0@example.com", "u1@example.com"}))
    # Two passes, each dying while its one email is with the SMTP server.
    for user in ("u0", "u1"):
        ingest_and_react(
            session=session, messages=[identify(user, {"email": f"{user}@example.com"}), track(user, "go")], now=NOW
        )
        session.commit()
        with pytest.raises(Killed):
            dispatch_due(sessions=sessions(db_url), senders={Channel.EMAIL: dying}, now=lambda: NOW)
    after = RecordingSender()

    dispatch_due(sessions=sessions(db_url), senders={Channel.EMAIL: after}, now=lambda: NOW + LEASE)

    assert after.sent == []
    with session_scope(db_url) as check:
        count, held = in_doubt_messages(session=check, journey_id=journey_id)
    assert count == 2
    assert [m.recipient for m in held] == ["u0@example.com", "u1@example.com"]
    assert "held for a person" in held[0].reason
    with session_scope(db_url) as person:
        resend(session=person, message_id=held[0].id, actor="ops@example.com", now=NOW + LEASE)
        mark_sent(session=person, message_id=held[1].id, actor="ops@example.com", now=NOW + LEASE)
    with session_scope(db_url) as person, pytest.raises(InDoubtError):
        mark_sent(session=person, message_id=held[1].id, actor="ops@example.com")

    dispatch_due(sessions=sessions(db_url), senders={Channel.EMAIL: after}, now=lambda: NOW + LEASE)

    assert [m.to for m in after.sent] == ["u0@example.com"]
    resent, marked = messages(db_url)
    assert (resent.status, resent.in_doubt) == (MessageStatus.DELIVERED, True)
    assert (marked.status, marked.reason) == (MessageStatus.DELIVERED, "in doubt; marked sent by ops@example.com")
