"""The sandbox sink: a channel that delivers nothing.

Used for in-app messages (the app reads them from the outbox), for channels with no provider configured,
and for everything when ``JOURNEY_SANDBOX`` is set. The outbox row the dispatcher writes is the record
the UI shows, so the sink keeps nothing itself.
"""

from __future__ import annotations

from engine.delivery.channels.base import DeliveryResult, DeliveryStatus, OutboundMessage


class SandboxSender:
    def send(self, message: OutboundMessage) -> DeliveryResult:
        return DeliveryResult(DeliveryStatus.DELIVERED, "sandbox: stored, not sent")

    def close(self) -> None:
        """Nothing to release: the sandbox holds no connection."""
