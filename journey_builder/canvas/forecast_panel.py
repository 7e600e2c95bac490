"""The forecast's toolbar toggle and its summary panel: channel totals, the chart of sends per hour, what the replay
could not know, and (for those who forecast drafts) the draft beside the live version."""

from __future__ import annotations

import reflex as rx

from journey_builder.auth import SessionState
from journey_builder.kpis.charts import PLOT_CONFIG, TEMPLATE

from .forecast_state import ForecastState
from .forecast_view import ChannelRow, CompareRow


def forecast_toggle() -> rx.Component:
    return rx.el.button(
        rx.icon("telescope", size=15),
        # Narrow headers show the icon alone (journey_canvas.css), so the journey's name keeps its room.
        rx.el.span("Forecast", class_name="jc-forecast-label"),
        on_click=ForecastState.toggle,
        aria_label="Forecast",
        class_name="jc-button jc-forecast-toggle",
        aria_pressed=rx.cond(ForecastState.on, "true", "false"),
        title="What this journey would do, replaying the last 7 days of events (nothing is sent)",
        id="jc-forecast-toggle",
    )


def _channel_row(row: ChannelRow) -> rx.Component:
    return rx.el.tr(
        rx.el.td(row.channel),
        rx.el.td(row.sent, class_name="jc-num"),
        rx.el.td(row.held),
        data_channel=row.channel,
    )


def _compare_row(row: CompareRow) -> rx.Component:
    return rx.el.tr(
        rx.el.td(row.title),
        rx.el.td(row.draft),
        rx.el.td(row.live),
        class_name=rx.cond(row.changed, "jc-compare-changed", ""),
    )


def _compare() -> rx.Component:
    return rx.el.div(
        rx.el.button(
            "Compare with the live version",
            on_click=ForecastState.compare_live,
            disabled=ForecastState.busy,
            class_name="jc-button",
            id="jc-forecast-compare",
        ),
        rx.cond(
            ForecastState.compare_note != "",
            rx.el.p(ForecastState.compare_note, class_name="jc-muted", id="jc-forecast-compare-note"),
        ),
        rx.cond(
            ForecastState.compare.length() > 0,
            rx.el.table(
                rx.el.thead(rx.el.tr(rx.el.th("card"), rx.el.th("draft"), rx.el.th("live"))),
                rx.el.tbody(rx.foreach(ForecastState.compare, _compare_row)),
                class_name="jc-forecast-table",
                id="jc-forecast-compare-table",
            ),
        ),
        class_name="jc-forecast-compare",
    )


def forecast_panel() -> rx.Component:
    panel = ForecastState.panel
    return rx.el.section(
        rx.el.h2(rx.el.span("FORECAST", class_name="jc-forecast-tag"), " ", panel.title, class_name="jc-panel-title"),
        rx.cond(ForecastState.busy, rx.el.p("Replaying the last 7 days of events…", class_name="jc-muted")),
        rx.cond(ForecastState.problem != "", rx.el.p(ForecastState.problem, class_name="jc-problem", role="alert")),
        rx.cond(
            panel.title != "",
            rx.el.div(
                rx.el.p(panel.window, class_name="jc-muted", id="jc-forecast-window"),
                rx.el.p(panel.entered, " · ", panel.goal, id="jc-forecast-goal"),
                rx.el.table(
                    rx.el.thead(rx.el.tr(rx.el.th("channel"), rx.el.th("would send"), rx.el.th("held back"))),
                    rx.el.tbody(rx.foreach(panel.channels, _channel_row)),
                    class_name="jc-forecast-table",
                    id="jc-forecast-channels",
                ),
                rx.plotly.basic(data=ForecastState.chart, config=PLOT_CONFIG, template=TEMPLATE, width="100%"),
                rx.el.ul(rx.foreach(panel.notes, lambda note: rx.el.li(note)), class_name="jc-forecast-notes"),
                rx.el.p("Nothing was sent and nothing was stored.", class_name="jc-muted"),
            ),
        ),
        rx.cond(SessionState.can_forecast, _compare()),
        class_name="jc-panel jc-forecast-panel",
        id="jc-forecast-panel",
        data_testid="forecast-panel",
    )
