"""``journey publish``, ``launch``, ``pause``, ``resume`` and ``stop``: a journey's versions and lifecycle."""

from __future__ import annotations

import argparse

from engine.cli.common import actor, id_argument, journey_errors
from engine.journeys import publish_journey
from engine.map import PausePolicy
from engine.runtime import StopMode, launch_journey, pause_journey, resume_journey, stop_journey
from engine.store import Journey, JourneyStatus, session_scope


def publish_command(args: argparse.Namespace) -> int:
    with journey_errors(), session_scope() as session:
        version = publish_journey(session=session, journey_id=args.journey_id, published_by=actor())
    print(f"published version {version.number} of journey {args.journey_id}")
    return 0


_STATUS_NOTES = {
    JourneyStatus.LIVE: "customers enter it and move through it",
    JourneyStatus.PAUSED: "nobody enters, nothing is sent, customers stay where they are",
    JourneyStatus.DRAINING: "nobody enters; it stops once the customers inside finish",
    JourneyStatus.STOPPED: "every run has ended",
}


def _print_status(journey: Journey) -> None:
    note = _STATUS_NOTES.get(journey.status)
    print(f"journey {journey.id} ({journey.name}) is {journey.status.value}" + (f": {note}" if note else ""))


def launch_command(args: argparse.Namespace) -> int:
    with journey_errors(), session_scope() as session:
        journey = launch_journey(session=session, journey_id=args.journey_id, actor=actor())
    _print_status(journey)
    return 0


def pause_command(args: argparse.Namespace) -> int:
    with journey_errors(), session_scope() as session:
        journey = pause_journey(session=session, journey_id=args.journey_id, actor=actor())
    _print_status(journey)
    return 0


def resume_command(args: argparse.Namespace) -> int:
    with journey_errors(), session_scope() as session:
        journey = resume_journey(session=session, journey_id=args.journey_id, actor=actor(), policy=args.policy)
    _print_status(journey)
    return 0


def stop_command(args: argparse.Namespace) -> int:
    mode = StopMode.DRAIN if args.drain else StopMode.NOW
    with journey_errors(), session_scope() as session:
        journey = stop_journey(session=session, journey_id=args.journey_id, actor=actor(), mode=mode)
    _print_status(journey)
    return 0


def resume_arguments(parser: argparse.ArgumentParser) -> None:
    id_argument(parser)
    parser.add_argument(
        "--policy",
        type=PausePolicy,
        choices=list(PausePolicy),
        help="what to do with steps that fell due while paused (default: the map's pause policy)",
    )


def stop_arguments(parser: argparse.ArgumentParser) -> None:
    id_argument(parser)
    parser.add_argument(
        "--drain", action="store_true", help="stop new entries but let the customers inside finish their runs"
    )
