"""The inspector's form for one node: flat, typed fields the browser edits, built from the document."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from engine.map import (
    BranchNode,
    EventTrigger,
    ExitNode,
    HumanTaskNode,
    JourneyMap,
    Node,
    ScheduleTrigger,
    SendNode,
    SplitNode,
    TraitTrigger,
    TriggerNode,
    UpdateProfileNode,
    WaitForEventNode,
    WaitNode,
    emotion_for,
    pain_points_for,
)

from .view import KIND_LABELS

DURATION_UNITS: dict[str, int] = {"minutes": 60, "hours": 3600, "days": 86400}


@dataclasses.dataclass(frozen=True)
class ConditionRow:
    source: str
    field: str
    op: str
    value: str


@dataclasses.dataclass(frozen=True)
class ArmRow:
    name: str
    percent: float
    holdout: bool


@dataclasses.dataclass(frozen=True)
class PainRow:
    text: str
    severity: str
    # Its place in the card's whole list (other personas' pain points included): what edits name it by.
    index: int = 0
    # Drawn for every persona rather than the one shown.
    shared: bool = False


@dataclasses.dataclass(frozen=True)
class NodeForm:
    id: str = ""
    kind: str = ""
    kind_label: str = ""
    title: str = ""
    notes: str = ""
    channel: str = ""
    emotion: int = 0
    pain_points: list[PainRow] = dataclasses.field(default_factory=list)
    opportunities: list[str] = dataclasses.field(default_factory=list)
    duration_amount: str = ""
    duration_unit: str = "hours"
    until_local_time: str = ""
    event: str = ""
    correlate_on: str = ""
    timeout_amount: str = ""
    timeout_unit: str = "hours"
    trigger_type: str = ""
    trigger_detail: str = ""
    conditions: list[ConditionRow] = dataclasses.field(default_factory=list)
    match: str = "all"
    arms: list[ArmRow] = dataclasses.field(default_factory=list)
    subject: str = ""
    body: str = ""
    url: str = ""
    button: str = ""
    fallback_channel: str = ""
    traits: str = ""
    reason: str = ""
    team: str = ""
    instructions: str = ""
    due_amount: str = ""
    due_unit: str = "hours"
    outcomes: str = ""


def split_duration(delta: timedelta | None) -> tuple[str, str]:
    """A duration as (amount, unit) in the largest unit that divides it evenly."""
    if delta is None:
        return "", "hours"
    seconds = delta.total_seconds()
    for unit in ("days", "hours", "minutes"):
        if seconds % DURATION_UNITS[unit] == 0:
            return f"{seconds / DURATION_UNITS[unit]:g}", unit
    return f"{seconds / 60:g}", "minutes"


def _conditions(node: Node) -> list[ConditionRow]:
    match node:
        case BranchNode(conditions=conditions) | TriggerNode(trigger=TraitTrigger(conditions=conditions)):
            pass
        case TriggerNode(trigger=EventTrigger(filters=conditions)):
            pass
        case _:
            return []
    return [
        ConditionRow(
            c.source.value,
            c.field,
            c.op.value,
            ", ".join(map(str, c.value)) if isinstance(c.value, list) else ("" if c.value is None else str(c.value)),
        )
        for c in conditions
    ]


def node_form(node: Node, doc: JourneyMap, persona: str | None = None) -> NodeForm:
    """The inspector's form for ``node``, its emotion and pain points as ``persona`` has them."""
    fields: dict[str, object] = {
        "id": node.id,
        "kind": node.kind.value,
        "kind_label": KIND_LABELS[node.kind],
        "title": node.title,
        "notes": node.notes,
        "channel": node.channel.value if node.channel else "",
        "emotion": emotion_for(node, persona),
        "pain_points": [
            PainRow(p.text, p.severity.value, index, persona is not None and p.persona is None)
            for index, p in pain_points_for(doc, node, persona)
        ],
        "opportunities": list(node.opportunities),
        "conditions": _conditions(node),
    }
    match node:
        case TriggerNode(trigger=trigger):
            fields["trigger_type"] = trigger.type
            if isinstance(trigger, EventTrigger):
                fields["event"] = trigger.event
                fields["trigger_detail"] = ", ".join(trigger.properties)
            elif isinstance(trigger, ScheduleTrigger):
                fields["trigger_detail"] = trigger.cron
            else:
                fields["match"] = trigger.match.value
        case WaitNode(duration=duration, until_local_time=until):
            fields["duration_amount"], fields["duration_unit"] = split_duration(duration)
            fields["until_local_time"] = f"{until:%H:%M}" if until else ""
        case WaitForEventNode(event=event, correlate_on=correlate_on, timeout=timeout):
            fields["event"] = event
            fields["correlate_on"] = correlate_on or ""
            fields["timeout_amount"], fields["timeout_unit"] = split_duration(timeout)
        case BranchNode(match=match):
            fields["match"] = match.value
        case SplitNode(arms=arms):
            fields["arms"] = [ArmRow(arm.name, arm.percent, arm.holdout) for arm in arms]
        case SendNode(content=content, fallback_channel=fallback):
            fields |= {"subject": content.subject, "body": content.body, "url": content.url, "button": content.button}
            fields["fallback_channel"] = fallback.value if fallback else ""
        case UpdateProfileNode(set_traits=traits):
            fields["traits"] = "\n".join(f"{key} = {value}" for key, value in traits.items())
        case ExitNode(reason=reason):
            fields["reason"] = reason
        case HumanTaskNode(team=team, instructions=instructions, due=due, outcomes=outcomes):
            fields |= {"team": team, "instructions": instructions, "outcomes": "\n".join(outcomes)}
            fields["due_amount"], fields["due_unit"] = split_duration(due)
    return NodeForm(**fields)  # type: ignore[arg-type]
