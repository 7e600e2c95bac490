"""KPI overlay latency on a journey with 1,000,000 recorded transitions, SQLite and PostgreSQL.

For each database: a fresh database, one published journey (4 stages, a 50/50 split, a wait for
the goal event), and a recorded history written with bulk Core inserts (50,000 rows per
executemany): about 125,000 runs, 1,000,000 transitions, 300,000 messages, recorded as the engine
records them (each transition names the step, and on entering a stage the stage, it came from).
Then, warm, the time of ``journey_overlay`` (all time, and the last 7 days) against the reference
measured in the same run: a bare ``SELECT count(*)`` over the same transitions; the overlay once
more with the velocity brackets of earlier calls forgotten (the first look at a journey, which
samples its stage moves first); and the overlay's parts on their own (the edge shares are the rest).

Run: python benchmarks/metrics.py [--transitions 1000000] [--repeat 5] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.exc import OperationalError

from engine.journeys import create_journey, publish_journey
from engine.kpis import HINTS, MetricsFilter, goal_conversion, journey_overlay, node_metrics, stage_metrics
from engine.map import (
    Channel,
    Edge,
    EventTrigger,
    ExitNode,
    GoalNode,
    JourneyMap,
    MessageContent,
    SendNode,
    Settings,
    SplitArm,
    SplitNode,
    Stage,
    TriggerNode,
    WaitForEventNode,
    WaitNode,
)
from engine.store import Enrollment, OutboxMessage, Profile, Transition, get_engine, session_scope, upgrade_database

CHUNK = 50_000
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HISTORY = timedelta(days=60)
PG_ADMIN_URL = os.environ.get("JOURNEY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PROFILE = Profile.__table__  # type: ignore[attr-defined]
ENROLLMENT = Enrollment.__table__  # type: ignore[attr-defined]
TRANSITION = Transition.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


def benchmark_map() -> JourneyMap:
    """entry -> mail -> wait -> split A/B (sms | push) -> wait for purchase -> goal | mail -> wait -> exit."""
    body = MessageContent(subject="Hello", body="Come back")
    return JourneyMap(
        name="metrics benchmark",
        stages=[Stage(id=f"s{i}", name=f"Stage {i}", order=i) for i in range(4)],
        nodes=[
            TriggerNode(id="entry", stage="s0", trigger=EventTrigger(event="signed_up")),
            SendNode(id="welcome", stage="s0", channel=Channel.EMAIL, content=body),
            WaitNode(id="day", stage="s0", duration=timedelta(days=1)),
            SplitNode(id="ab", stage="s1", arms=[SplitArm(name="a", percent=50), SplitArm(name="b", percent=50)]),
            SendNode(id="text", stage="s1", channel=Channel.SMS, content=MessageContent(body="Come back")),
            SendNode(id="nudge", stage="s1", channel=Channel.PUSH, content=MessageContent(body="Come back")),
            WaitForEventNode(id="buy", stage="s2", event="purchased", timeout=timedelta(days=2)),
            GoalNode(id="won", stage="s3"),
            SendNode(id="last_call", stage="s2", channel=Channel.EMAIL, content=body),
            WaitNode(id="grace", stage="s2", duration=timedelta(days=1)),
            ExitNode(id="lost", stage="s2"),
        ],
        edges=[
            Edge(id="e1", source="entry", target="welcome"),
            Edge(id="e2", source="welcome", target="day"),
            Edge(id="e3", source="day", target="ab"),
            Edge(id="e4", source="ab", target="text", label="a"),
            Edge(id="e5", source="ab", target="nudge", label="b"),
            Edge(id="e6", source="text", target="buy"),
            Edge(id="e7", source="nudge", target="buy"),
            Edge(id="e8", source="buy", target="won", label="event"),
            Edge(id="e9", source="buy", target="last_call", label="timeout"),
            Edge(id="e10", source="last_call", target="grace"),
            Edge(id="e11", source="grace", target="lost"),
        ],
        settings=Settings(goal_event="purchased"),
    )


STAGE = {
    "entry": "s0",
    "welcome": "s0",
    "day": "s0",
    "ab": "s1",
    "text": "s1",
    "nudge": "s1",
    "buy": "s2",
    "won": "s3",
    "last_call": "s2",
    "grace": "s2",
    "lost": "s2",
}
CHANNEL = {"welcome": "email", "text": "sms", "nudge": "push", "last_call": "email"}
STATUSES = ["delivered"] * 16 + ["failed", "suppressed", "suppressed", "pending"]


class History:
    """A recorded history built in memory, then written in chunks."""

    def __init__(self, journey_id: int, version_id: int, target: int, seed: int = 7) -> None:
        self.journey_id, self.version_id = journey_id, version_id
        self.rng = random.Random(seed)
        self.profiles: list[dict[str, Any]] = []
        self.enrollments: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        while len(self.transitions) < target:
            self._run(len(self.enrollments) + 1)

    def _run(self, run_id: int) -> None:
        rng = self.rng
        entered = NOW - HISTORY * rng.random()
        arm = rng.choice(["a", "b"])
        path = ["entry", "welcome", "day", "ab", "text" if arm == "a" else "nudge", "buy"]
        path += ["won"] if rng.random() < 0.3 else ["last_call", "grace", "lost"]
        # Runs cut short are still waiting somewhere: in flight, not dropped.
        stop = len(path) if rng.random() < 0.85 else rng.randint(3, len(path) - 1)
        path = path[:stop]
        at = entered
        # As the engine records a step: with the step before it and when the customer had entered
        # that, and on entering a stage, the stage left and when it had been entered.
        step: tuple[str, datetime] | None = None
        stage: tuple[str, datetime] | None = None
        for node in path:
            at += timedelta(hours=rng.uniform(0.5, 30)) if node in ("ab", "won", "last_call", "lost") else timedelta()
            new_stage = stage is None or STAGE[node] != stage[0]
            self.transitions.append(
                {
                    "enrollment_id": run_id,
                    "journey_id": self.journey_id,
                    "version_id": self.version_id,
                    "node_id": node,
                    "stage_id": STAGE[node],
                    "first_in_stage": new_stage,
                    "arm": arm if node == "ab" else None,
                    "at": at,
                    "from_node_id": step[0] if step else None,
                    "from_at": step[1] if step else None,
                    "from_stage_id": stage[0] if stage and new_stage else None,
                    "from_stage_at": stage[1] if stage and new_stage else None,
                    "from_stage_seconds": (at - stage[1]).total_seconds() if stage and new_stage else None,
                }
            )
            step = (node, at)
            stage = (STAGE[node], at) if new_stage else stage
            if node in CHANNEL:
                status = rng.choice(STATUSES)
                self.messages.append(
                    {
                        "idempotency_key": f"e{run_id}-{node}",
                        "enrollment_id": run_id,
                        "journey_id": self.journey_id,
                        "profile_id": run_id,
                        "node_id": node,
                        "channel": CHANNEL[node],
                        "status": status,
                        "created_at": at,
                        "delivered_at": at + timedelta(seconds=5) if status == "delivered" else None,
                    }
                )
        finished = path[-1] in ("won", "lost")
        self.profiles.append({"id": run_id, "traits": {}, "consent": {}, "created_at": entered, "updated_at": at})
        self.enrollments.append(
            {
                "id": run_id,
                "journey_id": self.journey_id,
                "version_id": self.version_id,
                "profile_id": run_id,
                "status": "ended" if finished else "waiting",
                "step_id": None if finished else path[-1],
                "step_entered_at": None if finished else at,
                "stage_id": stage[0] if stage else None,
                "stage_entered_at": stage[1] if stage else None,
                "context": {},
                "entered_at": entered,
                "ended_at": at if finished else None,
                "end_reason": ("goal" if path[-1] == "won" else "exit_node") if finished else None,
                "goal_reached_at": at if path[-1] == "won" else None,
            }
        )


def write(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert(table), rows[start : start + CHUNK])


def message_rows(history: History) -> list[dict[str, Any]]:
    # executemany binds the same columns in every row; the outbox's defaults are filled in here.
    extra = {"fallback_channel": None, "recipient": "", "subject": "", "body": "", "url": "", "is_test": False}
    extra |= {"attempts": 1, "next_attempt_at": None, "reason": "", "provider_message_id": None}
    return [{**extra, **row} for row in history.messages]


def seed(url: str, transitions: int) -> int:
    upgrade_database(url)
    with session_scope(url) as session:
        journey = create_journey(session=session, doc=benchmark_map())
        assert journey.id is not None
        version = publish_journey(session=session, journey_id=journey.id)
        assert version.id is not None
        journey_id, version_id = journey.id, version.id
    history = History(journey_id, version_id, transitions)
    engine = get_engine(url)
    started = time.perf_counter()
    write(engine, PROFILE, history.profiles)
    write(engine, ENROLLMENT, history.enrollments)
    write(engine, TRANSITION, history.transitions)
    write(engine, OUTBOX, message_rows(history))
    # Fresh statistics (and, on PostgreSQL, a visibility map for index-only scans), as autovacuum
    # or a periodic ANALYZE would leave them.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
        if engine.dialect.name == "sqlite":
            # The bulk load leaves a write-ahead log of hundreds of megabytes that every read would
            # consult; a running app checkpoints it as it goes, so it is checkpointed here too.
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    print(
        f"  seeded {len(history.transitions):,} transitions, {len(history.enrollments):,} runs, "
        f"{len(history.messages):,} messages in {time.perf_counter() - started:.1f} s"
    )
    return journey_id


def forgetting_hints(action: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        HINTS.clear()
        return action()

    return run


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, best) wall time in milliseconds, after one warm-up call."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times)


def measure(label: str, url: str, transitions: int, repeat: int) -> None:
    print(f"{label}:")
    journey_id = seed(url, transitions)
    engine = get_engine(url)

    def count() -> object:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM transition")).scalar_one()

    def overlay(metrics_filter: MetricsFilter) -> Callable[[], object]:
        def run() -> object:
            with session_scope(url) as session:
                return journey_overlay(session=session, metrics_filter=metrics_filter)

        return run

    def part(query: Callable[..., object]) -> Callable[[], object]:
        def run() -> object:
            with session_scope(url) as session:
                return query(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

        return run

    def one_pass() -> object:
        # The least any window-aware aggregate must do: read every transition of the journey once.
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM transition WHERE journey_id = :j AND at >= :since")
            return connection.execute(query, {"j": journey_id, "since": datetime(2000, 1, 1)}).scalar_one()

    rows = count()
    reference = timed(count, repeat)
    scan = timed(one_pass, repeat)
    parts = {q.__name__: timed(part(q), repeat)[0] for q in (stage_metrics, node_metrics, goal_conversion)}
    everything = timed(overlay(MetricsFilter.all_time(journey_id=journey_id)), repeat)
    first_look = timed(forgetting_hints(overlay(MetricsFilter.all_time(journey_id=journey_id))), repeat)
    week = timed(overlay(MetricsFilter.last_7d(journey_id=journey_id, now=NOW)), repeat)
    print(f"  SELECT count(*) over {rows:,} transitions   median {reference[0]:8.1f} ms   best {reference[1]:8.1f} ms")
    print(f"  one pass: count(*) of the journey's transitions since a date   median {scan[0]:8.1f} ms")
    print(
        f"  journey_overlay, all time               median {everything[0]:8.1f} ms   best {everything[1]:8.1f} ms"
        f"   ({everything[0] / reference[0]:.1f}x the count)"
    )
    print(
        f"  journey_overlay, last 7 days            median {week[0]:8.1f} ms   best {week[1]:8.1f} ms"
        f"   ({week[0] / reference[0]:.1f}x the count)"
    )
    print(
        f"  journey_overlay, all time, first look   median {first_look[0]:8.1f} ms   best {first_look[1]:8.1f} ms"
        "   (no velocity brackets from an earlier call)"
    )
    print("  parts of the overlay (all time, median): " + ", ".join(f"{n} {t:.1f} ms" for n, t in parts.items()))


@contextmanager
def postgres_database() -> Iterator[str | None]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"journey_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        print(f"PostgreSQL: not reachable ({error.orig}); skipped")
        admin.dispose()
        yield None
        return
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'metrics.db'}"
        try:
            measure("SQLite (WAL, synchronous=NORMAL)", url, args.transitions, args.repeat)
        finally:
            get_engine(url).dispose()
    if not args.sqlite_only:
        with postgres_database() as pg_url:
            if pg_url is not None:
                measure("PostgreSQL", pg_url, args.transitions, args.repeat)


if __name__ == "__main__":
    main()
