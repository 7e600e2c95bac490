"""JSON text written to and read back from the store (every JSON column, on SQLite and PostgreSQL), fast and to the
very values the standard library gives.

A forecast decodes a JSON column for every event of its window and every customer in it: with the standard
library that was a tenth of its time. orjson reads it about five times faster, and to the same values, except for
whole numbers outside 64 bits (orjson makes them floats) and what it refuses (NaN, infinities, lone surrogates).
So text holding a run of 19 digits or more, which every such number has, goes to the standard library, as does text
orjson refuses: nothing is read differently, only the usual text faster.

Writing is the same bargain: the intake stores every event's properties and every customer's traits as JSON, and
the standard library's encoder was a tenth of its time. orjson's text is compact and keeps non-ASCII characters
as they are (the standard library escapes them), which reads back to the same values; what orjson refuses or
writes otherwise (keys that are not strings, whole numbers past 64 bits, lone surrogates, datetimes and
dataclasses, which the standard library refuses, and NaN and the infinities, which orjson writes as null) goes to
the standard library.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(r"\d{19}")
# psycopg hands a JSON column's value over as bytes.
_LONG_NUMBER_BYTES = re.compile(rb"\d{19}")
_AS_THE_STANDARD_LIBRARY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def read_json(text: str | bytes) -> Any:
    """``json.loads(text)``, by orjson whenever that gives the same value."""
    long_number = _LONG_NUMBER_BYTES.search(text) if isinstance(text, bytes) else _LONG_NUMBER.search(text)
    if long_number is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def write_json(value: Any) -> str:
    """``json.dumps(value)``'s value, by orjson whenever that writes the same one."""
    try:
        text = orjson.dumps(value, option=_AS_THE_STANDARD_LIBRARY)
    except TypeError:
        return json.dumps(value)
    if b"null" in text and _holds_non_finite(value):
        return json.dumps(value)
    return text.decode()


def _holds_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_holds_non_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_non_finite(item) for item in value)
    return False
