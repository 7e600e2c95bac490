"""SIGTERM: a `journey worker` stops claiming, finishes or gives back what it holds, and exits within 10 s, even
while its SMTP server takes seconds per message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.runtime import stop_journey
from engine.store import MessageStatus, OutboxMessage, session_scope, utc_now
from tests.engine_factories import (
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    publish_and_launch,
    send,
    track,
)
from tests.integration.journey_harness import wait_for
from tests.integration.servers import SmtpTestServer

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 20


def test_sigterm_stops_the_worker_within_10_s_and_leaves_no_message_leased_to_it(pg_url: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    with session_scope(pg_url) as session:
        doc = journey_map([event_trigger("go"), send("mail")], [("entry", "mail")], name=f"Stopping {run}")
        journey_id, _ = publish_and_launch(session, doc)
        for i in range(CUSTOMERS):
            user = f"stop-{run}-{i}"
            ingest_and_react(
                session=session, messages=[identify(user, {"email": f"{user}@example.com"}), track(user, "go")]
            )

    log = tmp_path / "worker.log"
    with SmtpTestServer(delay=2.0) as smtp, log.open("wb") as err:
        env = {
            **os.environ,
            "DATABASE_URL": pg_url,
            "JOURNEY_SMTP_HOST": smtp.host,
            "JOURNEY_SMTP_PORT": str(smtp.port),
            "JOURNEY_SANDBOX": "",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "worker", "--tick", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            wait_for(lambda: smtp.connections > 0, timeout=30, what="the worker's first email")
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        received = len(smtp.messages)

    try:
        assert code == 0, log.read_text()
        now = utc_now()
        with session_scope(pg_url) as session:
            rows = session.execute(select(OutboxMessage).where(OutboxMessage.journey_id == journey_id)).scalars().all()
        delivered = [m for m in rows if m.status is MessageStatus.DELIVERED]
        assert len(delivered) == received < CUSTOMERS
        # Nothing is left leased to the stopped worker: what it had not sent is due again for anyone, and a send
        # cut short would be in doubt at once (none here: the worker finished the one it had under way).
        held = [m for m in rows if m.status in (MessageStatus.PENDING, MessageStatus.SENDING)]
        assert all(m.next_attempt_at is not None and m.next_attempt_at <= now for m in held)
        assert all(m.lease_owner is None for m in held)
    finally:
        with session_scope(pg_url) as session:
            stop_journey(session=session, journey_id=journey_id, actor="test")
