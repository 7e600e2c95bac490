from __future__ import annotations

from engine.delivery.channels import DeliveryResult, DeliveryStatus, OutboundMessage, SandboxSender
from engine.map import Channel


def make_message(*, key: str = "e1-send_1-1700000000000", channel: Channel = Channel.IN_APP) -> OutboundMessage:
    return OutboundMessage(
        idempotency_key=key,
        channel=channel,
        to="user-1",
        subject="Welcome",
        body="Your trial has started",
        user_id="user-1",
    )


def test_sandbox_reports_delivered_without_sending() -> None:
    result = SandboxSender().send(make_message())

    assert result == DeliveryResult(DeliveryStatus.DELIVERED, "sandbox: stored, not sent")


def test_sandbox_accepts_every_channel_and_stays_usable_after_close() -> None:
    sender = SandboxSender()
    results = [sender.send(make_message(key=f"k{i}", channel=channel)) for i, channel in enumerate(Channel)]
    sender.close()

    assert {result.status for result in results} == {DeliveryStatus.DELIVERED}
    assert sender.send(make_message()).status is DeliveryStatus.DELIVERED


def test_sandbox_senders_share_no_state() -> None:
    first, second = SandboxSender(), SandboxSender()
    first.send(make_message())

    assert vars(first) == vars(second) == {}
