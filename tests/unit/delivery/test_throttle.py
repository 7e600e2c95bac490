"""A channel's throttle: set by a 429 with Retry-After only (a 503's Retry-After is about that message), capped as a
message's Retry-After is, and never shortened by a later, shorter answer. Webhooks are not throttled as a lane."""

from __future__ import annotations

import httpx

from engine.delivery import RETRY_AFTER_MAX
from engine.delivery.channels import DeliveryResult, DeliveryStatus
from engine.delivery.channels.http import result_for_response
from engine.delivery.lanes import throttle_for
from engine.delivery.sending import Throttle
from engine.map import Channel
from tests.engine_factories import NOW


def answer(code: int, retry_after: str) -> DeliveryResult:
    return result_for_response(httpx.Response(code, headers={"Retry-After": retry_after}), b"")


def test_only_a_429_with_retry_after_throttles_the_channel_and_for_at_most_the_cap() -> None:
    throttle = Throttle()
    throttle.note(answer(503, "30"), NOW)
    throttle.note(DeliveryResult(DeliveryStatus.RETRY, "HTTP 429", throttled=True), NOW)
    assert throttle.until(NOW) is None

    throttle.note(answer(429, "7200"), NOW)
    throttle.note(answer(429, "2"), NOW)

    assert throttle.until(NOW) == NOW + RETRY_AFTER_MAX
    assert throttle.until(NOW + RETRY_AFTER_MAX) is None


def test_sms_and_push_lanes_are_throttled_and_webhooks_are_not() -> None:
    assert throttle_for(Channel.SMS) is not None
    assert throttle_for(Channel.PUSH) is not None
    assert throttle_for(Channel.WEBHOOK) is None
    assert (answer(429, "1").throttled, answer(429, "1").retry_after) == (True, 1)
