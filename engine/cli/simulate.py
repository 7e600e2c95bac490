"""``journey simulate`` and ``journey demo``: simulated customers sent through the public intake."""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from engine.accounts import AccessDeniedError, create_write_key, verify_write_key
from engine.cli.common import USAGE, CommandFailedError, actor, shown_url
from engine.map import DurationFormatError, format_duration, parse_duration
from engine.map.starters import TEMPLATE_NAMES
from engine.simulation import (
    DEMO_SPEED,
    DEMO_STARTER,
    MAX_BATCH,
    IntakeClient,
    IntakeError,
    Progress,
    Sender,
    SimulationError,
    SimulationOptions,
    ensure_demo_journey,
    find_target,
    parse_probability,
    parse_stage_odds,
    plan_simulation,
    resolve_odds,
    schedule,
)
from engine.store import JourneyStatus, session_scope, utc_now

DEFAULT_BASE_URL = "http://localhost:8000"
SIMULATOR_KEY_NAME = "simulator"


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def checked(text: str) -> Any:
        try:
            return parse(text)
        except SimulationError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return checked


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < speed <= 1_000_000:
        raise argparse.ArgumentTypeError(f"the speed must be more than 0 and at most 1000000, got {text}")
    return speed


def _simulated_duration(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except DurationFormatError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if duration < timedelta(0):
        raise argparse.ArgumentTypeError(f"the arrival window cannot be negative, got {text}")
    return duration


def _batch_size(text: str) -> int:
    size = _positive_int(text)
    if size > MAX_BATCH:
        raise argparse.ArgumentTypeError(f"a batch holds at most {MAX_BATCH} events, got {size}")
    return size


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"cannot wait a negative time, got {text}")
    return seconds


def simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journey", metavar="JOURNEY", help="the live journey's id or exact name")
    parser.add_argument("--customers", type=_positive_int, default=100, help="how many customers (default 100)")
    parser.add_argument(
        "--speed",
        type=_speed,
        default=DEMO_SPEED,
        help="how much faster than real time the customers arrive and browse: 60 (the default) plays a "
        "simulated minute in a second; inside the journey they act within its waits, which run in real time",
    )
    parser.add_argument(
        "--over",
        type=_simulated_duration,
        default=timedelta(hours=1),
        metavar="DURATION",
        help="spread the customers' arrivals over this much simulated time, ISO 8601 (default PT1H)",
    )
    parser.add_argument(
        "--convert",
        type=_argument_type(parse_probability),
        metavar="P",
        help="at each wait of every stage, the chance a customer does what the wait hopes for "
        "(default: the starter's odds per stage, or 0.3)",
    )
    parser.add_argument(
        "--drop",
        type=_argument_type(parse_probability),
        metavar="P",
        help="at each wait of every stage, the chance a customer leaves (default: per starter, or 0.05)",
    )
    parser.add_argument(
        "--stage",
        type=_argument_type(parse_stage_odds),
        action="append",
        default=[],
        metavar="STAGE=CONVERT[,DROP]",
        help="one stage's odds, over --convert and --drop (repeatable), e.g. --stage recover=0.4,0.02",
    )
    parser.add_argument("--seed", type=int, help="the same seed plans the same customers (default: a random one)")
    parser.add_argument(
        "--base-url", default=DEFAULT_BASE_URL, help=f"the app's backend serving /v1/batch (default {DEFAULT_BASE_URL})"
    )
    parser.add_argument(
        "--write-key",
        default=os.environ.get("JOURNEY_WRITE_KEY"),
        help="the intake write key (default: $JOURNEY_WRITE_KEY; without either, a key named "
        f"{SIMULATOR_KEY_NAME!r} is created)",
    )
    parser.add_argument(
        "--write-key-file",
        type=Path,
        metavar="PATH",
        help="without --write-key: the key kept in this file, or a new one created and kept there (readable by you "
        "alone), so repeated runs share one key",
    )
    parser.add_argument(
        "--batch-size", type=_batch_size, default=100, help="at most this many events per request (default 100)"
    )
    parser.add_argument(
        "--wait-for-intake",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for the backend to answer before sending (default 0: it must answer now)",
    )


def _kept_key(session: Session, path: Path | None) -> str | None:
    """The key kept in ``path`` while it is still a valid write key of this database."""
    if path is None or not path.is_file():
        return None
    secret = path.read_text(encoding="utf-8").strip()
    try:
        verify_write_key(session=session, secret=secret)
    except AccessDeniedError:
        return None  # revoked, or made for another database: a new one replaces it
    return secret


def _keep_key(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as kept:
        kept.write(secret + "\n")


def simulate_command(args: argparse.Namespace) -> int:
    # Started in the background by a script, the command inherits an ignored SIGINT; Ctrl-C on the
    # script's terminal must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    with session_scope() as session:
        try:
            target = find_target(session=session, reference=args.journey)
        except SimulationError as error:
            raise CommandFailedError(str(error)) from None
        write_key = args.write_key or _kept_key(session, args.write_key_file)
        if not write_key:
            issued = create_write_key(session=session, name=SIMULATOR_KEY_NAME)
            write_key = issued.secret
            if args.write_key_file is not None:
                _keep_key(args.write_key_file, write_key)
                reuse = f"kept in {args.write_key_file} for the next runs"
            else:
                reuse = "pass it with --write-key or JOURNEY_WRITE_KEY to reuse it"
            print(f"created write key {issued.id} ({issued.name}) in {shown_url()}; {reuse}", file=sys.stderr)
    try:
        odds = resolve_odds(
            target.plan, convert=args.convert, drop=args.drop, stages={stage: (c, d) for stage, c, d in args.stage}
        )
        scripts = plan_simulation(
            target.plan,
            target.doc,
            SimulationOptions(
                customers=args.customers,
                seed=seed,
                odds=odds,
                arrivals_over=args.over,
                speed=args.speed,
                start=utc_now(),
            ),
        )
    except SimulationError as error:
        raise CommandFailedError(str(error), USAGE) from None
    deliveries = schedule(scripts)
    real_seconds = deliveries[-1].due if deliveries else 0.0
    outcomes = Counter(script.outcome.value for script in scripts)
    print(
        f"simulating {args.customers:,} customers of journey {target.journey_id} ({target.name}, version "
        f"{target.version}) at {args.base_url}: {len(deliveries):,} events, arrivals over "
        f"{format_duration(args.over)} of simulated time, speed {args.speed:g}x, about "
        f"{timedelta(seconds=round(real_seconds))} in real time; seed {seed}",
        file=sys.stderr,
    )
    print(
        "odds per stage: "
        + "; ".join(f"{stage} convert {o.convert:g} drop {o.drop:g}" for stage, o in odds.items())
        + "\nplanned outcomes: "
        + ", ".join(f"{outcome} {count:,}" for outcome, count in sorted(outcomes.items())),
        file=sys.stderr,
    )
    client = IntakeClient(args.base_url, write_key)
    sender = Sender(
        client,
        deliveries,
        customers=args.customers,
        progress=Progress(len(deliveries), sys.stderr),
        batch_size=args.batch_size,
    )
    try:
        client.wait_until_up(args.wait_for_intake)
        sender.run()
    except IntakeError as error:
        print(sender.report.summary(), file=sys.stderr)
        raise CommandFailedError(str(error)) from None
    except KeyboardInterrupt:
        print(f"\n{sender.report.summary()}", file=sys.stderr)
        raise
    finally:
        client.close()
    print(sender.report.summary(), file=sys.stderr)
    return 0


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--starter", choices=TEMPLATE_NAMES, default=DEMO_STARTER, help=f"the starter to copy (default {DEMO_STARTER})"
    )
    parser.add_argument(
        "--speed", type=_speed, default=DEMO_SPEED, help=f"divide its waits by this (default {DEMO_SPEED:g})"
    )


def demo_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        demo = ensure_demo_journey(session=session, actor=actor(), starter=args.starter, speed=args.speed)
        journey = demo.journey
        done = [
            *(["created"] if demo.created else []),
            *(["updated the map"] if demo.updated else []),
            *([f"published version {demo.published_version}"] if demo.published_version else []),
            *(["launched"] if demo.launched else []),
        ]
    print(journey.id)
    what = ", ".join(done) if done else "nothing to do"
    if journey.status is not JourneyStatus.LIVE:
        raise CommandFailedError(
            f"demo journey {journey.id} ({journey.name}) is {journey.status.value}, so it takes no simulated "
            f"customers ({what}); resume it to have it fed again"
        )
    print(f"demo journey {journey.id} ({journey.name}) is live ({what})", file=sys.stderr)
    return 0
