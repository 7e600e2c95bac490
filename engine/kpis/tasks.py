"""Figures of the human-task cards: tasks opened, done within their due time, gone overdue, closed without an
outcome, the share of each outcome, and the median time to an outcome. One function gives them to the map's
overlay, the KPI page and its CSV alike.

Tasks are counted by when they opened (the window selects ``created_at``); what became of them is counted up to the
window's end. Overdue means the engine took the card's overdue path (the task had no outcome at its due time).
Closed without outcome means the customer's run ended otherwise while it waited (the goal, an exit, a stop): such a
task is neither done nor open, and counts in no outcome's share or time to outcome.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import median

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, select
from sqlmodel import Session

from engine.kpis.figures import MetricsFilter
from engine.kpis.scope import by_until, resolve_scope, window
from engine.store import HumanTask, TaskStatus

TASK: Table = HumanTask.__table__  # type: ignore[attr-defined]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutcomeShare(_Frozen):
    outcome: str
    tasks: int
    share: float


class TaskCardMetrics(_Frozen):
    node_id: str
    created: int
    done: int
    done_within_due: int
    overdue: int
    closed_without_outcome: int
    open: int
    outcomes: tuple[OutcomeShare, ...]
    median_to_outcome_seconds: float | None


def task_card_metrics(*, session: Session, metrics_filter: MetricsFilter) -> tuple[TaskCardMetrics, ...]:
    """Per human-task card of the journey (in the order of the map), the figures of the tasks it opened."""
    scope = resolve_scope(session, metrics_filter)
    conditions = [TASK.c.journey_id == metrics_filter.journey_id, *window(TASK.c.created_at, metrics_filter)]
    if scope.version_id is not None:
        conditions.append(TASK.c.version_id == scope.version_id)
    done_by_end = by_until(TASK.c.completed_at, metrics_filter)
    overdue_by_end = by_until(TASK.c.overdue_at, metrics_filter)
    rows = session.execute(
        select(
            TASK.c.node_id,
            TASK.c.created_at,
            TASK.c.due_at,
            TASK.c.outcome,
            TASK.c.completed_at,
            TASK.c.status,
            done_by_end.label("done"),
            overdue_by_end.label("overdue"),
        ).where(*conditions)
    ).all()
    created: Counter[str] = Counter()
    done: Counter[str] = Counter()
    in_time: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    waits: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        created[row.node_id] += 1
        if row.overdue:
            overdue[row.node_id] += 1
        if row.done and row.status == TaskStatus.CANCELLED:
            closed[row.node_id] += 1
        elif row.done:
            done[row.node_id] += 1
            outcomes[row.node_id][row.outcome] += 1
            waits[row.node_id].append((row.completed_at - row.created_at).total_seconds())
            if row.completed_at <= row.due_at:
                in_time[row.node_id] += 1
    order = [n.id for n in scope.doc.nodes] if scope.doc is not None else []
    nodes = sorted(created, key=lambda node_id: (order.index(node_id) if node_id in order else len(order), node_id))
    return tuple(
        TaskCardMetrics(
            node_id=node_id,
            created=created[node_id],
            done=done[node_id],
            done_within_due=in_time[node_id],
            overdue=overdue[node_id],
            closed_without_outcome=closed[node_id],
            open=created[node_id] - done[node_id] - closed[node_id],
            outcomes=tuple(
                OutcomeShare(outcome=name, tasks=tasks, share=tasks / done[node_id])
                for name, tasks in outcomes[node_id].most_common()
            ),
            median_to_outcome_seconds=median(waits[node_id]) if waits[node_id] else None,
        )
        for node_id in nodes
    )
