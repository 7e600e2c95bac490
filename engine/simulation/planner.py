"""Synthetic customers for a live journey: who arrives when, and what each of them sends.

Planning is pure. From a journey's published plan and map, a number of customers and a seed, every
customer gets a script: Segment messages (identify, page, track), each at an offset in real time
after the simulation starts. The same seed gives the same customers, messages and message ids, so a
repeated run is recognised by the intake as a retry and stores nothing twice.

Two clocks. The customers' own pace (when they arrive, how long they browse before entering) is
simulated time, played ``speed`` times faster than real time: at 60, an hour of arrivals passes in a
minute. What they do inside the journey is timed against the journey's waits, and those the engine
runs on the real clock, uncompressed: a customer who answers a reminder halfway through a three-hour
wait answers 90 real minutes after it. So every wait really elapses before the customers who let it
run out move on, and each stage's odds are what the engine sees (compressing responses too would make
customers act before the engine's first wait ends). For numbers that move within minutes, run a
journey with short waits (``engine.simulation.demo``).

A customer identifies (name, email, phone, time zone, channel consent), views the web touchpoints of
the map up to the journey's entry stage, and then does what enters the journey: the trigger's event,
or an identify with the traits its conditions ask for. From there the script follows the plan step
by step on the clock the journey's waits would take. At each wait the odds of the wait's stage decide,
at a random moment inside the wait:

- convert: the customer does what the wait hopes for: the event a wait-for-event step awaits; at a
  plain wait, the traits that turn the branch right after it towards a goal, or else the goal event;
- drop: the customer leaves: they send the journey's exit event (an exit criterion other than the
  goal) if it has one, and nothing more afterwards;
- otherwise the wait runs out and the script takes the timeout path.

The engine is not simulated: it reacts to what arrives, on its own clock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

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
from engine.map import (
    Channel,
    ConditionSource,
    EventTrigger,
    JourneyMap,
    Match,
    Operator,
    ScheduleTrigger,
    TouchpointNode,
    TraitTrigger,
    all_hold,
)
from engine.runtime import next_local_time
from engine.simulation.fake_values import FIRST_NAMES, LAST_NAMES, TIMEZONES, put, satisfying, traits_for, value_for
from engine.simulation.odds import SimulationError, StageOdds, waiting_stages

MAX_CUSTOMERS: Final = 1_000_000
LIBRARY: Final = {"name": "journey-simulate", "version": "1"}
# The compiler refuses cycles without a wait, but a plan may loop through waits; a customer who has
# been through this many steps has seen enough of it.
MAX_STEPS_PER_CUSTOMER: Final = 200


# --- scripts -------------------------------------------------------------------------------------


class Choice(StrEnum):
    CONVERT = "convert"
    DROP = "drop"
    STAY = "stay"


class Outcome(StrEnum):
    CONVERTED = "converted"
    DROPPED = "dropped"
    FINISHED = "finished"


@dataclass(frozen=True)
class Decision:
    """What the customer did at one wait of the plan."""

    step_id: str
    stage: str
    choice: Choice


@dataclass(frozen=True)
class PlannedMessage:
    """A Segment message without its timestamp (the sender stamps the moment it really goes out), and
    when it goes out, in real time after the start."""

    at: timedelta
    message: dict[str, Any]


@dataclass(frozen=True)
class CustomerScript:
    user_id: str
    arrival: timedelta
    messages: tuple[PlannedMessage, ...]
    decisions: tuple[Decision, ...]
    outcome: Outcome


@dataclass(frozen=True, kw_only=True)
class SimulationOptions:
    customers: int
    seed: int
    odds: Mapping[str, StageOdds]
    arrivals_over: timedelta = timedelta(hours=1)
    # Simulated time per real time for the customers' own pace (not for the journey's waits).
    speed: float = 60.0
    # The real moment of offset zero: waits "until 9:00 local time" are measured from it.
    start: datetime

    def __post_init__(self) -> None:
        if not 1 <= self.customers <= MAX_CUSTOMERS:
            raise SimulationError(f"customers must be from 1 to {MAX_CUSTOMERS:,}, got {self.customers}")
        if self.arrivals_over < timedelta(0):
            raise SimulationError("the arrival window cannot be negative")
        if not self.speed > 0:
            raise SimulationError(f"the speed must be more than 0, got {self.speed:g}")
        if self.start.tzinfo is None:
            raise SimulationError("the start of the simulated clock must be timezone-aware")


US_AREA_CODES: Final = ("212", "312", "415", "617", "702", "303", "206", "512")
SMS_CONSENT: Final = 0.9


def plan_simulation(plan: Plan, doc: JourneyMap, options: SimulationOptions) -> tuple[CustomerScript, ...]:
    """Every customer's script, in order of arrival. Pure: the same arguments give the same scripts."""
    if isinstance(plan.entry.trigger, ScheduleTrigger):
        raise SimulationError(
            f"journey {plan.journey_name!r} enters customers on a schedule ({plan.entry.trigger.cron}), "
            "not when they act; simulate drives journeys entered by an event or by traits"
        )
    missing = [stage for stage in waiting_stages(plan) if stage not in options.odds]
    if missing:
        raise SimulationError(f"no odds for stage(s) {', '.join(missing)}")
    rng = random.Random(options.seed)
    window = options.arrivals_over.total_seconds() / options.speed
    arrivals = sorted(rng.uniform(0, window) for _ in range(options.customers))
    journey = _Journey.of(plan, doc)
    return tuple(
        _CustomerPlanner(journey, options, rng, number, timedelta(seconds=arrival)).script()
        for number, arrival in enumerate(arrivals, start=1)
    )


@dataclass(frozen=True)
class _Journey:
    """What planning needs from a plan, worked out once for all customers."""

    plan: Plan
    steps: Mapping[str, Step]
    pages: tuple[TouchpointNode, ...]
    correlation_keys: tuple[str, ...]
    exit_event: str | None
    profile_traits: tuple[str, ...]

    @classmethod
    def of(cls, plan: Plan, doc: JourneyMap) -> _Journey:
        order = {stage: index for index, stage in enumerate(plan.stage_order)}
        entry_rank = order.get(plan.entry.stage, 0)
        pages = tuple(
            node
            for node in doc.nodes
            if isinstance(node, TouchpointNode)
            and node.channel is Channel.WEB
            and order.get(node.stage, len(order)) <= entry_rank
        )
        keys = [s.correlate_on for s in plan.steps if isinstance(s, WaitForEventStep) and s.correlate_on]
        keys += [c.correlate_on for c in plan.exit_criteria if c.correlate_on]
        exit_event = next((c.event for c in plan.exit_criteria if c.event != plan.goal_event), None)
        return cls(
            plan=plan,
            steps=plan.step_index(),
            pages=pages,
            correlation_keys=tuple(dict.fromkeys(keys)),
            exit_event=exit_event,
            profile_traits=tuple(doc.settings.profile_traits),
        )


@dataclass
class _CustomerPlanner:
    journey: _Journey
    options: SimulationOptions
    rng: random.Random
    number: int
    arrival: timedelta
    messages: list[PlannedMessage] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome = Outcome.FINISHED

    @property
    def user_id(self) -> str:
        return f"sim-{self.options.seed}-{self.number:06d}"

    def script(self) -> CustomerScript:
        at = self._arrive()
        at = self._enter(at)
        self._follow(self.journey.plan.entry.first_step, at)
        return CustomerScript(
            user_id=self.user_id,
            arrival=self.arrival,
            messages=tuple(self.messages),
            decisions=tuple(self.decisions),
            outcome=self.outcome,
        )

    # -- sending ---------------------------------------------------------------------------------

    def _send(self, at: timedelta, kind: str, **fields: Any) -> None:
        message = {
            "type": kind,
            "userId": self.user_id,
            "messageId": f"{self.user_id}-{len(self.messages) + 1:03d}",
            "context": {"library": LIBRARY, "timezone": self.traits.get("timezone")},
            **fields,
        }
        self.messages.append(PlannedMessage(at=at, message=message))

    def _track(self, at: timedelta, event: str, properties: Mapping[str, Any] | None = None) -> None:
        carried = {key: self.context[key] for key in self.journey.correlation_keys if key in self.context}
        self._send(at, "track", event=event, properties={**carried, **(properties or {})})

    def _identify(self, at: timedelta, traits: Mapping[str, Any]) -> None:
        self.traits.update({key: value for key, value in traits.items() if key != "consent"})
        self._send(at, "identify", traits=dict(traits))

    # -- before and at the entry -----------------------------------------------------------------

    def _arrive(self) -> timedelta:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        timezone = rng.choice(TIMEZONES)
        traits: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{self.options.seed}.{self.number}@example.com".lower(),
            # 555-01xx numbers are reserved for fiction: nothing real is ever texted.
            "phone": f"+1{rng.choice(US_AREA_CODES)}55501{rng.randrange(100):02d}",
            "timezone": timezone,
            "consent": {"email": True, "push": True, "sms": rng.random() < SMS_CONSENT},
        }
        entry_fields = _condition_fields(self.journey.plan)
        for name in self.journey.profile_traits:
            if name not in traits and name not in entry_fields:
                traits[name] = value_for(name, rng, self.user_id)
        trigger = self.journey.plan.entry.trigger
        if isinstance(trigger, EventTrigger):
            for condition in trigger.filters:
                if condition.source is ConditionSource.TRAIT:
                    put(traits, condition.field, satisfying(condition, rng, self.user_id))
        self._identify(self.arrival, traits)
        at = self.arrival
        for page in self.journey.pages:
            at += self._paced(timedelta(minutes=rng.uniform(1, 4)))
            self._send(at, "page", name=page.title or page.id, properties={"touchpoint": page.id, "stage": page.stage})
        return at + self._paced(timedelta(minutes=rng.uniform(2, 30)))

    def _paced(self, simulated: timedelta) -> timedelta:
        return simulated / self.options.speed

    def _enter(self, at: timedelta) -> timedelta:
        trigger = self.journey.plan.entry.trigger
        if isinstance(trigger, TraitTrigger):
            traits: dict[str, Any] = {}
            for condition in trigger.conditions:
                if condition.op is not Operator.NOT_EXISTS:
                    put(traits, condition.field, satisfying(condition, self.rng, self.user_id))
            self._identify(at, traits)
            return at
        assert isinstance(trigger, EventTrigger), "schedule triggers are refused before planning"
        properties: dict[str, Any] = {}
        for name in (*trigger.properties, *self.journey.correlation_keys):
            properties[name] = value_for(name, self.rng, self.user_id)
        for condition in trigger.filters:
            if condition.source is ConditionSource.EVENT and condition.op is not Operator.NOT_EXISTS:
                put(properties, condition.field, satisfying(condition, self.rng, self.user_id))
        self.context = properties
        self._send(at, "track", event=trigger.event, properties=properties)
        return at

    # -- inside the journey ----------------------------------------------------------------------

    def _follow(self, step_id: str | None, at: timedelta) -> None:
        plan = self.journey.plan
        left = False
        for _ in range(MAX_STEPS_PER_CUSTOMER):
            if step_id is None:
                return
            step = self.journey.steps[step_id]
            match step:
                case SendStep() | UpdateProfileStep():
                    if isinstance(step, UpdateProfileStep):
                        self.traits.update(dict(step.set_traits))
                    step_id = step.next
                case BranchStep():
                    taken = all_hold(step.conditions, match=step.match, traits=self.traits, event=self.context)
                    step_id = step.if_true if taken else step.if_false
                case SplitStep():
                    step_id = self._arm(step)
                case GoalStep():
                    self.outcome = Outcome.CONVERTED
                    step_id = step.next
                case ExitStep():
                    return
                case HumanTaskStep():
                    # A person, not the customer, moves the run on from here; the customer can still reach the goal.
                    if not left and self._choose(step) is Choice.CONVERT:
                        assert plan.goal_event, "a task offers converting only when there is a goal event"
                        self._track(at + step.due * self.rng.triangular(0.1, 0.9, 0.3), plan.goal_event)
                        self.outcome = Outcome.CONVERTED
                    return
                case WaitStep() | WaitForEventStep():
                    window = self._window(step, at)
                    choice = Choice.STAY if left else self._choose(step)
                    moment = at + window * self.rng.triangular(0.1, 0.9, 0.3)
                    if choice is Choice.DROP:
                        left = True
                        self.outcome = Outcome.DROPPED
                        if self.journey.exit_event:
                            self._track(moment, self.journey.exit_event)
                            return
                    if choice is Choice.CONVERT:
                        if isinstance(step, WaitForEventStep):
                            self._track(moment, step.event)
                            if step.event == plan.goal_event:
                                self.outcome = Outcome.CONVERTED
                                return
                            if step.event in {c.event for c in plan.exit_criteria}:
                                return
                            step_id, at = step.on_event, moment
                            continue
                        branch = _branch_towards_goal(self.journey.steps, step.next)
                        if branch is not None:
                            self._identify(moment, traits_for(branch.conditions, self.rng, self.user_id))
                        else:
                            assert plan.goal_event, "a wait offers converting only when there is a goal event"
                            self._track(moment, plan.goal_event)
                            self.outcome = Outcome.CONVERTED
                            return
                    at += window
                    step_id = step.next if isinstance(step, WaitStep) else step.on_timeout

    def _choose(self, step: WaitStep | WaitForEventStep | HumanTaskStep) -> Choice:
        odds = self.options.odds[step.stage]
        draw = self.rng.random()
        choice = (
            Choice.CONVERT if draw < odds.convert else Choice.DROP if draw < odds.convert + odds.drop else Choice.STAY
        )
        if choice is Choice.CONVERT and not self._can_convert(step):
            choice = Choice.STAY
        self.decisions.append(Decision(step_id=step.id, stage=step.stage, choice=choice))
        return choice

    def _can_convert(self, step: WaitStep | WaitForEventStep | HumanTaskStep) -> bool:
        if isinstance(step, WaitForEventStep):
            return True
        if isinstance(step, HumanTaskStep):
            return bool(self.journey.plan.goal_event)
        return bool(self.journey.plan.goal_event) or _branch_towards_goal(self.journey.steps, step.next) is not None

    def _window(self, step: WaitStep | WaitForEventStep, at: timedelta) -> timedelta:
        if isinstance(step, WaitForEventStep):
            return step.timeout
        if step.duration is not None:
            return step.duration
        assert step.until_local_time is not None
        now = self.options.start + at
        timezone = str(self.traits.get("timezone") or self.journey.plan.default_timezone)
        return next_local_time(now, step.until_local_time, timezone) - now

    def _arm(self, step: SplitStep) -> str | None:
        # The engine picks the arm from the enrollment id, which a script cannot know; any arm is
        # a plausible path, in the proportions the designer set.
        bucket = self.rng.uniform(0, sum(arm.percent for arm in step.arms))
        for arm in step.arms:
            bucket -= arm.percent
            if bucket < 0:
                return arm.next
        return step.arms[-1].next


def _branch_towards_goal(steps: Mapping[str, Step], start: str | None) -> BranchStep | None:
    """The branch right after a wait whose 'yes' side reaches a goal without waiting, when the
    customer's traits decide it (so that the customer can turn it by what they tell us)."""
    step_id = start
    for _ in range(MAX_STEPS_PER_CUSTOMER):
        step = steps.get(step_id) if step_id else None
        if isinstance(step, SendStep | UpdateProfileStep):
            step_id = step.next
            continue
        if (
            isinstance(step, BranchStep)
            and step.match is Match.ALL
            and all(c.source is ConditionSource.TRAIT and c.op is not Operator.NOT_EXISTS for c in step.conditions)
            and _reaches_goal(steps, step.if_true)
            and not _reaches_goal(steps, step.if_false)
        ):
            return step
        return None
    return None


def _reaches_goal(steps: Mapping[str, Step], start: str | None) -> bool:
    step_id = start
    for _ in range(MAX_STEPS_PER_CUSTOMER):
        step = steps.get(step_id) if step_id else None
        if isinstance(step, GoalStep):
            return True
        if isinstance(step, SendStep | UpdateProfileStep):
            step_id = step.next
            continue
        return False
    return False


def _condition_fields(plan: Plan) -> set[str]:
    trigger = plan.entry.trigger
    if isinstance(trigger, TraitTrigger):
        return {c.field.split(".")[0] for c in trigger.conditions}
    return set()
