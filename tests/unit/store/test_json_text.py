"""``read_json`` reads every JSON text to the value and the type the standard library reads, and ``write_json``
writes every value to a text that reads back as the standard library's text does; the texts and values orjson
reads or writes differently, or refuses, included. Stored through an engine, a column's JSON goes both ways."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from engine.intake import ingest
from engine.store import Event, read_json, session_scope, write_json
from tests.engine_factories import track

TEXTS = [
    '{"cart_id": "c-1", "cart_url": "https://shop.example/c/1", "cart_total": 42, "item_count": 2}',
    '{"email": "ada@example.com", "first_name": "Zoë 日本 ☃", "vip": true, "score": 0.1, "none": null}',
    '{"a": 1, "a": 2}',
    '{"nested": {"list": [1, 2.5, "x", [], {}]}, "empty": ""}',
    "-0",
    "1E2",
    "[1e-400, 1.5e308]",
    "18446744073709551615",
    # Whole numbers outside 64 bits: orjson makes them floats.
    "18446744073709551616",
    "-9223372036854775809",
    '{"k": 12345678901234567890123}',
    # What orjson refuses.
    '{"a": NaN}',
    '{"a": Infinity, "b": -Infinity}',
    "[1e400]",
    '{"a": "\\ud800"}',
    # Long digits in text are read the slower way, to the same value.
    '{"id": "12345678901234567890123456"}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_reads_what_the_standard_library_reads(text: str) -> None:
    ours, theirs = read_json(text), json.loads(text)
    assert repr(ours) == repr(theirs)
    # As psycopg hands it over.
    assert repr(read_json(text.encode("utf-8", "surrogatepass"))) == repr(json.loads(text.encode()))


def test_refuses_what_the_standard_library_refuses_to_read() -> None:
    with pytest.raises(json.JSONDecodeError):
        read_json('{"a": ')


@dataclasses.dataclass
class _Point:
    x: int


VALUES: list[Any] = [
    {"cart_id": "c-1", "cart_total": 42, "item_count": 2, "vip": True, "none": None},
    {"first_name": "Zoë 日本 ☃", "line": "\u2028", "quote": 'a"b\\c\n', "score": 0.1, "big": 1e16, "neg": -0.0},
    {"nested": {"list": [1, 2.5, "x", [], {}], "tuple": (1, 2)}},
    [18446744073709551615, -9223372036854775808],
    # What orjson refuses or writes otherwise: the standard library's text.
    {"k": 12345678901234567890123},
    {1: "integer key"},
    {"a": "\ud800"},
]


@pytest.mark.parametrize("value", VALUES)
def test_writes_what_reads_back_as_the_standard_librarys_text(value: Any) -> None:
    ours, theirs = write_json(value), json.dumps(value)
    assert repr(json.loads(ours)) == repr(json.loads(theirs))


def test_non_finite_numbers_stay_non_finite() -> None:
    # orjson alone would write them as null.
    read = json.loads(write_json({"a": [None, float("nan")], "b": {"c": -math.inf}}))
    assert read["a"][0] is None
    assert math.isnan(read["a"][1])
    assert read["b"]["c"] == -math.inf


@pytest.mark.parametrize("value", [{"at": datetime(2026, 12, 7, tzinfo=UTC)}, {"point": _Point(1)}, {"set": {1}}])
def test_refuses_what_the_standard_library_refuses(value: Any) -> None:
    with pytest.raises(TypeError):
        write_json(value)


def test_a_json_column_goes_both_ways_through_the_store(own_database_url: str) -> None:
    properties = {"name": "Zoë ☃", "total": 12.5, "items": [1, None], "deep": {"k": 9223372036854775807}}
    with session_scope(own_database_url) as session:
        ingest(session=session, messages=[track("ann", "cart_abandoned", properties, message_id="m-json")])
    with session_scope(own_database_url) as session:
        stored = session.exec(select(Event).where(Event.message_id == "m-json")).one()
    assert stored.properties == properties
