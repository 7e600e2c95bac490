"""Rows as an older schema holds them: migration tests write a journey before upgrading, and the ORM would name
every column of today's tables, including ones a later migration adds."""

from __future__ import annotations

from sqlalchemy import insert
from sqlmodel import Session

from engine.compiler import compile_map
from engine.map import JourneyMap
from engine.store import Journey, JourneyVersion


def published_journey(session: Session, doc: JourneyMap) -> tuple[int, int]:
    """A journey with ``doc`` as its draft and version 1, written with only the columns every schema since 0001
    has; returns the journey's and the version's ids."""
    plan = compile_map(doc).plan
    assert plan is not None, "the map must compile"
    data = doc.model_dump(mode="json")
    journey_id = session.execute(
        insert(Journey.__table__).values(name=doc.name, draft_map=data).returning(Journey.__table__.c.id)  # type: ignore[attr-defined]
    ).scalar_one()
    version_id = session.execute(
        insert(JourneyVersion.__table__)  # type: ignore[attr-defined]
        .values(journey_id=journey_id, number=1, map=data, plan=plan.model_dump(mode="json"))
        .returning(JourneyVersion.__table__.c.id)  # type: ignore[attr-defined]
    ).scalar_one()
    return int(journey_id), int(version_id)
