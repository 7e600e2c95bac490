"""Walking one run through its plan and collecting what happened, many customers per transaction.

The decisions are pure (:mod:`engine.runtime.decisions`); a walk applies them to a run and adds the
rows they imply (transitions, messages, the run's new state) to a batch's writes, flushed with one
statement per table: per-row commits are the bottleneck on both SQLite and PostgreSQL, so a batch of
customers shares one transaction. The tick (:mod:`engine.runtime.due`), entries
(:mod:`engine.runtime.entry`) and reactions to events (:mod:`engine.runtime.reactions`) all walk here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session

from engine.content import ContentRenderError, render_content, unsubscribe_url
from engine.journeys import LoadedPlan
from engine.map import Channel
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
    TraitsUpdated,
    Waiting,
    advance,
)
from engine.store import Enrollment, EnrollmentStatus, MessageStatus, OutboxMessage, Profile, Transition


@dataclass
class BatchWrites:
    """Everything one batch writes, flushed with one statement per table."""

    transitions: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[dict[str, Any]] = field(default_factory=list)
    traits: dict[int, dict[str, Any]] = field(default_factory=dict)
    steps: int = 0

    def flush(self, session: Session) -> None:
        if self.transitions:
            session.execute(insert(Transition.__table__), self.transitions)  # type: ignore[attr-defined]
        if self.messages:
            session.execute(insert(OutboxMessage.__table__), self.messages)  # type: ignore[attr-defined]
        if self.enrollments:
            table = Enrollment.__table__  # type: ignore[attr-defined]
            session.execute(
                update(table).where(table.c.id == bindparam("eid")),
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


@dataclass(frozen=True)
class Position:
    """Where a run is: its step and its stage, and when it entered each. The next transition it
    records names them as where it came from, so the KPIs count a move from one row."""

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
        return Position(
            step=node_id, step_at=at, stage=stage_id, stage_at=at if stage_id != self.stage else self.stage_at
        )

    @classmethod
    def after(cls, update: Mapping[str, Any]) -> Position:
        """Where an ``enrollment_update`` row leaves the run."""
        return cls(
            step=update["step_id"],
            step_at=update["step_entered_at"],
            stage=update["stage_id"],
            stage_at=update["stage_entered_at"],
        )


# Before the journey's entry: its transition comes from no step and enters its first stage.
NOWHERE = Position(step=None, step_at=None, stage=None, stage_at=None)


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
) -> dict[str, Any]:
    key = f"e{run.enrollment_id}-{effect.node_id}-{int(now.timestamp() * 1000)}"
    row: dict[str, Any] = {
        "idempotency_key": key,
        "enrollment_id": run.enrollment_id,
        "journey_id": run.journey_id,
        "profile_id": run.profile_id,
        "node_id": effect.node_id,
        "channel": effect.channel.value,
        "fallback_channel": effect.fallback_channel.value if effect.fallback_channel else None,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "is_test": False,
        "provider_message_id": None,
        "delivered_at": None,
    }
    try:
        content = render_content(
            effect.content,
            profile={**traits, "user_id": run.user_id},
            event=run.context,
            journey_name=loaded.journey_name,
            unsubscribe_url=unsubscribe_url(run.profile_id, effect.channel),
        )
    except ContentRenderError as error:
        return {
            **row,
            "recipient": "",
            "subject": "",
            "body": "",
            "url": "",
            "status": MessageStatus.FAILED,
            "reason": f"content could not be rendered: {error}",
        }
    recipient = _recipient(effect.channel, traits=traits, user_id=run.user_id, url=content.url)
    status, reason = MessageStatus.PENDING, ""
    # With a fallback channel the dispatcher decides: it sends there when this channel has no address.
    if not recipient and effect.fallback_channel is None:
        status, reason = MessageStatus.SUPPRESSED, f"the profile has no address for {effect.channel.value}"
    return {
        **row,
        "recipient": recipient,
        "subject": content.subject,
        "body": content.body,
        "url": content.url,
        "status": status,
        "reason": reason,
    }


def _apply(run: RunContext, result: Advance, *, loaded: LoadedPlan, now: datetime, writes: BatchWrites) -> None:
    traits = run.traits
    here = run.position
    goal_at: datetime | None = None
    for effect in result.effects:
        match effect:
            case NodeEntered():
                writes.steps += 1
                writes.transitions.append(
                    transition_row(run, effect.node_id, effect.stage_id, effect.at, came_from=here)
                )
                here = here.entering(effect.node_id, effect.stage_id, effect.at)
            case SplitAssigned():
                writes.transitions[-1]["arm"] = effect.arm
            case SendMessage():
                writes.messages.append(_message_row(run, effect, loaded=loaded, now=now, traits=traits))
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
    writes.enrollments.append(enrollment_update(run.enrollment_id, result.outcome, now=now, goal_at=goal_at, at=here))


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
            "goal_reached_at": goal_at,
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
        "goal_reached_at": goal_at if goal_at is not None or outcome.reason is not EndReason.GOAL else now,
    }


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
    result = advance(
        loaded.plan,
        start_at=start_at,
        customer=Customer(enrollment_id=run.enrollment_id, traits=run.traits, event=run.context, timezone=run.timezone),
        now=now,
        resume_mode=resume_mode,
        steps=loaded.steps,
    )
    _apply(run, result, loaded=loaded, now=now, writes=writes)
    writes.enrollments[-1]["correlation"] = _correlation_value(result.outcome, run.context)
