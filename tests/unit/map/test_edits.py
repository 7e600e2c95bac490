from __future__ import annotations

from datetime import timedelta

import pytest

from engine.map import (
    LANE_WIDTH,
    BranchNode,
    JourneyMap,
    MapEditError,
    NodeKind,
    Persona,
    Position,
    SendNode,
    Severity,
    SplitNode,
    Stage,
    TouchpointNode,
    WaitForEventNode,
    WaitNode,
    add_node,
    add_opportunity,
    add_pain_point,
    add_persona,
    add_stage,
    connect,
    delete,
    delete_stage,
    edit_opportunity,
    edit_pain_point,
    emotion_for,
    move_nodes,
    pain_points_for,
    paste,
    primary_persona,
    remove_opportunity,
    remove_pain_point,
    remove_persona,
    rename_stage,
    reorder_stage,
    set_emotion,
    stage_emotions,
    tidy_layout,
    update_node,
    update_persona,
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


# --- personas, and what each of them feels ------------------------------------------------------------------


def with_personas(*names: str) -> tuple[JourneyMap, list[str], str]:
    """A map with the named personas and one touchpoint card; returns the map, persona ids and card id."""
    doc, (card,) = with_nodes(make_map(), NodeKind.TOUCHPOINT)
    ids = []
    for name in names:
        doc, persona_id = add_persona(doc, name)
        ids.append(persona_id)
    return doc, ids, card


def test_a_persona_is_added_with_an_id_from_its_name_and_its_lists_without_blank_lines() -> None:
    doc, _, _ = with_personas("Maya, the deal-seeker")

    result, persona_id = add_persona(
        doc,
        "  Tom  ",
        description=" Careful buyer ",
        goals=["Best price", "  ", " Fast delivery "],
        frustrations=["Hidden fees"],
    )

    assert persona_id == "tom_1"
    assert result.personas[-1] == Persona(
        id="tom_1",
        name="Tom",
        description="Careful buyer",
        goals=["Best price", "Fast delivery"],
        frustrations=["Hidden fees"],
    )
    assert [p.name for p in doc.personas] == ["Maya, the deal-seeker"]
    assert add_persona(result, "Tom the second")[1] == "tom_the_second_1"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "a persona needs a name"), ("   ", "a persona needs a name"), ("maya", "already a persona called 'Maya'")],
)
def test_a_persona_needs_a_name_no_other_persona_has(name: str, reason: str) -> None:
    doc, _, _ = with_personas("Maya")

    with pytest.raises(MapEditError, match=reason):
        add_persona(doc, name)


def test_updating_a_persona_changes_only_what_is_given() -> None:
    doc, (maya, tom), _ = with_personas("Maya", "Tom")

    result = update_persona(doc, maya, description="Shops on her phone", goals=["Deals", ""], frustrations=["Fees"])
    renamed = update_persona(result, maya, name=" MAYA ")

    assert renamed.personas[0] == Persona(
        id=maya, name="MAYA", description="Shops on her phone", goals=["Deals"], frustrations=["Fees"]
    )
    assert renamed.personas[1] == doc.personas[1]
    with pytest.raises(MapEditError, match="already a persona called 'Tom'"):
        update_persona(doc, maya, name="tom")
    with pytest.raises(MapEditError, match="a persona needs a name"):
        update_persona(doc, tom, name=" ")
    with pytest.raises(MapEditError, match="no persona with the id 'ghost'"):
        update_persona(doc, "ghost", description="?")


def test_removing_a_persona_takes_what_was_drawn_for_it_alone() -> None:
    doc, (maya, tom), card = with_personas("Maya", "Tom")
    doc = set_emotion(doc, card, -1)
    doc = set_emotion(set_emotion(doc, card, 2, persona=maya), card, -2, persona=tom)
    doc = add_pain_point(doc, card, "Everyone waits")
    doc = add_pain_point(doc, card, "Fees", persona=maya)
    doc = add_pain_point(doc, card, "Too many steps", persona=tom)

    result = remove_persona(doc, maya)

    node = result.node(card)
    assert node is not None
    assert [p.id for p in result.personas] == [tom]
    assert (node.emotion, node.persona_emotions) == (-1, {tom: -2})
    assert [(p.text, p.persona) for p in node.pain_points] == [("Everyone waits", None), ("Too many steps", tom)]
    with pytest.raises(MapEditError, match="no persona with the id"):
        remove_persona(result, maya)


def test_each_persona_feels_what_was_drawn_for_it_and_otherwise_what_every_persona_feels() -> None:
    doc, (maya, tom), card = with_personas("Maya", "Tom")
    doc = set_emotion(doc, card, -1)

    maya_happy = set_emotion(doc, card, 2, persona=maya)

    node = maya_happy.node(card)
    assert node is not None
    assert (node.emotion, node.persona_emotions) == (-1, {maya: 2})
    assert [emotion_for(node, p) for p in (maya, tom, None)] == [2, -1, -1]
    assert stage_emotions(maya_happy, tom) == [-1.0, None, None]
    assert stage_emotions(maya_happy, maya) == [2.0, None, None]
    # Read for nobody in particular, a map is read for its primary (first) persona.
    assert primary_persona(maya_happy) == maya
    assert stage_emotions(maya_happy) == [2.0, None, None]
    assert primary_persona(make_map()) is None


@pytest.mark.parametrize(
    ("node_id", "emotion", "persona", "reason"),
    [
        ("touchpoint_1", 3, None, "an emotion is from -2 to 2, not 3"),
        ("touchpoint_1", -3, "maya_1", "an emotion is from -2 to 2, not -3"),
        ("touchpoint_1", 1, "ghost", "no persona with the id 'ghost'"),
        ("ghost", 1, None, "no node with the id 'ghost'"),
    ],
)
def test_a_wrong_emotion_edit_is_refused(node_id: str, emotion: int, persona: str | None, reason: str) -> None:
    doc, _, _ = with_personas("Maya")

    with pytest.raises(MapEditError, match=reason):
        set_emotion(doc, node_id, emotion, persona=persona)


def test_pain_points_belong_to_the_persona_they_were_drawn_for() -> None:
    doc, (maya, tom), card = with_personas("Maya", "Tom")
    doc = add_pain_point(doc, card, " Slow site ")
    doc = add_pain_point(doc, card, "Fees", persona=maya, severity=Severity.HIGH)
    doc = add_pain_point(doc, card, "Fees", persona=tom)

    node = doc.node(card)
    assert node is not None
    assert [(p.text, p.severity, p.persona) for p in node.pain_points] == [
        ("Slow site", Severity.MEDIUM, None),
        ("Fees", Severity.HIGH, maya),
        ("Fees", Severity.MEDIUM, tom),
    ]
    assert [(i, p.persona) for i, p in pain_points_for(doc, node, maya)] == [(0, None), (1, maya)]
    assert [i for i, _ in pain_points_for(doc, node, tom)] == [0, 2]
    assert [i for i, _ in pain_points_for(doc, node, None)] == [0, 1, 2]


def test_a_pain_point_naming_a_persona_the_map_lacks_is_seen_by_every_persona() -> None:
    doc, (maya,), card = with_personas("Maya")
    doc = update_node(doc, card, {"pain_points": [{"text": "Pasted", "persona": "elsewhere"}]})
    node = doc.node(card)
    assert node is not None

    assert [p.text for _, p in pain_points_for(doc, node, maya)] == ["Pasted"]


@pytest.mark.parametrize(
    ("text", "persona", "reason"),
    [
        ("  ", None, "a pain point needs text$"),
        ("fees", "maya_1", "already has the pain point 'fees'"),
        ("SLOW SITE", "maya_1", "already has the pain point 'SLOW SITE'"),
        ("New", "ghost", "no persona with the id 'ghost'"),
    ],
)
def test_a_pain_point_twice_or_empty_is_refused(text: str, persona: str | None, reason: str) -> None:
    doc, (maya,), card = with_personas("Maya")
    doc = add_pain_point(add_pain_point(doc, card, "Slow site"), card, "Fees", persona=maya)

    with pytest.raises(MapEditError, match=reason):
        add_pain_point(doc, card, text, persona=persona)


def test_a_pain_point_is_edited_and_removed_by_its_place_on_the_card() -> None:
    doc, (maya,), card = with_personas("Maya")
    doc = add_pain_point(add_pain_point(doc, card, "Slow site"), card, "Fees", persona=maya)

    edited = edit_pain_point(doc, card, 1, text=" Hidden fees ", severity=Severity.HIGH)
    removed = remove_pain_point(edited, card, 0)

    node = removed.node(card)
    assert node is not None
    assert [(p.text, p.severity, p.persona) for p in node.pain_points] == [("Hidden fees", Severity.HIGH, maya)]
    assert edit_pain_point(doc, card, 1, text="fees") != doc
    with pytest.raises(MapEditError, match="a pain point needs text; to remove it, use its remove button"):
        edit_pain_point(doc, card, 0, text=" ")
    with pytest.raises(MapEditError, match="already has the pain point 'slow site'"):
        edit_pain_point(doc, card, 1, text="slow site")
    with pytest.raises(MapEditError, match="has no pain point number 3"):
        remove_pain_point(doc, card, 2)
    with pytest.raises(MapEditError, match="has no pain point number 0"):
        edit_pain_point(doc, card, -1, severity=Severity.LOW)


def test_opportunities_are_added_edited_and_removed_once_each() -> None:
    doc, _, card = with_personas()
    doc = add_opportunity(add_opportunity(doc, card, " Guest checkout "), card, "Show fees early")

    edited = edit_opportunity(doc, card, 0, "Guest checkout first")
    removed = remove_opportunity(edited, card, 1)

    node = removed.node(card)
    assert node is not None
    assert node.opportunities == ["Guest checkout first"]
    with pytest.raises(MapEditError, match="already has the opportunity 'guest checkout'"):
        add_opportunity(doc, card, "guest checkout")
    with pytest.raises(MapEditError, match="already has the opportunity 'Show fees early'"):
        edit_opportunity(doc, card, 0, "Show fees early")
    with pytest.raises(MapEditError, match="an opportunity needs text"):
        add_opportunity(doc, card, "")
    with pytest.raises(MapEditError, match="has no opportunity number 5"):
        remove_opportunity(doc, card, 4)
