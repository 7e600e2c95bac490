"""What a batch of events does to customers' runs: end them (goal, exit criteria), resume waits, enter
customers (by an event trigger, or by traits that start to meet a trait trigger). One call per batch, made by
the engine's consumer of stored events (:mod:`engine.runtime.consume`).

A whole batch is handled with a fixed number of queries: the waiting runs and the entry
history of every customer in the batch are read once, events are applied in order in memory,
and the writes go out in bulk. Only when a customer who has just been entered acts again in the
same batch are the pending entries written first, so that event sees the run it belongs to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.compiler import WaitForEventStep
from engine.journeys import PLANS, RUNNING, LiveJourney, LoadedPlan, live_journeys
from engine.map import EventTrigger, ReentryPolicy, all_hold
from engine.runtime.decisions import Ended, EndReason, after_wait
from engine.runtime.entry import enter_by_traits, open_runs, trait_entries
from engine.runtime.walk import RunContext, reach_goal, transition_row, walk
from engine.runtime.writes import NOWHERE, BatchWrites, Position, enrollment_update
from engine.store import Enrollment, EnrollmentStatus, Journey, JourneyStatus, among


@dataclass(frozen=True, kw_only=True)
class IncomingEvent:
    profile_id: int
    user_id: str | None
    traits: Mapping[str, Any]
    timezone: str | None
    name: str
    properties: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class TraitsChanged:
    """An identify that changed a customer's traits from ``before`` to ``after``."""

    profile_id: int
    user_id: str | None
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    timezone: str | None


Happening = IncomingEvent | TraitsChanged


@dataclass
class _WaitingRun:
    """A run waiting for time or an event, as this batch sees it (kept current as events apply)."""

    id: int
    journey_id: int
    version_id: int
    step_id: str | None
    wait_event: str | None
    correlation: str | None
    context: dict[str, Any]
    journey_status: str
    position: Position
    goal_reached: bool = False


def _correlates(correlate_on: str | None, properties: Mapping[str, Any], expected: Any) -> bool:
    if not correlate_on:
        return True
    return expected is not None and str(properties.get(correlate_on)) == str(expected)


def admits(policy: ReentryPolicy, statuses: set[str]) -> bool:
    """Whether the re-entry policy lets in a customer whose runs of the journey have these statuses."""
    if policy is ReentryPolicy.NEVER:
        return not statuses
    if policy is ReentryPolicy.AFTER_EXIT:
        return EnrollmentStatus.WAITING not in statuses
    return True


def entry_matches(trigger: EventTrigger, *, traits: Mapping[str, Any], properties: Mapping[str, Any]) -> bool:
    """Whether an event of the trigger's name, with these properties, from a customer with these traits, enters."""
    return all_hold(trigger.filters, traits=traits, event=properties)


class Reaction(StrEnum):
    """What an event does to a run waiting in a journey (the same for the engine and the forecast's replay)."""

    GOAL = "goal"
    EXIT = "exit"
    RESUME = "resume"
    # The run's journey is paused: the awaited event is remembered for when it resumes.
    REMEMBER = "remember"
    NONE = "none"


def reaction_to(
    loaded: LoadedPlan,
    *,
    step_id: str | None,
    wait_event: str | None,
    correlation: str | None,
    context: Mapping[str, Any],
    journey_status: str,
    event_name: str,
    properties: Mapping[str, Any],
) -> Reaction:
    """The reaction of a run waiting at ``step_id`` to the event: the goal event ends it at the goal, an exit
    criterion ends it, and the awaited event (correlated, when the wait says so) moves it on, or is remembered while
    the journey is paused. Pure."""
    plan = loaded.plan
    if plan.goal_event == event_name:
        return Reaction.GOAL
    if any(
        c.event == event_name and _correlates(c.correlate_on, properties, context.get(c.correlate_on or ""))
        for c in plan.exit_criteria
    ):
        return Reaction.EXIT
    if wait_event != event_name or not step_id:
        return Reaction.NONE
    step = loaded.steps[step_id]
    correlate_on = step.correlate_on if isinstance(step, WaitForEventStep) else None
    if not _correlates(correlate_on, properties, correlation):
        return Reaction.NONE
    if journey_status in RUNNING:
        return Reaction.RESUME
    if journey_status == JourneyStatus.PAUSED:
        return Reaction.REMEMBER
    return Reaction.NONE


class _Batch:
    def __init__(
        self, session: Session, events: Sequence[IncomingEvent], now: datetime, journeys: Sequence[LiveJourney]
    ) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.now = now
        self.writes = BatchWrites(now=now)
        self.by_event: dict[str, list[LiveJourney]] = defaultdict(list)
        for journey in journeys:
            trigger = journey.loaded.plan.entry.trigger
            if isinstance(trigger, EventTrigger):
                self.by_event[trigger.event].append(journey)
        profile_ids = {e.profile_id for e in events}
        self.waiting = self._load_waiting(profile_ids)
        entry_journeys = {j.journey_id for e in events for j in self.by_event.get(e.name, ())}
        self.history = self._load_history(profile_ids, entry_journeys)
        self.pending: list[tuple[LiveJourney, IncomingEvent]] = []
        self.pending_profiles: set[int] = set()

    def _load_waiting(self, profile_ids: set[int]) -> dict[int, list[_WaitingRun]]:
        query = (
            select(
                col(Enrollment.id),
                col(Enrollment.profile_id),
                col(Enrollment.journey_id),
                col(Enrollment.version_id),
                col(Enrollment.step_id),
                col(Enrollment.wait_event),
                col(Enrollment.correlation),
                col(Enrollment.context),
                col(Journey.status),
                col(Enrollment.step_entered_at),
                col(Enrollment.stage_id),
                col(Enrollment.stage_entered_at),
                col(Enrollment.goal_reached_at),
            )
            .join(Journey, col(Journey.id) == col(Enrollment.journey_id))
            .where(
                among(col(Enrollment.profile_id), profile_ids, dialect=self.dialect),
                col(Enrollment.status) == EnrollmentStatus.WAITING,
            )
            .order_by(col(Enrollment.id))
        )
        if self.dialect == "postgresql":
            # A tick walking one of these runs now holds it (and skips locked runs): wait for it, then read the
            # run as it left it, so an event and a timeout never both act on one run.
            query = query.with_for_update(of=Enrollment)
        rows = self.session.execute(query).all()
        waiting: dict[int, list[_WaitingRun]] = defaultdict(list)
        for r in rows:
            waiting[r.profile_id].append(
                _WaitingRun(
                    id=r.id,
                    journey_id=r.journey_id,
                    version_id=r.version_id,
                    step_id=r.step_id,
                    wait_event=r.wait_event,
                    correlation=r.correlation,
                    context=dict(r.context or {}),
                    journey_status=r.status,
                    position=Position.of_run(r),
                    goal_reached=r.goal_reached_at is not None,
                )
            )
        return waiting

    def _load_history(self, profile_ids: set[int], journey_ids: set[int]) -> dict[tuple[int, int], set[str]]:
        history: dict[tuple[int, int], set[str]] = defaultdict(set)
        if not journey_ids:
            return history
        rows = self.session.execute(
            select(col(Enrollment.profile_id), col(Enrollment.journey_id), col(Enrollment.status))
            .where(
                among(col(Enrollment.profile_id), profile_ids, dialect=self.dialect),
                col(Enrollment.journey_id).in_(journey_ids),
            )
            .distinct()
        )
        for profile_id, journey_id, status in rows:
            history[(profile_id, journey_id)].add(str(status))
        return history

    def apply(self, event: IncomingEvent) -> int:
        if event.profile_id in self.pending_profiles:
            self.enter_pending()
        self._react_in_flight(event)
        return self._queue_entries(event)

    def _react_in_flight(self, event: IncomingEvent) -> None:
        runs = self.waiting.get(event.profile_id)
        if not runs:
            return
        plans = PLANS.get_many(session=self.session, version_ids={r.version_id for r in runs})
        for run in list(runs):
            with self.writes.run(run.id, profile_id=event.profile_id, at=run.position):
                self._react(run, runs, event, plans[run.version_id])
            if run.id in self.writes.failed and run in runs:
                self._ended(run, runs, event.profile_id)

    def _react(self, run: _WaitingRun, runs: list[_WaitingRun], event: IncomingEvent, loaded: LoadedPlan) -> None:
        reaction = reaction_to(
            loaded,
            step_id=run.step_id,
            wait_event=run.wait_event,
            correlation=run.correlation,
            context=run.context,
            journey_status=run.journey_status,
            event_name=event.name,
            properties=event.properties,
        )
        plan = loaded.plan
        match reaction:
            case Reaction.GOAL:
                reach_goal(
                    self._context(run, event, plan.default_timezone),
                    loaded=loaded,
                    event=event.name,
                    now=self.now,
                    already=run.goal_reached,
                    writes=self.writes,
                )
                self._ended(run, runs, event.profile_id)
            case Reaction.EXIT:
                self.writes.enrollments.append(
                    enrollment_update(
                        run.id,
                        Ended(reason=EndReason.EXIT_CRITERIA, detail=event.name),
                        now=self.now,
                        goal_at=None,
                        at=run.position,
                    )
                )
                self._ended(run, runs, event.profile_id)
            case Reaction.RESUME:
                assert run.step_id is not None
                walk(
                    self._context(run, event, plan.default_timezone),
                    loaded=loaded,
                    start_at=after_wait(loaded.steps[run.step_id], event_arrived=True),
                    now=self.now,
                    resume_mode=None,
                    writes=self.writes,
                )
                self._track(run, runs, event.profile_id)
            case Reaction.REMEMBER:
                # Held where it is until the journey resumes, but the event is not lost.
                self.writes.arrivals.append({"eid": run.id, "at": self.now})
                run.wait_event = None

    @staticmethod
    def _context(run: _WaitingRun, event: IncomingEvent, default_timezone: str) -> RunContext:
        return RunContext(
            enrollment_id=run.id,
            journey_id=run.journey_id,
            version_id=run.version_id,
            profile_id=event.profile_id,
            user_id=event.user_id,
            traits=dict(event.traits),
            timezone=event.timezone or default_timezone,
            context=run.context,
            position=run.position,
        )

    def _track(self, run: _WaitingRun, runs: list[_WaitingRun], profile_id: int) -> None:
        """Keep the in-memory run in step with the update its walk just queued."""
        update = self.writes.enrollments[-1]
        if update["status"] == EnrollmentStatus.WAITING:
            run.step_id, run.wait_event, run.correlation = (
                update["step_id"],
                update["wait_event"],
                update["correlation"],
            )
            run.position = Position.after(update)
            run.goal_reached = run.goal_reached or update["goal_at"] is not None
        else:
            self._ended(run, runs, profile_id)

    def _ended(self, run: _WaitingRun, runs: list[_WaitingRun], profile_id: int) -> None:
        """Forget a run that just ended, so a later event of the batch may enter the customer again."""
        runs.remove(run)
        statuses = self.history[(profile_id, run.journey_id)]
        statuses.discard(EnrollmentStatus.WAITING)
        statuses.add(EnrollmentStatus.ENDED)

    def _queue_entries(self, event: IncomingEvent) -> int:
        queued = 0
        for journey in self.by_event.get(event.name, ()):
            trigger = journey.loaded.plan.entry.trigger
            assert isinstance(trigger, EventTrigger)
            if not entry_matches(trigger, traits=event.traits, properties=event.properties):
                continue
            statuses = self.history[(event.profile_id, journey.journey_id)]
            if not admits(journey.loaded.plan.reentry, statuses):
                continue
            statuses.add(EnrollmentStatus.WAITING)
            self.pending.append((journey, event))
            self.pending_profiles.add(event.profile_id)
            queued += 1
        return queued

    def enter_pending(self) -> None:
        """Insert the queued enrollments (one statement per journey version) and walk each one."""
        groups: dict[tuple[int, int], list[IncomingEvent]] = defaultdict(list)
        journeys: dict[tuple[int, int], LiveJourney] = {}
        for journey, event in self.pending:
            key = (journey.journey_id, journey.version_id)
            groups[key].append(event)
            journeys[key] = journey
        self.pending.clear()
        self.pending_profiles.clear()
        for key, events in groups.items():
            journey = journeys[key]
            entry = journey.loaded.plan.entry
            ids = open_runs(
                session=self.session,
                writes=self.writes,
                journey_id=journey.journey_id,
                version_id=journey.version_id,
                entrants=[(e.profile_id, e.properties) for e in events],
                now=self.now,
            )
            for enrollment_id, event in zip(ids, events, strict=True):
                self._walk_entry(journey, enrollment_id, event, entry.node_id, entry.stage, entry.first_step)

    def _walk_entry(
        self,
        journey: LiveJourney,
        enrollment_id: int,
        event: IncomingEvent,
        node_id: str,
        stage: str,
        first_step: str | None,
    ) -> None:
        context = RunContext(
            enrollment_id=enrollment_id,
            journey_id=journey.journey_id,
            version_id=journey.version_id,
            profile_id=event.profile_id,
            user_id=event.user_id,
            traits=dict(event.traits),
            timezone=event.timezone or journey.loaded.plan.default_timezone,
            context=dict(event.properties),
            position=NOWHERE.entering(node_id, stage, self.now),
        )
        self.writes.transitions.append(transition_row(context, node_id, stage, self.now, came_from=NOWHERE))
        walk(context, loaded=journey.loaded, start_at=first_step, now=self.now, resume_mode=None, writes=self.writes)
        update = self.writes.enrollments[-1]
        if update["status"] == EnrollmentStatus.WAITING:
            self.waiting[event.profile_id].append(
                _WaitingRun(
                    id=enrollment_id,
                    journey_id=journey.journey_id,
                    version_id=journey.version_id,
                    step_id=update["step_id"],
                    wait_event=update["wait_event"],
                    correlation=update["correlation"],
                    context=dict(event.properties),
                    journey_status=JourneyStatus.LIVE,
                    position=Position.after(update),
                    goal_reached=update["goal_at"] is not None,
                )
            )
        else:
            statuses = self.history[(event.profile_id, journey.journey_id)]
            statuses.discard(EnrollmentStatus.WAITING)
            statuses.add(EnrollmentStatus.ENDED)


def react_to_events(
    *, session: Session, events: Sequence[IncomingEvent], now: datetime, live: Sequence[LiveJourney] | None = None
) -> int:
    """Apply tracked events in order; returns how many enrollments they created. The caller commits."""
    if not events:
        return 0
    batch = _Batch(session, events, now, live if live is not None else live_journeys(session=session))
    entered = sum(batch.apply(event) for event in events)
    batch.enter_pending()
    batch.writes.flush(session)
    return entered


def react(
    *, session: Session, happenings: Sequence[Happening], now: datetime, live: Sequence[LiveJourney] | None = None
) -> int:
    """Apply a stored batch's tracks and trait changes in the order they happened; returns how many
    enrollments they created. The caller commits."""
    journeys = list(live) if live is not None else live_journeys(session=session)
    entered = 0
    tracked: list[IncomingEvent] = []
    # Who has a track waiting in ``tracked``: a consumer's batch holds a thousand events, too many to scan per identify.
    tracked_profiles: set[int] = set()
    for happening in happenings:
        if isinstance(happening, IncomingEvent):
            tracked.append(happening)
            tracked_profiles.add(happening.profile_id)
            continue
        if happening.profile_id in tracked_profiles and trait_entries(
            journeys, before=happening.before, after=happening.after
        ):
            # This customer's earlier events must act before the entry, or they would act on the new run.
            entered += react_to_events(session=session, events=tracked, now=now, live=journeys)
            tracked = []
            tracked_profiles = set()
        entered += enter_by_traits(
            session=session,
            profile_id=happening.profile_id,
            user_id=happening.user_id,
            before=happening.before,
            after=happening.after,
            timezone=happening.timezone,
            now=now,
            live=journeys,
        )
    return entered + react_to_events(session=session, events=tracked, now=now, live=journeys)
