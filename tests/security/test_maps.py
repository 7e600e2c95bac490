"""Failing-first tests of hostile journey maps (issue 16): overflowing durations, NaN and huge positions, huge
texts and lists, a 100,000-deep or oversized file. Each is refused where a map comes in (the document's
validation, ``journey import`` and ``journey compile``, the HTTP API) with a message naming what is wrong and
the limit, and reported by the compiler when a map assembled in memory carries it; nothing is stored."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.accounts import create_api_token
from engine.cli import main
from engine.compiler import Plan, WaitForEventStep, WaitStep, compile_map
from engine.content import render_content
from engine.journeys import list_journeys
from engine.map import (
    MAX_BODY_LENGTH,
    MAX_COORDINATE,
    MAX_DURATION,
    MAX_EDGES,
    MAX_ITEMS,
    MAX_JSON_DEPTH,
    MAX_KEY_LENGTH,
    MAX_LONG_TEXT_LENGTH,
    MAX_NAME_LENGTH,
    MAX_NODES,
    MAX_PERSONAS,
    MAX_STAGES,
    MAX_TEXT_LENGTH,
    MAX_URL_LENGTH,
    DurationFormatError,
    JourneyMap,
    MapEditError,
    MessageContent,
    NodeKind,
    Position,
    TouchpointNode,
    add_node,
    add_stage,
    document_text_problem,
    move_nodes,
    out_of_bounds,
    parse_duration,
    paste,
    rename_stage,
)
from engine.map.starters import list_templates, load_template
from engine.runtime import Customer, Waiting, advance
from engine.store import Role, session_scope
from tests.integration.journey_harness import api_server

Doc = dict[str, Any]

TEN_YEARS = "10 years (P3660D)"
LATEST = datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)


def base_map() -> Doc:
    """A journey that compiles: entry, a wait, a wait for an order, an email; a persona and a cap."""
    return {
        "name": "Hostile",
        "personas": [{"id": "maya", "name": "Maya", "goals": ["Pay less"]}],
        "stages": [{"id": "s1", "name": "First", "order": 0}, {"id": "s2", "name": "Second", "order": 1}],
        "nodes": [
            {
                "id": "entry",
                "kind": "trigger",
                "stage": "s1",
                "trigger": {"type": "event", "event": "signed_up"},
                "pain_points": [{"text": "Too many forms"}],
                "opportunities": ["Ask less"],
            },
            {"id": "hold", "kind": "wait", "stage": "s1", "duration": "PT1H"},
            {"id": "paid", "kind": "wait_for_event", "stage": "s2", "event": "order_completed", "timeout": "P3D"},
            {
                "id": "mail",
                "kind": "send",
                "stage": "s2",
                "channel": "email",
                "content": {"subject": "Hello", "body": "A message", "url": "https://shop.example/"},
            },
            {"id": "bye", "kind": "exit", "stage": "s2", "reason": "done"},
        ],
        "edges": [
            {"id": "e1", "source": "entry", "target": "hold"},
            {"id": "e2", "source": "hold", "target": "paid"},
            {"id": "e3", "source": "paid", "target": "mail", "label": "timeout"},
            {"id": "e4", "source": "mail", "target": "bye"},
        ],
        "settings": {"goal_event": "order_completed", "frequency_cap": {"max_messages": 3, "window": "P1D"}},
    }


def node_of(doc: Doc, node_id: str) -> Doc:
    node: Doc = next(n for n in doc["nodes"] if n["id"] == node_id)
    return node


def as_json(doc: Doc) -> str:
    # NaN and Infinity are written as the bare tokens JavaScript's JSON.parse refuses but Python's accepts.
    return json.dumps(doc, allow_nan=True)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def stored_journeys(database: str) -> int:
    with session_scope(database) as session:
        return len(list_journeys(session=session))


def test_the_base_map_is_fine() -> None:
    doc = JourneyMap.from_json(as_json(base_map()))

    assert compile_map(doc).ok


# Durations


OVERLONG = ["P3000000D", "P999999999D", "P9999999999D", "PT" + "9" * 40 + "S", "-P3000000D", "P3661D", "P523W"]
# (where the duration goes, the node the problem names, the setter)
DURATION_PLACES: list[tuple[str, str | None, Callable[[Doc, str], None]]] = [
    ("wait", "hold", lambda doc, text: node_of(doc, "hold").update(duration=text)),
    ("timeout", "paid", lambda doc, text: node_of(doc, "paid").update(timeout=text)),
    ("cap_window", None, lambda doc, text: doc["settings"]["frequency_cap"].update(window=text)),
]


def with_duration(place: str, text: str) -> Doc:
    doc = base_map()
    setter = next(s for name, _, s in DURATION_PLACES if name == place)
    setter(doc, text)
    return doc


PLACE_NAMES = [name for name, _, _ in DURATION_PLACES]
NODE_OF_PLACE = {name: node for name, node, _ in DURATION_PLACES}


@pytest.mark.parametrize("text", OVERLONG)
@pytest.mark.parametrize("place", PLACE_NAMES)
def test_an_overlong_duration_is_refused_by_the_document_naming_the_limit(place: str, text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        JourneyMap.from_json(as_json(with_duration(place, text)))

    [error] = caught.value.errors()
    assert error["loc"][-1] in {"duration", "timeout", "window"}
    assert "10 years" in error["msg"] or "too long to be a duration" in error["msg"]


@pytest.mark.parametrize("place", PLACE_NAMES)
def test_journey_import_refuses_an_overlong_duration_naming_the_node_and_the_limit(
    place: str, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "map.json"
    path.write_text(as_json(with_duration(place, "P3000000D")), encoding="utf-8")

    status, out, err = run(capsys, "import", str(path))

    assert (status, out) == (1, "")
    assert f"{path} is not a journey map; nothing was stored" in err
    node = NODE_OF_PLACE[place]
    assert (f"node={node}" if node else "map") in err
    assert TEN_YEARS in err
    assert "Traceback" not in err
    assert stored_journeys(database) == 0


@pytest.mark.parametrize("place", PLACE_NAMES)
def test_journey_compile_reports_an_overlong_duration_on_its_node(
    place: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "map.json"
    path.write_text(as_json(with_duration(place, "P9999999999D")), encoding="utf-8")

    status, out, _ = run(capsys, "compile", "--json", str(path))

    assert status == 1
    [problem] = json.loads(out)["problems"]
    assert problem["node_id"] == NODE_OF_PLACE[place]
    assert "10 years" in problem["message"]


def with_timedelta_in_memory(place: str, delta: timedelta) -> JourneyMap:
    """The base map with ``delta`` set the way the canvas edits set fields: copied, not validated again."""
    doc = JourneyMap.from_json(as_json(base_map()))
    if place == "cap_window":
        assert doc.settings.frequency_cap is not None
        cap = doc.settings.frequency_cap.model_copy(update={"window": delta})
        return doc.model_copy(update={"settings": doc.settings.model_copy(update={"frequency_cap": cap})})
    field = {"wait": "duration", "timeout": "timeout"}[place]
    nodes = [n.model_copy(update={field: delta}) if n.id == NODE_OF_PLACE[place] else n for n in doc.nodes]
    return doc.model_copy(update={"nodes": nodes})


@pytest.mark.parametrize("delta", [timedelta(days=3_000_000), timedelta(days=-999_999_999), MAX_DURATION * 1.01])
@pytest.mark.parametrize("place", PLACE_NAMES)
def test_the_compiler_reports_an_overlong_duration_set_in_memory(place: str, delta: timedelta) -> None:
    result = compile_map(with_timedelta_in_memory(place, delta))

    assert result.plan is None
    # A negative one is also "not longer than zero", which its own rule reports.
    problem = result.errors[0]
    assert (problem.code, problem.node_id) == ("duration_too_long", NODE_OF_PLACE[place])
    assert TEN_YEARS in problem.message


def test_parse_duration_accepts_ten_years_and_refuses_longer_by_name() -> None:
    assert parse_duration("P3660D") == MAX_DURATION == parse_duration("-P3660D") * -1
    for text in OVERLONG:
        with pytest.raises(DurationFormatError, match=r"10 years|too long to be a duration"):
            parse_duration(text)


@settings(max_examples=200, deadline=None)
@given(
    days=st.integers(0, 10**12),
    seconds=st.integers(0, 10**15),
    place=st.sampled_from(PLACE_NAMES),
)
def test_every_duration_a_map_accepts_can_be_added_to_any_date_up_to_9000(days: int, seconds: int, place: str) -> None:
    text = f"P{days}DT{seconds}S"
    try:
        doc = JourneyMap.from_json(as_json(with_duration(place, text)))
    except ValidationError:
        return
    durations = [n.duration for n in doc.nodes if n.kind is NodeKind.WAIT]  # type: ignore[union-attr]
    durations += [n.timeout for n in doc.nodes if n.kind is NodeKind.WAIT_FOR_EVENT]  # type: ignore[union-attr]
    assert doc.settings.frequency_cap is not None
    for delta in [*durations, doc.settings.frequency_cap.window]:
        assert delta is not None
        assert LATEST + abs(delta) >= LATEST
        assert datetime(11, 1, 1, tzinfo=UTC) - abs(delta) <= LATEST


def test_the_runtime_schedules_the_longest_waits_from_the_year_9000() -> None:
    doc = base_map()
    node_of(doc, "hold")["duration"] = "P3660D"
    node_of(doc, "paid")["timeout"] = "P3660D"
    plan = compile_map(JourneyMap.from_json(as_json(doc))).plan
    assert plan is not None
    customer = Customer(enrollment_id=1, traits={})

    for step_id, kind in (("hold", WaitStep), ("paid", WaitForEventStep)):
        assert isinstance(plan.step(step_id), kind)
        outcome = advance(plan, start_at=step_id, customer=customer, now=LATEST).outcome
        assert isinstance(outcome, Waiting)
        assert outcome.due_at == LATEST + MAX_DURATION


def test_a_plan_published_before_durations_were_bounded_still_loads() -> None:
    # Refusing it would fail every intake and tick that loads the live journeys' plans; loaded, its journey
    # runs on and the runtime fails only the runs whose dates would overflow.
    doc = base_map()
    plan = compile_map(JourneyMap.from_json(as_json(doc))).plan
    assert plan is not None
    stored = json.loads(plan.to_json())
    for step in stored["steps"]:
        step.update({"duration": "P3000000D"} if step["kind"] == "wait" else {})
        step.update({"timeout": "P999999999D"} if step["kind"] == "wait_for_event" else {})
    stored["frequency_cap"]["window"] = "P3000000D"

    loaded = Plan.from_json(json.dumps(stored))

    assert isinstance(hold := loaded.step("hold"), WaitStep)
    assert hold.duration == timedelta(days=3_000_000)
    assert loaded.frequency_cap is not None
    assert loaded.frequency_cap.window == timedelta(days=3_000_000)
    stored["steps"][0]["duration"] = "P1000000000D"
    with pytest.raises(ValidationError, match="longer than any duration can be"):
        Plan.from_json(json.dumps(stored))


# Positions


BAD_COORDINATES = [math.nan, math.inf, -math.inf, MAX_COORDINATE * 10, -1e300]


@pytest.mark.parametrize("axis", ["x", "y"])
@pytest.mark.parametrize("value", BAD_COORDINATES, ids=str)
def test_a_position_that_is_not_a_finite_sane_number_is_refused(value: float, axis: str) -> None:
    doc = base_map()
    node_of(doc, "mail")["position"] = {"x": 10.0, "y": 10.0, axis: value}

    with pytest.raises(ValidationError) as caught:
        JourneyMap.from_json(as_json(doc))

    [error] = caught.value.errors()
    assert error["loc"][-2:] == ("position", axis)
    assert error["type"] in {"finite_number", "less_than_equal", "greater_than_equal"}


def test_a_position_at_the_bound_is_accepted() -> None:
    doc = base_map()
    node_of(doc, "mail")["position"] = {"x": -MAX_COORDINATE, "y": MAX_COORDINATE}

    assert compile_map(JourneyMap.from_json(as_json(doc))).ok


def test_journey_import_refuses_a_nan_position_naming_the_node(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = base_map()
    node_of(doc, "mail")["position"] = {"x": math.nan, "y": math.inf}
    path = tmp_path / "map.json"
    path.write_text(as_json(doc), encoding="utf-8")

    status, _, err = run(capsys, "import", str(path))

    assert status == 1
    assert "node=mail" in err
    assert "finite number" in err
    assert stored_journeys(database) == 0


@pytest.mark.parametrize("value", BAD_COORDINATES, ids=str)
def test_the_compiler_reports_a_position_set_in_memory(value: float) -> None:
    doc = JourneyMap.from_json(as_json(base_map()))
    nodes = [n.model_copy(update={"position": Position.model_construct(x=value, y=0.0)}) for n in doc.nodes]

    result = compile_map(doc.model_copy(update={"nodes": nodes}))

    assert result.plan is None
    assert [(p.code, p.node_id) for p in result.errors] == [("position_out_of_range", n.id) for n in doc.nodes]
    assert "1,000,000" in result.errors[0].message


# Texts


# (what, setter, limit): every text a map carries, with the longest it may be.
TEXTS: list[tuple[str, Callable[[Doc, str], None], int]] = [
    ("name", lambda d, t: d.update(name=t), MAX_NAME_LENGTH),
    ("description", lambda d, t: d.update(description=t), MAX_LONG_TEXT_LENGTH),
    ("stage name", lambda d, t: d["stages"][0].update(name=t), MAX_NAME_LENGTH),
    ("stage goal", lambda d, t: d["stages"][0].update(goal=t), MAX_TEXT_LENGTH),
    ("stage description", lambda d, t: d["stages"][0].update(description=t), MAX_LONG_TEXT_LENGTH),
    ("persona name", lambda d, t: d["personas"][0].update(name=t), MAX_NAME_LENGTH),
    ("persona description", lambda d, t: d["personas"][0].update(description=t), MAX_LONG_TEXT_LENGTH),
    ("persona goal", lambda d, t: d["personas"][0]["goals"].append(t), MAX_TEXT_LENGTH),
    ("title", lambda d, t: node_of(d, "mail").update(title=t), MAX_NAME_LENGTH),
    ("notes", lambda d, t: node_of(d, "mail").update(notes=t), MAX_LONG_TEXT_LENGTH),
    ("pain point", lambda d, t: node_of(d, "entry")["pain_points"].append({"text": t}), MAX_TEXT_LENGTH),
    ("opportunity", lambda d, t: node_of(d, "entry")["opportunities"].append(t), MAX_TEXT_LENGTH),
    ("subject", lambda d, t: node_of(d, "mail")["content"].update(subject=t), MAX_TEXT_LENGTH),
    ("body", lambda d, t: node_of(d, "mail")["content"].update(body=t), MAX_BODY_LENGTH),
    ("url", lambda d, t: node_of(d, "mail")["content"].update(url=t), MAX_URL_LENGTH),
    ("exit reason", lambda d, t: node_of(d, "bye").update(reason=t), MAX_TEXT_LENGTH),
    ("trigger event", lambda d, t: node_of(d, "entry")["trigger"].update(event=t), MAX_KEY_LENGTH),
    ("awaited event", lambda d, t: node_of(d, "paid").update(event=t), MAX_KEY_LENGTH),
    ("goal event", lambda d, t: d["settings"].update(goal_event=t), MAX_KEY_LENGTH),
]
TEXT_IDS = [what for what, _, _ in TEXTS]


@pytest.mark.parametrize(("what", "setter", "limit"), TEXTS, ids=TEXT_IDS)
def test_a_text_past_its_limit_is_refused_and_one_at_it_accepted(
    what: str, setter: Callable[[Doc, str], None], limit: int
) -> None:
    at_limit, past = base_map(), base_map()
    setter(at_limit, "a" * limit)
    setter(past, "a" * (limit + 1))

    JourneyMap.from_json(as_json(at_limit))
    with pytest.raises(ValidationError) as caught:
        JourneyMap.from_json(as_json(past))

    [error] = caught.value.errors()
    assert error["type"] == "string_too_long"
    assert f"at most {limit} characters" in error["msg"]


@pytest.mark.parametrize(("what", "setter", "limit"), TEXTS, ids=TEXT_IDS)
def test_a_nul_character_is_refused_in_any_text(what: str, setter: Callable[[Doc, str], None], limit: int) -> None:
    doc = base_map()
    setter(doc, "before\x00after")

    with pytest.raises(ValidationError, match="NUL character"):
        JourneyMap.from_json(as_json(doc))


def test_a_20_mb_description_is_refused_by_the_document() -> None:
    doc = base_map()
    doc["description"] = "x" * 20_000_000

    with pytest.raises(ValidationError, match=r"larger than 8 MiB \(8,388,608 bytes\)"):
        JourneyMap.from_json(as_json(doc))
    with pytest.raises(ValidationError, match=f"at most {MAX_LONG_TEXT_LENGTH} characters"):
        JourneyMap.model_validate(doc)


def test_the_compiler_reports_huge_texts_set_in_memory_on_their_node() -> None:
    doc = JourneyMap.from_json(as_json(base_map()))
    huge = "x" * 20_000_000
    nodes = [n.model_copy(update={"title": huge, "notes": huge}) if n.id == "mail" else n for n in doc.nodes]

    result = compile_map(doc.model_copy(update={"nodes": nodes, "description": huge}))

    assert [(p.code, p.node_id) for p in result.errors] == [
        ("text_too_long", None),
        ("text_too_long", "mail"),
        ("text_too_long", "mail"),
    ]
    assert result.errors[0].message == (
        "The journey's description is 20,000,000 characters long; at most 20,000 are accepted."
    )
    assert all(len(p.message) < 300 for p in result.problems)


def test_a_customers_message_may_render_past_the_template_limits() -> None:
    # The limits bound what a designer writes; a customer's data fills the rendered message, which the
    # engine renders into the same model and must not refuse.
    long_value = "x" * (MAX_BODY_LENGTH + 1) + "\x00"
    rendered = render_content(
        MessageContent(subject="{{ event.s }}", body="{{ event.s }}", url="https://shop.example/{{ event.s }}"),
        profile={},
        event={"s": long_value},
        journey_name="Hostile",
        unsubscribe_url="",
    )

    assert (rendered.subject, rendered.body) == (long_value, long_value)


# Lists


def many_touchpoints(doc: Doc, count: int) -> None:
    doc["nodes"] += [{"id": f"t{i}", "kind": "touchpoint", "stage": "s1"} for i in range(count)]


# (what, setter adding ``count`` items beyond what the base map has, limit, how many the base map has)
LISTS: list[tuple[str, Callable[[Doc, int], None], int, int]] = [
    ("nodes", many_touchpoints, MAX_NODES, 5),
    (
        "edges",
        lambda d, n: d["edges"].extend({"id": f"x{i}", "source": "hold", "target": "bye"} for i in range(n)),
        MAX_EDGES,
        4,
    ),
    (
        "stages",
        lambda d, n: d["stages"].extend({"id": f"st{i}", "name": f"S{i}", "order": i} for i in range(n)),
        MAX_STAGES,
        2,
    ),
    ("personas", lambda d, n: d["personas"].extend({"id": f"p{i}", "name": "P"} for i in range(n)), MAX_PERSONAS, 1),
    (
        "pain_points",
        lambda d, n: node_of(d, "entry")["pain_points"].extend({"text": "ouch"} for _ in range(n)),
        MAX_ITEMS,
        1,
    ),
    ("opportunities", lambda d, n: node_of(d, "entry")["opportunities"].extend(["more"] * n), MAX_ITEMS, 1),
]


@pytest.mark.parametrize(("what", "setter", "limit", "present"), LISTS, ids=[w for w, *_ in LISTS])
def test_a_list_past_its_limit_is_refused_and_one_at_it_accepted(
    what: str, setter: Callable[[Doc, int], None], limit: int, present: int
) -> None:
    at_limit, past = base_map(), base_map()
    setter(at_limit, limit - present)
    setter(past, limit - present + 1)

    JourneyMap.from_json(as_json(at_limit))
    with pytest.raises(ValidationError) as caught:
        JourneyMap.from_json(as_json(past))

    [error] = caught.value.errors()
    assert error["loc"][-1] == what
    assert f"at most {limit} items" in error["msg"]


def test_journey_import_refuses_too_many_nodes(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = base_map()
    many_touchpoints(doc, MAX_NODES)
    path = tmp_path / "map.json"
    path.write_text(as_json(doc), encoding="utf-8")

    status, _, err = run(capsys, "import", str(path))

    assert status == 1
    assert f"nodes: List should have at most {MAX_NODES} items" in err
    assert stored_journeys(database) == 0


def test_the_compiler_reports_too_many_nodes_assembled_in_memory() -> None:
    doc = JourneyMap.from_json(as_json(base_map()))
    story = [TouchpointNode(id=f"t{i}", stage="s1") for i in range(MAX_NODES)]

    result = compile_map(doc.model_copy(update={"nodes": [*doc.nodes, *story]}))

    assert [(p.code, p.node_id) for p in result.errors] == [("too_many_items", None)]
    assert result.errors[0].message == "The map's nodes number 5,005; at most 5,000 are accepted."


# Files


def deep_json(depth: int) -> str:
    return '{"name": "Deep", "description": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("command", ["import", "compile"])
def test_a_100k_deep_file_is_refused_naming_the_file_without_a_traceback(
    command: str, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(deep_json(100_000), encoding="utf-8")

    status, out, err = run(capsys, command, str(path))

    assert (status, out) == (1, "")
    assert err == (
        f"journey: {path} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
        "a journey map needs far fewer\n"
    )
    assert stored_journeys(database) == 0


@pytest.mark.parametrize("command", ["import", "compile"])
def test_a_file_over_the_size_bound_is_refused_naming_the_file(
    command: str, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = base_map()
    doc["description"] = "x" * 20_000_000
    path = tmp_path / "huge.json"
    path.write_text(as_json(doc), encoding="utf-8")

    status, out, err = run(capsys, command, str(path))

    assert (status, out) == (1, "")
    assert err == f"journey: {path} is larger than 8 MiB (8,388,608 bytes), the most a journey map may be\n"
    assert stored_journeys(database) == 0


def test_a_deep_text_is_refused_unparsed_by_the_document() -> None:
    with pytest.raises(ValidationError, match=f"more than {MAX_JSON_DEPTH} levels deep"):
        JourneyMap.from_json(deep_json(100_000))


def test_the_nesting_bound_counts_levels_not_brackets_inside_strings() -> None:
    inside = MAX_JSON_DEPTH - 1  # the document's own object is the first level
    assert document_text_problem(deep_json(inside)) is None
    assert document_text_problem(deep_json(inside + 1)) is not None
    assert document_text_problem(json.dumps({"name": "[{" * 100_000 + '\\"'})) is None
    assert document_text_problem("[" * 100_000) is not None


# The HTTP API: the same validation, answered 422 with what is wrong


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with session_scope(db_url) as session:
        token = create_api_token(session=session, name="designer", role=Role.DESIGNER).secret
    with api_server(db_url) as url, httpx.Client(base_url=url) as client:
        yield client, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def hostile_maps() -> list[Any]:
    cases = [
        pytest.param(with_duration(place, text), id=f"{place} {text}") for place in PLACE_NAMES for text in OVERLONG[:3]
    ]
    nan = base_map()
    node_of(nan, "mail")["position"] = {"x": math.nan, "y": 0}
    long_title = base_map()
    node_of(long_title, "mail")["title"] = "t" * (MAX_NAME_LENGTH + 1)
    return [*cases, pytest.param(nan, id="nan position"), pytest.param(long_title, id="long title")]


@pytest.mark.parametrize("doc", hostile_maps())
def test_the_api_answers_422_naming_the_field_for_a_hostile_map(
    doc: Doc, api: tuple[httpx.Client, dict[str, str]], db_url: str
) -> None:
    client, headers = api
    created = client.post("/api/journeys", content=as_json(base_map()), headers=headers)
    assert created.status_code == 201, created.text
    journey_id, revision = created.json()["id"], created.json()["revision"]
    body = as_json(doc).encode()

    answers = [
        client.post("/api/journeys", content=body, headers=headers),
        client.put(
            f"/api/journeys/{journey_id}/draft",
            content=b'{"expected_revision": %d, "map": %s}' % (revision, body),
            headers=headers,
        ),
    ]

    for answer in answers:
        assert answer.status_code == 422, answer.text
        [detail] = answer.json()["detail"]
        assert "nodes" in detail["loc"] or "settings" in detail["loc"]
        assert any(word in detail["msg"] for word in ("10 years", "finite number", "at most"))
    assert stored_journeys(db_url) == 1


# Edits: the canvas cannot take a map past a limit either


def test_an_edit_past_a_limit_is_refused_with_a_map_edit_error() -> None:
    doc = JourneyMap.from_json(as_json(base_map()))
    story = [TouchpointNode(id=f"t{i}", stage="s1") for i in range(MAX_NODES - len(doc.nodes))]
    full = doc.model_copy(update={"nodes": [*doc.nodes, *story]})

    with pytest.raises(MapEditError, match="at most 5,000 are accepted"):
        add_node(full, kind=NodeKind.TOUCHPOINT, position=Position(x=10, y=10))
    with pytest.raises(MapEditError, match="at most 200 characters"):
        add_stage(doc, "s" * (MAX_NAME_LENGTH + 1))
    with pytest.raises(MapEditError, match="at most 200 characters"):
        rename_stage(doc, "s1", "s" * (MAX_NAME_LENGTH + 1))
    placed = doc.nodes[0].model_copy(update={"position": Position(x=10, y=10)})
    with pytest.raises(MapEditError, match="cannot be placed"):
        paste(doc, [placed], [], offset=Position(x=MAX_COORDINATE, y=0))
    with pytest.raises(MapEditError, match="cannot be placed"):
        move_nodes(doc, {"mail": Position.model_construct(x=math.nan, y=0.0)})


# The shipped starters stay well inside every limit


@pytest.mark.parametrize("name", list_templates())
def test_the_starters_are_within_every_limit(name: str) -> None:
    doc = load_template(name)

    assert list(out_of_bounds(doc)) == []
    assert document_text_problem(doc.to_json()) is None
    assert compile_map(doc).ok
