"""The human-task card: what the compiler says about it, the step it compiles to, and how a run waits on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.compiler import HumanTaskStep, compile_map
from engine.map import JourneyMap, NodeKind, Position, add_node, connect
from engine.runtime import Customer, TaskOpened, Waiting, advance, after_task
from tests.engine_factories import event_trigger, journey_map, node, send

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)


def call(**fields: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "title": "Call them",
        "team": "csm",
        "instructions": "Call {{ profile.first_name }}",
        "due": "P1D",
        "outcomes": ["reached", "no answer"],
    }
    return node("call", "human_task", channel="voice", **{**defaults, **fields})


def task_map(*, task: dict[str, Any] | None = None, edges: list[tuple[str, str, str]] | None = None) -> JourneyMap:
    paths = (
        edges
        if edges is not None
        else [("call", "thanks", "reached"), ("call", "sorry", "no answer"), ("call", "escalate", "overdue")]
    )
    return journey_map(
        [event_trigger("signed_up"), task or call(), send("thanks"), send("sorry"), send("escalate")],
        [("entry", "call"), *paths],
    )


def codes(doc: JourneyMap) -> dict[str, str]:
    return {problem.code: problem.severity.value for problem in compile_map(doc).problems}


def test_a_connected_task_compiles_to_a_step_with_a_path_per_outcome_and_one_when_overdue() -> None:
    result = compile_map(task_map())

    assert result.ok, result.problems
    assert result.plan is not None
    step = result.plan.step("call")
    assert isinstance(step, HumanTaskStep)
    assert (step.title, step.team, step.due) == ("Call them", "csm", timedelta(days=1))
    assert [(path.name, path.next) for path in step.outcomes] == [("reached", "thanks"), ("no answer", "sorry")]
    assert step.on_overdue == "escalate"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"outcomes": []}, "task_without_outcomes"),
        ({"outcomes": ["reached", "reached", "no answer"]}, "duplicate_task_outcome"),
        ({"outcomes": ["reached", "no answer", "overdue"]}, "reserved_task_outcome"),
        ({"outcomes": ["reached", "no answer", " "]}, "blank_task_outcome"),
        ({"due": "PT0S"}, "non_positive_due"),
        ({"instructions": "Call {{ profile.shoe_size }}"}, "unknown_placeholder"),
        ({"instructions": "Call {{ profile.first_name "}, "invalid_template"),
    ],
)
def test_a_task_s_own_settings_are_checked(fields: dict[str, Any], code: str) -> None:
    assert codes(task_map(task=call(**fields))).get(code) == "error"


def test_an_outcome_without_a_path_is_an_error_and_no_overdue_path_a_warning() -> None:
    found = codes(task_map(edges=[("call", "thanks", "reached")]))

    assert found["task_outcome_without_path"] == "error"
    assert found["task_without_overdue_path"] == "warning"


def test_a_path_labelled_with_no_outcome_of_the_task_is_refused() -> None:
    found = codes(task_map(edges=[("call", "thanks", "reached"), ("call", "sorry", "maybe")]))

    assert found["unexpected_edge_label"] == "error"


def test_a_loop_through_a_task_needs_no_other_wait() -> None:
    doc = journey_map(
        [event_trigger("signed_up"), call(), send("retry")],
        [("entry", "call"), ("call", "retry", "no answer"), ("retry", "call"), ("call", "retry", "reached")],
    )

    assert "cycle_without_wait" not in codes(doc)


def test_the_canvas_adds_a_task_card_and_connects_its_outcomes_then_its_overdue_path() -> None:
    doc = task_map()
    doc, added = add_node(doc, kind=NodeKind.HUMAN_TASK, position=Position(x=10, y=400), stage="s1")
    labels = []
    for target in ("thanks", "sorry", "escalate"):
        doc, edge_id = connect(doc, source=added, target=target)
        labels.append(next(e.label for e in doc.edges if e.id == edge_id))

    assert labels == ["reached", "no answer", "overdue"]


def test_a_run_reaching_the_card_opens_the_task_and_waits_until_it_is_due() -> None:
    plan = compile_map(task_map()).plan
    assert plan is not None

    walked = advance(plan, start_at="call", customer=Customer(enrollment_id=1, traits={}), now=NOW)

    assert walked.outcome == Waiting(step_id="call", due_at=NOW + timedelta(days=1))
    opened = [effect for effect in walked.effects if isinstance(effect, TaskOpened)]
    assert [(o.step.id, o.due_at) for o in opened] == [("call", NOW + timedelta(days=1))]
    step = plan.step("call")
    assert isinstance(step, HumanTaskStep)
    assert after_task(step, outcome="no answer") == "sorry"
    assert after_task(step, outcome=None) == "escalate"
    with pytest.raises(KeyError, match="no outcome 'maybe'"):
        after_task(step, outcome="maybe")
