"""What happens to one customer next: pure decisions over a Plan, no I/O.

``advance`` walks a customer from a step through every step that needs no waiting and returns
what happened (the effects) and where the walk stopped (a wait, or the end of the run). The
runtime applies the effects to the store for many customers in one transaction; keeping the
decisions pure makes them cheap to test exhaustively and safe to run in any worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.compiler import (
    BranchStep,
    ExitStep,
    GoalStep,
    HumanTaskStep,
    Plan,
    SendStep,
    SplitStep,
    Step,
    UpdateProfileStep,
    WaitForEventStep,
    WaitStep,
)
from engine.map import Channel, MessageContent, Scalar, all_hold

# The compiler refuses cycles without a wait, so a walk this long means a corrupt plan; stopping
# the one customer is better than spinning a worker forever.
MAX_STEPS_PER_WALK = 1_000


class EndReason(StrEnum):
    COMPLETED = "completed"
    EXIT_NODE = "exit_node"
    GOAL = "goal"
    EXIT_CRITERIA = "exit_criteria"
    HOLDOUT = "holdout"
    STOPPED = "stopped"
    CORRUPT_PLAN = "corrupt_plan"
    # The engine could not carry this customer on (their data, or an error); the run says why.
    FAILED = "failed"


class ResumeMode(StrEnum):
    """How a customer whose step fell due during a pause is continued (the journey's pause policy)."""

    SEND_LATE = "send_late"
    SKIP_OVERDUE_SENDS = "skip_overdue_sends"
    ADVANCE_TO_NEXT_WAIT = "advance_to_next_wait"


@dataclass(frozen=True, kw_only=True)
class Customer:
    """What the decisions read about one enrollment."""

    enrollment_id: int
    traits: Mapping[str, Any]
    event: Mapping[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"


@dataclass(frozen=True, kw_only=True)
class NodeEntered:
    node_id: str
    stage_id: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class SendMessage:
    node_id: str
    channel: Channel
    content: MessageContent
    fallback_channel: Channel | None


@dataclass(frozen=True, kw_only=True)
class SendSkipped:
    node_id: str
    channel: Channel
    reason: str


@dataclass(frozen=True, kw_only=True)
class SplitAssigned:
    node_id: str
    arm: str
    holdout: bool


@dataclass(frozen=True, kw_only=True)
class TraitsUpdated:
    node_id: str
    traits: Mapping[str, Scalar]


@dataclass(frozen=True, kw_only=True)
class GoalReached:
    node_id: str


@dataclass(frozen=True, kw_only=True)
class TaskOpened:
    """A person's task was opened for the customer; the run waits at ``step`` until its outcome or ``due_at``."""

    step: HumanTaskStep
    due_at: datetime


Effect = NodeEntered | SendMessage | SendSkipped | SplitAssigned | TraitsUpdated | GoalReached | TaskOpened


@dataclass(frozen=True, kw_only=True)
class Waiting:
    step_id: str
    due_at: datetime
    event: str | None = None
    correlate_on: str | None = None


@dataclass(frozen=True, kw_only=True)
class Ended:
    reason: EndReason
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Advance:
    effects: tuple[Effect, ...]
    outcome: Waiting | Ended


def split_bucket(enrollment_id: int, step_id: str) -> float:
    """A stable number in [0, 100) per customer and split, so a replay assigns the same arm."""
    digest = hashlib.blake2b(f"{enrollment_id}:{step_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100


def next_local_time(now: datetime, at: time, timezone: str) -> datetime:
    """The next moment (strictly after ``now``) when the customer's clock shows ``at``."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), at, tzinfo=zone)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(now.tzinfo)


def _wait_due(step: WaitStep, now: datetime, customer: Customer) -> datetime:
    if step.duration is not None:
        return now + step.duration
    assert step.until_local_time is not None, "the compiler guarantees one of duration / until_local_time"
    return next_local_time(now, step.until_local_time, customer.timezone)


def _waiting(step: WaitStep | WaitForEventStep, now: datetime, customer: Customer) -> Waiting | Ended:
    """Where a run stops at a wait; a wait whose end is past what a datetime holds fails the run alone."""
    try:
        if isinstance(step, WaitStep):
            return Waiting(step_id=step.id, due_at=_wait_due(step, now, customer))
        return Waiting(step_id=step.id, due_at=now + step.timeout, event=step.event, correlate_on=step.correlate_on)
    except OverflowError:
        return Ended(reason=EndReason.FAILED, detail=f"the wait at step {step.id!r} would end after the year 9999")


def _choose_arm(step: SplitStep, customer: Customer) -> tuple[str, bool, str | None]:
    bucket = split_bucket(customer.enrollment_id, step.id)
    upper = 0.0
    for arm in step.arms:
        upper += arm.percent
        if bucket < upper:
            return arm.name, arm.holdout, arm.next
    last = step.arms[-1]
    return last.name, last.holdout, last.next


def advance(
    plan: Plan,
    *,
    start_at: str | None,
    customer: Customer,
    now: datetime,
    resume_mode: ResumeMode | None = None,
    steps: Mapping[str, Step] | None = None,
) -> Advance:
    """Walk from ``start_at`` (a step id; None means the run is over) until a wait or the end.

    ``resume_mode`` applies the pause policy to this walk only: overdue sends are skipped, or every
    step up to the next wait is passed over without acting. ``steps`` is the plan's step index,
    passed in by callers that advance many customers on one plan.
    """
    index = steps if steps is not None else plan.step_index()
    traits = dict(customer.traits)
    effects: list[Effect] = []
    current = start_at
    for _ in range(MAX_STEPS_PER_WALK):
        if current is None:
            return Advance(effects=tuple(effects), outcome=Ended(reason=EndReason.COMPLETED))
        step = index[current]
        effects.append(NodeEntered(node_id=step.id, stage_id=step.stage, at=now))
        match step:
            case WaitStep() | WaitForEventStep():
                return Advance(effects=tuple(effects), outcome=_waiting(step, now, customer))
            case SendStep():
                if resume_mode in (ResumeMode.SKIP_OVERDUE_SENDS, ResumeMode.ADVANCE_TO_NEXT_WAIT):
                    effects.append(
                        SendSkipped(
                            node_id=step.id, channel=step.channel, reason="fell due while the journey was paused"
                        )
                    )
                else:
                    effects.append(
                        SendMessage(
                            node_id=step.id,
                            channel=step.channel,
                            content=step.content,
                            fallback_channel=step.fallback_channel,
                        )
                    )
                current = step.next
            case BranchStep():
                taken = all_hold(step.conditions, match=step.match, traits=traits, event=customer.event)
                current = step.if_true if taken else step.if_false
            case SplitStep():
                arm, holdout, arm_next = _choose_arm(step, customer)
                effects.append(SplitAssigned(node_id=step.id, arm=arm, holdout=holdout))
                if holdout and arm_next is None:
                    return Advance(effects=tuple(effects), outcome=Ended(reason=EndReason.HOLDOUT))
                current = arm_next
            case UpdateProfileStep():
                if resume_mode is not ResumeMode.ADVANCE_TO_NEXT_WAIT:
                    changes = dict(step.set_traits)
                    traits.update(changes)
                    effects.append(TraitsUpdated(node_id=step.id, traits=changes))
                current = step.next
            case GoalStep():
                effects.append(GoalReached(node_id=step.id))
                if step.next is None:
                    return Advance(effects=tuple(effects), outcome=Ended(reason=EndReason.GOAL))
                current = step.next
            case ExitStep():
                return Advance(effects=tuple(effects), outcome=Ended(reason=EndReason.EXIT_NODE, detail=step.reason))
            case HumanTaskStep():
                try:
                    due_at = now + step.due
                except OverflowError:
                    detail = f"the task at step {step.id!r} would be due after the year 9999"
                    return Advance(effects=tuple(effects), outcome=Ended(reason=EndReason.FAILED, detail=detail))
                effects.append(TaskOpened(step=step, due_at=due_at))
                return Advance(effects=tuple(effects), outcome=Waiting(step_id=step.id, due_at=due_at))
    return Advance(
        effects=tuple(effects),
        outcome=Ended(reason=EndReason.CORRUPT_PLAN, detail=f"more than {MAX_STEPS_PER_WALK} steps without a wait"),
    )


def goal_path(
    plan: Plan, *, at_step: str | None, event: str, customer: Customer, now: datetime, steps: Mapping[str, Step]
) -> tuple[NodeEntered | SplitAssigned, ...]:
    """The steps a run waiting at ``at_step`` enters when the goal event ``event`` ends it there.

    The goal is counted on the map like any other move: at a wait for this very event, the run takes
    that wait's event path up to the first goal it meets (passing over the steps on the way without
    acting, as the goal ends the run); from anywhere else it moves straight to the plan's first goal
    step. A plan without a goal step has no goal node to count it on: nothing is entered.
    """
    step = steps.get(at_step) if at_step is not None else None
    if isinstance(step, WaitForEventStep) and step.event == event:
        walked = advance(
            plan,
            start_at=step.on_event,
            customer=customer,
            now=now,
            resume_mode=ResumeMode.ADVANCE_TO_NEXT_WAIT,
            steps=steps,
        )
        taken: list[NodeEntered | SplitAssigned] = []
        for effect in walked.effects:
            if isinstance(effect, NodeEntered | SplitAssigned):
                taken.append(effect)
            elif isinstance(effect, GoalReached):
                return tuple(taken)
    goal = next((s for s in plan.steps if isinstance(s, GoalStep)), None)
    if goal is None:
        return ()
    return (NodeEntered(node_id=goal.id, stage_id=goal.stage, at=now),)


def after_wait(step: Step, *, event_arrived: bool) -> str | None:
    """The step that follows a wait once it is over: its time came, its event arrived, or it timed out."""
    if isinstance(step, WaitStep):
        return step.next
    if isinstance(step, WaitForEventStep):
        return step.on_event if event_arrived else step.on_timeout
    raise ValueError(f"step {step.id!r} is a {step.kind}, not a wait")


def after_task(step: HumanTaskStep, *, outcome: str | None) -> str | None:
    """The step that follows a person's task: the recorded outcome's path, or the overdue path without one."""
    return step.on_overdue if outcome is None else step.outcome_next(outcome)
