"""Proofs (test sends): any message of a journey, rendered for a chosen test profile as it would go out."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from engine.content import ContentRenderError, render_content, unsubscribe_url
from engine.journeys import draft_of, get_journey
from engine.map import SENDABLE_CHANNELS, EventTrigger, SendNode, TriggerNode
from engine.runtime import find_customer
from engine.store import MessageStatus, OutboxMessage, utc_now


class ProofError(ValueError):
    """A test send that cannot be made; the message says why."""


def sample_event(properties: list[str]) -> dict[str, Any]:
    """Stand-in values for the entry event's properties, so a preview renders without real traffic."""
    return {name: f"sample-{name}" for name in properties}


def send_proof(
    *, session: Session, journey_id: int, node_id: str, customer: str, event: Mapping[str, Any] | None = None
) -> OutboxMessage:
    """Queue the draft's message ``node_id`` for the test profile ``customer`` (user id or email)."""
    journey = get_journey(session=session, journey_id=journey_id)
    doc = draft_of(journey)
    node = doc.node(node_id)
    if not isinstance(node, SendNode) or node.channel not in SENDABLE_CHANNELS:
        raise ProofError(f"{node_id!r} is not a message this journey can send")
    person = find_customer(session=session, query=customer)
    if person is None:
        raise ProofError(f"no profile matches {customer!r}; send an identify call for the test profile first")
    trigger = next((n for n in doc.nodes if isinstance(n, TriggerNode)), None)
    properties = trigger.trigger.properties if trigger and isinstance(trigger.trigger, EventTrigger) else []
    assert node.channel is not None
    try:
        content = render_content(
            node.content,
            profile={**person.traits, "user_id": person.user_id},
            event=dict(event) if event is not None else sample_event(properties),
            journey_name=doc.name,
            unsubscribe_url=unsubscribe_url(person.profile_id, node.channel),
        )
    except ContentRenderError as error:
        raise ProofError(f"the message cannot be rendered for {customer!r}: {error}") from error
    traits = person.traits
    recipient = {
        "email": traits.get("email"),
        "sms": traits.get("phone"),
        "webhook": content.url,
    }.get(node.channel.value, person.user_id)
    if not recipient:
        raise ProofError(f"the test profile has no address for {node.channel.value}")
    now = utc_now()
    message = OutboxMessage(
        idempotency_key=f"test-{uuid.uuid4().hex}",
        journey_id=journey_id,
        profile_id=person.profile_id,
        node_id=node_id,
        channel=node.channel.value,
        recipient=str(recipient),
        subject=f"[TEST] {content.subject}" if content.subject else "",
        body=content.body,
        url=content.url,
        is_test=True,
        status=MessageStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message
