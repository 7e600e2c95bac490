"""Live KPIs of a journey: SQL aggregates over what the engine already records.

Nothing here keeps counts of its own: every figure is a query over the transitions (a customer
entering a node), the enrollments (one row per run) and the outbox (one row per message). Only
aggregated rows come back to Python.

Each transition names the step the customer came from and when it had entered it, and a stage
entry the stage left, when it had been entered and how long that visit lasted; each run keeps the
step and stage it is at. So a move between two steps or two stages is one row, and every figure is
a count over an index range (or a bracketed percentile over one, see :mod:`engine.kpis.percentiles`):
no run's history is put back together to compute the overlay.

Windows select customers by when they did the thing being measured: entering a stage for the
stage metrics, entering a node for the node counts and edge shares, entering the journey for the
goal conversion. What happened next is counted up to the end of the window (``until``), so a
window in the past shows the figures as they stood at its end. Customers still in flight are
never counted as dropped.
"""

from __future__ import annotations

from sqlmodel import Session

from engine.kpis.figures import JourneyOverlay, MetricsFilter
from engine.kpis.in_app import scoped_in_app_cards
from engine.kpis.nodes import count_flows, edge_shares, scoped_node_metrics
from engine.kpis.outcomes import read_outcomes
from engine.kpis.scope import resolve_scope
from engine.kpis.stages import scoped_stage_metrics


def journey_overlay(*, session: Session, metrics_filter: MetricsFilter) -> JourneyOverlay:
    """Everything the canvas overlay draws, in one call: stages, nodes, edge shares and the goal."""
    scope = resolve_scope(session, metrics_filter)
    outcomes = read_outcomes(session, scope)
    flows = count_flows(session, scope, outcomes)
    return JourneyOverlay(
        filter=metrics_filter,
        stages=scoped_stage_metrics(session, scope, outcomes),
        nodes=scoped_node_metrics(session, scope, flows),
        edges=edge_shares(scope, flows),
        goal=outcomes.goal,
        in_app=scoped_in_app_cards(session, scope),
    )
