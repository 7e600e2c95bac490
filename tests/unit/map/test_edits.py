from __future__ import annotations

from datetime import timedelta

import pytest

from engine.map import (
    LANE_WIDTH,
    BranchNode,
    JourneyMap,
    MapEditError,
    NodeKind,
    Position,
    SendNode,
    SplitNode,
    Stage,
    TouchpointNode,
    WaitForEventNode,
    WaitNode,
    add_node,
    add_stage,
    connect,
    delete,
    delete_stage,
    move_nodes,
    paste,
    rename_stage,
    reorder_stage,
    stage_emotions,
    tidy_layout,
    update_node,
)
from engine.map.starters import load_template


def make_map(*, stages: int = 3) -> JourneyMap:
    return JourneyMap(
        name="Test journey",
        stages=[Stage(id=f"s{i}", name=f"Stage {i}", order=i) for i in range(stages)],
    )


def with_nodes(doc: JourneyMap, *kinds: NodeKind) -> tuple[JourneyMap, list[str]]:
    ids = []
    for i, kind in enumerate(kinds):
        doc, node_id = add_node(doc, kind=kind, position=Position(x=40 + (i % 3) * LANE_WIDTH, y=80))
        ids.append(node_id)
    return doc, ids


def test_add_node_puts_it_in_the_lane_under_the_drop_point() -> None:
    doc = make_map()

    result, node_id = add_node(doc, kind=NodeKind.SEND, position=Position(x=LANE_WIDTH + 50, y=200))

    node = result.node(node_id)
    assert isinstance(node, SendNode)
    assert node.stage == "s1"
    assert node.position == Position(x=LANE_WIDTH + 50, y=200)
    assert doc.nodes == []


@pytest.mark.parametrize("kind", list(NodeKind))
def test_add_node_gives_every_kind_a_titled_valid_default(kind: NodeKind) -> None:
    result, node_id = add_node(make_map(), kind=kind, position=Position(x=10, y=10))

    node = result.node(node_id)
    assert node is not None
    assert node.kind == kind
    assert node.title
    assert JourneyMap.from_json(result.to_json()) == result


def test_add_node_with_a_named_stage_uses_it() -> None:
    result, node_id = add_node(make_map(), kind=NodeKind.WAIT, position=Position(x=10, y=10), stage="s2")

    assert result.node(node_id).stage == "s2"  # type: ignore[union-attr]


def test_add_node_ids_are_fresh() -> None:
    _, ids = with_nodes(make_map(), NodeKind.WAIT, NodeKind.WAIT, NodeKind.WAIT)

    assert len(set(ids)) == 3


def test_add_node_refuses_a_map_without_stages() -> None:
    with pytest.raises(MapEditError, match="no stages"):
        add_node(make_map(stages=0), kind=NodeKind.WAIT, position=Position())


def test_add_node_refuses_an_unknown_stage() -> None:
    with pytest.raises(MapEditError, match="'nowhere'"):
        add_node(make_map(), kind=NodeKind.WAIT, position=Position(), stage="nowhere")


def test_drop_left_or_right_of_all_lanes_lands_in_the_nearest_lane() -> None:
    doc = make_map()

    left, left_id = add_node(doc, kind=NodeKind.GOAL, position=Position(x=-500, y=0))
    right, right_id = add_node(doc, kind=NodeKind.GOAL, position=Position(x=99 * LANE_WIDTH, y=0))

    assert left.node(left_id).stage == "s0"  # type: ignore[union-attr]
    assert right.node(right_id).stage == "s2"  # type: ignore[union-attr]


def test_move_nodes_moves_and_changes_stage_with_the_lane() -> None:
    doc, (first, second) = with_nodes(make_map(), NodeKind.WAIT, NodeKind.SEND)

    result = move_nodes(doc, {first: Position(x=2 * LANE_WIDTH + 10, y=500)})

    assert result.node(first).position == Position(x=2 * LANE_WIDTH + 10, y=500)  # type: ignore[union-attr]
    assert result.node(first).stage == "s2"  # type: ignore[union-attr]
    assert result.node(second) == doc.node(second)


def test_move_nodes_refuses_an_unknown_node() -> None:
    with pytest.raises(MapEditError, match="'ghost'"):
        move_nodes(make_map(), {"ghost": Position()})


def test_connect_plain_nodes_without_a_label() -> None:
    doc, (wait, send) = with_nodes(make_map(), NodeKind.WAIT, NodeKind.SEND)

    result, edge_id = connect(doc, source=wait, target=send)

    edge = next(edge for edge in result.edges if edge.id == edge_id)
    assert (edge.source, edge.target, edge.label) == (wait, send, None)


def test_connect_a_second_edge_from_a_plain_node_is_refused() -> None:
    doc, (wait, send, goal) = with_nodes(make_map(), NodeKind.WAIT, NodeKind.SEND, NodeKind.GOAL)
    doc, _ = connect(doc, source=wait, target=send)

    with pytest.raises(MapEditError, match="every outgoing edge"):
        connect(doc, source=wait, target=goal)


@pytest.mark.parametrize(
    ("kind", "labels"),
    [(NodeKind.BRANCH, ["yes", "no"]), (NodeKind.WAIT_FOR_EVENT, ["event", "timeout"]), (NodeKind.SPLIT, ["a", "b"])],
)
def test_connect_chooses_the_labels_a_kind_needs_in_order(kind: NodeKind, labels: list[str]) -> None:
    doc, (source, one, two) = with_nodes(make_map(), kind, NodeKind.SEND, NodeKind.GOAL)

    doc, _ = connect(doc, source=source, target=one)
    doc, _ = connect(doc, source=source, target=two)

    assert [edge.label for edge in doc.edges] == labels


def test_connect_with_an_explicit_label_checks_it() -> None:
    doc, (branch, send) = with_nodes(make_map(), NodeKind.BRANCH, NodeKind.SEND)

    result, _ = connect(doc, source=branch, target=send, label="no")
    assert result.edges[0].label == "no"
    with pytest.raises(MapEditError, match="'yes' or 'no'"):
        connect(doc, source=branch, target=send, label="maybe")


def test_connect_refuses_loops_duplicates_and_edges_into_the_trigger_or_out_of_an_exit() -> None:
    doc, (trigger, branch, leave) = with_nodes(make_map(), NodeKind.TRIGGER, NodeKind.BRANCH, NodeKind.EXIT)
    doc, _ = connect(doc, source=branch, target=leave)

    with pytest.raises(MapEditError, match="itself"):
        connect(doc, source=branch, target=branch)
    with pytest.raises(MapEditError, match="already connected"):
        connect(doc, source=branch, target=leave)
    with pytest.raises(MapEditError, match="entry trigger"):
        connect(doc, source=branch, target=trigger)
    with pytest.raises(MapEditError, match="exit"):
        connect(doc, source=leave, target=branch)


def test_delete_a_node_takes_its_edges_with_it() -> None:
    doc, (wait, send, goal) = with_nodes(make_map(), NodeKind.WAIT, NodeKind.SEND, NodeKind.GOAL)
    doc, _ = connect(doc, source=wait, target=send)
    doc, keep = connect(doc, source=send, target=goal)

    result = delete(doc, [wait])

    assert [node.id for node in result.nodes] == [send, goal]
    assert [edge.id for edge in result.edges] == [keep]


def test_delete_an_edge_leaves_its_nodes() -> None:
    doc, (wait, send) = with_nodes(make_map(), NodeKind.WAIT, NodeKind.SEND)
    doc, edge_id = connect(doc, source=wait, target=send)

    result = delete(doc, [edge_id])

    assert result.edges == []
    assert len(result.nodes) == 2


def test_delete_refuses_unknown_ids() -> None:
    with pytest.raises(MapEditError, match="'nope'"):
        delete(make_map(), ["nope"])


def test_update_node_accepts_json_values_and_validates() -> None:
    doc, (wait,) = with_nodes(make_map(), NodeKind.WAIT)

    result = update_node(doc, wait, {"duration": "PT3H", "title": "Wait 3 hours", "emotion": -2})

    node = result.node(wait)
    assert isinstance(node, WaitNode)
    assert node.duration == timedelta(hours=3)
    assert (node.title, node.emotion) == ("Wait 3 hours", -2)


def test_update_node_nested_content() -> None:
    doc, (send,) = with_nodes(make_map(), NodeKind.SEND)

    result = update_node(doc, send, {"content": {"subject": "Hello", "body": "Hi {{ profile.first_name }}"}})

    node = result.node(send)
    assert isinstance(node, SendNode)
    assert node.content.subject == "Hello"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"emotion": 5}, "emotion"),
        ({"duration": "soon"}, "duration"),
        ({"kind": "goal"}, "kind"),
        ({"id": "other"}, "id"),
        ({"colour": "red"}, "colour"),
        ({"stage": "nowhere"}, "nowhere"),
    ],
)
def test_update_node_refuses_bad_fields_naming_them(fields: dict[str, object], message: str) -> None:
    doc, (wait,) = with_nodes(make_map(), NodeKind.WAIT)

    with pytest.raises(MapEditError, match=message):
        update_node(doc, wait, fields)


def test_update_node_split_arms_and_branch_conditions() -> None:
    doc, (split, branch) = with_nodes(make_map(), NodeKind.SPLIT, NodeKind.BRANCH)

    doc = update_node(doc, split, {"arms": [{"name": "control", "percent": 10, "holdout": True}]})
    doc = update_node(doc, branch, {"conditions": [{"source": "trait", "field": "plan", "op": "eq", "value": "pro"}]})

    split_node, branch_node = doc.node(split), doc.node(branch)
    assert isinstance(split_node, SplitNode)
    assert isinstance(branch_node, BranchNode)
    assert split_node.arms[0].holdout
    assert branch_node.conditions[0].value == "pro"


def test_add_stage_appends_a_lane() -> None:
    result, stage_id = add_stage(make_map(), "  After purchase ")

    stage = result.stages[-1]
    assert (stage.id, stage.name, stage.order) == (stage_id, "After purchase", 3)
    assert stage_id.startswith("after_purchase")


def test_add_and_rename_stage_need_a_name() -> None:
    with pytest.raises(MapEditError, match="name"):
        add_stage(make_map(), "  ")
    with pytest.raises(MapEditError, match="name"):
        rename_stage(make_map(), "s0", "")


def test_rename_stage() -> None:
    result = rename_stage(make_map(), "s1", "Consider")

    assert [stage.name for stage in result.stages] == ["Stage 0", "Consider", "Stage 2"]


def test_reorder_stage_moves_its_nodes_with_the_lane() -> None:
    doc, (first,) = with_nodes(make_map(), NodeKind.WAIT)

    result = reorder_stage(doc, "s0", 2)

    assert [(stage.id, stage.order) for stage in sorted(result.stages, key=lambda s: s.order)] == [
        ("s1", 0),
        ("s2", 1),
        ("s0", 2),
    ]
    assert result.node(first).position.x == 40 + 2 * LANE_WIDTH  # type: ignore[union-attr]
    assert result.node(first).stage == "s0"  # type: ignore[union-attr]


def test_reorder_stage_refuses_a_place_outside_the_lanes() -> None:
    with pytest.raises(MapEditError, match="from 0 to 2"):
        reorder_stage(make_map(), "s0", 3)


def test_delete_stage_removes_its_nodes_and_closes_the_gap() -> None:
    doc, _ = add_node(make_map(), kind=NodeKind.WAIT, position=Position(x=40, y=80))
    doc, right = add_node(doc, kind=NodeKind.SEND, position=Position(x=2 * LANE_WIDTH + 40, y=80))

    result = delete_stage(doc, "s0")

    assert [stage.id for stage in result.stages] == ["s1", "s2"]
    assert [node.id for node in result.nodes] == [right]
    assert result.node(right).position.x == LANE_WIDTH + 40  # type: ignore[union-attr]


def test_paste_gives_fresh_ids_and_keeps_inner_edges_only() -> None:
    doc, (wait, send, goal) = with_nodes(make_map(), NodeKind.WAIT, NodeKind.SEND, NodeKind.GOAL)
    doc, _ = connect(doc, source=wait, target=send)
    doc, _ = connect(doc, source=send, target=goal)
    copied = [doc.node(wait), doc.node(send)]

    result, new_ids = paste(doc, copied, doc.edges, offset=Position(x=20, y=300))  # type: ignore[arg-type]

    assert len(result.nodes) == 5
    assert not set(new_ids) & {wait, send, goal}
    assert len(result.edges) == 3
    new_edge = result.edges[-1]
    assert (new_edge.source, new_edge.target) == tuple(new_ids)
    assert result.node(new_ids[0]).position == Position(x=60, y=380)  # type: ignore[union-attr]
    assert JourneyMap.from_json(result.to_json()) == result


def test_paste_twice_still_gives_unique_ids() -> None:
    doc, (wait,) = with_nodes(make_map(), NodeKind.WAIT)
    node = doc.node(wait)
    assert node is not None

    doc, first = paste(doc, [node], [], offset=Position(x=0, y=100))
    doc, second = paste(doc, [node], [], offset=Position(x=0, y=200))

    assert len({n.id for n in doc.nodes}) == 3
    assert first != second


def test_tidy_layout_stacks_each_lane_in_flow_order() -> None:
    doc = make_map()
    doc, late = add_node(doc, kind=NodeKind.SEND, position=Position(x=90, y=10))
    doc, early = add_node(doc, kind=NodeKind.TRIGGER, position=Position(x=10, y=700))
    doc, _ = connect(doc, source=early, target=late)

    result = tidy_layout(doc)

    assert result.node(early).position == Position(x=40, y=80)  # type: ignore[union-attr]
    assert result.node(late).position == Position(x=40, y=220)  # type: ignore[union-attr]


def test_tidy_layout_on_a_starter_keeps_nodes_in_their_lanes_without_overlap() -> None:
    doc = load_template("cart_abandonment")
    lane = {stage.id: stage.order for stage in doc.stages}

    result = tidy_layout(doc)

    places = [(node.stage, node.position.y) for node in result.nodes]
    assert len(places) == len(set(places))
    for node in result.nodes:
        assert lane[node.stage] * LANE_WIDTH <= node.position.x < (lane[node.stage] + 1) * LANE_WIDTH


def test_tidy_layout_survives_a_cycle() -> None:
    doc, (wait, send) = with_nodes(make_map(), NodeKind.WAIT, NodeKind.WAIT_FOR_EVENT)
    doc, _ = connect(doc, source=wait, target=send)
    doc, _ = connect(doc, source=send, target=wait)

    result = tidy_layout(doc)

    assert {node.id for node in result.nodes} == {wait, send}


def test_stage_emotions_average_per_lane() -> None:
    doc = make_map()
    doc, a = add_node(doc, kind=NodeKind.TOUCHPOINT, position=Position(x=10, y=0))
    doc, b = add_node(doc, kind=NodeKind.TOUCHPOINT, position=Position(x=20, y=200))
    doc = update_node(update_node(doc, a, {"emotion": -2}), b, {"emotion": 1})

    assert stage_emotions(doc) == [-0.5, None, None]


def test_a_starter_survives_every_edit_round_trip() -> None:
    doc = load_template("trial_onboarding")
    touchpoint = next(node for node in doc.nodes if isinstance(node, TouchpointNode))
    wfe = next((node for node in doc.nodes if isinstance(node, WaitForEventNode)), None)

    doc = update_node(doc, touchpoint.id, {"emotion": 2, "notes": "delighted"})
    if wfe is not None:
        doc = update_node(doc, wfe.id, {"timeout": "P2D"})
    doc = tidy_layout(reorder_stage(doc, doc.stages[0].id, len(doc.stages) - 1))

    assert JourneyMap.from_json(doc.to_json()) == doc
