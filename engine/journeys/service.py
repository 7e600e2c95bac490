"""Journey use cases shared by the command line, the web app and the HTTP API.

Each function takes the caller's session and leaves committing to it (``session_scope`` commits when
the caller's block succeeds), so a use case and whatever the caller does next succeed or fail together.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from engine.compiler import Plan, Problem, ProblemSeverity, compile_map
from engine.map import JourneyMap
from engine.map.starters import list_templates, load_template
from engine.store import (
    Journey,
    JourneyStatus,
    JourneyVersion,
    all_journeys,
    find_journey,
    find_journey_by_name,
    latest_version_numbers,
    next_version_number,
    replace_draft,
    touch_journey,
    utc_now,
)
from engine.store import (
    count_journeys as count_stored_journeys,
)

STARTER_AUTHOR = "starter"


class JourneyNotFoundError(LookupError):
    def __init__(self, journey_id: int) -> None:
        super().__init__(f"there is no journey with id {journey_id}")
        self.journey_id = journey_id


class DraftConflictError(RuntimeError):
    """The draft moved on since the editor loaded it; saving would overwrite someone else's work."""

    def __init__(self, *, journey: Journey, expected_revision: int) -> None:
        if expected_revision < journey.revision:
            why = (
                f"was saved by someone else since you loaded it: someone else saved a newer revision "
                f"({journey.revision}) than the one you edited ({expected_revision})"
            )
        else:
            why = f"has no revision {expected_revision} yet (it is at revision {journey.revision})"
        super().__init__(f"journey {journey.name!r} {why}; reload it before saving your changes")
        self.current_revision = journey.revision
        self.expected_revision = expected_revision


class CompileFailedError(ValueError):
    """The draft has compile errors, so no version was published; ``problems`` lists all of them."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        errors = [p for p in problems if p.severity is ProblemSeverity.ERROR]
        first = f"; first: {errors[0].message}" if errors else ""
        super().__init__(f"the map has {len(errors)} error(s) and cannot be published{first}")
        self.problems = problems


class JourneySummary(BaseModel):
    """One line of the journey list."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    status: JourneyStatus
    description: str
    stage_count: int
    node_count: int
    updated_at: datetime
    latest_version: int | None


def _stored(doc: JourneyMap) -> dict[str, object]:
    return doc.model_dump(mode="json")


def draft_of(journey: Journey) -> JourneyMap:
    return JourneyMap.model_validate(journey.draft_map)


def create_journey(*, session: Session, doc: JourneyMap, created_by: str | None = None) -> Journey:
    now = utc_now()
    journey = Journey(
        name=doc.name,
        description=doc.description,
        draft_map=_stored(doc),
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


def export_map(*, session: Session, journey_id: int) -> JourneyMap:
    """The journey's current draft as a document (what ``journey export`` prints)."""
    return draft_of(get_journey(session=session, journey_id=journey_id))


def count_journeys(*, session: Session) -> int:
    return count_stored_journeys(session=session)


def list_journeys(*, session: Session, limit: int | None = None, offset: int = 0) -> list[JourneySummary]:
    """Every journey, most recently changed first; a page of them with ``limit`` and ``offset``."""
    versions = latest_version_numbers(session=session)
    summaries = []
    for journey in all_journeys(session=session, limit=limit, offset=offset):
        assert journey.id is not None  # stored rows always have one
        summaries.append(
            JourneySummary(
                id=journey.id,
                name=journey.name,
                status=journey.status,
                description=journey.description,
                stage_count=len(journey.draft_map.get("stages", [])),
                node_count=len(journey.draft_map.get("nodes", [])),
                updated_at=journey.updated_at,
                latest_version=versions.get(journey.id),
            )
        )
    return summaries


def save_draft(*, session: Session, journey_id: int, doc: JourneyMap, expected_revision: int) -> Journey:
    """Store a new draft; refused when the stored draft is no longer at ``expected_revision``."""
    saved = replace_draft(
        session=session,
        journey_id=journey_id,
        expected_revision=expected_revision,
        draft_map=_stored(doc),
        name=doc.name,
        description=doc.description,
        at=utc_now(),
    )
    journey = get_journey(session=session, journey_id=journey_id)
    if not saved:
        raise DraftConflictError(journey=journey, expected_revision=expected_revision)
    return journey


def _plan_of(doc: JourneyMap) -> Plan:
    result = compile_map(doc)
    if result.plan is None:
        raise CompileFailedError(result.problems)
    return result.plan


def publish_journey(*, session: Session, journey_id: int, published_by: str | None = None) -> JourneyVersion:
    """Compile the draft and freeze it, map and plan, as the next numbered version.

    On compile errors nothing is written: the error carries every problem.
    """
    doc = draft_of(get_journey(session=session, journey_id=journey_id))
    plan = _plan_of(doc)
    now = utc_now()
    # The write comes before the version number is read: a second publisher waits here until this
    # transaction ends and then numbers after it, rather than colliding on the same number.
    touch_journey(session=session, journey_id=journey_id, at=now)
    version = JourneyVersion(
        journey_id=journey_id,
        number=next_version_number(session=session, journey_id=journey_id),
        map=_stored(doc),
        plan=plan.model_dump(mode="json"),
        published_at=now,
        published_by=published_by,
    )
    session.add(version)
    session.flush()
    return version


def seed_starters(*, session: Session) -> list[Journey]:
    """Create a journey for each starter not yet stored (matched by name); running it twice adds nothing."""
    created = []
    for name in list_templates():
        doc = load_template(name)
        if find_journey_by_name(session=session, name=doc.name) is None:
            created.append(create_journey(session=session, doc=doc, created_by=STARTER_AUTHOR))
    return created
