"""Journey use cases shared by the command line, the web app and the HTTP API.

Each function takes the caller's session and leaves committing to it (``session_scope`` commits when
the caller's block succeeds), so a use case and whatever the caller does next succeed or fail together.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlmodel import Session, col

from engine.compiler import Plan, Problem, ProblemSeverity, compile_map
from engine.map import JourneyMap, NodeKind, Position, add_node, add_stage
from engine.map.starters import list_templates, load_template
from engine.store import (
    Journey,
    JourneyStatus,
    JourneyVersion,
    all_journeys,
    audit,
    clear_archived,
    find_journey,
    journey_names,
    latest_version_numbers,
    mark_archived,
    next_version_number,
    replace_draft,
    touch_journey,
    utc_now,
)
from engine.store import (
    count_journeys as count_stored_journeys,
)

STARTER_AUTHOR = "starter"
NAME_LENGTH: Final = 200
BLANK_STAGE: Final = "Stage 1"
# Where a blank journey's trigger card sits: inside the first lane, on its first row.
BLANK_TRIGGER_AT: Final = Position(x=40, y=80)
# Only a journey nobody can be inside may be archived: archiving hides it from the lists and the dashboard.
ARCHIVABLE: Final = frozenset({JourneyStatus.DRAFT, JourneyStatus.STOPPED})
_NUMBERED: Final = re.compile(r"^(?P<stem>.*\S) \((?P<number>\d+)\)$")


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


class JourneyNameError(ValueError):
    """A name a journey cannot take: empty, too long, or another journey's; the message says which."""


class ArchiveError(ValueError):
    """Archiving or restoring that the journey's state does not allow; the message says why."""


class JourneyArchivedError(ArchiveError):
    """Publishing or launching an archived journey: it must be restored first."""


def archived_refusal(journey: Journey, action: str) -> str | None:
    """Why ``action`` (publish, launch) is refused on the journey because it is archived, or None when it is not."""
    if journey.archived_at is None:
        return None
    return f"cannot {action} journey {journey.name!r}: it is archived; restore it from the journeys list first"


TOUCHPOINT_KINDS: Final = frozenset({NodeKind.SEND.value, NodeKind.TOUCHPOINT.value})


class JourneySummary(BaseModel):
    """One line of the journey list."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    status: JourneyStatus
    description: str
    stage_count: int
    node_count: int
    # What a designer calls touchpoints: the moments the customer meets the brand on a channel (messages
    # and drawn touchpoints), not the engine's waits, branches, splits, triggers, goals and exits.
    touchpoint_count: int
    updated_at: datetime
    latest_version: int | None
    archived_at: datetime | None = None
    archived_by: str | None = None


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


def count_journeys(*, session: Session, archived: bool | None = False) -> int:
    return count_stored_journeys(session=session, archived=archived)


def list_journeys(
    *, session: Session, archived: bool | None = False, limit: int | None = None, offset: int = 0
) -> list[JourneySummary]:
    """The journeys not archived, most recently changed first; ``archived=True`` the archived ones, None all; a
    page of them with ``limit`` and ``offset``."""
    versions = latest_version_numbers(session=session)
    summaries = []
    for journey in all_journeys(session=session, archived=archived, limit=limit, offset=offset):
        assert journey.id is not None  # stored rows always have one
        summaries.append(
            JourneySummary(
                id=journey.id,
                name=journey.name,
                status=journey.status,
                description=journey.description,
                stage_count=len(journey.draft_map.get("stages", [])),
                node_count=len(journey.draft_map.get("nodes", [])),
                touchpoint_count=sum(
                    1 for node in journey.draft_map.get("nodes", []) if node.get("kind") in TOUCHPOINT_KINDS
                ),
                updated_at=journey.updated_at,
                latest_version=versions.get(journey.id),
                archived_at=journey.archived_at,
                archived_by=journey.archived_by,
            )
        )
    return summaries


def save_draft(*, session: Session, journey_id: int, doc: JourneyMap, expected_revision: int) -> Journey:
    """Store a new draft; refused when the stored draft is no longer at ``expected_revision``, and
    (JourneyNameError) when the draft renames the journey to a name another journey has."""
    if doc.name != get_journey(session=session, journey_id=journey_id).name:
        doc = doc.model_copy(update={"name": _checked_name(session, doc.name, except_id=journey_id)})
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

    On compile errors nothing is written: the error carries every problem. An archived journey is refused
    (JourneyArchivedError): archiving took it off every list, so a version published there would go unseen.
    """
    journey = get_journey(session=session, journey_id=journey_id)
    refusal = archived_refusal(journey, "publish")
    if refusal is not None:
        raise JourneyArchivedError(refusal)
    doc = draft_of(journey)
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


def _newest_version(session: Session, journey_id: int) -> tuple[int, JourneyMap] | None:
    row = session.execute(
        select(col(JourneyVersion.number), col(JourneyVersion.map))
        .where(col(JourneyVersion.journey_id) == journey_id)
        .order_by(col(JourneyVersion.number).desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else (row[0], JourneyMap.model_validate(row[1]))


def has_unpublished_changes(*, session: Session, journey_id: int) -> bool:
    """Whether the draft differs from the newest version (True before the first publish).

    Both are compared as parsed documents, so a difference in how the JSON was stored is no change.
    """
    newest = _newest_version(session, journey_id)
    return newest is None or draft_of(get_journey(session=session, journey_id=journey_id)) != newest[1]


def publish_blocker(*, session: Session, journey_id: int) -> str | None:
    """Why publishing the journey now would be refused or pointless, in a sentence; None when it is worth doing."""
    journey = get_journey(session=session, journey_id=journey_id)
    if journey.archived_at is not None:
        return "The journey is archived; restore it from the journeys list first."
    newest = _newest_version(session, journey_id)
    if newest is not None and draft_of(journey) == newest[1]:
        return f"No changes since version {newest[0]}; edit the map to publish a new version."
    return None


def seed_starters(*, session: Session) -> list[Journey]:
    """Create a journey for each starter not yet stored (matched by name, ignoring case, as names are unique);
    running it twice adds nothing."""
    created = []
    for name in list_templates():
        doc = load_template(name)
        if doc.name.casefold() not in _taken(session):
            created.append(create_journey(session=session, doc=doc, created_by=STARTER_AUTHOR))
    return created


# --- names, new journeys, rename, duplicate, archive ------------------------------------------------------


def _taken(session: Session, *, except_id: int | None = None) -> dict[str, int]:
    # Compared case-blind: two journeys called "Onboarding" and "onboarding" cannot be told apart in a list.
    return {name.casefold(): jid for jid, name in journey_names(session=session).items() if jid != except_id}


def _free(taken: dict[str, int], wanted: str) -> str:
    if wanted.casefold() not in taken:
        return wanted
    numbered = _NUMBERED.match(wanted)
    stem = numbered["stem"] if numbered else wanted
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = stem[: NAME_LENGTH - len(suffix)].rstrip() + suffix
        if candidate.casefold() not in taken:
            return candidate
        number += 1


def suggest_name(*, session: Session, wanted: str) -> str:
    """``wanted`` if no journey has that name yet, else the first free "wanted (2)", "wanted (3)", ..."""
    return _free(_taken(session), wanted.strip())


def _checked_name(session: Session, name: str, *, except_id: int | None = None) -> str:
    """``name`` without surrounding spaces, if a journey may take it; JourneyNameError says why not."""
    name = name.strip()
    if not name:
        raise JourneyNameError("a journey needs a name")
    if len(name) > NAME_LENGTH:
        raise JourneyNameError(f"a journey's name has at most {NAME_LENGTH} characters; this one has {len(name)}")
    taken = _taken(session, except_id=except_id)
    holder = taken.get(name.casefold())
    if holder is not None:
        other = get_journey(session=session, journey_id=holder)
        where = "an archived journey" if other.archived_at is not None else "another journey"
        raise JourneyNameError(
            f"{where} is already called {other.name!r}; choose another name, such as {_free(taken, name)!r}"
        )
    try:
        # The map carries the name too: whatever the document refuses in a name is refused here, up front.
        JourneyMap.model_validate({"name": name})
    except ValidationError as error:
        raise JourneyNameError(f"the name {name!r} cannot be used: {error.errors()[0]['msg']}") from error
    return name


def blank_map(name: str) -> JourneyMap:
    """A journey to draw from nothing: one stage, holding the trigger card customers enter by."""
    doc, stage = add_stage(JourneyMap(name=name), BLANK_STAGE)
    return add_node(doc, kind=NodeKind.TRIGGER, position=BLANK_TRIGGER_AT, stage=stage)[0]


def _create_named(session: Session, doc: JourneyMap, *, actor: str, starter: str | None) -> Journey:
    journey = create_journey(session=session, doc=doc, created_by=actor)
    audit.record(
        session=session, actor=actor, action="journey.create", journey_id=journey.id, name=doc.name, starter=starter
    )
    return journey


def create_blank_journey(*, session: Session, name: str, actor: str) -> Journey:
    """A new draft called ``name`` holding :func:`blank_map`; refused (JourneyNameError) when the name is taken."""
    return _create_named(session, blank_map(_checked_name(session, name)), actor=actor, starter=None)


def import_journey(*, session: Session, doc: JourneyMap, actor: str) -> Journey:
    """A new draft holding ``doc`` (a map from a file or the HTTP API) under its own name; refused
    (JourneyNameError, naming a free name) when the name is taken, as on the journeys list."""
    return _create_named(
        session, doc.model_copy(update={"name": _checked_name(session, doc.name)}), actor=actor, starter=None
    )


def create_from_starter(*, session: Session, starter: str, name: str, actor: str) -> Journey:
    """A new draft called ``name`` holding the starter's map; refused (JourneyNameError) when the name is taken.

    An unknown starter raises ``UnknownTemplateError`` naming the known ones.
    """
    doc = load_template(starter)
    return _create_named(
        session, doc.model_copy(update={"name": _checked_name(session, name)}), actor=actor, starter=starter
    )


def rename_journey(
    *, session: Session, journey_id: int, name: str, actor: str, expected_revision: int | None = None
) -> Journey:
    """Give the journey and its draft map a new name; refused (JourneyNameError) when another journey has it.

    The name is part of the draft, so the revision moves on: an editor holding an older revision is told
    to reload rather than saving the old name back. ``expected_revision`` (the editor's) makes a rename
    after someone else's save a DraftConflictError; without it, the stored revision is renamed.
    """
    journey = get_journey(session=session, journey_id=journey_id)
    doc = draft_of(journey)
    new_name = _checked_name(session, name, except_id=journey_id)
    if new_name == journey.name:
        return journey
    old_name, revision = journey.name, journey.revision if expected_revision is None else expected_revision
    renamed = save_draft(
        session=session,
        journey_id=journey_id,
        doc=doc.model_copy(update={"name": new_name}),
        expected_revision=revision,
    )
    audit.record(
        session=session, actor=actor, action="journey.rename", journey_id=journey_id, old=old_name, new=new_name
    )
    return renamed


def duplicate_journey(*, session: Session, journey_id: int, actor: str) -> Journey:
    """A new draft holding a copy of the journey's draft map, named "<name> (2)" (or the next free number).

    Only the draft is copied: the copy has no versions, runs or history of its own yet.
    """
    source = get_journey(session=session, journey_id=journey_id)
    name = _free(_taken(session), source.name)
    copy = create_journey(session=session, doc=draft_of(source).model_copy(update={"name": name}), created_by=actor)
    audit.record(
        session=session, actor=actor, action="journey.duplicate", journey_id=copy.id, source=journey_id, name=name
    )
    return copy


def archive_blocker(status: JourneyStatus) -> str | None:
    """Why a journey in ``status`` cannot be archived, or None when it can."""
    if status in ARCHIVABLE:
        return None
    if status is JourneyStatus.DRAINING:
        return "it is draining (customers are still finishing their runs); it can be archived once it has stopped"
    return f"it is {status.value}; stop it in launch control before archiving it"


def archive_journey(*, session: Session, journey_id: int, actor: str) -> Journey:
    """Take the journey off the lists and the dashboard, keeping everything it holds; undone by restore.

    Refused (ArchiveError) while customers can be inside it: live, paused or draining.
    """
    now = utc_now()
    if not mark_archived(session=session, journey_id=journey_id, at=now, by=actor, statuses=ARCHIVABLE):
        journey = get_journey(session=session, journey_id=journey_id)
        if journey.archived_at is not None:
            raise ArchiveError(f"journey {journey.name!r} is already archived")
        raise ArchiveError(f"journey {journey.name!r} cannot be archived: {archive_blocker(journey.status)}")
    audit.record(session=session, actor=actor, action="journey.archive", journey_id=journey_id)
    return get_journey(session=session, journey_id=journey_id)


def restore_journey(*, session: Session, journey_id: int, actor: str) -> Journey:
    """Bring an archived journey back to the lists as it was; refused (ArchiveError) when it is not archived."""
    if not clear_archived(session=session, journey_id=journey_id, at=utc_now()):
        journey = get_journey(session=session, journey_id=journey_id)
        raise ArchiveError(f"journey {journey.name!r} is not archived")
    audit.record(session=session, actor=actor, action="journey.restore", journey_id=journey_id)
    return get_journey(session=session, journey_id=journey_id)
