"""Sends that survive crashes, hangs and slow providers: a soak of real `journey worker` processes on PostgreSQL.

Local providers count what they really received: an SMTP server (by Message-ID) and HTTP SMS and push providers
(by Idempotency-Key). A provider accepts a message when it answers 2xx (SMTP 250); a request it hangs on or lets
time out is dropped, never processed. Customers arrive in batches; each gets an email, a push and an SMS.

Scenario ``kill`` (all providers healthy): a worker is killed with SIGKILL every ``--kill-every`` seconds (and
started again at once) until ``--kills`` kills. Scenario ``providers`` (no kills): first all healthy (the baseline),
then the SMS provider hangs every request for ``--hang-seconds`` at first and afterwards fails ``--failure-rate`` of
them (503, 429 with Retry-After: 1, or a time-out, in equal parts), and the SMTP server takes ``--smtp-delay``
seconds per message, while push stays healthy. Printed per channel: messages, accepted by the provider, duplicates
(accepted twice), of those not marked in doubt in the database, in doubt, held in doubt, dead-lettered, still
pending, lost (never accepted yet recorded delivered, or left "sending"), and the delay from the message's creation
to its acceptance (p50 / p99). Then how long the workers took to exit after SIGTERM.

Run: python benchmarks/soak.py [--scenario kill|providers|both] [--customers 5000] [--kills 50] [--workers 3]
Needs PostgreSQL (JOURNEY_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, insert, select, text

from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap
from engine.runtime import Entrant, enroll_many, launch_journey
from engine.store import (
    MessageStatus,
    OutboxMessage,
    Profile,
    get_engine,
    normalise_url,
    session_scope,
    upgrade_database,
)

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = normalise_url(
    os.environ.get("JOURNEY_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHANNELS = ("email", "push", "sms")
# Sends in flight at once per worker (engine/delivery/lanes.py): email 4 (JOURNEY_SMTP_CONNECTIONS), push 8, SMS 8.
IN_FLIGHT_PER_WORKER = 20
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^@>]+)@", re.IGNORECASE | re.MULTILINE)


@dataclass
class Ledger:
    """What one provider saw: requests and acceptances per key, and when each key was first accepted."""

    received: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    first_accepted: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, key: str) -> None:
        with self.lock:
            self.received[key] += 1

    def accept(self, key: str) -> None:
        with self.lock:
            self.accepted[key] += 1
            self.first_accepted.setdefault(key, time.time())


@dataclass
class Misbehaviour:
    """How an HTTP provider answers: hang every request until ``hang_until`` (wall clock), then fail a share."""

    hang_until: float = 0.0
    hang_seconds: float = 0.0
    failure_rate: float = 0.0


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed worker's connection resets mid-request: expected here, and not worth a traceback."""


class HttpProvider:
    def __init__(self, ledger: Ledger, behaviour: Misbehaviour) -> None:
        self.ledger, self.behaviour = ledger, behaviour
        self.stopping = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                provider.answer(self, key)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the ledger is the record."""

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler, key: str) -> None:
        self.ledger.receive(key)
        behaviour = self.behaviour
        if time.time() < behaviour.hang_until:
            self._drop(handler, behaviour.hang_seconds)
            return
        roll = random.random()
        if roll < behaviour.failure_rate / 3:
            self._reply(handler, 503, {}, b"overloaded")
        elif roll < behaviour.failure_rate * 2 / 3:
            self._reply(handler, 429, {"Retry-After": "1"}, b"slow down")
        elif roll < behaviour.failure_rate:
            self._drop(handler, 11.0)
        else:
            self.ledger.accept(key)
            self._reply(handler, 200, {"Content-Type": "application/json"}, json.dumps({"id": key}).encode())

    def _drop(self, handler: BaseHTTPRequestHandler, seconds: float) -> None:
        self.stopping.wait(seconds)
        handler.close_connection = True

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            handler.close_connection = True

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class SmtpProvider:
    """An aiosmtpd server in its own event loop; ``delay`` seconds before each message is accepted."""

    def __init__(self, ledger: Ledger, delay: float = 0.0) -> None:
        self.ledger, self.delay = ledger, delay
        self.loop = asyncio.new_event_loop()
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = asyncio.run_coroutine_threadsafe(
            self.loop.create_server(lambda: SMTP(self, hostname="soak-smtp", loop=self.loop), sock=listener), self.loop
        ).result(timeout=5)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        found = _MESSAGE_ID.search(envelope.original_content or b"")
        key = found.group(1).decode() if found else "?"
        self.ledger.receive(key)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.ledger.accept(key)
        return "250 2.0.0 accepted"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


@contextmanager
def scratch_database() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"journey_soak_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade_database(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def soak_map() -> JourneyMap:
    def send(node_id: str, channel: str) -> dict[str, Any]:
        subject = "Your cart" if channel == "email" else ""
        return {"id": node_id, "kind": "send", "stage": "s1", "channel": channel,
                "content": {"subject": subject, "body": f"A {channel} for {{{{ profile.first_name }}}}"}}  # fmt: skip

    return JourneyMap.from_dict(
        {
            "name": f"Soak {uuid.uuid4().hex[:6]}",
            "stages": [{"id": "s1", "name": "Send", "order": 0}],
            "nodes": [
                {"id": "entry", "kind": "trigger", "stage": "s1", "trigger": {"type": "event", "event": "go"}},
                send("mail", "email"),
                send("push", "push"),
                send("text", "sms"),
            ],
            "edges": [
                {"id": "e1", "source": "entry", "target": "mail"},
                {"id": "e2", "source": "mail", "target": "push"},
                {"id": "e3", "source": "push", "target": "text"},
            ],
            "settings": {"goal_event": "purchased"},
        }
    )


def launch(url: str) -> tuple[int, int]:
    with session_scope(url) as session:
        journey = create_journey(session=session, doc=soak_map(), created_by="soak")
        assert journey.id is not None
        version = publish_journey(session=session, journey_id=journey.id, published_by="soak")
        launch_journey(session=session, journey_id=journey.id, actor="soak")
        assert version.id is not None
        return journey.id, version.id


def arrive(url: str, journey: tuple[int, int], first: int, count: int, run: str) -> None:
    """``count`` customers enter now: one identify's worth of profile and an entry each."""
    now = datetime.now(UTC)
    users = [f"{run}-{i}" for i in range(first, first + count)]
    traits = [
        {"email": f"{u}@example.com", "phone": f"+1555{i:07d}", "first_name": "Ada"} for i, u in enumerate(users, first)
    ]
    with session_scope(url) as session:
        table = Profile.__table__  # type: ignore[attr-defined]
        ids = list(
            session.execute(
                insert(table).returning(table.c.id),
                [
                    {"user_id": u, "traits": t, "consent": {}, "created_at": now, "updated_at": now}
                    for u, t in zip(users, traits, strict=True)
                ],
            ).scalars()
        )
        entrants = [
            Entrant(profile_id=pid, user_id=u, traits=t, timezone="UTC", context={})
            for pid, u, t in zip(ids, users, traits, strict=True)
        ]
        enroll_many(session=session, journey_id=journey[0], version_id=journey[1], entrants=entrants, now=now)


class Workers:
    def __init__(self, url: str, count: int, env: dict[str, str], args: argparse.Namespace, logs: Path) -> None:
        self.env = {**os.environ, **env, "DATABASE_URL": url, "JOURNEY_SANDBOX": ""}
        self.args, self.logs = args, logs
        self.started = 0
        self.procs = [self._start() for _ in range(count)]

    def wait_ready(self, timeout: float = 120) -> None:
        """Until every worker has logged that it started (the first start imports everything: seconds)."""
        deadline = time.monotonic() + timeout
        for number in range(1, self.started + 1):
            log = self.logs / f"worker{number}.log"
            while "journey worker started" not in log.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker {number} did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.1)

    def _start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logs / f"worker{self.started}.log").open("wb")
        command = [
            sys.executable,
            "-m",
            "engine.cli",
            "worker",
            "--tick",
            str(self.args.tick),
            "--lease",
            str(self.args.lease),
        ]
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log)

    def kill_one(self) -> None:
        index = random.randrange(len(self.procs))
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait()
        self.procs[index] = self._start()

    def stop(self) -> list[float]:
        """SIGTERM to all at once; how long each took to exit (30 s at most, then SIGKILL)."""
        start = time.monotonic()
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        took = []
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, 30 - (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            took.append(time.monotonic() - start)
        return took


def unsettled(url: str, journey_id: int) -> int:
    with session_scope(url) as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM outbox_message WHERE journey_id = :j AND status IN ('pending', 'sending')"),
                {"j": journey_id},
            ).scalar_one()
        )


def run_scenario(name: str, args: argparse.Namespace, *, kills: int, degraded: bool, customers: int) -> dict[str, Any]:
    ledgers = {channel: Ledger() for channel in CHANNELS}
    sms_behaviour = Misbehaviour()
    smtp = SmtpProvider(ledgers["email"], delay=args.smtp_delay if degraded else 0.0)
    push = HttpProvider(ledgers["push"], Misbehaviour())
    sms = HttpProvider(ledgers["sms"], sms_behaviour)
    env = {
        "JOURNEY_SMTP_HOST": "127.0.0.1",
        "JOURNEY_SMTP_PORT": str(smtp.port),
        "JOURNEY_PUSH_URL": push.url,
        "JOURNEY_SMS_URL": sms.url,
    }
    run = uuid.uuid4().hex[:6]
    with scratch_database() as url, tempfile.TemporaryDirectory() as logs:
        journey = launch(url)
        workers = Workers(url, args.workers, env, args, Path(logs))
        workers.wait_ready()
        started = time.monotonic()
        if degraded:
            sms_behaviour.hang_until = time.time() + args.hang_window
            sms_behaviour.hang_seconds = args.hang_seconds
            sms_behaviour.failure_rate = args.failure_rate
        arrival = max(kills * args.kill_every, args.arrival)
        batches = max(1, int(arrival / 0.5))
        sent_in = 0
        next_kill, done_kills = started + args.kill_every, 0
        for batch in range(batches):
            count = customers * (batch + 1) // batches - sent_in
            arrive(url, journey, sent_in, count, run)
            sent_in += count
            while time.monotonic() < started + (batch + 1) * arrival / batches:
                if done_kills < kills and time.monotonic() >= next_kill:
                    workers.kill_one()
                    done_kills += 1
                    next_kill += args.kill_every
                time.sleep(0.05)
        while done_kills < kills:
            time.sleep(max(0.0, next_kill - time.monotonic()))
            workers.kill_one()
            done_kills += 1
            next_kill += args.kill_every
        deadline = time.monotonic() + args.settle
        while unsettled(url, journey[0]) and time.monotonic() < deadline:
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        stop_times = workers.stop()
        rows = _messages(url, journey[0])
    for provider in (push, sms):
        provider.close()
    smtp.close()
    return {"name": name, "kills": kills, "rows": rows, "ledgers": ledgers, "elapsed": elapsed, "stops": stop_times}


def _messages(url: str, journey_id: int) -> list[tuple[str, str, str, bool, str, datetime]]:
    with session_scope(url) as session:
        return [
            tuple(row)  # type: ignore[misc]
            for row in session.execute(
                select(
                    OutboxMessage.idempotency_key,
                    OutboxMessage.channel,
                    OutboxMessage.status,
                    OutboxMessage.in_doubt,
                    OutboxMessage.reason,
                    OutboxMessage.created_at,
                ).where(OutboxMessage.journey_id == journey_id)
            )
        ]


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(result: dict[str, Any]) -> dict[str, float]:
    rows, ledgers = result["rows"], result["ledgers"]
    print(f"\n== {result['name']}: {len(rows)} messages, {result['kills']} kills, {result['elapsed']:.0f} s "
          f"({len(rows) / result['elapsed']:.0f} messages/s)")  # fmt: skip
    header = ("channel", "messages", "accepted", "dupes", "unmarked", "in doubt", "held", "dead", "pending", "lost",
              "p50 ms", "p99 ms")  # fmt: skip
    print("  ".join(f"{h:>9}" for h in header))
    p99: dict[str, float] = {}
    totals: Counter[str] = Counter()
    for channel in CHANNELS:
        ledger: Ledger = ledgers[channel]
        mine = [r for r in rows if r[1] == channel]
        by_key = {r[0]: r for r in mine}
        duplicated = [k for k, n in ledger.accepted.items() if n > 1 and k in by_key]
        counts = {
            "messages": len(mine),
            "accepted": sum(1 for k in by_key if ledger.accepted[k]),
            "dupes": sum(ledger.accepted[k] - 1 for k in duplicated),
            "unmarked": sum(1 for k in duplicated if not by_key[k][3]),
            "in doubt": sum(1 for r in mine if r[3]),
            "held": sum(1 for r in mine if r[2] == MessageStatus.IN_DOUBT),
            "dead": sum(1 for r in mine if r[2] == MessageStatus.FAILED and "dead letter" in r[4]),
            "pending": sum(1 for r in mine if r[2] == MessageStatus.PENDING),
            "lost": sum(
                1
                for r in mine
                if not ledger.accepted[r[0]] and (r[2] == MessageStatus.DELIVERED or r[2] == MessageStatus.SENDING)
            ),
        }
        totals.update(counts)
        delays = [
            (ledger.first_accepted[r[0]] - r[5].timestamp()) * 1000 for r in mine if r[0] in ledger.first_accepted
        ]
        p99[channel] = _percentile(delays, 0.99)
        cells = [channel, *(str(v) for v in counts.values())]
        cells += [f"{_percentile(delays, 0.5):.0f}", f"{p99[channel]:.0f}"]
        print("  ".join(f"{c:>9}" for c in cells))
    print(f"{'all':>9}  " + "  ".join(f"{totals[h]:>9}" for h in header[1:10]))
    bound = result["kills"] * IN_FLIGHT_PER_WORKER
    print(f"duplicates {totals['dupes']} (bound: kills x in-flight per worker = {bound}); "
          f"not marked in doubt: {totals['unmarked']}; lost: {totals['lost']}")  # fmt: skip
    stops = result["stops"]
    print(f"SIGTERM: {len(stops)} workers exited within {max(stops):.1f} s")
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["kill", "providers", "both"], default="both")
    parser.add_argument("--customers", type=int, default=5000, help="customers in the kill scenario (3 messages each)")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--kill-every", type=float, default=2.0, metavar="SECONDS")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--provider-customers", type=int, default=300, help="customers in each providers run")
    parser.add_argument("--arrival", type=float, default=60.0, metavar="SECONDS", help="customers arrive over this")
    parser.add_argument("--hang-window", type=float, default=20.0, metavar="SECONDS", help="SMS hangs at first")
    parser.add_argument("--hang-seconds", type=float, default=200.0, help="how long each hung SMS request hangs")
    parser.add_argument("--smtp-delay", type=float, default=0.7, help="seconds per email when degraded")
    parser.add_argument("--failure-rate", type=float, default=0.3, help="SMS 503/429/time-outs when degraded")
    parser.add_argument("--settle", type=float, default=300.0, metavar="SECONDS", help="wait for retries at most")
    parser.add_argument("--tick", type=float, default=0.2)
    parser.add_argument("--lease", type=float, default=15.0, help="the workers' send lease (journey worker --lease)")
    args = parser.parse_args()
    print(f"soak on PostgreSQL, {args.workers} journey workers (tick {args.tick} s, lease {args.lease} s)")
    if args.scenario in ("kill", "both"):
        report(run_scenario("kill -9", args, kills=args.kills, degraded=False, customers=args.customers))
    if args.scenario in ("providers", "both"):
        healthy = report(
            run_scenario("all providers healthy", args, kills=0, degraded=False, customers=args.provider_customers)
        )
        degraded = report(
            run_scenario(
                "SMS hanging then failing, SMTP slow", args, kills=0, degraded=True, customers=args.provider_customers
            )
        )
        change = degraded["push"] - healthy["push"]
        print(f"push (healthy) p99: {healthy['push']:.0f} ms with every provider healthy, "
              f"{degraded['push']:.0f} ms beside the degraded ones ({change:+.0f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
