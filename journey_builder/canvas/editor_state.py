"""The open journey: its document, undo history, autosave and what the canvas renders of it."""

from __future__ import annotations

import asyncio
from enum import StrEnum

import reflex as rx

from engine.accounts import Action
from engine.compiler import Problem
from engine.journeys import (
    DraftConflictError,
    JourneyNotFoundError,
    archive_blocker,
    get_journey,
    save_draft,
)
from engine.map import JourneyMap
from engine.store import Journey, session_scope, utc_now
from journey_builder import routes
from journey_builder.auth import requires, viewing
from journey_builder.state import ago

from . import view
from .drawing import DRAFTS
from .forms import NodeForm, node_form
from .overlay_state import refusal_if_view_only

AUTOSAVE_DELAY_SECONDS = 0.8
HISTORY_LIMIT = 200


class SaveStatus(StrEnum):
    SAVED = "saved"
    UNSAVED = "unsaved"
    SAVING = "saving"
    CONFLICT = "conflict"
    FAILED = "failed"


def _load(journey_id: int) -> tuple[Journey, str, JourneyMap, tuple[Problem, ...]]:
    """The journey and its draft: content key, document and problems (parsed and compiled once per content)."""
    with session_scope() as session:
        journey = get_journey(session=session, journey_id=journey_id)
        return journey, *DRAFTS.opened(journey.draft_map)


def sentence(message: str) -> str:
    """An engine message (a lower-case clause) as a sentence to show."""
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _save(journey_id: int, doc: JourneyMap, revision: int) -> int:
    with session_scope() as session:
        return save_draft(session=session, journey_id=journey_id, doc=doc, expected_revision=revision).revision


class EditorState(rx.State):
    current_journey_id: int = 0
    journey_name: str = ""
    revision: int = 0
    save_status: SaveStatus = SaveStatus.SAVED
    save_message: str = ""
    not_found: bool = False
    # Cards, edges and lanes as one JSON text (see drawing.py); ``lanes`` again for the stages panel.
    drawing: str = ""
    lanes: list[view.LaneView] = rx.field(default_factory=list)
    problems: list[view.ProblemView] = rx.field(default_factory=list)
    error_count: int = 0
    problem_count: int = 0
    personas: list[view.PersonaView] = rx.field(default_factory=list)
    # The persona whose emotions and pain points the cards and the inspector show ("": the map has none).
    persona: str = ""
    persona_name: str = ""
    # Archived journeys open view-only; ``archive_blocked`` says why this one cannot be archived now.
    archived: bool = False
    archived_note: str = ""
    archive_blocked: str = ""
    placeholders: list[str] = rx.field(default_factory=list)
    selected: list[str] = rx.field(default_factory=list)
    form: NodeForm = rx.field(default_factory=NodeForm)
    # Bumped when the document is replaced wholesale (undo, redo, import, reload), so uncontrolled
    # inspector inputs re-read their values; ordinary edits keep focus where the designer is typing.
    history_version: int = 0
    can_undo: bool = False
    can_redo: bool = False
    focus_ids: list[str] = rx.field(default_factory=list)
    focus_nonce: int = 0
    focus_center: bool = False

    _doc: JourneyMap | None = None
    _problems: tuple[Problem, ...] = ()
    _undo: list[JourneyMap] = rx.field(default_factory=list)
    _redo: list[JourneyMap] = rx.field(default_factory=list)
    _edit_seq: int = 0
    _saving: bool = False

    @property
    def doc(self) -> JourneyMap:
        doc = self._doc
        if doc is None:
            raise RuntimeError("no journey is open")
        # Inside an event Reflex hands out state values wrapped in a proxy that watches for mutation, and wraps
        # again every node and field read through it: reading a 1,000-card map that way cost more than the rest of
        # opening it. The document is frozen (an edit replaces it), so the bare object is safe to read.
        bare: JourneyMap = getattr(doc, "__wrapped__", doc)
        return bare

    def _refresh(self, opened: tuple[str, tuple[Problem, ...]] | None = None) -> None:
        """Redraw from the document; ``opened`` is the key and problems of a draft just read from storage."""
        doc = self.doc
        if self.persona not in {p.id for p in doc.personas}:
            self.persona = doc.personas[0].id if doc.personas else ""
        self.persona_name = next((p.name for p in doc.personas if p.id == self.persona), "")
        key, self._problems = opened if opened is not None else DRAFTS.edited(doc)
        self.drawing, self.lanes = DRAFTS.drawing(key, doc, self.persona)
        self.problems = view.problem_list(doc, self._problems)
        self.error_count = sum(problem.severity == "error" for problem in self._problems)
        self.problem_count = len(self._problems)
        self.personas = view.personas(doc)
        self.placeholders = view.placeholders(doc)
        self.can_undo, self.can_redo = bool(self._undo), bool(self._redo)
        self._refresh_form()

    def _refresh_form(self) -> None:
        node = self.doc.node(self.selected[0]) if len(self.selected) == 1 else None
        self.form = node_form(node, self.doc, self.persona or None) if node is not None else NodeForm()

    async def _commit(self, doc: JourneyMap, *, select: list[str] | None = None) -> rx.event.EventSpec | None:
        """Make ``doc`` the current document, remember the previous one for undo, and schedule a save.

        ``select`` selects those ids on the canvas too (what a drop or a paste added). On a map
        open view-only nothing changes.
        """
        if refusal := await refusal_if_view_only(self):
            return refusal
        if doc == self.doc:
            return None
        self._undo = [*self._undo[-HISTORY_LIMIT:], self.doc]
        self._redo = []
        save = self._replace(doc)
        if select is not None:
            self._show_selected(select)
        return save

    def _replace(self, doc: JourneyMap) -> rx.event.EventSpec | None:
        self._doc = doc
        known = {node.id for node in doc.nodes} | {edge.id for edge in doc.edges}
        self.selected = [item for item in self.selected if item in known]
        self._refresh()
        if self.save_status == SaveStatus.CONFLICT:
            return None
        self._edit_seq += 1
        self.save_status = SaveStatus.UNSAVED
        return EditorState.autosave(self._edit_seq)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load_journey(self) -> None:
        self.current_journey_id = routes.journey_id_in(self.router.url.path)
        try:
            journey, key, doc, problems = _load(self.current_journey_id)
        except JourneyNotFoundError:
            self.not_found, self._doc = True, None
            return
        self.not_found = False
        self.journey_name, self.revision = journey.name, journey.revision
        self._show_journey(journey)
        self._doc, self._undo, self._redo, self.selected = doc, [], [], []
        self.save_status, self.save_message = SaveStatus.SAVED, ""
        self.history_version += 1
        self._refresh(opened=(key, problems))

    def _show_journey(self, journey: Journey) -> None:
        """What the header says of the stored journey: archived since when and by whom, or why not archivable."""
        self.archived = journey.archived_at is not None
        self.archived_note = (
            f"Archived {ago(journey.archived_at, utc_now())} by {journey.archived_by or 'someone'}"
            if journey.archived_at is not None
            else ""
        )
        blocker = archive_blocker(journey.status)
        self.archive_blocked = sentence(blocker) if blocker else ""

    def _renamed(self, name: str, revision: int) -> None:
        """The journey was renamed (and its draft saved) as ``revision``: every document kept here takes the
        name, so neither an autosave nor an undo writes the old one back."""
        self.journey_name, self.revision = name, revision
        self._doc = self.doc.model_copy(update={"name": name})
        self._undo = [doc.model_copy(update={"name": name}) for doc in self._undo]
        self._redo = [doc.model_copy(update={"name": name}) for doc in self._redo]

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def undo(self) -> rx.event.EventSpec | None:
        if refusal := await refusal_if_view_only(self):
            return refusal
        if not self._undo:
            return None
        self._redo = [*self._redo, self.doc]
        previous, self._undo = self._undo[-1], self._undo[:-1]
        self.history_version += 1
        return self._replace(previous)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def redo(self) -> rx.event.EventSpec | None:
        if refusal := await refusal_if_view_only(self):
            return refusal
        if not self._redo:
            return None
        self._undo = [*self._undo, self.doc]
        following, self._redo = self._redo[-1], self._redo[:-1]
        self.history_version += 1
        return self._replace(following)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def select(self, ids: list[str]) -> None:
        self.selected = ids
        self._refresh_form()

    def _show_selected(self, ids: list[str], *, center: bool = False) -> None:
        """Select ``ids`` on the canvas too (after a drop or paste, or from the problem list)."""
        self.selected = ids
        self.focus_ids, self.focus_nonce, self.focus_center = ids, self.focus_nonce + 1, center
        self._refresh_form()

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def focus_node(self, node_id: str) -> None:
        """Select a node from outside the canvas (the problem list) and bring it into view."""
        if node_id and self._doc is not None and self.doc.node(node_id) is not None:
            self._show_selected([node_id], center=True)

    @rx.event(background=True)
    @requires(Action.EDIT_DRAFT)
    async def autosave(self, seq: int) -> None:
        while True:
            await asyncio.sleep(AUTOSAVE_DELAY_SECONDS)
            async with self:
                if seq != self._edit_seq or self.save_status == SaveStatus.CONFLICT:
                    return
                if self._saving:
                    continue
                self._saving, self.save_status = True, SaveStatus.SAVING
                journey_id, doc, revision = self.current_journey_id, self.doc, self.revision
            break
        status, message, new_revision = SaveStatus.SAVED, "", revision
        try:
            new_revision = await asyncio.to_thread(_save, journey_id, doc, revision)
        except DraftConflictError:
            status = SaveStatus.CONFLICT
            message = (
                "This journey was changed in another tab or by someone else, so your latest changes were not saved. "
                "Reload to see the newer version."
            )
        except Exception as error:  # any storage failure must reach the designer, not vanish
            status, message = SaveStatus.FAILED, f"Saving failed: {error}"
        async with self:
            self._saving, self.revision = False, new_revision
            if status == SaveStatus.SAVED and seq != self._edit_seq:
                status = SaveStatus.UNSAVED
            self.save_status, self.save_message = status, message
