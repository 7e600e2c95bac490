"""The journeys list: every journey as a card, most recently changed first; a card opens its map."""

from __future__ import annotations

import dataclasses
from collections import Counter

import reflex as rx

from engine.accounts import Action
from engine.journeys import list_journeys
from engine.store import JourneyStatus, session_scope, utc_now
from journey_builder import routes
from journey_builder.auth import viewing
from journey_builder.components.layout import app_shell, page_header
from journey_builder.components.status_badge import status_badge
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
    updated: str
    href: str


ALL = "all"


@dataclasses.dataclass(frozen=True)
class StatusTab:
    value: str
    label: str


class JourneysState(rx.State):
    journeys: list[JourneyCard] = rx.field(default_factory=list)
    tabs: list[StatusTab] = rx.field(default_factory=list)
    status_filter: str = ALL
    loaded: bool = False
    _all: list[JourneyCard] = rx.field(default_factory=list)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> None:
        with session_scope() as session:
            summaries = list_journeys(session=session)
        now = utc_now()
        self._all = [
            JourneyCard(
                id=s.id,
                name=s.name,
                description=s.description,
                status=s.status.value,
                stages=s.stage_count,
                touchpoints=s.node_count,
                version=f"v{s.latest_version}" if s.latest_version else "Not published",
                updated=ago(s.updated_at, now),
                href=routes.journey_editor(s.id),
            )
            for s in summaries
        ]
        self.loaded = True
        self._show()

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def set_status_filter(self, value: str | list[str]) -> None:
        # The segmented control's event is typed for its multiple-choice mode too; this one is single-choice.
        self.status_filter = value if isinstance(value, str) else ALL
        self._show()

    def _show(self) -> None:
        counts = Counter(card.status for card in self._all)
        self.tabs = [StatusTab(value=ALL, label=f"All {len(self._all)}")] + [
            StatusTab(value=status.value, label=f"{status.value.capitalize()} {counts[status.value]}")
            for status in JourneyStatus
            if counts[status.value]
        ]
        if self.status_filter != ALL and not counts[self.status_filter]:
            self.status_filter = ALL
        self.journeys = [card for card in self._all if self.status_filter in (ALL, card.status)]


def _fact(icon: str, text: rx.Var[str] | str) -> rx.Component:
    return rx.hstack(rx.icon(icon, size=14), rx.text(text, size="2"), align="center", spacing="1", class_name="jb-fact")


def journey_card(journey: rx.Var[JourneyCard]) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.center(rx.icon("route", size=18), class_name="jb-card-icon"),
                    rx.spacer(),
                    status_badge(journey.status),
                    width="100%",
                    align="center",
                ),
                rx.heading(journey.name, size="4", weight="bold", class_name="jb-card-title"),
                rx.text(journey.description, size="2", color_scheme="gray", class_name="jb-card-description"),
                rx.spacer(),
                rx.hstack(
                    _fact("columns-3", journey.stages.to_string() + " stages"),
                    _fact("square-stack", journey.touchpoints.to_string() + " touchpoints"),
                    _fact("git-commit-horizontal", journey.version),
                    spacing="4",
                    wrap="wrap",
                    class_name="jb-card-facts",
                ),
                rx.separator(size="4"),
                rx.hstack(
                    rx.text("Updated ", journey.updated, size="1", color_scheme="gray"),
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
        data_testid="journey-card",
    )


def _empty() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("route", size=32),
            rx.heading("No journeys yet", size="5"),
            rx.text("Run `journey seed` to add the starter journeys.", color_scheme="gray"),
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
            rx.segmented_control.root(
                rx.foreach(JourneysState.tabs, lambda tab: rx.segmented_control.item(tab.label, value=tab.value)),
                value=JourneysState.status_filter,
                on_change=JourneysState.set_status_filter,
                size="2",
                radius="large",
                aria_label="Show journeys by status",
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
        active="Journeys",
    )
