"""Percentiles of durations, per group of rows, in SQL, the same on PostgreSQL and SQLite.

Both report PostgreSQL's ``percentile_cont``: the value at (n - 1) * fraction among the n sorted
durations, interpolated between the two around it. Sorting every duration is what costs (SQLite has
no ordered-set aggregate at all), so nothing is sorted: a bracket is placed around each percentile
first, and one walk of the rows counts the durations below it and lists the few inside it, from
which the percentile is read. Brackets come from a sample of the rows, or from the last time the
same group was asked for. A bracket found not to hold the percentile's ranks is placed afresh from a
sample, and failing that the percentile is read off an exact sort.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select, union_all
from sqlmodel import Session

# A row is in the sample when its key falls in the first SAMPLE_SLOTS of every SAMPLE_PERIOD keys:
# about 1 row in 32, and a prime period keeps keys that interleave from missing it.
SAMPLE_PERIOD = 1021
SAMPLE_SLOTS = 32
# Half-width of a percentile's bracket around its place in the sample, in standard deviations of
# a sample quantile: a bracket that misses is detected and placed again.
BRACKET_SIGMAS = 4.0
MIN_SAMPLE = 30
# What the pass returns per bracket: durations below it, at its low end, at its high end, and a list
# of those strictly inside. Ties at either end are counted, not listed: a stage that most customers
# move through at once would otherwise list every one of them.
PER_BRACKET = 4


@dataclass(frozen=True)
class Spread:
    """One group's row count and its percentiles in seconds (None for an empty group)."""

    count: int
    percentiles: tuple[float | None, ...]


@dataclass(frozen=True)
class _Bracket:
    """Seconds between which a percentile lies, by a sample; None leaves that side open."""

    low: float | None
    high: float | None

    @property
    def closed(self) -> bool:
        return self.low is not None or self.high is not None


def spreads(
    session: Session,
    groups: Sequence[Sequence[ColumnElement[bool]]],
    *,
    seconds: ColumnElement[float],
    sample_key: ColumnElement[int],
    fractions: Sequence[float],
) -> list[Spread]:
    """Per group of rows (the conditions selecting them), how many there are and the ``fractions``
    percentiles of ``seconds`` over them. ``sample_key``, an integer column, spreads the sample over
    the rows."""
    if not groups:
        return []
    return _Spreads(session, seconds, sample_key, fractions).of(groups)


def _numbered(selects: Sequence[Any]) -> Any:
    return union_all(*(query.add_columns(literal(i).label("group_number")) for i, query in enumerate(selects)))


class _Hints:
    """The brackets that held each group's percentiles last time, by the group's query with its times
    left out: a journey's durations change little between two refreshes of its figures (a rolling
    window moves a few seconds), so they usually hold again and spare the sample. Whether a bracket
    holds is checked exactly by the pass that uses it, so a stale one costs time, never truth."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.held: OrderedDict[Hashable, list[_Bracket]] = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def key(session: Session, conditions: Sequence[ColumnElement[bool]], fractions: Sequence[float]) -> Hashable:
        compiled = select(literal(1)).where(*conditions).compile(session.get_bind())
        params = tuple(sorted((k, v) for k, v in compiled.params.items() if not isinstance(v, datetime)))
        # A window is known by its length, not by where it lies: the last 24 hours stay one window
        # as they roll on, and do not take the last 7 days' brackets.
        times = sorted(v for v in compiled.params.values() if isinstance(v, datetime))
        span = round((times[-1] - times[0]).total_seconds()) if times else None
        return (str(session.get_bind().engine.url), compiled.string, params, span, tuple(fractions))

    def get(self, key: Hashable) -> list[_Bracket] | None:
        with self.lock:
            return self.held.get(key)

    def put(self, key: Hashable, brackets: list[_Bracket]) -> None:
        with self.lock:
            self.held[key] = brackets
            self.held.move_to_end(key)
            while len(self.held) > self.size:
                self.held.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        with self.lock:
            self.held.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.held.clear()


HINTS = _Hints(size=512)


class _Spreads:
    def __init__(
        self,
        session: Session,
        seconds: ColumnElement[float],
        sample_key: ColumnElement[int],
        fractions: Sequence[float],
    ) -> None:
        self.session = session
        self.seconds = seconds
        self.sample_key = sample_key
        self.fractions = tuple(fractions)
        # Lists the durations in a bracket: a text list on SQLite, an array on PostgreSQL.
        postgresql = session.get_bind().dialect.name == "postgresql"
        self.listing: Callable[[ColumnElement[float]], Any] = func.array_agg if postgresql else func.group_concat

    def of(self, groups: Sequence[Sequence[ColumnElement[bool]]], *, hinted: bool = True) -> list[Spread]:
        keys = [HINTS.key(self.session, conditions, self.fractions) for conditions in groups]
        hints = [HINTS.get(key) if hinted else None for key in keys]
        unhinted = [groups[n] for n, hint in enumerate(hints) if hint is None]
        sampled = iter(self._sampled_brackets(unhinted))
        around = [hint if hint is not None else next(sampled) for hint in hints]
        passes = [self._pass(conditions, bracket) for conditions, bracket in zip(groups, around, strict=True)]
        counted = {row[-1]: row[:-1] for row in self.session.execute(_numbered(passes))}
        found = []
        for number, conditions in enumerate(groups):
            count, *tallies = counted[number]
            values = [
                _bracketed(count, fraction, around[number][j], *tallies[PER_BRACKET * j : PER_BRACKET * (j + 1)])
                for j, fraction in enumerate(self.fractions)
            ]
            if count and None in values and hints[number] is not None:
                # The durations moved out of last time's brackets: bracket them afresh.
                HINTS.forget(keys[number])
                found.append(self.of([conditions], hinted=False)[0])
                continue
            for j, fraction in enumerate(self.fractions):
                if count and values[j] is None:
                    values[j] = self._sorted(conditions, count, fraction)
            if all(bracket.closed for bracket in around[number]):
                # An open bracket (a sample too small to place it) lists every duration: not worth keeping.
                HINTS.put(keys[number], around[number])
            found.append(Spread(count, tuple(values)))
        return found

    def _sampled_brackets(self, groups: Sequence[Sequence[ColumnElement[bool]]]) -> list[list[_Bracket]]:
        if not groups:
            return []
        sample: list[list[float]] = [[] for _ in groups]
        in_sample = self.sample_key % SAMPLE_PERIOD < SAMPLE_SLOTS
        query = _numbered([select(self.seconds).where(*conditions, in_sample) for conditions in groups])
        for value, number in self.session.execute(query):
            sample[number].append(value)
        return [_brackets(durations, self.fractions) for durations in sample]

    def _pass(self, conditions: Sequence[ColumnElement[bool]], around: list[_Bracket]) -> Any:
        """One walk of a group's rows: how many, and per bracket what lies below it and in it."""
        columns: list[ColumnElement[Any]] = [func.count()]
        for bracket in around:
            columns += self._bracket_columns(self.seconds, bracket)
        return select(*columns).where(*conditions)

    def _bracket_columns(self, seconds: ColumnElement[float], bracket: _Bracket) -> list[ColumnElement[Any]]:
        low, high = bracket.low, bracket.high
        inside: list[ColumnElement[bool]] = [seconds.is_not(None)]
        if low is not None:
            inside.append(seconds > low)
        if high is not None:
            inside.append(seconds < high)
        return [
            func.count().filter(seconds < low) if low is not None else literal(0),
            func.count().filter(seconds == low) if low is not None else literal(0),
            func.count().filter(seconds == high) if high is not None and high != low else literal(0),
            self.listing(seconds).filter(and_(*inside)),
        ]

    def _sorted(self, conditions: Sequence[ColumnElement[bool]], n: int, fraction: float) -> float:
        place, ranks = _ranks(n, fraction)
        query = select(self.seconds).where(*conditions).order_by(self.seconds).limit(len(ranks)).offset(ranks[0])
        return _interpolate(list(self.session.execute(query).scalars()), place)


def _brackets(durations: list[float], fractions: Sequence[float]) -> list[_Bracket]:
    durations.sort()
    m = len(durations)
    around = []
    for fraction in fractions:
        if m < MIN_SAMPLE:
            around.append(_Bracket(None, None))
            continue
        place = fraction * (m - 1)
        spread = BRACKET_SIGMAS * math.sqrt(m * fraction * (1 - fraction)) + 2
        low, high = math.floor(place - spread), math.ceil(place + spread)
        around.append(_Bracket(durations[low] if low >= 0 else None, durations[high] if high < m else None))
    return around


def _ranks(n: int, fraction: float) -> tuple[float, list[int]]:
    """percentile_cont's place among n sorted values, and the one or two ranks it interpolates."""
    place = (n - 1) * fraction
    low = math.floor(place)
    return place, [low] if place == low else [low, low + 1]


def _interpolate(ranked: Sequence[float], place: float) -> float:
    weight = place - math.floor(place)
    return ranked[0] if weight == 0 else ranked[0] * (1 - weight) + ranked[1] * weight


def _bracketed(
    n: int, fraction: float, bracket: _Bracket, below: int, at_low: int, at_high: int, inside: Any
) -> float | None:
    """The percentile from a bracket's counts, or None when the bracket does not hold its ranks."""
    if n == 0:
        return None
    place, ranks = _ranks(n, fraction)
    # SQLite lists the durations strictly inside as text, PostgreSQL as an array.
    listed = sorted(float(v) for v in (inside.split(",") if isinstance(inside, str) else inside or []))
    low_ties = [bracket.low] * at_low if bracket.low is not None else []
    high_ties = [bracket.high] * at_high if bracket.high is not None else []
    values = low_ties + listed + high_ties
    if not all(below <= rank < below + len(values) for rank in ranks):
        return None
    return _interpolate([values[rank - below] for rank in ranks], place)
