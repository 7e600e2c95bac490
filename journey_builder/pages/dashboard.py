"""The executive dashboard: how many journeys are in each status, and every journey's last 30 days
(entered, goal conversion, a sparkline of daily entries) with links to its KPIs, map and launch control."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import plotly.graph_objects as go
import reflex as rx

from engine.accounts import Action
from engine.journeys import list_journeys
from engine.kpis import JourneyTrend, journey_trends
from engine.store import JourneyStatus, session_scope, utc_now
from journey_builder import routes
from journey_builder.auth import viewing
from journey_builder.components.layout import app_shell, page_header
from journey_builder.components.status_badge import STATUS_COLORS, status_badge
from journey_builder.kpis.charts import SPARKLINE_CONFIG, TEMPLATE
from journey_builder.kpis.formatting import format_count, format_rate
from journey_builder.kpis.trend_charts import sparkline
from journey_builder.state import ago

TREND_DAYS = 30
# Digits of equal width, so the figures of one column line up.
NUMBER = {"font_variant_numeric": "tabular-nums"}

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
class JourneyRow:
    id: int
    name: str
    status: str
    version: str
    updated: str
    entered: str
    goal_rate: str
    has_trend: bool
    trend: go.Figure
    kpis_href: str
    map_href: str
    launch_href: str


class DashboardState(rx.State):
    counts: list[StatusCount] = rx.field(default_factory=list)
    rows: list[JourneyRow] = rx.field(default_factory=list)
    entered: str = "0"

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> None:
        now = utc_now()
        with session_scope() as session:
            summaries = list_journeys(session=session)
            trends = journey_trends(session=session, since=now - timedelta(days=TREND_DAYS), until=now)
        self.counts = [
            StatusCount(
                status=status.value,
                blurb=STATUS_BLURBS[status],
                count=sum(1 for s in summaries if s.status is status),
                color=STATUS_COLORS[status.value],
            )
            for status in JourneyStatus
        ]
        empty = JourneyTrend(journey_id=0, entered=0, reached_goal=0, days=())
        self.rows = []
        for s in summaries:
            trend = trends.get(s.id, empty)
            self.rows.append(
                JourneyRow(
                    id=s.id,
                    name=s.name,
                    status=s.status.value,
                    version=f"v{s.latest_version}" if s.latest_version else "Not published",
                    updated=ago(s.updated_at, now),
                    entered=format_count(trend.entered),
                    goal_rate=format_rate(trend.goal_rate),
                    has_trend=trend.entered > 0,
                    trend=sparkline(trend),
                    kpis_href=routes.journey_kpis(s.id),
                    map_href=routes.journey_editor(s.id),
                    launch_href=routes.journey_launch(s.id),
                )
            )
        self.entered = format_count(sum(t.entered for t in trends.values()))


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


def _icon_link(icon: str, label: str, href: rx.Var[str]) -> rx.Component:
    return rx.tooltip(
        rx.link(
            rx.icon_button(rx.icon(icon, size=15), variant="ghost", color_scheme="gray", size="2"),
            href=href,
            aria_label=label,
        ),
        content=label,
    )


def _journey_row(row: rx.Var[JourneyRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.link(row.name, href=row.kpis_href, weight="medium"),
                rx.text(row.version, " · updated ", row.updated, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.text(row.entered, weight="medium", style=NUMBER), data_testid="journey-entered"),
        rx.table.cell(rx.text(row.goal_rate, weight="medium", style=NUMBER), data_testid="journey-goal-rate"),
        rx.table.cell(
            rx.cond(
                row.has_trend,
                rx.plotly.basic(data=row.trend, config=SPARKLINE_CONFIG, template=TEMPLATE),
                rx.text("No entries", size="1", color_scheme="gray"),
            ),
            data_testid="journey-trend",
        ),
        rx.table.cell(
            rx.hstack(
                rx.link(rx.button("KPIs", size="1", variant="soft"), href=row.kpis_href),
                _icon_link("map", "Open the map", row.map_href),
                _icon_link("rocket", "Launch control", row.launch_href),
                spacing="2",
                align="center",
                justify="end",
            )
        ),
        align="center",
        data_testid="journey-row",
        data_journey=row.name,
    )


def dashboard_page() -> rx.Component:
    return app_shell(
        page_header(
            "Dashboard",
            f"Where every journey stands, and its last {TREND_DAYS} days.",
            rx.badge(DashboardState.entered + f" customers entered in {TREND_DAYS} days", variant="surface", size="2"),
        ),
        rx.grid(
            rx.foreach(DashboardState.counts, _status_tile),
            columns=rx.breakpoints(initial="2", md="5"),
            spacing="4",
            width="100%",
        ),
        rx.card(
            rx.heading("Journeys", size="4", margin_bottom="12px"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Journey"),
                        rx.table.column_header_cell("Status"),
                        rx.table.column_header_cell("Entered (30 d)"),
                        rx.table.column_header_cell("Goal conversion"),
                        rx.table.column_header_cell("Daily entries (30 d)"),
                        rx.table.column_header_cell(""),
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
