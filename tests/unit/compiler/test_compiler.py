"""The compiler: one test per rule, the Plan it builds, and every problem reported at once.

Each rule's test checks the whole problem: its code, its severity, the node or edge it marks, and that
its message names that node the way the designer titled it.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from engine.compiler import (
    STANDARD_TRAITS,
    BranchStep,
    CompileResult,
    ExitStep,
    GoalStep,
    Plan,
    PlanArm,
    Problem,
    ProblemSeverity,
    SendStep,
    SplitStep,
    UpdateProfileStep,
    WaitForEventStep,
    WaitStep,
    compile_map,
)
from engine.map import Channel, JourneyMap, MessageContent
from engine.map.starters import list_templates, load_template

ERROR = ProblemSeverity.ERROR
WARNING = ProblemSeverity.WARNING

EdgeSpec = tuple[str, str] | tuple[str, str, str]

# Factories: small maps as dicts, so each test shows only what it is about. Nodes get a title made from
# their id ("mail" -> "Mail") unless a test gives one, so every message can be checked for it.


def node(node_id: str, kind: str, *, stage: str = "s1", **fields: Any) -> dict[str, Any]:
    fields.setdefault("title", node_id.replace("_", " ").capitalize())
    return {"id": node_id, "kind": kind, "stage": stage, **fields}


def trigger(
    node_id: str = "entry",
    *,
    event: str = "cart_abandoned",
    properties: list[str] | None = None,
    filters: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    spec = {"type": "event", "event": event, "properties": properties or [], "filters": filters or []}
    return node(node_id, "trigger", trigger=spec, **fields)


def send(
    node_id: str, channel: str | None = "email", *, subject: str = "Hello", body: str = "A message", **fields: Any
) -> dict[str, Any]:
    content = {"subject": subject, "body": body, "url": fields.pop("url", "")}
    return node(node_id, "send", channel=channel, content=content, **fields)


def wait(node_id: str, duration: str | None = "PT1H", **fields: Any) -> dict[str, Any]:
    return node(node_id, "wait", duration=duration, **fields)


def wait_for_event(
    node_id: str, *, event: str = "order_completed", timeout: str = "P1D", **fields: Any
) -> dict[str, Any]:
    return node(node_id, "wait_for_event", event=event, timeout=timeout, **fields)


def branch(node_id: str, *conditions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return node(
        node_id, "branch", conditions=list(conditions) or [{"field": "vip", "op": "eq", "value": True}], **fields
    )


def split(node_id: str, *arms: tuple[str, float] | tuple[str, float, bool], **fields: Any) -> dict[str, Any]:
    return node(
        node_id,
        "split",
        arms=[{"name": a[0], "percent": a[1], "holdout": a[2] if len(a) == 3 else False} for a in arms],
        **fields,
    )


def edges_of(edges: list[EdgeSpec] | tuple[EdgeSpec, ...]) -> list[dict[str, Any]]:
    """Edge documents with ids e0, e1, ... from (source, target) or (source, target, label)."""
    return [
        {"id": f"e{i}", "source": e[0], "target": e[1], "label": e[2] if len(e) == 3 else None}
        for i, e in enumerate(edges)
    ]


def journey(
    nodes: list[dict[str, Any]],
    edges: list[EdgeSpec],
    *,
    stages: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> JourneyMap:
    """A map in one stage ("s1") with a goal event; edges are (source, target) or (source, target, label)."""
    return JourneyMap.from_dict(
        {
            "name": "Cart recovery",
            "stages": stages if stages is not None else [{"id": "s1", "name": "Recover"}],
            "nodes": nodes,
            "edges": edges_of(edges),
            "settings": {"goal_event": "order_completed", **settings},
        }
    )


MINIMAL_EDGES: tuple[EdgeSpec, ...] = (("entry", "mail"), ("mail", "done"))


def simple(*extra_nodes: dict[str, Any], extra_edges: tuple[EdgeSpec, ...] = (), **settings: Any) -> JourneyMap:
    """The minimal map (trigger -> send -> exit) plus whatever the test adds; its own edges are e0 and e1."""
    return journey(
        [trigger(), send("mail"), node("done", "exit"), *extra_nodes], [*MINIMAL_EDGES, *extra_edges], **settings
    )


def minimal_map(**overrides: Any) -> JourneyMap:
    """A map that compiles with no problem at all, with top-level fields (nodes, edges, ...) replaced."""
    return JourneyMap.from_dict({**simple().model_dump(mode="json"), **overrides})


def found(result: CompileResult, code: str) -> list[Problem]:
    return [p for p in result.problems if p.code == code]


def only(result: CompileResult, code: str) -> Problem:
    """The single problem of the map, which must have ``code``."""
    assert [p.code for p in result.problems] == [code], [p.message for p in result.problems]
    return result.problems[0]


def assert_marks(
    problem: Problem,
    doc: JourneyMap,
    *,
    node_id: str | None = None,
    edge_id: str | None = None,
    severity: ProblemSeverity = ERROR,
) -> None:
    """The problem's severity, the node and edge it marks, and that its message names that node's title."""
    assert problem.severity is severity, problem
    assert (problem.node_id, problem.edge_id) == (node_id, edge_id), problem
    if node_id is not None:
        marked = doc.node(node_id)
        assert marked is not None
        assert f"'{marked.title}'" in problem.message, problem.message


def expect(
    doc: JourneyMap,
    code: str,
    *,
    node_id: str | None = None,
    edge_id: str | None = None,
    severity: ProblemSeverity = ERROR,
) -> Problem:
    """The map's single problem, which must have ``code`` and mark what the test says."""
    result = compile_map(doc)
    problem = only(result, code)
    assert_marks(problem, doc, node_id=node_id, edge_id=edge_id, severity=severity)
    assert (result.plan is None) == (severity is ERROR)
    return problem


# A valid map and its Plan


def test_the_minimal_map_compiles_without_problems() -> None:
    result = compile_map(minimal_map())

    assert result.problems == ()
    assert result.ok
    assert result.plan is not None
    assert result.plan.entry.first_step == "mail"
    assert [(s.id, getattr(s, "next", None)) for s in result.plan.steps] == [("mail", "done"), ("done", None)]


def test_a_valid_map_yields_a_plan_whose_steps_follow_the_labelled_paths() -> None:
    doc = journey(
        [
            trigger(properties=["cart_url"], stage="browse"),
            send("remind", body="Back to {{ event.cart_url }}", stage="browse"),
            wait_for_event("bought", stage="browse"),
            node("won", "goal", stage="buy"),
            branch("vip", stage="browse"),
            send("sms", "sms", subject="", body="Hi {{ profile.first_name }}", stage="browse"),
            split("ab", ("push", 50), ("control", 50, True), stage="browse"),
            send("nudge", "push", subject="", body="Still there?", stage="browse"),
            wait("pause", "PT2H", stage="browse"),
            node("tag", "update_profile", set_traits={"recovered": False}, stage="browse"),
            node("done", "exit", reason="gave up", stage="buy"),
        ],
        [
            ("entry", "remind"),
            ("remind", "bought"),
            ("bought", "won", "event"),
            ("bought", "vip", "timeout"),
            ("vip", "sms", "yes"),
            ("vip", "ab", "no"),
            ("ab", "nudge", "push"),
            ("nudge", "pause"),
            ("pause", "tag"),
            ("tag", "done"),
            ("sms", "done"),
        ],
        stages=[{"id": "buy", "name": "Buy", "order": 1}, {"id": "browse", "name": "Browse", "order": 0}],
    )

    result = compile_map(doc)

    assert result.problems == ()
    plan = result.plan
    assert plan is not None
    assert plan.journey_name == "Cart recovery"
    assert (plan.entry.node_id, plan.entry.stage, plan.entry.first_step) == ("entry", "browse", "remind")
    assert plan.stage_order == ("browse", "buy")
    assert plan.goal_event == "order_completed"
    steps = plan.step_index()
    assert list(steps) == ["remind", "bought", "won", "vip", "sms", "ab", "nudge", "pause", "tag", "done"]
    assert steps["remind"] == SendStep(
        id="remind",
        stage="browse",
        channel=Channel.EMAIL,
        content=MessageContent(subject="Hello", body="Back to {{ event.cart_url }}"),
        next="bought",
    )
    assert steps["bought"] == WaitForEventStep(
        id="bought",
        stage="browse",
        event="order_completed",
        timeout=timedelta(days=1),
        on_event="won",
        on_timeout="vip",
    )
    assert steps["won"] == GoalStep(id="won", stage="buy", next=None)
    assert isinstance(steps["vip"], BranchStep)
    assert (steps["vip"].if_true, steps["vip"].if_false) == ("sms", "ab")
    assert steps["ab"] == SplitStep(
        id="ab",
        stage="browse",
        arms=(
            PlanArm(name="push", percent=50, next="nudge"),
            PlanArm(name="control", percent=50, holdout=True, next=None),
        ),
    )
    assert steps["pause"] == WaitStep(id="pause", stage="browse", duration=timedelta(hours=2), next="tag")
    assert steps["tag"] == UpdateProfileStep(id="tag", stage="browse", set_traits=(("recovered", False),), next="done")
    assert steps["done"] == ExitStep(id="done", stage="buy", reason="gave up")
    assert isinstance(steps["sms"], SendStep)
    assert steps["sms"].next == "done"


def test_stage_order_follows_order_then_position_in_the_list() -> None:
    doc = journey(
        [trigger(stage="c"), node("done", "exit", stage="a"), node("tp", "touchpoint", stage="b")],
        [("entry", "done")],
        stages=[
            {"id": "c", "name": "C", "order": 2},
            {"id": "a", "name": "A", "order": 1},
            {"id": "b", "name": "B", "order": 1},
        ],
    )

    plan = compile_map(doc).plan

    assert plan is not None
    assert plan.stage_order == ("a", "b", "c")


def test_touchpoints_are_spliced_out_of_the_plan_following_chains() -> None:
    doc = journey(
        [
            trigger(),
            node("ad", "touchpoint", channel="web"),
            send("mail"),
            node("store", "touchpoint", channel="voice"),
            node("call", "touchpoint", channel="chat"),
            wait("later"),
            node("survey", "touchpoint"),
            node("story", "touchpoint", title="Reads reviews"),
        ],
        [("entry", "ad"), ("ad", "mail"), ("mail", "store"), ("store", "call"), ("call", "later"), ("later", "survey")],
    )

    result = compile_map(doc)

    assert result.problems == ()
    plan = result.plan
    assert plan is not None
    assert plan.entry.first_step == "mail"
    mail, later = plan.steps
    assert isinstance(mail, SendStep)
    assert isinstance(later, WaitStep)
    assert (mail.id, mail.next) == ("mail", "later")
    assert (later.id, later.next) == ("later", None)


def test_a_branch_path_through_a_touchpoint_is_resolved_by_its_label() -> None:
    doc = journey(
        [trigger(), branch("vip"), node("agent", "touchpoint", channel="voice"), node("yes_end", "exit"), wait("w")],
        [("entry", "vip"), ("vip", "agent", "yes"), ("agent", "yes_end"), ("vip", "w", "no")],
    )

    plan = compile_map(doc).plan

    assert plan is not None
    step = plan.step("vip")
    assert isinstance(step, BranchStep)
    assert (step.if_true, step.if_false) == ("yes_end", "w")


def test_the_plan_survives_a_json_round_trip() -> None:
    doc = journey(
        [
            trigger(properties=["cart_url"]),
            send("mail", body="{{ event.cart_url }}", fallback_channel="sms"),
            wait("morning", None, until_local_time="09:30:00"),
            split("ab", ("a", 100 / 3), ("b", 100 / 3), ("c", 100 / 3, True)),
            node("tag", "update_profile", set_traits={"score": 1.5, "vip": None}),
            wait_for_event("paid", correlate_on="cart_url"),
            node("done", "exit"),
        ],
        [
            ("entry", "mail"),
            ("mail", "morning"),
            ("morning", "ab"),
            ("ab", "tag", "a"),
            ("ab", "paid", "b"),
            ("tag", "done"),
            ("paid", "done", "timeout"),
        ],
        quiet_hours={"start": "21:00:00", "end": "08:00:00"},
        frequency_cap={"max_messages": 3, "window": "P1D"},
        exit_criteria=[{"event": "unsubscribed"}],
        default_timezone="Europe/Paris",
    )
    plan = compile_map(doc).plan
    assert plan is not None

    assert Plan.from_json(plan.to_json()) == plan
    morning = plan.step("morning")
    assert isinstance(morning, WaitStep)
    assert morning.until_local_time == time(9, 30)


@pytest.mark.parametrize("name", list_templates())
def test_every_starter_compiles_with_no_error(name: str) -> None:
    result = compile_map(load_template(name))

    assert result.errors == (), [p.message for p in result.errors]
    assert result.plan is not None
    assert Plan.from_json(result.plan.to_json()) == result.plan


def test_warnings_do_not_stop_the_plan() -> None:
    result = compile_map(simple(goal_event=None))

    assert [p.code for p in result.warnings] == ["no_goal"]
    assert result.errors == ()
    assert result.ok
    assert result.plan is not None


def test_every_problem_of_a_faulty_map_is_reported_at_once() -> None:
    doc = journey(
        [
            trigger(),
            trigger("again"),
            send("mail", None),
            wait("zero", "PT0S"),
            branch("vip"),
            split("ab", ("a", 60), ("b", 60)),
            node("lost", "goal"),
            node("ghost_stage", "exit", stage="nowhere"),
        ],
        [("entry", "mail"), ("mail", "zero"), ("zero", "vip"), ("vip", "ab", "yes"), ("ab", "missing", "a")],
        stages=[{"id": "s1", "name": "Recover"}, {"id": "s2", "name": "Empty"}],
        default_timezone="Mars/Olympus",
    )

    result = compile_map(doc)

    assert result.plan is None
    assert {(p.code, p.node_id, p.edge_id) for p in result.problems} == {
        ("multiple_triggers", "again", None),
        ("unknown_stage", "ghost_stage", None),
        ("edge_missing_node", None, "e4"),
        ("send_without_channel", "mail", None),
        ("non_positive_wait", "zero", None),
        ("split_percent_sum", "ab", None),
        ("branch_without_else", "vip", None),
        ("split_arm_without_path", "ab", None),
        ("unreachable_node", "lost", None),
        ("unreachable_node", "ghost_stage", None),
        ("empty_stage", None, None),
        ("invalid_timezone", None, None),
    }
    assert len(result.problems) == 13  # "ab" misses both arms' paths: one problem each
    assert {p.severity for p in result.problems if p.code != "empty_stage"} == {ERROR}


def test_messages_name_the_node_by_its_title_when_it_has_one() -> None:
    titled = compile_map(simple(send("loose", None, title="Welcome email")))
    untitled = compile_map(simple(send("loose", None, title="")))
    blank = compile_map(simple(send("loose", None, title="   ")))

    assert "'Welcome email'" in found(titled, "send_without_channel")[0].message
    assert "loose" in found(untitled, "send_without_channel")[0].message
    assert "loose" in found(blank, "send_without_channel")[0].message


def test_compile_is_pure_and_deterministic() -> None:
    doc = simple(
        send("loose", None),
        node("bad", "exit", stage="nowhere"),
        send("orphan", body="{{ profile.z }} {{ profile.a }} {{ event.b }}"),
    )
    before = doc.model_dump()

    first, second = compile_map(doc), compile_map(doc)

    assert first == second
    assert compile_map(JourneyMap.from_json(doc.to_json())) == first
    assert doc.model_dump() == before
    # Placeholders are reported in a stable (sorted) order, not the order of a set.
    assert [p.message.split("{{ ")[1].split(" }}")[0] for p in found(first, "unknown_placeholder")] == [
        "event.b",
        "profile.a",
        "profile.z",
    ]


# Entry


def test_no_trigger_is_an_error_reported_once() -> None:
    doc = minimal_map(nodes=[send("mail"), node("done", "exit")], edges=edges_of([("mail", "done")]))

    problem = expect(doc, "no_trigger")

    assert "trigger" in problem.message


def test_a_second_trigger_is_an_error_on_that_trigger() -> None:
    doc = journey(
        [trigger(), trigger("again", title="Signs up again"), node("done", "exit")],
        [("entry", "done"), ("again", "done")],
    )

    expect(doc, "multiple_triggers", node_id="again")


@pytest.mark.parametrize("source", ["mail", "story"])
def test_an_edge_into_the_trigger_is_an_error(source: str) -> None:
    # From a step, or from a touchpoint: spliced out, the touchpoint would lead a step into the trigger.
    doc = simple(node("story", "touchpoint"), extra_edges=((source, "entry"),))

    result = compile_map(doc)

    problem = found(result, "edge_into_trigger")[0]
    assert_marks(problem, doc, node_id="entry", edge_id="e2")
    assert result.plan is None


def test_a_touchpoint_a_step_leads_to_cannot_lead_into_the_trigger() -> None:
    doc = journey(
        [trigger(), send("mail"), wait("pause"), node("homepage", "touchpoint")],
        [("entry", "mail"), ("mail", "pause"), ("pause", "homepage"), ("homepage", "entry")],
    )

    expect(doc, "edge_into_trigger", node_id="entry", edge_id="e3")


# References


def test_an_unreachable_step_is_an_error() -> None:
    expect(simple(send("orphan")), "unreachable_node", node_id="orphan")


def test_a_step_only_a_standalone_touchpoint_leads_to_is_unreachable() -> None:
    doc = simple(node("store_visit", "touchpoint"), send("orphan"), extra_edges=(("store_visit", "orphan"),))

    expect(doc, "unreachable_node", node_id="orphan")


def test_a_touchpoint_may_stand_alone() -> None:
    result = compile_map(simple(node("store_visit", "touchpoint", channel="web"), node("call", "touchpoint")))

    assert result.problems == ()


def test_a_step_reached_only_through_a_touchpoint_is_reachable() -> None:
    doc = journey([trigger(), node("tp", "touchpoint"), node("done", "exit")], [("entry", "tp"), ("tp", "done")])

    assert compile_map(doc).problems == ()


@pytest.mark.parametrize(
    ("source", "target", "missing"),
    [("entry", "nowhere", ["nowhere"]), ("nowhere", "done", ["nowhere"]), ("ghost", "phantom", ["ghost", "phantom"])],
)
def test_an_edge_to_or_from_a_missing_node_is_an_error_on_that_edge(
    source: str, target: str, missing: list[str]
) -> None:
    result = compile_map(simple(extra_edges=((source, target),)))

    problem = only(result, "edge_missing_node")
    assert_marks(problem, simple(), edge_id="e2")
    assert "not on the map" in problem.message
    for name in missing:
        assert repr(name) in problem.message


def test_a_node_in_a_stage_that_does_not_exist_is_an_error() -> None:
    doc = journey([trigger(), node("done", "exit", stage="gone")], [("entry", "done")])

    problem = expect(doc, "unknown_stage", node_id="done")

    assert "'gone'" in problem.message


# Loops


def test_a_cycle_without_a_wait_is_an_error() -> None:
    doc = journey(
        [trigger(), send("a"), node("tag", "update_profile", set_traits={"x": 1}), node("tp", "touchpoint")],
        [("entry", "a"), ("a", "tag"), ("tag", "tp"), ("tp", "a")],
    )

    problem = expect(doc, "cycle_without_wait", node_id="a")

    # Reported once for the whole loop, on its first node in the map's order, naming its members.
    assert "'Tag'" in problem.message
    assert "'Tp'" in problem.message


def test_a_step_that_leads_to_itself_is_a_cycle_without_a_wait() -> None:
    doc = journey([trigger(), branch("loop")], [("entry", "loop"), ("loop", "loop", "yes"), ("loop", "loop", "no")])

    expect(doc, "cycle_without_wait", node_id="loop")


@pytest.mark.parametrize("waiting", [wait("pause"), wait_for_event("pause")])
def test_a_cycle_through_a_wait_is_fine(waiting: dict[str, Any]) -> None:
    label = "timeout" if waiting["kind"] == "wait_for_event" else None
    back: EdgeSpec = ("pause", "mail", label) if label else ("pause", "mail")
    doc = journey([trigger(), send("mail"), waiting], [("entry", "mail"), ("mail", "pause"), back])

    result = compile_map(doc)

    assert result.problems == ()
    assert result.plan is not None
    mail = result.plan.step("mail")
    assert isinstance(mail, SendStep)
    assert mail.next == "pause"
    pause = result.plan.step("pause")
    assert (pause.on_timeout if isinstance(pause, WaitForEventStep) else getattr(pause, "next", None)) == "mail"


def test_a_loop_of_touchpoints_nobody_reaches_is_only_a_drawing() -> None:
    result = compile_map(
        simple(node("t1", "touchpoint"), node("t2", "touchpoint"), extra_edges=(("t1", "t2"), ("t2", "t1")))
    )

    assert result.problems == ()


def test_a_reachable_loop_of_touchpoints_is_an_error() -> None:
    doc = journey(
        [trigger(), node("t1", "touchpoint"), node("t2", "touchpoint")], [("entry", "t1"), ("t1", "t2"), ("t2", "t1")]
    )

    expect(doc, "cycle_without_wait", node_id="t1")


def test_long_chains_and_loops_compile_without_recursion() -> None:
    # Deeper than Python's recursion limit: the graph walks must be iterative.
    count = 3_000
    chain = [send(f"n{i}", "sms", subject="") for i in range(count)]
    edges: list[EdgeSpec] = [("entry", "n0"), *((f"n{i}", f"n{i + 1}") for i in range(count - 1))]

    plan = compile_map(journey([trigger(), *chain], edges)).plan
    looped = compile_map(journey([trigger(), *chain], [*edges, (f"n{count - 1}", "n0")]))

    assert plan is not None
    assert len(plan.steps) == count
    assert [(p.code, p.node_id) for p in looped.problems] == [("cycle_without_wait", "n0")]


# Branches


def test_a_branch_without_a_no_path_is_an_error() -> None:
    doc = journey([trigger(), branch("vip"), node("done", "exit")], [("entry", "vip"), ("vip", "done", "yes")])

    expect(doc, "branch_without_else", node_id="vip")


def test_a_branch_without_a_yes_path_is_an_error() -> None:
    doc = journey([trigger(), branch("vip"), node("done", "exit")], [("entry", "vip"), ("vip", "done", "no")])

    expect(doc, "branch_without_yes", node_id="vip")


def test_a_branch_with_no_condition_is_an_error() -> None:
    doc = journey(
        [trigger(), node("vip", "branch"), node("done", "exit")],
        [("entry", "vip"), ("vip", "done", "yes"), ("vip", "done", "no")],
    )

    expect(doc, "branch_without_conditions", node_id="vip")


def branch_map(*conditions: dict[str, Any]) -> JourneyMap:
    return journey(
        [trigger(), branch("vip", *conditions), node("done", "exit")],
        [("entry", "vip"), ("vip", "done", "yes"), ("vip", "done", "no")],
    )


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte", "contains", "in"])
def test_a_condition_whose_operator_needs_a_value_must_have_one(op: str) -> None:
    problem = expect(branch_map({"field": "plan", "op": op}), "condition_missing_value", node_id="vip")

    assert "'plan'" in problem.message


@pytest.mark.parametrize("value", ["", []])
def test_an_empty_text_or_list_is_no_value(value: Any) -> None:
    expect(branch_map({"field": "plan", "op": "in", "value": value}), "condition_missing_value", node_id="vip")


@pytest.mark.parametrize("value", [0, 0.0, False])
def test_zero_and_false_are_values(value: Any) -> None:
    assert compile_map(branch_map({"field": "logins", "op": "eq", "value": value})).problems == ()


@pytest.mark.parametrize("op", ["exists", "not_exists"])
def test_exists_and_not_exists_need_no_value(op: str) -> None:
    doc = journey(
        [trigger(filters=[{"source": "event", "field": "cart_id", "op": op}]), node("done", "exit")],
        [("entry", "done")],
    )

    assert compile_map(doc).problems == ()


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "event", "event": "cart_abandoned", "filters": [{"field": "country", "op": "eq"}]},
        {"type": "trait", "conditions": [{"field": "country", "op": "ne", "value": ""}]},
        {"type": "schedule", "cron": "0 9 * * 1", "audience": [{"field": "country", "op": "in", "value": []}]},
    ],
    ids=["event filter", "trait condition", "schedule audience"],
)
def test_trigger_conditions_are_checked_for_missing_values(spec: dict[str, Any]) -> None:
    doc = journey([node("entry", "trigger", trigger=spec), node("done", "exit")], [("entry", "done")])

    problem = expect(doc, "condition_missing_value", node_id="entry")

    assert "'country'" in problem.message


# Splits


def split_map(
    *arms: tuple[str, float] | tuple[str, float, bool], edges: tuple[EdgeSpec, ...] | None = None
) -> JourneyMap:
    arm_edges = edges if edges is not None else tuple(("ab", "done", arm[0]) for arm in arms)
    return journey([trigger(), split("ab", *arms), node("done", "exit")], [("entry", "ab"), *arm_edges])


@pytest.mark.parametrize(("percents", "total"), [((50, 40), "90%"), ((60, 50), "110%"), ((0, 0), "0%")])
def test_split_percentages_must_add_up_to_100(percents: tuple[float, float], total: str) -> None:
    problem = expect(split_map(("a", percents[0]), ("b", percents[1])), "split_percent_sum", node_id="ab")

    assert total in problem.message


def test_split_percentages_tolerate_float_rounding() -> None:
    third = 100 / 3

    assert compile_map(split_map(("a", third), ("b", third), ("c", third))).problems == ()
    assert compile_map(split_map(("a", 33.3333333), ("b", 33.3333333), ("c", 33.3333334))).problems == ()


def test_a_split_arm_with_no_path_is_an_error_unless_it_is_a_holdout() -> None:
    missing = split_map(("a", 50), ("b", 50), edges=(("ab", "done", "a"),))
    holdout = split_map(("a", 50), ("b", 50, True), edges=(("ab", "done", "a"),))

    assert "'b'" in expect(missing, "split_arm_without_path", node_id="ab").message
    assert compile_map(holdout).problems == ()


@pytest.mark.parametrize("arms", [(), (("all", 100),)])
def test_a_split_needs_at_least_two_arms(arms: tuple[tuple[str, float], ...]) -> None:
    doc = split_map(*arms)

    result = compile_map(doc)

    (problem,) = found(result, "split_needs_two_arms")
    assert_marks(problem, doc, node_id="ab")
    assert result.plan is None


def test_split_arm_names_must_be_unique() -> None:
    doc = split_map(("a", 50), ("a", 50), edges=(("ab", "done", "a"),))

    assert "'a'" in expect(doc, "duplicate_arm_name", node_id="ab").message


# Sends


def test_a_send_without_a_channel_is_an_error() -> None:
    doc = journey([trigger(), send("mail", None)], [("entry", "mail")])

    expect(doc, "send_without_channel", node_id="mail")


@pytest.mark.parametrize(
    ("channel", "content", "missing"),
    [
        ("email", {"subject": "", "body": "Hi"}, "no subject to send"),
        ("email", {"subject": "Hi", "body": "  "}, "no body to send"),
        ("email", {"subject": " ", "body": "\n"}, "no subject or body to send"),
        ("sms", {"subject": "Hi", "body": ""}, "no body to send"),
        ("push", {"body": "", "url": "https://shop.example/cart"}, "no body to send"),
        ("in_app", {}, "no body to send"),
        ("webhook", {"body": "{}"}, "no URL to send"),
        ("webhook", {"body": "{}", "url": "   "}, "no URL to send"),
    ],
)
def test_a_send_needs_the_content_its_channel_requires(channel: str, content: dict[str, str], missing: str) -> None:
    doc = journey([trigger(), node("msg", "send", channel=channel, content=content)], [("entry", "msg")])

    problem = expect(doc, "send_without_content", node_id="msg")

    assert missing in problem.message


@pytest.mark.parametrize(
    ("channel", "content"),
    [
        ("email", {"subject": "Hi", "body": "Hello"}),
        ("sms", {"body": "Hi"}),
        ("push", {"body": "Hi"}),
        ("in_app", {"body": "Hi"}),
        ("webhook", {"url": "https://x"}),
    ],
)
def test_each_sendable_channel_accepts_its_minimal_content(channel: str, content: dict[str, str]) -> None:
    doc = journey([trigger(), node("msg", "send", channel=channel, content=content)], [("entry", "msg")])

    result = compile_map(doc)

    assert result.problems == ()
    assert result.plan is not None
    step = result.plan.step("msg")
    assert isinstance(step, SendStep)
    assert step.channel == channel


@pytest.mark.parametrize("channel", ["web", "chat", "voice"])
def test_a_send_on_a_touchpoint_only_channel_is_an_error(channel: str) -> None:
    doc = journey([trigger(), send("msg", channel)], [("entry", "msg")])

    problem = expect(doc, "channel_not_sendable", node_id="msg")

    assert channel in problem.message


@pytest.mark.parametrize("fallback", ["email", "web", "voice"], ids=["same channel", "web", "voice"])
def test_a_fallback_must_be_another_sendable_channel(fallback: str) -> None:
    doc = journey([trigger(), send("mail", fallback_channel=fallback)], [("entry", "mail")])

    expect(doc, "invalid_fallback_channel", node_id="mail")


# Waits


@pytest.mark.parametrize("duration", ["PT0S", "-PT5M"])
def test_a_wait_must_last_longer_than_zero(duration: str) -> None:
    doc = journey([trigger(), wait("pause", duration)], [("entry", "pause")])

    expect(doc, "non_positive_wait", node_id="pause")


@pytest.mark.parametrize(("duration", "until"), [(None, None), ("PT1H", "09:00:00")])
def test_a_wait_needs_exactly_one_of_duration_and_time_of_day(duration: str | None, until: str | None) -> None:
    doc = journey([trigger(), wait("pause", duration, until_local_time=until)], [("entry", "pause")])

    expect(doc, "wait_needs_one_of", node_id="pause")


@pytest.mark.parametrize("timeout", ["PT0S", "-P1D"])
def test_a_wait_for_event_timeout_must_be_longer_than_zero(timeout: str) -> None:
    # Its own code since 38c3df8 (not non_positive_wait), so the canvas can point at the timeout field.
    doc = journey([trigger(), wait_for_event("paid", timeout=timeout)], [("entry", "paid")])

    expect(doc, "non_positive_timeout", node_id="paid")


# Content


def content_map(*, properties: list[str] | None = None, **content: str) -> JourneyMap:
    return journey(
        [trigger(properties=properties), node("msg", "send", channel="email", content={"subject": "S", **content})],
        [("entry", "msg")],
    )


@pytest.mark.parametrize(
    "body",
    [
        "{{ profile.loyalty_tier }}",
        "{{ event.coupon }}",
        "{{ journey.owner }}",
        "{{ cart_url }}",
        "{{ profile }}",
        "{% if customer.vip %}VIP{% endif %}",
    ],
    ids=["undeclared trait", "undeclared property", "journey field", "unknown root", "bare root", "in a tag"],
)
def test_an_unknown_placeholder_is_an_error(body: str) -> None:
    problem = expect(content_map(body=body), "unknown_placeholder", node_id="msg")

    assert "body" in problem.message


def test_known_placeholders_pass() -> None:
    doc = journey(
        [
            trigger(properties=["cart_url"], filters=[{"source": "event", "field": "store", "op": "exists"}]),
            node(
                "msg",
                "send",
                channel="email",
                content={
                    "subject": "{{ profile.first_name | default: 'there' }}, {{ profile.loyalty_tier }}",
                    "body": (
                        "{{ event.cart_url }} {{ event.store }} {{ event.cart_id }} {{ event.order_id }} "
                        "{{ event.cart_url.host }} {{ journey.name }} {{ unsubscribe_url }}"
                        "{% for item in event.cart_url %}{{ item.name }}{% endfor %}"
                        "{% assign greeting = 'Hi' %}{{ greeting }}"
                    ),
                },
            ),
            wait_for_event("paid", correlate_on="cart_id"),
        ],
        [("entry", "msg"), ("msg", "paid")],
        profile_traits=["loyalty_tier"],
        exit_criteria=[{"event": "refunded", "correlate_on": "order_id"}],
    )

    assert compile_map(doc).problems == ()
    assert {"email", "first_name", "last_name", "phone", "user_id", "timezone", "locale"} <= STANDARD_TRAITS


def test_every_standard_trait_is_known() -> None:
    body = " ".join(f"{{{{ profile.{trait} }}}}" for trait in sorted(STANDARD_TRAITS))

    assert compile_map(content_map(body=body)).problems == ()


def test_event_placeholders_need_an_event_to_enter_by() -> None:
    doc = journey(
        [
            node("entry", "trigger", trigger={"type": "trait", "conditions": [{"field": "plan", "op": "exists"}]}),
            send("msg", body="{{ event.cart_id }}"),
            wait_for_event("paid", correlate_on="cart_id"),
        ],
        [("entry", "msg"), ("msg", "paid")],
    )

    assert "no event starts this journey" in expect(doc, "unknown_placeholder", node_id="msg").message


@pytest.mark.parametrize("part", ["subject", "url"])
def test_placeholders_in_subject_and_url_are_checked(part: str) -> None:
    doc = content_map(body="Hi", **{part: "{{ profile.shoe_size }}"})

    expected = "URL" if part == "url" else "subject"
    assert expected in expect(doc, "unknown_placeholder", node_id="msg").message


@pytest.mark.parametrize("body", ["Hi {{ profile.first_name", "{% if profile.email %}open", "{{ profile.email | }}"])
def test_invalid_liquid_is_an_error(body: str) -> None:
    problem = expect(content_map(body=body), "invalid_template", node_id="msg")

    assert "not valid Liquid" in problem.message
    assert "body" in problem.message


# Paths out of each kind


@pytest.mark.parametrize(
    ("source", "label"),
    [
        (trigger(), None),
        (wait("from"), None),
        (send("from"), None),
        (node("from", "update_profile", set_traits={"a": 1}), None),
        (node("from", "goal"), None),
        (node("from", "touchpoint"), None),
        (wait_for_event("from"), "event"),
        (wait_for_event("from"), "timeout"),
        (branch("from"), "yes"),
        (branch("from"), "no"),
        (split("from", ("a", 50), ("b", 50)), "a"),
    ],
)
def test_too_many_paths_out_of_a_node_is_an_error(source: dict[str, Any], label: str | None) -> None:
    source_id = source["id"]
    nodes = [source, node("x", "exit"), node("y", "exit")]
    edges: list[EdgeSpec] = [(source_id, t, label) if label else (source_id, t) for t in ("x", "y")]
    if source_id != "entry":
        nodes.append(trigger())
        edges.append(("entry", source_id))
    doc = journey(nodes, edges)

    (problem,) = found(compile_map(doc), "too_many_edges")

    assert_marks(problem, doc, node_id=source_id, edge_id="e1")


def test_an_exit_leads_nowhere() -> None:
    expect(simple(wait("w"), extra_edges=(("done", "w"),)), "too_many_edges", node_id="done", edge_id="e2")


@pytest.mark.parametrize(
    ("source", "label", "expected"),
    [
        (send("from"), "yes", "no label"),
        (wait_for_event("from"), None, "'event' or 'timeout'"),
        (wait_for_event("from"), "yes", "'event' or 'timeout'"),
        (branch("from"), "maybe", "'no' or 'yes'"),
        (branch("from"), None, "'no' or 'yes'"),
        (split("from", ("a", 50), ("b", 50, True)), "c", "'a' or 'b'"),
    ],
)
def test_a_path_with_a_label_its_node_does_not_know_is_an_error(
    source: dict[str, Any], label: str | None, expected: str
) -> None:
    edge: EdgeSpec = ("from", "done", label) if label else ("from", "done")
    doc = journey([trigger(), source, node("done", "exit")], [("entry", "from"), edge])

    (problem,) = found(compile_map(doc), "unexpected_edge_label")

    assert_marks(problem, doc, node_id="from", edge_id="e1")
    assert expected in problem.message


def test_a_blank_label_counts_as_no_label() -> None:
    doc = journey([trigger(), node("done", "exit")], [("entry", "done", "  ")])

    assert compile_map(doc).problems == ()


def test_labels_are_read_without_surrounding_blanks() -> None:
    doc = journey(
        [trigger(), branch("vip"), node("done", "exit"), node("bye", "exit")],
        [("entry", "vip"), ("vip", "done", " yes "), ("vip", "bye", "no\n")],
    )

    result = compile_map(doc)

    assert result.problems == ()
    assert result.plan is not None
    step = result.plan.step("vip")
    assert isinstance(step, BranchStep)
    assert (step.if_true, step.if_false) == ("done", "bye")


# Stages, goal and settings


def test_a_stage_with_no_steps_is_a_warning() -> None:
    doc = journey(
        [trigger(), node("done", "exit")],
        [("entry", "done")],
        stages=[{"id": "s1", "name": "Recover"}, {"id": "s2", "name": "Win back"}],
    )

    problem = expect(doc, "empty_stage", severity=WARNING)

    assert "'Win back'" in problem.message


def test_a_journey_with_no_goal_gets_a_warning() -> None:
    problem = expect(simple(goal_event=None), "no_goal", severity=WARNING)

    assert "goal" in problem.message


def test_a_goal_node_is_a_goal() -> None:
    doc = journey([trigger(), node("won", "goal")], [("entry", "won")], goal_event=None)

    assert compile_map(doc).problems == ()


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "utc+2", "../etc/passwd", "Europe/"])
def test_an_unknown_default_timezone_is_an_error(zone: str) -> None:
    problem = expect(simple(default_timezone=zone), "invalid_timezone")

    assert repr(zone) in problem.message


def schedule_map(cron: str) -> JourneyMap:
    spec = {"type": "schedule", "cron": cron}
    return journey([node("entry", "trigger", trigger=spec), node("done", "exit")], [("entry", "done")])


def test_a_valid_cron_schedule_passes() -> None:
    # Which expressions are valid is tested on cron_problem itself, in test_compiler_cron.py.
    result = compile_map(schedule_map("*/15 8-18 * * mon-fri"))

    assert result.problems == ()
    assert result.plan is not None
    assert result.plan.entry.trigger.type == "schedule"


def test_an_invalid_cron_schedule_is_an_error() -> None:
    problem = expect(schedule_map("60 9 * * *"), "invalid_cron", node_id="entry")

    assert "minute" in problem.message


@pytest.mark.parametrize("window", ["PT0S", "-PT1H"])
def test_a_frequency_cap_needs_a_positive_window(window: str) -> None:
    doc = simple(frequency_cap={"max_messages": 2, "window": window})

    assert "frequency cap" in expect(doc, "invalid_frequency_cap").message


def test_quiet_hours_that_start_when_they_end_are_a_warning() -> None:
    doc = simple(quiet_hours={"start": "22:00:00", "end": "22:00:00"})

    assert "22:00" in expect(doc, "empty_quiet_hours", severity=WARNING).message


def test_a_profile_update_that_changes_nothing_is_a_warning() -> None:
    doc = journey([trigger(), node("tag", "update_profile")], [("entry", "tag")])

    expect(doc, "empty_profile_update", node_id="tag", severity=WARNING)


@pytest.mark.parametrize(
    "body",
    [
        "{{ event.items[0] }}",
        "{{ event.items[0].name }}",
        "{{ event['items'][1].sku }}",
        "{{ event.items[0].tags[2] }}",
        "{{ profile.nicknames[0] }}",
    ],
)
def test_an_item_of_a_declared_list_is_known(body: str) -> None:
    doc = journey(
        [trigger(properties=["items"]), send("msg", body=body)], [("entry", "msg")], profile_traits=["nicknames"]
    )

    assert compile_map(doc).problems == ()


@pytest.mark.parametrize("path", ["event.lines[0]", "profile.nickname[0]", "event.item[0]"])
def test_an_item_of_an_undeclared_list_is_unknown(path: str) -> None:
    doc = content_map(properties=["items"], body=f"{{{{ {path} }}}}")

    assert f"{{{{ {path} }}}}" in expect(doc, "unknown_placeholder", node_id="msg").message
