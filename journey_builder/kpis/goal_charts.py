"""Figures of who reached the goal: recovery by the last channel before it, and the arms of each split."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from engine.kpis import ChannelRecovery, SplitResult
from journey_builder.kpis.charts import (
    ACCENT,
    CHART_HEIGHT,
    GRID,
    MUTED,
    NEUTRAL,
    WARNING,
    _axis,
    _count_tick,
    _empty,
    _layout,
    _nice_top,
    plain,
)
from journey_builder.kpis.formatting import CHANNEL_LABELS, NO_CHANNEL, _percent, format_count, format_rate


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
    labels = [plain(_channel(r.channel)) for r in recovery]
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
        first = plain(split.arms[0].arm)
        for index, arm in enumerate(split.arms):
            groups.append(plain(titles.get(split.node_id, split.node_id)))
            arms.append(f"{plain(arm.arm)} (holdout)" if arm.holdout else plain(arm.arm))
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
