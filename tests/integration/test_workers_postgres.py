"""Two `journey worker` processes share one PostgreSQL store and never send a message twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, insert, select

from engine.journeys import create_journey, publish_journey
from engine.runtime import Entrant, enroll_many, launch_journey, stop_journey
from engine.store import Enrollment, EnrollmentStatus, Profile, session_scope
from tests.integration.journey_harness import fast_cart_abandonment, wait_for
from tests.integration.servers import HttpTestServer

pytestmark = pytest.mark.postgres

CUSTOMERS = 300
ROOT = Path(__file__).resolve().parents[2]


def _start_worker(pg_url: str, sms: HttpTestServer, push: HttpTestServer, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "JOURNEY_SMS_URL": f"http://127.0.0.1:{sms.port}/sms",
        "JOURNEY_PUSH_URL": f"http://127.0.0.1:{push.port}/push",
        "JOURNEY_SANDBOX": "",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "worker", "--tick", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def test_two_workers_share_the_due_customers_and_send_each_message_once(pg_url: str, tmp_path: Path) -> None:
    with session_scope(pg_url) as session:
        journey = create_journey(session=session, doc=fast_cart_abandonment(seconds=1), created_by="test")
        assert journey.id is not None
        version = publish_journey(session=session, journey_id=journey.id)
        launch_journey(session=session, journey_id=journey.id, actor="test")
        now = datetime.now(UTC)
        profile_ids = list(
            session.execute(
                insert(Profile.__table__).returning(Profile.__table__.c.id),  # type: ignore[attr-defined]
                [
                    {
                        "user_id": f"w{i}",
                        "traits": {"phone": f"+1555{i:07d}", "first_name": "Ada"},
                        "consent": {"email": False},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(CUSTOMERS)
                ],
            ).scalars()
        )
        assert version.id is not None
        enroll_many(
            session=session,
            journey_id=journey.id,
            version_id=version.id,
            entrants=[
                Entrant(
                    profile_id=pid,
                    user_id=f"w{i}",
                    traits={"phone": f"+1555{i:07d}", "first_name": "Ada"},
                    timezone="UTC",
                    context={
                        "cart_id": f"c{i}",
                        "cart_url": "https://shop.example/c",
                        "cart_total": 10,
                        "item_count": 1,
                    },
                )
                for i, pid in enumerate(profile_ids)
            ],
            now=now,
        )
        journey_id = journey.id

    with HttpTestServer() as sms, HttpTestServer() as push:
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        with ExitStack() as files:
            workers = [_start_worker(pg_url, sms, push, files.enter_context(log.open("wb"))) for log in logs]
            try:
                # Email is opted out for everyone, so each customer gets exactly one push and one SMS.
                wait_for(lambda: len(sms.requests) >= CUSTOMERS, timeout=60, what="an SMS for every customer")
                time.sleep(2)
            finally:
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    worker.wait(timeout=20)
        outputs = [log.read_text() for log in logs]

        assert all(worker.returncode == 0 for worker in workers), outputs
        push_keys = Counter(r.headers["idempotency-key"] for r in push.requests)
        sms_keys = Counter(r.headers["idempotency-key"] for r in sms.requests)
        assert len(push_keys) == CUSTOMERS
        assert max(push_keys.values()) == 1
        assert len(sms_keys) == CUSTOMERS
        assert max(sms_keys.values()) == 1
        assert len({r.json()["to"] for r in sms.requests}) == CUSTOMERS

    with session_scope(pg_url) as session:
        still_waiting = session.execute(
            select(func.count()).where(
                Enrollment.journey_id == journey_id, Enrollment.status == EnrollmentStatus.WAITING
            )
        ).scalar_one()
        stop_journey(session=session, journey_id=journey_id, actor="test")
    assert still_waiting == 0
