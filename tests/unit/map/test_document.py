from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any, Literal, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from engine.map import JourneyMap, NodeKind, UpdateProfileNode, json_schema
from engine.map.starters import list_templates, load_template

SCHEMA_RESOURCE = "schema/journey-map.schema.json"


def event_trigger() -> dict[str, Any]:
    return {
        "type": "event",
        "event": "cart_abandoned",
        "filters": [{"source": "event", "field": "cart_total", "op": "gte", "value": 20.5}],
        "properties": ["cart_id", "cart_url"],
    }


def trait_trigger() -> dict[str, Any]:
    return {
        "type": "trait",
        "match": "any",
        "conditions": [
            {"source": "trait", "field": "health_score", "op": "lt", "value": 60},
            {"source": "trait", "field": "plan", "op": "in", "value": ["pro", "team", None]},
        ],
    }


def schedule_trigger() -> dict[str, Any]:
    return {
        "type": "schedule",
        "cron": "0 9 * * 1",
        "audience": [{"source": "trait", "field": "newsletter", "op": "eq", "value": True}],
    }


def full_map_data(trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    """A document that sets every field of every model to something other than its default."""
    common = {
        "stage": "recover",
        "channel": "web",
        "emotion": -2,
        "persona_emotions": {"p1": 1},
        "pain_points": [{"text": "Slow checkout", "severity": "high", "persona": "p1"}],
        "opportunities": ["Guest checkout"],
        "notes": "why this step exists",
    }
    nodes: list[dict[str, Any]] = [
        {
            **common,
            "id": "start",
            "kind": "trigger",
            "title": "Start",
            "position": {"x": 40.5, "y": -80},
            "trigger": trigger or event_trigger(),
        },
        {**common, "id": "pause", "kind": "wait", "title": "Wait", "duration": "PT1H30M", "position": {"x": 1, "y": 2}},
        {
            **common,
            "id": "until_morning",
            "kind": "wait",
            "title": "Until nine",
            "until_local_time": "09:00:00",
            "position": {"x": 1, "y": 3},
        },
        {
            **common,
            "id": "ordered",
            "kind": "wait_for_event",
            "title": "Ordered?",
            "event": "order_completed",
            "correlate_on": "cart_id",
            "timeout": "P1W",
            "position": {"x": 1, "y": 4},
        },
        {
            **common,
            "id": "vip",
            "kind": "branch",
            "title": "VIP?",
            "match": "any",
            "conditions": [
                {"source": "trait", "field": "tier", "op": "ne", "value": "basic"},
                {"source": "event", "field": "cart_total", "op": "contains", "value": 1},
                {"source": "trait", "field": "vip", "op": "exists", "value": False},
            ],
            "position": {"x": 1, "y": 5},
        },
        {
            **common,
            "id": "ab",
            "kind": "split",
            "title": "A/B",
            "arms": [
                {"name": "a", "percent": 45.5, "holdout": False},
                {"name": "hold", "percent": 54.5, "holdout": True},
            ],
            "position": {"x": 1, "y": 6},
        },
        {
            **common,
            "id": "mail",
            "kind": "send",
            "title": "Mail",
            "channel": "email",
            "fallback_channel": "sms",
            "content": {
                "subject": "Hi {{ profile.first_name }}",
                "body": "{{ unsubscribe_url }}",
                "url": "https://x",
                "button": "Open",
            },
            "position": {"x": 1, "y": 7},
        },
        {
            **common,
            "id": "tag",
            "kind": "update_profile",
            "title": "Tag",
            "set_traits": {"text": "a", "count": 2, "ratio": 0.25, "flag": True, "cleared": None},
            "position": {"x": 1, "y": 8},
        },
        {**common, "id": "won", "kind": "goal", "title": "Won", "position": {"x": 1, "y": 9}},
        {**common, "id": "done", "kind": "exit", "title": "Done", "reason": "gave up", "position": {"x": 1, "y": 10}},
        {**common, "id": "store", "kind": "touchpoint", "title": "Store", "position": {"x": 1, "y": 11}},
        {
            **common,
            "id": "call",
            "kind": "human_task",
            "title": "Call them",
            "position": {"x": 1, "y": 12},
            "team": "csm",
            "instructions": "Call {{ profile.first_name }}",
            "due": "PT36H",
            "outcomes": ["reached", "no answer"],
        },
    ]
    return {
        "format": "1.0",
        "name": "Everything",
        "description": "Every field set",
        "personas": [
            {"id": "p1", "name": "Maya", "description": "Shopper", "goals": ["deal"], "frustrations": ["fees"]},
        ],
        "stages": [{"id": "recover", "name": "Recover", "goal": "Finish", "description": "Reminders", "order": 3}],
        "nodes": nodes,
        "edges": [
            {"id": "e1", "source": "start", "target": "pause", "label": None},
            {"id": "e2", "source": "vip", "target": "mail", "label": "yes"},
        ],
        "settings": {
            "goal_event": "order_completed",
            "exit_criteria": [{"event": "order_completed", "correlate_on": "cart_id"}],
            "reentry": "never",
            "frequency_cap": {"max_messages": 3, "window": "P1D"},
            "quiet_hours": {"start": "21:00:00", "end": "08:00:00"},
            "default_timezone": "Europe/Paris",
            "pause_policy": "send_late",
            "profile_traits": ["tier"],
        },
    }


def _models(value: object) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
        for name in type(value).model_fields:
            yield from _models(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _models(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _models(item)


def _fields_never_set(doc: JourneyMap) -> set[str]:
    """``Model.field`` for each field that no instance of its model in ``doc`` sets away from the default.

    Single-value tags (``kind``, ``type``, ``format``) are left out: they cannot differ from their default.
    """
    seen: dict[type[BaseModel], set[str]] = {}
    for model in _models(doc):
        cls = type(model)
        fields = seen.setdefault(
            cls, {name for name, info in cls.model_fields.items() if get_origin(info.annotation) is not Literal}
        )
        for name, info in cls.model_fields.items():
            if info.is_required() or getattr(model, name) != info.get_default(call_default_factory=True):
                fields.discard(name)
    return {f"{cls.__name__}.{name}" for cls, names in seen.items() for name in names}


@pytest.mark.parametrize("trigger", [event_trigger(), trait_trigger(), schedule_trigger()], ids=lambda t: t["type"])
def test_every_field_survives_a_json_round_trip(trigger: dict[str, Any]) -> None:
    doc = JourneyMap.from_dict(full_map_data(trigger))

    again = JourneyMap.from_json(doc.to_json())

    assert again == doc
    assert again.model_dump(mode="json") == doc.model_dump(mode="json")
    assert again.to_json() == doc.to_json()


def test_the_full_map_factory_really_sets_every_field_and_node_kind() -> None:
    # Guards the round-trip test above: a field added to the document must be added to the factory.
    doc = JourneyMap.from_dict(full_map_data())

    assert {node.kind for node in doc.nodes} == set(NodeKind)
    assert _fields_never_set(doc) == set()


def test_scalar_types_are_kept_apart_through_json() -> None:
    doc = JourneyMap.from_json(JourneyMap.from_dict(full_map_data()).to_json())
    tag = doc.node("tag")

    assert isinstance(tag, UpdateProfileNode)
    kinds = [type(tag.set_traits[k]) for k in ("text", "count", "ratio", "flag", "cleared")]
    assert kinds == [str, int, float, bool, type(None)]


@pytest.mark.parametrize("name", list_templates())
def test_every_starter_round_trips_through_json(name: str) -> None:
    doc = load_template(name)

    text = doc.to_json()
    again = JourneyMap.from_json(text)

    assert again == doc
    assert again.to_json() == text
    assert JourneyMap.from_json(again.to_json(indent=None)) == doc


def _error_text(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        JourneyMap.from_dict(data)
    return str(caught.value)


def test_an_emotion_outside_minus_two_to_two_is_refused() -> None:
    data = full_map_data()
    data["nodes"][1]["emotion"] = 3

    message = _error_text(data)

    assert "nodes.1.wait.emotion" in message
    assert "less than or equal to 2" in message


def test_duplicate_node_ids_are_refused_naming_the_id() -> None:
    data = full_map_data()
    data["nodes"][2]["id"] = "pause"

    assert "two nodes share the id 'pause'" in _error_text(data)


def test_duplicate_stage_ids_are_refused_naming_the_id() -> None:
    data = full_map_data()
    data["stages"].append({"id": "recover", "name": "Again"})

    assert "two stages share the id 'recover'" in _error_text(data)


def test_an_unknown_node_kind_is_refused_naming_it_and_the_known_ones() -> None:
    data = full_map_data()
    data["nodes"][1]["kind"] = "teleport"

    message = _error_text(data)

    assert "'teleport'" in message
    assert "'kind'" in message
    assert "'wait_for_event'" in message


@pytest.mark.parametrize("text", ["1h", "P1M", "", "soon"])
def test_a_duration_that_is_not_iso_8601_is_refused_naming_the_text(text: str) -> None:
    data = full_map_data()
    data["nodes"][1]["duration"] = text

    message = _error_text(data)

    assert "nodes.1.wait.duration" in message
    assert f"{text!r} is not an ISO 8601 duration" in message


def test_a_misspelt_field_is_refused_naming_it() -> None:
    data = full_map_data()
    data["nodes"][0]["titel"] = "Start"

    message = _error_text(data)

    assert "titel" in message
    assert "Extra inputs are not permitted" in message


def test_an_unknown_format_version_is_refused() -> None:
    data = full_map_data()
    data["format"] = "2.0"

    message = _error_text(data)

    assert "format" in message
    assert "'1.0'" in message


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValidationError, match="Invalid JSON"):
        JourneyMap.from_json("{not json")


def _shipped_schema_text() -> str:
    return files("engine.map").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def test_the_shipped_schema_matches_the_document_models() -> None:
    expected = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"

    assert _shipped_schema_text() == expected, (
        "engine/map/schema/journey-map.schema.json is out of date; run `python scripts/write_schema.py`"
    )


def test_the_schema_describes_the_whole_document() -> None:
    schema = json.loads(_shipped_schema_text())

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {
        "format",
        "name",
        "description",
        "personas",
        "stages",
        "nodes",
        "edges",
        "settings",
    }
    assert "name" in schema["required"]
    assert set(schema["properties"]["nodes"]["items"]["discriminator"]["mapping"]) == {str(k) for k in NodeKind}


@pytest.mark.parametrize("name", list_templates())
def test_every_starter_is_a_valid_document_of_the_schema(name: str) -> None:
    # jsonschema is not a dependency; the models are the schema's source, so validating through them
    # plus checking the starter only uses what the schema names is the same check.
    data = json.loads(load_template(name).to_json())
    schema = json.loads(_shipped_schema_text())
    node_kinds = set(schema["properties"]["nodes"]["items"]["discriminator"]["mapping"])

    assert JourneyMap.from_dict(data) == load_template(name)
    assert set(data) <= set(schema["properties"])
    assert {node["kind"] for node in data["nodes"]} <= node_kinds
