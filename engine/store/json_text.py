"""JSON text read back from the store, fast and to the very values the standard library reads.

A forecast decodes a JSON column for every event of its window and every customer in it: with the standard
library that was a tenth of its time. orjson reads it about five times faster, and to the same values, except for
whole numbers outside 64 bits (orjson makes them floats) and what it refuses (NaN, infinities, lone surrogates).
So text holding a run of 19 digits or more, which every such number has, goes to the standard library, as does text
orjson refuses: nothing is read differently, only the usual text faster.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(r"\d{19}")


def read_json(text: str) -> Any:
    """``json.loads(text)``, by orjson whenever that gives the same value."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
