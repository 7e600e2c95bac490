"""What every delivery channel shares: the message handed to a sender, and what the sender says back.

Senders are the engine's I/O adapters. The outbox dispatcher calls ``send`` from a worker thread and
records the result; a sender never raises for a delivery failure, because a failure is an outcome the
dispatcher must store and act on (retry with backoff, try the fallback channel, or give up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from engine.map import Channel

# The key ends up in mail and HTTP headers; whitespace or angle brackets there would let one message
# forge headers of its own or break the Message-ID that makes a retry recognisable downstream.
# Printable ASCII without space, "<" or ">".
_SAFE_KEY = re.compile(r"[!-;=?-~]+")


@dataclass(frozen=True, kw_only=True)
class OutboundMessage:
    """One rendered message, addressed and ready to deliver.

    ``to`` is an email address, a phone number, a user id or a URL, depending on the channel.
    """

    idempotency_key: str
    channel: Channel
    to: str
    subject: str = ""
    body: str = ""
    url: str = ""
    user_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SAFE_KEY.fullmatch(self.idempotency_key):
            raise ValueError(
                f"idempotency_key {self.idempotency_key!r} must be non-empty printable ASCII "
                "without spaces or angle brackets"
            )
        # A read-only copy: the caller's dict cannot change a message after it was handed over.
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    # Transient: timeouts, connection errors, HTTP 5xx/408/429, SMTP 4xx. Worth trying again later.
    RETRY = "retry"
    # Permanent: HTTP 4xx, SMTP 5xx, a refused or malformed address, a refused webhook URL.
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    detail: str
    provider_message_id: str | None = None
    # Seconds the provider asked us to wait before trying again (its Retry-After), when it said.
    retry_after: float | None = None
    # The provider said 429: it is rate-limiting the sender, not refusing this message.
    throttled: bool = False


class Sender(Protocol):
    def send(self, message: OutboundMessage) -> DeliveryResult: ...

    def close(self) -> None: ...
