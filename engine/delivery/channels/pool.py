"""Several connections to one provider, used one send at a time each: the SMTP channel's connections.

An SMTP connection carries one transaction at a time (``SmtpSender`` holds a lock), so a slow mail server would
hold every email behind the one being sent. A pool of senders lets ``width`` emails be under way at once; the
dispatcher gives the channel that many sending threads, so no thread waits for a connection.
"""

from __future__ import annotations

import queue
from collections.abc import Sequence

from engine.delivery.channels.base import DeliveryResult, OutboundMessage, Sender


class SenderPool:
    def __init__(self, senders: Sequence[Sender]) -> None:
        if not senders:
            raise ValueError("a sender pool needs at least one sender")
        self._all = list(senders)
        self._free: queue.SimpleQueue[Sender] = queue.SimpleQueue()
        for sender in senders:
            self._free.put(sender)

    @property
    def width(self) -> int:
        """How many sends may be under way at once."""
        return len(self._all)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        sender = self._free.get()
        try:
            return sender.send(message)
        finally:
            self._free.put(sender)

    def close(self) -> None:
        for sender in self._all:
            sender.close()
