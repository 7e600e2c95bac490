"""``journey worker``: the engine in the foreground, on a database at the newest schema."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import timedelta

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.cli.common import PROG, USAGE, CommandFailedError, shown_url
from engine.delivery import LEASE
from engine.delivery.channels import ChannelSettingsError
from engine.store import alembic_config, get_engine
from engine.worker import Engine, EngineSettings

# Named, not __name__ (engine.cli.worker): the log lines name the engine's worker, as they always have.
log = logging.getLogger("engine.worker")


def _tick(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"the tick must be more than 0 and at most 3600 seconds, got {text}")
    return seconds


def _lease(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    # Every provider call is bounded by 10 s; a lease must outlast one with room to spare.
    if not 15 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"the send lease must be 15 to 3600 seconds, got {text}")
    return seconds


def worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tick", type=_tick, default=1.0, metavar="SECONDS", help="how often due customers are advanced (default 1)"
    )
    parser.add_argument(
        "--lease",
        type=_lease,
        default=LEASE.total_seconds(),
        metavar="SECONDS",
        help="how long a claimed message stays this worker's without news (default 120; extended while sending)",
    )


def _require_newest_schema() -> None:
    # A worker on an old schema would fail every tick in the background; refuse at once instead.
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with get_engine().connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise CommandFailedError(
            f"the database at {shown_url()} is at schema revision {current or 'none'}, not {head}; "
            f"run `{PROG} db upgrade`"
        )


def worker_command(args: argparse.Namespace) -> int:
    _require_newest_schema()
    try:
        engine = Engine(EngineSettings(tick=timedelta(seconds=args.tick), send_lease=timedelta(seconds=args.lease)))
    except ChannelSettingsError as error:
        raise CommandFailedError(str(error), USAGE) from None
    # The engine's own news at INFO; other libraries (APScheduler logs every job run at INFO,
    # SQLAlchemy every statement) only when something is wrong.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("engine").setLevel(logging.INFO)
    stop = threading.Event()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in handled}
    try:
        engine.start()
        log.info("journey worker started on %s, ticking every %g s", shown_url(), args.tick)
        stop.wait()
        log.info("journey worker stopping: finishing the running tick")
    finally:
        engine.shutdown()
        for number, handler in previous.items():
            signal.signal(number, handler)
    log.info("journey worker stopped")
    return 0
