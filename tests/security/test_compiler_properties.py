"""Properties of reading and compiling hostile maps (issue 16): arbitrary, bounded mutations of the shipped
starters as JSON text (overlong durations, NaN and huge numbers, huge and NUL-bearing texts, lists grown past
their limits, deep nesting, unknown keys, removed fields) are either read as a document or refused with
pydantic's ``ValidationError``, and nothing else; what is read is within every limit and compiles to a plan
or to problems (the soundness ``tests/unit/compiler/test_properties.py`` checks), its durations addable to
any date up to the year 9000; ``journey compile`` and ``journey import`` answer 0 or 1, never a traceback."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.cli import main
from engine.compiler import WaitForEventStep, WaitStep, compile_map
from engine.map import MAX_DOCUMENT_BYTES, MAX_DURATION, MAX_NODES, JourneyMap, document_text_problem, out_of_bounds
from engine.map.starters import list_templates, load_template
from engine.store import journey_names, session_scope, upgrade_database
from tests.unit.compiler.test_properties import assert_sound

Doc = Any

STARTERS = {name: load_template(name).model_dump(mode="json") for name in list_templates()}
LATEST = datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)
GROWTH_BUDGET = MAX_DOCUMENT_BYTES + 2**20
DURATION_FIELDS = frozenset({"duration", "timeout", "window"})

DURATION_TEXTS = st.sampled_from(
    [
        *("P3000000D", "P999999999D", "P9999999999D", "-P3000000D", "P3660D", "P3661D", "P523W", "PT0S", "P1Y", ""),
        *("PT" + "9" * 40 + "S", "P" + "1" * 80 + "D"),
    ]
)
NUMBERS = (
    st.floats()
    | st.integers(-(2**64), 2**64)
    | st.sampled_from([1e6, 1e6 + 1, -1e6, -1e300, 1e308, 0.0, -0.0, 100.0, 100.5])
)
# Texts around each limit (120, 200, 2,000, 20,000, 200,000 characters) and with what breaks storage or parsing.
TEXTS = st.text(max_size=20) | st.builds(
    lambda piece, count: piece * count,
    st.sampled_from(["a", "{", "[", "\x00", "é", "{{ profile.x }}", "{% if a %}", '"']),
    st.sampled_from([1, 120, 121, 200, 201, 2_000, 2_001, 20_001, 100_001]),
)


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


LEAVES = st.none() | st.booleans() | NUMBERS | TEXTS | DURATION_TEXTS
VALUES = (
    st.recursive(
        LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    )
    | st.integers(1, 120).map(nested)
    # Copied at each draw: the mutations below change values in place, and a shared one would carry one test
    # case's changes into the next (hypothesis then sees its data generation change between runs).
    | st.sampled_from([{"x": float("nan"), "y": 0}, {"x": 1e7, "y": float("inf")}]).map(copy.deepcopy)
)


def slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key or index) of every value inside ``value``."""
    stack = [value]
    while stack:
        container = stack.pop()
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            yield container, key
            if isinstance(container[key], dict | list) and container[key]:
                stack.append(container[key])


@st.composite
def mutated_starter_text(draw: st.DrawFn) -> str:
    doc = copy.deepcopy(STARTERS[draw(st.sampled_from(sorted(STARTERS)))])
    for _ in range(draw(st.integers(1, 3))):
        container, key = draw(st.sampled_from(list(slots(doc))))
        match draw(st.sampled_from(["same_kind", "same_kind", "replace", "remove", "repeat", "add_key"])):
            case "same_kind":
                # A hostile value of the kind the field holds, so it gets past the type checks to the limits.
                current = container[key]
                if isinstance(current, str):
                    container[key] = draw(DURATION_TEXTS if key in DURATION_FIELDS else TEXTS)
                elif isinstance(current, int | float) and not isinstance(current, bool):
                    container[key] = draw(NUMBERS)
                else:
                    container[key] = draw(VALUES)
            case "replace":
                container[key] = draw(VALUES)
            case "remove":
                del container[key]
            case "repeat" if isinstance(container, list):
                # Grows a list (nodes, edges, pain points...) to around or past its limit; independent copies,
                # and no more than a file a little over the size bound holds, so the text stays bounded.
                wanted = draw(st.sampled_from([2, 1_000, MAX_NODES + 1]))
                copies = min(wanted, GROWTH_BUDGET // len(json.dumps(container[key], allow_nan=True)))
                container[key : key + 1] = [copy.deepcopy(container[key]) for _ in range(max(copies, 1))]
            case "add_key" if isinstance(container[key], dict):
                container[key][draw(st.text(min_size=1, max_size=6))] = draw(VALUES)
            case _:
                container[key] = draw(DURATION_TEXTS)
    return json.dumps(doc, allow_nan=True)


def read(text: str) -> JourneyMap | None:
    """The document, or None when it is refused; any other exception fails the property."""
    try:
        return JourneyMap.from_json(text)
    except ValidationError as error:
        refusal = error
    assert refusal.errors(), "a refusal names at least one reason"
    assert all(detail["msg"] for detail in refusal.errors())
    return None


PROPERTIES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTIES
@given(mutated_starter_text())
def test_a_mutated_starter_is_read_and_compiled_or_refused_and_nothing_else(text: str) -> None:
    doc = read(text)
    if doc is None:
        return

    assert list(out_of_bounds(doc)) == [], "a document read from JSON is within every limit"
    result = compile_map(doc)
    assert_sound(doc, result)
    if result.plan is not None:
        for step in result.plan.steps:
            if isinstance(step, WaitStep) and step.duration is not None:
                assert LATEST + abs(step.duration) <= LATEST + MAX_DURATION
            if isinstance(step, WaitForEventStep):
                assert LATEST + abs(step.timeout) <= LATEST + MAX_DURATION


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("maps")
    url = f"sqlite:///{folder / 'journeys.db'}"
    upgrade_database(url)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield folder
    finally:
        if previous is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = previous


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


@settings(PROPERTIES, max_examples=60)
@given(text=mutated_starter_text())
def test_journey_compile_and_import_answer_0_or_1_with_a_reason(workdir: Path, text: str) -> None:
    path = workdir / "map.json"
    path.write_text(text, encoding="utf-8")
    unreadable = document_text_problem(text)
    if unreadable is not None:
        for command in ("compile", "import"):
            assert run(command, str(path)) == (1, "", f"journey: {path} {unreadable}\n")
        return
    readable = read(text) is not None

    status, out, _ = run("compile", "--json", str(path))
    report = json.loads(out)
    assert status in {0, 1}
    assert report["ok"] == (status == 0)
    assert readable or not report["ok"]

    doc = read(text)
    with session_scope() as session:
        # Names are unique, ignoring case: a starter imported again is refused, naming a free name.
        taken = doc is not None and doc.name.strip().casefold() in {
            name.casefold() for name in journey_names(session=session).values()
        }
    status, out, err = run("import", str(path))
    if taken:
        assert (status, out) == (1, "")
        assert f"{path} was not stored: " in err
        assert "choose another name, such as" in err
    elif readable and status == 1:
        # A name the journeys list would refuse too (blank once trimmed, say) is refused with the reason.
        assert out == ""
        assert err.startswith(f"journey: {path} was not stored: ")
    elif readable:
        assert (status, err) == (0, "")
        assert int(out) > 0
    else:
        assert (status, out) == (1, "")
        assert f"{path} is not a journey map; nothing was stored" in err
