"""The personas panel: whose experience the cards show, and each persona's name, description, goals and
frustrations, created, edited and removed here."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from engine.accounts import Action
from engine.map import JourneyMap, MapEditError, add_persona, remove_persona, update_persona
from journey_builder.auth import requires, viewing

from .editor_state import EditorState, sentence
from .overlay_state import OverlayState
from .panels import section
from .view import PersonaView

# What the persona form edits; the lists are typed one item per line.
_EDITS: dict[str, Callable[[JourneyMap, str, str], JourneyMap]] = {
    "name": lambda doc, persona, value: update_persona(doc, persona, name=value),
    "description": lambda doc, persona, value: update_persona(doc, persona, description=value),
    "goals": lambda doc, persona, value: update_persona(doc, persona, goals=value.splitlines()),
    "frustrations": lambda doc, persona, value: update_persona(doc, persona, frustrations=value.splitlines()),
}


class PersonaState(rx.State):
    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    async def show(self, persona_id: str) -> None:
        """Show the cards (emotions, pain points) as ``persona_id`` experiences them."""
        editor = await self.get_state(EditorState)
        if editor._doc is not None and persona_id in {p.id for p in editor.doc.personas}:
            editor.persona = persona_id
            editor._refresh()

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def add(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        try:
            doc, persona_id = add_persona(editor.doc, form.get("new_persona", ""))
        except MapEditError as error:
            return rx.toast.error(sentence(str(error)))
        shown = editor.persona
        editor.persona = persona_id
        answer = await editor._commit(doc)
        if persona_id not in {p.id for p in editor.doc.personas}:
            # Refused (a view-only map): the persona shown stays.
            editor.persona = shown
        return answer

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def update(self, persona_id: str, field: str, value: str) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        edit = _EDITS.get(field)
        if edit is None:
            return rx.toast.error(f"A persona has no field {field!r}.")
        try:
            doc = edit(editor.doc, persona_id, value)
        except MapEditError as error:
            editor.history_version += 1
            return rx.toast.error(sentence(str(error)))
        return await editor._commit(doc)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def remove(self, persona_id: str) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        try:
            doc = remove_persona(editor.doc, persona_id)
        except MapEditError as error:
            return rx.toast.error(sentence(str(error)))
        return await editor._commit(doc)


def _active(persona: PersonaView) -> rx.Var[bool]:
    return persona.id == EditorState.persona


def _read(persona: PersonaView) -> rx.Component:
    return rx.el.div(
        rx.el.div(persona.name, class_name="jc-persona-name"),
        rx.el.p(persona.description, class_name="jc-muted"),
        rx.el.div("Goals", class_name="jc-field-label"),
        rx.el.ul(rx.foreach(persona.goals, lambda goal: rx.el.li(goal)), class_name="jc-list jc-goals"),
        rx.el.div("Frustrations", class_name="jc-field-label"),
        rx.el.ul(rx.foreach(persona.frustrations, lambda f: rx.el.li(f)), class_name="jc-list jc-frustrations"),
        class_name="jc-persona",
    )


def _field(persona: PersonaView, label: str, field: str, value: rx.Var[str], *, rows: int = 0) -> rx.Component:
    # Uncontrolled, saved when the designer leaves the field; the key makes it re-read a value changed elsewhere
    # (undo, a refused edit).
    props = {
        "default_value": value,
        "key": persona.id + "-" + field + "-" + value + "-" + EditorState.history_version.to_string(),
        "on_blur": lambda text: PersonaState.update(persona.id, field, text),
        "class_name": "jc-input",
        "name": f"persona_{field}",
        "aria_label": f"Persona {label.lower()}",
    }
    control = rx.el.textarea(rows=rows, **props) if rows else rx.el.input(**props)
    return rx.el.label(rx.el.span(label, class_name="jc-field-label"), control, class_name="jc-field")


def _remove(persona: PersonaView) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.el.button(
                "Remove persona", class_name="jc-link-button jc-danger-text", type="button", id="jc-remove-persona"
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove " + persona.name + "?"),
            rx.alert_dialog.description(
                "The emotions and pain points drawn for this persona alone go with it; what every persona shares "
                "stays. Undo brings it all back.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Remove", color_scheme="red", on_click=PersonaState.remove(persona.id))
                ),
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
        ),
    )


def _edit(persona: PersonaView) -> rx.Component:
    return rx.el.div(
        _field(persona, "Name", "name", persona.name),
        _field(persona, "Description", "description", persona.description, rows=2),
        _field(persona, "Goals (one per line)", "goals", persona.goals_text, rows=3),
        _field(persona, "Frustrations (one per line)", "frustrations", persona.frustrations_text, rows=3),
        _remove(persona),
        class_name="jc-persona jc-persona-form",
    )


def _adder() -> rx.Component:
    return rx.el.form(
        rx.el.input(
            placeholder="New persona's name", class_name="jc-input", name="new_persona", aria_label="New persona"
        ),
        rx.el.button("Add", type="submit", class_name="jc-button", id="jc-add-persona"),
        on_submit=PersonaState.add,
        reset_on_submit=True,
        class_name="jc-row jc-persona-adder",
    )


def personas_panel() -> rx.Component:
    return section(
        "Personas",
        rx.cond(
            EditorState.personas.length() > 0,
            rx.fragment(
                rx.el.div(
                    rx.foreach(
                        EditorState.personas,
                        lambda p: rx.el.button(
                            p.name.split(",")[0],
                            on_click=PersonaState.show(p.id),
                            class_name=rx.cond(_active(p), "jc-tab jc-tab-active", "jc-tab"),
                            aria_pressed=rx.cond(_active(p), "true", "false"),
                            type="button",
                        ),
                    ),
                    class_name="jc-tabs",
                ),
                rx.el.p(
                    "The cards show the emotions and pain points drawn for ",
                    EditorState.persona_name,
                    ".",
                    class_name="jc-muted",
                ),
                rx.foreach(
                    EditorState.personas,
                    lambda p: rx.cond(_active(p), rx.cond(OverlayState.read_only, _read(p), _edit(p))),
                ),
            ),
            rx.el.p("No persona yet: the cards show how every customer feels.", class_name="jc-muted"),
        ),
        rx.cond(~OverlayState.read_only, _adder()),
        id="jc-personas",
    )
