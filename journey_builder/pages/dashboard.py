"""The dashboard: how many journeys are in each status, and every journey's published versions."""

from __future__ import annotations

import dataclasses

import reflex as rx

from engine.journeys import list_journeys
from engine.permissions import Action
from engine.runs import versions
from engine.store.db import session_scope, utc_now
from engine.store.journeys import JourneyStatus
from journey_builder import routes
from journey_builder.auth import viewing
from journey_builder.components.layout import app_shell, page_header
from journey_builder.components.status_badge import STATUS_COLORS, status_badge
from journey_builder.state import ago

STATUS_BLURBS = {
    JourneyStatus.DRAFT: "Being designed",
    JourneyStatus.LIVE: "Enrolling customers",
    JourneyStatus.PAUSED: "Holding customers",
    JourneyStatus.DRAINING: "Finishing runs",
    JourneyStatus.STOPPED: "Ended",
}


@dataclasses.dataclass(frozen=True)
class StatusCount:
    status: str
    blurb: str
    count: int
    color: str


@dataclasses.dataclass(frozen=True)
class VersionChip:
    label: str
    detail: str


@dataclasses.dataclass(frozen=True)
class JourneyRow:
    name: str
    href: str
    kpi_href: str
    status: str
    updated: str
    versions: list[VersionChip]


class DashboardState(rx.State):
    counts: list[StatusCount] = rx.field(default_factory=list)
    rows: list[JourneyRow] = rx.field(default_factory=list)
    published: int = 0

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> None:
        now = utc_now()
        with session_scope() as session:
            summaries = list_journeys(session=session)
            history = {s.id: versions(session=session, journey_id=s.id) for s in summaries}
        self.counts = [
            StatusCount(
                status=status.value,
                blurb=STATUS_BLURBS[status],
                count=sum(1 for s in summaries if s.status is status),
                color=STATUS_COLORS[status.value],
            )
            for status in JourneyStatus
        ]
        self.rows = [
            JourneyRow(
                name=s.name,
                href=routes.journey_editor(s.id),
                kpi_href=routes.journey_kpis(s.id),
                status=s.status.value,
                updated=ago(s.updated_at, now),
                versions=[
                    VersionChip(
                        label=f"v{v.number}",
                        detail=f"{v.published_at:%d %b %Y %H:%M} UTC by {v.published_by or 'unknown'}",
                    )
                    for v in history[s.id]
                ],
            )
            for s in summaries
        ]
        self.published = sum(len(vs) for vs in history.values())


def _status_tile(count: rx.Var[StatusCount]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.box(class_name="jb-dot", background=f"var(--{count.color}-9)"),
                rx.text(count.status, size="2", weight="medium", class_name="jb-capitalize"),
                align="center",
                spacing="2",
            ),
            rx.text(count.count, size="8", weight="bold", class_name="jb-stat", data_testid="status-count-number"),
            rx.text(count.blurb, size="1", color_scheme="gray"),
            spacing="1",
        ),
        size="3",
        data_testid="status-count",
        data_status=count.status,
    )


def _versions(row: rx.Var[JourneyRow]) -> rx.Component:
    return rx.cond(
        row.versions.length() > 0,
        rx.hstack(
            rx.foreach(
                row.versions,
                lambda v: rx.tooltip(rx.badge(v.label, variant="surface", radius="full"), content=v.detail),
            ),
            spacing="1",
            wrap="wrap",
        ),
        rx.text("Not published", size="2", color_scheme="gray"),
    )


def _journey_row(row: rx.Var[JourneyRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(
                rx.link(row.name, href=row.href, weight="medium"),
                rx.link("KPIs", href=row.kpi_href, size="1", title="The map, view-only, with its live KPIs"),
                spacing="2",
                align="baseline",
            )
        ),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(_versions(row)),
        rx.table.cell(rx.text(row.updated, size="2", color_scheme="gray")),
        align="center",
    )


def dashboard_page() -> rx.Component:
    return app_shell(
        page_header(
            "Dashboard",
            "Where every journey stands, and what has been published.",
            rx.badge(DashboardState.published.to_string() + " versions published", variant="surface", size="2"),
        ),
        rx.grid(
            rx.foreach(DashboardState.counts, _status_tile),
            columns=rx.breakpoints(initial="2", md="5"),
            spacing="4",
            width="100%",
        ),
        rx.card(
            rx.heading("Journeys and versions", size="4", margin_bottom="12px"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("Journey", "Status", "Versions", "Updated")]
                    )
                ),
                rx.table.body(rx.foreach(DashboardState.rows, _journey_row)),
                variant="ghost",
                size="2",
                width="100%",
            ),
            size="3",
            width="100%",
        ),
        active="Dashboard",
    )
