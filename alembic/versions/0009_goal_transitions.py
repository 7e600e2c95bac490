"""runs that reached the goal by an event enter the goal node

Revision ID: 0009_goal_transitions
Revises: 0008_sign_in_throttle
Create Date: 2026-12-09 12:00:00.000000

A run the goal event ended where it waited used to end there, with no transition into the goal node:
the goal conversion counted it, the goal card, the goal's stage and the path there did not. The engine
now records that move. Runs stored before this revision that ended with the goal but never entered a
goal node of their version's plan get it here: a transition into the goal node when the goal was
reached (or, lacking that, when the run ended), from the run's last transition, and the run is moved to
the goal's stage. The goal node is the one the run's wait leads to when the goal event is the event it
waited for and its event path goes straight to a goal step; otherwise the plan's first goal step.
Versions whose plan has no goal step have no goal node to count the run on, and are left alone.

A run that walked past a goal card and went on lost the moment it reached the goal at its next step
(the engine wrote the run's goal moment afresh at every step): the goal card counted it, the goal
conversion did not. Those runs get back the moment they first entered a goal node.

Downgrading leaves these transitions: they record what happened, and the code before this revision
reads them as it reads any entry into a goal node.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from alembic import op

revision: str = "0009_goal_transitions"
down_revision: str | None = "0008_sign_in_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plans are read this many versions at a time, and runs fixed this many at a time: a store's history
# is never held in memory whole.
VERSIONS_PER_BATCH = 100
RUNS_PER_BATCH = 1000

_version = sa.table("journey_version", sa.column("id", sa.Integer), sa.column("plan", sa.JSON))
_enrollment = sa.table(
    "enrollment",
    sa.column("id", sa.Integer),
    sa.column("journey_id", sa.Integer),
    sa.column("version_id", sa.Integer),
    sa.column("end_reason", sa.String),
    sa.column("stage_id", sa.String),
    sa.column("stage_entered_at", sa.DateTime(timezone=True)),
    sa.column("goal_reached_at", sa.DateTime(timezone=True)),
    sa.column("ended_at", sa.DateTime(timezone=True)),
)
_transition = sa.table(
    "transition",
    sa.column("id", sa.Integer),
    sa.column("enrollment_id", sa.Integer),
    sa.column("journey_id", sa.Integer),
    sa.column("version_id", sa.Integer),
    sa.column("node_id", sa.String),
    sa.column("stage_id", sa.String),
    sa.column("first_in_stage", sa.Boolean),
    sa.column("arm", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("from_node_id", sa.String),
    sa.column("from_at", sa.DateTime(timezone=True)),
    sa.column("from_stage_id", sa.String),
    sa.column("from_stage_at", sa.DateTime(timezone=True)),
    sa.column("from_stage_seconds", sa.Float),
)


class _Goals:
    """A plan's goal steps: their stages, and which one a run waiting at a given step reaches."""

    def __init__(self, plan: dict[str, Any]) -> None:
        steps = plan.get("steps") or []
        self.stage_of = {s["id"]: s["stage"] for s in steps if s.get("kind") == "goal"}
        self.first = next((s["id"] for s in steps if s.get("kind") == "goal"), None)
        goal_event = plan.get("goal_event")
        self.after_wait = {
            s["id"]: s["on_event"]
            for s in steps
            if s.get("kind") == "wait_for_event" and s.get("event") == goal_event and s.get("on_event") in self.stage_of
        }

    def reached_from(self, step: str | None) -> str:
        assert self.first is not None
        return self.after_wait.get(step or "", self.first)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # SQLite keeps no zone: what it holds is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bound(value: datetime | None, dialect: str) -> datetime | None:
    return value.replace(tzinfo=None) if value is not None and dialect == "sqlite" else value


def _runs_to_fix(connection: sa.Connection, version_id: int, goals: _Goals, after: int) -> list[Any]:
    e, t = _enrollment.c, _transition.c
    entered_goal = sa.exists().where(t.enrollment_id == e.id, t.node_id.in_(list(goals.stage_of)))
    return list(
        connection.execute(
            sa.select(e.id, e.journey_id, e.stage_id, e.stage_entered_at, e.goal_reached_at, e.ended_at)
            .where(e.version_id == version_id, e.end_reason == "goal", e.id > after, ~entered_goal)
            .order_by(e.id)
            .limit(RUNS_PER_BATCH)
        )
    )


def _last_steps(connection: sa.Connection, run_ids: list[int]) -> dict[int, Any]:
    t = _transition.c
    # Transitions are written in the order they happen: a run's last one has its highest id.
    last = sa.select(sa.func.max(t.id)).where(t.enrollment_id.in_(run_ids)).group_by(t.enrollment_id)
    rows = connection.execute(sa.select(t.enrollment_id, t.node_id, t.at).where(t.id.in_(last)))
    return {row.enrollment_id: row for row in rows}


def _fix_runs(connection: sa.Connection, version_id: int, goals: _Goals, dialect: str) -> None:
    after = 0
    while runs := _runs_to_fix(connection, version_id, goals, after):
        after = runs[-1].id
        last = _last_steps(connection, [run.id for run in runs])
        transitions, moves = [], []
        for run in runs:
            at = _utc(run.goal_reached_at) or _utc(run.ended_at)
            if at is None:
                continue
            step = last.get(run.id)
            node_id = goals.reached_from(step.node_id if step else None)
            stage_id = goals.stage_of[node_id]
            stage_at = _utc(run.stage_entered_at)
            new_stage = stage_id != run.stage_id
            left_at = stage_at if new_stage else None
            transitions.append(
                {
                    "enrollment_id": run.id,
                    "journey_id": run.journey_id,
                    "version_id": version_id,
                    "node_id": node_id,
                    "stage_id": stage_id,
                    "first_in_stage": new_stage,
                    "arm": None,
                    "at": _bound(at, dialect),
                    "from_node_id": step.node_id if step else None,
                    "from_at": _bound(_utc(step.at), dialect) if step else None,
                    "from_stage_id": run.stage_id if new_stage else None,
                    "from_stage_at": _bound(left_at, dialect),
                    "from_stage_seconds": (at - left_at).total_seconds() if left_at is not None else None,
                }
            )
            if new_stage:
                moves.append({"eid": run.id, "stage": stage_id, "stage_at": _bound(at, dialect)})
        if transitions:
            connection.execute(sa.insert(_transition), transitions)
        if moves:
            e = _enrollment.c
            connection.execute(
                sa.update(_enrollment)
                .where(e.id == sa.bindparam("eid"))
                .values(stage_id=sa.bindparam("stage"), stage_entered_at=sa.bindparam("stage_at")),
                moves,
            )


def _restore_goal_moments(connection: sa.Connection, version_id: int, goals: _Goals) -> None:
    e, t = _enrollment.c, _transition.c
    into_goal = sa.and_(t.enrollment_id == e.id, t.node_id.in_(list(goals.stage_of)))
    first_entry = sa.select(sa.func.min(t.at)).where(into_goal).scalar_subquery()
    connection.execute(
        sa.update(_enrollment)
        .where(e.version_id == version_id, e.goal_reached_at.is_(None), sa.exists().where(into_goal))
        .values(goal_reached_at=first_entry)
    )


def upgrade() -> None:
    connection = op.get_bind()
    dialect = connection.dialect.name
    after = 0
    while True:
        versions = connection.execute(
            sa.select(_version.c.id, _version.c.plan)
            .where(_version.c.id > after)
            .order_by(_version.c.id)
            .limit(VERSIONS_PER_BATCH)
        ).all()
        if not versions:
            return
        after = versions[-1].id
        for version_id, plan in versions:
            goals = _Goals(json.loads(plan) if isinstance(plan, str | bytes) else plan or {})
            if goals.first is not None:
                _restore_goal_moments(connection, version_id, goals)
                _fix_runs(connection, version_id, goals, dialect)


def downgrade() -> None:
    pass
