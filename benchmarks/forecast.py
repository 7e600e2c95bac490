"""A forecast of the cart-abandonment starter over 7 days of stored events, on SQLite.

Stores ``--events`` events (default 1,000,000) of ``--customers`` shoppers over the 7 days before now, then times
``engine.forecast.forecast`` of the published starter over them, and prints:
  * events/s: the window's stored events over the forecast's wall time (and the events it replayed, those that can
    move a customer in the journey: identifies and the journey's own tracks);
  * peak RSS during the forecast (sampled every 10 ms) and the process's RSS before it;
  * the reference: the same window read with plain ``sqlite3`` (every event row, no engine), events/s.

The shoppers: each identifies once and views products (``product_viewed`` tracks and pages); half leave a cart,
of whom a third order it within hours and a tenth empty it; some leave a second cart later. ``--carts-only`` keeps
only identifies and cart events: every stored event is one the replay must act on (the worst case).

Run: python benchmarks/forecast.py [--events 1000000] [--customers 100000] [--carts-only]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from engine.forecast import forecast
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


class PeakRss:
    """The process's resident memory, sampled every 10 ms while the block runs."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._done = threading.Event()

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--carts-only", action="store_true", help="only identifies and cart events (worst case)")
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
        until = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        stored = seed(path, events=args.events, customers=args.customers, carts_only=args.carts_only, until=until)
        print(f"stored {stored:,} events of {args.customers:,} customers in {time.perf_counter() - started:.1f} s")

        with session_scope(url) as session, PeakRss() as rss:
            before = rss.peak
            started, cpu = time.perf_counter(), time.process_time()
            result = forecast(session=session, journey_id=journey_id, version=1, since=WINDOW, until=until)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        get_engine(url).dispose()
        ceiling = reference(path, until - WINDOW, until)

    sent = {c.channel: c.sent for c in result.channels}
    # The machine may be shared: the CPU seconds say how much of the wall time was this process's own work.
    print(f"forecast of the cart-abandonment starter over 7 days: {elapsed:.2f} s ({cpu:.2f} CPU s)")
    print(f"  {stored / elapsed:,.0f} stored events/s ({result.events:,} replayed: {result.events / elapsed:,.0f}/s)")
    print(f"  peak RSS {rss.peak / 2**20:,.0f} MiB (before the forecast {before / 2**20:,.0f} MiB)")
    print(
        f"  entered {result.entered:,}, goal {result.goal_reached.low:,}-{result.goal_reached.high:,}, sent {sent}, "
        f"held {sum(c.suppressed + c.deferred for c in result.channels):,}"
    )
    print(f"reference, plain sqlite3 reading every event of the window: {ceiling:,.0f} events/s")


if __name__ == "__main__":
    main()
