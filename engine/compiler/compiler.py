"""Journey map -> Plan. A pure function that reports every problem at once.

Each problem has a stable ``code``, a sentence a designer understands, the node or edge it is
about (so the canvas can mark it) and a severity. A Plan is produced only when no problem is an
error. Touchpoints are map-only: the plan follows a path through them to the next step it runs.

The rules live beside this module, one function per family: ``limits`` (sizes: durations, positions,
texts, lists), ``rules`` (entry, references, paths, loops, stages, settings), ``nodes`` (each node's own
settings), ``content`` (Liquid placeholders) and ``cron`` (schedules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from engine.compiler.content import STANDARD_TRAITS, content_problems
from engine.compiler.index import MapIndex
from engine.compiler.limits import limit_problems
from engine.compiler.nodes import node_problems
from engine.compiler.plan import (
    BranchStep,
    Entry,
    ExitStep,
    GoalStep,
    HumanTaskStep,
    Plan,
    PlanArm,
    SendStep,
    SplitStep,
    Step,
    StoredFrequencyCap,
    TaskOutcomePath,
    UpdateProfileStep,
    WaitForEventStep,
    WaitStep,
)
from engine.compiler.problems import Problem, ProblemSeverity
from engine.compiler.rules import (
    cycle_problems,
    edge_problems,
    entry_problems,
    reachability_problems,
    reference_problems,
    settings_problems,
    stage_problems,
)
from engine.map import (
    OVERDUE_LABEL,
    BranchNode,
    ExitNode,
    GoalNode,
    HumanTaskNode,
    JourneyMap,
    Node,
    SendNode,
    SplitNode,
    UpdateProfileNode,
    WaitForEventNode,
    WaitNode,
)

__all__ = ["STANDARD_TRAITS", "CompileResult", "Problem", "ProblemSeverity", "compile_map"]


class CompileResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan: Plan | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is ProblemSeverity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is ProblemSeverity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors


def compile_map(doc: JourneyMap) -> CompileResult:
    """Check the whole map and, when nothing is wrong, produce its Plan."""
    index = MapIndex(doc)
    problems = tuple(_problems(index))
    if any(p.severity is ProblemSeverity.ERROR for p in problems):
        return CompileResult(plan=None, problems=problems)
    return CompileResult(plan=_build_plan(index), problems=problems)


def _problems(index: MapIndex) -> Iterator[Problem]:
    yield from limit_problems(index)
    yield from entry_problems(index)
    yield from reference_problems(index)
    yield from node_problems(index.doc.nodes)
    yield from edge_problems(index)
    yield from reachability_problems(index)
    yield from cycle_problems(index)
    yield from content_problems(index)
    yield from stage_problems(index)
    yield from settings_problems(index)


class _Successor(Protocol):
    def __call__(self, node: Node, label: str | None = None) -> str | None: ...


def _touchpoint_resolver(index: MapIndex) -> Callable[[str | None], str | None]:
    """Maps a path's target to the step the engine runs there, following chains of touchpoints.

    Results are remembered per touchpoint, so many paths into one long chain walk it once.
    """
    memo: dict[str, str | None] = {}

    def resolve(target: str | None) -> str | None:
        chain: dict[str, None] = {}  # an ordered set: the touchpoints walked, in order
        while target is not None and index.is_touchpoint(target) and target not in memo:
            if target in chain:
                # Unreachable once the map has no errors (such a loop is reported); ending the path
                # keeps a broken invariant from hanging the compiler.
                target = None
                break
            chain[target] = None
            target = index.target(target, None)
        if target is not None and target in memo:
            target = memo[target]
        for touchpoint in chain:
            memo[touchpoint] = target
        return target

    return resolve


def _build_plan(index: MapIndex) -> Plan:
    doc = index.doc
    resolve = _touchpoint_resolver(index)

    def successor(node: Node, label: str | None = None) -> str | None:
        return resolve(index.target(node.id, label))

    trigger = index.triggers[0]
    positions = {stage.id: i for i, stage in enumerate(doc.stages)}
    settings = doc.settings
    cap = settings.frequency_cap
    return Plan(
        journey_name=doc.name,
        entry=Entry(node_id=trigger.id, stage=trigger.stage, trigger=trigger.trigger, first_step=successor(trigger)),
        steps=tuple(step for node in doc.nodes if (step := _step(node, successor)) is not None),
        stage_order=tuple(s.id for s in sorted(doc.stages, key=lambda s: (s.order, positions[s.id]))),
        goal_event=settings.goal_event,
        exit_criteria=tuple(settings.exit_criteria),
        reentry=settings.reentry,
        frequency_cap=None if cap is None else StoredFrequencyCap(max_messages=cap.max_messages, window=cap.window),
        quiet_hours=settings.quiet_hours,
        default_timezone=settings.default_timezone,
        pause_policy=settings.pause_policy,
    )


def _step(node: Node, successor: _Successor) -> Step | None:
    """The step a node compiles to; None for the trigger (it becomes the entry) and touchpoints."""
    match node:
        case WaitNode():
            return WaitStep(
                id=node.id,
                stage=node.stage,
                duration=node.duration,
                until_local_time=node.until_local_time,
                next=successor(node),
            )
        case WaitForEventNode():
            return WaitForEventStep(
                id=node.id,
                stage=node.stage,
                event=node.event,
                correlate_on=node.correlate_on,
                timeout=node.timeout,
                on_event=successor(node, "event"),
                on_timeout=successor(node, "timeout"),
            )
        case BranchNode():
            return BranchStep(
                id=node.id,
                stage=node.stage,
                conditions=tuple(node.conditions),
                match=node.match,
                if_true=successor(node, "yes"),
                if_false=successor(node, "no"),
            )
        case SplitNode():
            arms = tuple(
                PlanArm(name=arm.name, percent=arm.percent, holdout=arm.holdout, next=successor(node, arm.name))
                for arm in node.arms
            )
            return SplitStep(id=node.id, stage=node.stage, arms=arms)
        case SendNode():
            # compile_map builds a plan only when no send lacks a channel ("send_without_channel").
            assert node.channel is not None
            return SendStep(
                id=node.id,
                stage=node.stage,
                channel=node.channel,
                content=node.content,
                fallback_channel=node.fallback_channel,
                next=successor(node),
            )
        case UpdateProfileNode():
            return UpdateProfileStep(
                id=node.id, stage=node.stage, set_traits=tuple(node.set_traits.items()), next=successor(node)
            )
        case GoalNode():
            return GoalStep(id=node.id, stage=node.stage, next=successor(node))
        case ExitNode():
            return ExitStep(id=node.id, stage=node.stage, reason=node.reason)
        case HumanTaskNode():
            return HumanTaskStep(
                id=node.id,
                stage=node.stage,
                title=node.title,
                team=node.team,
                channel=node.channel,
                instructions=node.instructions,
                due=node.due,
                outcomes=tuple(TaskOutcomePath(name=name, next=successor(node, name)) for name in node.outcomes),
                on_overdue=successor(node, OVERDUE_LABEL),
            )
    return None
