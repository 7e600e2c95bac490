"""``read_json`` reads every JSON text to the value and the type the standard library reads, the texts orjson reads
differently or refuses included."""

from __future__ import annotations

import json

import pytest

from engine.store import read_json

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


def test_refuses_what_the_standard_library_refuses() -> None:
    with pytest.raises(json.JSONDecodeError):
        read_json('{"a": ')
