"""Journey-level actions from the editor: publish the draft; rename, duplicate, archive and restore the journey."""

from __future__ import annotations

import reflex as rx

from engine.accounts import Action
from engine.journeys import (
    ArchiveError,
    CompileFailedError,
    DraftConflictError,
    JourneyNameError,
    JourneyNotFoundError,
    archive_journey,
    duplicate_journey,
    publish_journey,
    rename_journey,
    restore_journey,
)
from engine.store import Journey, session_scope
from journey_builder import routes
from journey_builder.auth import acting, requires, viewing

from .editor_state import EditorState, SaveStatus, sentence
from .overlay_state import OverlayState

STILL_SAVING = "Your latest changes are still being saved; {what} again in a moment."


class JourneyState(rx.State):
    # The rename dialog: open or not, what it says is wrong, and a key that makes its input re-read the name.
    renaming: bool = False
    rename_error: str = ""
    rename_key: int = 0

    @rx.event
    @requires(Action.PUBLISH)
    async def publish(self) -> rx.event.EventSpec:
        editor = await self.get_state(EditorState)
        if editor.error_count:
            return rx.toast.error(f"Fix the {editor.error_count} problem(s) marked on the map before publishing.")
        if editor.save_status != SaveStatus.SAVED:
            return rx.toast.warning(STILL_SAVING.format(what="publish"))
        try:
            with session_scope() as session:
                number = publish_journey(
                    session=session, journey_id=editor.current_journey_id, published_by=acting().email
                ).number
        except CompileFailedError as error:
            return rx.toast.error(f"Publishing was refused: {error}")
        return rx.toast.success(f"Published as version {number}.")

    @rx.event
    @requires(Action.EDIT_DRAFT)
    def open_rename(self) -> None:
        self.renaming, self.rename_error, self.rename_key = True, "", self.rename_key + 1

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def rename_dialog_changed(self, is_open: bool) -> None:
        self.renaming = is_open

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def rename(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        if editor.save_status != SaveStatus.SAVED:
            self.rename_error = STILL_SAVING.format(what="rename")
            return None
        try:
            with session_scope() as session:
                journey = rename_journey(
                    session=session,
                    journey_id=editor.current_journey_id,
                    name=form.get("name", ""),
                    actor=acting().email,
                    expected_revision=editor.revision,
                )
                name, revision = journey.name, journey.revision
        except (JourneyNameError, JourneyNotFoundError) as error:
            self.rename_error = sentence(str(error))
            return None
        except DraftConflictError:
            self.rename_error = "Someone else changed this journey since you opened it; reload it, then rename it."
            return None
        renamed = name != editor.journey_name
        editor._renamed(name, revision)
        self.renaming = False
        return rx.toast.success(f"Renamed to “{name}”.") if renamed else None

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def duplicate(self) -> list[rx.event.EventSpec] | rx.event.EventSpec:
        editor = await self.get_state(EditorState)
        if editor.save_status != SaveStatus.SAVED:
            return rx.toast.warning(STILL_SAVING.format(what="duplicate"))
        try:
            with session_scope() as session:
                copy = duplicate_journey(session=session, journey_id=editor.current_journey_id, actor=acting().email)
                copy_id, name = copy.id, copy.name
        except JourneyNotFoundError as error:
            return rx.toast.error(sentence(str(error)))
        assert copy_id is not None
        return [
            rx.redirect(routes.journey_editor(copy_id)),
            rx.toast.success(f"This is the copy, “{name}”; the original is unchanged."),
        ]

    async def _archive(self, *, archived: bool) -> rx.event.EventSpec:
        editor = await self.get_state(EditorState)
        change = archive_journey if archived else restore_journey
        try:
            with session_scope() as session:
                journey: Journey = change(session=session, journey_id=editor.current_journey_id, actor=acting().email)
                editor._show_journey(journey)
        except (ArchiveError, JourneyNotFoundError) as error:
            return rx.toast.error(sentence(str(error)))
        overlay = await self.get_state(OverlayState)
        overlay._lock(archived=archived)
        if archived:
            return rx.toast.success(
                f"Archived “{editor.journey_name}”: it is off the journeys list and the dashboard, its history kept. "
                "Restore brings it back."
            )
        return rx.toast.success(f"Restored “{editor.journey_name}”.")

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def archive(self) -> rx.event.EventSpec:
        editor = await self.get_state(EditorState)
        if editor.save_status != SaveStatus.SAVED:
            return rx.toast.warning(STILL_SAVING.format(what="archive"))
        return await self._archive(archived=True)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def restore(self) -> rx.event.EventSpec:
        return await self._archive(archived=False)
