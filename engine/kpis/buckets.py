"""Time buckets of the figures over time: as long as the history they cover calls for.

A day per point reads well over weeks, but a journey whose customers all came in one afternoon would
be one bar. So the bucket is chosen from the span the data cover (inside the window): the smallest of
a minute, 5 and 15 minutes, an hour and a UTC day that draws the span in at most ``MAX_BUCKETS``
points. Buckets are aligned on UTC (a day starts at midnight UTC, an hour on the hour), grouped in SQL
on the epoch seconds, so only one row per bucket comes back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import BigInteger, Integer, cast, func

MINUTE: Final = timedelta(minutes=1)
HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)
BUCKETS: Final = (MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, DAY)
MAX_BUCKETS: Final = 48
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_for(span: timedelta) -> timedelta:
    """The bucket that draws ``span`` in at most ``MAX_BUCKETS`` points; a day for anything longer."""
    for size in BUCKETS:
        if span <= size * MAX_BUCKETS:
            return size
    return DAY


def bucket_index(column: Any, size: timedelta, dialect: str) -> Any:
    """The SQL expression numbering ``column``'s bucket: whole ``size`` steps since the epoch (UTC)."""
    seconds = int(size.total_seconds())
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / seconds), BigInteger)
    # SQLite keeps UTC timestamps as text; strftime('%s') reads them as epoch seconds.
    return cast(func.strftime("%s", column), Integer) // seconds


def floor_to(at: datetime, size: timedelta) -> datetime:
    """The start of the bucket ``at`` falls in."""
    return start_of(int((at - _EPOCH) // size), size)


def start_of(index: int, size: timedelta) -> datetime:
    return _EPOCH + index * size


def starts(first: datetime, last: datetime, size: timedelta) -> list[datetime]:
    """Every bucket start from ``first``'s bucket to ``last``'s, both included."""
    begin, end = floor_to(first, size), floor_to(last, size)
    return [begin + n * size for n in range(int((end - begin) // size) + 1)]


def as_utc(at: Any) -> datetime:
    """A min() or max() of a timestamp column as an aware datetime: aggregates lose the column's type on
    SQLite, which hands them back as naive UTC text or datetimes."""
    value = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
