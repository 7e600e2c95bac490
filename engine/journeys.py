"""Journey use cases shared by the command line, the web app and the HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session

from engine.compiler import Problem, compile_map
from engine.mapdoc import JourneyMap, NodeKind
from engine.store.db import utc_now
from engine.store.journeys import (
    Journey,
    JourneyStatus,
    JourneyVersion,
    all_journeys,
    find_journey,
    find_journey_by_name,
    latest_version_numbers,
    next_version_number,
)
from engine.templates import list_templates, load_template


class JourneyNotFoundError(LookupError):
    def __init__(self, journey_id: int) -> None:
        super().__init__(f"there is no journey with id {journey_id}")
        self.journey_id = journey_id


class DraftConflictError(RuntimeError):
    """The draft was saved by someone else since this editor loaded it."""

    def __init__(self, *, journey: Journey, expected_revision: int) -> None:
        super().__init__(
            f"journey {journey.name!r} was saved by someone else (revision {journey.revision}, you edited "
            f"revision {expected_revision}); reload to see their changes before saving yours"
        )
        self.current_revision = journey.revision


class CompileFailedError(ValueError):
    def __init__(self, problems: tuple[Problem, ...]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        first = errors[0].message if errors else ""
        super().__init__(f"the map has {len(errors)} error(s) and cannot be published; first: {first}")
        self.problems = problems


class JourneySummary(BaseModel):
    id: int
    name: str
    description: str
    status: JourneyStatus
    stage_count: int
    node_count: int
    touchpoint_count: int
    updated_at: datetime
    latest_version: int | None


def _map_json(doc: JourneyMap) -> dict[str, object]:
    return doc.model_dump(mode="json")


def create_journey(*, session: Session, doc: JourneyMap, created_by: str | None = None) -> Journey:
    now = utc_now()
    journey = Journey(
        name=doc.name,
        description=doc.description,
        draft_map=_map_json(doc),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(journey)
    session.flush()
    return journey


def get_journey(*, session: Session, journey_id: int) -> Journey:
    journey = find_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise JourneyNotFoundError(journey_id)
    return journey


def draft_of(journey: Journey) -> JourneyMap:
    return JourneyMap.model_validate(journey.draft_map)


def export_map(*, session: Session, journey_id: int) -> JourneyMap:
    return draft_of(get_journey(session=session, journey_id=journey_id))


def list_journeys(*, session: Session) -> list[JourneySummary]:
    versions = latest_version_numbers(session=session)
    summaries = []
    for journey in all_journeys(session=session):
        assert journey.id is not None
        nodes = journey.draft_map.get("nodes", [])
        summaries.append(
            JourneySummary(
                id=journey.id,
                name=journey.name,
                description=journey.description,
                status=journey.status,
                stage_count=len(journey.draft_map.get("stages", [])),
                node_count=len(nodes),
                touchpoint_count=sum(1 for n in nodes if n.get("kind") == NodeKind.TOUCHPOINT.value),
                updated_at=journey.updated_at,
                latest_version=versions.get(journey.id),
            )
        )
    return summaries


def save_draft(*, session: Session, journey_id: int, doc: JourneyMap, expected_revision: int) -> Journey:
    """Store a new draft; refused when someone saved since ``expected_revision`` was loaded."""
    journey = get_journey(session=session, journey_id=journey_id)
    if journey.revision != expected_revision:
        raise DraftConflictError(journey=journey, expected_revision=expected_revision)
    journey.draft_map = _map_json(doc)
    journey.name = doc.name
    journey.description = doc.description
    journey.revision += 1
    journey.updated_at = utc_now()
    session.add(journey)
    session.flush()
    return journey


def publish_journey(*, session: Session, journey_id: int, published_by: str | None = None) -> JourneyVersion:
    """Compile the draft and freeze it as the next numbered version; nothing changes on errors."""
    journey = get_journey(session=session, journey_id=journey_id)
    doc = draft_of(journey)
    result = compile_map(doc)
    if result.plan is None:
        raise CompileFailedError(result.problems)
    version = JourneyVersion(
        journey_id=journey_id,
        number=next_version_number(session=session, journey_id=journey_id),
        map=_map_json(doc),
        plan=result.plan.model_dump(mode="json"),
        published_by=published_by,
    )
    session.add(version)
    session.flush()
    return version


def seed_starters(*, session: Session) -> list[Journey]:
    """Create a journey for each starter not yet stored (by name); running it twice adds nothing."""
    created = []
    for name in list_templates():
        doc = load_template(name)
        if find_journey_by_name(session=session, name=doc.name) is None:
            created.append(create_journey(session=session, doc=doc, created_by="starter"))
    return created
