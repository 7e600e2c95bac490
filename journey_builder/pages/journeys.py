"""The journeys list: every journey as a card, most recently changed first; a card opens its map.

Designers start a new journey here (blank or from a starter, named up front), and rename, duplicate, archive
and restore journeys; archived ones have a view of their own.
"""

from __future__ import annotations

import reflex as rx

from journey_builder.auth import SessionState
from journey_builder.canvas.header import archive_item, rename_dialog
from journey_builder.components.layout import app_shell, page_header
from journey_builder.components.status_badge import status_badge

from .journeys_state import NEW, RENAME, STARTS, JourneyCard, JourneysState, StartChoice


def _fact(icon: str, text: rx.Var[str] | str) -> rx.Component:
    return rx.hstack(rx.icon(icon, size=14), rx.text(text, size="2"), align="center", spacing="1", class_name="jb-fact")


def _count(number: rx.Var[int], noun: str) -> rx.Var[str]:
    return number.to_string() + rx.cond(number == 1, f" {noun}", f" {noun}s")


def _card_menu(journey: rx.Var[JourneyCard]) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                size="2",
                aria_label="Actions for " + journey.name,
                data_testid="journey-menu",
            )
        ),
        rx.menu.content(
            rx.menu.item(rx.icon("pencil", size=14), "Rename…", on_select=JourneysState.open_rename(journey.id)),
            rx.menu.item(rx.icon("copy", size=14), "Duplicate", on_select=JourneysState.duplicate(journey.id)),
            rx.menu.separator(),
            archive_item(journey.archive_blocked, JourneysState.archive(journey.id)),
        ),
    )


def _launch_link(journey: rx.Var[JourneyCard]) -> rx.Component:
    return rx.link(
        rx.button(rx.icon("rocket", size=14), "Launch control", size="1", variant="soft", tab_index=-1),
        href=journey.launch_href,
        aria_label="Launch control of " + journey.name,
        data_testid="launch-control-link",
    )


def _card_action(journey: rx.Var[JourneyCard]) -> rx.Component:
    """Over the card's top right corner, outside its link: launch control for those who launch, and the menu
    (or Restore on an archived journey) for those who edit."""
    return rx.hstack(
        rx.cond(SessionState.can_launch & ~journey.archived, _launch_link(journey)),
        rx.cond(
            SessionState.can_edit,
            rx.cond(
                journey.archived,
                rx.button(
                    rx.icon("archive-restore", size=14),
                    "Restore",
                    size="1",
                    variant="soft",
                    on_click=JourneysState.restore(journey.id),
                    data_testid="restore-journey",
                ),
                _card_menu(journey),
            ),
        ),
        spacing="2",
        align="center",
        position="absolute",
        top="18px",
        right="18px",
    )


def _corner_room(journey: rx.Var[JourneyCard]) -> rx.Var[str]:
    """Room in the card's header for what ``_card_action`` lays over its corner."""
    launch = SessionState.can_launch & ~journey.archived
    return rx.cond(
        SessionState.can_edit,
        rx.cond(journey.archived, "92px", rx.cond(launch, "170px", "40px")),
        rx.cond(launch, "136px", "0"),
    )


def journey_card(journey: rx.Var[JourneyCard]) -> rx.Component:
    return rx.box(
        rx.link(
            rx.card(
                rx.vstack(
                    rx.hstack(
                        rx.center(
                            rx.icon(rx.cond(journey.archived, "archive", "route"), size=18), class_name="jb-card-icon"
                        ),
                        rx.spacer(),
                        status_badge(journey.status),
                        width="100%",
                        align="center",
                        # Room for launch control, the menu or Restore laid over this corner.
                        padding_right=_corner_room(journey),
                    ),
                    rx.heading(journey.name, size="4", weight="bold", class_name="jb-card-title"),
                    rx.text(journey.description, size="2", color_scheme="gray", class_name="jb-card-description"),
                    rx.spacer(),
                    rx.hstack(
                        _fact("columns-3", _count(journey.stages, "stage")),
                        _fact("square-stack", _count(journey.touchpoints, "touchpoint")),
                        _fact("git-commit-horizontal", journey.version),
                        spacing="4",
                        wrap="wrap",
                        class_name="jb-card-facts",
                    ),
                    rx.separator(size="4"),
                    rx.hstack(
                        rx.text(journey.updated, size="1", color_scheme="gray"),
                        rx.spacer(),
                        rx.hstack(
                            rx.text("Open map", size="2", weight="medium"),
                            rx.icon("arrow-right", size=14),
                            align="center",
                            spacing="1",
                            class_name="jb-card-open",
                        ),
                        width="100%",
                        align="center",
                    ),
                    spacing="3",
                    height="100%",
                ),
                size="3",
                class_name="jb-journey-card",
            ),
            href=journey.href,
            underline="none",
            class_name="jb-card-link",
        ),
        _card_action(journey),
        position="relative",
        data_testid="journey-card",
        data_archived=rx.cond(journey.archived, "true", "false"),
    )


def _start_choice(choice: StartChoice) -> rx.Component:
    return rx.radio_cards.item(
        rx.vstack(
            rx.text(choice.title, weight="bold", size="2"),
            rx.text(choice.blurb, size="1", color_scheme="gray"),
            spacing="1",
            align="start",
            width="100%",
        ),
        value=choice.value,
    )


def _new_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New journey"),
            rx.dialog.description("Start from a blank map or a starter, and give the journey its name.", size="2"),
            rx.form(
                rx.vstack(
                    rx.text("Start from", size="2", weight="medium"),
                    rx.radio_cards.root(
                        *[_start_choice(choice) for choice in STARTS],
                        value=JourneysState.start,
                        on_value_change=JourneysState.choose_start,
                        columns=rx.breakpoints(initial="1", sm="2"),
                        size="1",
                        width="100%",
                        aria_label="Start from",
                    ),
                    rx.text("Name", size="2", weight="medium", margin_top="4px"),
                    rx.input(
                        name="name",
                        default_value=JourneysState.name,
                        key=JourneysState.dialog_key.to_string(),
                        on_blur=JourneysState.keep_name,
                        placeholder="e.g. Welcome series",
                        max_length=200,
                        aria_label="Journey name",
                        width="100%",
                    ),
                    rx.cond(
                        JourneysState.dialog_error != "",
                        rx.callout(
                            JourneysState.dialog_error,
                            icon="triangle-alert",
                            color_scheme="red",
                            size="1",
                            role="alert",
                        ),
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Create journey", type="submit"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    margin_top="12px",
                ),
                on_submit=JourneysState.create,
            ),
            max_width="640px",
        ),
        open=JourneysState.dialog == NEW,
        on_open_change=JourneysState.dialog_changed,
    )


def _empty() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("route", size=32),
            rx.heading("No journeys yet", size="5"),
            rx.cond(
                SessionState.can_edit,
                rx.text("Start one with “New journey”.", color_scheme="gray"),
                rx.text("Designers start journeys here; none has been started yet.", color_scheme="gray"),
            ),
            align="center",
            spacing="2",
        ),
        class_name="jb-empty",
    )


def journeys_page() -> rx.Component:
    return app_shell(
        page_header(
            "Journeys",
            "Customer-journey maps and the automations they run.",
            rx.hstack(
                rx.segmented_control.root(
                    rx.foreach(JourneysState.tabs, lambda tab: rx.segmented_control.item(tab.label, value=tab.value)),
                    value=JourneysState.status_filter,
                    on_change=JourneysState.set_status_filter,
                    size="2",
                    radius="large",
                    aria_label="Show journeys by status",
                ),
                rx.cond(
                    SessionState.can_edit,
                    rx.button(rx.icon("plus", size=16), "New journey", on_click=JourneysState.open_new, size="2"),
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
        ),
        rx.cond(
            JourneysState.loaded,
            rx.cond(
                JourneysState.journeys.length() > 0,
                rx.grid(
                    rx.foreach(JourneysState.journeys, journey_card),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="5",
                    width="100%",
                ),
                _empty(),
            ),
            rx.grid(
                *[rx.skeleton(rx.box(height="220px"), loading=True) for _ in range(3)],
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="5",
                width="100%",
            ),
        ),
        _new_dialog(),
        rename_dialog(
            is_open=JourneysState.dialog == RENAME,
            name=JourneysState.name,
            key=JourneysState.dialog_key,
            error=JourneysState.dialog_error,
            on_submit=JourneysState.rename,
            on_open_change=JourneysState.dialog_changed,
        ),
        active="Journeys",
    )
