"""What the KPI overlay draws on the map: the engine's figures as short, ready-to-read strings.

Keyed by the map's own ids (stage, node, edge), so the canvas lays them over the cards it already
draws without touching their positions. Nothing here queries anything: it formats a ``JourneyOverlay``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from enum import StrEnum

from engine.kpis import (
    EdgeShare,
    GoalConversion,
    InAppCard,
    JourneyOverlay,
    KpiWindow,
    MetricsFilter,
    NodeMetrics,
    StageMetrics,
    TaskCardMetrics,
    window_filter,
)

# Edge thickness in pixels: a path nobody took is drawn thinnest, one everybody took thickest.
MIN_EDGE_WIDTH = 1.5
MAX_EDGE_WIDTH = 8.0


class OverlayWindow(StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"
    ALL = "all"

    @property
    def label(self) -> str:
        return WINDOW_LABELS[self]

    def metrics_filter(self, journey_id: int, now: datetime) -> MetricsFilter:
        # The same windows as the KPI page and `journey kpis`: one definition, in the engine.
        return window_filter(KpiWindow(self.value), journey_id=journey_id, now=now)


WINDOW_LABELS = {
    OverlayWindow.DAY: "Last 24 hours",
    OverlayWindow.WEEK: "Last 7 days",
    OverlayWindow.MONTH: "Last 30 days",
    OverlayWindow.ALL: "All time",
}


@dataclasses.dataclass(frozen=True)
class StageFigures:
    headline: str  # "62% → next", or for the last stage "20% reached the goal"
    velocity: str  # "median 1 h 12 m · p90 5 h"; says so while nobody has moved on; empty for the last stage
    counts: str  # "1,204 entered · 37 dropped off", or "no customers yet"


@dataclasses.dataclass(frozen=True)
class NodeFigures:
    counts: str  # "1,204 entered · 37 waiting"
    messages: str  # "sent 900 · failed 3", with "opened 40% · clicked 12%" for in-app cards; empty for non-sends
    customers: int
    tasks: str = ""  # a human-task card: "12 tasks · 9 done in time · 2 overdue · median 3 h"
    outcomes: str = ""  # its outcome shares: "reached 60% · no answer 40%"


@dataclasses.dataclass(frozen=True)
class EdgeFigures:
    label: str  # "62%"
    width: float  # stroke width in pixels, by share
    customers: int


@dataclasses.dataclass(frozen=True)
class OverlayView:
    """Everything the canvas needs to draw the overlay; ``stamp`` changes at every refresh."""

    on: bool = False
    # Figures of a forecast (journey_builder/canvas/forecast_view.py), not of what happened: drawn marked as such.
    forecast: bool = False
    window: str = OverlayWindow.ALL.value
    legend: str = ""
    goal: str = ""
    note: str = ""
    stamp: float = 0.0
    stages: dict[str, StageFigures] = dataclasses.field(default_factory=dict)
    nodes: dict[str, NodeFigures] = dataclasses.field(default_factory=dict)
    edges: dict[str, EdgeFigures] = dataclasses.field(default_factory=dict)


def count(value: int) -> str:
    """1204 as "1,204"."""
    return f"{value:,}"


def percent(share: float) -> str:
    """A share as a whole percentage; never rounded to 0% or 100% when it is not exactly that."""
    if share <= 0:
        return "0%"
    if share >= 1:
        return "100%"
    if share < 0.01:
        return "<1%"
    if share > 0.99:
        return ">99%"
    return f"{round(share * 100)}%"


def short_duration(delta: timedelta) -> str:
    """A time as its two largest units: "1 h 12 m", "5 h", "2 d 3 h", "40 s", "< 1 s"."""
    seconds = int(delta.total_seconds())
    if seconds < 1:
        return "< 1 s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
        elif parts:
            # Units stay adjacent: "1 h 0 m 5 s" is shown as "1 h", not "1 h 5 s".
            break
    return " ".join(parts[:2])


def stage_figures(stage: StageMetrics, *, last: bool) -> StageFigures:
    if not stage.entered:
        return StageFigures(headline="—", velocity="", counts="no customers yet")
    if last:
        headline = f"{percent(stage.reached_goal / stage.entered)} reached the goal"
    else:
        headline = f"{percent(stage.conversion)} → next" if stage.conversion is not None else "—"
    velocity = "" if last else "no one has moved on yet"
    if stage.velocity_median is not None and stage.velocity_p90 is not None:
        velocity = f"median {short_duration(stage.velocity_median)} · p90 {short_duration(stage.velocity_p90)}"
    counts = f"{count(stage.entered)} entered"
    if stage.dropped_off:
        counts += f" · {count(stage.dropped_off)} dropped off"
    return StageFigures(headline=headline, velocity=velocity, counts=counts)


def in_app_line(card: InAppCard) -> str:
    """An in-app card's open and click rates, of the messages that reached inboxes."""
    if not card.delivered:
        return ""
    return f"opened {percent(card.open_rate or 0.0)} · clicked {percent(card.click_rate or 0.0)}"


def node_figures(node: NodeMetrics, card: InAppCard | None = None) -> NodeFigures:
    counts = f"{count(node.customers)} entered"
    if node.waiting:
        counts += f" · {count(node.waiting)} waiting"
    messages = ""
    if node.sent or node.suppressed:
        parts = [f"sent {count(node.sent)}"]
        parts += [f"failed {count(node.failed)}"] if node.failed else []
        parts += [f"suppressed {count(node.suppressed)}"] if node.suppressed else []
        parts += [line] if card is not None and (line := in_app_line(card)) else []
        messages = " · ".join(parts)
    return NodeFigures(counts=counts, messages=messages, customers=node.customers)


def with_task_figures(figures: NodeFigures, task: TaskCardMetrics) -> NodeFigures:
    parts = [f"{count(task.created)} task{'' if task.created == 1 else 's'}"]
    parts.append(f"{count(task.done_within_due)} done in time")
    parts += [f"{count(task.overdue)} overdue"] if task.overdue else []
    parts += [f"{count(task.closed_without_outcome)} closed without outcome"] if task.closed_without_outcome else []
    if task.median_to_outcome_seconds is not None:
        parts.append(f"median {short_duration(timedelta(seconds=task.median_to_outcome_seconds))}")
    outcomes = " · ".join(f"{share.outcome} {percent(share.share)}" for share in task.outcomes)
    return dataclasses.replace(figures, tasks=" · ".join(parts), outcomes=outcomes)


def edge_width(share: float) -> float:
    return round(MIN_EDGE_WIDTH + (MAX_EDGE_WIDTH - MIN_EDGE_WIDTH) * min(max(share, 0.0), 1.0), 2)


def edge_figures(shares: tuple[EdgeShare, ...]) -> dict[str, EdgeFigures]:
    """Per map edge id: the share of the source's customers who went that way.

    Edges nobody took are left out; the canvas fades them.
    """
    customers: dict[str, int] = {}
    share: dict[str, float] = {}
    for path in shares:
        for edge_id in path.edge_ids:
            customers[edge_id] = customers.get(edge_id, 0) + path.customers
            share[edge_id] = share.get(edge_id, 0.0) + (path.share or 0.0)
    return {
        edge_id: EdgeFigures(label=percent(share[edge_id]), width=edge_width(share[edge_id]), customers=taken)
        for edge_id, taken in customers.items()
        if taken
    }


def goal_line(goal: GoalConversion) -> str:
    if not goal.entered:
        return "No customers entered yet"
    rate = percent(goal.rate or 0.0)
    return f"Goal reached by {count(goal.reached_goal)} of {count(goal.entered)} customers ({rate})"


def overlay_view(
    overlay: JourneyOverlay, window: OverlayWindow, *, stamp: float, tasks: tuple[TaskCardMetrics, ...] = ()
) -> OverlayView:
    last = len(overlay.stages) - 1
    cards = {card.node_id: card for card in overlay.in_app}
    nodes = {node.node_id: node_figures(node, cards.get(node.node_id)) for node in overlay.nodes}
    for task in tasks:
        if task.node_id in nodes:
            nodes[task.node_id] = with_task_figures(nodes[task.node_id], task)
    note = "" if overlay.stages or overlay.nodes else "Not published yet: figures appear once customers run it."
    return OverlayView(
        on=True,
        window=window.value,
        legend=window.label,
        goal=goal_line(overlay.goal),
        note=note,
        stamp=stamp,
        stages={stage.stage_id: stage_figures(stage, last=i == last) for i, stage in enumerate(overlay.stages)},
        nodes=nodes,
        edges=edge_figures(overlay.edges),
    )


def unavailable(window: OverlayWindow, reason: str, *, stamp: float) -> OverlayView:
    """An overlay that says why there are no figures (a journey gone, a database that did not answer)."""
    return OverlayView(on=True, window=window.value, legend=window.label, note=reason, stamp=stamp)
