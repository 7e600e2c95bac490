"""The live journey a simulation drives, found by id or exact name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlmodel import Session, col, select

from engine.compiler import Plan
from engine.journeys import JourneyNotFoundError, JourneyReferenceError, resolve_journey
from engine.map import JourneyMap
from engine.runtime import latest_version
from engine.simulation.odds import SimulationError
from engine.store import Journey, JourneyStatus


@dataclass(frozen=True)
class SimulationTarget:
    """A live journey and the newest version new customers enter."""

    journey_id: int
    name: str
    version: int
    plan: Plan
    doc: JourneyMap


_NOT_LIVE_ADVICE: Final = {
    JourneyStatus.DRAFT: "publish and launch it first (journey publish {id}, journey launch {id})",
    JourneyStatus.PAUSED: "resume it first (journey resume {id})",
    JourneyStatus.DRAINING: "it is finishing its runs and takes no new customers",
    JourneyStatus.STOPPED: "a stopped journey takes no new customers",
}


def find_target(*, session: Session, reference: str) -> SimulationTarget:
    """The live journey ``reference`` names (an id or an exact name); only reads."""
    journey = _find_journey(session, reference.strip())
    assert journey.id is not None
    if journey.status is not JourneyStatus.LIVE:
        advice = _NOT_LIVE_ADVICE[journey.status].format(id=journey.id)
        raise SimulationError(f"journey {journey.id} ({journey.name}) is {journey.status.value}, not live: {advice}")
    version = latest_version(session=session, journey_id=journey.id)
    assert version is not None, "a live journey has a published version"
    return SimulationTarget(
        journey_id=journey.id,
        name=journey.name,
        version=version.number,
        plan=Plan.model_validate(version.plan),
        doc=JourneyMap.model_validate(version.map),
    )


def _find_journey(session: Session, reference: str) -> Journey:
    try:
        return resolve_journey(session=session, reference=reference)
    except JourneyNotFoundError as error:
        raise SimulationError(str(error)) from None
    except JourneyReferenceError as error:
        if error.ids:
            raise SimulationError(str(error)) from None
        live = session.exec(select(Journey).where(col(Journey.status) == JourneyStatus.LIVE).order_by(col(Journey.id)))
        listed = "; ".join(f"{journey.id} ({journey.name})" for journey in live) or "none"
        raise SimulationError(f"{error}; live journeys: {listed}") from None
