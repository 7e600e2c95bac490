"""The editor's header and what goes with it: the journey's menu (rename, duplicate, archive or restore), the
rename dialog the journeys list shares, the archived banner and the view-only note."""

from __future__ import annotations

import reflex as rx

from journey_builder import routes
from journey_builder.auth import SessionState

from .editor_state import EditorState
from .journey_state import JourneyState
from .overlay_controls import view_only_badge
from .overlay_state import OverlayState
from .panels import save_indicator, toolbar


def rename_dialog(
    *,
    is_open: rx.Var[bool],
    name: rx.Var[str],
    key: rx.Var[int],
    error: rx.Var[str],
    on_submit: rx.EventHandler,
    on_open_change: rx.EventHandler,
) -> rx.Component:
    """A dialog asking for a journey's new name; it stays open, saying what is wrong, until the name is taken."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Rename journey"),
            rx.dialog.description("Journey names are unique, archived journeys included.", size="2"),
            rx.form(
                rx.vstack(
                    rx.input(
                        name="name",
                        default_value=name,
                        key=key.to_string(),
                        auto_focus=True,
                        max_length=200,
                        aria_label="Journey name",
                        width="100%",
                    ),
                    rx.cond(
                        error != "",
                        rx.callout(error, icon="triangle-alert", color_scheme="red", size="1", role="alert"),
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Rename", type="submit"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    margin_top="12px",
                ),
                on_submit=on_submit,
            ),
            max_width="440px",
        ),
        open=is_open,
        on_open_change=on_open_change,
    )


def archive_item(blocked: rx.Var[str], on_select: rx.EventSpec | rx.EventHandler) -> rx.Component:
    """The menu's "Archive", disabled with the reason as its tooltip (and under it) while it cannot be done."""
    return rx.fragment(
        rx.menu.item(
            rx.icon("archive", size=14),
            "Archive",
            on_select=on_select,
            disabled=blocked != "",
            color_scheme="red",
            custom_attrs={"title": blocked, "data-testid": "archive-item"},
        ),
        rx.cond(
            blocked != "",
            rx.text(blocked, size="1", color_scheme="gray", max_width="260px", padding="0 12px 6px 12px"),
        ),
    )


def _journey_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.el.button(
                rx.icon("ellipsis", size=16),
                class_name="jc-icon-button jc-journey-menu",
                aria_label="Journey actions",
                title="Rename, duplicate or archive this journey",
                id="jc-journey-menu",
            )
        ),
        rx.menu.content(
            rx.cond(
                EditorState.archived,
                rx.fragment(
                    rx.menu.item(rx.icon("archive-restore", size=14), "Restore", on_select=JourneyState.restore),
                    rx.menu.item(rx.icon("copy", size=14), "Duplicate", on_select=JourneyState.duplicate),
                ),
                rx.fragment(
                    rx.menu.item(rx.icon("pencil", size=14), "Rename…", on_select=JourneyState.open_rename),
                    rx.menu.item(rx.icon("copy", size=14), "Duplicate", on_select=JourneyState.duplicate),
                    rx.menu.separator(),
                    archive_item(EditorState.archive_blocked, JourneyState.archive),
                ),
            ),
        ),
    )


def _actions() -> rx.Component:
    """What a role may do from the map: the publish state and Publish for those who edit or publish, launch
    control for those who run journeys; an executive, whose map is its figures, gets none of it."""
    return rx.fragment(
        rx.cond(
            (SessionState.can_edit | SessionState.can_publish) & ~OverlayState.kpi_view,
            rx.el.span(
                rx.cond(
                    EditorState.error_count > 0,
                    EditorState.error_count.to_string() + " to fix before publishing",
                    "Ready to publish",
                ),
                class_name=rx.cond(EditorState.error_count > 0, "jc-status jc-status-bad", "jc-status jc-status-ok"),
                id="jc-publish-state",
            ),
        ),
        rx.cond(
            SessionState.can_publish & ~OverlayState.kpi_view & ~EditorState.archived,
            rx.el.button("Publish", on_click=JourneyState.publish, class_name="jc-button jc-primary", id="jc-publish"),
        ),
        rx.cond(
            SessionState.can_edit & ~OverlayState.kpi_view,
            rx.el.a(
                rx.icon("plus", size=14),
                "New",
                href=routes.new_journey(),
                class_name="jc-button",
                id="jc-new-journey",
                title="Start a new journey",
                aria_label="New journey",
            ),
        ),
        rx.cond(
            SessionState.can_run_journeys,
            rx.el.a(
                "Launch control",
                href=routes.journey_launch(EditorState.current_journey_id),
                class_name="jc-button",
                id="jc-launch-control",
            ),
        ),
    )


def _state_badge() -> rx.Component:
    return rx.cond(
        EditorState.archived,
        rx.el.span("Archived", class_name="jc-view-only", title=EditorState.archived_note, id="jc-archived"),
        rx.cond(OverlayState.read_only, view_only_badge(), save_indicator()),
    )


def header() -> rx.Component:
    return rx.el.header(
        rx.el.a("← Journeys", href=routes.journeys_list(), class_name="jc-back"),
        rx.el.h1(EditorState.journey_name, class_name="jc-title", title=EditorState.journey_name, id="jc-title"),
        rx.cond(SessionState.can_edit & ~OverlayState.kpi_view, _journey_menu()),
        _state_badge(),
        toolbar(),
        _actions(),
        rename_dialog(
            is_open=JourneyState.renaming,
            name=EditorState.journey_name,
            key=JourneyState.rename_key,
            error=JourneyState.rename_error,
            on_submit=JourneyState.rename,
            on_open_change=JourneyState.rename_dialog_changed,
        ),
        class_name="jc-header",
    )


def archived_banner() -> rx.Component:
    return rx.cond(
        EditorState.archived,
        rx.el.div(
            rx.el.span(
                EditorState.archived_note,
                ". It is off the journeys list and the dashboard; its versions, runs and audit trail are kept. "
                "Restore it to change the map.",
            ),
            rx.cond(
                SessionState.can_edit,
                rx.el.button("Restore", on_click=JourneyState.restore, class_name="jc-button", id="jc-restore"),
            ),
            class_name="jc-banner jc-banner-info",
            role="status",
            id="jc-archived-banner",
        ),
    )


def view_only_note() -> rx.Component:
    return rx.el.section(
        rx.el.h3(rx.cond(EditorState.archived, "Archived", "View only"), class_name="jc-section-title"),
        rx.cond(
            EditorState.archived,
            rx.el.p("An archived journey's map is kept as it is; restore it to change it.", class_name="jc-muted"),
            rx.cond(
                SessionState.can_edit,
                rx.el.a(
                    "Edit this map", href=routes.journey_editor(EditorState.current_journey_id), class_name="jc-link"
                ),
                rx.el.p("Your role can look at this map and its figures; designers change it.", class_name="jc-muted"),
            ),
        ),
        class_name="jc-section",
        id="jc-view-only-note",
    )
