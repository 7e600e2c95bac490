"""The editor's side panels: palette, stages, problems, and the toolbar (personas have their own module)."""

from __future__ import annotations

import reflex as rx

from .canvas_state import CanvasState
from .editor_state import EditorState, SaveStatus
from .flow import journey_palette
from .overlay_controls import kpi_controls
from .overlay_state import OverlayState
from .view import PALETTE, LaneView, ProblemView

IMPORT_UPLOAD_ID = "journey-import"


def section(title: str, *children: rx.Component, **props: object) -> rx.Component:
    return rx.el.section(rx.el.h3(title, class_name="jc-section-title"), *children, class_name="jc-section", **props)


def palette_panel() -> rx.Component:
    return section(
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
    return section(
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
    return section(
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
            rx.icon("undo-2", size=14),
            on_click=EditorState.undo,
            disabled=~EditorState.can_undo,
            class_name="jc-button",
            title="Undo (Ctrl+Z)",
            aria_label="Undo",
        ),
        rx.el.button(
            rx.icon("redo-2", size=14),
            on_click=EditorState.redo,
            disabled=~EditorState.can_redo,
            class_name="jc-button",
            title="Redo (Shift+Ctrl+Z)",
            aria_label="Redo",
        ),
        rx.el.span(class_name="jc-divider"),
        rx.upload.root(
            rx.el.button(
                rx.icon("upload", size=14),
                class_name="jc-button",
                type="button",
                title="Import JSON: replace the map with one from a file (Undo brings the old one back)",
                aria_label="Import JSON",
            ),
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
    return rx.el.button(
        rx.icon("download", size=14),
        on_click=CanvasState.export_json,
        class_name="jc-button",
        id="jc-export-json",
        title="Export JSON: download the map as a file",
        aria_label="Export JSON",
    )
