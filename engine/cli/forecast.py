"""``journey forecast``: what a journey version (or its draft) would have done over a past window of stored
events, replayed through the engine's own decisions: per stage, node and channel, as tables or JSON. Writes and
sends nothing."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.cli.common import CommandFailedError, table
from engine.forecast import DEFAULT_SINCE, ForecastError, forecast, forecast_summary, parse_since
from engine.journeys import JourneyNotFoundError, JourneyReferenceError, draft_of, resolve_journey
from engine.map import JourneyMap
from engine.store import JourneyVersion, session_scope


def _until(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an ISO date and time (2026-12-07T12:00:00Z)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _version(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) < 2**31:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a version number (1, 2, ...)")
    return int(text)


def forecast_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journey", metavar="JOURNEY", help="the journey's id or exact name")
    parser.add_argument(
        "--version", type=_version, metavar="N", help="a published version's number (default: the draft as it is now)"
    )
    parser.add_argument(
        "--since", default="7d", metavar="SPAN", help="how far back to replay: 7d, 24h, 90m, 2w or P7D (default: 7d)"
    )
    parser.add_argument("--until", type=_until, metavar="WHEN", help="the window's end, ISO (default: now)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _held(held: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n:,}" for kind, n in sorted(held.items())) or "-"


def _as_text(summary: dict[str, Any], doc: JourneyMap) -> str:
    stage_names = {stage.id: stage.name for stage in doc.stages}
    node_titles = {node.id: node.title or node.id for node in doc.nodes}
    version = "the draft" if summary["version"] is None else f"version {summary['version']}"
    goal = summary["goal_reached"]
    reached = f"{goal['low']:,}" if goal["low"] == goal["high"] else f"{goal['low']:,} to {goal['high']:,}"
    stages = [
        [
            stage_names.get(stage_id, stage_id),
            _count(f["entered"]),
            _count(f["moved_on"]),
            _count(f["dropped_off"]),
            _count(f["reached_goal"]),
            _count(f["in_flight"]),
        ]
        for stage_id, f in summary["stages"].items()
    ]
    nodes = [
        [
            node_titles.get(node_id, node_id),
            _count(f["entries"]),
            _count(f["waiting"]),
            _count(f["sent"]) if f["channel"] else "",
            _held(f["held"]) if f["channel"] else "",
        ]
        for node_id, f in summary["nodes"].items()
    ]
    channels = [
        [channel, _count(f["sent"]), _held(f["held"]), _count(f["pending"])]
        for channel, f in summary["channels"].items()
    ]
    return "\n".join(
        [
            f"FORECAST of {summary['journey']} (journey {summary['journey_id']}), {version}, "
            f"replaying {summary['since']} to {summary['until']}",
            f"{summary['events']:,} events of {summary['customers']:,} customers · would enter {summary['entered']:,}"
            f" · would reach the goal {reached}",
            "",
            table(["stage", "entered", "moved on", "dropped off", "reached goal", "waiting at end"], stages),
            "",
            table(["node", "entries", "waiting at end", "sent", "held"], nodes),
            "",
            table(["channel", "sent", "held", "held past the end"], channels),
            "",
            *(f"note: {note}" for note in summary["notes"]),
        ]
    )


def _version_map(session: Session, journey_id: int, number: int) -> JourneyMap:
    stored = session.execute(
        select(col(JourneyVersion.map)).where(
            col(JourneyVersion.journey_id) == journey_id, col(JourneyVersion.number) == number
        )
    ).scalar_one()
    return JourneyMap.model_validate(stored)


def forecast_command(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if args.since else DEFAULT_SINCE
    except ForecastError as error:
        raise CommandFailedError(f"--since: {error}") from None
    with session_scope() as session:
        try:
            journey = resolve_journey(session=session, reference=args.journey)
            assert journey.id is not None
            result = forecast(
                session=session, journey_id=journey.id, version=args.version, since=since, until=args.until
            )
        except (JourneyNotFoundError, JourneyReferenceError, ForecastError) as error:
            raise CommandFailedError(str(error)) from None
        doc = draft_of(journey) if args.version is None else _version_map(session, journey.id, args.version)
        summary = forecast_summary(result)
        session.rollback()
    print(json.dumps(summary, indent=2) if args.json else _as_text(summary, doc))
    return 0
