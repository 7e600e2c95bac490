"""The context handed over with a task: who the customer is, where they are in which journey and why they are
there, what they were sent and how it went, and what colleagues noted on their earlier tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session, col

from engine.runtime import message_status_label
from engine.store import Enrollment, Event, HumanTask, JourneyVersion, OutboxMessage, Profile, TaskStatus, Transition
from engine.tasks.queue import TaskView, customer_name, task_view

CONTEXT_ITEMS: Final = 20


class ContextStep(BaseModel):
    at: datetime
    kind: str  # "step" (a card the run entered) or "event" (what the customer did)
    title: str
    detail: str = ""


class ContextMessage(BaseModel):
    at: datetime
    step: str
    channel: str
    status: str
    subject: str
    body: str


class EarlierTask(BaseModel):
    id: int
    title: str
    outcome: str | None
    note: str
    by: str | None
    at: datetime | None


class TaskContext(BaseModel):
    task: TaskView
    customer: str
    user_id: str | None
    traits: dict[str, Any]
    consent: dict[str, bool]
    journey_name: str
    step: str
    stage: str
    entry_properties: dict[str, Any]
    # Oldest first: the steps the run took to this card, and the customer's events in that time.
    path: list[ContextStep]
    messages: list[ContextMessage]
    earlier_tasks: list[EarlierTask]


def _titles(session: Session, version_id: int) -> tuple[dict[str, str], dict[str, str]]:
    stored = session.execute(select(col(JourneyVersion.map)).where(col(JourneyVersion.id) == version_id)).scalar_one()
    nodes = {str(n.get("id")): str(n.get("title") or n.get("id")) for n in stored.get("nodes", [])}
    stages = {str(s.get("id")): str(s.get("name") or s.get("id")) for s in stored.get("stages", [])}
    return nodes, stages


def task_context(*, session: Session, task_id: int, now: datetime) -> TaskContext | None:
    """Everything a person needs to act on task ``task_id``; None when there is no such task."""
    view = task_view(session=session, task_id=task_id, now=now)
    task = session.get(HumanTask, task_id)
    if view is None or task is None:
        return None
    profile = session.get(Profile, task.profile_id)
    run = session.get(Enrollment, task.enrollment_id)
    # A task's customer and run go with it (ON DELETE CASCADE).
    assert profile is not None
    assert run is not None
    nodes, stages = _titles(session, task.version_id)
    # Oldest first; at one instant, what the customer did before the steps it moved them to, steps in their order.
    ordered: list[tuple[datetime, int, int, ContextStep]] = [
        (
            t.at,
            1,
            t.id or 0,
            ContextStep(at=t.at, kind="step", title=nodes.get(t.node_id, t.node_id), detail=stages.get(t.stage_id, "")),
        )
        for t in session.execute(
            select(Transition)
            .where(col(Transition.enrollment_id) == run.id, col(Transition.at) <= task.created_at)
            .order_by(col(Transition.at).desc(), col(Transition.id).desc())
            .limit(CONTEXT_ITEMS)
        ).scalars()
    ]
    ordered += [
        (
            e.occurred_at,
            0,
            e.id or 0,
            ContextStep(
                at=e.occurred_at,
                kind="event",
                title=e.name or e.type,
                detail=", ".join(f"{k}={v}" for k, v in list(e.properties.items())[:6]),
            ),
        )
        for e in session.execute(
            select(Event)
            .where(
                col(Event.profile_id) == profile.id,
                col(Event.occurred_at) >= run.entered_at,
                col(Event.occurred_at) <= task.created_at,
            )
            .order_by(col(Event.occurred_at).desc(), col(Event.id).desc())
            .limit(CONTEXT_ITEMS)
        ).scalars()
    ]
    path = [item for *_, item in sorted(ordered, key=lambda entry: entry[:3])]
    messages = [
        ContextMessage(
            at=m.delivered_at or m.created_at,
            step=nodes.get(m.node_id, m.node_id) if m.enrollment_id == run.id else m.node_id,
            channel=m.channel,
            status=message_status_label(m.status.value, m.reason),
            subject=m.subject,
            body=m.body,
        )
        for m in session.execute(
            select(OutboxMessage)
            .where(col(OutboxMessage.profile_id) == profile.id, ~col(OutboxMessage.is_test))
            .order_by(col(OutboxMessage.id).desc())
            .limit(CONTEXT_ITEMS)
        ).scalars()
    ]
    earlier = [
        EarlierTask(id=t.id or 0, title=t.title, outcome=t.outcome, note=t.note, by=t.completed_by, at=t.completed_at)
        for t in session.execute(
            select(HumanTask)
            .where(
                col(HumanTask.profile_id) == profile.id,
                col(HumanTask.status) == TaskStatus.DONE,
                col(HumanTask.id) != task_id,
            )
            .order_by(col(HumanTask.completed_at).desc())
            .limit(CONTEXT_ITEMS)
        ).scalars()
    ]
    traits = dict(profile.traits or {})
    return TaskContext(
        task=view,
        customer=customer_name(profile.user_id, traits),
        user_id=profile.user_id,
        traits=traits,
        consent=dict(profile.consent or {}),
        journey_name=view.journey_name,
        step=nodes.get(task.node_id, task.node_id),
        stage=stages.get(run.stage_id or "", run.stage_id or ""),
        entry_properties=dict(run.context or {}),
        path=path,
        messages=messages,
        earlier_tasks=earlier,
    )
