"""Edits to a journey map: every gesture on the canvas is one of these pure functions.

Each function takes a :class:`JourneyMap` and returns a new one (the models are frozen), so the
editor's undo stack is a list of documents and the same edits can be scripted or tested without a
browser. Bad input raises :class:`MapEditError` naming what is wrong; the document passed in is
never changed.

Geometry follows the starters: stages are lanes ``LANE_WIDTH`` wide laid out left to right in
stage order, and a node belongs to the lane its ``position.x`` falls in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from engine.map.bounds import out_of_bounds
from engine.map.document import (
    OVERDUE_LABEL,
    BranchNode,
    Channel,
    Edge,
    EventTrigger,
    ExitNode,
    GoalNode,
    HumanTaskNode,
    JourneyMap,
    MessageContent,
    Node,
    NodeKind,
    Position,
    SendNode,
    SplitArm,
    SplitNode,
    Stage,
    TouchpointNode,
    TriggerNode,
    UpdateProfileNode,
    WaitForEventNode,
    WaitNode,
)

LANE_WIDTH: Final = 320.0
CARD_WIDTH: Final = 240.0
LANE_PADDING: Final = 40.0
ROW_HEIGHT: Final = 140.0
FIRST_ROW_Y: Final = 80.0

_NODE: Final[TypeAdapter[Node]] = TypeAdapter(Node)
_FIXED_FIELDS: Final = frozenset({"id", "kind"})


class MapEditError(ValueError):
    """An edit that cannot be applied to the map; the message names the reason."""


def _within_limits(doc: JourneyMap) -> JourneyMap:
    """``doc`` unless the edit took it past a limit: copies are not validated, and a draft past its limits
    would be saved but could not be read back."""
    excess = next(out_of_bounds(doc), None)
    if excess is None:
        return doc
    what = f"the {excess.what} of node {excess.node_id!r}" if excess.node_id is not None else excess.what
    raise MapEditError(f"{what} {excess.detail}")


def _position(x: float, y: float) -> Position:
    try:
        return Position(x=x, y=y)
    except ValidationError as error:
        raise MapEditError(f"a card cannot be placed at ({x:g}, {y:g}): {_first_error(error)}") from error


def lane_left(index: int) -> float:
    """The x coordinate where the lane of the ``index``-th stage begins."""
    return index * LANE_WIDTH


def ordered_stages(doc: JourneyMap) -> list[Stage]:
    """The stages left to right: by ``order``, ties kept in document order."""
    return sorted(doc.stages, key=lambda stage: stage.order)


def stage_at(doc: JourneyMap, x: float) -> Stage:
    """The stage whose lane contains ``x``; left of the first lane is the first, right of the last the last."""
    stages = ordered_stages(doc)
    if not stages:
        raise MapEditError("the map has no stages; add a stage before placing nodes")
    index = min(max(int(x // LANE_WIDTH), 0), len(stages) - 1)
    return stages[index]


def _lane_index(doc: JourneyMap, stage_id: str) -> int:
    for index, stage in enumerate(ordered_stages(doc)):
        if stage.id == stage_id:
            return index
    raise MapEditError(f"there is no stage with the id {stage_id!r}")


def fresh_id(prefix: str, taken: Iterable[str]) -> str:
    """``prefix_N`` with the smallest N >= 1 not in ``taken``."""
    used = set(taken)
    # Cut so that the id, number included, stays within the 120 characters an id may have.
    stem = re.sub(r"[^A-Za-z0-9_.:-]+", "_", prefix).strip("_")[:100] or "item"
    number = 1
    while f"{stem}_{number}" in used:
        number += 1
    return f"{stem}_{number}"


def _all_ids(doc: JourneyMap) -> set[str]:
    return {node.id for node in doc.nodes} | {edge.id for edge in doc.edges} | {stage.id for stage in doc.stages}


def default_node(kind: NodeKind, *, node_id: str, stage: str, position: Position) -> Node:
    """A new node of ``kind`` filled with the defaults a designer would start from."""
    common: dict[str, Any] = {"id": node_id, "stage": stage, "position": position}
    match kind:
        case NodeKind.TRIGGER:
            return TriggerNode(**common, title="When the customer signs up", trigger=EventTrigger(event="signed_up"))
        case NodeKind.WAIT:
            return WaitNode(**common, title="Wait 1 day", duration=timedelta(days=1))
        case NodeKind.WAIT_FOR_EVENT:
            return WaitForEventNode(
                **common, title="Wait for an order", event="order_completed", timeout=timedelta(days=1)
            )
        case NodeKind.BRANCH:
            return BranchNode(**common, title="Check a condition")
        case NodeKind.SPLIT:
            arms = [SplitArm(name="a", percent=50), SplitArm(name="b", percent=50)]
            return SplitNode(**common, title="A/B split", arms=arms)
        case NodeKind.SEND:
            return SendNode(
                **common,
                title="Send an email",
                channel=Channel.EMAIL,
                content=MessageContent(
                    subject="A note from us",
                    body="Hi {{ profile.first_name | default: 'there' }},\n\n\n\nUnsubscribe: {{ unsubscribe_url }}",
                ),
            )
        case NodeKind.UPDATE_PROFILE:
            return UpdateProfileNode(**common, title="Update the profile")
        case NodeKind.GOAL:
            return GoalNode(**common, title="Goal reached", emotion=1)
        case NodeKind.EXIT:
            return ExitNode(**common, title="Exit", reason="")
        case NodeKind.TOUCHPOINT:
            return TouchpointNode(**common, title="New touchpoint", channel=Channel.WEB)
        case NodeKind.HUMAN_TASK:
            return HumanTaskNode(
                **common,
                title="Call the customer",
                channel=Channel.VOICE,
                team="support",
                instructions="Call {{ profile.first_name | default: 'the customer' }} and ask how we can help.",
                due=timedelta(days=1),
                outcomes=["reached", "no answer"],
            )
    raise MapEditError(f"unknown node kind {kind!r}")


def add_node(
    doc: JourneyMap, *, kind: NodeKind, position: Position, stage: str | None = None
) -> tuple[JourneyMap, str]:
    """Add a ``kind`` node at ``position``; its stage is ``stage`` or, if omitted, the lane under it.

    Returns the new document and the new node's id.
    """
    stage_id = stage if stage is not None else stage_at(doc, position.x).id
    _lane_index(doc, stage_id)
    node_id = fresh_id(kind.value, _all_ids(doc))
    node = default_node(kind, node_id=node_id, stage=stage_id, position=position)
    return _within_limits(doc.model_copy(update={"nodes": [*doc.nodes, node]})), node_id


def _node_ids(doc: JourneyMap, ids: Iterable[str]) -> None:
    known = {node.id for node in doc.nodes}
    unknown = sorted(set(ids) - known)
    if unknown:
        raise MapEditError(f"there is no node with the id {', '.join(map(repr, unknown))}")


def move_nodes(doc: JourneyMap, positions: Mapping[str, Position]) -> JourneyMap:
    """Put nodes at new positions; a node dropped on another lane moves to that stage."""
    _node_ids(doc, positions)
    if not positions:
        return doc
    # Checked again: a position built without validation would otherwise land (or fail) in stage_at.
    placed = {node_id: _position(position.x, position.y) for node_id, position in positions.items()}
    nodes = [
        node.model_copy(update={"position": placed[node.id], "stage": stage_at(doc, placed[node.id].x).id})
        if node.id in placed
        else node
        for node in doc.nodes
    ]
    return doc.model_copy(update={"nodes": nodes})


def outgoing_labels(node: Node) -> list[str | None]:
    """The labels edges leaving ``node`` take, in the order a designer draws them."""
    match node:
        case BranchNode():
            return ["yes", "no"]
        case WaitForEventNode():
            return ["event", "timeout"]
        case SplitNode(arms=arms):
            return [arm.name for arm in arms]
        case HumanTaskNode(outcomes=outcomes):
            return [*outcomes, OVERDUE_LABEL]
        case _:
            return [None]


def connect(doc: JourneyMap, *, source: str, target: str, label: str | None = None) -> tuple[JourneyMap, str]:
    """Draw an edge from ``source`` to ``target`` and return the new document and the edge id.

    Without a label, the first label the source kind needs that no edge uses yet is taken: ``yes`` then
    ``no`` after a branch, ``event`` then ``timeout`` after a wait for an event, arm names after a split.
    """
    _node_ids(doc, (source, target))
    if source == target:
        raise MapEditError("a node cannot be connected to itself")
    source_node = doc.node(source)
    target_node = doc.node(target)
    assert source_node is not None
    assert target_node is not None
    if isinstance(target_node, TriggerNode):
        raise MapEditError(f"{target!r} is the entry trigger; nothing can lead into it")
    if isinstance(source_node, ExitNode):
        raise MapEditError(f"{source!r} is an exit; nothing can follow it")
    leaving = [edge for edge in doc.edges if edge.source == source]
    if any(edge.target == target for edge in leaving):
        raise MapEditError(f"{source!r} is already connected to {target!r}")
    allowed = outgoing_labels(source_node)
    used = {edge.label for edge in leaving}
    if label is None:
        free = [candidate for candidate in allowed if candidate not in used]
        if not free:
            raise MapEditError(f"{source!r} already has every outgoing edge it can have ({_describe(allowed)})")
        label = free[0]
    elif label not in allowed:
        raise MapEditError(f"an edge leaving {source!r} must be labelled {_describe(allowed)}, not {label!r}")
    elif label in used:
        raise MapEditError(f"{source!r} already has an edge labelled {label!r}")
    edge_id = fresh_id(f"e_{source}__{target}", _all_ids(doc))
    edge = Edge(id=edge_id, source=source, target=target, label=label)
    return _within_limits(doc.model_copy(update={"edges": [*doc.edges, edge]})), edge_id


def _describe(labels: Sequence[str | None]) -> str:
    return " or ".join(repr(label) for label in labels) if labels != [None] else "one unlabelled edge"


def delete(doc: JourneyMap, ids: Iterable[str]) -> JourneyMap:
    """Remove the nodes and edges named by ``ids``, and every edge touching a removed node."""
    wanted = set(ids)
    known = {node.id for node in doc.nodes} | {edge.id for edge in doc.edges}
    unknown = sorted(wanted - known)
    if unknown:
        raise MapEditError(f"there is no node or edge with the id {', '.join(map(repr, unknown))}")
    nodes = [node for node in doc.nodes if node.id not in wanted]
    kept = {node.id for node in nodes}
    edges = [edge for edge in doc.edges if edge.id not in wanted and edge.source in kept and edge.target in kept]
    return doc.model_copy(update={"nodes": nodes, "edges": edges})


def update_node(doc: JourneyMap, node_id: str, fields: Mapping[str, Any]) -> JourneyMap:
    """Change fields of one node; the result is validated like a loaded document.

    Values may be given as JSON would carry them (``"PT1H"`` for a duration, dicts for nested models).
    """
    _node_ids(doc, (node_id,))
    fixed = sorted(_FIXED_FIELDS & set(fields))
    if fixed:
        raise MapEditError(f"a node's {' and '.join(fixed)} cannot be changed; delete it and add another")
    if "stage" in fields:
        _lane_index(doc, str(fields["stage"]))
    node = doc.node(node_id)
    assert node is not None
    try:
        updated = _NODE.validate_python({**node.model_dump(mode="json"), **fields})
    except ValidationError as error:
        raise MapEditError(f"node {node_id!r}: {_first_error(error)}") from error
    return doc.model_copy(update={"nodes": [updated if n.id == node_id else n for n in doc.nodes]})


def _first_error(error: ValidationError) -> str:
    detail = error.errors()[0]
    where = ".".join(str(part) for part in detail["loc"] if not str(part).startswith(tuple(NodeKind)))
    return f"{where}: {detail['msg']}" if where else str(detail["msg"])


def add_stage(doc: JourneyMap, name: str) -> tuple[JourneyMap, str]:
    """Add a stage as the right-most lane; returns the document and the stage id."""
    name = name.strip()
    if not name:
        raise MapEditError("a stage needs a name")
    stage_id = fresh_id(re.sub(r"\W+", "_", name.lower()), _all_ids(doc))
    order = max((stage.order for stage in doc.stages), default=-1) + 1
    try:
        stage = Stage(id=stage_id, name=name, order=order)
    except ValidationError as error:
        raise MapEditError(f"stage: {_first_error(error)}") from error
    return _within_limits(doc.model_copy(update={"stages": [*doc.stages, stage]})), stage_id


def rename_stage(doc: JourneyMap, stage_id: str, name: str) -> JourneyMap:
    _lane_index(doc, stage_id)
    name = name.strip()
    if not name:
        raise MapEditError("a stage needs a name")
    try:
        stages = [
            Stage.model_validate({**stage.model_dump(), "name": name}) if stage.id == stage_id else stage
            for stage in doc.stages
        ]
    except ValidationError as error:
        raise MapEditError(f"stage {stage_id!r}: {_first_error(error)}") from error
    return doc.model_copy(update={"stages": stages})


def _relaid(doc: JourneyMap, stages: list[Stage], nodes: Iterable[Node]) -> JourneyMap:
    """Number ``stages`` 0..n-1 in the given order and shift each node with its lane."""
    old_left = {stage.id: lane_left(index) for index, stage in enumerate(ordered_stages(doc))}
    new_left = {stage.id: lane_left(index) for index, stage in enumerate(stages)}
    shift = {stage_id: left - old_left[stage_id] for stage_id, left in new_left.items()}
    moved = [
        node.model_copy(update={"position": _position(node.position.x + shift[node.stage], node.position.y)})
        for node in nodes
    ]
    numbered = [stage.model_copy(update={"order": index}) for index, stage in enumerate(stages)]
    return doc.model_copy(update={"stages": numbered, "nodes": moved})


def reorder_stage(doc: JourneyMap, stage_id: str, index: int) -> JourneyMap:
    """Move a stage's lane to ``index`` (0 = left-most); its nodes travel with it."""
    current = _lane_index(doc, stage_id)
    stages = ordered_stages(doc)
    if not 0 <= index < len(stages):
        raise MapEditError(f"a stage can move to a place from 0 to {len(stages) - 1}, not {index}")
    stages.insert(index, stages.pop(current))
    return _relaid(doc, stages, doc.nodes)


def delete_stage(doc: JourneyMap, stage_id: str) -> JourneyMap:
    """Remove a stage with its nodes (and their edges); the lanes to its right close the gap."""
    _lane_index(doc, stage_id)
    gone = {node.id for node in doc.nodes if node.stage == stage_id}
    without = delete(doc, gone) if gone else doc
    stages = [stage for stage in ordered_stages(doc) if stage.id != stage_id]
    return _relaid(without, stages, without.nodes)


def paste(
    doc: JourneyMap, nodes: Sequence[Node], edges: Sequence[Edge], *, offset: Position
) -> tuple[JourneyMap, list[str]]:
    """Add copies of ``nodes`` moved by ``offset``, with fresh ids, and the ``edges`` among them.

    Edges reaching outside the pasted nodes are dropped. Each copy lands in the lane under it.
    Returns the document and the new node ids in the order given.
    """
    if not doc.stages:
        raise MapEditError("the map has no stages; add a stage before pasting")
    taken = _all_ids(doc)
    renamed: dict[str, str] = {}
    copies: list[Node] = []
    for node in nodes:
        new_id = fresh_id(re.sub(r"_\d+$", "", node.id), taken)
        taken.add(new_id)
        renamed[node.id] = new_id
        position = _position(node.position.x + offset.x, node.position.y + offset.y)
        copies.append(
            node.model_copy(update={"id": new_id, "position": position, "stage": stage_at(doc, position.x).id})
        )
    new_edges: list[Edge] = []
    for edge in edges:
        if edge.source in renamed and edge.target in renamed:
            source, target = renamed[edge.source], renamed[edge.target]
            edge_id = fresh_id(f"e_{source}__{target}", taken)
            taken.add(edge_id)
            new_edges.append(edge.model_copy(update={"id": edge_id, "source": source, "target": target}))
    pasted = doc.model_copy(update={"nodes": [*doc.nodes, *copies], "edges": [*doc.edges, *new_edges]})
    return _within_limits(pasted), [renamed[node.id] for node in nodes]


def _depths(doc: JourneyMap) -> dict[str, int]:
    """Each node's distance from the map's roots along edges (cycles are cut where they close)."""
    targets: dict[str, list[str]] = {}
    incoming: dict[str, int] = {node.id: 0 for node in doc.nodes}
    for edge in doc.edges:
        targets.setdefault(edge.source, []).append(edge.target)
        incoming[edge.target] = incoming.get(edge.target, 0) + 1
    depth = {node.id: 0 for node in doc.nodes if incoming[node.id] == 0}
    frontier = list(depth)
    visited = set(frontier)
    while frontier:
        following: list[str] = []
        for node_id in frontier:
            for target in targets.get(node_id, []):
                if target not in visited:
                    visited.add(target)
                    depth[target] = depth[node_id] + 1
                    following.append(target)
        frontier = following
    for node in doc.nodes:
        depth.setdefault(node.id, 0)
    return depth


def tidy_layout(doc: JourneyMap) -> JourneyMap:
    """Line every lane's nodes up in one column, in flow order, evenly spaced from the top."""
    depth = _depths(doc)
    index = {node.id: i for i, node in enumerate(doc.nodes)}
    placed: dict[str, Position] = {}
    for lane, stage in enumerate(ordered_stages(doc)):
        members = sorted(
            (node for node in doc.nodes if node.stage == stage.id),
            key=lambda node: (depth[node.id], node.position.y, index[node.id]),
        )
        for row, node in enumerate(members):
            placed[node.id] = Position(x=lane_left(lane) + LANE_PADDING, y=FIRST_ROW_Y + row * ROW_HEIGHT)
    nodes = [node.model_copy(update={"position": placed[node.id]}) if node.id in placed else node for node in doc.nodes]
    return doc.model_copy(update={"nodes": nodes})
