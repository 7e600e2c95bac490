"""The dashboard's state: every journey's last 30 days, refreshed by the page's own timer.

The timer lives in the browser (assets/dashboard/freshness.jsx), as the map overlay's does, so it ends
with the page; each refresh computes the figures outside the state lock, on a worker thread, and a
refresh asked for while one is running is skipped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime, timedelta
from itertools import pairwise

import plotly.graph_objects as go
import reflex as rx

from engine.accounts import Action
from engine.journeys import JourneySummary, list_journeys
from engine.kpis import (
    JourneyTrend,
    KpiWindow,
    StageLine,
    journey_trends,
    stage_lines,
    window_filter,
)
from engine.store import JourneyStatus, session_scope, utc_now
from journey_builder import routes
from journey_builder.auth import viewing
from journey_builder.components.status_badge import STATUS_COLORS
from journey_builder.kpis.formatting import bucket_name, format_count, format_duration, format_rate
from journey_builder.kpis.trend_charts import sparkline
from journey_builder.state import ago

TREND_DAYS = 30
# How often the open page asks for fresh figures (the map overlay refreshes every 5 s; the dashboard
# reads every journey, so a little less often).
REFRESH_MS = 10_000
# A refresh still running after this long is taken to have died (a restarted worker).
STALE_REFRESH_SECONDS = 60.0

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
class StageSpeed:
    """One stage on a dashboard row: "Abandon → Recover", "45% moved on", "median 1 min"."""

    move: str
    conversion: str
    median: str


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
    stages: list[StageSpeed]
    kpis_href: str
    map_href: str
    launch_href: str


def stage_speeds(lines: tuple[StageLine, ...]) -> list[StageSpeed]:
    """The stages that have a next one: the share of their visits that moved on and the median time it took
    (a stage of touchpoints only is left out: nobody is ever recorded there)."""
    speeds = []
    for line, following in pairwise(lines):
        m = line.metrics
        if m.moved_on is None or not line.stage.tracked:
            continue
        speeds.append(
            StageSpeed(
                move=f"{line.stage.name} → {following.stage.name}",
                conversion=f"{format_rate(m.conversion)} moved on" if m.entered else "no customers yet",
                median=f"median {format_duration(m.velocity_median)}" if m.velocity_median is not None else "",
            )
        )
    return speeds


@dataclasses.dataclass(frozen=True)
class Figures:
    counts: list[StatusCount]
    rows: list[JourneyRow]
    entered: str
    trend_label: str
    at: str


def _row(summary: JourneySummary, trend: JourneyTrend, lines: tuple[StageLine, ...], now: datetime) -> JourneyRow:
    return JourneyRow(
        id=summary.id,
        name=summary.name,
        status=summary.status.value,
        version=f"v{summary.latest_version}" if summary.latest_version else "Not published",
        updated=ago(summary.updated_at, now),
        entered=format_count(trend.entered),
        goal_rate=format_rate(trend.goal_rate),
        has_trend=trend.entered > 0,
        trend=sparkline(trend),
        stages=stage_speeds(lines),
        kpis_href=routes.journey_kpis(summary.id),
        map_href=routes.journey_editor(summary.id),
        launch_href=routes.journey_launch(summary.id),
    )


def dashboard_figures() -> Figures:
    """Every journey's figures over the last ``TREND_DAYS`` days, from the engine's KPI functions."""
    now = utc_now()
    with session_scope() as session:
        summaries = list_journeys(session=session)
        trends = journey_trends(session=session, since=now - timedelta(days=TREND_DAYS), until=now)
        lines = {
            s.id: stage_lines(
                session=session, metrics_filter=window_filter(KpiWindow.LAST_30D, journey_id=s.id, now=now)
            )
            for s in summaries
        }
    bucket = next(iter(trends.values())).bucket if trends else timedelta(days=1)
    empty = JourneyTrend(journey_id=0, bucket=bucket, entered=0, reached_goal=0, days=())
    return Figures(
        counts=[
            StatusCount(
                status=status.value,
                blurb=STATUS_BLURBS[status],
                count=sum(1 for s in summaries if s.status is status),
                color=STATUS_COLORS[status.value],
            )
            for status in JourneyStatus
        ],
        rows=[_row(s, trends.get(s.id, empty), lines[s.id], now) for s in summaries],
        entered=format_count(sum(t.entered for t in trends.values())),
        trend_label=f"Entries ({TREND_DAYS} d) per {bucket_name(bucket)}",
        at=f"{now:%H:%M:%S} UTC",
    )


class DashboardState(rx.State):
    counts: list[StatusCount] = rx.field(default_factory=list)
    rows: list[JourneyRow] = rx.field(default_factory=list)
    entered: str = "0"
    trend_label: str = f"Entries ({TREND_DAYS} d) per UTC day"
    # When the figures were computed (server time, shown) and a stamp that changes at every refresh.
    at: str = ""
    stamp: float = 0.0
    error: str = ""

    _in_flight_since: float = 0.0

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> rx.event.EventSpec:
        return DashboardState.refresh

    @rx.event(background=True)
    @viewing(Action.VIEW_JOURNEYS)
    async def refresh(self) -> None:
        """Recompute the figures; the queries run outside the state lock, so the page stays responsive."""
        async with self:
            if self._in_flight_since and time.monotonic() - self._in_flight_since < STALE_REFRESH_SECONDS:
                return
            self._in_flight_since = time.monotonic()
        try:
            figures = await asyncio.to_thread(dashboard_figures)
        except Exception as error:  # a failed refresh must show, not leave old figures looking fresh
            async with self:
                self._in_flight_since = 0.0
                self.error = f"Figures could not be refreshed: {error}"
            return
        async with self:
            self._in_flight_since = 0.0
            self.counts, self.rows, self.entered = figures.counts, figures.rows, figures.entered
            self.trend_label, self.at, self.error = figures.trend_label, figures.at, ""
            self.stamp = time.time()
