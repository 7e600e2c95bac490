"""Advancing customers through their plans and writing what happened, many customers per transaction.

The decisions are pure (engine/runtime/decisions.py); this module loads what they need in a few queries
per batch, applies them and writes the results with bulk statements: per-row commits are the
bottleneck on both SQLite and PostgreSQL, so a batch of customers shares one transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, select, update
from sqlmodel import Session, col

from engine.compiler.plan import Plan, Step
from engine.content.liquid import ContentRenderError, render_content
from engine.content.unsubscribe import unsubscribe_url
from engine.map.document import Channel, ReentryPolicy
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
    after_wait,
)
from engine.store.enrollments import Enrollment, EnrollmentStatus, Transition
from engine.store.journeys import Journey, JourneyStatus, JourneyVersion
from engine.store.outbox import MessageStatus, OutboxMessage
from engine.store.profiles import Profile

CLAIM_BATCH = 1_000
# Journeys whose customers move on: a draining journey takes no entries but lets those inside finish.
RUNNING = (JourneyStatus.LIVE, JourneyStatus.DRAINING)


@dataclass(frozen=True)
class LoadedPlan:
    plan: Plan
    steps: Mapping[str, Step]
    journey_name: str


@lru_cache(maxsize=512)
def _parse_plan(plan_json: str) -> LoadedPlan:
    plan = Plan.from_json(plan_json)
    return LoadedPlan(plan=plan, steps=plan.step_index(), journey_name=plan.journey_name)


class PlanCache:
    """Published plans by database and version id; versions are frozen, so a cached plan never goes stale.

    The database is part of the key: one process may talk to several (the CLI, tests), and version
    ids are only unique within one.
    """

    def __init__(self) -> None:
        self._plans: dict[tuple[str, int], LoadedPlan] = {}

    def get_many(self, *, session: Session, version_ids: Iterable[int]) -> dict[int, LoadedPlan]:
        database = str(session.get_bind().engine.url)
        wanted = set(version_ids)
        missing = {version_id for version_id in wanted if (database, version_id) not in self._plans}
        if missing:
            rows = session.execute(
                select(col(JourneyVersion.id), col(JourneyVersion.plan)).where(col(JourneyVersion.id).in_(missing))
            )
            for version_id, plan_data in rows:
                self._plans[(database, version_id)] = _load(plan_data)
        return {v: self._plans[(database, v)] for v in wanted if (database, v) in self._plans}

    def get(self, *, session: Session, version_id: int) -> LoadedPlan:
        return self.get_many(session=session, version_ids=[version_id])[version_id]


def _load(plan_data: Any) -> LoadedPlan:
    text = plan_data if isinstance(plan_data, str) else json.dumps(plan_data, sort_keys=True)
    return _parse_plan(text)


PLANS = PlanCache()


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


def _due_query(now: datetime, limit: int, *, skip_locked: bool) -> Select[Any]:
    query = (
        select(
            col(Enrollment.id),
            col(Enrollment.journey_id),
            col(Enrollment.version_id),
            col(Enrollment.profile_id),
            col(Enrollment.step_id),
            col(Enrollment.context),
            col(Enrollment.resume_mode),
            col(Enrollment.event_arrived_at),
            col(Enrollment.step_entered_at),
            col(Enrollment.stage_id),
            col(Enrollment.stage_entered_at),
        )
        .join(Journey, and_(col(Journey.id) == col(Enrollment.journey_id), col(Journey.status).in_(RUNNING)))
        .where(col(Enrollment.status) == EnrollmentStatus.WAITING, col(Enrollment.due_at) <= now)
        .order_by(col(Enrollment.due_at))
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(of=Enrollment, skip_locked=True)
    return query


def _profiles(session: Session, profile_ids: Iterable[int]) -> dict[int, tuple[str | None, dict[str, Any], str | None]]:
    rows = session.execute(
        select(col(Profile.id), col(Profile.user_id), col(Profile.traits), col(Profile.timezone)).where(
            col(Profile.id).in_(set(profile_ids))
        )
    )
    return {pid: (user_id, dict(traits or {}), tz) for pid, user_id, traits, tz in rows}


def advance_due(*, session: Session, now: datetime, limit: int = CLAIM_BATCH) -> int:
    """Claim up to ``limit`` customers whose wait is over and advance them; returns how many.

    On PostgreSQL the claim takes row locks with SKIP LOCKED, so several workers share the due
    rows and none advances a customer another worker holds. The caller commits.
    """
    skip_locked = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(_due_query(now, limit, skip_locked=skip_locked)).all()
    if not rows:
        return 0
    plans = PLANS.get_many(session=session, version_ids={row.version_id for row in rows})
    profiles = _profiles(session, (row.profile_id for row in rows))
    writes = BatchWrites()
    for row in rows:
        loaded = plans[row.version_id]
        user_id, traits, tz = profiles[row.profile_id]
        waiting_step = loaded.steps.get(row.step_id) if row.step_id else None
        run = RunContext(
            enrollment_id=row.id,
            journey_id=row.journey_id,
            version_id=row.version_id,
            profile_id=row.profile_id,
            user_id=user_id,
            traits=traits,
            timezone=tz or loaded.plan.default_timezone,
            context=dict(row.context or {}),
            position=Position.of_run(row),
        )
        arrived = row.event_arrived_at is not None
        start_at = after_wait(waiting_step, event_arrived=arrived) if waiting_step else None
        mode = ResumeMode(row.resume_mode) if row.resume_mode else None
        walk(run, loaded=loaded, start_at=start_at, now=now, resume_mode=mode, writes=writes)
    writes.flush(session)
    return len(rows)


@dataclass(frozen=True, kw_only=True)
class Entrant:
    """A customer about to enter a journey, with what the trigger carried."""

    profile_id: int
    user_id: str | None
    traits: Mapping[str, Any]
    timezone: str | None
    context: Mapping[str, Any]


def insert_enrollments(
    *,
    session: Session,
    journey_id: int,
    version_id: int,
    entrants: Sequence[tuple[int, Mapping[str, Any]]],
    now: datetime,
) -> list[int]:
    """Insert runs for (profile id, entry context) pairs in one statement; ids in the same order.

    Rows are matched back by customer rather than by position: an ordered RETURNING costs SQLite
    one statement per row. A customer entered twice at once gets ids in insertion order.
    """
    table = Enrollment.__table__  # type: ignore[attr-defined]
    returned = session.execute(
        insert(table).returning(table.c.id, table.c.profile_id),
        [
            {
                "journey_id": journey_id,
                "version_id": version_id,
                "profile_id": profile_id,
                "status": EnrollmentStatus.WAITING,
                "step_id": None,
                "due_at": None,
                "context": dict(context),
                "entered_at": now,
            }
            for profile_id, context in entrants
        ],
    ).all()
    by_profile: dict[int, list[int]] = defaultdict(list)
    for enrollment_id, profile_id in sorted(returned):
        by_profile[profile_id].append(enrollment_id)
    return [by_profile[profile_id].pop(0) for profile_id, _ in entrants]


def enroll_many(
    *, session: Session, journey_id: int, version_id: int, entrants: Sequence[Entrant], now: datetime
) -> list[int]:
    """Enter customers into a journey and walk each until their first wait; returns enrollment ids."""
    if not entrants:
        return []
    loaded = PLANS.get(session=session, version_id=version_id)
    entry = loaded.plan.entry
    ids = insert_enrollments(
        session=session,
        journey_id=journey_id,
        version_id=version_id,
        entrants=[(e.profile_id, e.context) for e in entrants],
        now=now,
    )
    writes = BatchWrites()
    for enrollment_id, entrant in zip(ids, entrants, strict=True):
        run = RunContext(
            enrollment_id=enrollment_id,
            journey_id=journey_id,
            version_id=version_id,
            profile_id=entrant.profile_id,
            user_id=entrant.user_id,
            traits=dict(entrant.traits),
            timezone=entrant.timezone or loaded.plan.default_timezone,
            context=dict(entrant.context),
            position=NOWHERE.entering(entry.node_id, entry.stage, now),
        )
        writes.transitions.append(transition_row(run, entry.node_id, entry.stage, now, came_from=NOWHERE))
        writes.steps += 1
        walk(run, loaded=loaded, start_at=entry.first_step, now=now, resume_mode=None, writes=writes)
    writes.flush(session)
    return ids


@dataclass(frozen=True)
class LiveJourney:
    journey_id: int
    version_id: int
    loaded: LoadedPlan


def live_journeys(*, session: Session) -> list[LiveJourney]:
    """Live journeys with their newest version: new entrants always take the newest."""
    newest = (
        select(col(JourneyVersion.journey_id), func.max(col(JourneyVersion.id)).label("version_id"))
        .group_by(col(JourneyVersion.journey_id))
        .subquery()
    )
    rows = session.execute(
        select(col(Journey.id), newest.c.version_id)
        .join(newest, newest.c.journey_id == col(Journey.id))
        .where(col(Journey.status) == JourneyStatus.LIVE)
    ).all()
    plans = PLANS.get_many(session=session, version_ids={version_id for _, version_id in rows})
    return [LiveJourney(journey_id, version_id, plans[version_id]) for journey_id, version_id in rows]


def admitted_journeys(*, session: Session, profile_id: int, journeys: Sequence[LiveJourney]) -> list[LiveJourney]:
    """The journeys whose re-entry policy lets this customer in now."""
    history = session.execute(
        select(col(Enrollment.journey_id), col(Enrollment.status)).where(
            col(Enrollment.profile_id) == profile_id,
            col(Enrollment.journey_id).in_([j.journey_id for j in journeys]),
        )
    ).all()
    entered = {journey_id for journey_id, _ in history}
    in_flight = {journey_id for journey_id, status in history if status == EnrollmentStatus.WAITING}
    admitted = []
    for journey in journeys:
        policy = journey.loaded.plan.reentry
        if policy is ReentryPolicy.NEVER and journey.journey_id in entered:
            continue
        if policy is ReentryPolicy.AFTER_EXIT and journey.journey_id in in_flight:
            continue
        admitted.append(journey)
    return admitted


def admitted_profiles(*, session: Session, journey: LiveJourney, profile_ids: Sequence[int]) -> set[int]:
    """Of these customers, the ones the journey's re-entry policy lets in now (one query)."""
    history = session.execute(
        select(col(Enrollment.profile_id), col(Enrollment.status)).where(
            col(Enrollment.journey_id) == journey.journey_id,
            col(Enrollment.profile_id).in_(profile_ids),
        )
    ).all()
    policy = journey.loaded.plan.reentry
    if policy is ReentryPolicy.NEVER:
        blocked = {profile_id for profile_id, _ in history}
    elif policy is ReentryPolicy.AFTER_EXIT:
        blocked = {profile_id for profile_id, status in history if status == EnrollmentStatus.WAITING}
    else:
        blocked = set()
    return set(profile_ids) - blocked
