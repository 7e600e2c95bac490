"""ISO 8601 durations (``PT1H``, ``P3D``, ``PT30S``): the form journey tools exchange.

The map document stores durations as :class:`datetime.timedelta` and writes them back in the
canonical ISO form, so a document survives any number of JSON round trips unchanged.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

from engine.map.limits import MAX_DURATION, MAX_DURATION_TEXT

# Years and months have no fixed length, so a wait of "P1M" would mean different things in
# different months; journeys are specified in weeks, days and smaller units instead.
_ISO_DURATION = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
DURATION_PATTERN = _ISO_DURATION.pattern


_SECONDS = {"weeks": 604_800, "days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}


class DurationFormatError(ValueError):
    """A text that is not an ISO 8601 duration this product accepts, or a duration longer than ``MAX_DURATION``."""


def _too_long(shown: str) -> DurationFormatError:
    return DurationFormatError(
        f"{shown} is longer than the longest duration accepted, 10 years ({format_duration(MAX_DURATION)})"
    )


def parse_duration(text: str, *, bounded: bool = True) -> timedelta:
    """Parse ``PnWnDTnHnMnS`` (any part optional, at least one present) into a timedelta.

    Durations longer than ``MAX_DURATION`` either way are refused, so every one parsed can be added to a date.
    ``bounded=False`` reads any duration a timedelta holds (see ``StoredDuration``); past that, too, it is
    refused with a ``DurationFormatError``, never an ``OverflowError``.
    """
    if len(text) > MAX_DURATION_TEXT:
        raise DurationFormatError(f"{text[:20]!r}... is {len(text):,} characters, too long to be a duration")
    match = _ISO_DURATION.match(text.strip().upper())
    if match is None:
        raise DurationFormatError(
            f"{text!r} is not an ISO 8601 duration such as 'PT30S', 'PT1H' or 'P3D' "
            "(years and months are not accepted: use weeks or days)"
        )
    parts = {name: float(value) for name, value in match.groupdict().items() if value and name != "sign"}
    # Measured in float seconds first: timedelta itself overflows (OverflowError) past 999,999,999 days.
    seconds = sum(value * _SECONDS[name] for name, value in parts.items())
    if bounded and seconds > MAX_DURATION.total_seconds():
        raise _too_long(repr(text))
    try:
        delta = timedelta(**parts)
    except OverflowError:
        raise DurationFormatError(f"{text!r} is longer than any duration can be") from None
    if bounded:
        within_max_duration(delta)
    return -delta if match.group("sign") else delta


def within_max_duration(delta: timedelta) -> timedelta:
    """``delta`` unless it is longer than ``MAX_DURATION`` either way."""
    if abs(delta) > MAX_DURATION:
        raise _too_long(format_duration(delta))
    return delta


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


def _coerce(value: object, *, bounded: bool = True) -> object:
    if isinstance(value, str):
        return parse_duration(value, bounded=bounded)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise DurationFormatError(f"{value!r} is a bare number; write durations in ISO 8601, such as 'PT{value}S'")
    return value


def _coerce_stored(value: object) -> object:
    return _coerce(value, bounded=False)


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    AfterValidator(within_max_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "duration",
            "pattern": DURATION_PATTERN,
            "maxLength": MAX_DURATION_TEXT,
            "description": f"ISO 8601, at most 10 years ({MAX_DURATION.days} days) either way.",
        }
    ),
]
"""A timedelta read from and written as an ISO 8601 duration string, at most ``MAX_DURATION`` either way."""


StoredDuration = Annotated[
    timedelta,
    BeforeValidator(_coerce_stored),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration", "pattern": DURATION_PATTERN}),
]
"""A duration as a published plan stores it, without the ``MAX_DURATION`` bound: a version published before
durations were bounded keeps loading, so its journey runs on and the runtime fails only the runs whose dates
would overflow. Plans compiled now never hold a duration past the bound."""
