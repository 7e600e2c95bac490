"""How big a journey map may be: the bounds every document is held to, and the text types that carry them.

Each bound is far above what a designer draws (the four starters have 4 stages, 12 to 15 nodes and 10 to 13
KB of JSON; the largest map the benchmarks compile has 1,000 nodes) and low enough that what the engine
does with a map stays safe and cheap: a wait added to any date up to the year 9000 is still a date, every
card lies where the canvas can draw it, a saved draft stays a few megabytes and fits the database.

The document models (``engine.map.document``) declare these bounds, so a document read from JSON or from a
dict is refused with pydantic's ``ValidationError`` naming the field; ``engine.map.bounds`` checks the same
bounds on a document assembled in memory (the canvas edits copy documents without validating them again),
which the compiler reports as problems.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Final

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

MAX_DURATION: Final = timedelta(days=3660)
"""Ten years counted generously (10 x 366 days): the longest wait, timeout or frequency-cap window.

Real journeys wait hours to weeks; the longest plausible wait is a renewal or anniversary a few years out.
Ten years added to any date up to 9000-12-31 stays far below ``datetime.max`` (9999-12-31), and subtracted
from any date after the year 11 stays above ``datetime.min``, so no date arithmetic the engine does with a
map's duration can overflow."""
MAX_DURATION_TEXT: Final = 64
"""The longest duration text read: ``P1W2DT3H4M5.123456S`` is 20 characters."""

MAX_COORDINATE: Final = 1_000_000.0
"""A card's x and y lie within plus or minus this (finite): 3,000 lanes of 320 px, 7,000 rows of 140 px."""
MAX_ORDER: Final = 1_000_000
"""A stage's ``order`` (its sort key) lies within plus or minus this."""
MAX_CAP_MESSAGES: Final = 1_000_000
"""The largest ``max_messages`` of a frequency cap."""

MAX_NODES: Final = 5_000
"""Nodes of one map: a canvas is unreadable long before; compiling stays well under a second."""
MAX_EDGES: Final = 10_000
"""Connections of one map: twice the nodes, as branches and splits have several ways out."""
MAX_STAGES: Final = 200
MAX_PERSONAS: Final = 100
MAX_ITEMS: Final = 1_000
"""Any other list: pain points, opportunities, conditions, filters, event properties, split arms, trait
updates, a persona's goals and frustrations, exit criteria, profile traits, the values of an ``in`` test."""

MAX_NAME_LENGTH: Final = 200
"""The journey's, a stage's and a persona's name; a node's title."""
MAX_KEY_LENGTH: Final = 200
"""Event, trait and property names, edge labels, cron expressions, time zones."""
MAX_TEXT_LENGTH: Final = 2_000
"""Pain points, opportunities, goals, frustrations, exit reasons, message subjects, condition and trait values."""
MAX_LONG_TEXT_LENGTH: Final = 20_000
"""Descriptions and notes."""
MAX_BODY_LENGTH: Final = 200_000
"""A message body as a send node carries it (a template): twice what mail clients show before clipping an HTML
email. Like the subject and URL limits, it bounds what the designer writes, not the message a customer's data
renders (``engine.content`` bounds that)."""
MAX_URL_LENGTH: Final = 8_192
"""A message's URL template, the longest request line common web servers accept."""

MAX_DOCUMENT_BYTES: Final = 8 * 1024 * 1024
"""A journey-map JSON text (a file, an upload): 30 times the 1,000-node benchmark map."""
MAX_JSON_DEPTH: Final = 64
"""How deeply arrays and objects may nest in a journey-map JSON text; a valid document nests 7 levels at most."""


NUL_REFUSED: Final = "contains a NUL character (\\u0000), which cannot be stored"


def storable(text: str) -> str:
    """``text`` unless it holds a NUL character, which PostgreSQL cannot store in a text column."""
    if "\x00" in text:
        raise PydanticCustomError("text_with_nul", NUL_REFUSED)
    return text


Name = Annotated[str, Field(max_length=MAX_NAME_LENGTH), AfterValidator(storable)]
Key = Annotated[str, Field(max_length=MAX_KEY_LENGTH), AfterValidator(storable)]
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(storable)]
LongText = Annotated[str, Field(max_length=MAX_LONG_TEXT_LENGTH), AfterValidator(storable)]
Coordinate = Annotated[float, Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

# Both kinds of bracket nest alike; everything else is dropped.
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


def _too_deep(raw: bytes) -> bool:
    # Brackets inside strings nest nothing, so strings go first: escaped backslashes, then escaped quotes,
    # then whatever lies between two quotes. Each pass then removes the innermost level of the brackets
    # left; only C-level byte operations run, and no parser ever recurses into a hostile text.
    outside = b"".join(raw.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2])
    brackets = outside.translate(_BRACKETS, _NOT_BRACKETS)
    for passes in range(MAX_JSON_DEPTH + 1):
        inner_removed = brackets.replace(b"[]", b"")
        if inner_removed == brackets:
            # What is left never closes (closers first, then openers): each opener still open counts
            # on top of the deepest group removed.
            return brackets.count(b"[") + passes > MAX_JSON_DEPTH
        brackets = inner_removed
    return True


def document_text_problem(text: str | bytes) -> str | None:
    """What makes ``text`` too big to read as a journey map (a sentence to follow its name), else None.

    Checked before any JSON parsing: a text over ``MAX_DOCUMENT_BYTES`` or nested deeper than
    ``MAX_JSON_DEPTH`` is refused without being parsed.
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(raw) > MAX_DOCUMENT_BYTES:
        mib = MAX_DOCUMENT_BYTES // 2**20
        return f"is larger than {mib} MiB ({MAX_DOCUMENT_BYTES:,} bytes), the most a journey map may be"
    if _too_deep(raw):
        return f"nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; a journey map needs far fewer"
    return None
