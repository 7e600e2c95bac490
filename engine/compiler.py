"""Journey map -> Plan. A pure function that reports every problem at once.

Each problem has a stable ``code``, a sentence a designer understands, the node or edge it is
about (so the canvas can mark it) and a severity. A Plan is produced only when no problem is an
error. Touchpoints are map-only: the compiler splices them out of the paths it follows.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from engine.compiler_content import placeholder_problems
from engine.compiler_cron import cron_problem
from engine.mapdoc import (
    SENDABLE_CHANNELS,
    BranchNode,
    Channel,
    Condition,
    ConditionSource,
    Edge,
    EventTrigger,
    ExitNode,
    GoalNode,
    JourneyMap,
    Node,
    NodeKind,
    Operator,
    ScheduleTrigger,
    SendNode,
    SplitNode,
    TouchpointNode,
    TraitTrigger,
    TriggerNode,
    UpdateProfileNode,
    WaitForEventNode,
    WaitNode,
)
from engine.plan import (
    BranchStep,
    Entry,
    ExitStep,
    GoalStep,
    Plan,
    PlanArm,
    SendStep,
    SplitStep,
    Step,
    UpdateProfileStep,
    WaitForEventStep,
    WaitStep,
)

STANDARD_TRAITS = frozenset({"email", "phone", "first_name", "last_name", "user_id", "timezone", "locale"})

_WAITING_KINDS = frozenset({NodeKind.WAIT, NodeKind.WAIT_FOR_EVENT})
_VALUELESS_OPS = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})
_SINGLE_PATH_KINDS = frozenset(
    {NodeKind.TRIGGER, NodeKind.WAIT, NodeKind.SEND, NodeKind.UPDATE_PROFILE, NodeKind.GOAL, NodeKind.TOUCHPOINT}
)


class ProblemSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    severity: ProblemSeverity = ProblemSeverity.ERROR
    node_id: str | None = None
    edge_id: str | None = None


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


def _name(node: Node) -> str:
    return f"'{node.title}'" if node.title else f"the {node.kind.value.replace('_', ' ')} node {node.id}"


def _error(code: str, message: str, *, node: str | None = None, edge: str | None = None) -> Problem:
    return Problem(code=code, message=message, node_id=node, edge_id=edge)


def _warning(code: str, message: str, *, node: str | None = None, edge: str | None = None) -> Problem:
    return Problem(code=code, message=message, severity=ProblemSeverity.WARNING, node_id=node, edge_id=edge)


@dataclass
class _Graph:
    """Indexes built once, so every rule is a lookup rather than a scan."""

    doc: JourneyMap
    nodes: dict[str, Node] = field(default_factory=dict)
    outgoing: dict[str, list[Edge]] = field(default_factory=lambda: defaultdict(list))
    valid_edges: list[Edge] = field(default_factory=list)
    triggers: list[TriggerNode] = field(default_factory=list)

    @classmethod
    def of(cls, doc: JourneyMap) -> _Graph:
        graph = cls(doc=doc, nodes={n.id: n for n in doc.nodes})
        graph.triggers = [n for n in doc.nodes if isinstance(n, TriggerNode)]
        for edge in doc.edges:
            if edge.source in graph.nodes and edge.target in graph.nodes:
                graph.valid_edges.append(edge)
                graph.outgoing[edge.source].append(edge)
        return graph

    def successors(self, node_id: str) -> Iterator[str]:
        return (edge.target for edge in self.outgoing.get(node_id, ()))


def _label(edge: Edge) -> str | None:
    return edge.label.strip() or None if edge.label is not None else None


def _allowed_labels(node: Node) -> set[str | None] | None:
    """The labels a node's outgoing edges may carry; None means no outgoing edge at all."""
    if isinstance(node, ExitNode):
        return None
    if isinstance(node, WaitForEventNode):
        return {"event", "timeout"}
    if isinstance(node, BranchNode):
        return {"yes", "no"}
    if isinstance(node, SplitNode):
        return {arm.name for arm in node.arms}
    return {None}


def _check_structure(graph: _Graph) -> Iterator[Problem]:
    doc = graph.doc
    stage_ids = {s.id for s in doc.stages}
    if not graph.triggers:
        yield _error("no_trigger", "The journey has no entry trigger: add a trigger so customers can enter it.")
    for extra in graph.triggers[1:]:
        yield _error(
            "multiple_triggers",
            f"{_name(extra)} is a second entry trigger; a journey has exactly one. Remove it or merge the rules.",
            node=extra.id,
        )
    for node in doc.nodes:
        if node.stage not in stage_ids:
            yield _error(
                "unknown_stage", f"{_name(node)} sits in stage {node.stage!r}, which does not exist.", node=node.id
            )
    for edge in doc.edges:
        missing = [end for end in (edge.source, edge.target) if end not in graph.nodes]
        if missing:
            yield _error(
                "edge_missing_node",
                f"A connection points to {' and '.join(repr(m) for m in missing)}, which is not on the map.",
                edge=edge.id,
            )
        elif isinstance(graph.nodes[edge.target], TriggerNode) and not isinstance(
            graph.nodes[edge.source], TouchpointNode
        ):
            # The story before entry (a pricing-page visit) may lead to the trigger; a step may not.
            yield _error(
                "edge_into_trigger",
                f"Nothing can lead into the trigger {_name(graph.nodes[edge.target])}.",
                edge=edge.id,
                node=edge.target,
            )
    used_stages = {n.stage for n in doc.nodes}
    for stage in doc.stages:
        if stage.id not in used_stages:
            yield _warning("empty_stage", f"Stage '{stage.name}' has no steps or touchpoints yet.")


def _check_edges(graph: _Graph) -> Iterator[Problem]:
    for node in graph.doc.nodes:
        edges = graph.outgoing.get(node.id, [])
        allowed = _allowed_labels(node)
        if allowed is None:
            for edge in edges:
                yield _error(
                    "too_many_edges",
                    f"{_name(node)} ends the journey; it cannot lead anywhere.",
                    node=node.id,
                    edge=edge.id,
                )
            continue
        seen: set[str | None] = set()
        for edge in edges:
            label = _label(edge)
            if label not in allowed:
                if node.kind in _SINGLE_PATH_KINDS:
                    expected = "no label"
                else:
                    expected = " or ".join(repr(a) for a in sorted(a for a in allowed if a is not None))
                yield _error(
                    "unexpected_edge_label",
                    f"A path from {_name(node)} is labelled {label!r}; it needs {expected}.",
                    node=node.id,
                    edge=edge.id,
                )
            elif label in seen:
                what = "one path" if label is None else f"one {label!r} path"
                yield _error("too_many_edges", f"{_name(node)} can have only {what}.", node=node.id, edge=edge.id)
            seen.add(label)
        if isinstance(node, BranchNode) and "no" not in seen:
            yield _error(
                "branch_without_else",
                f"Branch {_name(node)} has no 'no' path: say where customers go when the conditions fail.",
                node=node.id,
            )
        if isinstance(node, BranchNode) and "yes" not in seen:
            yield _error("branch_without_yes", f"Branch {_name(node)} has no 'yes' path.", node=node.id)
        if isinstance(node, SplitNode):
            for arm in node.arms:
                if arm.name not in seen and not arm.holdout:
                    yield _error(
                        "split_arm_without_path",
                        f"Arm '{arm.name}' of split {_name(node)} leads nowhere; connect it or make it a holdout.",
                        node=node.id,
                    )


def _check_condition(node: Node, condition: Condition) -> Iterator[Problem]:
    if condition.op not in _VALUELESS_OPS and condition.value in (None, "", []):
        yield _error(
            "condition_missing_value",
            f"The condition on '{condition.field}' in {_name(node)} needs a value to compare with.",
            node=node.id,
        )


def _check_trigger(node: TriggerNode) -> Iterator[Problem]:
    trigger = node.trigger
    if isinstance(trigger, EventTrigger):
        for condition in trigger.filters:
            yield from _check_condition(node, condition)
    elif isinstance(trigger, TraitTrigger):
        for condition in trigger.conditions:
            yield from _check_condition(node, condition)
    elif isinstance(trigger, ScheduleTrigger):
        problem = cron_problem(trigger.cron)
        if problem:
            yield _error("invalid_cron", f"The schedule of {_name(node)} is not valid: {problem}.", node=node.id)
        for condition in trigger.audience:
            yield from _check_condition(node, condition)


def _check_send(node: SendNode) -> Iterator[Problem]:
    if node.channel is None:
        yield _error(
            "send_without_channel",
            f"{_name(node)} has no channel: choose email, SMS, push, in-app or webhook.",
            node=node.id,
        )
        return
    if node.channel not in SENDABLE_CHANNELS:
        yield _error(
            "channel_not_sendable",
            f"{_name(node)} sends on {node.channel.value}, which the engine cannot deliver; "
            "draw it as a touchpoint or choose email, SMS, push, in-app or webhook.",
            node=node.id,
        )
        return
    content = node.content
    missing = []
    if node.channel is Channel.EMAIL:
        missing = [part for part, text in (("subject", content.subject), ("body", content.body)) if not text.strip()]
    elif node.channel is Channel.WEBHOOK:
        missing = [] if content.url.strip() else ["URL"]
    elif not content.body.strip():
        missing = ["body"]
    if missing:
        yield _error("send_without_content", f"{_name(node)} has no {' or '.join(missing)} to send.", node=node.id)
    fallback = node.fallback_channel
    if fallback is not None and (fallback is node.channel or fallback not in SENDABLE_CHANNELS):
        yield _error(
            "invalid_fallback_channel",
            f"The fallback of {_name(node)} must be another channel the engine can deliver.",
            node=node.id,
        )


def _check_nodes(graph: _Graph) -> Iterator[Problem]:
    for node in graph.doc.nodes:
        match node:
            case TriggerNode():
                yield from _check_trigger(node)
            case WaitNode():
                if (node.duration is None) == (node.until_local_time is None):
                    yield _error(
                        "wait_needs_one_of",
                        f"Wait {_name(node)} needs either a duration or a local time of day, not both.",
                        node=node.id,
                    )
                elif node.duration is not None and node.duration <= timedelta(0):
                    yield _error("non_positive_wait", f"Wait {_name(node)} must last longer than zero.", node=node.id)
            case WaitForEventNode():
                if node.timeout <= timedelta(0):
                    yield _error(
                        "non_positive_wait", f"The timeout of {_name(node)} must be longer than zero.", node=node.id
                    )
            case BranchNode():
                if not node.conditions:
                    yield _error(
                        "branch_without_conditions", f"Branch {_name(node)} has no condition to test.", node=node.id
                    )
                for condition in node.conditions:
                    yield from _check_condition(node, condition)
            case SplitNode():
                yield from _check_split(node)
            case SendNode():
                yield from _check_send(node)
            case UpdateProfileNode():
                if not node.set_traits:
                    yield _warning("empty_profile_update", f"{_name(node)} changes no trait.", node=node.id)


def _check_split(node: SplitNode) -> Iterator[Problem]:
    if len(node.arms) < 2:
        yield _error("split_needs_two_arms", f"Split {_name(node)} needs at least two arms.", node=node.id)
    names = [arm.name for arm in node.arms]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        yield _error("duplicate_arm_name", f"Split {_name(node)} has two arms named '{duplicate}'.", node=node.id)
    total = sum(arm.percent for arm in node.arms)
    if node.arms and abs(total - 100) > 1e-6:
        yield _error(
            "split_percent_sum",
            f"The arms of split {_name(node)} add up to {total:g}%; they must add up to 100%.",
            node=node.id,
        )


def _check_reachability(graph: _Graph) -> Iterator[Problem]:
    reached: set[str] = set()
    queue = deque(t.id for t in graph.triggers)
    reached.update(queue)
    while queue:
        for target in graph.successors(queue.popleft()):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    for node in graph.doc.nodes:
        # A touchpoint may stand alone: a store visit is part of the story even if no step leads to it.
        if node.id not in reached and not isinstance(node, TouchpointNode | TriggerNode):
            yield _error("unreachable_node", f"No path from the trigger reaches {_name(node)}.", node=node.id)


def _strongly_connected(nodes: Iterable[str], graph: _Graph, keep: set[str]) -> Iterator[list[str]]:
    """Tarjan's algorithm, iterative (maps can be deeper than Python's recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, (t for t in graph.successors(root) if t in keep))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, (t for t in graph.successors(child) if t in keep)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield component


def _check_cycles(graph: _Graph) -> Iterator[Problem]:
    """A loop is fine when a wait is on it; without one a customer would go round forever."""
    keep = {n.id for n in graph.doc.nodes if n.kind not in _WAITING_KINDS}
    order = {n.id: i for i, n in enumerate(graph.doc.nodes)}
    for component in _strongly_connected([n for n in order if n in keep], graph, keep):
        looping = len(component) > 1 or component[0] in set(graph.successors(component[0]))
        if looping:
            first = min(component, key=order.__getitem__)
            names = ", ".join(_name(graph.nodes[n]) for n in sorted(component, key=order.__getitem__)[:4])
            yield _error(
                "cycle_without_wait",
                f"These steps loop with no wait between them, so a customer would go round forever: {names}.",
                node=first,
            )


def _event_properties(doc: JourneyMap, triggers: list[TriggerNode]) -> set[str]:
    known: set[str] = set()
    for trigger in triggers[:1]:
        if isinstance(trigger.trigger, EventTrigger):
            known.update(trigger.trigger.properties)
            known.update(c.field for c in trigger.trigger.filters if c.source is ConditionSource.EVENT)
    known.update(n.correlate_on for n in doc.nodes if isinstance(n, WaitForEventNode) and n.correlate_on)
    known.update(c.correlate_on for c in doc.settings.exit_criteria if c.correlate_on)
    return known


def _check_content(graph: _Graph) -> Iterator[Problem]:
    doc = graph.doc
    traits = STANDARD_TRAITS | set(doc.settings.profile_traits)
    properties = _event_properties(doc, graph.triggers)
    for node in doc.nodes:
        if not isinstance(node, SendNode):
            continue
        for part, source in (("subject", node.content.subject), ("body", node.content.body), ("URL", node.content.url)):
            for code, message in placeholder_problems(source, traits=traits, properties=properties):
                yield _error(code, f"The {part} of {_name(node)} {message}.", node=node.id)


def _check_settings(graph: _Graph) -> Iterator[Problem]:
    settings = graph.doc.settings
    try:
        ZoneInfo(settings.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield _error(
            "invalid_timezone", f"{settings.default_timezone!r} is not a time zone; use a name such as 'Europe/Paris'."
        )
    if settings.frequency_cap is not None and settings.frequency_cap.window <= timedelta(0):
        yield _error("invalid_frequency_cap", "The frequency cap's window must be longer than zero.")
    if settings.goal_event is None and not any(isinstance(n, GoalNode) for n in graph.doc.nodes):
        yield _warning("no_goal", "The journey has no goal, so its conversion cannot be measured.")


def _resolve(graph: _Graph, target: str | None) -> str | None:
    """Follow a path through map-only touchpoints to the next step the engine runs."""
    seen: set[str] = set()
    while target is not None and isinstance(graph.nodes.get(target), TouchpointNode):
        if target in seen:
            return None
        seen.add(target)
        target = next((e.target for e in graph.outgoing.get(target, ()) if _label(e) is None), None)
    return target


def _successor(graph: _Graph, node: Node, label: str | None = None) -> str | None:
    edge = next((e for e in graph.outgoing.get(node.id, ()) if _label(e) == label), None)
    return _resolve(graph, edge.target) if edge else None


def _step(graph: _Graph, node: Node) -> Step | None:
    nxt = _successor(graph, node)
    match node:
        case WaitNode():
            return WaitStep(
                id=node.id, stage=node.stage, duration=node.duration, until_local_time=node.until_local_time, next=nxt
            )
        case WaitForEventNode():
            return WaitForEventStep(
                id=node.id,
                stage=node.stage,
                event=node.event,
                correlate_on=node.correlate_on,
                timeout=node.timeout,
                on_event=_successor(graph, node, "event"),
                on_timeout=_successor(graph, node, "timeout"),
            )
        case BranchNode():
            return BranchStep(
                id=node.id,
                stage=node.stage,
                conditions=tuple(node.conditions),
                match=node.match,
                if_true=_successor(graph, node, "yes"),
                if_false=_successor(graph, node, "no"),
            )
        case SplitNode():
            arms = tuple(
                PlanArm(name=a.name, percent=a.percent, holdout=a.holdout, next=_successor(graph, node, a.name))
                for a in node.arms
            )
            return SplitStep(id=node.id, stage=node.stage, arms=arms)
        case SendNode():
            assert node.channel is not None
            return SendStep(
                id=node.id,
                stage=node.stage,
                channel=node.channel,
                content=node.content,
                fallback_channel=node.fallback_channel,
                next=nxt,
            )
        case UpdateProfileNode():
            return UpdateProfileStep(id=node.id, stage=node.stage, set_traits=tuple(node.set_traits.items()), next=nxt)
        case GoalNode():
            return GoalStep(id=node.id, stage=node.stage, next=nxt)
        case ExitNode():
            return ExitStep(id=node.id, stage=node.stage, reason=node.reason)
    return None


def _build_plan(graph: _Graph) -> Plan:
    doc = graph.doc
    trigger = graph.triggers[0]
    positions = {s.id: i for i, s in enumerate(doc.stages)}
    stage_order = tuple(s.id for s in sorted(doc.stages, key=lambda s: (s.order, positions[s.id])))
    steps = tuple(step for node in doc.nodes if (step := _step(graph, node)) is not None)
    settings = doc.settings
    return Plan(
        journey_name=doc.name,
        entry=Entry(
            node_id=trigger.id, stage=trigger.stage, trigger=trigger.trigger, first_step=_successor(graph, trigger)
        ),
        steps=steps,
        stage_order=stage_order,
        goal_event=settings.goal_event,
        exit_criteria=tuple(settings.exit_criteria),
        reentry=settings.reentry,
        frequency_cap=settings.frequency_cap,
        quiet_hours=settings.quiet_hours,
        default_timezone=settings.default_timezone,
        pause_policy=settings.pause_policy,
    )


def compile_map(doc: JourneyMap) -> CompileResult:
    """Check the whole map and, when nothing is wrong, produce its Plan."""
    graph = _Graph.of(doc)
    problems = tuple(
        problem
        for rule in (
            _check_structure,
            _check_nodes,
            _check_edges,
            _check_reachability,
            _check_cycles,
            _check_content,
            _check_settings,
        )
        for problem in rule(graph)
    )
    if any(p.severity is ProblemSeverity.ERROR for p in problems):
        return CompileResult(plan=None, problems=problems)
    return CompileResult(plan=_build_plan(graph), problems=problems)
