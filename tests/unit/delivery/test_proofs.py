from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from engine.delivery import TEST_MARK, ProofError, dispatch_due, make_proof, send_proof
from engine.delivery.channels import SandboxSender
from engine.intake import IdentifyMessage, ingest
from engine.journeys import create_journey, seed_starters
from engine.map import Channel
from engine.map.starters import load_template
from engine.runtime import find_customer, pause_journey, run_overview
from engine.store import Enrollment, Event, MessageStatus, OutboxMessage, Transition, session_scope, utc_now
from tests.engine_factories import NOW, event_trigger, identify, journey_map, node, publish_and_launch
from tests.unit.delivery.test_dispatcher import RecordingSender, sessions


def cart_journey(session: Session) -> int:
    journey = create_journey(session=session, doc=load_template("cart_abandonment"))
    assert journey.id is not None
    return journey.id


def counts(session: Session) -> tuple[int, int, int]:
    session.flush()
    return tuple(  # type: ignore[return-value]
        session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in (Enrollment, Transition, Event)
    )


def test_a_proof_to_a_typed_address_shows_visible_sample_values_and_is_marked(session: Session) -> None:
    journey_id = cart_journey(session)
    before = counts(session)

    proof = make_proof(session=session, journey_id=journey_id, node_id="email_reminder", to="me@example.com")
    message = proof.message

    assert proof.rendered_as == "sample values"
    assert (message.is_test, message.status, message.recipient) == (True, MessageStatus.PENDING, "me@example.com")
    assert message.profile_id is None
    assert message.subject.startswith("[TEST] ")
    assert "Test Alex" in message.subject + message.body
    assert "sample-cart_url" in message.body
    # The unsubscribe link of a test opts nobody out.
    assert "https://example.invalid/unsubscribe" in message.body
    assert "/v1/unsubscribe?" not in message.body
    assert counts(session) == before


def message_journey(channel: str, content: dict[str, str]) -> dict[str, object]:
    return node("msg", "send", channel=channel, content=content)


@pytest.mark.parametrize(
    ("channel", "content", "to", "expected"),
    [
        (
            "email",
            {"subject": "Hi {{ profile.first_name }}", "body": "Body"},
            "me@example.com",
            ("[TEST] Hi Test Alex", "Body"),
        ),
        ("sms", {"body": "Hi {{ profile.first_name }}"}, "+1 555 0199", ("", "[TEST] Hi Test Alex")),
        ("push", {"subject": "Cart", "body": "Come back"}, "me-device", ("[TEST] Cart", "[TEST] Come back")),
        ("in_app", {"body": "Come back"}, "me", ("", "[TEST] Come back")),
        (
            "webhook",
            {"body": "plain {{ profile.first_name }}", "url": "https://hooks.example.com/x"},
            "",
            ("", "[TEST] plain Test Alex"),
        ),
    ],
)
def test_every_channel_marks_the_test(
    session: Session, channel: str, content: dict[str, str], to: str, expected: tuple[str, str]
) -> None:
    doc = journey_map([event_trigger("go"), message_journey(channel, content)], [("entry", "msg")])
    journey = create_journey(session=session, doc=doc)
    assert journey.id is not None

    message = send_proof(session=session, journey_id=journey.id, node_id="msg", to=to)

    assert (message.subject, message.body) == expected
    assert message.recipient == (to or "https://hooks.example.com/x")


def test_a_json_webhook_carries_a_test_key_and_can_go_to_a_typed_url(session: Session) -> None:
    content = {
        "body": '{"user": "{{ profile.user_id }}", "plan": "{{ profile.plan }}"}',
        "url": "https://hooks.example.com/x",
    }
    doc = journey_map([event_trigger("go"), message_journey("webhook", content)], [("entry", "msg")])
    journey = create_journey(session=session, doc=doc)
    assert journey.id is not None

    message = send_proof(session=session, journey_id=journey.id, node_id="msg", to="https://me.example.com/hook")

    payload = json.loads(message.body)
    # A trait the sample does not hold is filled with a visible test value.
    assert payload["user"] == "test-user"
    assert payload["plan"] == "Test plan"
    assert payload["test"].startswith(TEST_MARK)
    assert message.recipient == message.url == "https://me.example.com/hook"


def test_a_proof_as_a_customer_uses_their_traits_and_stays_out_of_their_timeline(session: Session) -> None:
    journey_id = cart_journey(session)
    ingest(
        session=session,
        messages=[IdentifyMessage(userId="qa-1", traits={"email": "qa@example.com", "first_name": "Quinn"})],
    )
    before = counts(session)

    typed = make_proof(
        session=session, journey_id=journey_id, node_id="email_reminder", to="me@example.com", customer="qa-1"
    )
    own = send_proof(session=session, journey_id=journey_id, node_id="email_reminder", customer="qa@example.com")

    assert typed.rendered_as == "customer qa-1"
    assert typed.message.recipient == "me@example.com"
    assert own.recipient == "qa@example.com"
    assert all("Quinn" in m.subject + m.body for m in (typed.message, own))
    assert typed.message.profile_id is own.profile_id is None
    assert counts(session) == before
    customer = find_customer(session=session, query="qa-1")
    assert customer is not None
    assert not [item for item in customer.timeline if item.kind.startswith("message")]


@pytest.mark.parametrize(
    ("node_id", "to", "customer", "error"),
    [
        ("email_reminder", "", "nobody", "no customer matches 'nobody'"),
        ("wait_1h", "me@example.com", "", "'wait_1h' is not a message"),
        ("email_reminder", "", "", "type the email address to send the test to"),
        ("email_reminder", "not an address", "", "'not an address' is not an email address"),
        ("sms_last_call", "me@example.com", "", "is not a phone number"),
    ],
)
def test_a_proof_names_what_is_missing(session: Session, node_id: str, to: str, customer: str, error: str) -> None:
    seed_starters(session=session)
    journey_id = cart_journey(session)

    with pytest.raises(ProofError, match=error):
        send_proof(session=session, journey_id=journey_id, node_id=node_id, to=to, customer=customer)


def test_the_dispatcher_sends_a_typed_address_proof_of_a_paused_journey_unmarked_by_any_cap(
    session: Session, db_url: str
) -> None:
    doc = journey_map(
        [event_trigger("go"), node("msg", "send", channel="email", content={"subject": "Hi", "body": "B"})],
        [("entry", "msg")],
        frequency_cap={"max_messages": 1, "window": "P1D"},
    )
    journey_id, _ = publish_and_launch(session, doc)
    ingest(session=session, messages=[identify("u1", {"email": "me@example.com"})], now=NOW)
    pause_journey(session=session, journey_id=journey_id, actor="test")
    for _ in range(2):
        send_proof(session=session, journey_id=journey_id, node_id="msg", to="me@example.com")
    session.commit()
    sender = RecordingSender()

    report = dispatch_due(
        sessions=sessions(db_url), senders={Channel.EMAIL: sender}, now=lambda: NOW + timedelta(days=400)
    )

    assert report.delivered == 2
    assert [(m.to, m.subject, dict(m.metadata)) for m in sender.sent] == [("me@example.com", "[TEST] Hi", {})] * 2
    with session_scope(db_url) as check:
        statuses = check.execute(select(OutboxMessage.status)).scalars().all()
    assert statuses == [MessageStatus.DELIVERED] * 2


def test_a_test_the_sandbox_took_reads_as_not_sent_in_launch_control(session: Session, db_url: str) -> None:
    journey_id = cart_journey(session)
    send_proof(session=session, journey_id=journey_id, node_id="sms_last_call", to="+1 555 0100")
    session.commit()

    dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: SandboxSender()}, now=utc_now)

    with session_scope(db_url) as check:
        (message,) = run_overview(session=check, journey_id=journey_id).recent_messages
    assert (message.status, message.shown_status) == (MessageStatus.DELIVERED, "sandbox (not sent)")
