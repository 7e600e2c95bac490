"""What a webhook endpoint or a provider answers cannot hold a send: its body is read only up to a bound,
and the whole send (connect, request, answer) has one deadline, however slowly the answer trickles in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from engine.delivery.channels import DeliveryStatus, HttpProviderSender, OutboundMessage, Sender, WebhookSender
from engine.map import Channel
from tests.integration.servers import HttpTestServer

HUGE = 50 * 1024 * 1024
# Long enough that reading it all would take far longer than the senders' deadline of one second.
TRICKLED_BODY = b'{"id": "slow", "padding": "' + b"." * 50 + b'"}'


@pytest.fixture
def http_server() -> Iterator[HttpTestServer]:
    with HttpTestServer() as server:
        yield server


def webhook(server: HttpTestServer) -> tuple[Sender, OutboundMessage]:
    message = OutboundMessage(
        idempotency_key="e1-hook-1", channel=Channel.WEBHOOK, to="", body='{"a": 1}', url=f"{server.url}/hook"
    )
    return WebhookSender(["127.0.0.1"], timeout=1), message


def sms_provider(server: HttpTestServer) -> tuple[Sender, OutboundMessage]:
    message = OutboundMessage(idempotency_key="e1-sms-1", channel=Channel.SMS, to="+15550100", body="Hi")
    return HttpProviderSender(f"{server.url}/sms", Channel.SMS, timeout=1), message


SENDERS = pytest.mark.parametrize("make", [webhook, sms_provider], ids=["webhook", "sms-provider"])


@SENDERS
@pytest.mark.parametrize("status", [200, 500])
def test_a_huge_answer_is_not_read_to_its_end(
    http_server: HttpTestServer, make: Callable[[HttpTestServer], tuple[Sender, OutboundMessage]], status: int
) -> None:
    http_server.respond_next(status=status, body_size=HUGE)
    sender, message = make(http_server)

    result = sender.send(message)
    sender.close()

    assert result.status is (DeliveryStatus.DELIVERED if status == 200 else DeliveryStatus.RETRY)
    if status == 500:
        assert result.detail.startswith("HTTP 500: xxxx")
        assert len(result.detail) < 300
    # The sender hung up after a bounded read; the rest of the 50 MB was never taken off the socket.
    assert http_server.body_bytes_sent() < HUGE


@SENDERS
@pytest.mark.parametrize("from_body", [False, True], ids=["trickled-head", "trickled-body"])
def test_an_answer_trickling_in_cannot_hold_a_send_past_its_deadline(
    http_server: HttpTestServer, make: Callable[[HttpTestServer], tuple[Sender, OutboundMessage]], from_body: bool
) -> None:
    # A byte every 0.2 s: no single read waits anywhere near the 1 s timeout, so only a deadline on the
    # whole send ends it; without one the send would end, delivered, tens of seconds later.
    http_server.respond_next(body=TRICKLED_BODY, trickle=0.2, trickle_from_body=from_body)
    sender, message = make(http_server)

    result = sender.send(message)
    sender.close()

    assert result.status is DeliveryStatus.RETRY
    assert "timed out" in result.detail
    assert "1 s in all" in result.detail


@SENDERS
def test_a_prompt_answer_is_still_read_whole(
    http_server: HttpTestServer, make: Callable[[HttpTestServer], tuple[Sender, OutboundMessage]]
) -> None:
    http_server.respond_next(body={"id": "provider-42"})
    sender, message = make(http_server)

    result = sender.send(message)
    sender.close()

    assert result.status is DeliveryStatus.DELIVERED
    assert result.provider_message_id == "provider-42"
