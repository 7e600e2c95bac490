"""A journey's overlay as plain data: the figures the map shows, keyed by stage and node id, for the
command line and anyone who scripts reports. Only renames and flattens; it computes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.kpis.figures import JourneyOverlay


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _seconds(span: timedelta | None) -> float | None:
    return span.total_seconds() if span is not None else None


def overlay_summary(overlay: JourneyOverlay, *, journey_name: str) -> dict[str, Any]:
    """The overlay as JSON-ready data: journey entries and goals, and per stage and per node."""
    return {
        "journey_id": overlay.filter.journey_id,
        "journey": journey_name,
        "version": overlay.filter.version,
        "since": _iso(overlay.filter.since),
        "until": _iso(overlay.filter.until),
        "entered": overlay.goal.entered,
        "goal_reached": overlay.goal.reached_goal,
        "goal_rate": overlay.goal.rate,
        "stages": {
            stage.stage_id: {
                "entered": stage.entered,
                "moved_on": stage.moved_on,
                "dropped_off": stage.dropped_off,
                "reached_goal": stage.reached_goal,
                "in_flight": stage.in_flight,
                "conversion": stage.conversion,
                "median_seconds_to_next": _seconds(stage.velocity_median),
                "p90_seconds_to_next": _seconds(stage.velocity_p90),
            }
            for stage in overlay.stages
        },
        "nodes": {
            node.node_id: {
                "entered": node.entries,
                "customers": node.customers,
                "waiting": node.waiting,
                "sent": node.sent,
                "delivered": node.delivered,
                "failed": node.failed,
                "suppressed": node.suppressed,
                "skipped": node.skipped,
            }
            for node in overlay.nodes
        },
        "in_app": {
            card.node_id: {
                "delivered": card.delivered,
                "opened": card.opened,
                "clicked": card.clicked,
                "dismissed": card.dismissed,
                "open_rate": card.open_rate,
                "click_rate": card.click_rate,
            }
            for card in overlay.in_app
        },
    }
