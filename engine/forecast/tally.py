"""Counting what the replay's walks recorded (transitions, runs' ends, messages and what the delivery policy did
with them) into the forecast's figures, by the definitions of the live KPI overlay (``docs/design.md``, Metrics).

The replay hands over the rows the engine's walk writes; nothing here decides anything about a customer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from engine.compiler import Plan, SendStep, SplitStep, WaitForEventStep
from engine.forecast.figures import (
    HOURS,
    ArmForecast,
    ChannelForecast,
    NodeForecast,
    Range,
    StageForecast,
)

# What held a message back, by the words the delivery policy and the walk use (engine/delivery/policy.py,
# engine/runtime/walk.py).
CAP = "frequency cap"
QUIET_HOURS = "quiet hours"
CONSENT = "consent"
NO_ADDRESS = "no address"


def held_kind(reason: str) -> str:
    """The kind of hold a suppression's reason names."""
    if reason.startswith("frequency cap"):
        return CAP
    if reason.startswith("opted out"):
        return CONSENT
    return NO_ADDRESS


@dataclass
class _Messages:
    """One node's messages."""

    sent: int = 0
    deferred: int = 0
    pending: int = 0
    suppressed: int = 0
    failed: int = 0
    skipped: int = 0
    held: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    hours: list[int] = field(default_factory=lambda: [0] * HOURS)
    # Sends by the channel they went out on: a fallback channel's, when the first was blocked.
    channels: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Messages) -> None:
        self.sent += other.sent
        self.deferred += other.deferred
        self.pending += other.pending
        self.suppressed += other.suppressed
        self.failed += other.failed
        self.skipped += other.skipped
        self.held.update(other.held)
        self.reasons.update(other.reasons)
        self.channels.update(other.channels)
        self.hours = [mine + theirs for mine, theirs in zip(self.hours, other.hours, strict=True)]


@dataclass
class Tally:
    """The counts of one replay. ``visited`` per run is kept by the replay (a customer is counted once per node)."""

    plan: Plan
    entries: Counter[str] = field(default_factory=Counter)
    customers: Counter[str] = field(default_factory=Counter)
    stage_entered: Counter[str] = field(default_factory=Counter)
    moved_on: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)
    arms: Counter[tuple[str, str]] = field(default_factory=Counter)
    arrivals: Counter[str] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)
    messages: dict[str, _Messages] = field(default_factory=dict)
    channel_hours: dict[str, list[int]] = field(default_factory=dict)
    entered: int = 0
    goal_reached: int = 0

    def __post_init__(self) -> None:
        order = self.plan.stage_order
        self._next_stage = {stage: order[i + 1] for i, stage in enumerate(order[:-1])}
        self._channel_of = {s.id: s.channel.value for s in self.plan.steps if isinstance(s, SendStep)}
        # The plan's waits for an event: step id -> the event awaited.
        self.waits = {s.id: s.event for s in self.plan.steps if isinstance(s, WaitForEventStep)}

    def transition(self, row: Mapping[str, Any], visited: set[str]) -> None:
        node = row["node_id"]
        self.entries[node] += 1
        if node not in visited:
            visited.add(node)
            self.customers[node] += 1
        if row["first_in_stage"]:
            stage = row["stage_id"]
            self.stage_entered[stage] += 1
            left = row["from_stage_id"]
            if left is not None and self._next_stage.get(left) == stage:
                self.moved_on[left] += 1
        if row["arm"] is not None:
            self.arms[(node, row["arm"])] += 1

    def add(self, other: Tally) -> None:
        """Add the counts of another part of the same replay (parts hold different customers)."""
        for counts in fields(self):
            mine = getattr(self, counts.name)
            if isinstance(mine, Counter):
                mine.update(getattr(other, counts.name))
        for node_id, messages in other.messages.items():
            self._of(node_id).add(messages)
        for channel, hours in other.channel_hours.items():
            mine_hours = self.channel_hours.setdefault(channel, [0] * HOURS)
            self.channel_hours[channel] = [mine + theirs for mine, theirs in zip(mine_hours, hours, strict=True)]
        self.entered += other.entered
        self.goal_reached += other.goal_reached

    def ended(self, update: Mapping[str, Any]) -> None:
        stage = update["stage_id"]
        if update["end_reason"] == "goal":
            self.reached[stage] += 1
        else:
            self.dropped[stage] += 1

    def _of(self, node_id: str) -> _Messages:
        found = self.messages.get(node_id)
        if found is None:
            found = self.messages[node_id] = _Messages()
        return found

    def sent(self, node_id: str, channel: str, at: datetime) -> None:
        messages = self._of(node_id)
        messages.sent += 1
        messages.hours[at.hour] += 1
        messages.channels[channel] += 1
        hours = self.channel_hours.get(channel)
        if hours is None:
            hours = self.channel_hours[channel] = [0] * HOURS
        hours[at.hour] += 1

    def deferred(self, node_id: str) -> None:
        messages = self._of(node_id)
        messages.deferred += 1
        messages.held[QUIET_HOURS] += 1

    def pending(self, node_id: str) -> None:
        self._of(node_id).pending += 1

    def suppressed(self, node_id: str, reason: str) -> None:
        messages = self._of(node_id)
        messages.suppressed += 1
        messages.held[held_kind(reason)] += 1
        messages.reasons[reason] += 1

    def failed(self, node_id: str) -> None:
        self._of(node_id).failed += 1

    def skipped(self, node_id: str) -> None:
        self._of(node_id).skipped += 1

    def stages(self, waiting_by_stage: Mapping[str, int]) -> tuple[StageForecast, ...]:
        figures = []
        for stage in self.plan.stage_order:
            entered = self.stage_entered[stage]
            last = stage not in self._next_stage
            moved_on = None if last else self.moved_on[stage]
            figures.append(
                StageForecast(
                    stage_id=stage,
                    entered=entered,
                    moved_on=moved_on,
                    conversion=None if moved_on is None or not entered else moved_on / entered,
                    dropped_off=self.dropped[stage],
                    reached_goal=self.reached[stage],
                    in_flight=waiting_by_stage.get(stage, 0),
                )
            )
        return tuple(figures)

    def nodes(
        self, node_ids: Iterable[str], waiting: Mapping[str, int], unanswered: set[str]
    ) -> tuple[NodeForecast, ...]:
        figures = []
        for node_id in node_ids:
            messages = self.messages.get(node_id, _Messages())
            event_path = None
            if node_id in unanswered:
                event_path = Range(low=0, high=self.timeouts[node_id] + waiting.get(node_id, 0))
            figures.append(
                NodeForecast(
                    node_id=node_id,
                    entries=self.entries[node_id],
                    customers=self.customers[node_id],
                    waiting=waiting.get(node_id, 0),
                    channel=self._channel_of.get(node_id),
                    sent=messages.sent,
                    sent_by_channel=dict(messages.channels),
                    deferred=messages.deferred,
                    pending=messages.pending,
                    suppressed=messages.suppressed,
                    failed=messages.failed,
                    skipped=messages.skipped,
                    held=dict(messages.held),
                    reasons=dict(messages.reasons),
                    sends_by_hour=tuple(messages.hours) if node_id in self._channel_of else (),
                    event_path=event_path,
                )
            )
        return tuple(figures)

    def arm_figures(self) -> tuple[ArmForecast, ...]:
        figures = []
        for step in self.plan.steps:
            if isinstance(step, SplitStep):
                figures += [
                    ArmForecast(node_id=step.id, arm=a.name, holdout=a.holdout, customers=self.arms[(step.id, a.name)])
                    for a in step.arms
                ]
        return tuple(figures)

    def channels(self, nodes: Iterable[NodeForecast]) -> tuple[ChannelForecast, ...]:
        """Per channel: sends by the channel they went out on; what was held, by the channel of the step."""
        held: dict[str, Counter[str]] = {}
        totals: dict[str, Counter[str]] = {}
        for node in nodes:
            for channel, sent in node.sent_by_channel.items():
                totals.setdefault(channel, Counter())["sent"] += sent
                held.setdefault(channel, Counter())
            if node.channel is None:
                continue
            counts = totals.setdefault(node.channel, Counter())
            for name in ("deferred", "pending", "suppressed", "failed", "skipped"):
                counts[name] += getattr(node, name)
            held.setdefault(node.channel, Counter()).update(node.held)
        return tuple(
            ChannelForecast(
                channel=channel,
                sent=counts["sent"],
                deferred=counts["deferred"],
                pending=counts["pending"],
                suppressed=counts["suppressed"],
                failed=counts["failed"],
                skipped=counts["skipped"],
                held=dict(held[channel]),
                sends_by_hour=tuple(self.channel_hours.get(channel, [0] * HOURS)),
            )
            for channel, counts in sorted(totals.items())
        )
