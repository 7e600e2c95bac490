"""``journey kpis``: a journey's KPIs for a window, the same figures as the map's overlay, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.cli.common import CommandFailedError, table
from engine.journeys import JourneyNotFoundError, JourneyReferenceError, draft_of, resolve_journey
from engine.kpis import KpiWindow, journey_overlay, overlay_summary, window_filter
from engine.map import JourneyMap
from engine.runtime import latest_version
from engine.store import session_scope

WINDOWS = [KpiWindow.LAST_24H, KpiWindow.LAST_7D, KpiWindow.LAST_30D, KpiWindow.ALL_TIME]


def kpis_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journey", metavar="JOURNEY", help="the journey's id or exact name")
    parser.add_argument(
        "--window",
        choices=[w.value for w in WINDOWS],
        default=KpiWindow.ALL_TIME.value,
        help="customers who did the thing measured in the last 24 hours, 7 or 30 days, or ever (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _as_text(summary: dict[str, Any], doc: JourneyMap) -> str:
    stage_names = {stage.id: stage.name for stage in doc.stages}
    node_titles = {node.id: node.title or node.id for node in doc.nodes}
    since, until = summary["since"], summary["until"]
    window = f"from {since} to {until}" if since else "all time"
    rate = summary["goal_rate"]
    stages = [
        [
            stage_names.get(stage_id, stage_id),
            _count(f["entered"]),
            _count(f["moved_on"]),
            _count(f["dropped_off"]),
            _count(f["reached_goal"]),
            _count(f["in_flight"]),
            _duration(f["median_seconds_to_next"]),
        ]
        for stage_id, f in summary["stages"].items()
    ]
    nodes = [
        [node_titles.get(node_id, node_id), _count(f["entered"]), _count(f["waiting"]), _count(f["sent"])]
        for node_id, f in summary["nodes"].items()
    ]
    in_app = [
        [
            node_titles.get(node_id, node_id),
            _count(f["delivered"]),
            _count(f["opened"]),
            _count(f["clicked"]),
            _count(f["dismissed"]),
            _rate(f["open_rate"]),
            _rate(f["click_rate"]),
        ]
        for node_id, f in summary["in_app"].items()
    ]
    in_app_table = [
        "",
        table(["in-app card", "delivered", "opened", "clicked", "dismissed", "open rate", "click rate"], in_app),
    ]
    return "\n".join(
        [
            f"{summary['journey']} (journey {summary['journey_id']}), {window}",
            f"entered {summary['entered']:,} · reached the goal {summary['goal_reached']:,}"
            + (f" ({rate:.1%})" if rate is not None else ""),
            "",
            table(
                ["stage", "entered", "moved on", "dropped off", "reached goal", "in flight", "median to next"], stages
            ),
            "",
            table(["node", "entered", "waiting now", "sent"], nodes),
            *(in_app_table if in_app else []),
        ]
    )


def kpis_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        try:
            journey = resolve_journey(session=session, reference=args.journey)
        except (JourneyNotFoundError, JourneyReferenceError) as error:
            raise CommandFailedError(str(error)) from None
        assert journey.id is not None
        overlay = journey_overlay(
            session=session, metrics_filter=window_filter(KpiWindow(args.window), journey_id=journey.id)
        )
        version = latest_version(session=session, journey_id=journey.id)
        doc = JourneyMap.model_validate(version.map) if version is not None else draft_of(journey)
        summary = overlay_summary(overlay, journey_name=journey.name)
    print(json.dumps(summary, indent=2) if args.json else _as_text(summary, doc))
    return 0
