"""One journey's KPIs for an executive: headline numbers and six charts, filtered by window and version.

The state keeps only what the page draws (figures and a few numbers) and, backend-only, the report's
aggregates the CSV is written from; no customer row ever reaches it.
"""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import reflex as rx

from engine.accounts import Action
from engine.journeys import JourneyNotFoundError
from engine.kpis import (
    WINDOW_LABELS,
    JourneyReport,
    KpiWindow,
    MetricsFilter,
    VersionNotFoundError,
    WindowError,
    journey_report,
    parse_day,
    parse_version,
    parse_window,
    window_filter,
)
from engine.store import session_scope, utc_now
from journey_builder.auth import SessionState, viewing
from journey_builder.components.layout import app_shell, page_header
from journey_builder.components.status_badge import status_badge
from journey_builder.kpis.charts import PLOT_CONFIG, TEMPLATE
from journey_builder.kpis.csv_export import report_csv
from journey_builder.kpis.formatting import format_count, format_rate
from journey_builder.kpis.goal_charts import recovery_by_channel, split_results
from journey_builder.kpis.in_app_charts import in_app_rates
from journey_builder.kpis.stage_charts import emotion_and_drop_off, stage_funnel, velocity_distribution
from journey_builder.kpis.task_table import TaskKpiRow, task_rows, task_table
from journey_builder.kpis.trend_charts import conversion_over_time
from journey_builder.pages.sign_in import sentence
from journey_builder.routes import journey_editor, journey_id_in, journey_launch

ALL_VERSIONS = "all"
WINDOW_CHOICES = (
    (KpiWindow.LAST_24H, "24 h"),
    (KpiWindow.LAST_7D, "7 d"),
    (KpiWindow.LAST_30D, "30 d"),
    (KpiWindow.ALL_TIME, "All"),
    (KpiWindow.CUSTOM, "Custom"),
)


# The window's values, as the page's controls label them.
CHOICES = {"window": "Time window", "first_day": "First day", "last_day": "Last day", "version": "Version"}


def _figure() -> go.Figure:
    return go.Figure()


def _said(error: WindowError) -> str:
    """The engine's refusal as the page says it, naming the control at fault."""
    return f"{CHOICES[error.field]}: {error}." if error.field in CHOICES else sentence(str(error))


class JourneyKpisState(rx.State):
    journey_id: int = 0
    name: str = ""
    status: str = ""
    not_found: bool = False
    window: str = KpiWindow.LAST_30D.value
    first_day: str = ""
    last_day: str = ""
    version: str = ALL_VERSIONS
    versions: list[str] = rx.field(default_factory=list)
    window_note: str = ""
    problem: str = ""
    entered: str = "0"
    goal_rate: str = "—"
    reached_goal: str = "0"
    in_flight: str = "0"
    has_data: bool = False
    has_splits: bool = False
    funnel: go.Figure = rx.field(default_factory=_figure)
    velocity: go.Figure = rx.field(default_factory=_figure)
    over_time: go.Figure = rx.field(default_factory=_figure)
    recovery: go.Figure = rx.field(default_factory=_figure)
    splits: go.Figure = rx.field(default_factory=_figure)
    has_in_app: bool = False
    in_app: go.Figure = rx.field(default_factory=_figure)
    emotion: go.Figure = rx.field(default_factory=_figure)
    tasks: list[TaskKpiRow] = rx.field(default_factory=list)
    _report: JourneyReport | None = None

    @rx.var
    def map_url(self) -> str:
        return journey_editor(self.journey_id)

    @rx.var
    def launch_url(self) -> str:
        return journey_launch(self.journey_id)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> rx.event.EventSpec | None:
        journey_id = journey_id_in(self.router.url.path)
        if journey_id != self.journey_id:
            self.journey_id, self.version = journey_id, ALL_VERSIONS
        return self._refresh()

    def _filter(self, chosen: dict[str, str]) -> MetricsFilter:
        """The metrics filter of the page's choices; raises WindowError naming one that cannot be."""
        return window_filter(
            parse_window(chosen["window"]),
            journey_id=self.journey_id,
            version=None if chosen["version"] == ALL_VERSIONS else parse_version(chosen["version"]),
            first_day=parse_day(chosen["first_day"], field="first_day"),
            last_day=parse_day(chosen["last_day"], field="last_day"),
        )

    def _chosen(self) -> dict[str, str]:
        return {"window": self.window, "first_day": self.first_day, "last_day": self.last_day, "version": self.version}

    def _choose(self, **changes: object) -> rx.event.EventSpec | None:
        """Take new values from the page's controls. A value that cannot be one (not a window, a date or a
        version; a day out of range) is refused with a toast, and the page keeps its window and figures.
        Days in the wrong order are taken, since the other day is likely the next change; the page says
        what to change and keeps the figures it showed."""
        for name, value in changes.items():
            if not isinstance(value, str):
                return rx.toast.error(f"{CHOICES[name]}: expected text.")
        chosen = {**self._chosen(), **changes}
        try:
            self._filter(chosen)
        except WindowError as error:
            if error.field is not None:
                return rx.toast.error(_said(error))
        self.window, self.first_day, self.last_day = chosen["window"], chosen["first_day"], chosen["last_day"]
        self.version = chosen["version"]
        return self._refresh()

    def _refresh(self) -> rx.event.EventSpec | None:
        self.problem = ""
        try:
            metrics_filter = self._filter(self._chosen())
            with session_scope() as session:
                report = journey_report(session=session, metrics_filter=metrics_filter)
        except JourneyNotFoundError:
            self.not_found = True
            return None
        except VersionNotFoundError:
            self.version = ALL_VERSIONS
            return self._refresh()
        except WindowError as error:
            self.problem = f"Choose another window: {error}"
            return rx.toast.error(_said(error))
        self.not_found = False
        self._show(report)
        return None

    def _show(self, report: JourneyReport) -> None:
        self._report = report
        self.name, self.status = report.journey_name, report.journey_status.value
        self.versions = [str(n) for n in reversed(report.versions)]
        f = report.filter
        if f.since is None and f.until is None:
            self.window_note = "all time"
        else:
            since = f"{f.since:%d %b %Y %H:%M}" if f.since else "the first customer"
            until = f"{f.until:%d %b %Y %H:%M} UTC" if f.until else "now"
            self.window_note = f"{since} to {until}"
        cohort = report.cohort
        self.entered = format_count(cohort.entered)
        self.goal_rate = format_rate(cohort.goal_rate)
        self.reached_goal = format_count(cohort.reached_goal)
        self.in_flight = format_count(cohort.in_flight)
        self.has_data = cohort.entered > 0 or any(m.entered for m in report.stage_metrics)
        self.has_splits = bool(report.splits)
        self.funnel = stage_funnel(report.stages, report.stage_metrics)
        self.velocity = velocity_distribution(report.stages, report.velocity, report.stage_metrics)
        self.over_time = conversion_over_time(report.daily)
        self.recovery = recovery_by_channel(report.recovery)
        self.splits = split_results(report.splits, report.node_titles)
        self.has_in_app = bool(report.in_app)
        self.in_app = in_app_rates(report.in_app, report.node_titles)
        self.emotion = emotion_and_drop_off(report.stages, report.stage_metrics)
        self.tasks = task_rows(report.tasks, report.node_titles)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def set_window(self, value: str | list[str]) -> rx.event.EventSpec | None:
        window = value[0] if isinstance(value, list) and value else value
        if window == KpiWindow.CUSTOM and not (self.first_day or self.last_day):
            today = utc_now().date()
            first = date.fromordinal(today.toordinal() - 29).isoformat()
            return self._choose(window=window, first_day=first, last_day=today.isoformat())
        return self._choose(window=window)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def set_first_day(self, value: str) -> rx.event.EventSpec | None:
        return self._choose(first_day=value)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def set_last_day(self, value: str) -> rx.event.EventSpec | None:
        return self._choose(last_day=value)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def set_version(self, value: str) -> rx.event.EventSpec | None:
        return self._choose(version=value)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def export_csv(self) -> rx.event.EventSpec | None:
        if self._report is None:
            return None
        label = WINDOW_LABELS[KpiWindow(self.window)]
        text = report_csv(self._report, window_label=label, generated_at=utc_now())
        return rx.download(
            data=text, filename=f"journey-{self.journey_id}-kpis-{self.window}.csv", mime_type="text/csv"
        )


def _headline(label: str, value: rx.Var[str], caption: rx.Var[str] | str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", weight="medium", color_scheme="gray"),
            rx.text(value, size="8", weight="bold", class_name="jb-stat", data_testid=test_id),
            rx.text(caption, size="1", color_scheme="gray"),
            spacing="1",
        ),
        size="3",
    )


def _filters() -> rx.Component:
    return rx.hstack(
        rx.segmented_control.root(
            *[rx.segmented_control.item(label, value=window.value) for window, label in WINDOW_CHOICES],
            value=JourneyKpisState.window,
            on_change=JourneyKpisState.set_window,
            size="2",
            radius="large",
            aria_label="Time window",
        ),
        rx.cond(
            JourneyKpisState.window == KpiWindow.CUSTOM.value,
            rx.hstack(
                rx.input(
                    type="date",
                    value=JourneyKpisState.first_day,
                    on_change=JourneyKpisState.set_first_day,
                    aria_label="First day",
                    size="2",
                ),
                rx.text("to", size="2", color_scheme="gray"),
                rx.input(
                    type="date",
                    value=JourneyKpisState.last_day,
                    on_change=JourneyKpisState.set_last_day,
                    aria_label="Last day",
                    size="2",
                ),
                align="center",
                spacing="2",
            ),
        ),
        rx.spacer(),
        rx.select.root(
            rx.select.trigger(aria_label="Version", min_width="9em"),
            rx.select.content(
                rx.select.item("All versions", value=ALL_VERSIONS),
                rx.foreach(JourneyKpisState.versions, lambda n: rx.select.item("Version " + n, value=n)),
            ),
            value=JourneyKpisState.version,
            on_change=JourneyKpisState.set_version,
            size="2",
        ),
        align="center",
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _chart(figure: rx.Var[go.Figure], test_id: str) -> rx.Component:
    return rx.card(
        rx.plotly.basic(
            data=figure,
            config=PLOT_CONFIG,
            template=TEMPLATE,
            width="100%",
        ),
        size="2",
        width="100%",
        min_width="0",
        data_testid=test_id,
    )


def _charts() -> rx.Component:
    return rx.vstack(
        rx.grid(
            _chart(JourneyKpisState.funnel, "chart-funnel"),
            _chart(JourneyKpisState.emotion, "chart-emotion"),
            _chart(JourneyKpisState.velocity, "chart-velocity"),
            _chart(JourneyKpisState.over_time, "chart-over-time"),
            _chart(JourneyKpisState.recovery, "chart-recovery"),
            rx.cond(JourneyKpisState.has_splits, _chart(JourneyKpisState.splits, "chart-splits")),
            rx.cond(JourneyKpisState.has_in_app, _chart(JourneyKpisState.in_app, "chart-in-app")),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def _no_data() -> rx.Component:
    return rx.card(
        rx.center(
            rx.vstack(
                rx.icon("chart-no-axes-column", size=32, color="var(--gray-9)"),
                rx.heading("No customers have entered this journey in this window", size="4"),
                rx.text(
                    "Choose a longer window or another version, or come back once customers have entered.",
                    color_scheme="gray",
                ),
                align="center",
                spacing="2",
            ),
            padding="64px 0",
        ),
        width="100%",
        data_testid="kpi-empty",
    )


def _content() -> rx.Component:
    return rx.fragment(
        page_header(
            JourneyKpisState.name,
            "Journey KPIs · " + JourneyKpisState.window_note,
            rx.box(status_badge(JourneyKpisState.status), data_testid="journey-status", margin_bottom="5px"),
            rx.link(rx.button(rx.icon("map", size=15), "Map", variant="soft"), href=JourneyKpisState.map_url),
            rx.cond(
                SessionState.can_run_journeys,
                rx.link(
                    rx.button(rx.icon("rocket", size=15), "Launch control", variant="soft"),
                    href=JourneyKpisState.launch_url,
                ),
            ),
            rx.button(
                rx.icon("download", size=15),
                "Export CSV",
                on_click=JourneyKpisState.export_csv,
                disabled=~JourneyKpisState.has_data,
            ),
        ),
        _filters(),
        rx.cond(JourneyKpisState.problem != "", rx.callout(JourneyKpisState.problem, color_scheme="amber", size="1")),
        rx.grid(
            _headline("Entered", JourneyKpisState.entered, "customers who entered in the window", "kpi-entered"),
            _headline(
                "Goal conversion",
                JourneyKpisState.goal_rate,
                JourneyKpisState.reached_goal + " of them reached the goal",
                "kpi-goal-rate",
            ),
            _headline(
                "In flight", JourneyKpisState.in_flight, "of them still inside at the window's end", "kpi-in-flight"
            ),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="4",
            width="100%",
        ),
        rx.cond(JourneyKpisState.has_data, _charts(), _no_data()),
        rx.cond(JourneyKpisState.tasks.length() > 0, task_table(JourneyKpisState.tasks)),
    )


def journey_kpis_page() -> rx.Component:
    return app_shell(
        rx.cond(
            JourneyKpisState.not_found,
            rx.callout("There is no such journey.", color_scheme="red"),
            _content(),
        ),
        active="Dashboard",
    )
