"""Walking one run through its plan and collecting what happened, many customers per transaction.

The decisions are pure (:mod:`engine.runtime.decisions`); a walk applies them to a run and adds the
rows they imply (transitions, messages, the run's new state) to a batch's writes
(:mod:`engine.runtime.writes`), flushed with one statement per table: per-row commits are the
bottleneck on both SQLite and PostgreSQL, so a batch of customers shares one transaction. The tick
(:mod:`engine.runtime.due`), entries (:mod:`engine.runtime.entry`) and reactions to events
(:mod:`engine.runtime.reactions`) all walk here.

One customer's failure is that customer's alone. A message that cannot be rendered from their data, a
wait that would end after the year 9999, or any error while walking them ends their run as failed,
with the reason, and what the walk had written for them is dropped. The batch, and everyone else in
it, goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.content import ContentRenderError, render_content, unsubscribe_url, uses_unsubscribe
from engine.journeys import LoadedPlan
from engine.map import Channel, MessageContent
from engine.runtime.decisions import (
    Advance,
    Customer,
    Ended,
    EndReason,
    GoalReached,
    NodeEntered,
    ResumeMode,
    SendMessage,
    SendSkipped,
    SplitAssigned,
    TaskOpened,
    TraitsUpdated,
    Waiting,
    advance,
    goal_path,
)
from engine.runtime.writes import BatchWrites, Position, described, enrollment_update, short_reason
from engine.store import MessageStatus, TaskStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """One enrollment as the batch sees it."""

    enrollment_id: int
    journey_id: int
    version_id: int
    profile_id: int
    user_id: str | None
    traits: dict[str, Any]
    timezone: str
    context: dict[str, Any]
    position: Position


def _recipient(channel: Channel, *, traits: Mapping[str, Any], user_id: str | None, url: str) -> str:
    if channel is Channel.EMAIL:
        return str(traits.get("email") or "")
    if channel is Channel.SMS:
        return str(traits.get("phone") or "")
    if channel is Channel.WEBHOOK:
        return url
    return user_id or ""


def _message_row(
    run: RunContext, effect: SendMessage, *, loaded: LoadedPlan, now: datetime, traits: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The outbox row of a message, and why it could not be rendered (None when it was)."""
    try:
        content = render_content(
            effect.content,
            profile={**traits, "user_id": run.user_id},
            event=run.context,
            journey_name=loaded.journey_name,
            unsubscribe_url=unsubscribe_url(run.profile_id, effect.channel) if uses_unsubscribe(effect.content) else "",
        )
    except ContentRenderError as error:
        problem: str | None = short_reason(str(error))
    except Exception as error:
        # A template function that chokes on this customer's data is their message's failure, not the batch's.
        log.exception("message %r of run %s could not be rendered", effect.node_id, run.enrollment_id)
        problem = described(error)
    else:
        problem = None
    channel = effect.channel
    fallback = effect.fallback_channel
    row: dict[str, Any] = {
        "idempotency_key": f"e{run.enrollment_id}-{effect.node_id}-{int(now.timestamp() * 1000)}",
        "enrollment_id": run.enrollment_id,
        "journey_id": run.journey_id,
        "profile_id": run.profile_id,
        "node_id": effect.node_id,
        "channel": channel.value,
        "fallback_channel": fallback.value if fallback else None,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "is_test": False,
        "provider_message_id": None,
        "delivered_at": None,
    }
    if problem is not None:
        failed = {"recipient": "", "subject": "", "body": "", "url": "", "button": "", "status": MessageStatus.FAILED}
        row.update(failed, reason=f"content could not be rendered: {problem}")
        return row, problem
    recipient = _recipient(channel, traits=traits, user_id=run.user_id, url=content.url)
    status, reason = MessageStatus.PENDING, ""
    # With a fallback channel the dispatcher decides: it sends there when this channel has no address.
    if not recipient and fallback is None:
        status, reason = MessageStatus.SUPPRESSED, f"the profile has no address for {channel.value}"
    row["recipient"] = recipient
    row["subject"] = content.subject
    row["body"] = content.body
    row["url"] = content.url
    row["button"] = content.button
    row["status"] = status
    row["reason"] = reason
    return row, None


def _task_row(
    run: RunContext, effect: TaskOpened, *, loaded: LoadedPlan, now: datetime, traits: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The human task a run opens, its instructions rendered for the customer; or why they could not be."""
    step = effect.step
    try:
        rendered = render_content(
            MessageContent(body=step.instructions),
            profile={**traits, "user_id": run.user_id},
            event=run.context,
            journey_name=loaded.journey_name,
            unsubscribe_url="",
        )
    except ContentRenderError as error:
        return {}, short_reason(str(error))
    except Exception as error:
        log.exception("the task %r of run %s could not be rendered", step.id, run.enrollment_id)
        return {}, described(error)
    return {
        "journey_id": run.journey_id,
        "version_id": run.version_id,
        "enrollment_id": run.enrollment_id,
        "profile_id": run.profile_id,
        "node_id": step.id,
        "title": step.title,
        "team": step.team,
        "channel": step.channel.value if step.channel else None,
        "instructions": rendered.body,
        "outcomes": [path.name for path in step.outcomes],
        "status": TaskStatus.OPEN,
        "created_at": now,
        "due_at": effect.due_at,
        "note": "",
    }, None


def _apply(
    run: RunContext, result: Advance, *, loaded: LoadedPlan, now: datetime, writes: BatchWrites
) -> Waiting | Ended:
    """Add the rows the walk's effects imply; returns where the run now is. A message that cannot be
    rendered ends the run there as failed: the steps after it were meant to follow that message."""
    traits = run.traits
    here = run.position
    goal_at: datetime | None = None
    outcome = result.outcome
    for effect in result.effects:
        match effect:
            case NodeEntered():
                writes.transitions.append(
                    transition_row(run, effect.node_id, effect.stage_id, effect.at, came_from=here)
                )
                here = here.entering(effect.node_id, effect.stage_id, effect.at)
            case SplitAssigned():
                writes.transitions[-1]["arm"] = effect.arm
            case SendMessage():
                message, problem = _message_row(run, effect, loaded=loaded, now=now, traits=traits)
                writes.messages.append(message)
                if problem is not None:
                    detail = f"the message at step {effect.node_id!r} could not be rendered: {problem}"
                    outcome = Ended(reason=EndReason.FAILED, detail=detail)
                    break
            case SendSkipped():
                writes.messages.append(
                    {
                        "idempotency_key": f"e{run.enrollment_id}-{effect.node_id}-{int(now.timestamp() * 1000)}",
                        "enrollment_id": run.enrollment_id,
                        "journey_id": run.journey_id,
                        "profile_id": run.profile_id,
                        "node_id": effect.node_id,
                        "channel": effect.channel.value,
                        "fallback_channel": None,
                        "recipient": "",
                        "subject": "",
                        "body": "",
                        "url": "",
                        "status": MessageStatus.SKIPPED,
                        "reason": effect.reason,
                        "created_at": now,
                        "next_attempt_at": None,
                        "attempts": 0,
                        "is_test": False,
                        "provider_message_id": None,
                        "delivered_at": None,
                    }
                )
            case TraitsUpdated():
                traits = {**traits, **effect.traits}
                # Another run of this customer in the batch may have changed other traits: keep theirs too.
                writes.traits[run.profile_id] = {**writes.traits.get(run.profile_id, run.traits), **effect.traits}
            case GoalReached():
                goal_at = now
            case TaskOpened():
                task, problem = _task_row(run, effect, loaded=loaded, now=now, traits=traits)
                if problem is not None:
                    detail = f"the instructions of the task at step {effect.step.id!r} could not be rendered: {problem}"
                    outcome = Ended(reason=EndReason.FAILED, detail=detail)
                    break
                writes.tasks.append(task)
    writes.enrollments.append(enrollment_update(run.enrollment_id, outcome, now=now, goal_at=goal_at, at=here))
    return outcome


def transition_row(
    run: RunContext, node_id: str, stage_id: str, at: datetime, *, came_from: Position
) -> dict[str, Any]:
    """A run entering a node, naming the step it came from and, on entering a stage, the stage it left."""
    new_stage = stage_id != came_from.stage
    stage_at = came_from.stage_at if new_stage else None
    return {
        "enrollment_id": run.enrollment_id,
        "journey_id": run.journey_id,
        "version_id": run.version_id,
        "node_id": node_id,
        "stage_id": stage_id,
        "first_in_stage": new_stage,
        "arm": None,
        "at": at,
        "from_node_id": came_from.step,
        "from_at": came_from.step_at,
        "from_stage_id": came_from.stage if new_stage else None,
        "from_stage_at": stage_at,
        "from_stage_seconds": (at - stage_at).total_seconds() if stage_at is not None else None,
    }


def reach_goal(
    run: RunContext, *, loaded: LoadedPlan, event: str, now: datetime, already: bool, writes: BatchWrites
) -> None:
    """End a run that the goal event ``event`` reached where it waits, recording its way into the goal
    node (see :func:`engine.runtime.decisions.goal_path`) so the goal card, the goal's stage and the
    path there count it as the goal conversion does. A run that ``already`` passed a goal node was
    counted there then; it ends where it is."""
    here = run.position
    if not already:
        customer = Customer(
            enrollment_id=run.enrollment_id, traits=run.traits, event=run.context, timezone=run.timezone
        )
        taken = goal_path(loaded.plan, at_step=here.step, event=event, customer=customer, now=now, steps=loaded.steps)
        for effect in taken:
            if isinstance(effect, NodeEntered):
                writes.transitions.append(
                    transition_row(run, effect.node_id, effect.stage_id, effect.at, came_from=here)
                )
                here = here.entering(effect.node_id, effect.stage_id, effect.at)
            else:
                writes.transitions[-1]["arm"] = effect.arm
    writes.enrollments.append(
        enrollment_update(run.enrollment_id, Ended(reason=EndReason.GOAL), now=now, goal_at=now, at=here)
    )


def _correlation_value(outcome: Waiting | Ended, context: Mapping[str, Any]) -> str | None:
    if isinstance(outcome, Waiting) and outcome.correlate_on:
        value = context.get(outcome.correlate_on)
        return None if value is None else str(value)
    return None


def walk(
    run: RunContext,
    *,
    loaded: LoadedPlan,
    start_at: str | None,
    now: datetime,
    resume_mode: ResumeMode | None,
    writes: BatchWrites,
) -> None:
    """Walk one run from ``start_at`` and add what happened to ``writes``; the run's update is the last
    of ``writes.enrollments`` afterwards, whether it waits, ended, or failed."""
    with writes.run(run.enrollment_id, profile_id=run.profile_id, at=run.position):
        customer = Customer(
            enrollment_id=run.enrollment_id, traits=run.traits, event=run.context, timezone=run.timezone
        )
        result = advance(
            loaded.plan, start_at=start_at, customer=customer, now=now, resume_mode=resume_mode, steps=loaded.steps
        )
        outcome = _apply(run, result, loaded=loaded, now=now, writes=writes)
        writes.enrollments[-1]["correlation"] = _correlation_value(outcome, run.context)
