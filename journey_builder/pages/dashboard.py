"""The executive dashboard: how many journeys are in each status, and every journey's last 30 days (entered,
goal conversion, a sparkline of entries, each stage's conversion and velocity) with links to its KPIs, map and,
for the roles who run journeys, launch control. It refreshes itself and says how fresh its figures are."""

from __future__ import annotations

import reflex as rx

from journey_builder.auth import SessionState
from journey_builder.components.freshness import freshness
from journey_builder.components.layout import app_shell, page_header
from journey_builder.components.status_badge import status_badge
from journey_builder.kpis.charts import SPARKLINE_CONFIG, TEMPLATE

from .dashboard_state import REFRESH_MS, TREND_DAYS, DashboardState, JourneyRow, StageSpeed, StatusCount

# Digits of equal width, so the figures of one column line up.
NUMBER = {"font_variant_numeric": "tabular-nums"}


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


def _text_link(label: str, href: rx.Var[str], test_id: str) -> rx.Component:
    return rx.link(rx.button(label, size="1", variant="soft", color_scheme="gray"), href=href, data_testid=test_id)


def _stage_speed(speed: rx.Var[StageSpeed]) -> rx.Component:
    return rx.vstack(
        rx.text(speed.move, size="1", weight="medium"),
        rx.text(
            speed.conversion,
            rx.cond(speed.median != "", " · " + speed.median, ""),
            size="1",
            color_scheme="gray",
            style=NUMBER,
        ),
        spacing="0",
        data_testid="stage-velocity",
    )


def _velocity_cell(row: rx.Var[JourneyRow]) -> rx.Component:
    return rx.cond(
        row.stages.length() > 0,
        rx.vstack(rx.foreach(row.stages, _stage_speed), spacing="2"),
        rx.text("Not published", size="1", color_scheme="gray"),
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
        rx.table.cell(_velocity_cell(row), data_testid="journey-velocity"),
        rx.table.cell(
            rx.hstack(
                _text_link("KPIs", row.kpis_href, "open-kpis"),
                _text_link("Map", row.map_href, "open-map"),
                rx.cond(
                    SessionState.can_run_journeys,
                    _text_link("Launch control", row.launch_href, "open-launch"),
                ),
                spacing="2",
                align="center",
                justify="end",
            ),
            white_space="nowrap",
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
            rx.vstack(
                rx.badge(
                    DashboardState.entered + f" customers entered in {TREND_DAYS} days", variant="surface", size="2"
                ),
                rx.text(
                    freshness(
                        stamp=DashboardState.stamp,
                        at=DashboardState.at,
                        interval_ms=REFRESH_MS,
                        on_refresh=DashboardState.refresh,
                    ),
                    size="1",
                    color_scheme="gray",
                ),
                align="end",
                spacing="1",
            ),
        ),
        rx.cond(
            DashboardState.error != "",
            rx.callout(DashboardState.error, icon="triangle-alert", color_scheme="red", size="1", role="alert"),
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
                        rx.table.column_header_cell(DashboardState.trend_label),
                        rx.table.column_header_cell(f"Stages ({TREND_DAYS} d): moved on · median time"),
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
