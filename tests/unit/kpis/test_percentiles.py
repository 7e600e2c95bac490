"""Keys of the velocity brackets remembered between calls (engine.kpis.percentiles.HINTS)."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from engine.kpis import HINTS, TRANSITION

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
FRACTIONS = (0.5, 0.9)


def key(session: Session, journey_id: int, since: datetime, until: datetime) -> Hashable:
    t = TRANSITION.c
    return HINTS.key(session, [t.journey_id == journey_id, t.at >= since, t.at < until], FRACTIONS)


def test_a_rolling_window_keeps_its_brackets_as_it_moves_on(session: Session) -> None:
    later = timedelta(seconds=5)
    day = timedelta(hours=24)

    assert key(session, 1, NOW - day, NOW) == key(session, 1, NOW - day + later, NOW + later)


def test_windows_of_other_lengths_and_other_journeys_keep_brackets_of_their_own(session: Session) -> None:
    day = key(session, 1, NOW - timedelta(hours=24), NOW)

    assert day != key(session, 1, NOW - timedelta(days=7), NOW)
    assert day != key(session, 2, NOW - timedelta(hours=24), NOW)
