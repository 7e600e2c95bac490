"""The executable rules the compiler produces from a journey map and the runtime follows.

A Plan is immutable and JSON-serialisable: a published version stores it beside its frozen map,
and every customer runs on the plan of the version they entered with. Steps keep the id of the
map node they came from, so what the runtime records can be laid back over the map.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.map import (
    Channel,
    Condition,
    ExitCriterion,
    FrequencyCap,
    Match,
    MessageContent,
    PausePolicy,
    QuietHours,
    ReentryPolicy,
    Scalar,
    StoredDuration,
    TriggerSpec,
)

PLAN_FORMAT: Final = "1"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepKind(StrEnum):
    WAIT = "wait"
    WAIT_FOR_EVENT = "wait_for_event"
    BRANCH = "branch"
    SPLIT = "split"
    SEND = "send"
    UPDATE_PROFILE = "update_profile"
    GOAL = "goal"
    EXIT = "exit"
    HUMAN_TASK = "human_task"


class _StepBase(_Frozen):
    id: str = Field(description="The id of the map node this step was compiled from.")
    stage: str


class WaitStep(_StepBase):
    kind: Literal[StepKind.WAIT] = StepKind.WAIT
    duration: StoredDuration | None = None
    until_local_time: time | None = None
    next: str | None = None


class WaitForEventStep(_StepBase):
    kind: Literal[StepKind.WAIT_FOR_EVENT] = StepKind.WAIT_FOR_EVENT
    event: str
    correlate_on: str | None = None
    timeout: StoredDuration
    on_event: str | None = None
    on_timeout: str | None = None


class BranchStep(_StepBase):
    kind: Literal[StepKind.BRANCH] = StepKind.BRANCH
    conditions: tuple[Condition, ...]
    match: Match = Match.ALL
    if_true: str | None = None
    if_false: str | None = None


class PlanArm(_Frozen):
    name: str
    percent: float
    holdout: bool = False
    next: str | None = None


class SplitStep(_StepBase):
    kind: Literal[StepKind.SPLIT] = StepKind.SPLIT
    arms: tuple[PlanArm, ...]


class SendStep(_StepBase):
    kind: Literal[StepKind.SEND] = StepKind.SEND
    channel: Channel
    content: MessageContent
    fallback_channel: Channel | None = None
    next: str | None = None


class UpdateProfileStep(_StepBase):
    kind: Literal[StepKind.UPDATE_PROFILE] = StepKind.UPDATE_PROFILE
    set_traits: tuple[tuple[str, Scalar], ...]
    next: str | None = None


class GoalStep(_StepBase):
    kind: Literal[StepKind.GOAL] = StepKind.GOAL
    next: str | None = None


class ExitStep(_StepBase):
    kind: Literal[StepKind.EXIT] = StepKind.EXIT
    reason: str = ""


class TaskOutcomePath(_Frozen):
    name: str
    next: str | None = None


class HumanTaskStep(_StepBase):
    """A person's task: the run waits for an outcome to be recorded, or takes ``on_overdue`` once ``due`` passed."""

    kind: Literal[StepKind.HUMAN_TASK] = StepKind.HUMAN_TASK
    title: str
    team: str = ""
    channel: Channel | None = None
    instructions: str = ""
    due: StoredDuration
    outcomes: tuple[TaskOutcomePath, ...]
    on_overdue: str | None = None

    def outcome_next(self, outcome: str) -> str | None:
        """The step the outcome's path leads to; a KeyError names an outcome the task does not have."""
        for path in self.outcomes:
            if path.name == outcome:
                return path.next
        raise KeyError(f"task {self.id!r} has no outcome {outcome!r}")


Step = Annotated[
    WaitStep
    | WaitForEventStep
    | BranchStep
    | SplitStep
    | SendStep
    | UpdateProfileStep
    | GoalStep
    | ExitStep
    | HumanTaskStep,
    Field(discriminator="kind"),
]


class Entry(_Frozen):
    """How customers get in: the trigger node's rule and the step they start on."""

    node_id: str
    stage: str
    trigger: TriggerSpec
    first_step: str | None = Field(description="None when the trigger leads nowhere: entry is also the end.")


class StoredFrequencyCap(FrequencyCap):
    """A frequency cap as a plan stores it: its window read like the steps' durations (``StoredDuration``)."""

    window: StoredDuration


class Plan(_Frozen):
    format: Literal["1"] = PLAN_FORMAT
    journey_name: str
    entry: Entry
    steps: tuple[Step, ...]
    stage_order: tuple[str, ...] = Field(description="Stage ids in the order customers move through them.")
    goal_event: str | None = None
    exit_criteria: tuple[ExitCriterion, ...] = ()
    reentry: ReentryPolicy = ReentryPolicy.AFTER_EXIT
    frequency_cap: StoredFrequencyCap | None = None
    quiet_hours: QuietHours | None = None
    default_timezone: str = "UTC"
    pause_policy: PausePolicy = PausePolicy.SKIP_OVERDUE_SENDS

    def step(self, step_id: str) -> Step:
        """The step with this id; a KeyError names it when the plan has none."""
        for candidate in self.steps:
            if candidate.id == step_id:
                return candidate
        raise KeyError(f"plan {self.journey_name!r} has no step {step_id!r}")

    def step_index(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        return cls.model_validate_json(text)
