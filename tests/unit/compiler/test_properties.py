"""Properties of the compiler over generated maps: it never raises, it only names ids the map holds,
it is deterministic, and a plan it builds is closed (every successor is a step of the plan) and has no
loop a customer could go round without waiting.

Maps come from four sources: arbitrary documents, well-formed journeys, mutations of those, and
mutations of the shipped starters."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compiler import (
    BranchStep,
    CompileResult,
    ExitStep,
    HumanTaskStep,
    Plan,
    ProblemSeverity,
    SplitStep,
    WaitForEventStep,
    WaitStep,
    compile_map,
)
from engine.map import SENDABLE_CHANNELS, Channel, JourneyMap, NodeKind, Operator
from engine.map.starters import list_templates, load_template

Doc = dict[str, Any]

FAST = settings(max_examples=150, deadline=None)

LABELS = st.none() | st.sampled_from(["yes", "no", "event", "timeout", "a", "b", "c", " ", "odd"])
# Zero is drawn on purpose: it is the boundary the wait and timeout rules are about.
DURATIONS = st.just(timedelta(0)) | st.timedeltas(min_value=timedelta(days=-1), max_value=timedelta(days=30))
POSITIVE_DURATIONS = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30))
# Any text a document may hold: a NUL character cannot be stored, and a lone surrogate is no text at all.
STORABLE_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=5)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | STORABLE_TEXT
)
TEXTS = st.sampled_from(
    [
        "",
        "Hi",
        "Hi {{ profile.first_name }}",
        "{{ event.cart_id }}",
        "{{ profile.shoe_size }}",
        "{{ journey.name }} {{ unsubscribe_url }}",
        "{% if event.coupon %}{{ event.coupon }}{% endif %}",
        "{% for i in event.items %}{{ i.name }}{% endfor %}",
        "{% if %}",
        "{{",
    ]
) | st.text(alphabet="{}%|.: abcdefgilnoprtuvx'\"-", max_size=30)
CRONS = st.sampled_from(["0 9 * * *", "*/15 8-18 * * mon-fri", "61 * * * *", "* * *", "0 9 * * 9"]) | st.text(
    alphabet="0123456789*/-, janmonSUN²", min_size=1, max_size=20
)


# Arbitrary documents: any kind anywhere, random labels, dangling edges, cycles, broken settings.


def conditions(min_size: int = 0) -> st.SearchStrategy[list[dict[str, Any]]]:
    condition = st.fixed_dictionaries(
        {
            "source": st.sampled_from(["trait", "event"]),
            "field": st.sampled_from(["plan", "cart_id", "country.code"]),
            "op": st.sampled_from(list(Operator)),
            "value": SCALARS | st.lists(SCALARS, max_size=3),
        }
    )
    return st.lists(condition, min_size=min_size, max_size=3)


TRIGGERS = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("event"),
            "event": st.sampled_from(["cart_abandoned", "signed_up"]),
            "filters": conditions(),
            "properties": st.lists(st.sampled_from(["cart_id", "coupon", "items"]), max_size=3),
        }
    ),
    st.fixed_dictionaries({"type": st.just("trait"), "conditions": conditions(min_size=1)}),
    st.fixed_dictionaries({"type": st.just("schedule"), "cron": CRONS, "audience": conditions()}),
)


def kind_fields(kind: NodeKind) -> st.SearchStrategy[dict[str, Any]]:
    optional_channel = st.none() | st.sampled_from(list(Channel))
    match kind:
        case NodeKind.TRIGGER:
            return st.fixed_dictionaries({"trigger": TRIGGERS})
        case NodeKind.WAIT:
            return st.fixed_dictionaries(
                {"duration": st.none() | DURATIONS, "until_local_time": st.none() | st.times()}
            )
        case NodeKind.WAIT_FOR_EVENT:
            return st.fixed_dictionaries(
                {"event": st.just("paid"), "timeout": DURATIONS, "correlate_on": st.none() | st.just("cart_id")}
            )
        case NodeKind.BRANCH:
            return st.fixed_dictionaries({"conditions": conditions(), "match": st.sampled_from(["all", "any"])})
        case NodeKind.SPLIT:
            arm = st.fixed_dictionaries(
                {
                    "name": st.sampled_from(["a", "b", "c"]),
                    "percent": st.floats(0, 100),
                    "holdout": st.booleans(),
                }
            )
            return st.fixed_dictionaries({"arms": st.lists(arm, max_size=4)})
        case NodeKind.SEND:
            content = st.fixed_dictionaries({"subject": TEXTS, "body": TEXTS, "url": TEXTS})
            return st.fixed_dictionaries(
                {"channel": optional_channel, "content": content, "fallback_channel": optional_channel}
            )
        case NodeKind.UPDATE_PROFILE:
            return st.fixed_dictionaries({"set_traits": st.dictionaries(st.sampled_from(["vip", "score"]), SCALARS)})
        case NodeKind.EXIT:
            return st.fixed_dictionaries({"reason": STORABLE_TEXT})
        case NodeKind.HUMAN_TASK:
            return st.fixed_dictionaries(
                {
                    "due": DURATIONS,
                    "outcomes": st.lists(st.sampled_from(["reached", "no answer", "overdue", "a", " "]), max_size=3),
                    "instructions": TEXTS,
                }
            )
    return st.fixed_dictionaries({"channel": optional_channel})


@st.composite
def any_node(draw: st.DrawFn, node_id: str, stages: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(NodeKind)))
    return {
        "id": node_id,
        "kind": kind.value,
        "stage": draw(st.sampled_from(stages)),
        "title": draw(st.sampled_from(["", "  ", "Welcome"])),
        **draw(kind_fields(kind)),
    }


SETTINGS = st.fixed_dictionaries(
    {
        "goal_event": st.none() | st.just("order_completed"),
        "default_timezone": st.sampled_from(["UTC", "Europe/Paris", "Mars/Olympus", "", "../etc"]),
        "frequency_cap": st.none() | st.fixed_dictionaries({"max_messages": st.integers(1, 5), "window": DURATIONS}),
        "quiet_hours": st.none() | st.fixed_dictionaries({"start": st.times(), "end": st.times()}),
        "profile_traits": st.lists(st.sampled_from(["shoe_size", "plan"]), max_size=2),
        "exit_criteria": st.lists(
            st.fixed_dictionaries({"event": st.just("refunded"), "correlate_on": st.none() | st.just("coupon")}),
            max_size=2,
        ),
    }
)


@st.composite
def any_map(draw: st.DrawFn) -> JourneyMap:
    stage_ids = draw(st.lists(st.sampled_from(["s0", "s1", "s2"]), unique=True, max_size=3))
    node_ids = [f"n{i}" for i in range(draw(st.integers(0, 14)))]
    nodes = [draw(any_node(node_id, [*stage_ids, "nowhere"])) for node_id in node_ids]
    ends = st.sampled_from([*node_ids, "ghost"])
    edges = draw(st.lists(st.tuples(ends, ends, LABELS), max_size=25))
    return JourneyMap.model_validate(
        {
            "name": "Generated",
            "stages": [{"id": s, "name": s.upper(), "order": i % 2} for i, s in enumerate(stage_ids)],
            "nodes": nodes,
            "edges": [
                {"id": f"e{i}", "source": s, "target": t, "label": label} for i, (s, t, label) in enumerate(edges)
            ],
            "settings": draw(SETTINGS),
        }
    )


# Well-formed journeys: every step reachable, the labels each kind needs, loops only through waits.

# Exits come from the free paths at the end; drawn mid-way they would mostly stop the map growing.
_ON_PATH = [kind for kind in NodeKind if kind not in {NodeKind.TRIGGER, NodeKind.EXIT}]
_CONTENT = {
    "subject": "Hi {{ profile.first_name }}",
    "body": "Your cart {{ event.cart_id }} is waiting",
    "url": "https://shop.example/cart/{{ event.cart_id }}",
}


@st.composite
def arms(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=4, unique=True))
    weights = draw(st.lists(st.integers(1, 9), min_size=len(names), max_size=len(names)))
    return [
        {"name": name, "percent": 100 * weight / sum(weights), "holdout": draw(st.booleans())}
        for name, weight in zip(names, weights, strict=True)
    ]


@st.composite
def step_fields(draw: st.DrawFn, kind: NodeKind) -> dict[str, Any]:
    match kind:
        case NodeKind.WAIT:
            if draw(st.booleans()):
                return {"duration": draw(POSITIVE_DURATIONS)}
            return {"until_local_time": draw(st.times())}
        case NodeKind.WAIT_FOR_EVENT:
            return {
                "event": "paid",
                "timeout": draw(POSITIVE_DURATIONS),
                "correlate_on": draw(st.none() | st.just("cart_id")),
            }
        case NodeKind.BRANCH:
            return {"conditions": [{"field": "plan", "op": draw(st.sampled_from(list(Operator))), "value": "pro"}]}
        case NodeKind.SPLIT:
            return {"arms": draw(arms())}
        case NodeKind.SEND:
            channel = draw(st.sampled_from(sorted(SENDABLE_CHANNELS)))
            others = sorted(SENDABLE_CHANNELS - {channel})
            return {
                "channel": channel,
                "content": dict(_CONTENT),
                "fallback_channel": draw(st.none() | st.sampled_from(others)),
            }
        case NodeKind.UPDATE_PROFILE:
            return {"set_traits": {"vip": draw(st.booleans())}}
        case NodeKind.TOUCHPOINT:
            return {"channel": draw(st.none() | st.sampled_from(list(Channel)))}
        case NodeKind.HUMAN_TASK:
            outcomes = draw(st.lists(st.sampled_from(["reached", "no answer", "saved"]), min_size=1, unique=True))
            return {"due": draw(POSITIVE_DURATIONS), "outcomes": outcomes, "instructions": "Call {{ profile.plan }}"}
    return {}


def slots(node: dict[str, Any]) -> list[tuple[str, str | None, bool]]:
    """(node id, label, whether a path must leave there) for each path a node may have."""
    node_id, kind = node["id"], node["kind"]
    if kind == NodeKind.EXIT:
        return []
    if kind == NodeKind.BRANCH:
        return [(node_id, "yes", True), (node_id, "no", True)]
    if kind == NodeKind.WAIT_FOR_EVENT:
        return [(node_id, "event", False), (node_id, "timeout", False)]
    if kind == NodeKind.SPLIT:
        return [(node_id, arm["name"], not arm["holdout"]) for arm in node["arms"]]
    if kind == NodeKind.HUMAN_TASK:
        return [(node_id, outcome, True) for outcome in node["outcomes"]] + [(node_id, "overdue", False)]
    return [(node_id, None, False)]


@st.composite
def well_formed_doc(draw: st.DrawFn, *, loops_anywhere: bool = False) -> Doc:
    """A journey with nothing wrong; with ``loops_anywhere`` its loops may also close without a wait, or
    lead back into the trigger."""
    stages = [
        {"id": f"s{i}", "name": f"Stage {i}", "order": draw(st.integers(0, 3))} for i in range(draw(st.integers(1, 4)))
    ]
    stage = st.sampled_from([s["id"] for s in stages])
    trigger = {"type": "event", "event": "cart_abandoned", "properties": ["cart_id"]}
    nodes: list[dict[str, Any]] = [{"id": "entry", "kind": "trigger", "stage": draw(stage), "trigger": trigger}]
    edges: list[tuple[str, str, str | None]] = []
    open_slots = slots(nodes[0])
    # Each new node hangs off a free path of an earlier one, so every node is reached from the trigger.
    for kind in draw(st.lists(st.sampled_from(_ON_PATH), max_size=20)):
        if not open_slots:
            break
        source, label, _ = open_slots.pop(draw(st.integers(0, len(open_slots) - 1)))
        node = {"id": f"n{len(nodes)}", "kind": kind.value, "stage": draw(stage), **draw(step_fields(kind))}
        edges.append((source, node["id"], label))
        nodes.append(node)
        open_slots.extend(slots(node))
    # Paths left free end the run, or loop back into a wait: forward paths never close a loop, so every
    # loop goes back into a wait and waits there.
    waits = [n["id"] for n in nodes if n["kind"] in {NodeKind.WAIT, NodeKind.WAIT_FOR_EVENT, NodeKind.HUMAN_TASK}]
    loop_targets = [n["id"] for n in nodes] if loops_anywhere else waits
    ending = False
    for source, label, required in open_slots:
        choice = draw(st.sampled_from(["end", "loop"] if required else ["leave", "end", "loop"]))
        if choice == "loop" and loop_targets:
            targets = st.sampled_from(loop_targets)
            # Back into the trigger about half the time: re-entry by a path must be refused wherever it starts.
            edges.append((source, draw(st.just("entry") | targets if loops_anywhere else targets), label))
        elif choice != "leave":
            edges.append((source, "end", label))
            ending = True
    if ending:
        nodes.append({"id": "end", "kind": "exit", "stage": draw(stage)})
    # Touchpoints off the path are part of the story; they may even loop among themselves.
    story = [{"id": f"story{i}", "kind": "touchpoint", "stage": draw(stage)} for i in range(draw(st.integers(0, 3)))]
    nodes.extend(story)
    for touchpoint in story:
        if draw(st.booleans()):
            edges.append((touchpoint["id"], draw(st.sampled_from(story))["id"], None))
    return {
        "name": "Well formed",
        "stages": stages,
        "nodes": nodes,
        "edges": [{"id": f"e{i}", "source": s, "target": t, "label": label} for i, (s, t, label) in enumerate(edges)],
        "settings": {"goal_event": "order_completed", "profile_traits": ["plan"]},
    }


# Mutations of well-formed journeys: the edits a designer makes half-way through a change.


@st.composite
def mutated_doc(draw: st.DrawFn) -> Doc:
    doc = draw(well_formed_doc())
    for mutation in range(draw(st.integers(1, 3))):
        nodes, edges = doc["nodes"], doc["edges"]
        ids = st.sampled_from([*(n["id"] for n in nodes), "ghost"])
        match draw(st.sampled_from(["drop_edge", "retarget", "resource", "relabel", "drop_node", "add_edge", "edit"])):
            case "drop_edge" if edges:
                edges.pop(draw(st.integers(0, len(edges) - 1)))
            case "retarget" if edges:
                draw(st.sampled_from(edges))["target"] = draw(ids)
            case "resource" if edges:
                draw(st.sampled_from(edges))["source"] = draw(ids)
            case "relabel" if edges:
                draw(st.sampled_from(edges))["label"] = draw(LABELS)
            case "drop_node" if nodes:
                nodes.pop(draw(st.integers(0, len(nodes) - 1)))
            case "add_edge":
                # Numbered by mutation, not by length: after a dropped edge a length repeats, and so would the id.
                edge = {"id": f"m{mutation}", "source": draw(ids), "target": draw(ids), "label": draw(LABELS)}
                edges.append(edge)
            case "edit" if nodes:
                node = draw(st.sampled_from(nodes))
                node.update(draw(edits(node["kind"])))
    return doc


def edits(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """A change to one field of a node of ``kind``, possibly to a wrong value."""
    anywhere = st.fixed_dictionaries({"stage": st.sampled_from(["s0", "nowhere"])})
    by_kind: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        NodeKind.WAIT: st.fixed_dictionaries({"duration": st.none() | DURATIONS}),
        NodeKind.WAIT_FOR_EVENT: st.fixed_dictionaries({"timeout": DURATIONS}),
        NodeKind.SPLIT: st.fixed_dictionaries({"arms": kind_fields(NodeKind.SPLIT).map(lambda f: f["arms"])}),
        NodeKind.SEND: kind_fields(NodeKind.SEND),
        NodeKind.BRANCH: st.fixed_dictionaries({"conditions": conditions()}),
        NodeKind.TRIGGER: st.fixed_dictionaries({"trigger": TRIGGERS}),
    }
    return anywhere | by_kind.get(kind, anywhere)


# Mutations of the starters: the shipped journeys, half-way through a designer's edit.

STARTERS = {name: load_template(name).model_dump(mode="json") for name in list_templates()}
EMPTY_CONTENT = st.fixed_dictionaries(
    {"subject": st.sampled_from(["", "Hi"]), "body": st.sampled_from(["", " "]), "url": st.just("")}
)
STARTER_MUTATIONS = [
    "delete_node",
    "delete_edge",
    "retarget",
    "insert_split",
    "percent",
    "clear",
    "self_loop",
    "trigger",
]


@st.composite
def mutated_starter(draw: st.DrawFn) -> Doc:
    doc = copy.deepcopy(STARTERS[draw(st.sampled_from(sorted(STARTERS)))])
    nodes, edges = doc["nodes"], doc["edges"]
    for i in range(draw(st.integers(1, 3))):
        ids = [n["id"] for n in nodes]
        of_kind = {kind: [n for n in nodes if n["kind"] == kind] for kind in ("trigger", "split", "send")}
        match draw(st.sampled_from(STARTER_MUTATIONS)):
            case "delete_node" if nodes:
                # Its edges stay behind, dangling, as they would on a canvas mid-edit.
                nodes.pop(draw(st.integers(0, len(nodes) - 1)))
            case "delete_edge" if edges:
                edges.pop(draw(st.integers(0, len(edges) - 1)))
            case "retarget" if edges:
                draw(st.sampled_from(edges))["target"] = draw(st.sampled_from([*ids, "ghost"]))
            case "insert_split" if edges:
                # The starters have no split: put one on a path, so there are percentages to change.
                edge = draw(st.sampled_from(edges))
                split_id, percent = f"split{i}", draw(st.sampled_from([0.0, 50.0, 100.0]) | st.floats(0, 100))
                arms = [{"name": "a", "percent": percent}, {"name": "b", "percent": 100 - percent}]
                nodes.append({"id": split_id, "kind": "split", "stage": doc["stages"][0]["id"], "arms": arms})
                for arm in arms:
                    edges.append(
                        {
                            "id": f"{split_id}_{arm['name']}",
                            "source": split_id,
                            "target": edge["target"],
                            "label": arm["name"],
                        }
                    )
                edge["target"] = split_id
            case "percent" if of_kind["split"]:
                arm = draw(st.sampled_from(draw(st.sampled_from(of_kind["split"]))["arms"]))
                arm["percent"] = draw(st.sampled_from([0.0, 100.0]) | st.floats(0, 100))
            case "clear" if of_kind["send"]:
                draw(st.sampled_from(of_kind["send"]))["content"] = draw(EMPTY_CONTENT)
            case "self_loop" if nodes:
                loop = draw(st.sampled_from(ids))
                edges.append({"id": f"loop{i}", "source": loop, "target": loop, "label": draw(LABELS)})
            case "trigger" if of_kind["trigger"]:
                nodes.append({**copy.deepcopy(of_kind["trigger"][0]), "id": f"trigger{i}"})
    return doc


# The properties


def assert_sound(doc: JourneyMap, result: CompileResult) -> None:
    """What every result must satisfy, whatever the map."""
    node_ids = {n.id for n in doc.nodes}
    edge_ids = {e.id for e in doc.edges}
    for problem in result.problems:
        assert problem.code
        assert problem.message
        assert problem.node_id is None or problem.node_id in node_ids, problem
        assert problem.edge_id is None or problem.edge_id in edge_ids, problem
    has_errors = any(p.severity is ProblemSeverity.ERROR for p in result.problems)
    assert (result.plan is None) == has_errors
    if result.plan is not None:
        assert_closed(doc, result.plan)
    assert compile_map(doc) == result
    assert compile_map(JourneyMap.from_json(doc.to_json())) == result


def assert_closed(doc: JourneyMap, plan: Plan) -> None:
    """Every executable node is a step, and each path of the plan is the map's path with its touchpoints
    skipped: it leads to a step of the plan or ends the run."""
    executable = [n.id for n in doc.nodes if n.kind not in {NodeKind.TRIGGER, NodeKind.TOUCHPOINT}]
    assert [s.id for s in plan.steps] == executable
    paths: list[tuple[str, str | None, str | None]] = [(plan.entry.node_id, None, plan.entry.first_step)]
    for step in plan.steps:
        match step:
            case WaitForEventStep():
                paths += [(step.id, "event", step.on_event), (step.id, "timeout", step.on_timeout)]
            case BranchStep():
                paths += [(step.id, "yes", step.if_true), (step.id, "no", step.if_false)]
            case SplitStep():
                paths += [(step.id, arm.name, arm.next) for arm in step.arms]
            case HumanTaskStep():
                paths += [(step.id, path.name, path.next) for path in step.outcomes]
                paths.append((step.id, "overdue", step.on_overdue))
            case ExitStep():
                pass
            case _:
                paths.append((step.id, None, step.next))
    for source, label, target in paths:
        assert target is None or target in executable, (source, label, target)
        assert target == spliced(doc, source, label), (source, label, target)
    # No loop of the plan avoids every wait: the runtime would walk it forever in one transaction.
    waits = {s.id for s in plan.steps if isinstance(s, WaitStep | WaitForEventStep | HumanTaskStep)}
    assert not looping_without(waits, ((s, t) for s, _, t in paths if t is not None))
    assert Plan.from_json(plan.to_json()) == plan


def looping_without(waits: set[str], links: Iterable[tuple[str, str]]) -> set[str]:
    """The nodes on or after a loop of ``links`` that passes none of ``waits``.

    Kahn's algorithm on the graph without its waits: what does not peel off is looping."""
    successors: dict[str, list[str]] = {}
    incoming: dict[str, int] = {}
    for source, target in links:
        if source in waits or target in waits:
            continue
        successors.setdefault(source, []).append(target)
        incoming[target] = incoming.get(target, 0) + 1
        incoming.setdefault(source, 0)
    ready = [step for step, count in incoming.items() if count == 0]
    while ready:
        for target in successors.get(ready.pop(), []):
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    return {step for step, count in incoming.items() if count}


def reached_links(doc: JourneyMap) -> list[tuple[str, str]]:
    """The map's edges whose source a path from the trigger reaches."""
    reached, frontier = {"entry"}, ["entry"]
    while frontier:
        source = frontier.pop()
        for edge in doc.edges:
            if edge.source == source and edge.target not in reached:
                reached.add(edge.target)
                frontier.append(edge.target)
    return [(e.source, e.target) for e in doc.edges if e.source in reached]


def spliced(doc: JourneyMap, source: str, label: str | None) -> str | None:
    """Where the map's path from ``source`` labelled ``label`` arrives once touchpoints are walked past."""
    kinds = {n.id: n.kind for n in doc.nodes}

    def follow(node_id: str, wanted: str | None) -> str | None:
        return next(
            (e.target for e in doc.edges if e.source == node_id and (e.label or "").strip() == (wanted or "")), None
        )

    target = follow(source, label)
    walked: set[str] = set()
    while target is not None and kinds[target] is NodeKind.TOUCHPOINT:
        # A plan must never be built over a loop of touchpoints; fail here rather than walk it forever.
        assert target not in walked, f"the path from {source!r} loops through touchpoints"
        walked.add(target)
        target = follow(target, None)
    return target


@FAST
@given(any_map())
def test_any_map_compiles_to_a_plan_or_problems(doc: JourneyMap) -> None:
    assert_sound(doc, compile_map(doc))


@FAST
@given(well_formed_doc())
def test_a_well_formed_journey_compiles_to_a_closed_plan(data: Doc) -> None:
    doc = JourneyMap.model_validate(data)

    result = compile_map(doc)

    assert result.errors == (), [p.message for p in result.errors]
    assert result.plan is not None
    assert_sound(doc, result)


@FAST
@given(well_formed_doc(loops_anywhere=True))
def test_a_loop_is_refused_exactly_when_no_wait_is_on_it_or_it_reenters(data: Doc) -> None:
    doc = JourneyMap.model_validate(data)
    waits = {n.id for n in doc.nodes if n.kind in {NodeKind.WAIT, NodeKind.WAIT_FOR_EVENT, NodeKind.HUMAN_TASK}}
    reenters = any(e.target == "entry" for e in doc.edges)

    result = compile_map(doc)

    assert {p.code for p in result.errors} <= {"cycle_without_wait", "edge_into_trigger"}
    assert bool(result.errors) == (reenters or bool(looping_without(waits, reached_links(doc))))
    assert_sound(doc, result)


@FAST
@given(mutated_doc())
def test_a_mutated_journey_compiles_to_a_plan_or_problems(data: Doc) -> None:
    doc = JourneyMap.model_validate(data)

    assert_sound(doc, compile_map(doc))


@FAST
@given(mutated_starter())
def test_a_mutated_starter_compiles_to_a_plan_or_problems(data: Doc) -> None:
    doc = JourneyMap.model_validate(data)

    assert_sound(doc, compile_map(doc))
