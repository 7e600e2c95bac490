"""Finding the journey a person names: by its id, or by its exact name when that names only one."""

from __future__ import annotations

from sqlmodel import Session, col, select

from engine.journeys.service import get_journey
from engine.store import Journey


class JourneyReferenceError(LookupError):
    """A name that no journey has (``ids`` empty), or that several have."""

    def __init__(self, reference: str, ids: list[int]) -> None:
        if ids:
            listed = ", ".join(str(i) for i in ids)
            message = f"{len(ids)} journeys are named {reference!r} (ids {listed}); give the id instead"
        else:
            message = f"there is no journey named {reference!r}"
        super().__init__(message)
        self.ids = ids


def resolve_journey(*, session: Session, reference: str) -> Journey:
    """The journey ``reference`` names: digits are an id, anything else an exact name."""
    reference = reference.strip()
    if reference.isdigit():
        return get_journey(session=session, journey_id=int(reference))
    named = list(session.exec(select(Journey).where(col(Journey.name) == reference).order_by(col(Journey.id))))
    if len(named) != 1:
        raise JourneyReferenceError(reference, [journey.id for journey in named if journey.id is not None])
    return named[0]
