"""ISO 8601 durations (``PT1H``, ``P3D``, ``PT30S``): the form journey tools exchange.

The map document stores durations as :class:`datetime.timedelta` and writes them back in the
canonical ISO form, so a document survives any number of JSON round trips unchanged.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# Years and months have no fixed length, so a wait of "P1M" would mean different things in
# different months; journeys are specified in weeks, days and smaller units instead.
_ISO_DURATION = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
DURATION_PATTERN = _ISO_DURATION.pattern


class DurationFormatError(ValueError):
    """A text that is not an ISO 8601 duration this product accepts."""


def parse_duration(text: str) -> timedelta:
    """Parse ``PnWnDTnHnMnS`` (any part optional, at least one present) into a timedelta."""
    match = _ISO_DURATION.match(text.strip().upper())
    if match is None:
        raise DurationFormatError(
            f"{text!r} is not an ISO 8601 duration such as 'PT30S', 'PT1H' or 'P3D' "
            "(years and months are not accepted: use weeks or days)"
        )
    parts = {name: float(value) for name, value in match.groupdict().items() if value and name != "sign"}
    delta = timedelta(**parts)
    return -delta if match.group("sign") else delta


def format_duration(delta: timedelta) -> str:
    """The canonical ISO 8601 text of ``delta`` (days, hours, minutes, seconds)."""
    if delta == timedelta(0):
        return "PT0S"
    sign = "-" if delta < timedelta(0) else ""
    delta = abs(delta)
    # Whole microseconds, not float seconds: every timedelta must survive the text round trip.
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P{delta.days}D" if delta.days else f"{sign}P"
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if delta.microseconds:
        clock += f"{seconds}.{delta.microseconds:06d}".rstrip("0") + "S"
    elif seconds:
        clock += f"{seconds}S"
    return text + (f"T{clock}" if clock else "")


def _coerce(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise DurationFormatError(f"{value!r} is a bare number; write durations in ISO 8601, such as 'PT{value}S'")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration", "pattern": DURATION_PATTERN}),
]
"""A timedelta read from and written as an ISO 8601 duration string."""
