"""The compiler's rules about the map as a whole: entry, references, paths, loops, settings.

Each function checks one family of rules over a :class:`MapIndex` and yields its problems in the
map's own order, so the same map always gives the same list.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.compiler.index import MapIndex, label_of
from engine.compiler.problems import Problem, describe, error, warning
from engine.map import (
    OVERDUE_LABEL,
    BranchNode,
    ExitNode,
    GoalNode,
    HumanTaskNode,
    Node,
    NodeKind,
    SplitNode,
    TriggerNode,
    WaitForEventNode,
)

_WAITING_KINDS = frozenset({NodeKind.WAIT, NodeKind.WAIT_FOR_EVENT, NodeKind.HUMAN_TASK})


def entry_problems(index: MapIndex) -> Iterator[Problem]:
    """Exactly one trigger, and nothing leads back into it."""
    if not index.triggers:
        yield error("no_trigger", "The journey has no entry trigger: add a trigger so customers can enter it.")
    for extra in index.triggers[1:]:
        yield error(
            "multiple_triggers",
            f"{describe(extra)} is a second entry trigger; a journey has exactly one. Remove it or merge the rules.",
            node=extra.id,
        )
    for edges in index.outgoing.values():
        for edge in edges:
            target = index.nodes[edge.target]
            if isinstance(target, TriggerNode):
                # Customers enter only through the trigger's rule; a path into it would re-enroll them
                # behind the re-entry policy's back. A story before entry stays unconnected instead.
                yield error(
                    "edge_into_trigger",
                    f"A path leads into {describe(target)}; customers can only enter through its rule.",
                    node=target.id,
                    edge=edge.id,
                )


def reference_problems(index: MapIndex) -> Iterator[Problem]:
    """Every node sits in a stage that exists, every edge joins two nodes that exist."""
    for node in index.doc.nodes:
        if node.stage not in index.stage_ids:
            yield error(
                "unknown_stage", f"{describe(node)} sits in stage {node.stage!r}, which does not exist.", node=node.id
            )
    for edge in index.doc.edges:
        missing = [end for end in (edge.source, edge.target) if end not in index.nodes]
        if missing:
            yield error(
                "edge_missing_node",
                f"The connection from {edge.source!r} to {edge.target!r} refers to "
                f"{' and '.join(repr(m) for m in missing)}, {'which is' if len(missing) == 1 else 'which are'} "
                "not on the map.",
                edge=edge.id,
            )


def _allowed_labels(node: Node) -> frozenset[str | None]:
    """The labels a node's outgoing edges may carry, each at most once; empty means no edge at all."""
    match node:
        case ExitNode():
            return frozenset()
        case WaitForEventNode():
            return frozenset({"event", "timeout"})
        case BranchNode():
            return frozenset({"yes", "no"})
        case SplitNode():
            return frozenset(arm.name for arm in node.arms)
        case HumanTaskNode():
            return frozenset({*node.outcomes, OVERDUE_LABEL})
    return frozenset({None})


def _expected(allowed: frozenset[str | None]) -> str:
    if allowed == {None}:
        return "no label"
    return " or ".join(repr(label) for label in sorted(label for label in allowed if label is not None))


def edge_problems(index: MapIndex) -> Iterator[Problem]:
    """Each kind has its own outgoing paths: how many, and with which labels."""
    for node in index.doc.nodes:
        allowed = _allowed_labels(node)
        seen: set[str | None] = set()
        for edge in index.edges_from(node.id):
            label = label_of(edge)
            if not allowed:
                yield error(
                    "too_many_edges",
                    f"{describe(node)} ends the journey; it cannot lead anywhere.",
                    node=node.id,
                    edge=edge.id,
                )
            elif label not in allowed:
                yield error(
                    "unexpected_edge_label",
                    f"A path from {describe(node)} is labelled {label!r}; it needs {_expected(allowed)}.",
                    node=node.id,
                    edge=edge.id,
                )
            elif label in seen:
                what = "one path" if label is None else f"one {label!r} path"
                yield error("too_many_edges", f"{describe(node)} can have only {what}.", node=node.id, edge=edge.id)
            seen.add(label)
        if isinstance(node, BranchNode):
            if "yes" not in seen:
                yield error(
                    "branch_without_yes",
                    f"{describe(node)} has no 'yes' path: say where customers go when the conditions hold.",
                    node=node.id,
                )
            if "no" not in seen:
                yield error(
                    "branch_without_else",
                    f"{describe(node)} has no 'no' path: say where customers go when the conditions fail.",
                    node=node.id,
                )
        if isinstance(node, SplitNode):
            for arm in node.arms:
                if arm.name not in seen and not arm.holdout:
                    yield error(
                        "split_arm_without_path",
                        f"Arm '{arm.name}' of {describe(node)} leads nowhere; connect it or make it a holdout.",
                        node=node.id,
                    )
        if isinstance(node, HumanTaskNode):
            yield from _task_path_problems(node, seen)


def _task_path_problems(node: HumanTaskNode, seen: set[str | None]) -> Iterator[Problem]:
    for outcome in dict.fromkeys(node.outcomes):
        if outcome not in seen:
            yield error(
                "task_outcome_without_path",
                f"Outcome '{outcome}' of {describe(node)} leads nowhere; connect it to the step that follows it.",
                node=node.id,
            )
    if OVERDUE_LABEL not in seen:
        yield warning(
            "task_without_overdue_path",
            f"{describe(node)} has no 'overdue' path: a customer whose task is not done in time leaves the journey.",
            node=node.id,
        )


def reachability_problems(index: MapIndex) -> Iterator[Problem]:
    """Every step can be reached from the trigger; touchpoints may stand alone as part of the story."""
    if not index.triggers:
        # With no trigger nothing is reachable; "no_trigger" already says so once instead of once a node.
        return
    reached = index.reached
    for node in index.doc.nodes:
        if node.id not in reached and node.kind is not NodeKind.TOUCHPOINT:
            yield error("unreachable_node", f"No path from the trigger reaches {describe(node)}.", node=node.id)


def _loops(index: MapIndex, keep: set[str]) -> Iterator[list[str]]:
    """Groups of ``keep`` nodes that loop: Tarjan's strongly connected components, walked with an
    explicit stack because maps can be deeper than Python's recursion limit."""
    number: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    work: list[tuple[str, Iterator[str]]] = []

    def enter(node_id: str) -> None:
        number[node_id] = low[node_id] = len(number)
        stack.append(node_id)
        on_stack.add(node_id)
        work.append((node_id, iter([t for t in index.successors(node_id) if t in keep])))

    for root in index.nodes:
        if root not in keep or root in number:
            continue
        enter(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in number:
                    enter(child)
                elif child in on_stack:
                    low[node] = min(low[node], number[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == number[node]:
                component: list[str] = []
                while not component or component[-1] != node:
                    component.append(stack.pop())
                    on_stack.discard(component[-1])
                if len(component) > 1 or node in index.successors(node):
                    yield component


def cycle_problems(index: MapIndex) -> Iterator[Problem]:
    """A loop is fine when a wait is on it; without one a customer would go round forever at once."""
    keep = {node.id for node in index.doc.nodes if node.kind not in _WAITING_KINDS}
    reached = index.reached
    found: list[list[str]] = []
    for component in _loops(index, keep):
        # A loop of touchpoints nobody reaches is only a drawing; one a step leads into is a dead end.
        if any(not index.is_touchpoint(n) or n in reached for n in component):
            found.append(sorted(component, key=index.order.__getitem__))
    for component in sorted(found, key=lambda c: index.order[c[0]]):
        names = ", ".join(describe(index.nodes[n]) for n in component[:4])
        more = f" and {len(component) - 4} more" if len(component) > 4 else ""
        yield error(
            "cycle_without_wait",
            f"These steps loop with no wait between them, so a customer would go round forever: {names}{more}.",
            node=component[0],
        )


def stage_problems(index: MapIndex) -> Iterator[Problem]:
    used = {node.stage for node in index.doc.nodes}
    for stage in index.doc.stages:
        if stage.id not in used:
            yield warning("empty_stage", f"Stage '{stage.name}' has no steps or touchpoints yet.")


def settings_problems(index: MapIndex) -> Iterator[Problem]:
    settings = index.doc.settings
    try:
        ZoneInfo(settings.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield error(
            "invalid_timezone",
            f"{settings.default_timezone!r} is not a time zone; use a name such as 'Europe/Paris'.",
        )
    if settings.frequency_cap is not None and settings.frequency_cap.window <= timedelta(0):
        yield error("invalid_frequency_cap", "The frequency cap's window must be longer than zero.")
    quiet = settings.quiet_hours
    if quiet is not None and quiet.start == quiet.end:
        yield warning(
            "empty_quiet_hours",
            f"Quiet hours start and end at {quiet.start:%H:%M}, so they never hold a message back.",
        )
    if settings.goal_event is None and not any(isinstance(n, GoalNode) for n in index.doc.nodes):
        yield warning("no_goal", "The journey has no goal, so its conversion cannot be measured.")
