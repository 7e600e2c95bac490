"""What a batch of walks writes, and how one run's failure is kept to that run.

Walks add rows (transitions, messages, the runs' new state) to a batch's :class:`BatchWrites`, flushed
with one statement per table. A block of one run's work (:meth:`BatchWrites.run`) that raises leaves
nothing of that run's rows behind and ends the run as failed, with the reason; a flush the database
refuses because of some row's values is written again run by run, and only the refused runs fail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, bindparam, func, insert, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import Session

from engine.runtime.decisions import Ended, EndReason, Waiting
from engine.runtime.task_waits import close_tasks_of_ended_runs
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    HumanTask,
    OutboxMessage,
    Profile,
    Transition,
    UtcDateTime,
    among,
    insert_rows,
    update_rows,
)

log = logging.getLogger(__name__)

# A reason is read on launch control and in a timeline: a sentence, not a dump of the data.
_REASON_CHARS = 300


def short_reason(text: str) -> str:
    """The first line of ``text``, cut to what a table cell shows."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 1] + "…"


def described(error: BaseException) -> str:
    """An unforeseen error as a reason: its kind and its first line, without the traceback (which is logged)."""
    text = short_reason(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# What a database refuses because of one row's values (a NUL byte in a text on PostgreSQL, a value
# longer than its column, a broken reference). Other errors (a lost connection, a deadlock) concern the
# whole transaction and fail it, to be tried again, rather than fail customers who did nothing wrong.
_REFUSED_ROW = (DataError, IntegrityError)


class Position(NamedTuple):
    """Where a run is: its step and its stage, and when it entered each. The next transition it
    records names them as where it came from, so the KPIs count a move from one row. A named tuple:
    immutable, and made at every step a customer takes, which a tuple makes cheaply."""

    step: str | None
    step_at: datetime | None
    stage: str | None
    stage_at: datetime | None

    @classmethod
    def of_run(cls, row: Any) -> Position:
        """Where a run read from the enrollment table is (any row with its step and stage columns)."""
        return cls(step=row.step_id, step_at=row.step_entered_at, stage=row.stage_id, stage_at=row.stage_entered_at)

    def entering(self, node_id: str, stage_id: str, at: datetime) -> Position:
        """Where the run is once it has entered ``node_id``: a new stage's visit begins then."""
        return Position(node_id, at, stage_id, at if stage_id != self.stage else self.stage_at)

    @classmethod
    def after(cls, update: Mapping[str, Any]) -> Position:
        """Where an ``enrollment_update`` row leaves the run."""
        return cls(update["step_id"], update["step_entered_at"], update["stage_id"], update["stage_entered_at"])


# Before the journey's entry: its transition comes from no step and enters its first stage.
NOWHERE = Position(step=None, step_at=None, stage=None, stage_at=None)


@dataclass
class BatchWrites:
    """Everything one batch writes, flushed with one statement per table; ``now`` is the batch's moment."""

    now: datetime
    transitions: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[dict[str, Any]] = field(default_factory=list)
    # Human tasks opened by walks, and what the tick did with waited-on ones (outcome applied, or overdue).
    tasks: list[dict[str, Any]] = field(default_factory=list)
    task_marks: list[dict[str, Any]] = field(default_factory=list)
    traits: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Runs new in this batch that are not stored yet (on PostgreSQL, :func:`engine.runtime.entry.open_runs`): each
    # is inserted at the flush in the state its last row of ``enrollments`` gives it.
    opened: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Runs that failed in this batch, so callers keeping runs in memory forget them.
    failed: set[int] = field(default_factory=set)

    def run(self, enrollment_id: int, *, profile_id: int, at: Position) -> _RunBlock:
        """What one run writes inside the block. Should the block raise, whatever it had written is
        dropped and the run ends as failed where it was (``at``); the error goes no further."""
        return _RunBlock(self, enrollment_id, profile_id, at)

    def _drop_run(self, block: _RunBlock, error: Exception) -> None:
        log.error(
            "run %s could not be advanced from step %r; it fails alone",
            block.enrollment_id,
            block.at.step,
            exc_info=error,
        )
        for rows, size in zip(self._kept_lists(), block.sizes, strict=True):
            del rows[size:]
        if block.traits is None:
            self.traits.pop(block.profile_id, None)
        else:
            self.traits[block.profile_id] = block.traits
        reason = f"the engine could not advance this run from step {block.at.step!r} ({described(error)})"
        failed = Ended(reason=EndReason.FAILED, detail=reason)
        self.enrollments.append(enrollment_update(block.enrollment_id, failed, now=self.now, goal_at=None, at=block.at))
        self.failed.add(block.enrollment_id)

    def _kept_lists(self) -> tuple[list[dict[str, Any]], ...]:
        return (self.transitions, self.messages, self.enrollments, self.arrivals, self.tasks, self.task_marks)

    def flush(self, session: Session) -> None:
        """Write the batch. Should the database refuse a row, the batch is written again run by run and
        each refused run is recorded as failed instead, so one customer's data never stops the others."""
        try:
            with session.begin_nested():
                self._write(session)
                self._write_tasks(session)
        except _REFUSED_ROW as error:
            log.warning("a batch was refused (%s); writing it run by run", _refusal(error))
            self._write_run_by_run(session)

    def _write_run_by_run(self, session: Session) -> None:
        runs: dict[int, BatchWrites] = {}

        def part(enrollment_id: int) -> BatchWrites:
            return runs.setdefault(enrollment_id, BatchWrites(now=self.now))

        for enrollment_id, row in self.opened.items():
            part(enrollment_id).opened[enrollment_id] = row
        for row in self.transitions:
            part(row["enrollment_id"]).transitions.append(row)
        for row in self.messages:
            part(row["enrollment_id"]).messages.append(row)
        for row in self.enrollments:
            part(row["eid"]).enrollments.append(row)
        for row in self.arrivals:
            part(row["eid"]).arrivals.append(row)
        for row in self.tasks:
            part(row["enrollment_id"]).tasks.append(row)
        for row in self.task_marks:
            part(row["eid"]).task_marks.append(row)
        for enrollment_id, writes in runs.items():
            try:
                with session.begin_nested():
                    writes._write(session)
                    writes._write_tasks(session)
            except _REFUSED_ROW as error:
                reason = f"what this run did could not be stored: {_refusal(error)}"
                log.warning("run %s: %s", enrollment_id, reason)
                opened = writes.opened.get(enrollment_id)
                if opened is None:
                    _fail_stored_run(session, enrollment_id, reason, now=self.now)
                else:
                    _store_failed_run(session, enrollment_id, opened, reason, now=self.now)
        for profile_id, traits in self.traits.items():
            try:
                with session.begin_nested():
                    BatchWrites(now=self.now, traits={profile_id: traits})._write(session)
            except _REFUSED_ROW as error:
                log.warning("profile %s: traits set by a journey could not be stored: %s", profile_id, _refusal(error))

    def _write(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            self._write_unnested(session)
            return
        insert_rows(session, Transition.__table__, self.transitions)  # type: ignore[attr-defined]
        insert_rows(session, OutboxMessage.__table__, self.messages)  # type: ignore[attr-defined]
        if self.enrollments:
            table = Enrollment.__table__  # type: ignore[attr-defined]
            # The goal is reached once, when the run first reaches it: a run that goes on past a goal card,
            # or meets the goal event later, keeps that moment (and stays counted as having reached it).
            reached = func.coalesce(table.c.goal_reached_at, bindparam("goal_at", type_=UtcDateTime()))
            session.execute(
                update(table).where(table.c.id == bindparam("eid")).values(goal_reached_at=reached),
                self.enrollments,
                execution_options={"synchronize_session": False},
            )
        if self.arrivals:
            table = Enrollment.__table__  # type: ignore[attr-defined]
            # Due at once and no longer listening: the first tick after resuming takes the event's path.
            session.execute(
                update(table)
                .where(table.c.id == bindparam("eid"))
                .values(event_arrived_at=bindparam("at"), due_at=bindparam("at"), wait_event=None),
                self.arrivals,
                execution_options={"synchronize_session": False},
            )
        if self.traits:
            table = Profile.__table__  # type: ignore[attr-defined]
            session.execute(
                update(table).where(table.c.id == bindparam("pid")),
                [{"pid": pid, "traits": traits} for pid, traits in self.traits.items()],
                execution_options={"synchronize_session": False},
            )

    def _write_unnested(self, session: Session) -> None:
        """The same writes as one statement per table of arrays (:mod:`engine.store.bulk`), as PostgreSQL takes
        a batch's thousands of rows without re-reading a statement of thousands of placeholders. New runs go first,
        as the rows of the other tables refer to them."""
        enrollment = Enrollment.__table__  # type: ignore[attr-defined]
        rows = _last_per_run(self.enrollments)
        if self.opened:
            insert_rows(session, enrollment, _opened_as_left(self.opened, rows))
            rows = [row for row in rows if row["eid"] not in self.opened]
        insert_rows(session, Transition.__table__, self.transitions)  # type: ignore[attr-defined]
        insert_rows(session, OutboxMessage.__table__, self.messages)  # type: ignore[attr-defined]
        if rows:
            columns = [name for name in rows[0] if name not in ("eid", "goal_at")]
            update_rows(
                session,
                enrollment,
                rows,
                key=("id", "eid"),
                types={"eid": Integer(), "goal_at": UtcDateTime()}
                | {name: enrollment.c[name].type for name in columns},
                assign={name: f"u.{name}" for name in columns}
                | {"goal_reached_at": "coalesce(t.goal_reached_at, u.goal_at)"},
            )
        if self.arrivals:
            rows = list({row["eid"]: row for row in self.arrivals}.values())
            update_rows(
                session,
                enrollment,
                rows,
                key=("id", "eid"),
                types={"eid": Integer(), "at": UtcDateTime()},
                assign={"event_arrived_at": "u.at", "due_at": "u.at", "wait_event": "NULL"},
            )
        if self.traits:
            profile = Profile.__table__  # type: ignore[attr-defined]
            update_rows(
                session,
                profile,
                [{"pid": pid, "traits": traits} for pid, traits in self.traits.items()],
                key=("id", "pid"),
                types={"pid": Integer(), "traits": profile.c.traits.type},
                assign={"traits": "u.traits"},
            )

    def _write_tasks(self, session: Session) -> None:
        """The human tasks walks opened, the tick's marks on waited-on ones, and the closing of tasks whose runs
        this batch ended otherwise: few rows, written alike on both databases, after the runs' own rows."""
        if self.tasks:
            session.execute(insert(HumanTask.__table__), self.tasks)  # type: ignore[attr-defined]
        if self.task_marks:
            table = HumanTask.__table__  # type: ignore[attr-defined]
            session.execute(
                update(table)
                .where(table.c.id == bindparam("tid"))
                .values(applied_at=bindparam("applied_at"), overdue_at=bindparam("overdue_at")),
                self.task_marks,
                execution_options={"synchronize_session": False},
            )
        ended = {row["eid"] for row in self.enrollments if row["status"] == EnrollmentStatus.ENDED}
        if ended:
            run = Enrollment.__table__  # type: ignore[attr-defined]
            dialect = session.get_bind().dialect.name
            close_tasks_of_ended_runs(session, among(run.c.id, ended, dialect=dialect), now=self.now)


def _last_per_run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run, as updating them one after the other would leave it: the last row's values, and the first
    moment the run reached its goal."""
    merged: dict[int, dict[str, Any]] = {}
    for row in rows:
        earlier = merged.get(row["eid"])
        goal_at = row["goal_at"] if earlier is None or earlier["goal_at"] is None else earlier["goal_at"]
        merged[row["eid"]] = {**row, "goal_at": goal_at}
    return list(merged.values())


def _opened_as_left(opened: Mapping[int, Mapping[str, Any]], last: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The new runs' rows as their last updates leave them (one row per run, from :func:`_last_per_run`)."""
    updates = {row["eid"]: row for row in last}
    rows = []
    for enrollment_id, row in opened.items():
        update = updates.get(enrollment_id)
        state = {} if update is None else {k: v for k, v in update.items() if k not in ("eid", "goal_at")}
        goal_at = None if update is None else update["goal_at"]
        rows.append({**row, **_UNSET_STATE, **state, "id": enrollment_id, "goal_reached_at": goal_at})
    return rows


# A new run's columns that a walk sets, as it starts: every row of one insert must name the same columns.
_UNSET_STATE: dict[str, Any] = {
    name: None
    for name in (
        "step_entered_at",
        "stage_id",
        "stage_entered_at",
        "wait_event",
        "correlation",
        "resume_mode",
        "event_arrived_at",
        "ended_at",
        "end_reason",
        "failure",
    )
}


def _refusal(error: DBAPIError) -> str:
    # The driver's own message names the problem; SQLAlchemy's adds the statement and its parameters.
    return short_reason(str(error.orig))


def _fail_stored_run(session: Session, enrollment_id: int, reason: str, *, now: datetime) -> None:
    """End a run whose own writes the database refused; it stays in the stage it was in."""
    table = Enrollment.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == enrollment_id)
        .values(
            status=EnrollmentStatus.ENDED,
            step_id=None,
            step_entered_at=None,
            due_at=None,
            wait_event=None,
            correlation=None,
            resume_mode=None,
            event_arrived_at=None,
            ended_at=now,
            end_reason=EndReason.FAILED.value,
            failure=reason,
        )
    )
    close_tasks_of_ended_runs(session, table.c.id == enrollment_id, now=now)


def _store_failed_run(
    session: Session, enrollment_id: int, opened: Mapping[str, Any], reason: str, *, now: datetime
) -> None:
    """Store a new run whose own writes the database refused as failed at its entry; when even that is refused (the
    customer has just been deleted), the run is not kept."""
    ended = Ended(reason=EndReason.FAILED, detail=reason)
    failed = _opened_as_left(
        {enrollment_id: opened}, [enrollment_update(enrollment_id, ended, now=now, goal_at=None, at=NOWHERE)]
    )
    try:
        with session.begin_nested():
            insert_rows(session, Enrollment.__table__, failed)  # type: ignore[attr-defined]
    except _REFUSED_ROW as error:
        log.warning("run %s could not be stored even as failed: %s", enrollment_id, _refusal(error))


def enrollment_update(
    enrollment_id: int, outcome: Waiting | Ended, *, now: datetime, goal_at: datetime | None, at: Position
) -> dict[str, Any]:
    """The run's row after a walk or a reaction; ``at`` is where it is now (an ended run keeps its stage,
    the one it left the journey from)."""
    # Every row of one executemany must bind the same columns, so ended and waiting rows both name all.
    if isinstance(outcome, Waiting):
        return {
            "eid": enrollment_id,
            "status": EnrollmentStatus.WAITING,
            "step_id": outcome.step_id,
            "step_entered_at": at.step_at,
            "stage_id": at.stage,
            "stage_entered_at": at.stage_at,
            "due_at": outcome.due_at,
            "wait_event": outcome.event,
            "correlation": None,
            "resume_mode": None,
            "event_arrived_at": None,
            "ended_at": None,
            "end_reason": None,
            "failure": None,
            "goal_at": goal_at,
        }
    return {
        "eid": enrollment_id,
        "status": EnrollmentStatus.ENDED,
        "step_id": None,
        "step_entered_at": None,
        "stage_id": at.stage,
        "stage_entered_at": at.stage_at,
        "due_at": None,
        "wait_event": None,
        "correlation": None,
        "resume_mode": None,
        "event_arrived_at": None,
        "ended_at": now,
        "end_reason": outcome.reason.value,
        "failure": outcome.detail if outcome.reason is EndReason.FAILED else None,
        "goal_at": goal_at if goal_at is not None or outcome.reason is not EndReason.GOAL else now,
    }


class _RunBlock:
    """The block of :meth:`BatchWrites.run`. A class rather than a generator-based context manager: every
    walk opens one, and a replay of a week opens hundreds of thousands."""

    __slots__ = ("at", "enrollment_id", "profile_id", "sizes", "traits", "writes")

    def __init__(self, writes: BatchWrites, enrollment_id: int, profile_id: int, at: Position) -> None:
        self.writes = writes
        self.enrollment_id = enrollment_id
        self.profile_id = profile_id
        self.at = at

    def __enter__(self) -> None:
        writes = self.writes
        self.sizes = tuple(map(len, writes._kept_lists()))
        self.traits = writes.traits.get(self.profile_id)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _: object) -> bool:
        if not isinstance(error, Exception):
            return False
        self.writes._drop_run(self, error)
        return True
