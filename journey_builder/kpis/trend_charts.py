"""Figures over time, in the engine's buckets (UTC days, or hours and minutes for a short history): a journey's
goal conversion over time and the dashboard's sparkline of entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import plotly.graph_objects as go

from engine.kpis import DailyConversion, JourneyTrend
from journey_builder.kpis.charts import (
    ACCENT,
    ACCENT_SOFT,
    FONT,
    GRID,
    TEMPLATE,
    _axis,
    _count_tick,
    _empty,
    _layout,
    _nice_top,
)
from journey_builder.kpis.formatting import _percent, bucket_text, per_bucket

DAY: Final = timedelta(days=1)
# Longer series show the conversion over the trailing week: a day's handful of customers swings
# between 0 and 100 %, which reads as noise, not as a trend.
ROLLING_DAYS: Final = 7
ROLLING_FROM: Final = 15


def rolling_rates(daily: Sequence[DailyConversion], days: int) -> list[float | None]:
    """Per day, the % of the customers who entered in the ``days`` days up to it who reached the goal."""
    rates: list[float | None] = []
    for end in range(len(daily)):
        span = daily[max(0, end - days + 1) : end + 1]
        rates.append(_percent(sum(d.converted for d in span), sum(d.entered for d in span)))
    return rates


# A window longer than this (a custom one reaching back years) starts at its first active day.
LONG_SERIES: Final = 92


def _from_first_activity(daily: Sequence[DailyConversion]) -> Sequence[DailyConversion]:
    first = next((i for i, d in enumerate(daily) if d.entered or d.goals_reached), 0)
    return daily[first:]


def _x(start: datetime, size: timedelta) -> str:
    # Plotly reads "YYYY-MM-DD HH:MM:SS" as a time on a date axis, without a zone to shift it by.
    return bucket_text(start, size) if size >= DAY else start.strftime("%Y-%m-%d %H:%M:%S")


def _hover(size: timedelta) -> str:
    return "%{x|%d %b}" if size >= DAY else "%{x|%d %b %H:%M}"


def conversion_over_time(daily: Sequence[DailyConversion]) -> go.Figure:
    """Per bucket of time (a UTC day, or an hour or minutes when the history is short): customers who
    entered (bars) and the share of them who reached the goal (line)."""
    size = daily[0].size if daily else DAY
    rolling = size >= DAY and len(daily) >= ROLLING_FROM
    rate_name = f"Goal conversion, trailing {ROLLING_DAYS} days (%)" if rolling else "Goal conversion (%)"
    figure = go.Figure(
        layout=_layout(
            "Goal conversion over time",
            f"{per_bucket(size)}: customers who entered, and the % of them who reached the goal",
            legend_rows=1,
        )
    )
    if not daily or all(d.entered == 0 for d in daily):
        return _empty(figure, "No customers entered in this window")
    if len(daily) > LONG_SERIES:
        daily = _from_first_activity(daily)
    points = [_x(d.start, size) for d in daily]
    rates = rolling_rates(daily, ROLLING_DAYS if rolling else 1)
    figure.add_bar(
        x=points,
        y=[d.entered for d in daily],
        name="Entered (customers)",
        marker={"color": ACCENT_SOFT},
        hovertemplate=_hover(size) + ": %{y:,} entered<extra></extra>",
    )
    figure.add_scatter(
        x=points,
        y=rates,
        name=rate_name,
        yaxis="y2",
        # Points between empty buckets have no line to them: with few of them, markers draw them.
        mode="lines+markers" if sum(r is not None for r in rates) <= ROLLING_FROM else "lines",
        line={"color": ACCENT, "width": 2.5, "shape": "spline", "smoothing": 0.4},
        marker={"size": 6},
        connectgaps=False,
        hovertemplate=_hover(size) + ": %{y:.1f}%<extra>" + rate_name + "</extra>",
    )
    top = max((r for r in rates if r is not None), default=0.0)
    figure.update_layout(
        xaxis=_axis(
            type="date",
            # Half a bucket either side, so the first and last bars are drawn whole.
            range=[_x(daily[0].start - size / 2, size / 2), _x(daily[-1].start + size / 2, size / 2)],
            tickformat=_tick_format(size, len(points)),
            showgrid=False,
            dtick=_day_tick(len(points)) if size >= DAY else None,
            nticks=8,
        ),
        yaxis=_axis(
            "Customers entered",
            rangemode="tozero",
            nticks=5,
            dtick=_count_tick(max(d.entered for d in daily)),
        ),
        yaxis2=_axis(
            "Goal conversion (%)",
            overlaying="y",
            side="right",
            range=[0, _nice_top(top)],
            tickmode="auto",
            nticks=5,
            ticksuffix="%",
            showgrid=False,
        ),
    )
    return figure


def _tick_format(size: timedelta, points: int) -> str:
    if size < DAY:
        # A span of hours reads as times of day; the date is in the hover.
        return "%H:%M"
    return "%d %b" if points <= LONG_SERIES * 2 else "%b %Y"


def _day_tick(days: int) -> int | None:
    """Milliseconds between date ticks: every day for a week, weekly for a month, then plotly's choice."""
    day = 86_400_000
    if days <= 8:
        return day
    if days <= 31:
        return 7 * day
    return None


def sparkline(trend: JourneyTrend) -> go.Figure:
    """A journey's entries per bucket (day, hour or minutes) as a tiny area line: no axes, no title, a hover
    per bucket."""
    figure = go.Figure(
        layout={
            "template": TEMPLATE,
            "height": 40,
            "width": 160,
            "margin": {"l": 2, "r": 2, "t": 4, "b": 4},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "showlegend": False,
            "xaxis": {"visible": False, "fixedrange": True},
            "yaxis": {"visible": False, "fixedrange": True, "rangemode": "tozero"},
            "hovermode": "x",
            "hoverlabel": {"font": {"family": FONT, "size": 11}, "bgcolor": "white", "bordercolor": GRID},
            "font": {"family": FONT},
        }
    )
    figure.add_scatter(
        x=[_x(d.start, trend.bucket) for d in trend.days],
        y=[d.entered for d in trend.days],
        mode="lines",
        line={"color": ACCENT, "width": 1.5, "shape": "spline", "smoothing": 0.6},
        fill="tozeroy",
        fillcolor="rgba(110, 86, 207, 0.12)",
        hovertemplate=_hover(trend.bucket) + ": %{y:,} entered<extra></extra>",
    )
    return figure
