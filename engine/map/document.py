"""The journey-map document: what CX designers draw and what the compiler reads.

One JSON document holds both the picture (stages as lanes, touchpoints as cards with positions,
emotions, pain points) and the program (triggers, waits, branches, sends). Models are frozen: an
edit produces a new document, which keeps undo, versioning and the compiler honest. Every duration,
number, text and list is bounded (``engine.map.limits``), so a document that validates is one the engine
can run, draw and store.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine.map.durations import Duration
from engine.map.limits import (
    MAX_BODY_LENGTH,
    MAX_CAP_MESSAGES,
    MAX_EDGES,
    MAX_ITEMS,
    MAX_NODES,
    MAX_ORDER,
    MAX_PERSONAS,
    MAX_STAGES,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    NUL_REFUSED,
    Coordinate,
    FiniteFloat,
    Key,
    LongText,
    Name,
    Text,
    document_text_problem,
)

FORMAT_VERSION: Final = "1.0"
OVERDUE_LABEL: Final = "overdue"
"""The label of a human task's path taken when nobody records an outcome before the task is due."""

Emotion = Annotated[int, Field(ge=-2, le=2, description="The customer's feeling, -2 (angry) to +2 (delighted).")]
Identifier = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.:-]+$")]
Scalar = Text | int | FiniteFloat | bool | None


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
    HUMAN_TASK = "human_task"


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
    x: Coordinate = 0.0
    y: Coordinate = 0.0


class PainPoint(_Frozen):
    text: Text = Field(min_length=1)
    severity: Severity = Severity.MEDIUM
    persona: Identifier | None = Field(None, description="The persona it was drawn for; none: every persona's.")


class Persona(_Frozen):
    id: Identifier
    name: Name = Field(min_length=1)
    description: LongText = ""
    goals: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS)
    frustrations: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS)


class Stage(_Frozen):
    id: Identifier
    name: Name = Field(min_length=1)
    goal: Text = Field("", description="What the customer wants to achieve in this stage.")
    description: LongText = ""
    order: int = Field(0, ge=-MAX_ORDER, le=MAX_ORDER)


class Condition(_Frozen):
    """One test on a profile trait or on a property of the current event."""

    source: ConditionSource = ConditionSource.TRAIT
    field: Key = Field(min_length=1)
    op: Operator = Operator.EQ
    value: Scalar | Annotated[list[Scalar], Field(max_length=MAX_ITEMS)] = None


class EventTrigger(_Frozen):
    type: Literal["event"] = "event"
    event: Key = Field(min_length=1)
    filters: list[Condition] = Field(default_factory=list, max_length=MAX_ITEMS)
    properties: list[Key] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Event properties the journey's content may use."
    )


class TraitTrigger(_Frozen):
    type: Literal["trait"] = "trait"
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_ITEMS)
    match: Match = Match.ALL


class ScheduleTrigger(_Frozen):
    type: Literal["schedule"] = "schedule"
    cron: Key = Field(min_length=1, description="Five-field cron expression, in the journey's time zone.")
    audience: list[Condition] = Field(default_factory=list, max_length=MAX_ITEMS)


TriggerSpec = Annotated[EventTrigger | TraitTrigger | ScheduleTrigger, Field(discriminator="type")]


class MessageContent(_Frozen):
    """Message text with Liquid placeholders such as ``{{ profile.first_name }}``.

    Unbounded itself: the engine renders each customer's message into one, whatever the customer's data
    holds. A send node bounds the templates it carries (``bounded_content``).
    """

    subject: str = ""
    body: str = ""
    url: str = Field("", description="Webhook target, or the link a push or in-app message opens.")
    button: str = Field(
        "", description="The label of an in-app message's button, which opens the URL ('Open' when left empty)."
    )


def bounded_content(content: MessageContent) -> MessageContent:
    """``content`` unless a part is longer than its limit or holds a NUL character."""
    for part, text, limit in (
        ("subject", content.subject, MAX_TEXT_LENGTH),
        ("body", content.body, MAX_BODY_LENGTH),
        ("url", content.url, MAX_URL_LENGTH),
        ("button", content.button, MAX_TEXT_LENGTH),
    ):
        if len(text) > limit:
            raise PydanticCustomError(
                "string_too_long",
                "the message {part} should have at most {limit} characters, not {length}",
                {"part": part, "limit": limit, "length": len(text)},
            )
        if "\x00" in text:
            raise PydanticCustomError("text_with_nul", "the message {part} " + NUL_REFUSED, {"part": part})
    return content


class SplitArm(_Frozen):
    name: Identifier
    percent: float = Field(ge=0, le=100, allow_inf_nan=False)
    holdout: bool = Field(False, description="Counted for measurement but never messaged.")


class _NodeBase(_Frozen):
    id: Identifier
    stage: Identifier
    title: Name = ""
    position: Position = Field(default_factory=Position)
    channel: Channel | None = None
    emotion: Emotion = 0
    persona_emotions: dict[Identifier, Emotion] = Field(
        default_factory=dict,
        max_length=MAX_PERSONAS,
        description="Emotions drawn for one persona, by persona id; a persona without one here feels `emotion`.",
    )
    pain_points: list[PainPoint] = Field(default_factory=list, max_length=MAX_ITEMS)
    opportunities: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS)
    notes: LongText = ""


class TriggerNode(_NodeBase):
    kind: Literal[NodeKind.TRIGGER] = NodeKind.TRIGGER
    trigger: TriggerSpec


class WaitNode(_NodeBase):
    kind: Literal[NodeKind.WAIT] = NodeKind.WAIT
    duration: Duration | None = None
    until_local_time: time | None = Field(None, description="Wait until this time of day in the customer's time zone.")


class WaitForEventNode(_NodeBase):
    kind: Literal[NodeKind.WAIT_FOR_EVENT] = NodeKind.WAIT_FOR_EVENT
    event: Key = Field(min_length=1)
    correlate_on: Key | None = Field(
        None, description="Event property that must equal the entry event's (e.g. cart_id)."
    )
    timeout: Duration


class BranchNode(_NodeBase):
    kind: Literal[NodeKind.BRANCH] = NodeKind.BRANCH
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_ITEMS)
    match: Match = Match.ALL


class SplitNode(_NodeBase):
    kind: Literal[NodeKind.SPLIT] = NodeKind.SPLIT
    arms: list[SplitArm] = Field(default_factory=list, max_length=MAX_ITEMS)


class SendNode(_NodeBase):
    kind: Literal[NodeKind.SEND] = NodeKind.SEND
    content: Annotated[MessageContent, AfterValidator(bounded_content)] = Field(
        default_factory=MessageContent,
        description=(
            f"At most {MAX_TEXT_LENGTH:,} characters of subject, {MAX_BODY_LENGTH:,} of body and "
            f"{MAX_URL_LENGTH:,} of URL."
        ),
    )
    fallback_channel: Channel | None = None


class UpdateProfileNode(_NodeBase):
    kind: Literal[NodeKind.UPDATE_PROFILE] = NodeKind.UPDATE_PROFILE
    set_traits: dict[Key, Scalar] = Field(default_factory=dict, max_length=MAX_ITEMS)


class GoalNode(_NodeBase):
    kind: Literal[NodeKind.GOAL] = NodeKind.GOAL


class ExitNode(_NodeBase):
    kind: Literal[NodeKind.EXIT] = NodeKind.EXIT
    reason: Text = ""


class TouchpointNode(_NodeBase):
    """A moment on the map the engine does not run: a store visit, a call with an agent."""

    kind: Literal[NodeKind.TOUCHPOINT] = NodeKind.TOUCHPOINT


class HumanTaskNode(_NodeBase):
    """A step a person takes (a call, a chat): the run waits until they record an outcome, or the task is due.

    Each outcome is an outgoing path labelled with its name; the path labelled ``overdue`` is taken when
    the task is not done in time.
    """

    kind: Literal[NodeKind.HUMAN_TASK] = NodeKind.HUMAN_TASK
    team: Key = Field("", description="The team or role that takes the task, such as 'csm' or 'support'.")
    instructions: LongText = Field("", description="What the person should do; Liquid, like message content.")
    due: Duration = Field(description="How long the person has before the task is overdue.")
    outcomes: list[Key] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="What the person can record; each is a path's label."
    )


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
    | TouchpointNode
    | HumanTaskNode,
    Field(discriminator="kind"),
]


class Edge(_Frozen):
    id: Identifier
    source: Identifier
    target: Identifier
    label: Key | None = Field(
        None,
        description=(
            "'yes' / 'no' after a branch, 'event' / 'timeout' after a wait for an event, an arm name after a split, "
            "an outcome or 'overdue' after a human task."
        ),
    )


class FrequencyCap(_Frozen):
    max_messages: int = Field(ge=1, le=MAX_CAP_MESSAGES)
    window: Duration


class QuietHours(_Frozen):
    """Local hours in which nothing is sent; messages due then are deferred to ``end``."""

    start: time
    end: time


class ExitCriterion(_Frozen):
    event: Key = Field(min_length=1)
    correlate_on: Key | None = None


class Settings(_Frozen):
    goal_event: Key | None = None
    exit_criteria: list[ExitCriterion] = Field(default_factory=list, max_length=MAX_ITEMS)
    reentry: ReentryPolicy = ReentryPolicy.AFTER_EXIT
    frequency_cap: FrequencyCap | None = None
    quiet_hours: QuietHours | None = None
    default_timezone: Key = "UTC"
    pause_policy: PausePolicy = PausePolicy.SKIP_OVERDUE_SENDS
    profile_traits: list[Key] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Custom profile traits the journey's content and conditions may use.",
    )


class JourneyMap(_Frozen):
    format: Literal["1.0"] = FORMAT_VERSION
    name: Name = Field(min_length=1)
    description: LongText = ""
    personas: list[Persona] = Field(default_factory=list, max_length=MAX_PERSONAS)
    stages: list[Stage] = Field(default_factory=list, max_length=MAX_STAGES)
    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
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
        """The document in ``text``; a ``ValidationError`` says what is wrong, a too large or too deeply
        nested text included (see ``engine.map.limits.document_text_problem``), which is refused unparsed."""
        problem = document_text_problem(text)
        if problem is not None:
            refusal = PydanticCustomError("document_out_of_bounds", "the document {problem}", {"problem": problem})
            details = InitErrorDetails(type=refusal, loc=(), input=None)
            raise ValidationError.from_exception_data(cls.__name__, [details], input_type="json")
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
