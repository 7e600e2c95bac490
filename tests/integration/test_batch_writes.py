"""A batch's writes leave the same rows on SQLite (executemany) and PostgreSQL (one unnested statement per table).

PostgreSQL takes a batch's rows as one array per column (engine/store/bulk.py); these tests hold it to what the
row-by-row statements do: Python-side defaults filled, a run updated twice in one batch left as the second update
leaves it with the first moment it reached its goal, ids in the order the runs were given. (A value too long for
its column is refused, never cut: tests/security/test_isolation.py.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert
from sqlmodel import Session, col, select

from engine.runtime import NOWHERE, BatchWrites, Ended, EndReason, Waiting, enrollment_update, open_runs
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboxMessage,
    Profile,
    Transition,
    session_scope,
    upgrade_database,
)
from tests.engine_factories import NOW, event_trigger, journey_map, node, publish_and_launch

LATER = NOW + timedelta(minutes=5)


def _customer(session: Session, user_id: str) -> int:
    table = Profile.__table__  # type: ignore[attr-defined]
    row = {"user_id": user_id, "traits": {"plan": "free"}, "consent": {}, "created_at": NOW, "updated_at": NOW}
    return int(session.execute(insert(table).returning(table.c.id), [row]).scalar_one())


def _skipped_message(enrollment_id: int, journey_id: int, profile_id: int) -> dict[str, Any]:
    return {
        "idempotency_key": f"e{enrollment_id}-mail",
        "enrollment_id": enrollment_id,
        "journey_id": journey_id,
        "profile_id": profile_id,
        "node_id": "mail",
        "channel": "email",
        "fallback_channel": None,
        "recipient": "",
        "subject": "",
        "body": "",
        "url": "",
        "status": MessageStatus.SKIPPED,
        "reason": "no consent",
        "created_at": NOW,
        "next_attempt_at": None,
        "attempts": 0,
        "is_test": False,
        "provider_message_id": None,
        "delivered_at": None,
    }


def _transition(enrollment_id: int, journey_id: int, version_id: int) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment_id,
        "journey_id": journey_id,
        "version_id": version_id,
        "node_id": "hold",
        "stage_id": "s1",
        "arm": None,
        "at": NOW,
        "from_node_id": None,
        "from_at": None,
        "from_stage_id": None,
        "from_stage_at": None,
        # A whole number among fractions: the column is a float.
        "from_stage_seconds": 60,
    }


def _setup(session: Session) -> tuple[int, int, list[int], list[int]]:
    doc = journey_map([event_trigger("go"), node("hold", "wait", duration="PT1H")], [("entry", "hold")])
    journey_id, version_id = publish_and_launch(session, doc)
    profiles = [_customer(session, "ada"), _customer(session, "bo")]
    writes = BatchWrites(now=NOW)
    runs = open_runs(
        session=session,
        writes=writes,
        journey_id=journey_id,
        version_id=version_id,
        entrants=[(profiles[0], {"cart": "c1"}), (profiles[1], {"cart": "c2", "items": [1, 2]})],
        now=NOW,
    )
    writes.flush(session)
    return journey_id, version_id, profiles, runs


def test_a_batch_leaves_the_same_rows_on_either_database(own_database_url: str) -> None:
    upgrade_database(own_database_url)
    with session_scope(own_database_url) as session:
        journey_id, version_id, profiles, runs = _setup(session)
        first, second = runs
        at = NOWHERE.entering("hold", "s1", NOW)
        writes = BatchWrites(now=LATER)
        writes.transitions.append(_transition(first, journey_id, version_id))
        writes.messages.append(_skipped_message(first, journey_id, profiles[0]))
        # The first run is updated twice in the batch: it waits (having reached its goal on the way), then ends.
        writes.enrollments.append(
            enrollment_update(first, Waiting(step_id="hold", due_at=LATER), now=NOW, goal_at=NOW, at=at)
        )
        writes.enrollments.append(
            enrollment_update(first, Ended(reason=EndReason.EXIT_CRITERIA), now=LATER, goal_at=None, at=at)
        )
        writes.enrollments.append(
            enrollment_update(second, Waiting(step_id="hold", due_at=LATER, event="paid"), now=NOW, goal_at=None, at=at)
        )
        writes.arrivals.append({"eid": second, "at": LATER})
        writes.traits[profiles[1]] = {"plan": "pro", "seats": 3}
        writes.flush(session)

    with session_scope(own_database_url) as session:
        runs_by_id = {run.id: run for run in session.exec(select(Enrollment)).all()}
        ended, waiting = runs_by_id[first], runs_by_id[second]
        assert (ended.status, ended.step_id, ended.end_reason) == (EnrollmentStatus.ENDED, None, "exit_criteria")
        assert ended.ended_at == LATER
        assert ended.goal_reached_at == NOW, "the first moment the run reached its goal is kept"
        assert ended.context == {"cart": "c1"}
        assert (waiting.status, waiting.step_id, waiting.wait_event) == (EnrollmentStatus.WAITING, "hold", None)
        assert (waiting.event_arrived_at, waiting.due_at, waiting.goal_reached_at) == (LATER, LATER, None)
        assert waiting.context == {"cart": "c2", "items": [1, 2]}
        transition = session.exec(select(Transition)).one()
        assert (transition.first_in_stage, transition.from_stage_seconds) == (False, 60.0)
        message = session.exec(select(OutboxMessage)).one()
        # Left out of the row, filled by the column's default as SQLAlchemy's insert would.
        assert (message.lease_version, message.in_doubt, message.status) == (0, False, MessageStatus.SKIPPED)
        traits = dict(session.execute(select(col(Profile.id), col(Profile.traits))).all())
        assert traits == {profiles[0]: {"plan": "free"}, profiles[1]: {"plan": "pro", "seats": 3}}


def test_runs_entered_together_get_ids_in_the_order_given(own_database_url: str) -> None:
    upgrade_database(own_database_url)
    with session_scope(own_database_url) as session:
        journey_id, version_id, profiles, _ = _setup(session)
        order = [profiles[1], profiles[0], profiles[1], profiles[0]]
        writes = BatchWrites(now=NOW)
        ids = open_runs(
            session=session,
            writes=writes,
            journey_id=journey_id,
            version_id=version_id,
            entrants=[(profile, {"n": n}) for n, profile in enumerate(order)],
            now=NOW,
        )
        writes.flush(session)
        assert ids == sorted(ids)
        stored = {run.id: (run.profile_id, run.context) for run in session.exec(select(Enrollment)).all()}
        assert [stored[i] for i in ids] == [(profile, {"n": n}) for n, profile in enumerate(order)]


def test_a_run_entered_and_walked_in_one_batch_is_stored_as_its_walk_left_it(own_database_url: str) -> None:
    """On PostgreSQL a new run is inserted once, in its state after the batch (no bare insert updated straight
    after); on SQLite it is inserted at entry and updated. Either way the row is the same."""
    upgrade_database(own_database_url)
    statements: list[str] = []
    with session_scope(own_database_url) as session:
        journey_id, version_id, profiles, _ = _setup(session)
        writes = BatchWrites(now=LATER)
        [run] = open_runs(
            session=session,
            writes=writes,
            journey_id=journey_id,
            version_id=version_id,
            entrants=[(profiles[0], {"cart": "c9"})],
            now=LATER,
        )
        at = NOWHERE.entering("hold", "s1", LATER)
        writes.enrollments.append(
            enrollment_update(run, Waiting(step_id="hold", due_at=LATER, event="paid"), now=LATER, goal_at=LATER, at=at)
        )
        writes.enrollments.append(
            enrollment_update(run, Ended(reason=EndReason.EXIT_CRITERIA), now=LATER, goal_at=None, at=at)
        )
        writes.transitions.append(_transition(run, journey_id, version_id))
        writes.messages.append(_skipped_message(run, journey_id, profiles[0]))
        connection = session.connection()

        def note(_: object, __: object, statement: str, *___: object) -> None:
            statements.append(" ".join(statement.split()[:2]))

        event.listen(connection, "before_cursor_execute", note)
        writes.flush(session)
        event.remove(connection, "before_cursor_execute", note)

    with session_scope(own_database_url) as session:
        stored = session.get(Enrollment, run)
        assert stored is not None
        assert (stored.status, stored.end_reason, stored.step_id, stored.wait_event) == (
            EnrollmentStatus.ENDED,
            "exit_criteria",
            None,
            None,
        )
        assert (stored.stage_id, stored.stage_entered_at, stored.ended_at) == ("s1", LATER, LATER)
        assert (stored.goal_reached_at, stored.context, stored.entered_at) == (LATER, {"cart": "c9"}, LATER)
        assert session.exec(select(Transition).where(col(Transition.enrollment_id) == run)).one().node_id == "hold"
    if own_database_url.startswith("postgresql"):
        assert "UPDATE enrollment" not in statements, statements
