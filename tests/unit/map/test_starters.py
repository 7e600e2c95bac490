from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine.compiler import (
    STANDARD_TRAITS,
    BranchStep,
    ExitStep,
    GoalStep,
    HumanTaskStep,
    Plan,
    SendStep,
    SplitStep,
    UpdateProfileStep,
    WaitForEventStep,
    WaitStep,
    compile_map,
)
from engine.content import render_content
from engine.map import (
    BranchNode,
    Channel,
    HumanTaskNode,
    JourneyMap,
    SendNode,
    SplitNode,
    TouchpointNode,
    TraitTrigger,
    TriggerNode,
    WaitForEventNode,
)
from engine.map.starters import UnknownTemplateError, list_templates, load_template

STARTERS = ["cart_abandonment", "trial_onboarding", "at_risk_save", "support_escalation"]
LANE_WIDTH = 320


def test_list_templates_names_the_four_starters_in_order() -> None:
    assert list_templates() == STARTERS


def test_list_templates_returns_a_fresh_list() -> None:
    list_templates().clear()

    assert list_templates() == STARTERS


def test_an_unknown_starter_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownTemplateError) as caught:
        load_template("newsletter")

    message = str(caught.value)
    assert "'newsletter'" in message
    for name in STARTERS:
        assert name in message


def test_unknown_template_error_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        load_template("../pyproject")


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_loads_as_a_journey_map(name: str) -> None:
    doc = load_template(name)

    assert isinstance(doc, JourneyMap)
    assert doc.name
    assert doc.description


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_is_drawn_like_a_journey_map(name: str) -> None:
    doc = load_template(name)

    assert 1 <= len(doc.personas) <= 2
    for persona in doc.personas:
        assert persona.description, persona.id
        assert persona.goals, persona.id
        assert persona.frustrations, persona.id
    assert 3 <= len(doc.stages) <= 5
    assert [stage.order for stage in doc.stages] == list(range(len(doc.stages)))
    for stage in doc.stages:
        assert stage.goal, stage.id
        assert stage.description, stage.id
    assert any(node.emotion != 0 for node in doc.nodes)
    assert len({node.emotion for node in doc.nodes}) >= 3, "emotions should tell a story, not sit on one value"
    assert any(node.pain_points for node in doc.nodes)
    assert any(node.opportunities for node in doc.nodes)
    assert any(isinstance(node, TouchpointNode) for node in doc.nodes)
    assert all(node.title for node in doc.nodes)


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_lays_nodes_out_in_their_stage_lanes(name: str) -> None:
    doc = load_template(name)
    lane = {stage.id: stage.order for stage in doc.stages}

    for node in doc.nodes:
        assert node.stage in lane, f"{node.id} is in unknown stage {node.stage}"
        left = lane[node.stage] * LANE_WIDTH
        assert left <= node.position.x < left + LANE_WIDTH, f"{node.id} is drawn outside its lane"
    places = [(node.stage, node.position.y) for node in doc.nodes]
    assert len(places) == len(set(places)), "two nodes in one lane overlap"


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_has_one_trigger_and_its_edges_are_labelled_by_their_source(name: str) -> None:
    doc = load_template(name)
    nodes = {node.id: node for node in doc.nodes}

    assert sum(isinstance(node, TriggerNode) for node in doc.nodes) == 1
    for edge in doc.edges:
        assert edge.target in nodes, edge.id
        match nodes[edge.source]:
            case BranchNode():
                assert edge.label in {"yes", "no"}, edge.id
            case WaitForEventNode():
                assert edge.label in {"event", "timeout"}, edge.id
            case SplitNode(arms=arms):
                assert edge.label in {arm.name for arm in arms}, edge.id
            case HumanTaskNode(outcomes=outcomes):
                assert edge.label in {*outcomes, "overdue"}, edge.id
            case _:
                assert edge.label is None, edge.id


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_compiles_without_errors_or_warnings(name: str) -> None:
    result = compile_map(load_template(name))

    assert [(p.severity.value, p.code, p.node_id, p.message) for p in result.problems] == []
    assert result.plan is not None


def _timeline(plan: Plan) -> dict[str, timedelta]:
    """When each step on the path of a customer who never does anything is reached, from entry."""
    reached: dict[str, timedelta] = {}
    elapsed = timedelta(0)
    current = plan.entry.first_step
    while current is not None:
        reached[current] = elapsed
        step = plan.step(current)
        match step:
            case WaitStep():
                assert step.duration is not None, f"{step.id} waits for a time of day; its delay depends on the clock"
                elapsed += step.duration
                current = step.next
            case WaitForEventStep():
                elapsed += step.timeout
                current = step.on_timeout
            case BranchStep():
                current = step.if_false
            case SplitStep():
                pytest.fail(f"{step.id} splits customers at random; the timeline has no single path")
            case SendStep() | GoalStep() | UpdateProfileStep():
                current = step.next
            case ExitStep():
                current = None
    return reached


def _compiled(name: str) -> Plan:
    plan = compile_map(load_template(name)).plan
    assert plan is not None
    return plan


def test_cart_abandonment_reminds_at_one_four_and_twenty_four_hours() -> None:
    plan = _compiled("cart_abandonment")
    timeline = _timeline(plan)
    sends = {step.channel: timeline[step.id] for step in plan.steps if isinstance(step, SendStep)}

    assert sends == {
        Channel.EMAIL: timedelta(hours=1),
        Channel.PUSH: timedelta(hours=4),
        Channel.SMS: timedelta(hours=24),
    }
    waits = [step for step in plan.steps if isinstance(step, WaitForEventStep)]
    assert all(step.event == "order_completed" and step.correlate_on == "cart_id" for step in waits)
    assert all(isinstance(plan.step(step.on_event or ""), GoalStep) for step in waits)
    assert plan.goal_event == "order_completed"
    assert {(c.event, c.correlate_on) for c in plan.exit_criteria} == {
        ("order_completed", "cart_id"),
        ("cart_emptied", None),
    }


def test_trial_onboarding_nudges_on_day_three_and_prompts_an_upgrade_on_day_twelve() -> None:
    plan = _compiled("trial_onboarding")
    timeline = _timeline(plan)

    assert timeline["tutorial_email"] == timedelta(days=1)
    assert timeline["invite_teammate"] == timedelta(days=3)
    assert timeline["upgrade_email"] == timedelta(days=12)
    assert max(timeline.values()) <= timedelta(days=14)
    assert plan.goal_event == "subscription_started"


def test_at_risk_save_gives_the_csm_a_call_task_when_the_admin_stays_away() -> None:
    plan = _compiled("at_risk_save")
    wait = next(step for step in plan.steps if isinstance(step, WaitForEventStep))
    call = plan.step(wait.on_timeout or "")

    assert isinstance(plan.entry.trigger, TraitTrigger)
    assert wait.event == "in_app_clicked"
    assert wait.timeout == timedelta(days=2)
    assert isinstance(call, HumanTaskStep)
    assert call.team == "csm"
    assert call.channel is Channel.VOICE
    assert [path.name for path in call.outcomes] == [
        "reached \N{EN DASH} saved",
        "reached \N{EN DASH} churning",
        "no answer",
    ]
    assert all(path.next for path in call.outcomes)
    escalation = plan.step(call.on_overdue or "")
    assert isinstance(escalation, SendStep)
    assert escalation.channel is Channel.WEBHOOK
    assert any(isinstance(step, BranchStep) and step.if_true and step.if_false for step in plan.steps)


def test_support_escalation_hands_a_requested_callback_to_the_voice_agent() -> None:
    plan = _compiled("support_escalation")
    wait = next(
        step for step in plan.steps if isinstance(step, WaitForEventStep) and step.event == "callback_requested"
    )
    handoff = plan.step(wait.on_event or "")

    assert wait.timeout == timedelta(minutes=30)
    assert isinstance(handoff, HumanTaskStep)
    assert handoff.team == "support"
    assert "event.conversation_id" in handoff.instructions
    assert {path.name for path in handoff.outcomes} == {"resolved", "needs follow-up", "no answer"}
    assert handoff.on_overdue is not None
    assert plan.goal_event == "issue_resolved"


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_s_messages_are_complete(name: str) -> None:
    doc = load_template(name)

    for node in doc.nodes:
        if not isinstance(node, SendNode):
            continue
        assert node.content.body, node.id
        if node.channel == "email":
            assert node.content.subject, node.id
            assert "{{ unsubscribe_url }}" in node.content.body, node.id
        if node.channel == "webhook":
            assert node.content.url.startswith("https://example.com/"), node.id
            json.loads(node.content.body)


def _entry_event(doc: JourneyMap, value: str) -> dict[str, str]:
    trigger = next(node.trigger for node in doc.nodes if isinstance(node, TriggerNode))
    return {name: value for name in trigger.properties} if trigger.type == "event" else {}


def _render_all(doc: JourneyMap, *, profile: dict[str, object], event: dict[str, str]) -> list[tuple[SendNode, str]]:
    rendered = []
    for node in doc.nodes:
        if isinstance(node, SendNode):
            content = render_content(
                node.content,
                profile=profile,
                event=event,
                journey_name=doc.name,
                unsubscribe_url="https://example.com/unsubscribe/abc",
            )
            rendered.append((node, content.body))
    return rendered


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_s_messages_render_for_a_customer_known_only_by_contact_details(name: str) -> None:
    doc = load_template(name)
    # Optional traits such as first_name must fall back to a default, or the message would fail to send.
    profile: dict[str, object] = {"email": "sam@example.com", "phone": "+15550100", "user_id": "u1"}
    profile |= {"health_score": 42, "role": "admin"} if name == "at_risk_save" else {}

    assert _render_all(doc, profile=profile, event=_entry_event(doc, "x"))


@pytest.mark.parametrize("name", STARTERS)
def test_a_starter_s_webhook_bodies_stay_json_whatever_the_values(name: str) -> None:
    doc = load_template(name)
    awkward = 'He said "hi" \\ then\nleft'
    profile: dict[str, object] = {trait: awkward for trait in STANDARD_TRAITS | set(doc.settings.profile_traits)}

    rendered = _render_all(doc, profile=profile, event=_entry_event(doc, awkward))

    for node, body in rendered:
        if node.channel == "webhook":
            assert awkward in _strings(json.loads(body)), node.id


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []
