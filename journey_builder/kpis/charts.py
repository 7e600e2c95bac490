"""KPI figures and their CSV: pure functions from the engine's aggregates to plotly figures and text.

Every chart shares one calm style: a left-aligned title with a subtitle that says what is counted
and in which unit, light grid lines, no mode bar, a legend only where there are several series.
Nothing here queries anything; the page's state passes in what :mod:`engine.kpis.report` returned.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import plotly.graph_objects as go

from engine.kpis.metrics import ChannelRecovery, DailyConversion, SplitResult, StageMetrics
from engine.kpis.report import JourneyReport, JourneyTrend, StageVelocity, StageView

FONT: Final = 'Inter, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif'
INK: Final = "#1c2024"
MUTED: Final = "#60646c"
GRID: Final = "#e8e8ec"
ACCENT: Final = "#6e56cf"
ACCENT_SOFT: Final = "#d4cafe"
NEUTRAL: Final = "#b9bbc6"
DROP: Final = "#e5484d"
WARNING: Final = "#ab6400"
# Fast to slow: violets from dark (quickest) to light, then amber and coral for the slow tail.
BUCKET_COLORS: Final = ("#3e2a8c", "#5b44b8", "#7c66d8", "#a394ea", "#c9bff5", "#f5c38b", "#ec8e7b")
# Segment labels in white on the three darkest violets, in ink on the rest.
BUCKET_TEXT: Final = ("white", "white", "white", INK, INK, INK, INK)
# Below this share a segment is too narrow for its label; the hover still gives it.
MIN_LABELLED_SHARE: Final = 8.0
CHANNEL_LABELS: Final = {
    "email": "Email",
    "sms": "SMS",
    "push": "Push",
    "in_app": "In-app",
    "webhook": "Webhook",
    "web": "Web",
    "chat": "Chat",
    "voice": "Voice",
}
NO_CHANNEL: Final = "No message"
PLOT_CONFIG: Final = {"displayModeBar": False, "responsive": True}
SPARKLINE_CONFIG: Final = {"displayModeBar": False, "responsive": False}
# Every figure carries this small template, and the page hands the same one to rx.plotly, which
# would otherwise lay plotly's default (grey plot area, white grid) over the figures.
TEMPLATE: Final = go.layout.Template(
    layout={
        "font": {"family": FONT, "size": 12, "color": INK},
        "colorway": [ACCENT, DROP, NEUTRAL, WARNING],
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "xaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False},
        "yaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False},
    }
)
CHART_HEIGHT: Final = 360


# Pixel geometry of the head of every chart: title, subtitle below it, then the legend's rows.
TITLE_TOP: Final = 10
LEGEND_TOP: Final = 62
LEGEND_ROW: Final = 22


def _layout(title: str, subtitle: str, *, height: int = CHART_HEIGHT, legend_rows: int = 0) -> dict[str, Any]:
    """The shared look; positions are in pixels from the top, so no height makes the head overlap."""
    return {
        "template": TEMPLATE,
        "title": {
            "text": title,
            "subtitle": {"text": subtitle, "font": {"size": 12, "color": MUTED}},
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "pad": {"l": 6},
            "y": 1 - TITLE_TOP / height,
            "yref": "container",
            "yanchor": "top",
            "font": {"size": 16, "color": INK, "weight": 600},
        },
        "font": {"family": FONT, "size": 12, "color": INK},
        "height": height,
        "margin": {"l": 16, "r": 24, "t": LEGEND_TOP + LEGEND_ROW * legend_rows + 8, "b": 48, "autoexpand": True},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "showlegend": legend_rows > 0,
        "legend": {
            "orientation": "h",
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "y": 1 - LEGEND_TOP / height,
            "yref": "container",
            "yanchor": "top",
            "font": {"size": 11, "color": MUTED},
            "traceorder": "normal",
        },
        "hoverlabel": {"font": {"family": FONT, "size": 12}, "bgcolor": "white", "bordercolor": GRID},
        "bargap": 0.35,
    }


def _axis(title: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 12, "color": MUTED}, "standoff": 8},
        "gridcolor": GRID,
        "linecolor": GRID,
        "zeroline": False,
        "tickfont": {"size": 11, "color": MUTED},
        "automargin": True,
        "fixedrange": True,
        **extra,
    }


def _empty(figure: go.Figure, message: str) -> go.Figure:
    figure.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "font": {"size": 13, "color": MUTED},
            }
        ],
    )
    return figure


def _count_tick(top: int) -> int | None:
    """One tick per customer on a short count axis (no "0.5 customers"); plotly's choice on longer ones."""
    return 1 if top <= 6 else None


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def format_count(value: int) -> str:
    return f"{value:,}"


def format_rate(rate: float | None) -> str:
    """A share as people read it: "12.5%"; "—" when undefined (nobody to divide by)."""
    return "—" if rate is None else f"{100 * rate:.1f}%"


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = value.total_seconds() / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def _stage_names(stages: Sequence[StageView]) -> dict[str, str]:
    return {s.id: s.name for s in stages}


def _tracked(stages: Sequence[StageView], metrics: Sequence[StageMetrics]) -> list[StageMetrics]:
    """The stages customers can be seen entering: a stage of touchpoints only is left out, not shown as zero."""
    untracked = {s.id for s in stages if not s.tracked}
    return [m for m in metrics if m.stage_id not in untracked]


def _share(part: int, whole: int) -> str:
    share = _percent(part, whole)
    return "—" if share is None else f"{share:.0f}%"


def stage_funnel(stages: Sequence[StageView], metrics: Sequence[StageMetrics]) -> go.Figure:
    """Customers who entered each stage, top to bottom in stage order, with the share of the stage before."""
    figure = go.Figure(
        layout=_layout(
            "Stage funnel",
            "Customers who entered each stage · % of the stage before",
            height=max(CHART_HEIGHT, 130 + 52 * len(metrics)),
        )
    )
    shown = _tracked(stages, metrics)
    if not shown or all(m.entered == 0 for m in shown):
        return _empty(figure, "No customers entered a stage in this window")
    names = _stage_names(stages)
    labels = [names.get(m.stage_id, m.stage_id) for m in shown]
    counts = [m.entered for m in shown]
    texts = [format_count(counts[0])]
    for before, stage in itertools.pairwise(shown):
        texts.append(f"{format_count(stage.entered)} · {_share(stage.entered, before.entered)}")
    figure.add_bar(
        x=counts,
        y=labels,
        orientation="h",
        marker={"color": ACCENT},
        text=texts,
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: %{x:,} customers<extra></extra>",
        name="Entered",
    )
    figure.update_layout(
        xaxis=_axis("Customers", range=[0, max(counts) * 1.3], dtick=_count_tick(max(counts))),
        yaxis=_axis(autorange="reversed", showgrid=False),
    )
    return figure


def velocity_distribution(
    stages: Sequence[StageView], velocity: Sequence[StageVelocity], metrics: Sequence[StageMetrics]
) -> go.Figure:
    """Per stage, how long customers took to move on: the share in each time bucket, with the median."""
    untracked = {s.id for s in stages if not s.tracked}
    velocity = [v for v in velocity if v.stage_id not in untracked]
    figure = go.Figure(
        layout=_layout(
            "Time to the next stage",
            "Share of the customers who moved on, by how long it took (%)",
            height=max(CHART_HEIGHT, 170 + 60 * len(velocity)),
            legend_rows=2,
        )
    )
    if not velocity or all(v.customers == 0 for v in velocity):
        return _empty(figure, "Nobody moved on to a next stage in this window")
    names = _stage_names(stages)
    medians = {m.stage_id: m.velocity_median for m in metrics}
    rows = []
    for v in velocity:
        detail = (
            f"median {format_duration(medians.get(v.stage_id))} · {format_count(v.customers)} moved on"
            if v.customers
            else "nobody moved on"
        )
        rows.append(
            f"{names.get(v.stage_id, v.stage_id)} → {names.get(v.next_stage_id, v.next_stage_id)}<br>"
            f"<span style='font-size:11px;color:{MUTED}'>{detail}</span>"
        )
    for index, label in enumerate(b.label for b in velocity[0].buckets):
        customers = [v.buckets[index].customers for v in velocity]
        shares = [_percent(c, v.customers) or 0.0 for c, v in zip(customers, velocity, strict=True)]
        figure.add_bar(
            x=shares,
            y=rows,
            orientation="h",
            name=label,
            marker={"color": BUCKET_COLORS[index], "line": {"color": "white", "width": 1}},
            text=[f"{share:.0f}%" if share >= MIN_LABELLED_SHARE else "" for share in shares],
            textposition="inside",
            insidetextanchor="middle",
            textfont={"color": BUCKET_TEXT[index], "size": 11},
            customdata=customers,
            hovertemplate=f"{label}: %{{customdata:,}} customers (%{{x:.0f}}%)<extra></extra>",
        )
    figure.update_layout(
        barmode="stack",
        xaxis=_axis("Customers who moved on (%)", range=[0, 100], ticksuffix="%"),
        yaxis=_axis(autorange="reversed", showgrid=False),
    )
    return figure


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


def conversion_over_time(daily: Sequence[DailyConversion]) -> go.Figure:
    """Per UTC day: customers who entered (bars) and the share of them who reached the goal (line)."""
    rolling = len(daily) >= ROLLING_FROM
    rate_name = f"Goal conversion, trailing {ROLLING_DAYS} days (%)" if rolling else "Goal conversion (%)"
    figure = go.Figure(
        layout=_layout(
            "Goal conversion over time",
            "Per UTC day: customers who entered, and the % of them who reached the goal",
            legend_rows=1,
        )
    )
    if not daily or all(d.entered == 0 for d in daily):
        return _empty(figure, "No customers entered in this window")
    if len(daily) > LONG_SERIES:
        daily = _from_first_activity(daily)
    days = [d.day.isoformat() for d in daily]
    rates = rolling_rates(daily, ROLLING_DAYS if rolling else 1)
    figure.add_bar(
        x=days,
        y=[d.entered for d in daily],
        name="Entered (customers)",
        marker={"color": ACCENT_SOFT},
        hovertemplate="%{x|%d %b}: %{y:,} entered<extra></extra>",
    )
    figure.add_scatter(
        x=days,
        y=rates,
        name=rate_name,
        yaxis="y2",
        mode="lines+markers" if len(days) <= ROLLING_FROM else "lines",
        line={"color": ACCENT, "width": 2.5, "shape": "spline", "smoothing": 0.4},
        marker={"size": 6},
        connectgaps=False,
        hovertemplate="%{x|%d %b}: %{y:.1f}%<extra>" + rate_name + "</extra>",
    )
    top = max((r for r in rates if r is not None), default=0.0)
    figure.update_layout(
        xaxis=_axis(
            type="date",
            tickformat="%d %b" if len(days) <= LONG_SERIES * 2 else "%b %Y",
            showgrid=False,
            dtick=_day_tick(len(days)),
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


def _nice_top(percent: float) -> float:
    """The top of a percentage axis: a round number above the highest value, at most 100."""
    for top in (10.0, 20.0, 25.0, 40.0, 50.0, 60.0, 80.0, 100.0):
        if percent * 1.1 <= top:
            return top
    return 100.0


def _day_tick(days: int) -> int | None:
    """Milliseconds between date ticks: every day for a week, weekly for a month, then plotly's choice."""
    day = 86_400_000
    if days <= 8:
        return day
    if days <= 31:
        return 7 * day
    return None


def _channel(channel: str | None) -> str:
    return CHANNEL_LABELS.get(channel, channel) if channel else NO_CHANNEL


def recovery_by_channel(recovery: Sequence[ChannelRecovery]) -> go.Figure:
    """Customers who reached the goal, by the channel of the last message delivered before it."""
    figure = go.Figure(
        layout=_layout(
            "Recovery by channel",
            "Customers who reached the goal, by the last channel delivered to them before it",
            height=max(CHART_HEIGHT, 140 + 44 * len(recovery)),
        )
    )
    total = sum(r.customers for r in recovery)
    if total == 0:
        return _empty(figure, "No customer reached the goal in this window")
    labels = [_channel(r.channel) for r in recovery]
    counts = [r.customers for r in recovery]
    figure.add_bar(
        x=counts,
        y=labels,
        orientation="h",
        marker={"color": [NEUTRAL if r.channel is None else ACCENT for r in recovery]},
        text=[f"{format_count(c)} · {_percent(c, total):.0f}%" for c in counts],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{y}: %{x:,} customers<extra></extra>",
        name="Customers",
    )
    figure.update_layout(
        xaxis=_axis("Customers who reached the goal", range=[0, max(counts) * 1.3], dtick=_count_tick(max(counts))),
        yaxis=_axis(autorange="reversed", showgrid=False),
    )
    return figure


def split_results(splits: Sequence[SplitResult], titles: dict[str, str]) -> go.Figure:
    """Each split's arms side by side: goal conversion, with the p-value against the first arm above each."""
    small = any(s.small_sample for s in splits)
    subtitle = (
        "Small sample: too few customers or conversions to call a winner yet"
        if small
        else "Goal conversion per arm (%), each arm compared with the split's first"
    )
    figure = go.Figure(layout=_layout("Split results", subtitle))
    if small:
        figure.update_layout(title_subtitle_font_color=WARNING)
    if not any(a.customers for s in splits for a in s.arms):
        return _empty(figure, "No customer reached a split in this window")
    groups, arms, rates, texts, colors, notes = [], [], [], [], [], []
    for split in splits:
        first = split.arms[0].arm
        for index, arm in enumerate(split.arms):
            groups.append(titles.get(split.node_id, split.node_id))
            arms.append(f"{arm.arm} (holdout)" if arm.holdout else arm.arm)
            rates.append(_percent(arm.reached_goal, arm.customers) or 0.0)
            texts.append(f"{format_rate(arm.rate)} · {arm.reached_goal:,}/{arm.customers:,}")
            colors.append(NEUTRAL if arm.holdout or index == 0 else ACCENT)
            notes.append("" if index == 0 else _against(arm.p_value, first))
    figure.add_bar(
        x=[groups, arms],
        y=rates,
        marker={"color": colors},
        text=texts,
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{x}: %{y:.1f}% reached the goal<extra></extra>",
        name="Goal conversion",
    )
    figure.update_layout(
        xaxis=_axis(type="multicategory", showgrid=False, showdividers=True, dividercolor=GRID),
        yaxis=_axis("Goal conversion (%)", range=[0, _nice_top(max(rates) * 1.25)], ticksuffix="%"),
        annotations=[
            {
                "x": [group, arm],
                "y": rate,
                "text": note,
                "showarrow": False,
                "yshift": 32,
                "font": {"size": 11, "color": WARNING if small else MUTED},
            }
            for group, arm, rate, note in zip(groups, arms, rates, notes, strict=True)
            if note
        ],
    )
    return figure


def _against(p: float | None, first: str) -> str:
    """The p-value of an arm against the first, as a note above its bar."""
    if p is None:
        return "too few to compare"
    return f"p < 0.001 vs {first}" if p < 0.001 else f"p = {p:.3f} vs {first}"


def emotion_and_drop_off(stages: Sequence[StageView], metrics: Sequence[StageMetrics]) -> go.Figure:
    """Per stage, on one stage axis: the map's emotion curve (upper band) above the share of the stage's
    entrants who dropped off (lower band). Two bands rather than two overlaid scales: the line never
    crosses the bars or their labels."""
    figure = go.Figure(
        layout=_layout(
            "Emotion and drop-off by stage",
            "Emotion from the map (-2 to +2) · dropped off: % of the stage's entrants who left",
        )
    )
    if not stages:
        return _empty(figure, "This journey has no published stages yet")
    by_id = {m.stage_id: m for m in metrics}
    names = [s.name for s in stages]
    drops: list[float | None] = []
    texts: list[str] = []
    for stage in stages:
        m = by_id.get(stage.id) if stage.tracked else None
        rate = _percent(m.dropped_off, m.entered) if m is not None else None
        drops.append(rate)
        texts.append("" if m is None or rate is None else f"{rate:.0f}% · {m.dropped_off:,}")
    figure.add_bar(
        x=names,
        y=drops,
        name="Dropped off (%)",
        marker={"color": DROP, "opacity": 0.8},
        text=texts,
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{x}: %{y:.1f}% dropped off<extra></extra>",
    )
    figure.add_scatter(
        x=names,
        y=[s.emotion for s in stages],
        name="Emotion",
        yaxis="y2",
        mode="lines+markers",
        line={"color": ACCENT, "width": 3, "shape": "spline", "smoothing": 0.8},
        marker={"size": 9, "color": ACCENT, "line": {"color": "white", "width": 2}},
        connectgaps=False,
        hovertemplate="%{x}: emotion %{y:+.1f}<extra></extra>",
    )
    top = max((d for d in drops if d is not None), default=0.0)
    figure.update_layout(
        xaxis=_axis(showgrid=False, anchor="y"),
        yaxis=_axis("Dropped off", range=[0, _nice_top(top * 1.2)], ticksuffix="%", domain=[0, 0.48], nticks=4),
        yaxis2=_axis(
            "Emotion",
            domain=[0.6, 1],
            anchor="x",
            range=[-2.5, 2.5],
            tickvals=[-2, 0, 2],
            ticktext=["-2 angry", "0", "+2 delighted"],
            zeroline=True,
            zerolinecolor=NEUTRAL,
        ),
    )
    return figure


def sparkline(trend: JourneyTrend) -> go.Figure:
    """A journey's entries per day as a tiny area line: no axes, no title, a hover per day."""
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
        x=[d.day.isoformat() for d in trend.days],
        y=[d.entered for d in trend.days],
        mode="lines",
        line={"color": ACCENT, "width": 1.5, "shape": "spline", "smoothing": 0.6},
        fill="tozeroy",
        fillcolor="rgba(110, 86, 207, 0.12)",
        hovertemplate="%{x|%d %b}: %{y:,} entered<extra></extra>",
    )
    return figure


def _hours(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 3600:.2f}"


def _pct(part: int, whole: int) -> str:
    share = _percent(part, whole)
    return "" if share is None else f"{share:.1f}"


def _rate(rate: float | None) -> str:
    return "" if rate is None else f"{100 * rate:.1f}"


def _window_text(report: JourneyReport, window_label: str) -> str:
    f = report.filter
    since = f"{f.since:%Y-%m-%d %H:%M} UTC" if f.since else "the first customer"
    until = f"{f.until:%Y-%m-%d %H:%M} UTC" if f.until else "now"
    return f"{window_label} ({since} to {until})"


def report_csv(report: JourneyReport, *, window_label: str, generated_at: datetime) -> str:
    """Every chart's table in one CSV, section after section, for a spreadsheet.

    One file rather than one per chart: an executive forwards or opens one thing. Each section starts
    with its title, then a header row whose column names carry the units. A byte-order mark lets
    Excel read the UTF-8 (stage names, arrows) correctly.
    """
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    names = _stage_names(report.stages)
    f = report.filter
    writer.writerows(
        [
            ["Journey", report.journey_name],
            ["Window", _window_text(report, window_label)],
            ["Version", f"v{f.version}" if f.version is not None else "All versions"],
            ["Generated", f"{generated_at:%Y-%m-%d %H:%M} UTC"],
        ]
    )
    c = report.cohort
    _section(
        writer,
        "Headline",
        [
            "Entered (customers)",
            "Reached goal (customers)",
            "Goal conversion (%)",
            "Dropped off (customers)",
            "In flight (customers)",
        ],
        [[c.entered, c.reached_goal, _rate(c.goal_rate), c.dropped_off, c.in_flight]],
    )
    _section(
        writer,
        "Stage funnel",
        [
            "Stage",
            "Entered (customers)",
            "Moved on (customers)",
            "Conversion to next stage (%)",
            "Dropped off (customers)",
            "Reached goal (customers)",
            "In flight (customers)",
            "Median time to next stage (hours)",
            "90th percentile time to next stage (hours)",
        ],
        [
            [
                names.get(m.stage_id, m.stage_id),
                m.entered,
                "" if m.moved_on is None else m.moved_on,
                _rate(m.conversion),
                m.dropped_off,
                m.reached_goal,
                m.in_flight,
                _hours(m.velocity_median),
                _hours(m.velocity_p90),
            ]
            for m in _tracked(report.stages, report.stage_metrics)
        ],
    )
    untracked = {s.id for s in report.stages if not s.tracked}
    buckets = [b.label for b in report.velocity[0].buckets] if report.velocity else []
    _section(
        writer,
        "Time to the next stage",
        ["From stage", "To stage", "Moved on (customers)", *[f"{label} (customers)" for label in buckets]],
        [
            [
                names.get(v.stage_id, v.stage_id),
                names.get(v.next_stage_id, v.next_stage_id),
                v.customers,
                *[b.customers for b in v.buckets],
            ]
            for v in report.velocity
            if v.stage_id not in untracked
        ],
    )
    _section(
        writer,
        "Goal conversion over time",
        [
            "Day (UTC)",
            "Entered (customers)",
            "Of them reached goal (customers)",
            "Goal conversion (%)",
            "Goals reached that day (customers)",
        ],
        [
            [d.day.isoformat(), d.entered, d.converted, _pct(d.converted, d.entered), d.goals_reached]
            for d in (_from_first_activity(report.daily) if len(report.daily) > LONG_SERIES else report.daily)
        ],
    )
    recovered = sum(r.customers for r in report.recovery)
    _section(
        writer,
        "Recovery by channel",
        ["Last channel before the goal", "Customers", "Share of customers who reached the goal (%)"],
        [
            [
                CHANNEL_LABELS.get(r.channel, r.channel) if r.channel else NO_CHANNEL,
                r.customers,
                _pct(r.customers, recovered),
            ]
            for r in report.recovery
        ],
    )
    _section(
        writer,
        "Split results",
        [
            "Split",
            "Arm",
            "Holdout",
            "Customers",
            "Reached goal (customers)",
            "Goal conversion (%)",
            "p-value against the first arm",
            "Small sample",
        ],
        [
            [
                report.node_titles.get(s.node_id, s.node_id),
                a.arm,
                "yes" if a.holdout else "no",
                a.customers,
                a.reached_goal,
                _rate(a.rate),
                "" if a.p_value is None else f"{a.p_value:.4f}",
                "yes" if a.small_sample else "no",
            ]
            for s in report.splits
            for a in s.arms
        ],
    )
    by_id = {m.stage_id: m for m in _tracked(report.stages, report.stage_metrics)}
    _section(
        writer,
        "Emotion and drop-off by stage",
        ["Stage", "Emotion (-2 to +2)", "Entered (customers)", "Dropped off (customers)", "Dropped off (%)"],
        [
            [
                s.name,
                "" if s.emotion is None else f"{s.emotion:+.2f}",
                by_id[s.id].entered if s.id in by_id else "",
                by_id[s.id].dropped_off if s.id in by_id else "",
                _pct(by_id[s.id].dropped_off, by_id[s.id].entered) if s.id in by_id else "",
            ]
            for s in report.stages
        ],
    )
    return out.getvalue()


def _section(writer: Any, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    writer.writerow([])
    writer.writerow([title])
    writer.writerow(header)
    writer.writerows(rows)
