"""Event intake: /v1/batch throughput, side by side with parsing alone and plain SQLite inserts.

Serves the real HTTP API (uvicorn, one worker) on a temporary SQLite database with the cart
abandonment starter live, and posts 100-event Segment batches from concurrent connections. Half
of the events are `cart_abandoned` for new customers, so the figure includes journey entry.

Run: python benchmarks/intake.py [--events 50000] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from engine.accounts import create_write_key
from engine.intake import parse_batch
from engine.journeys import create_journey, publish_journey
from engine.map.starters import load_template
from engine.runtime import launch_journey
from engine.store import session_scope, upgrade_database

BATCH = 100


def batch_body(start: int) -> bytes:
    events = []
    for i in range(start, start + BATCH):
        user = f"user-{i // 2}"
        if i % 2 == 0:
            events.append(
                {
                    "type": "identify",
                    "userId": user,
                    "messageId": str(uuid.uuid4()),
                    "traits": {"email": f"{user}@example.com", "first_name": "Ada"},
                }
            )
        else:
            events.append(
                {
                    "type": "track",
                    "userId": user,
                    "event": "cart_abandoned",
                    "messageId": str(uuid.uuid4()),
                    "properties": {
                        "cart_id": f"c{i}",
                        "cart_url": "https://shop.example/c",
                        "cart_total": 42,
                        "item_count": 2,
                    },
                }
            )
    return json.dumps({"batch": events}).encode()


def serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "engine.api.app:create_api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the API server did not start")


def http_rate(bodies: list[bytes], key: str, port: int, connections: int) -> float:
    def post(body: bytes, client: httpx.Client) -> None:
        response = client.post(
            f"http://127.0.0.1:{port}/v1/batch",
            content=body,
            auth=(key, ""),
            headers={"content-type": "application/json"},
        )
        response.raise_for_status()

    clients = [httpx.Client(timeout=60) for _ in range(connections)]
    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(lambda pair: post(pair[1], clients[pair[0] % connections]), enumerate(bodies)))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return len(bodies) * BATCH / elapsed


def parse_rate(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        parse_batch(body)
    return len(bodies) * BATCH / (time.perf_counter() - started)


def sqlite_rate(bodies: list[bytes], folder: Path) -> float:
    """The same events as rows, 100 per transaction, with the sqlite3 module and no HTTP or engine."""
    connection = sqlite3.connect(folder / "plain.db")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "create table event (id integer primary key, message_id text unique, type text, name text, properties text)"
    )
    started = time.perf_counter()
    for body in bodies:
        rows = [
            (e["messageId"], e["type"], e.get("event"), json.dumps(e.get("properties") or e.get("traits")))
            for e in json.loads(body)["batch"]
        ]
        with connection:
            connection.executemany("insert into event (message_id, type, name, properties) values (?, ?, ?, ?)", rows)
    elapsed = time.perf_counter() - started
    connection.close()
    return len(bodies) * BATCH / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    bodies = [batch_body(start) for start in range(0, args.events, BATCH)]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'intake.db'}"
        upgrade_database(url)
        with session_scope(url) as session:
            journey = create_journey(session=session, doc=load_template("cart_abandonment"))
            assert journey.id is not None
            publish_journey(session=session, journey_id=journey.id)
            launch_journey(session=session, journey_id=journey.id, actor="bench")
            key = create_write_key(session=session, name="bench").secret
        server = serve(url, args.port, args.workers)
        try:
            rate = http_rate(bodies, key, args.port, args.connections)
        finally:
            server.terminate()
            server.wait(10)
        parsed = parse_rate(bodies)
        plain = sqlite_rate(bodies, Path(folder))
    print(
        f"events: {args.events:,} in batches of {BATCH}, {args.connections} connections, "
        f"{args.workers} uvicorn worker(s), SQLite"
    )
    print(f"/v1/batch end to end (store, resolve, enroll):  {rate:>10,.0f} events/s")
    print(f"reference: parse + validate only, no storage:   {parsed:>10,.0f} events/s")
    print(f"reference: plain sqlite3 executemany, 100/txn:  {plain:>10,.0f} events/s")


if __name__ == "__main__":
    main()
