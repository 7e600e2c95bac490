"""The in-app channel writes the rendered message into the customer's inbox, once per outbox message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from engine.delivery import dispatch_due
from engine.delivery.channels import (
    ChannelSettings,
    ChannelSettingsError,
    DeliveryStatus,
    InboxSender,
    OutboundMessage,
    SandboxSender,
    build_senders,
)
from engine.map import Channel
from engine.store import InboxMessage, MessageStatus, OutboxMessage, session_scope
from tests.engine_factories import NOW, event_trigger, identify, ingest_and_react, journey_map, node, publish_and_launch
from tests.engine_factories import track as tracked


def in_app_journey(session: Session, **content: str) -> int:
    card = node(
        "card",
        "send",
        channel="in_app",
        content={
            "subject": "Hi {{ profile.first_name }}",
            "body": "Three quick wins for {{ profile.first_name }}",
            **content,
        },
    )
    journey_id, _ = publish_and_launch(session, journey_map([event_trigger("go"), card], [("entry", "card")]))
    return journey_id


def outbound(row: OutboxMessage) -> OutboundMessage:
    return OutboundMessage(idempotency_key=row.idempotency_key, channel=Channel.IN_APP, to=row.recipient)


def enter(session: Session, user_id: str = "ada") -> OutboxMessage:
    ingest_and_react(
        session=session,
        messages=[identify(user_id, {"first_name": "Ada", "email": "ada@example.com"}), tracked(user_id, "go")],
        now=NOW,
    )
    return session.execute(select(OutboxMessage)).scalar_one()


def inbox_rows(db_url: str) -> list[InboxMessage]:
    with session_scope(db_url) as session:
        return list(session.execute(select(InboxMessage)).scalars())


def test_the_rendered_message_lands_in_the_customer_s_inbox_with_its_button_and_expiry(db_url: str) -> None:
    with session_scope(db_url) as session:
        in_app_journey(session, url="https://example.com/wins", button="See the wins")
        message = enter(session)
    sender = InboxSender(lambda: session_scope(db_url), lifetime=timedelta(days=3), now=lambda: NOW)

    result = sender.send(outbound(message))

    [row] = inbox_rows(db_url)
    assert result.status is DeliveryStatus.DELIVERED
    assert result.provider_message_id == f"inbox-{row.id}"
    assert (row.user_id, row.node_id, row.outbox_id) == ("ada", "card", message.id)
    assert (row.title, row.body) == ("Hi Ada", "Three quick wins for Ada")
    assert (row.button_label, row.button_url) == ("See the wins", "https://example.com/wins")
    assert (row.created_at, row.expires_at) == (NOW, NOW + timedelta(days=3))
    assert (row.read_at, row.clicked_at, row.dismissed_at, row.is_test) == (None, None, None, False)


def test_a_send_asked_again_adds_no_second_inbox_row(db_url: str) -> None:
    with session_scope(db_url) as session:
        in_app_journey(session)
        message = enter(session)
    sender = InboxSender(lambda: session_scope(db_url))

    first, again = sender.send(outbound(message)), sender.send(outbound(message))

    assert len(inbox_rows(db_url)) == 1
    assert first == again


@pytest.mark.parametrize(
    ("content", "button"),
    [({"url": "https://example.com/x"}, ("Open", "https://example.com/x")), ({"button": "Go"}, ("", ""))],
)
def test_a_link_without_a_label_gets_the_default_button_and_a_label_without_a_link_none(
    db_url: str, content: dict[str, str], button: tuple[str, str]
) -> None:
    with session_scope(db_url) as session:
        in_app_journey(session, **content)
        message = enter(session)
    InboxSender(lambda: session_scope(db_url)).send(outbound(message))

    [row] = inbox_rows(db_url)
    assert (row.button_label, row.button_url) == button


def test_a_key_no_outbox_message_carries_fails_and_writes_nothing(db_url: str) -> None:
    sender = InboxSender(lambda: session_scope(db_url))

    result = sender.send(OutboundMessage(idempotency_key="nobody", channel=Channel.IN_APP, to="ada"))

    assert result.status is DeliveryStatus.FAILED
    assert inbox_rows(db_url) == []


def test_the_dispatcher_delivers_in_app_messages_into_the_inbox(db_url: str) -> None:
    with session_scope(db_url) as session:
        in_app_journey(session)
        enter(session)
    senders = build_senders(ChannelSettings(), sessions=lambda: session_scope(db_url))

    report = dispatch_due(sessions=lambda: session_scope(db_url), senders=senders, now=lambda: NOW)

    assert report.delivered == 1
    with session_scope(db_url) as session:
        status = session.execute(select(OutboxMessage.status)).scalar_one()  # type: ignore[call-overload]
        count = session.execute(select(func.count()).select_from(InboxMessage)).scalar_one()
    assert (status, count) == (MessageStatus.DELIVERED, 1)


def test_senders_put_in_app_in_the_inbox_only_with_sessions_and_never_in_the_sandbox(db_url: str) -> None:
    with_sessions = build_senders(ChannelSettings(), sessions=lambda: session_scope(db_url))
    sandboxed = build_senders(ChannelSettings(sandbox=True), sessions=lambda: session_scope(db_url))

    assert isinstance(with_sessions[Channel.IN_APP], InboxSender)
    assert isinstance(build_senders(ChannelSettings())[Channel.IN_APP], SandboxSender)
    assert isinstance(sandboxed[Channel.IN_APP], SandboxSender)


def test_the_inbox_lifetime_is_read_from_the_environment() -> None:
    assert ChannelSettings.from_env({"JOURNEY_IN_APP_EXPIRY": "P7D"}).in_app_expiry == timedelta(days=7)
    with pytest.raises(ChannelSettingsError, match="JOURNEY_IN_APP_EXPIRY must be an ISO 8601 duration"):
        ChannelSettings.from_env({"JOURNEY_IN_APP_EXPIRY": "a week"})


def test_a_user_id_no_inbox_can_hold_fails_the_message(db_url: str) -> None:
    with session_scope(db_url) as session:
        in_app_journey(session)
        message = enter(session)
    sender = InboxSender(lambda: session_scope(db_url))

    results = [
        sender.send(OutboundMessage(idempotency_key=message.idempotency_key, channel=Channel.IN_APP, to=to))
        for to in ("", "x" * 201)
    ]

    assert {r.status for r in results} == {DeliveryStatus.FAILED}
    assert results[1].detail == "an in-app message goes to a user id of 1 to 200 characters"
    assert inbox_rows(db_url) == []
