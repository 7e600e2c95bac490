"""The windows the KPI pages offer (rolling, all time, custom days) as metrics filters, and the pages'
values read strictly.

A page hands in text from its controls; :func:`parse_window`, :func:`parse_day` and :func:`parse_version`
turn it into the values :func:`window_filter` takes, and each refuses what cannot be one with a
:class:`WindowError` naming the value (``field``) and what is wrong. Custom days lie between
``FIRST_DAY`` and ``LAST_DAY``: the page's daily series holds every day of the window, so a window
from year 1 to 9999 would be millions of days, and the day after 9999-12-31 does not exist.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from engine.kpis.figures import MetricsFilter


class KpiWindow(StrEnum):
    LAST_24H = "24h"
    LAST_7D = "7d"
    LAST_30D = "30d"
    ALL_TIME = "all"
    CUSTOM = "custom"


WINDOW_LABELS: Final[dict[KpiWindow, str]] = {
    KpiWindow.LAST_24H: "Last 24 hours",
    KpiWindow.LAST_7D: "Last 7 days",
    KpiWindow.LAST_30D: "Last 30 days",
    KpiWindow.ALL_TIME: "All time",
    KpiWindow.CUSTOM: "Custom dates",
}
FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(2100, 12, 31)
# Version numbers are stored as 32-bit integers.
LAST_VERSION: Final = 2**31 - 1
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class WindowError(ValueError):
    """A window people cannot mean, or a value that cannot be part of one.

    ``field`` names the value at fault (``window``, ``first_day``, ``last_day``, ``version``); it is None
    when each value is fine but together they are not (the first day after the last).
    """

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


def _cut(text: str) -> str:
    """``text`` for a message, cut short: what was typed may be of any length."""
    return text if len(text) <= 40 else text[:40] + "…"


def _shown(text: str) -> str:
    return repr(_cut(text))


def parse_window(text: str) -> KpiWindow:
    try:
        return KpiWindow(text)
    except ValueError:
        choices = ", ".join(window.value for window in KpiWindow)
        raise WindowError(f"{_shown(text)} is not one of {choices}", field="window") from None


def parse_day(text: str, *, field: str) -> date | None:
    """A day as a date input writes it (YYYY-MM-DD), None when empty; ``field`` names it in a refusal."""
    if not text:
        return None
    day = None
    # Only what a date input writes: fromisoformat alone also takes 20240305 and week dates (2024-W10-2).
    if _DAY.fullmatch(text):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(text)
    if day is None:
        raise WindowError(f"{_shown(text)} is not a date (YYYY-MM-DD)", field=field)
    _check_day(day, field)
    return day


def parse_version(text: str) -> int:
    """A version number as the page's version choice holds it."""
    if not (text.isascii() and text.isdigit()):
        raise WindowError(f"{_shown(text)} is not a version number", field="version")
    # Digits beyond a 32-bit number's cannot name a version, and converting thousands of them is refused.
    version = int(text) if len(text) <= len(str(LAST_VERSION)) else None
    if version is None:
        raise WindowError(f"there is no version {_cut(text)}", field="version")
    _check_version(version)
    return version


def _check_day(day: date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise WindowError(
            f"{day.isoformat()} is outside {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}", field=field
        )


def _check_version(version: int) -> None:
    if not 1 <= version <= LAST_VERSION:
        raise WindowError(f"there is no version {version}", field="version")


def window_filter(
    window: KpiWindow,
    *,
    journey_id: int,
    version: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
    now: datetime | None = None,
) -> MetricsFilter:
    """The metrics filter of a window the pages offer.

    A custom window runs from the start of ``first_day`` to the end of ``last_day`` (both UTC days,
    both included); a missing day leaves that side open.
    """
    if version is not None:
        _check_version(version)
    if window is KpiWindow.LAST_24H:
        return MetricsFilter.last_24h(journey_id=journey_id, version=version, now=now)
    if window is KpiWindow.LAST_7D:
        return MetricsFilter.last_7d(journey_id=journey_id, version=version, now=now)
    if window is KpiWindow.LAST_30D:
        return MetricsFilter.last_30d(journey_id=journey_id, version=version, now=now)
    if window is KpiWindow.ALL_TIME:
        return MetricsFilter.all_time(journey_id=journey_id, version=version)
    for day, field in ((first_day, "first_day"), (last_day, "last_day")):
        if day is not None:
            _check_day(day, field)
    if first_day is not None and last_day is not None and first_day > last_day:
        raise WindowError(f"the first day ({first_day.isoformat()}) is after the last ({last_day.isoformat()})")
    since = datetime.combine(first_day, time(), UTC) if first_day is not None else None
    until = datetime.combine(last_day + timedelta(days=1), time(), UTC) if last_day is not None else None
    return MetricsFilter.custom(journey_id=journey_id, version=version, since=since, until=until)
