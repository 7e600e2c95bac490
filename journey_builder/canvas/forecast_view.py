"""What the forecast draws on the map and in its panel: an engine ``Forecast`` as short, ready-to-read strings,
keyed by the map's ids like the KPI overlay's (``overlay_view``), every one saying it is a forecast. Nothing here
computes a figure: it formats."""

from __future__ import annotations

import dataclasses

from engine.forecast import Forecast, NodeForecast, StageForecast

from .overlay_view import NodeFigures, OverlayView, StageFigures, count, percent

HELD_ORDER = ("frequency cap", "quiet hours", "consent", "no address")


@dataclasses.dataclass(frozen=True)
class ChannelRow:
    channel: str
    sent: str
    held: str


@dataclasses.dataclass(frozen=True)
class CompareRow:
    """One node of the draft beside the live version: who would enter and what would be sent."""

    title: str
    draft: str
    live: str
    changed: bool


@dataclasses.dataclass(frozen=True)
class ForecastPanel:
    title: str = ""
    window: str = ""
    entered: str = ""
    goal: str = ""
    channels: list[ChannelRow] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def held_text(held: dict[str, int]) -> str:
    """ "cap 3 · quiet hours 9", in a fixed order; empty when nothing was held."""
    parts = [f"{kind} {count(held[kind])}" for kind in HELD_ORDER if held.get(kind)]
    return " · ".join(parts)


def forecast_node_figures(node: NodeForecast) -> NodeFigures:
    counts = f"{count(node.customers)} would enter"
    if node.waiting:
        counts += f" · {count(node.waiting)} waiting at end"
    messages = ""
    if node.channel is not None:
        messages = f"would send {count(node.sent)}"
        held = held_text(node.held)
        messages += f" · held: {held}" if held else ""
    if node.event_path is not None:
        messages = f"event path {count(node.event_path.low)} to {count(node.event_path.high)} (unknown)"
    return NodeFigures(counts=counts, messages=messages, customers=node.customers)


def forecast_stage_figures(stage: StageForecast, *, last: bool) -> StageFigures:
    if not stage.entered:
        return StageFigures(headline="—", velocity="", counts="nobody would enter")
    if last:
        headline = f"{percent(stage.reached_goal / stage.entered)} would reach the goal"
    else:
        headline = f"{percent(stage.conversion)} → next" if stage.conversion is not None else "—"
    counts = f"{count(stage.entered)} would enter"
    if stage.dropped_off:
        counts += f" · {count(stage.dropped_off)} would drop off"
    velocity = f"{count(stage.in_flight)} still inside at the end" if stage.in_flight else ""
    return StageFigures(headline=headline, velocity=velocity, counts=counts)


def version_label(version: int | None) -> str:
    return "the draft" if version is None else f"version {version}"


def goal_text(result: Forecast) -> str:
    low, high = result.goal_reached.low, result.goal_reached.high
    reached = count(low) if low == high else f"{count(low)} to {count(high)}"
    return f"Would reach the goal: {reached} of {count(result.entered)}"


def forecast_overlay(result: Forecast, *, stamp: float) -> OverlayView:
    last = len(result.stages) - 1
    days = (result.until - result.since).total_seconds() / 86400
    span = f"{days:g} days" if days >= 1 else f"{days * 24:g} hours"
    return OverlayView(
        on=True,
        forecast=True,
        window="forecast",
        legend=f"FORECAST · {version_label(result.version)} · the last {span} of events replayed, nothing sent",
        goal=goal_text(result),
        note="" if result.events else "No stored events in this window: nothing to replay.",
        stamp=stamp,
        stages={s.stage_id: forecast_stage_figures(s, last=i == last) for i, s in enumerate(result.stages)},
        nodes={n.node_id: forecast_node_figures(n) for n in result.nodes},
        edges={},
    )


def panel_of(result: Forecast) -> ForecastPanel:
    return ForecastPanel(
        title=f"Forecast of {version_label(result.version)}",
        window=f"{result.since:%Y-%m-%d %H:%M:%S} to {result.until:%Y-%m-%d %H:%M:%S} UTC · "
        f"{count(result.events)} events of {count(result.customers)} customers replayed",
        entered=f"Would enter: {count(result.entered)}",
        goal=goal_text(result),
        channels=[
            ChannelRow(channel=c.channel, sent=count(c.sent), held=held_text(c.held) or "—") for c in result.channels
        ],
        notes=list(result.notes),
    )


def _node_line(node: NodeForecast | None) -> str:
    if node is None:
        return "not in this version"
    line = f"{count(node.customers)} enter"
    return line + (f" · {count(node.sent)} sent" if node.channel is not None else "")


def compare_rows(draft: Forecast, live: Forecast, titles: dict[str, str]) -> list[CompareRow]:
    """Every node of either version, the draft's order first: what each version would do there."""
    order = [n.node_id for n in draft.nodes] + [n.node_id for n in live.nodes if draft.node(n.node_id) is None]
    rows = []
    for node_id in order:
        ours, theirs = _node_line(draft.node(node_id)), _node_line(live.node(node_id))
        rows.append(CompareRow(title=titles.get(node_id, node_id), draft=ours, live=theirs, changed=ours != theirs))
    return rows
