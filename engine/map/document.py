"""The journey-map document: what CX designers draw and what the compiler reads.

One JSON document holds both the picture (stages as lanes, touchpoints as cards with positions,
emotions, pain points) and the program (triggers, waits, branches, sends). Models are frozen: an
edit produces a new document, which keeps undo, versioning and the compiler honest.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.map.durations import Duration

FORMAT_VERSION: Final = "1.0"

Emotion = Annotated[int, Field(ge=-2, le=2, description="The customer's feeling, -2 (angry) to +2 (delighted).")]
Identifier = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.:-]+$")]
Scalar = str | int | float | bool | None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"
    WEB = "web"
    CHAT = "chat"
    VOICE = "voice"
    WEBHOOK = "webhook"


# The channels the engine can deliver on; the others exist on the map as touchpoints only.
SENDABLE_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.PUSH, Channel.IN_APP, Channel.WEBHOOK})


class NodeKind(StrEnum):
    TRIGGER = "trigger"
    WAIT = "wait"
    WAIT_FOR_EVENT = "wait_for_event"
    BRANCH = "branch"
    SPLIT = "split"
    SEND = "send"
    UPDATE_PROFILE = "update_profile"
    GOAL = "goal"
    EXIT = "exit"
    TOUCHPOINT = "touchpoint"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    CONTAINS = "contains"
    IN = "in"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


class ConditionSource(StrEnum):
    TRAIT = "trait"
    EVENT = "event"


class ReentryPolicy(StrEnum):
    NEVER = "never"
    AFTER_EXIT = "after_exit"
    ALWAYS = "always"


class PausePolicy(StrEnum):
    """What happens, on resume, to steps that fell due while the journey was paused."""

    SEND_LATE = "send_late"
    SKIP_OVERDUE_SENDS = "skip_overdue_sends"
    ADVANCE_TO_NEXT_WAIT = "advance_to_next_wait"


class Match(StrEnum):
    ALL = "all"
    ANY = "any"


class Position(_Frozen):
    x: float = 0.0
    y: float = 0.0


class PainPoint(_Frozen):
    text: str = Field(min_length=1)
    severity: Severity = Severity.MEDIUM
    persona: Identifier | None = Field(None, description="The persona it was drawn for; none: every persona's.")


class Persona(_Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    description: str = ""
    goals: list[str] = Field(default_factory=list)
    frustrations: list[str] = Field(default_factory=list)


class Stage(_Frozen):
    id: Identifier
    name: str = Field(min_length=1)
    goal: str = Field("", description="What the customer wants to achieve in this stage.")
    description: str = ""
    order: int = 0


class Condition(_Frozen):
    """One test on a profile trait or on a property of the current event."""

    source: ConditionSource = ConditionSource.TRAIT
    field: str = Field(min_length=1)
    op: Operator = Operator.EQ
    value: Scalar | list[Scalar] = None


class EventTrigger(_Frozen):
    type: Literal["event"] = "event"
    event: str = Field(min_length=1)
    filters: list[Condition] = Field(default_factory=list)
    properties: list[str] = Field(default_factory=list, description="Event properties the journey's content may use.")


class TraitTrigger(_Frozen):
    type: Literal["trait"] = "trait"
    conditions: list[Condition] = Field(min_length=1)
    match: Match = Match.ALL


class ScheduleTrigger(_Frozen):
    type: Literal["schedule"] = "schedule"
    cron: str = Field(min_length=1, description="Five-field cron expression, in the journey's time zone.")
    audience: list[Condition] = Field(default_factory=list)


TriggerSpec = Annotated[EventTrigger | TraitTrigger | ScheduleTrigger, Field(discriminator="type")]


class MessageContent(_Frozen):
    """Message text with Liquid placeholders such as ``{{ profile.first_name }}``."""

    subject: str = ""
    body: str = ""
    url: str = Field("", description="Webhook target, or the link a push or in-app message opens.")


class SplitArm(_Frozen):
    name: Identifier
    percent: float = Field(ge=0, le=100)
    holdout: bool = Field(False, description="Counted for measurement but never messaged.")


class _NodeBase(_Frozen):
    id: Identifier
    stage: Identifier
    title: str = ""
    position: Position = Field(default_factory=Position)
    channel: Channel | None = None
    emotion: Emotion = 0
    persona_emotions: dict[Identifier, Emotion] = Field(
        default_factory=dict,
        description="Emotions drawn for one persona, by persona id; a persona without one here feels `emotion`.",
    )
    pain_points: list[PainPoint] = Field(default_factory=list)
    opportunities: list[str] = Field(default_factory=list)
    notes: str = ""


class TriggerNode(_NodeBase):
    kind: Literal[NodeKind.TRIGGER] = NodeKind.TRIGGER
    trigger: TriggerSpec


class WaitNode(_NodeBase):
    kind: Literal[NodeKind.WAIT] = NodeKind.WAIT
    duration: Duration | None = None
    until_local_time: time | None = Field(None, description="Wait until this time of day in the customer's time zone.")


class WaitForEventNode(_NodeBase):
    kind: Literal[NodeKind.WAIT_FOR_EVENT] = NodeKind.WAIT_FOR_EVENT
    event: str = Field(min_length=1)
    correlate_on: str | None = Field(
        None, description="Event property that must equal the entry event's (e.g. cart_id)."
    )
    timeout: Duration


class BranchNode(_NodeBase):
    kind: Literal[NodeKind.BRANCH] = NodeKind.BRANCH
    conditions: list[Condition] = Field(default_factory=list)
    match: Match = Match.ALL


class SplitNode(_NodeBase):
    kind: Literal[NodeKind.SPLIT] = NodeKind.SPLIT
    arms: list[SplitArm] = Field(default_factory=list)


class SendNode(_NodeBase):
    kind: Literal[NodeKind.SEND] = NodeKind.SEND
    content: MessageContent = Field(default_factory=MessageContent)
    fallback_channel: Channel | None = None


class UpdateProfileNode(_NodeBase):
    kind: Literal[NodeKind.UPDATE_PROFILE] = NodeKind.UPDATE_PROFILE
    set_traits: dict[str, Scalar] = Field(default_factory=dict)


class GoalNode(_NodeBase):
    kind: Literal[NodeKind.GOAL] = NodeKind.GOAL


class ExitNode(_NodeBase):
    kind: Literal[NodeKind.EXIT] = NodeKind.EXIT
    reason: str = ""


class TouchpointNode(_NodeBase):
    """A moment on the map the engine does not run: a store visit, a call with an agent."""

    kind: Literal[NodeKind.TOUCHPOINT] = NodeKind.TOUCHPOINT


Node = Annotated[
    TriggerNode
    | WaitNode
    | WaitForEventNode
    | BranchNode
    | SplitNode
    | SendNode
    | UpdateProfileNode
    | GoalNode
    | ExitNode
    | TouchpointNode,
    Field(discriminator="kind"),
]


class Edge(_Frozen):
    id: Identifier
    source: Identifier
    target: Identifier
    label: str | None = Field(
        None,
        description=(
            "'yes' / 'no' after a branch, 'event' / 'timeout' after a wait for an event, an arm name after a split."
        ),
    )


class FrequencyCap(_Frozen):
    max_messages: int = Field(ge=1)
    window: Duration


class QuietHours(_Frozen):
    """Local hours in which nothing is sent; messages due then are deferred to ``end``."""

    start: time
    end: time


class ExitCriterion(_Frozen):
    event: str = Field(min_length=1)
    correlate_on: str | None = None


class Settings(_Frozen):
    goal_event: str | None = None
    exit_criteria: list[ExitCriterion] = Field(default_factory=list)
    reentry: ReentryPolicy = ReentryPolicy.AFTER_EXIT
    frequency_cap: FrequencyCap | None = None
    quiet_hours: QuietHours | None = None
    default_timezone: str = "UTC"
    pause_policy: PausePolicy = PausePolicy.SKIP_OVERDUE_SENDS
    profile_traits: list[str] = Field(
        default_factory=list, description="Custom profile traits the journey's content and conditions may use."
    )


class JourneyMap(_Frozen):
    format: Literal["1.0"] = FORMAT_VERSION
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    personas: list[Persona] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)

    @model_validator(mode="after")
    def _ids_are_unique(self) -> JourneyMap:
        # Duplicate ids make every reference ambiguous, so they are refused at load time rather than
        # reported by the compiler: the document itself would be meaningless.
        for label, items in (
            ("stage", self.stages),
            ("node", self.nodes),
            ("edge", self.edges),
            ("persona", self.personas),
        ):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"two {label}s share the id {item.id!r}; ids must be unique")
                seen.add(item.id)
        return self

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> JourneyMap:
        return cls.model_validate_json(text)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JourneyMap:
        return cls.model_validate(data)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the document, as shipped in ``engine/map/schema/journey-map.schema.json``."""
    schema = JourneyMap.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:journey-builder:journey-map:{FORMAT_VERSION}"
    return schema
