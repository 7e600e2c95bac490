"""Journey-level actions from the editor: publish the draft, start a new journey from a starter."""

from __future__ import annotations

import reflex as rx

from engine.accounts import Action
from engine.journeys import CompileFailedError, create_journey, publish_journey
from engine.map.starters import list_templates, load_template
from engine.store import session_scope
from journey_builder import routes
from journey_builder.auth import acting, requires

from .editor_state import EditorState, SaveStatus
from .overlay_state import refusal_if_view_only

STARTERS: list[tuple[str, str]] = [(name, load_template(name).name) for name in list_templates()]


class JourneyState(rx.State):
    @rx.event
    @requires(Action.PUBLISH)
    async def publish(self) -> rx.event.EventSpec:
        editor = await self.get_state(EditorState)
        if editor.error_count:
            return rx.toast.error(f"Fix the {editor.error_count} problem(s) marked on the map before publishing.")
        if editor.save_status != SaveStatus.SAVED:
            return rx.toast.warning("Your latest changes are still being saved; publish again in a moment.")
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
    async def new_from_starter(self, name: str) -> rx.event.EventSpec:
        if refusal := await refusal_if_view_only(self):
            return refusal
        with session_scope() as session:
            journey_id = create_journey(session=session, doc=load_template(name), created_by=acting().email).id
        return rx.redirect(routes.journey_editor(journey_id))
