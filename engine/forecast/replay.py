"""The replay: stored events fed, in the order the intake stored them, through the engine's own code, on a
simulated clock and in memory.

What decides is the engine's: which reaction an event has on a waiting run (``runtime.reaction_to``), who is
admitted (``runtime.admits``, ``runtime.entry_matches``, ``runtime.trait_entries``), the walk from a step to the
next wait or end with its rendering and failures (``runtime.walk``, ``runtime.reach_goal``: the rows they add
to a batch's writes are read here instead of being flushed), what follows a wait (``runtime.after_wait``), and
whether a message may go out now (``delivery.decide``: consent, frequency cap, quiet hours, fallback channel).
What the replay keeps is what the database keeps for the live engine: per customer a copy of the profile, the
runs waiting and the statuses of past runs (for the re-entry policy), and the sends within the cap's window; a
queue of the moments runs fall due and held messages come out of quiet hours. So memory grows with the
customers, never with the events, which are streamed.

The clock is each event's receipt (when the live engine reacted to it), kept from going back; a run whose wait
ends, or a message whose quiet hours end, between two events is moved at that very moment, as the tick and the
dispatcher would move it. The dispatcher's pass is taken at once: a message is judged when its step writes it.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from types import MappingProxyType
from typing import Any

from engine.delivery import CUSTOMER_FACING, Allow, Defer, Recipient, Suppress, address_on, decide
from engine.forecast.tally import Tally
from engine.intake import GROUP_TRAIT, consent_changes
from engine.journeys import LiveJourney, LoadedPlan
from engine.map import Channel, EventTrigger, TraitTrigger
from engine.runtime import (
    NOWHERE,
    BatchWrites,
    Ended,
    EndReason,
    Position,
    Reaction,
    RunContext,
    admits,
    after_wait,
    enrollment_update,
    entry_matches,
    reach_goal,
    reaction_to,
    trait_entries,
    transition_row,
    walk,
)
from engine.store import EnrollmentStatus, JourneyStatus, MessageStatus

WAITING = EnrollmentStatus.WAITING.value
_NONE_SENT: Mapping[str, int] = MappingProxyType({})
ENDED = EnrollmentStatus.ENDED.value


@dataclass
class Customer:
    """A copy of one profile, and what the replay has done to them."""

    profile_id: int
    user_id: str | None
    traits: dict[str, Any]
    timezone: str | None
    consent: dict[str, bool]
    runs: list[_Run] = field(default_factory=list)
    statuses: set[str] = field(default_factory=set)
    sent: deque[tuple[datetime, str]] = field(default_factory=deque)
    entries: int = 0

    def next_run_id(self) -> int:
        """The id of this customer's next run: made from the customer, not from the order customers entered in,
        so a split assigns a customer the same arm however the window's customers are dealt into parts."""
        self.entries += 1
        return self.profile_id << 32 | self.entries


@dataclass(eq=False)
class _Run:
    id: int
    customer: Customer
    context: dict[str, Any]
    position: Position
    step_id: str | None = None
    wait_event: str | None = None
    correlation: str | None = None
    due_at: datetime | None = None
    goal_reached: bool = False
    # Bumped at every move, so the clock's queue can tell an entry for an earlier wait from the current one.
    turn: int = 0
    visited: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Message:
    node_id: str
    channel: Channel
    fallback: Channel | None
    recipient: str
    url: str
    customer: Customer
    deferred: bool = False


@dataclass(slots=True)
class StoredEvent:
    """One stored event as the replay reads it."""

    profile_id: int
    kind: str
    name: str | None
    properties: Mapping[str, Any]
    at: datetime


class Replay:
    """One journey version's replay; ``feed`` the events in order, then ``finish`` at the window's end."""

    def __init__(self, loaded: LoadedPlan, *, journey_id: int, version_id: int, start: datetime) -> None:
        self.loaded = loaded
        self.plan = loaded.plan
        self.journey = LiveJourney(journey_id=journey_id, version_id=version_id, loaded=loaded)
        self.clock = start
        self.customers: dict[int, Customer] = {}
        self.tally = Tally(self.plan)
        self.events = 0
        self._order = count()
        self._queue: list[tuple[float, int, datetime, _Run | _Message, int]] = []
        self._held: set[_Message] = set()

    # The clock

    def _due(self, at: datetime, item: _Run | _Message, turn: int = 0) -> None:
        # Keyed by the moment's timestamp: comparing floats is what keeps the queue's upkeep cheap.
        heapq.heappush(self._queue, (at.timestamp(), next(self._order), at, item, turn))

    def _run_until(self, moment: datetime, *, inclusive: bool) -> None:
        queue = self._queue
        limit = moment.timestamp()
        while queue and (queue[0][0] <= limit if inclusive else queue[0][0] < limit):
            _, _, at, item, turn = heapq.heappop(queue)
            self.clock = max(self.clock, at)
            if isinstance(item, _Message):
                self._held.discard(item)
                self._deliver(item, self.clock)
            elif turn == item.turn and item.due_at is not None:
                self._time_out(item, self.clock)

    def feed(self, event: StoredEvent) -> None:
        moment = max(self.clock, event.at)
        self._run_until(moment, inclusive=True)
        self.clock = moment
        self.events += 1
        customer = self.customers[event.profile_id]
        if event.kind == "track":
            name = event.name or ""
            self._react(customer, name, event.properties, moment)
        elif event.kind in ("identify", "group"):
            before = customer.traits
            if event.kind == "identify":
                after = {**before, **{k: v for k, v in event.properties.items() if k != "consent"}}
                changes = consent_changes(dict(event.properties))
                if changes:
                    customer.consent = {**customer.consent, **changes}
            else:
                after = {**before, GROUP_TRAIT: event.name}
            customer.traits = after
            if isinstance(self.plan.entry.trigger, TraitTrigger) and trait_entries(
                [self.journey], before=before, after=after
            ):
                self._enter(customer, {}, moment)

    def finish(self, until: datetime) -> None:
        """Move everything that falls due before ``until``; what is left waits, or is held, at the window's end."""
        self._run_until(until, inclusive=False)
        for message in self._held:
            self.tally.pending(message.node_id)

    # Runs

    def _context(self, run: _Run) -> RunContext:
        customer = run.customer
        return RunContext(
            enrollment_id=run.id,
            journey_id=self.journey.journey_id,
            version_id=self.journey.version_id,
            profile_id=customer.profile_id,
            user_id=customer.user_id,
            traits=customer.traits,
            timezone=customer.timezone or self.plan.default_timezone,
            context=run.context,
            position=run.position,
        )

    def _enter(self, customer: Customer, context: Mapping[str, Any], now: datetime) -> None:
        if not admits(self.plan.reentry, customer.statuses):
            return
        entry = self.plan.entry
        position = NOWHERE.entering(entry.node_id, entry.stage, now)
        run = _Run(id=customer.next_run_id(), customer=customer, context=dict(context), position=position)
        customer.runs.append(run)
        customer.statuses.add(WAITING)
        self.tally.entered += 1
        writes = BatchWrites(now=now)
        context_row = self._context(run)
        writes.transitions.append(transition_row(context_row, entry.node_id, entry.stage, now, came_from=NOWHERE))
        walk(context_row, loaded=self.loaded, start_at=entry.first_step, now=now, resume_mode=None, writes=writes)
        self._settle(run, writes, now)

    def _react(self, customer: Customer, name: str, properties: Mapping[str, Any], now: datetime) -> None:
        for run in list(customer.runs):
            reaction = reaction_to(
                self.loaded,
                step_id=run.step_id,
                wait_event=run.wait_event,
                correlation=run.correlation,
                context=run.context,
                journey_status=JourneyStatus.LIVE,
                event_name=name,
                properties=properties,
            )
            if reaction is Reaction.NONE:
                continue
            writes = BatchWrites(now=now)
            if reaction is Reaction.GOAL or reaction is Reaction.EXIT:
                with writes.run(run.id, profile_id=customer.profile_id, at=run.position):
                    if reaction is Reaction.GOAL:
                        reach_goal(
                            self._context(run),
                            loaded=self.loaded,
                            event=name,
                            now=now,
                            already=run.goal_reached,
                            writes=writes,
                        )
                    else:
                        ended = Ended(reason=EndReason.EXIT_CRITERIA, detail=name)
                        writes.enrollments.append(
                            enrollment_update(run.id, ended, now=now, goal_at=None, at=run.position)
                        )
            else:
                # The walk keeps a failure to this run by itself.
                assert run.step_id is not None
                self.tally.arrivals[run.step_id] += 1
                start_at = after_wait(self.loaded.steps[run.step_id], event_arrived=True)
                walk(
                    self._context(run), loaded=self.loaded, start_at=start_at, now=now, resume_mode=None, writes=writes
                )
            self._settle(run, writes, now)
        trigger = self.plan.entry.trigger
        if (
            isinstance(trigger, EventTrigger)
            and trigger.event == name
            and entry_matches(trigger, traits=customer.traits, properties=properties)
        ):
            self._enter(customer, properties, now)

    def _time_out(self, run: _Run, now: datetime) -> None:
        assert run.step_id is not None
        step = self.loaded.steps[run.step_id]
        if step.id in self.tally.waits:
            self.tally.timeouts[step.id] += 1
        writes = BatchWrites(now=now)
        # The walk keeps a failure to this run by itself.
        start_at = after_wait(step, event_arrived=False)
        walk(self._context(run), loaded=self.loaded, start_at=start_at, now=now, resume_mode=None, writes=writes)
        self._settle(run, writes, now)

    def _settle(self, run: _Run, writes: BatchWrites, now: datetime) -> None:
        """Take in what a walk or reaction wrote: count it, judge its messages, and move the run."""
        customer = run.customer
        for row in writes.transitions:
            self.tally.transition(row, run.visited)
        for traits in writes.traits.values():
            customer.traits = traits
        for row in writes.messages:
            self._message(row, customer, now)
        update = writes.enrollments[-1]
        if update["goal_at"] is not None and not run.goal_reached:
            run.goal_reached = True
            self.tally.goal_reached += 1
        run.turn += 1
        if update["status"] == EnrollmentStatus.WAITING:
            run.step_id, run.wait_event, run.correlation = (
                update["step_id"],
                update["wait_event"],
                update["correlation"],
            )
            run.position = Position.after(update)
            run.due_at = update["due_at"]
            self._due(update["due_at"], run, run.turn)
            return
        self.tally.ended(update)
        run.due_at = run.step_id = run.wait_event = None
        run.position = Position.after(update)
        customer.runs.remove(run)
        customer.statuses.discard(WAITING)
        customer.statuses.add(ENDED)

    # Messages

    def _message(self, row: Mapping[str, Any], customer: Customer, now: datetime) -> None:
        node_id = row["node_id"]
        status = row["status"]
        if status == MessageStatus.PENDING:
            fallback = row["fallback_channel"]
            message = _Message(
                node_id=node_id,
                channel=Channel(row["channel"]),
                fallback=Channel(fallback) if fallback else None,
                recipient=row["recipient"],
                url=row["url"],
                customer=customer,
            )
            self._deliver(message, now)
        elif status == MessageStatus.SUPPRESSED:
            self.tally.suppressed(node_id, row["reason"])
        elif status == MessageStatus.FAILED:
            self.tally.failed(node_id)
        else:
            self.tally.skipped(node_id)

    def _sent_in_window(self, customer: Customer, now: datetime) -> Mapping[str, int]:
        cap = self.plan.frequency_cap
        sent = customer.sent
        if cap is None or not sent:
            return _NONE_SENT
        since = now - cap.window
        while sent and sent[0][0] < since:
            sent.popleft()
        counts: dict[str, int] = {}
        for _, channel in sent:
            counts[channel] = counts.get(channel, 0) + 1
        return counts

    def _deliver(self, message: _Message, now: datetime) -> None:
        """What the dispatcher's claim does with a due message, and the send that follows an allowed one."""
        customer = message.customer
        plan = self.plan
        fallback = message.fallback
        verdict = decide(
            channel=message.channel,
            fallback=fallback,
            recipient=Recipient(
                consent=customer.consent,
                timezone=customer.timezone or plan.default_timezone,
                sent_in_window=self._sent_in_window(customer, now),
            ),
            has_address=bool(message.recipient),
            fallback_has_address=bool(
                fallback and address_on(fallback, customer.traits, customer.user_id, message.url)
            ),
            quiet=plan.quiet_hours,
            cap=plan.frequency_cap,
            now=now,
        )
        match verdict:
            case Suppress(reason=reason):
                self.tally.suppressed(message.node_id, reason)
            case Defer(until=until):
                if not message.deferred:
                    message.deferred = True
                    self.tally.deferred(message.node_id)
                self._held.add(message)
                self._due(until, message)
            case Allow(channel=chosen) if chosen is not message.channel:
                message.channel = chosen
                message.recipient = address_on(chosen, customer.traits, customer.user_id, message.url)
                self._deliver(message, now)
            case Allow():
                self.tally.sent(message.node_id, message.channel.value, now)
                if plan.frequency_cap is not None and message.channel in CUSTOMER_FACING:
                    customer.sent.append((now, message.channel.value))

    # The window's end

    def waiting(self) -> tuple[Counter[str], Counter[str]]:
        """Runs still waiting, by step and by stage."""
        by_step: Counter[str] = Counter()
        by_stage: Counter[str] = Counter()
        for customer in self.customers.values():
            for run in customer.runs:
                by_step[run.step_id or ""] += 1
                by_stage[run.position.stage or ""] += 1
        return by_step, by_stage
