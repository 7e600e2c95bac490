"""The in-app channel: delivering a message is writing it into the customer's inbox (``engine.store.inbox``), which
their app or website reads through the public inbox API (``engine.api.inbox``).

The provider here is our own database, so "deduplicates on the idempotency key" is exact: the inbox row is keyed by
the outbox message (unique ``outbox_id``, inserted with ON CONFLICT DO NOTHING), and a send asked again after it was
in doubt finds the row its first attempt wrote and adds none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from engine.delivery.channels.base import DeliveryResult, DeliveryStatus, OutboundMessage
from engine.store import USER_ID_LENGTH, InboxMessage, OutboxMessage, utc_now

log = logging.getLogger(__name__)

#: How long a delivered in-app message stays in the inbox unless ``JOURNEY_IN_APP_EXPIRY`` says otherwise.
DEFAULT_LIFETIME = timedelta(days=30)
#: The button's label when the message has a URL and the journey gave no label.
DEFAULT_BUTTON = "Open"

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
INBOX = InboxMessage.__table__  # type: ignore[attr-defined]


class InboxSender:
    def __init__(
        self,
        sessions: Callable[[], AbstractContextManager[Session]],
        *,
        lifetime: timedelta = DEFAULT_LIFETIME,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._lifetime = lifetime
        self._now = now

    def send(self, message: OutboundMessage) -> DeliveryResult:
        try:
            with self._sessions() as session:
                return self._deliver(session, message)
        except SQLAlchemyError as error:
            log.warning("in-app message %s could not be written to the inbox: %s", message.idempotency_key, error)
            return DeliveryResult(DeliveryStatus.RETRY, f"the inbox could not be written: {type(error).__name__}")

    def _deliver(self, session: Session, message: OutboundMessage) -> DeliveryResult:
        row = session.execute(
            select(
                OUTBOX.c.id,
                OUTBOX.c.profile_id,
                OUTBOX.c.journey_id,
                OUTBOX.c.node_id,
                OUTBOX.c.subject,
                OUTBOX.c.body,
                OUTBOX.c.url,
                OUTBOX.c.button,
                OUTBOX.c.is_test,
            ).where(OUTBOX.c.idempotency_key == message.idempotency_key)
        ).one_or_none()
        if row is None:
            return DeliveryResult(DeliveryStatus.FAILED, "no outbox message carries this key")
        if not message.to or len(message.to) > USER_ID_LENGTH:
            return DeliveryResult(
                DeliveryStatus.FAILED, f"an in-app message goes to a user id of 1 to {USER_ID_LENGTH} characters"
            )
        now = self._now()
        values: dict[str, Any] = {
            "outbox_id": row.id,
            "user_id": message.to,
            "profile_id": row.profile_id,
            "journey_id": row.journey_id,
            "node_id": row.node_id,
            "title": row.subject,
            "body": row.body,
            "button_label": (row.button or DEFAULT_BUTTON) if row.url else "",
            "button_url": row.url,
            "is_test": row.is_test,
            "created_at": now,
            "expires_at": now + self._lifetime,
        }
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(INBOX).values(**values).on_conflict_do_nothing(index_elements=["outbox_id"]))
        inbox_id = session.execute(select(INBOX.c.id).where(INBOX.c.outbox_id == row.id)).scalar_one()
        return DeliveryResult(
            DeliveryStatus.DELIVERED, f"in the in-app inbox of {message.to}", provider_message_id=f"inbox-{inbox_id}"
        )

    def close(self) -> None:
        """Nothing to release: each send takes a session of its own."""
