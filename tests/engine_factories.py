"""Factories for engine tests: small journey maps, published and launched journeys, intake messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from engine.compiler import compile_map
from engine.intake import AnyMessage, IdentifyMessage, TrackMessage, ingest
from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap
from engine.runtime import CONSUME_BATCH, consume_events, launch_journey
from engine.store import session_scope, utc_now

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def node(node_id: str, kind: str, *, stage: str = "s1", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "kind": kind, "stage": stage, **fields}


def event_trigger(
    event: str, *, filters: list[dict[str, Any]] | None = None, properties: list[str] | None = None
) -> dict[str, Any]:
    return node(
        "entry",
        "trigger",
        trigger={"type": "event", "event": event, "filters": filters or [], "properties": properties or []},
    )


def trait_trigger(*conditions: dict[str, Any]) -> dict[str, Any]:
    return node("entry", "trigger", trigger={"type": "trait", "conditions": list(conditions)})


def schedule_trigger(cron: str, *audience: dict[str, Any]) -> dict[str, Any]:
    return node("entry", "trigger", trigger={"type": "schedule", "cron": cron, "audience": list(audience)})


def send(
    node_id: str,
    channel: str = "email",
    *,
    subject: str = "Hello",
    body: str = "A message",
    fallback: str | None = None,
    stage: str = "s1",
) -> dict[str, Any]:
    return node(
        node_id,
        "send",
        stage=stage,
        channel=channel,
        content={"subject": subject if channel == "email" else "", "body": body},
        fallback_channel=fallback,
    )


def journey_map(
    nodes: list[dict[str, Any]],
    edges: list[tuple[str, str] | tuple[str, str, str]],
    *,
    name: str = "Test journey",
    **settings: Any,
) -> JourneyMap:
    """A map with two stages; edges are (source, target) or (source, target, label)."""
    return JourneyMap.from_dict(
        {
            "name": name,
            "stages": [{"id": "s1", "name": "First", "order": 0}, {"id": "s2", "name": "Second", "order": 1}],
            "nodes": nodes,
            "edges": [
                {"id": f"e{i}", "source": e[0], "target": e[1], "label": e[2] if len(e) == 3 else None}
                for i, e in enumerate(edges)
            ],
            "settings": {"goal_event": "purchased", **settings},
        }
    )


def publish_and_launch(session: Session, doc: JourneyMap, *, actor: str = "test") -> tuple[int, int]:
    """Create, publish and launch a journey; returns (journey id, version id). Fails on compile errors."""
    result = compile_map(doc)
    assert result.ok, [p.message for p in result.errors]
    journey = create_journey(session=session, doc=doc, created_by=actor)
    assert journey.id is not None
    version = publish_journey(session=session, journey_id=journey.id, published_by=actor)
    launch_journey(session=session, journey_id=journey.id, actor=actor)
    session.flush()
    assert version.id is not None
    return journey.id, version.id


def track(
    user_id: str | None,
    event: str,
    properties: dict[str, Any] | None = None,
    *,
    message_id: str | None = None,
    anonymous_id: str | None = None,
    context: dict[str, Any] | None = None,
) -> TrackMessage:
    return TrackMessage.model_validate(
        {
            "userId": user_id,
            "anonymousId": anonymous_id,
            "event": event,
            "properties": properties or {},
            "messageId": message_id,
            "context": context or {},
        }
    )


def identify(
    user_id: str | None,
    traits: dict[str, Any] | None = None,
    *,
    message_id: str | None = None,
    anonymous_id: str | None = None,
    context: dict[str, Any] | None = None,
) -> IdentifyMessage:
    return IdentifyMessage.model_validate(
        {
            "userId": user_id,
            "anonymousId": anonymous_id,
            "traits": traits if traits is not None else {"email": f"{user_id}@example.com"},
            "messageId": message_id,
            "context": context or {},
        }
    )


@dataclass(frozen=True)
class IngestedAndReacted:
    accepted: int
    duplicates: int
    enrolled: int


def ingest_and_react(
    *, session: Session, messages: Sequence[AnyMessage], now: datetime | None = None
) -> IngestedAndReacted:
    """What the intake and then the engine do with messages: store them, then react to every pending event (as the
    engine's consumer does after the intake has acknowledged them), in the same session; the caller commits."""
    now = now or utc_now()
    stored = ingest(session=session, messages=messages, now=now)
    enrolled = 0
    while True:
        consumed = consume_events(session=session, now=now)
        enrolled += consumed.entered
        if consumed.events + consumed.deferred < CONSUME_BATCH:
            return IngestedAndReacted(stored.accepted, stored.duplicates, enrolled)


def react_to_pending(database_url: str) -> int:
    """Run the engine's consumer over every pending event of a database, as the engine's consume job does; how many
    customers it entered into journeys."""
    entered = 0
    while True:
        with session_scope(database_url) as session:
            consumed = consume_events(session=session, now=utc_now())
        entered += consumed.entered
        if consumed.events + consumed.deferred < CONSUME_BATCH:
            return entered
