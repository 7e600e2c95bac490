"""``journey simulate`` as a user runs it, against the real intake served by uvicorn on 127.0.0.1 and a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from engine.accounts import create_write_key, revoke_write_key
from engine.simulation import (
    Outcome,
    SimulationOptions,
    ensure_demo_journey,
    find_target,
    plan_simulation,
    resolve_odds,
)
from engine.store import Enrollment, EnrollmentStatus, Event, Profile, Transition, WriteKey, session_scope
from tests.engine_factories import NOW, react_to_pending
from tests.integration.journey_harness import api_server, free_port

# Customers arrive at once, and the journey's waits last a second or two (the demo journey with its waits
# 36,000 times shorter): the test checks what arrives, not the pacing. No engine runs here, so waits never
# end: each run ends, or not, by the events alone, and the outcomes cannot depend on timing.
SPEED = "1000000"
WAITS_SHORTER = 36_000
DEMO_NAME = "Cart abandonment recovery (demo, 36000x faster)"


@dataclass(frozen=True)
class Intake:
    database_url: str
    base_url: str
    journey_id: int


@pytest.fixture
def intake(db_url: str) -> Iterator[Intake]:
    with session_scope(db_url) as session:
        journey = ensure_demo_journey(session=session, actor="test", speed=WAITS_SHORTER).journey
        assert journey.id is not None
        journey_id = journey.id
    with api_server(db_url) as base_url:
        yield Intake(db_url, base_url, journey_id)


def journey(intake: Intake, *arguments: str, write_key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "JOURNEY_WRITE_KEY"}
    env["DATABASE_URL"] = intake.database_url
    if write_key is not None:
        env["JOURNEY_WRITE_KEY"] = write_key
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def count(intake: Intake, table: type) -> int:
    with session_scope(intake.database_url) as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def test_simulated_customers_arrive_through_the_intake_and_enter_the_journey(intake: Intake) -> None:
    done = journey(
        intake, "simulate", str(intake.journey_id), "--customers", "60", "--seed", "11", "--speed", SPEED,
        "--base-url", intake.base_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "created write key 1 (simulator)" in done.stderr
    with session_scope(intake.database_url) as session:
        target = find_target(session=session, reference=str(intake.journey_id))
    scripts = plan_simulation(
        target.plan,
        target.doc,
        SimulationOptions(customers=60, seed=11, odds=resolve_odds(target.plan), speed=float(SPEED), start=NOW),
    )
    planned = sum(len(script.messages) for script in scripts)
    assert f"customers 60, events sent {planned} in " in done.stderr
    assert f"({planned} accepted, 0 duplicates), rejected 0, not sent 0" in done.stderr
    assert "simulate: 100%" in done.stderr, "a log gets one progress line per tenth"
    # The engine reacts to what the intake stored, in the order it was received: each customer enters once.
    assert react_to_pending(intake.database_url) == 60

    with session_scope(intake.database_url) as session:
        events = Counter(session.execute(select(col(Event.type))).scalars())
        assert sum(events.values()) == planned
        assert set(events) == {"identify", "page", "track"}
        profiles = session.execute(select(Profile).where(col(Profile.user_id).like("sim-11-%"))).scalars().all()
        assert len(profiles) == 60
        for profile in profiles:
            assert profile.traits["email"].endswith("@example.com")
            assert profile.traits["phone"].startswith("+1")
            assert profile.timezone
            assert profile.consent["email"] is True
        runs = Counter(
            (status, reason)
            for status, reason in session.execute(
                select(col(Enrollment.status), col(Enrollment.end_reason)).where(
                    col(Enrollment.journey_id) == intake.journey_id
                )
            )
        )
        entered_abandon = session.execute(
            select(func.count()).where(col(Transition.node_id) == "cart_abandoned")
        ).scalar_one()
    assert entered_abandon == 60
    outcomes = Counter(script.outcome for script in scripts)
    assert runs[(EnrollmentStatus.ENDED, "goal")] == outcomes[Outcome.CONVERTED] > 0
    assert runs[(EnrollmentStatus.ENDED, "exit_criteria")] == outcomes[Outcome.DROPPED] > 0
    assert runs[(EnrollmentStatus.WAITING, None)] == outcomes[Outcome.FINISHED] > 0

    # The same seed sends the same messages again, which the intake recognises as retries.
    with session_scope(intake.database_url) as session:
        key = create_write_key(session=session, name="again").secret
    again = journey(
        intake, "simulate", DEMO_NAME, "--customers", "60", "--seed", "11",
        "--speed", SPEED, "--base-url", intake.base_url, write_key=key,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "created write key" not in again.stderr
    assert f"(0 accepted, {planned} duplicates)" in again.stderr
    assert react_to_pending(intake.database_url) == 0
    assert count(intake, Event) == planned


def test_an_unknown_write_key_is_refused_with_the_servers_reason_and_nothing_is_stored(intake: Intake) -> None:
    done = journey(
        intake, "simulate", str(intake.journey_id), "--customers", "20", "--speed", SPEED,
        "--base-url", intake.base_url, "--write-key", "wk_not_a_key",
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        f"the intake at {intake.base_url} refused the write key: unknown or revoked write key (HTTP 401)" in done.stderr
    )
    assert "events sent 0 in 0 batches" in done.stderr
    assert count(intake, Event) == 0
    assert count(intake, Profile) == 0
    assert count(intake, Enrollment) == 0
    assert count(intake, WriteKey) == 0, "a key was given, so none is created"


def test_nothing_answering_at_the_base_url_is_a_clear_error(intake: Intake) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    done = journey(intake, "simulate", str(intake.journey_id), "--customers", "5", "--base-url", nowhere)
    assert done.returncode == 1
    assert f"nothing answers at {nowhere}" in done.stderr
    assert "start the app (bash scripts/run.sh) or pass --base-url" in done.stderr
    assert count(intake, Event) == 0


def test_runs_that_share_a_key_file_share_one_write_key(intake: Intake, tmp_path: Path) -> None:
    kept = tmp_path / "simulator.key"
    arguments = ["simulate", str(intake.journey_id), "--customers", "2", "--speed", SPEED, "--base-url",
                 intake.base_url, "--write-key-file", str(kept)]  # fmt: skip
    first = journey(intake, *arguments, "--seed", "1")
    assert first.returncode == 0, first.stderr
    assert f"created write key 1 (simulator) in {intake.database_url}; kept in {kept} for the next runs" in first.stderr
    assert kept.stat().st_mode & 0o777 == 0o600
    second = journey(intake, *arguments, "--seed", "2")
    assert second.returncode == 0, second.stderr
    assert "created write key" not in second.stderr
    assert count(intake, WriteKey) == 1

    with session_scope(intake.database_url) as session:
        revoke_write_key(session=session, key_id=1, actor="test")
        session.commit()
    third = journey(intake, *arguments, "--seed", "3")
    assert third.returncode == 0, third.stderr
    assert "created write key 2 (simulator)" in third.stderr, "a revoked kept key is replaced"
