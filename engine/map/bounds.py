"""What in a document lies outside the limits of ``engine.map.limits``.

A document read from JSON or a dict is validated against the limits already; one assembled in memory is
not (the canvas edits copy documents with ``model_copy``, which does not validate), so the compiler and
the edits check it here, against the same constants, before the engine relies on them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence, Sized
from dataclasses import dataclass
from datetime import timedelta

from engine.map.document import (
    BranchNode,
    Condition,
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
)
from engine.map.durations import format_duration
from engine.map.limits import (
    MAX_BODY_LENGTH,
    MAX_CAP_MESSAGES,
    MAX_COORDINATE,
    MAX_DURATION,
    MAX_EDGES,
    MAX_ITEMS,
    MAX_KEY_LENGTH,
    MAX_LONG_TEXT_LENGTH,
    MAX_NAME_LENGTH,
    MAX_NODES,
    MAX_ORDER,
    MAX_PERSONAS,
    MAX_STAGES,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    NUL_REFUSED,
)


@dataclass(frozen=True)
class OutOfBounds:
    """One value past its limit. ``what`` names it: within its node when ``node_id`` is set ("title"),
    else in full ("the map's description"); ``detail`` finishes the sentence ("is 250 characters long...")."""

    code: str
    what: str
    detail: str
    node_id: str | None = None
    edge_id: str | None = None


def _label(what: str, number: int | None) -> str:
    return what if number is None else f"{what} #{number}"


class _Walk:
    """Collects what lies past its limit. Labels are only formatted for what is reported, and lists past
    their limit are reported once with only their first ``limit`` items looked into, so the walk stays
    cheap on every save and bounded whatever the document holds."""

    def __init__(self) -> None:
        self.found: list[OutOfBounds] = []
        self.node_id: str | None = None
        self.edge_id: str | None = None

    def report(self, code: str, what: str, detail: str) -> None:
        self.found.append(OutOfBounds(code, what, detail, self.node_id, self.edge_id))

    def text(self, what: str, value: str | None, limit: int, number: int | None = None) -> None:
        if value is None:
            return
        if len(value) > limit:
            detail = f"is {len(value):,} characters long; at most {limit:,} are accepted"
            self.report("text_too_long", _label(what, number), detail)
        elif "\x00" in value:
            self.report("unstorable_text", _label(what, number), NUL_REFUSED)

    def count(self, what: str, values: Sized, limit: int) -> None:
        if len(values) > limit:
            self.report("too_many_items", what, f"number {len(values):,}; at most {limit:,} are accepted")

    def texts(self, what: str, values: Sequence[str], limit: int) -> None:
        self.count(what, values, MAX_ITEMS)
        for number, value in enumerate(values[:MAX_ITEMS], start=1):
            self.text(what, value, limit, number)

    def duration(self, what: str, value: timedelta | None) -> None:
        if value is not None and abs(value) > MAX_DURATION:
            longest = format_duration(MAX_DURATION)
            self.report(
                "duration_too_long",
                what,
                f"is {format_duration(value)}; the longest accepted is 10 years ({longest})",
            )

    def number(self, what: str, value: float, low: float, high: float) -> None:
        if not (math.isfinite(value) and low <= value <= high):
            detail = f"is {value:g}; it must be a number from {low:,.0f} to {high:,.0f}"
            self.report("number_out_of_range", what, detail)

    def scalar(self, what: str, value: object, number: int) -> None:
        if isinstance(value, str):
            self.text(what, value, MAX_TEXT_LENGTH, number)
        elif isinstance(value, float) and not math.isfinite(value):
            self.report("number_out_of_range", _label(what, number), f"is {value}; it must be a finite number")

    def conditions(self, what: str, conditions: Sequence[Condition]) -> None:
        self.count(what, conditions, MAX_ITEMS)
        for number, condition in enumerate(conditions[:MAX_ITEMS], start=1):
            self.text("field of condition", condition.field, MAX_KEY_LENGTH, number)
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            if len(values) > MAX_ITEMS:
                self.count(f"values of condition #{number}", values, MAX_ITEMS)
            for value in values[:MAX_ITEMS]:
                self.scalar("value of condition", value, number)

    def node(self, node: Node) -> None:
        self.node_id = node.id
        self.text("title", node.title, MAX_NAME_LENGTH)
        self.text("notes", node.notes, MAX_LONG_TEXT_LENGTH)
        x, y = node.position.x, node.position.y
        if not (math.isfinite(x) and math.isfinite(y) and abs(x) <= MAX_COORDINATE and abs(y) <= MAX_COORDINATE):
            self.report(
                "position_out_of_range",
                "position",
                f"is ({x:g}, {y:g}); each coordinate must be a finite number "
                f"from {-MAX_COORDINATE:,.0f} to {MAX_COORDINATE:,.0f}",
            )
        self.count("pain points", node.pain_points, MAX_ITEMS)
        for number, pain in enumerate(node.pain_points[:MAX_ITEMS], start=1):
            self.text("pain point", pain.text, MAX_TEXT_LENGTH, number)
        self.texts("opportunities", node.opportunities, MAX_TEXT_LENGTH)
        self.own_fields(node)
        self.node_id = None

    def own_fields(self, node: Node) -> None:
        """The limits of the fields one kind of node has."""
        match node:
            case TriggerNode():
                self.trigger(node)
            case WaitNode():
                self.duration("duration", node.duration)
            case WaitForEventNode():
                self.duration("timeout", node.timeout)
                self.text("event", node.event, MAX_KEY_LENGTH)
                self.text("correlation property", node.correlate_on, MAX_KEY_LENGTH)
            case BranchNode():
                self.conditions("conditions", node.conditions)
            case SplitNode():
                self.count("arms", node.arms, MAX_ITEMS)
                for arm in node.arms[:MAX_ITEMS]:
                    self.number(f"percentage of arm {arm.name[:40]!r}", arm.percent, 0, 100)
            case SendNode():
                self.text("message subject", node.content.subject, MAX_TEXT_LENGTH)
                self.text("message body", node.content.body, MAX_BODY_LENGTH)
                self.text("message URL", node.content.url, MAX_URL_LENGTH)
                self.text("button label", node.content.button, MAX_TEXT_LENGTH)
            case UpdateProfileNode():
                self.count("trait updates", node.set_traits, MAX_ITEMS)
                for number, (trait, value) in enumerate(list(node.set_traits.items())[:MAX_ITEMS], start=1):
                    self.text("trait name", trait, MAX_KEY_LENGTH, number)
                    self.scalar("trait value", value, number)
            case ExitNode():
                self.text("exit reason", node.reason, MAX_TEXT_LENGTH)
            case HumanTaskNode():
                self.duration("due time", node.due)
                self.text("team", node.team, MAX_KEY_LENGTH)
                self.text("instructions", node.instructions, MAX_LONG_TEXT_LENGTH)
                self.texts("outcomes", node.outcomes, MAX_KEY_LENGTH)

    def trigger(self, node: TriggerNode) -> None:
        trigger = node.trigger
        if isinstance(trigger, EventTrigger):
            self.text("event", trigger.event, MAX_KEY_LENGTH)
            self.conditions("filters", trigger.filters)
            self.texts("event properties", trigger.properties, MAX_KEY_LENGTH)
        elif isinstance(trigger, TraitTrigger):
            self.conditions("conditions", trigger.conditions)
        elif isinstance(trigger, ScheduleTrigger):
            self.text("schedule", trigger.cron, MAX_KEY_LENGTH)
            self.conditions("audience", trigger.audience)

    def map_level(self, doc: JourneyMap) -> None:
        self.text("the journey's name", doc.name, MAX_NAME_LENGTH)
        self.text("the journey's description", doc.description, MAX_LONG_TEXT_LENGTH)
        self.count("the map's nodes", doc.nodes, MAX_NODES)
        self.count("the map's connections", doc.edges, MAX_EDGES)
        self.count("the map's stages", doc.stages, MAX_STAGES)
        self.count("the map's personas", doc.personas, MAX_PERSONAS)
        for stage in doc.stages[:MAX_STAGES]:
            self.text(f"the name of stage {stage.id!r}", stage.name, MAX_NAME_LENGTH)
            self.text(f"the goal of stage {stage.id!r}", stage.goal, MAX_TEXT_LENGTH)
            self.text(f"the description of stage {stage.id!r}", stage.description, MAX_LONG_TEXT_LENGTH)
            self.number(f"the order of stage {stage.id!r}", stage.order, -MAX_ORDER, MAX_ORDER)
        for persona in doc.personas[:MAX_PERSONAS]:
            self.text(f"the name of persona {persona.id!r}", persona.name, MAX_NAME_LENGTH)
            self.text(f"the description of persona {persona.id!r}", persona.description, MAX_LONG_TEXT_LENGTH)
            self.texts(f"the goals of persona {persona.id!r}", persona.goals, MAX_TEXT_LENGTH)
            self.texts(f"the frustrations of persona {persona.id!r}", persona.frustrations, MAX_TEXT_LENGTH)

    def settings(self, doc: JourneyMap) -> None:
        settings = doc.settings
        self.text("the goal event", settings.goal_event, MAX_KEY_LENGTH)
        self.text("the time zone", settings.default_timezone, MAX_KEY_LENGTH)
        self.texts("the profile traits", settings.profile_traits, MAX_KEY_LENGTH)
        self.count("the exit criteria", settings.exit_criteria, MAX_ITEMS)
        for number, criterion in enumerate(settings.exit_criteria[:MAX_ITEMS], start=1):
            self.text("the event of exit criterion", criterion.event, MAX_KEY_LENGTH, number)
            self.text("the correlation property of exit criterion", criterion.correlate_on, MAX_KEY_LENGTH, number)
        cap = settings.frequency_cap
        if cap is not None:
            self.duration("the frequency cap's window", cap.window)
            self.number("the frequency cap's message count", cap.max_messages, 1, MAX_CAP_MESSAGES)


def out_of_bounds(doc: JourneyMap) -> Iterator[OutOfBounds]:
    """Every value of ``doc`` past its limit, in document order (map, nodes, connections, settings)."""
    walk = _Walk()
    walk.map_level(doc)
    for node in doc.nodes[:MAX_NODES]:
        walk.node(node)
    for edge in doc.edges[:MAX_EDGES]:
        if edge.label is not None and (len(edge.label) > MAX_KEY_LENGTH or "\x00" in edge.label):
            walk.edge_id = edge.id
            walk.text(f"the label of connection {edge.id!r}", edge.label, MAX_KEY_LENGTH)
            walk.edge_id = None
    walk.settings(doc)
    return iter(walk.found)
