"""The journeys list's state: the cards by status (archived ones apart), and what designers do from the list:
start a journey (blank or from a starter, named up front), rename, duplicate, archive and restore one."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime

import reflex as rx

from engine.accounts import Action, allowed
from engine.journeys import (
    ArchiveError,
    DraftConflictError,
    JourneyNameError,
    JourneyNotFoundError,
    JourneySummary,
    archive_blocker,
    archive_journey,
    create_blank_journey,
    create_from_starter,
    duplicate_journey,
    list_journeys,
    rename_journey,
    restore_journey,
    suggest_name,
)
from engine.map.starters import list_templates, load_template
from engine.store import Journey, JourneyStatus, session_scope, utc_now
from journey_builder import routes
from journey_builder.auth import acting, requires, viewing
from journey_builder.canvas.editor_state import sentence
from journey_builder.state import ago


@dataclasses.dataclass(frozen=True)
class JourneyCard:
    id: int
    name: str
    description: str
    status: str
    stages: int
    touchpoints: int
    version: str
    # "Updated 5 min ago", or for an archived journey when and by whom it was archived.
    updated: str
    href: str
    # Launch control of the journey, where marketers publish, test, launch and stop it.
    launch_href: str = ""
    archived: bool = False
    # Why it cannot be archived now ("" when it can).
    archive_blocked: str = ""


ALL = "all"
ARCHIVED = "archived"
BLANK = "blank"
NEW, RENAME = "new", "rename"


@dataclasses.dataclass(frozen=True)
class StatusTab:
    value: str
    label: str


@dataclasses.dataclass(frozen=True)
class StartChoice:
    value: str
    title: str
    blurb: str


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


STARTS: list[StartChoice] = [StartChoice(BLANK, "Blank journey", "One stage and a trigger card; draw the rest.")] + [
    StartChoice(name, doc.name, _first_sentence(doc.description))
    for name, doc in ((name, load_template(name)) for name in list_templates())
]
_TITLES = {choice.value: choice.title for choice in STARTS}


def _card(s: JourneySummary, now: datetime) -> JourneyCard:
    blocker = archive_blocker(s.status)
    if s.archived_at is not None:
        updated = f"Archived {ago(s.archived_at, now)} by {s.archived_by}"
    else:
        updated = f"Updated {ago(s.updated_at, now)}"
    return JourneyCard(
        id=s.id,
        name=s.name,
        description=s.description,
        status=s.status.value,
        stages=s.stage_count,
        touchpoints=s.touchpoint_count,
        version=f"v{s.latest_version}" if s.latest_version else "Not published",
        updated=updated,
        href=routes.journey_editor(s.id),
        launch_href=routes.journey_launch(s.id),
        archived=s.archived_at is not None,
        archive_blocked=sentence(blocker) if blocker else "",
    )


class JourneysState(rx.State):
    journeys: list[JourneyCard] = rx.field(default_factory=list)
    tabs: list[StatusTab] = rx.field(default_factory=list)
    status_filter: str = ALL
    loaded: bool = False
    # The dialog open ("new", "rename" or ""), what it says is wrong, and a key that makes its inputs re-read.
    dialog: str = ""
    dialog_error: str = ""
    dialog_key: int = 0
    # The new journey's start (BLANK or a starter) and the name its dialog shows; the journey being renamed.
    start: str = BLANK
    name: str = ""
    renaming_id: int = 0
    _suggested: str = ""
    _all: list[JourneyCard] = rx.field(default_factory=list)

    def _read(self) -> None:
        with session_scope() as session:
            summaries = list_journeys(session=session, archived=None)
        now = utc_now()
        self._all = [_card(s, now) for s in summaries]
        self.loaded = True
        self._show()

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> None:
        # Each visit opens at All: the tab lives in the browser's state, so one kept from an earlier visit would
        # show Archived to someone coming back after restoring a journey from its map, without that journey.
        self.status_filter = ALL
        self._read()
        self.dialog = ""
        if self.router.url.query_parameters.get(routes.NEW_PARAM) and allowed(acting().role, Action.EDIT_DRAFT):
            self._open_new()

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def set_status_filter(self, value: str | list[str]) -> None:
        # The segmented control's event is typed for its multiple-choice mode too; this one is single-choice.
        self.status_filter = value if isinstance(value, str) else ALL
        self._show()

    def _show(self) -> None:
        active = [card for card in self._all if not card.archived]
        archived = [card for card in self._all if card.archived]
        counts = Counter(card.status for card in active)
        self.tabs = [StatusTab(value=ALL, label=f"All {len(active)}")] + [
            StatusTab(value=status.value, label=f"{status.value.capitalize()} {counts[status.value]}")
            for status in JourneyStatus
            if counts[status.value]
        ]
        if archived:
            self.tabs.append(StatusTab(value=ARCHIVED, label=f"Archived {len(archived)}"))
        if self.status_filter not in {tab.value for tab in self.tabs}:
            self.status_filter = ALL
        if self.status_filter == ARCHIVED:
            self.journeys = archived
        else:
            self.journeys = [card for card in active if self.status_filter in (ALL, card.status)]

    # --- the dialogs ---------------------------------------------------------------------------------------

    def _open(self, dialog: str, name: str) -> None:
        self.dialog, self.dialog_error, self.name, self.dialog_key = dialog, "", name, self.dialog_key + 1

    def _open_new(self) -> None:
        self.start, self._suggested = BLANK, ""
        self._open(NEW, "")

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def open_new(self) -> None:
        self._open_new()

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def dialog_changed(self, is_open: bool) -> None:
        if not is_open:
            self.dialog = ""

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def keep_name(self, name: str) -> None:
        """What the designer typed as the new journey's name (sent on leaving the box), so choosing a starter
        afterwards does not replace it."""
        self.name = name

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def choose_start(self, start: str) -> None:
        """Start from ``start``; a name left empty, or the one suggested for the previous choice, becomes the
        starter's name (numbered when a journey has it already)."""
        if start not in _TITLES:
            return
        self.start = start
        if self.name.strip() in {"", self._suggested}:
            self._suggested = "" if start == BLANK else _suggestion(_TITLES[start])
            self.name = self._suggested
            self.dialog_key += 1

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def create(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        name = form.get("name", "")
        try:
            with session_scope() as session:
                if self.start == BLANK:
                    journey = create_blank_journey(session=session, name=name, actor=acting().email)
                else:
                    journey = create_from_starter(session=session, starter=self.start, name=name, actor=acting().email)
                journey_id = journey.id
        except JourneyNameError as error:
            self.name, self.dialog_error = name, sentence(str(error))
            return None
        assert journey_id is not None
        self.dialog = ""
        return rx.redirect(routes.journey_editor(journey_id))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def open_rename(self, journey_id: int) -> None:
        card = next((c for c in self._all if c.id == journey_id), None)
        if card is not None:
            self.renaming_id = journey_id
            self._open(RENAME, card.name)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def rename(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        try:
            with session_scope() as session:
                name = rename_journey(
                    session=session, journey_id=self.renaming_id, name=form.get("name", ""), actor=acting().email
                ).name
        except (JourneyNameError, JourneyNotFoundError, DraftConflictError) as error:
            self.dialog_error = sentence(str(error))
            return None
        self.dialog = ""
        self._read()
        return rx.toast.success(f"Renamed to “{name}”.")

    # --- duplicate, archive, restore -----------------------------------------------------------------------

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def duplicate(self, journey_id: int) -> rx.event.EventSpec:
        try:
            with session_scope() as session:
                name = duplicate_journey(session=session, journey_id=journey_id, actor=acting().email).name
        except JourneyNotFoundError as error:
            self._read()
            return rx.toast.error(sentence(str(error)))
        self.status_filter = ALL
        self._read()
        return rx.toast.success(f"Duplicated as “{name}”: a draft with the same map.")

    def _archive(self, journey_id: int, *, archived: bool) -> rx.event.EventSpec:
        change = archive_journey if archived else restore_journey
        try:
            with session_scope() as session:
                journey: Journey = change(session=session, journey_id=journey_id, actor=acting().email)
                name = journey.name
        except (ArchiveError, JourneyNotFoundError) as error:
            self._read()
            return rx.toast.error(sentence(str(error)))
        self._read()
        if archived:
            return rx.toast.success(f"Archived “{name}”; it is under Archived, where it can be restored.")
        return rx.toast.success(f"Restored “{name}”.")

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def archive(self, journey_id: int) -> rx.event.EventSpec:
        return self._archive(journey_id, archived=True)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def restore(self, journey_id: int) -> rx.event.EventSpec:
        return self._archive(journey_id, archived=False)


def _suggestion(title: str) -> str:
    """A name no journey has yet for a journey from the starter called ``title``."""
    with session_scope() as session:
        return suggest_name(session=session, wanted=title)
