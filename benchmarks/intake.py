"""Event intake: /v1/batch throughput beside a bare FastAPI + pydantic + SQLite app, with 0, 100,000 and 1,000,000
customers waiting in a live journey, and the time from an event's acknowledgement to the engine's reaction.

The product is the real HTTP API (``engine.api.app:create_api`` under uvicorn, one worker) on a temporary SQLite
database, and on a scratch PostgreSQL database when one can be reached (``JOURNEY_TEST_POSTGRES_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; dropped afterwards). The cart-abandonment starter is
live; each 100-event Segment batch is 50 identifies and 50 ``cart_abandoned`` tracks of 50 new customers. The
reference (``benchmarks/reference_intake.py``) is served the same way and posted the same bodies by the same client
in the same run. Customers waiting are seeded by bulk insert: profiles and runs waiting for ``order_completed``; each
number of customers waiting is measured on a database of its own.

Throughput is measured with no engine running (what the intake costs alone), product and reference in turn for a
few rounds, each figure the median of its rounds. Then the engine's consumer reacts alone,
in this process, to the backlog those runs stored ("consumer events/s over a backlog of N"). Then the engine runs as
each database is deployed (on SQLite inside the API's process, as the web app runs it by default; on PostgreSQL as a
separate ``journey worker``) and the intake runs at full speed again while a poller notes when each new customer's
run appears: "reaction latency" is from the batch's acknowledgement to then.

Run: python benchmarks/intake.py [--events 30000] [--connections 16] [--waiting 0,100000,1000000]
     [--rounds 3] [--workers 1] [--sqlite-only | --postgres-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import bindparam, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from engine.accounts import create_write_key
from engine.api import create_api
from engine.journeys import create_journey, publish_journey
from engine.map.starters import load_template
from engine.runtime import consume_batch, consume_batch_size, launch_journey
from engine.store import get_engine, normalise_url, session_scope, upgrade_database
from engine.worker import Engine, EngineSettings

BATCH = 100
ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = normalise_url(
    os.environ.get("JOURNEY_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def embedded_app() -> FastAPI:
    """The HTTP API with the engine running in its process, as the web app runs them by default."""
    url = os.environ["DATABASE_URL"]
    api = create_api(url)
    engine = Engine(EngineSettings(database_url=url))

    @asynccontextmanager
    async def running(_: FastAPI) -> AsyncIterator[None]:
        engine.start()
        yield
        engine.shutdown()

    api.router.lifespan_context = running
    return api


def batch_body(run: str, start: int) -> tuple[bytes, list[str]]:
    """One Segment batch: an identify and a cart_abandoned track for each of 50 new customers; and their ids."""
    events: list[dict[str, object]] = []
    users = []
    for i in range(start, start + BATCH, 2):
        user = f"{run}-{i // 2}"
        users.append(user)
        events.append(
            {
                "type": "identify",
                "userId": user,
                "messageId": str(uuid.uuid4()),
                "traits": {"email": f"{user}@example.com", "first_name": "Ada"},
            }
        )
        events.append(
            {
                "type": "track",
                "userId": user,
                "event": "cart_abandoned",
                "messageId": str(uuid.uuid4()),
                "properties": {"cart_id": f"c{i}", "cart_url": "https://shop.example/c", "cart_total": 42},
            }
        )
    return json.dumps({"batch": events}).encode(), users


@contextmanager
def served(factory: str, port: int, env: dict[str, str]) -> Iterator[None]:
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen([*command, "--log-level", "warning"], cwd=ROOT, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{factory} did not start") from None
                time.sleep(0.1)
        yield
    finally:
        server.terminate()
        server.wait(20)


def warm_up(port: int, key: str, run: str) -> None:
    """A few batches first, untimed: the server's first requests pay for imports and caches."""
    post_all(port, key, [batch_body(f"{run}-warm-up", start) for start in range(0, 5 * BATCH, BATCH)], 2)


def post_all(
    port: int, key: str, bodies: list[tuple[bytes, list[str]]], connections: int
) -> tuple[float, dict[str, float]]:
    """Events/s over all bodies, and when each body's customers were acknowledged (time.time())."""
    acked: dict[str, float] = {}
    clients = [httpx.Client(timeout=120) for _ in range(connections)]

    def post(item: tuple[int, tuple[bytes, list[str]]]) -> None:
        index, (body, users) = item
        response = clients[index % connections].post(
            f"http://127.0.0.1:{port}/v1/batch",
            content=body,
            auth=(key, ""),
            headers={"content-type": "application/json"},
        )
        response.raise_for_status()
        now = time.time()
        for user in users:
            acked[user] = now

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(post, enumerate(bodies)))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return len(bodies) * BATCH / elapsed, acked


def prepare(url: str) -> tuple[str, int, tuple[str, str]]:
    """Migrate, launch the cart-abandonment starter; (write key, journey id, the step its runs wait for an order)."""
    upgrade_database(url)
    with session_scope(url) as session:
        journey = create_journey(session=session, doc=load_template("cart_abandonment"))
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id)
        launch_journey(session=session, journey_id=journey.id, actor="bench")
        key = create_write_key(session=session, name="bench").secret
        return key, journey.id, ("wait_order_4h", "recover")


def seed_waiting(url: str, journey_id: int, step: tuple[str, str], start: int, stop: int) -> float:
    """Customers start..stop-1, each with a run waiting for their order; the seconds it took."""
    if stop <= start:
        return 0.0
    began = time.perf_counter()
    step_id, stage = step
    engine = get_engine(url)
    now, due = datetime.now(UTC), datetime(2999, 1, 1, tzinfo=UTC)
    if engine.dialect.name == "sqlite":
        numbers = (
            "WITH RECURSIVE n(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :stop) SELECT i FROM n"
        )
        empty = "'{}'"
        # Stored as the engine's UtcDateTime stores them on SQLite: UTC text without a zone.
        now_value: object = now.replace(tzinfo=None).isoformat(" ")
        due_value: object = due.replace(tzinfo=None).isoformat(" ")
    else:
        numbers = "SELECT generate_series(:start, :stop - 1) AS i"
        empty = "'{}'::json"
        now_value, due_value = now, due
    with engine.begin() as connection:
        version_id = connection.execute(
            text("SELECT max(id) FROM journey_version WHERE journey_id = :j"), {"j": journey_id}
        ).scalar_one()
        first = connection.execute(text("SELECT coalesce(max(id), 0) FROM profile")).scalar_one() + 1
        connection.execute(
            text(
                "INSERT INTO profile (user_id, traits, consent, created_at, updated_at) "
                f"SELECT 'waiting-' || i, {empty}, {empty}, :now, :now FROM ({numbers}) AS numbers ORDER BY i"
            ),
            {"start": start, "stop": stop, "now": now_value},
        )
        connection.execute(
            text(
                "INSERT INTO enrollment (journey_id, version_id, profile_id, status, step_id, wait_event, due_at,"
                " context, entered_at, step_entered_at, stage_id, stage_entered_at) "
                f"SELECT :journey, :version, id, 'waiting', :step, 'order_completed', :due, {empty}, :now, :now,"
                " :stage, :now FROM profile WHERE id >= :first"
            ),
            {"journey": journey_id, "version": version_id, "step": step_id, "due": due_value, "now": now_value}
            | {"first": first, "stage": stage},
        )
    # Left as a database that grew over months would be: on PostgreSQL analysed, on SQLite with the seeding's write-
    # ahead log copied into the database file (else the intake's first commit would copy hundreds of megabytes).
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        else:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - began


def pending(url: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM pending_event")).scalar_one())


def consume_backlog(url: str) -> str:
    """The engine's consumer alone, in this process, batch after batch over what the throughput runs stored."""
    backlog = pending(url)
    size = consume_batch_size(get_engine(url).dialect.name)
    reacted = 0
    started = time.perf_counter()
    while True:
        consumed = consume_batch(sessions=lambda: session_scope(url), now=datetime.now(UTC), limit=size)
        reacted += consumed.events
        if consumed.events + consumed.deferred == 0:
            break
    elapsed = time.perf_counter() - started
    return (
        f"consumer {reacted / elapsed:>8,.0f} events/s over a backlog of {backlog:,} "
        f"(batches of {size:,}, alone in one process)"
    )


@contextmanager
def worker(url: str, count: int) -> Iterator[None]:
    """``count`` journey workers on the database, as PostgreSQL deployments run them."""
    env = {**os.environ, "DATABASE_URL": url, "JOURNEY_SANDBOX": "true"}
    command = [sys.executable, "-m", "engine.cli", "worker"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def reaction_latency(
    url: str, port: int, key: str, bodies: list[tuple[bytes, list[str]]], connections: int, workers: int
) -> str:
    """With the engine running and caught up: intake at full speed, and when each new customer's run appeared."""
    seen: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        # Runs are read past the highest id seen, and the ids skipped below it again until they appear: with several
        # workers a run with a lower id may commit after one with a higher id. An id not seen within a minute was
        # never used (a batch rolled back).
        missing: dict[int, float] = {}
        with get_engine(url).connect() as connection:
            last = int(connection.execute(text("SELECT coalesce(max(id), 0) FROM enrollment")).scalar_one())
        while not stop.is_set():
            with get_engine(url).connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT e.id, p.user_id FROM enrollment e JOIN profile p ON p.id = e.profile_id"
                        " WHERE e.id > :last OR e.id IN :missing ORDER BY e.id"
                    ).bindparams(bindparam("missing", expanding=True)),
                    {"last": last, "missing": list(missing) or [0]},
                ).all()
            now = time.time()
            for enrollment_id, user_id in rows:
                seen.setdefault(user_id, now)
                missing.pop(enrollment_id, None)
                if enrollment_id > last:
                    missing.update(dict.fromkeys(range(last + 1, enrollment_id), now))
                    last = enrollment_id
            missing = {enrollment_id: at for enrollment_id, at in missing.items() if now - at < 60}
            time.sleep(0.05)

    with nullcontext() if get_engine(url).dialect.name == "sqlite" else worker(url, workers):
        deadline = time.monotonic() + 600
        while pending(url) and time.monotonic() < deadline:
            time.sleep(0.2)
        poller = threading.Thread(target=poll)
        poller.start()
        rate, acked = post_all(port, key, bodies, connections)
        while len(seen) < len(acked) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        poller.join()
    waits = sorted(seen[user] - acked[user] for user in acked if user in seen)
    if not waits:
        return "no reaction seen"
    p50 = statistics.median(waits)
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    return (
        f"intake with the engine running {rate:>8,.0f} events/s; ack -> reacted p50 {p50:.2f} s, p99 {p99:.2f} s, "
        f"max {waits[-1]:.2f} s ({len(waits):,}/{len(acked):,} customers)"
    )


def measure(name: str, url: str, args: argparse.Namespace, folder: Path) -> None:
    env = {"DATABASE_URL": url}
    seeded = 0
    for index, size in enumerate(args.waiting):
        # Each size on a database of its own: the events the runs before it stored would weigh on it as well.
        if index:
            emptied(url)
        key, journey_id, step = prepare(url)
        took = seed_waiting(url, journey_id, step, 0, size)
        seeded = size
        products: list[float] = []
        references: list[float] = []
        reference_db = folder / f"reference-{name}-{size}.db"
        # Product and reference take turns, round after round: this machine's speed drifts by a fifth within a minute,
        # and a single pair of runs measured that drift as often as the intake.
        for turn in range(args.rounds):
            run = f"{name}-{size}-{turn}"
            bodies = [batch_body(run, start) for start in range(0, args.events, BATCH)]
            with served("engine.api.app:create_api", args.port, env):
                warm_up(args.port, key, run)
                products.append(post_all(args.port, key, bodies, args.connections)[0])
            with served("benchmarks.reference_intake:create_app", args.port, {"REFERENCE_DB": str(reference_db)}):
                warm_up(args.port, key, run)
                references.append(post_all(args.port, key, bodies, args.connections)[0])
        product, reference = statistics.median(products), statistics.median(references)
        ratios = sorted(p / r for p, r in zip(products, references, strict=True))
        print(
            f"{name:<10} {size:>9,} waiting (seeded in {took:5.1f} s), median of {args.rounds}: /v1/batch "
            f"{product:>8,.0f} events/s; bare FastAPI + pydantic + SQLite {reference:>8,.0f} events/s; "
            f"ratio {product / reference:.2f} (each round's {ratios[0]:.2f}-{ratios[-1]:.2f})",
            flush=True,
        )
    print(f"{name:<10} {seeded:>9,} waiting: {consume_backlog(url)}", flush=True)
    bodies = [batch_body(f"{name}-latency", start) for start in range(0, args.latency_events, BATCH)]
    embedded = get_engine(url).dialect.name == "sqlite"
    factory = "benchmarks.intake:embedded_app" if embedded else "engine.api.app:create_api"
    with served(factory, args.port, {**env, "JOURNEY_SANDBOX": "true"}):
        warm_up(args.port, key, f"{name}-latency")
        engine = "engine in the API's process" if embedded else f"engine in {args.workers} journey worker(s)"
        print(
            f"{name:<10} {seeded:>9,} waiting, {engine}: "
            f"{reaction_latency(url, args.port, key, bodies, args.connections, args.workers)}"
        )


def emptied(url: str) -> None:
    """The database as a new install finds it: nothing in it, not even its tables."""
    engine = get_engine(url)
    engine.dispose()
    if engine.dialect.name == "sqlite":
        database = Path(engine.url.database or "")
        for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
            path.unlink(missing_ok=True)
        return
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        )
    engine.dispose()


@contextmanager
def scratch_postgres() -> Iterator[str | None]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_intake_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="events per throughput run")
    parser.add_argument("--latency-events", type=int, default=30_000, help="events of the latency run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs of product and reference, in turn")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="journey workers beside the API on PostgreSQL")
    parser.add_argument(
        "--waiting",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[0, 100_000, 1_000_000],
        help="customers waiting in the live journey, comma-separated",
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true")
    only.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    print(
        f"{args.events:,} events per run in batches of {BATCH} (half of them new customers entering the journey), "
        f"{args.connections} connections, one uvicorn worker each; {os.cpu_count()} cores shared with other work",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        if not args.postgres_only:
            measure("SQLite", f"sqlite:///{Path(folder) / 'intake.db'}", args, Path(folder))
        if args.sqlite_only:
            return
        with scratch_postgres() as pg:
            if pg is None:
                print("PostgreSQL: not reachable, not measured")
            else:
                measure("PostgreSQL", pg, args, Path(folder))


if __name__ == "__main__":
    main()
