"""The journey editor: palette and stages on the left, the canvas in the middle, the inspector on the right."""

from __future__ import annotations

import reflex as rx

from journey_builder import routes
from journey_builder.auth import SessionState
from journey_builder.canvas.canvas_state import CanvasState
from journey_builder.canvas.editor_state import EditorState
from journey_builder.canvas.flow import journey_canvas
from journey_builder.canvas.forecast_panel import forecast_panel
from journey_builder.canvas.forecast_state import ForecastState
from journey_builder.canvas.header import archived_banner, header, view_only_note
from journey_builder.canvas.inspector import inspector
from journey_builder.canvas.overlay_state import OverlayState
from journey_builder.canvas.panels import palette_panel, problems_panel, stages_panel
from journey_builder.canvas.personas import personas_panel


def _conflict_banner() -> rx.Component:
    return rx.cond(
        EditorState.save_message != "",
        rx.el.div(
            rx.el.span(EditorState.save_message),
            rx.el.button("Reload", on_click=EditorState.load_journey, class_name="jc-button"),
            class_name="jc-banner",
            role="alert",
            id="jc-save-message",
        ),
    )


def _canvas() -> rx.Component:
    return journey_canvas(
        drawing=EditorState.drawing,
        focus={"ids": EditorState.focus_ids, "nonce": EditorState.focus_nonce, "center": EditorState.focus_center},
        file_name=EditorState.journey_name,
        on_move=CanvasState.move_nodes,
        on_connect=CanvasState.connect_nodes,
        on_delete=CanvasState.delete_items,
        on_select=EditorState.select,
        on_drop_kind=CanvasState.drop_kind,
        on_copy=CanvasState.copy,
        on_paste=CanvasState.paste,
        on_undo=EditorState.undo,
        on_redo=EditorState.redo,
        on_tidy=CanvasState.tidy,
        overlay=rx.cond(ForecastState.on, ForecastState.figures, OverlayState.figures),
        read_only=OverlayState.read_only,
        on_refresh_overlay=OverlayState.refresh,
    )


def editor_page() -> rx.Component:
    return rx.el.div(
        rx.cond(
            EditorState.not_found,
            rx.el.div(
                rx.el.h1("There is no such journey."),
                rx.el.a("Back to the journeys", href=routes.journeys_list()),
                class_name="jc-not-found",
            ),
            rx.el.div(
                header(),
                archived_banner(),
                _conflict_banner(),
                rx.el.div(
                    rx.el.aside(
                        rx.cond(OverlayState.read_only, view_only_note(), rx.fragment(palette_panel(), stages_panel())),
                        personas_panel(),
                        class_name="jc-left",
                    ),
                    # Sized inline so React Flow measures a real pane even before the stylesheet arrives.
                    rx.el.main(
                        _canvas(),
                        class_name="jc-main",
                        style={"flex": "1", "min_width": "0"},
                    ),
                    rx.el.aside(
                        rx.cond(ForecastState.on, forecast_panel()),
                        inspector(),
                        # What stands between the draft and publishing is for those who fix or publish it.
                        rx.cond(SessionState.can_edit | SessionState.can_publish, problems_panel()),
                        class_name="jc-right",
                    ),
                    class_name="jc-body",
                    style={"display": "flex", "flex": "1", "min_height": "0"},
                ),
                class_name="jc-editor",
                style={"display": "flex", "flex_direction": "column", "height": "100vh"},
            ),
        ),
        class_name="jc-root",
    )
