"""The editor's side panels: palette, stages, personas, problems, and the toolbar."""

from __future__ import annotations

import reflex as rx

from engine.accounts import Action
from journey_builder.auth import viewing

from .canvas_state import CanvasState
from .editor_state import EditorState, SaveStatus
from .flow import journey_palette
from .overlay_controls import kpi_controls
from .overlay_state import OverlayState
from .view import PALETTE, LaneView, PersonaView, ProblemView

IMPORT_UPLOAD_ID = "journey-import"


class PersonaState(rx.State):
    """Which of the map's personas the designer is looking at."""

    active: str = ""

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def show(self, persona_id: str) -> None:
        self.active = persona_id


def _section(title: str, *children: rx.Component, **props: object) -> rx.Component:
    return rx.el.section(rx.el.h3(title, class_name="jc-section-title"), *children, class_name="jc-section", **props)


def palette_panel() -> rx.Component:
    return _section(
        "Add to the map", journey_palette(items=PALETTE), rx.el.p("Drag onto a lane.", class_name="jc-muted")
    )


def _stage_row(lane: LaneView, index: rx.Var[int]) -> rx.Component:
    return rx.el.div(
        rx.el.input(
            default_value=lane.name,
            key=lane.id + "-" + lane.name,
            on_blur=lambda name: CanvasState.rename_stage(lane.id, name),
            class_name="jc-input jc-stage-name",
            aria_label="Stage name",
        ),
        rx.el.button(
            "←",
            on_click=CanvasState.move_stage(lane.id, index - 1),
            disabled=index == 0,
            class_name="jc-icon-button",
            title="Move left",
        ),
        rx.el.button(
            rx.icon("arrow-right", size=14),
            on_click=CanvasState.move_stage(lane.id, index + 1),
            disabled=index == EditorState.lanes.length() - 1,
            class_name="jc-icon-button",
            title="Move right",
        ),
        rx.el.button(
            rx.icon("x", size=14),
            on_click=CanvasState.delete_stage(lane.id),
            class_name="jc-icon-button jc-danger",
            title="Delete stage and its cards",
        ),
        class_name="jc-stage-row",
        data_stage=lane.id,
    )


def stages_panel() -> rx.Component:
    return _section(
        "Stages",
        rx.foreach(EditorState.lanes, _stage_row),
        rx.el.form(
            rx.el.input(placeholder="New stage name", class_name="jc-input", name="new_stage"),
            rx.el.button("Add", type="submit", class_name="jc-button", id="jc-add-stage"),
            on_submit=CanvasState.add_stage,
            reset_on_submit=True,
            class_name="jc-row",
        ),
    )


def _persona_card(persona: PersonaView) -> rx.Component:
    return rx.cond(
        (persona.id == PersonaState.active)
        | ((PersonaState.active == "") & (persona.id == EditorState.personas[0].id)),
        rx.el.div(
            rx.el.div(persona.name, class_name="jc-persona-name"),
            rx.el.p(persona.description, class_name="jc-muted"),
            rx.el.div("Goals", class_name="jc-field-label"),
            rx.el.ul(rx.foreach(persona.goals, lambda goal: rx.el.li(goal)), class_name="jc-list jc-goals"),
            rx.el.div("Frustrations", class_name="jc-field-label"),
            rx.el.ul(rx.foreach(persona.frustrations, lambda f: rx.el.li(f)), class_name="jc-list jc-frustrations"),
            class_name="jc-persona",
        ),
    )


def personas_panel() -> rx.Component:
    return _section(
        "Drawn for",
        rx.cond(
            EditorState.personas.length() > 1,
            rx.el.div(
                rx.foreach(
                    EditorState.personas,
                    lambda p: rx.el.button(
                        p.name.split(",")[0],
                        on_click=PersonaState.show(p.id),
                        class_name=rx.cond(
                            (p.id == PersonaState.active)
                            | ((PersonaState.active == "") & (p.id == EditorState.personas[0].id)),
                            "jc-tab jc-tab-active",
                            "jc-tab",
                        ),
                    ),
                ),
                class_name="jc-tabs",
            ),
        ),
        rx.cond(
            EditorState.personas.length() > 0,
            rx.foreach(EditorState.personas, _persona_card),
            rx.el.p("No persona yet.", class_name="jc-muted"),
        ),
        id="jc-personas",
    )


def _problem(problem: ProblemView) -> rx.Component:
    return rx.el.button(
        rx.el.span(problem.severity, class_name="jc-severity-tag", data_severity=problem.severity),
        rx.el.span(
            rx.el.span(problem.target, class_name="jc-problem-target"),
            rx.el.span(problem.message, class_name="jc-problem-message"),
            class_name="jc-problem-text",
        ),
        on_click=EditorState.focus_node(problem.node_id),
        class_name="jc-problem-row",
        data_node=problem.node_id,
    )


def problems_panel() -> rx.Component:
    return _section(
        "Problems",
        rx.cond(
            EditorState.error_count > 0,
            rx.el.p(
                EditorState.error_count.to_string() + rx.cond(EditorState.error_count == 1, " error", " errors"),
                class_name="jc-error-count",
            ),
        ),
        rx.cond(
            EditorState.problems.length() > 0,
            rx.el.div(
                rx.foreach(EditorState.problems, _problem),
                rx.cond(
                    EditorState.problem_count > EditorState.problems.length(),
                    rx.el.p(
                        "Showing the first ",
                        EditorState.problems.length(),
                        " of ",
                        EditorState.problem_count,
                        ".",
                        class_name="jc-muted",
                    ),
                ),
                class_name="jc-problems",
            ),
            rx.el.p("No problems: this journey can be published.", class_name="jc-ok"),
        ),
        id="problems",
    )


def save_indicator() -> rx.Component:
    return rx.el.span(
        rx.match(
            EditorState.save_status,
            (SaveStatus.SAVED, "All changes saved"),
            (SaveStatus.SAVING, "Saving…"),
            (SaveStatus.UNSAVED, "Unsaved changes"),
            (SaveStatus.CONFLICT, "Not saved: conflict"),
            "Not saved",
        ),
        class_name="jc-save",
        data_status=EditorState.save_status,
        id="jc-save-status",
    )


def _edit_tools() -> rx.Component:
    return rx.fragment(
        rx.el.span(class_name="jc-divider"),
        rx.el.button(
            "Undo",
            on_click=EditorState.undo,
            disabled=~EditorState.can_undo,
            class_name="jc-button",
            title="Undo (Ctrl+Z)",
        ),
        rx.el.button(
            "Redo",
            on_click=EditorState.redo,
            disabled=~EditorState.can_redo,
            class_name="jc-button",
            title="Redo (Shift+Ctrl+Z)",
        ),
        rx.el.span(class_name="jc-divider"),
        rx.upload.root(
            rx.el.button("Import JSON", class_name="jc-button", type="button"),
            id=IMPORT_UPLOAD_ID,
            accept={"application/json": [".json"]},
            multiple=False,
            no_drag=True,
            on_drop=CanvasState.import_json(rx.upload_files(upload_id=IMPORT_UPLOAD_ID)),
        ),
    )


def toolbar() -> rx.Component:
    """KPIs first; on a map open view-only, nothing that edits it."""
    return rx.el.div(
        kpi_controls(),
        rx.cond(OverlayState.read_only, rx.el.span(class_name="jc-divider"), _edit_tools()),
        export_button(),
        class_name="jc-toolbar",
    )


def export_button() -> rx.Component:
    return rx.el.button("Export JSON", on_click=CanvasState.export_json, class_name="jc-button", id="jc-export-json")
