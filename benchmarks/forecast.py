"""A forecast of the cart-abandonment starter over 7 days of stored events, on SQLite.

Stores ``--events`` events (default 1,000,000) of ``--customers`` shoppers over the 7 days before now, then times
``engine.forecast.forecast`` of the published starter over them, in one process and dealt out to ``--processes``
(default: as many as a forecast takes on this machine), each in a fresh Python process that runs the forecast alone
(as the CLI does), and prints for each:
  * wall time, and the CPU time of the forecast's process and of the processes it started;
  * events/s: the window's stored events over the wall time (and the events it replayed, those that can move a
    customer in the journey: identifies and the journey's own tracks);
  * peak RSS: the forecast's process (its whole life: Python and the engine imported, then the forecast) and the
    largest of the processes it started;
then whether both gave the same figures, and the reference: the same window read with plain ``sqlite3`` (every
event row, no engine), events/s.

The shoppers: each identifies once and views products (``product_viewed`` tracks and pages); half leave a cart,
of whom a third order it within hours and a tenth empty it; some leave a second cart later. ``--carts-only`` keeps
only identifies and cart events: every stored event is one the replay must act on (the worst case).

Run: python benchmarks/forecast.py [--events 1000000] [--customers 100000] [--carts-only] [--processes N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.forecast import MAX_PROCESSES, forecast
from engine.journeys import create_journey, publish_journey
from engine.map.starters import load_template
from engine.store import get_engine, session_scope, upgrade_database

WINDOW = timedelta(days=7)
CHUNK = 20_000
ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", None]


def _stamp(at: datetime) -> str:
    # As UtcDateTime writes it on SQLite.
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _shopper(rng: random.Random, index: int, start: datetime, carts_only: bool) -> Iterator[tuple[Any, ...]]:
    """One shopper's events in time order: (message id, type, name, properties, at)."""
    at = start + timedelta(seconds=rng.uniform(0, WINDOW.total_seconds() * 0.9))
    user = f"shopper-{index}"
    yield f"{user}-id", "identify", None, {"email": f"{user}@example.com", "first_name": "Sam"}, at
    views = 0 if carts_only else rng.randint(4, 12)
    for view in range(views):
        at += timedelta(seconds=rng.uniform(5, 600))
        kind = "track" if view % 2 else "page"
        name = "product_viewed" if kind == "track" else "Product"
        yield f"{user}-v{view}", kind, name, {"sku": f"sku-{rng.randint(1, 5000)}"}, at
    carts = rng.choice([0, 1, 1, 2]) if not carts_only else rng.choice([1, 2, 3])
    for cart in range(carts):
        at += timedelta(minutes=rng.uniform(1, 600))
        cart_id = f"{user}-c{cart}"
        properties = {"cart_id": cart_id, "cart_url": f"https://shop.example/c/{cart_id}", "cart_total": 42}
        yield f"{cart_id}-left", "track", "cart_abandoned", {**properties, "item_count": 2}, at
        fate = rng.random()
        if fate < 0.33:
            at += timedelta(minutes=rng.uniform(5, 30 * 60))
            yield f"{cart_id}-order", "track", "order_completed", {"cart_id": cart_id, "total": 42}, at
        elif fate < 0.43:
            at += timedelta(minutes=rng.uniform(5, 600))
            yield f"{cart_id}-empty", "track", "cart_emptied", {"cart_id": cart_id}, at


def seed(path: Path, *, events: int, customers: int, carts_only: bool, until: datetime) -> int:
    """Store about ``events`` events of ``customers`` shoppers (plain sqlite3 inserts, in the order of time)."""
    rng = random.Random(17)
    start = until - WINDOW
    connection = sqlite3.connect(path)
    profiles = [
        (
            f"shopper-{i}",
            json.dumps({"email": f"shopper-{i}@example.com", "phone": f"+1555{i:07d}", "first_name": "Sam"}),
            rng.choice(ZONES),
            json.dumps({"sms": False} if i % 7 == 0 else {}),
            _stamp(start),
            _stamp(start),
        )
        for i in range(customers)
    ]
    connection.executemany(
        "INSERT INTO profile (user_id, traits, timezone, consent, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        profiles,
    )
    ids = dict(connection.execute("SELECT user_id, id FROM profile"))
    rows: list[tuple[Any, ...]] = []
    index = 0
    while len(rows) < events:
        profile = ids[f"shopper-{index % customers}"]
        for message_id, kind, name, properties, at in _shopper(rng, index, start, carts_only):
            if at < until:
                rows.append((f"{message_id}-{index}", profile, kind, name, json.dumps(properties), _stamp(at)))
        index += 1
    del rows[events:]
    # The intake stores events in the order it receives them: ids follow the time of receipt.
    rows.sort(key=lambda row: row[5])
    for offset in range(0, len(rows), CHUNK):
        connection.executemany(
            "INSERT INTO event (message_id, profile_id, type, name, properties, occurred_at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, row[5]) for row in rows[offset : offset + CHUNK]],
        )
    connection.commit()
    connection.close()
    return len(rows)


def reference(path: Path, since: datetime, until: datetime) -> float:
    """Events per second read with plain sqlite3: every event row of the window, no engine."""
    connection = sqlite3.connect(path)
    started = time.perf_counter()
    cursor = connection.execute(
        "SELECT profile_id, type, name, properties, received_at FROM event "
        "WHERE received_at >= ? AND received_at < ? ORDER BY id",
        (_stamp(since), _stamp(until)),
    )
    read = 0
    while batch := cursor.fetchmany(CHUNK):
        read += len(batch)
    elapsed = time.perf_counter() - started
    connection.close()
    return read / elapsed


def replay(path: Path, journey_id: int, until: datetime, processes: int) -> dict[str, Any]:
    """One forecast in this process, which does nothing else: its figures, times and memory."""
    url = f"sqlite:///{path}"
    with session_scope(url) as session:
        started, cpu = time.perf_counter(), time.process_time()
        result = forecast(
            session=session, journey_id=journey_id, version=1, since=WINDOW, until=until, processes=processes
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    parts = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "parts_cpu": parts.ru_utime + parts.ru_stime,
        "peak": _peak_rss(),
        # ru_maxrss is in KiB on Linux; the parts are forked from this process, whose peak is measured above.
        "parts_peak": parts.ru_maxrss * 1024,
        "result": result.model_dump(mode="json"),
    }


def _peak_rss() -> int:
    """This process's peak resident memory since it started this program (VmHWM; getrusage's figure would carry
    over the peak of the benchmark's process that seeded the database and forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _replayed_apart(path: Path, journey_id: int, until: datetime, processes: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--replay", str(path), str(journey_id), until.isoformat(), str(processes)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def _print(label: str, figures: dict[str, Any], stored: int) -> None:
    result = figures["result"]
    elapsed = figures["elapsed"]
    print(
        f"{label}: {elapsed:.2f} s ({figures['cpu']:.2f} CPU s here, {figures['parts_cpu']:.2f} CPU s in the parts' "
        f"processes)"
    )
    replayed = result["events"]
    print(f"  {stored / elapsed:,.0f} stored events/s ({replayed:,} replayed: {replayed / elapsed:,.0f}/s)")
    parts = f", each part's process at most {figures['parts_peak'] / 2**20:,.0f} MiB" if figures["parts_peak"] else ""
    print(f"  peak RSS {figures['peak'] / 2**20:,.0f} MiB in the forecast's process{parts}")


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--replay":
        database, stored_journey, moment, processes = sys.argv[2:]
        figures = replay(Path(database), int(stored_journey), datetime.fromisoformat(moment), int(processes))
        print(json.dumps(figures))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--carts-only", action="store_true", help="only identifies and cart events (worst case)")
    parser.add_argument(
        "--processes",
        type=int,
        default=max(2, min(os.cpu_count() or 1, MAX_PROCESSES)),
        help="the processes of the dealt-out forecast (default: as many as a large store's forecast takes here)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "forecast.db"
        url = f"sqlite:///{path}"
        upgrade_database(url)
        with session_scope(url) as session:
            journey = create_journey(session=session, doc=load_template("cart_abandonment"), created_by="benchmark")
            assert journey.id is not None
            publish_journey(session=session, journey_id=journey.id, published_by="benchmark")
            journey_id = journey.id
        get_engine(url).dispose()
        until = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        stored = seed(path, events=args.events, customers=args.customers, carts_only=args.carts_only, until=until)
        print(f"stored {stored:,} events of {args.customers:,} customers in {time.perf_counter() - started:.1f} s")

        alone = _replayed_apart(path, journey_id, until, 1)
        apart = _replayed_apart(path, journey_id, until, args.processes)
        ceiling = reference(path, until - WINDOW, until)

    print("forecast of the cart-abandonment starter over 7 days, on SQLite")
    _print("  in one process", alone, stored)
    _print(f"  dealt out to {args.processes} processes", apart, stored)
    result = apart["result"]
    sent = {c["channel"]: c["sent"] for c in result["channels"]}
    held = sum(c["suppressed"] + c["deferred"] for c in result["channels"])
    goal = result["goal_reached"]
    print(f"  entered {result['entered']:,}, goal {goal['low']:,}-{goal['high']:,}, sent {sent}, held {held:,}")
    print(f"  the same figures both ways: {'yes' if alone['result'] == result else 'NO'}")
    print(f"reference, plain sqlite3 reading every event of the window: {ceiling:,.0f} events/s")


if __name__ == "__main__":
    main()
