"""Figures per journey stage: the stage funnel, the time to the next stage, emotion and drop-off."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from engine.kpis import StageMetrics, StageVelocity, StageView
from journey_builder.kpis.charts import (
    ACCENT,
    BUCKET_COLORS,
    BUCKET_TEXT,
    CHART_HEIGHT,
    DROP,
    MIN_LABELLED_SHARE,
    MUTED,
    NEUTRAL,
    _axis,
    _count_tick,
    _empty,
    _layout,
    _nice_top,
    plain,
)
from journey_builder.kpis.formatting import _percent, format_count, format_duration


def _stage_names(stages: Sequence[StageView]) -> dict[str, str]:
    return {s.id: s.name for s in stages}


def _tracked(stages: Sequence[StageView], metrics: Sequence[StageMetrics]) -> list[StageMetrics]:
    """The stages customers can be seen entering: a stage of touchpoints only is left out, not shown as zero."""
    untracked = {s.id for s in stages if not s.tracked}
    return [m for m in metrics if m.stage_id not in untracked]


def _share(part: int, whole: int) -> str:
    share = _percent(part, whole)
    return "—" if share is None else f"{share:.0f}%"


def _onward(stage: StageMetrics) -> str:
    """What became of a stage's visits, as the map's lane says it: "60% → next", or for the last stage
    "80% reached the goal". The share is the engine's conversion (moved on / entered), so a stage entered
    from further back (a goal reached from an earlier stage) never lends its entries to the stage before."""
    if stage.moved_on is None:
        return f"{_share(stage.reached_goal, stage.entered)} reached the goal"
    share = "—" if stage.conversion is None else f"{100 * stage.conversion:.0f}%"
    return f"{share} → next"


def stage_funnel(stages: Sequence[StageView], metrics: Sequence[StageMetrics]) -> go.Figure:
    """Customers who entered each stage, top to bottom in stage order, with the share of them who moved on."""
    figure = go.Figure(
        layout=_layout(
            "Stage funnel",
            "Customers who entered each stage · % of them who moved on to the next (last: reached the goal)",
            height=max(CHART_HEIGHT, 130 + 52 * len(metrics)),
        )
    )
    shown = _tracked(stages, metrics)
    if not shown or all(m.entered == 0 for m in shown):
        return _empty(figure, "No customers entered a stage in this window")
    names = _stage_names(stages)
    labels = [plain(names.get(m.stage_id, m.stage_id)) for m in shown]
    counts = [m.entered for m in shown]
    texts = [f"{format_count(m.entered)} · {_onward(m)}" if m.entered else "0" for m in shown]
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
            f"{plain(names.get(v.stage_id, v.stage_id))} → {plain(names.get(v.next_stage_id, v.next_stage_id))}<br>"
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
    names = [plain(s.name) for s in stages]
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
