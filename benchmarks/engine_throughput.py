"""Engine throughput, side by side with what the same database can do and with the naive design.

Prints, for SQLite and (when reachable) PostgreSQL:
  * customer-steps per second through trigger -> send -> wait (enrollment walks, batched);
  * customer-steps per second when a wait falls due (the tick: claim, advance, write);
  * the ceiling: the same rows written with plain batched inserts, no engine;
  * 100,000 customers due at once: time until every one has been advanced;
and once:
  * the naive design: one APScheduler 3.11 job per customer step in its SQLAlchemy job store;
  * worker memory with 1,000,000 customers waiting.

Run: python benchmarks/engine_throughput.py [--customers 20000] [--due 100000] [--waiting 1000000]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import create_engine, insert, text

from engine.journeys import create_journey, publish_journey
from engine.map import (
    Channel,
    Edge,
    EventTrigger,
    JourneyMap,
    MessageContent,
    SendNode,
    Settings,
    Stage,
    TriggerNode,
    WaitNode,
)
from engine.runtime import Entrant, advance_due, enroll_many, launch_journey
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    OutboxMessage,
    Profile,
    Transition,
    get_engine,
    session_scope,
    upgrade_database,
)

BATCH = 1_000
# Core tables: the ceiling writes rows the plainest way SQLAlchemy can, with no ORM in between.
ENROLLMENT = Enrollment.__table__  # type: ignore[attr-defined]
TRANSITION = Transition.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
PG_ADMIN_URL = os.environ.get("JOURNEY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def benchmark_map() -> JourneyMap:
    """trigger -> email -> wait 1 s -> sms -> wait 1 day: three steps on entry, three when the wait ends."""
    content = MessageContent(subject="Your cart, {{ profile.first_name }}", body="Still thinking it over?")
    return JourneyMap(
        name="benchmark",
        stages=[Stage(id="s1", name="Recover", order=0), Stage(id="s2", name="Nudge", order=1)],
        nodes=[
            TriggerNode(id="t", stage="s1", trigger=EventTrigger(event="cart_abandoned")),
            SendNode(id="mail", stage="s1", channel=Channel.EMAIL, content=content),
            WaitNode(id="w1", stage="s1", duration=timedelta(seconds=1)),
            SendNode(id="text", stage="s2", channel=Channel.SMS, content=MessageContent(body="Your cart awaits")),
            WaitNode(id="w2", stage="s2", duration=timedelta(days=1)),
        ],
        edges=[
            Edge(id="e1", source="t", target="mail"),
            Edge(id="e2", source="mail", target="w1"),
            Edge(id="e3", source="w1", target="text"),
            Edge(id="e4", source="text", target="w2"),
        ],
        settings=Settings(goal_event="order_completed"),
    )


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    name = f"journey_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        get_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}").dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_reachable() -> bool:
    try:
        with create_engine(PG_ADMIN_URL).connect() as connection:
            connection.execute(text("select 1"))
        return True
    except Exception:
        return False


def make_profiles(url: str, count: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {
            "user_id": f"u{i}",
            "traits": {"email": f"u{i}@example.com", "phone": f"+1555{i:07d}", "first_name": "Ada"},
            "timezone": "UTC",
            "consent": {},
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with session_scope(url) as session:
        for start in range(0, count, 10_000):
            session.execute(insert(Profile), rows[start : start + 10_000])
        return list(session.execute(text("select id from profile order by id")).scalars())


def launched_journey(url: str) -> tuple[int, int]:
    with session_scope(url) as session:
        journey = create_journey(session=session, doc=benchmark_map(), created_by="bench")
        assert journey.id is not None
        version = publish_journey(session=session, journey_id=journey.id, published_by="bench")
        launch_journey(session=session, journey_id=journey.id, actor="bench")
        assert version.id is not None
        return journey.id, version.id


def engine_rates(url: str, customers: int) -> tuple[float, float]:
    """(steps/s on entry, steps/s when the first wait ends)."""
    profile_ids = make_profiles(url, customers)
    journey_id, version_id = launched_journey(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for start in range(0, customers, BATCH):
        entrants = [
            Entrant(
                profile_id=pid,
                user_id=f"u{pid}",
                traits={"first_name": "Ada", "email": "a@example.com"},
                timezone="UTC",
                context={"cart_id": str(pid)},
            )
            for pid in profile_ids[start : start + BATCH]
        ]
        with session_scope(url) as session:
            enroll_many(session=session, journey_id=journey_id, version_id=version_id, entrants=entrants, now=now)
    entry_rate = customers * 3 / (time.perf_counter() - started)

    later = now + timedelta(seconds=2)
    started = time.perf_counter()
    advanced = 0
    while True:
        with session_scope(url) as session:
            n = advance_due(session=session, now=later, limit=BATCH)
        advanced += n
        if n < BATCH:
            break
    tick_rate = advanced * 3 / (time.perf_counter() - started)
    return entry_rate, tick_rate


def ceiling_rate(url: str, customers: int) -> float:
    """The same rows (1 enrollment, 3 transitions, 1 outbox message per customer) in plain batched inserts."""
    profile_ids = make_profiles(url, customers)
    journey_id, version_id = launched_journey(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for start in range(0, customers, BATCH):
        chunk = profile_ids[start : start + BATCH]
        with session_scope(url) as session:
            ids = list(
                session.execute(
                    insert(ENROLLMENT).returning(ENROLLMENT.c.id),
                    [
                        {
                            "journey_id": journey_id,
                            "version_id": version_id,
                            "profile_id": pid,
                            "status": EnrollmentStatus.WAITING,
                            "step_id": "w1",
                            "due_at": now,
                            "context": {"cart_id": "1"},
                            "entered_at": now,
                        }
                        for pid in chunk
                    ],
                ).scalars()
            )
            session.execute(
                insert(Transition),
                [
                    {
                        "enrollment_id": eid,
                        "journey_id": journey_id,
                        "version_id": version_id,
                        "node_id": node,
                        "stage_id": "s1",
                        "first_in_stage": node == "t",
                        "arm": None,
                        "at": now,
                    }
                    for eid in ids
                    for node in ("t", "mail", "w1")
                ],
            )
            session.execute(
                insert(OutboxMessage),
                [
                    {
                        "idempotency_key": f"k{eid}",
                        "enrollment_id": eid,
                        "journey_id": journey_id,
                        "profile_id": pid,
                        "node_id": "mail",
                        "channel": "email",
                        "recipient": "a@example.com",
                        "subject": "Your cart, Ada",
                        "body": "Still thinking it over?",
                        "url": "",
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "reason": "",
                        "created_at": now,
                        "is_test": False,
                    }
                    for eid, pid in zip(ids, chunk, strict=True)
                ],
            )
    return customers * 3 / (time.perf_counter() - started)


def due_at_once(url: str, customers: int) -> tuple[float, float]:
    """(seconds until all ``customers`` due at once were advanced, steps/s) in batches of 1,000."""
    engine_rates(url, customers)  # leaves every customer waiting 1 day at w2
    far = datetime.now(UTC) + timedelta(days=2)
    started = time.perf_counter()
    advanced = 0
    while True:
        with session_scope(url) as session:
            n = advance_due(session=session, now=far, limit=BATCH)
        advanced += n
        if n < BATCH:
            break
    elapsed = time.perf_counter() - started
    assert advanced == customers, f"advanced {advanced} of {customers}"
    return elapsed, advanced * 1 / elapsed


def naive_apscheduler(jobs: int) -> tuple[float, float, float, int]:
    """One APScheduler job per customer step (the design we avoid), SQLAlchemy job store on SQLite.

    This is the reference only; the product's scheduler never creates a job per customer.
    """
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    _FIRED.clear()
    with tempfile.TemporaryDirectory() as folder:
        store = SQLAlchemyJobStore(url=f"sqlite:///{Path(folder) / 'jobs.db'}")
        scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
        scheduler.start(paused=True)
        due = datetime.now(UTC) + timedelta(seconds=2)
        started = time.perf_counter()
        for i in range(jobs):
            scheduler.add_job(_naive_step, "date", run_date=due, args=[i], id=f"job{i}", misfire_grace_time=None)
        add_rate = jobs / (time.perf_counter() - started)
        due_wall = due.timestamp()
        wait = max(0.0, due_wall - time.time())
        time.sleep(wait)
        started = time.perf_counter()
        scheduler.resume()
        deadline = time.monotonic() + 120
        while len(_FIRED) < jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        fire_rate = len(_FIRED) / (time.perf_counter() - started)
        lateness = sorted(t - due_wall for t in _FIRED)
        p99 = lateness[int(len(lateness) * 0.99) - 1] if lateness else float("nan")
        scheduler.shutdown(wait=False)
        return add_rate, fire_rate, p99, len(_FIRED)


# Fire times of the naive jobs; APScheduler calls a module-level function, so they land here.
_FIRED: list[float] = []
_LOCK = threading.Lock()


def _naive_step(_: int) -> None:
    with _LOCK:
        _FIRED.append(time.time())


def memory_with_waiting(url: str, waiting: int) -> tuple[float, float]:
    """RSS (MB) of this process before and after one engine tick with ``waiting`` customers waiting."""
    profile_ids = make_profiles(url, 1)
    journey_id, version_id = launched_journey(url)
    far = datetime.now(UTC) + timedelta(days=30)
    with session_scope(url) as session:
        for start in range(0, waiting, 50_000):
            session.execute(
                insert(Enrollment),
                [
                    {
                        "journey_id": journey_id,
                        "version_id": version_id,
                        "profile_id": profile_ids[0],
                        "status": EnrollmentStatus.WAITING,
                        "step_id": "w2",
                        "due_at": far,
                        "context": {},
                        "entered_at": far,
                    }
                    for _ in range(start, min(start + 50_000, waiting))
                ],
            )
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss / 2**20
    for _ in range(3):
        with session_scope(url) as session:
            advance_due(session=session, now=datetime.now(UTC), limit=BATCH)
    return before, process.memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--naive-jobs", type=int, default=10_000)
    args = parser.parse_args()

    kinds = ["sqlite"] + (["postgres"] if postgres_reachable() else [])
    print(f"customers per run: {args.customers:,}; batch {BATCH:,}; databases: {', '.join(kinds)}")
    for kind in kinds:
        with database(kind) as url:
            upgrade_database(url)
            entry, tick = engine_rates(url, args.customers)
        with database(kind) as url:
            upgrade_database(url)
            ceiling = ceiling_rate(url, args.customers)
        print(f"[{kind}] engine, entry walk (trigger->send->wait): {entry:>10,.0f} customer-steps/s")
        print(f"[{kind}] engine, wait ended (claim->send->wait):   {tick:>10,.0f} customer-steps/s")
        print(
            f"[{kind}] ceiling, the same rows in plain batched inserts: {ceiling:>10,.0f} customer-steps/s"
            f"  (engine entry walk = {entry / ceiling:.0%} of it)"
        )
        with database(kind) as url:
            upgrade_database(url)
            seconds, rate = due_at_once(url, args.due)
        print(f"[{kind}] {args.due:,} customers due at once: all advanced in {seconds:.1f} s ({rate:,.0f}/s)")

    add_rate, fire_rate, p99, fired = naive_apscheduler(args.naive_jobs)
    print(
        f"[naive] one APScheduler job per step, SQLAlchemy job store (SQLite), {args.naive_jobs:,} jobs: "
        f"{add_rate:,.0f} adds/s, {fire_rate:,.0f} fires/s, p99 lateness {p99:.2f} s, fired {fired:,}"
    )

    with database("sqlite") as url:
        upgrade_database(url)
        before, after = memory_with_waiting(url, args.waiting)
    print(
        f"[memory] worker RSS with {args.waiting:,} customers waiting: {before:.0f} MB before a tick, "
        f"{after:.0f} MB after 3 ticks"
    )


if __name__ == "__main__":
    main()
