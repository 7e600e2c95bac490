"""A channel's throttle: set by a 429 with Retry-After only (a 503's Retry-After is about that message), capped as a
message's Retry-After is, and never shortened by a later, shorter answer. Webhooks are not throttled as a lane."""

from __future__ import annotations

from engine.delivery import RETRY_AFTER_MAX, THROTTLED, Throttle
from engine.delivery.channels import DeliveryResult, DeliveryStatus
from engine.map import Channel
from tests.engine_factories import NOW


def answer(code: int, retry_after: float) -> DeliveryResult:
    """What the HTTP senders make of an answer with Retry-After (tests/integration/test_lane_throttle.py sends them)."""
    return DeliveryResult(DeliveryStatus.RETRY, f"HTTP {code}", retry_after=retry_after, throttled=code == 429)


def test_only_a_429_with_retry_after_throttles_the_channel_and_for_at_most_the_cap() -> None:
    throttle = Throttle()
    throttle.note(answer(503, 30), NOW)
    throttle.note(DeliveryResult(DeliveryStatus.RETRY, "HTTP 429", throttled=True), NOW)
    assert throttle.until(NOW) is None

    throttle.note(answer(429, 7200), NOW)
    throttle.note(answer(429, 2), NOW)

    assert throttle.until(NOW) == NOW + RETRY_AFTER_MAX
    assert throttle.until(NOW + RETRY_AFTER_MAX) is None


def test_sms_and_push_lanes_are_throttled_and_webhooks_are_not() -> None:
    assert {Channel.SMS, Channel.PUSH} <= THROTTLED
    assert Channel.WEBHOOK not in THROTTLED
