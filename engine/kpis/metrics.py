"""Live KPIs of a journey: SQL aggregates over what the engine already records.

Nothing here keeps counts of its own: every figure is a query over the transitions (a customer
entering a node), the enrollments (one row per run) and the outbox (one row per message). Only
aggregated rows come back to Python.

Each transition names the step the customer came from and when it had entered it, and a stage
entry the stage left, when it had been entered and how long that visit lasted; each run keeps the
step and stage it is at. So a move between two steps or two stages is one row, and every figure is
a count over an index range (or a bracketed percentile over one, see :mod:`engine.kpis.percentiles`):
no run's history is put back together to compute the overlay.

Windows select customers by when they did the thing being measured: entering a stage for the
stage metrics, entering a node for the node counts and edge shares, entering the journey for the
goal conversion. What happened next is counted up to the end of the window (``until``), so a
window in the past shows the figures as they stood at its end. Customers still in flight are
never counted as dropped.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlmodel import Session

from engine.compiler.plan import Plan, SplitStep
from engine.journeys.service import JourneyNotFoundError
from engine.kpis.percentiles import spreads
from engine.map.document import JourneyMap, NodeKind
from engine.store.db import utc_now
from engine.store.enrollments import Enrollment, EnrollmentStatus, Transition
from engine.store.journeys import Journey, JourneyVersion
from engine.store.outbox import MessageStatus, OutboxMessage

TRANSITION: Table = Transition.__table__  # type: ignore[attr-defined]
ENROLLMENT: Table = Enrollment.__table__  # type: ignore[attr-defined]
OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
VERSION: Table = JourneyVersion.__table__  # type: ignore[attr-defined]

# Below these, a split's comparison is shown with a warning: the p-value of a two-proportion
# z-test means little on so few customers or conversions.
MIN_ARM_CUSTOMERS = 30
MIN_ARM_CONVERSIONS = 5


class VersionNotFoundError(LookupError):
    def __init__(self, journey_id: int, number: int) -> None:
        super().__init__(f"journey {journey_id} has no published version {number}")
        self.journey_id = journey_id
        self.number = number


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricsFilter(_Frozen):
    """Which customers the figures are about: one journey, optionally one version, in a window.

    ``version`` is the version number people see (v1, v2 ...); None means every version.
    ``since`` and ``until`` bound the window (since <= t < until); None leaves that side open.
    """

    journey_id: int
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _window_is_aware_and_ordered(self) -> Self:
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})")
        if self.version is not None and self.version < 1:
            raise ValueError(f"version numbers start at 1, got {self.version}")
        return self

    @classmethod
    def last(
        cls, period: timedelta, *, journey_id: int, version: int | None = None, now: datetime | None = None
    ) -> MetricsFilter:
        end = now if now is not None else utc_now()
        return cls(journey_id=journey_id, version=version, since=end - period, until=end)

    @classmethod
    def last_24h(cls, *, journey_id: int, version: int | None = None, now: datetime | None = None) -> MetricsFilter:
        return cls.last(timedelta(hours=24), journey_id=journey_id, version=version, now=now)

    @classmethod
    def last_7d(cls, *, journey_id: int, version: int | None = None, now: datetime | None = None) -> MetricsFilter:
        return cls.last(timedelta(days=7), journey_id=journey_id, version=version, now=now)

    @classmethod
    def last_30d(cls, *, journey_id: int, version: int | None = None, now: datetime | None = None) -> MetricsFilter:
        return cls.last(timedelta(days=30), journey_id=journey_id, version=version, now=now)

    @classmethod
    def all_time(cls, *, journey_id: int, version: int | None = None) -> MetricsFilter:
        return cls(journey_id=journey_id, version=version)

    @classmethod
    def custom(
        cls, *, journey_id: int, since: datetime | None, until: datetime | None, version: int | None = None
    ) -> MetricsFilter:
        return cls(journey_id=journey_id, version=version, since=since, until=until)


class StageMetrics(_Frozen):
    """One stage, for the visits to it that began in the window.

    A visit is a customer entering the stage from another one (or entering the journey there); a
    customer who comes back to a stage visits it again, and a customer who never leaves a stage's
    part of the map visits it once. ``moved_on`` visits went on to the next stage, before the window
    closed; ``conversion`` is the shared definition, visits to the next stage in the window / visits
    to this one. ``dropped_off`` visits ended the run there without the goal, ``reached_goal`` ones
    reached it there (a success); ``in_flight`` are still there: neither moved out (to the next
    stage or elsewhere) nor ended. Velocity is the time from entering this stage to entering the
    next, over the visits that moved on. The last stage has no next one: its ``moved_on``,
    ``conversion`` and velocity are None. All as things stood when the window closed.
    """

    stage_id: str
    entered: int
    moved_on: int | None
    conversion: float | None
    dropped_off: int
    reached_goal: int
    in_flight: int
    velocity_median: timedelta | None
    velocity_p90: timedelta | None


class NodeMetrics(_Frozen):
    """One node: entries in the window, customers waiting there now, and the messages it wrote.

    ``sent`` counts the messages the node wrote to go out (pending, delivered or failed);
    suppressed and skipped ones were held back and are counted on their own.
    """

    node_id: str
    customers: int
    entries: int
    waiting: int
    sent: int
    pending: int
    delivered: int
    failed: int
    suppressed: int
    skipped: int


class GoalConversion(_Frozen):
    entered: int
    reached_goal: int
    rate: float | None


class ChannelRecovery(_Frozen):
    """Customers whose last delivered message before the goal came through ``channel``.

    ``channel`` None: they reached the goal without any message of this journey reaching them.
    """

    channel: str | None
    customers: int


class ArmResult(_Frozen):
    arm: str
    holdout: bool
    customers: int
    reached_goal: int
    rate: float | None
    # Two-sided two-proportion z-test against the first arm; None for the first arm itself and
    # when the test is undefined (an empty arm, or no variation at all).
    p_value: float | None
    small_sample: bool


class SplitResult(_Frozen):
    node_id: str
    arms: tuple[ArmResult, ...]
    small_sample: bool


class DailyConversion(_Frozen):
    """One UTC day: customers who entered then, how many of them reached the goal (by the end of
    the window), and how many goals were reached that day (by anyone)."""

    day: date
    entered: int
    converted: int
    goals_reached: int


class EdgeShare(_Frozen):
    """Customers who went straight from ``source`` to ``target`` (consecutive steps of one run), as a
    share of those who entered ``source`` in the window. ``edge_ids`` are the map edges drawn along
    that path (touchpoints in between are not run, so one step-to-step path can cover several)."""

    source: str
    target: str
    customers: int
    share: float | None
    edge_ids: tuple[str, ...]


class JourneyOverlay(_Frozen):
    filter: MetricsFilter
    stages: tuple[StageMetrics, ...]
    nodes: tuple[NodeMetrics, ...]
    edges: tuple[EdgeShare, ...]
    goal: GoalConversion


@dataclass(frozen=True)
class _Scope:
    """The filter resolved against the store: the version's id, and the plan and map to lay figures on."""

    filter: MetricsFilter
    version_id: int | None
    plan: Plan | None
    doc: JourneyMap | None
    dialect: str


def _scope(session: Session, metrics_filter: MetricsFilter) -> _Scope:
    journey_id = metrics_filter.journey_id
    if session.get(Journey, journey_id) is None:
        raise JourneyNotFoundError(journey_id)
    query = select(VERSION.c.id, VERSION.c.plan, VERSION.c.map).where(VERSION.c.journey_id == journey_id)
    if metrics_filter.version is not None:
        query = query.where(VERSION.c.number == metrics_filter.version)
    # Without a version, figures are laid over the newest one: it is the map people look at.
    row = session.execute(query.order_by(VERSION.c.number.desc()).limit(1)).first()
    if row is None and metrics_filter.version is not None:
        raise VersionNotFoundError(journey_id, metrics_filter.version)
    dialect = session.get_bind().dialect.name
    if row is None:
        return _Scope(metrics_filter, None, None, None, dialect)
    return _Scope(
        filter=metrics_filter,
        version_id=row.id if metrics_filter.version is not None else None,
        plan=Plan.model_validate(row.plan),
        doc=JourneyMap.model_validate(row.map),
        dialect=dialect,
    )


def _window(column: Any, f: MetricsFilter, *, nullable: bool = False) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [column.is_not(None)] if nullable else []
    if f.since is not None:
        conditions.append(column >= f.since)
    if f.until is not None:
        conditions.append(column < f.until)
    return conditions


def _by_until(column: Any, f: MetricsFilter) -> ColumnElement[bool]:
    """Happened, and before the window closed."""
    return and_(column.is_not(None), column < f.until) if f.until is not None else column.is_not(None)


def _transitions_of(scope: _Scope) -> list[ColumnElement[bool]]:
    conditions = [TRANSITION.c.journey_id == scope.filter.journey_id]
    if scope.version_id is not None:
        conditions.append(TRANSITION.c.version_id == scope.version_id)
    return conditions


def _enrollments_of(scope: _Scope) -> list[ColumnElement[bool]]:
    conditions = [ENROLLMENT.c.journey_id == scope.filter.journey_id]
    if scope.version_id is not None:
        conditions.append(ENROLLMENT.c.version_id == scope.version_id)
    return conditions


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _duration(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(milliseconds=round(seconds * 1000))


VELOCITY_FRACTIONS = (0.5, 0.9)


def stage_move_rows(
    metrics_filter: MetricsFilter, version_id: int | None, source: str, target: str
) -> list[ColumnElement[bool]]:
    """Moves from stage ``source`` into stage ``target``, out of visits to ``source`` that began in the
    window, made before it closed: one range of the stage-move index."""
    f = metrics_filter
    t = TRANSITION.c
    conditions = [t.journey_id == f.journey_id, t.first_in_stage == true(), t.stage_id == target]
    conditions += [t.from_stage_id == source, *_window(t.from_stage_at, f)]
    # Entered the next stage no sooner than the visit began, and before the window closed: the
    # index range is bounded by when the move happened.
    conditions += _window(t.at, f)
    if version_id is not None:
        conditions.append(t.version_id == version_id)
    return conditions


def _recorded_pairs(session: Session, journey_id: int, target: Any, source: Any, *rows: ColumnElement[bool]) -> Any:
    """The distinct (target, source) values recorded for a journey, by a loose index scan of an index
    leading with (journey, target, source): each step of the recursive query seeks the next distinct
    value, so this costs a few index seeks per value, not a read of every transition. ``rows`` narrows
    the rows to those the index holds. Yields (target, None) once per target, then its sources."""
    where = [TRANSITION.c.journey_id == journey_id, *rows]
    first_target = select(func.min(target).label("target")).where(*where)
    targets = first_target.cte("recorded_targets", recursive=True)
    next_target = select(func.min(target)).where(*where, target > targets.c.target)
    targets = targets.union_all(select(next_target.scalar_subquery()).where(targets.c.target.is_not(None)))
    first_source = select(func.min(source)).where(*where, target == targets.c.target, source.is_not(None))
    pairs = (
        select(targets.c.target, first_source.scalar_subquery().label("source"))
        .where(targets.c.target.is_not(None))
        .cte("recorded_pairs", recursive=True)
    )
    next_source = select(func.min(source)).where(*where, target == pairs.c.target, source > pairs.c.source)
    pairs = pairs.union_all(select(pairs.c.target, next_source.scalar_subquery()).where(pairs.c.source.is_not(None)))
    return session.execute(select(pairs.c.target, pairs.c.source)).all()


def _stage_metrics(session: Session, scope: _Scope, outcomes: _Outcomes) -> tuple[StageMetrics, ...]:
    """Stage visits and what became of them, from index range counts.

    A stage entry records the stage left and when it had been entered, so the visits to a stage,
    the moves out of it (to the next stage or elsewhere) and how long each took are ranges of the
    stage-move index; how the visits still current ended, or not yet, is one read of the runs'
    stage index. Nothing is put back together run by run.
    """
    if scope.plan is None or not scope.plan.stage_order:
        return ()
    f = scope.filter
    t = TRANSITION.c
    stages = scope.plan.stage_order
    onward = list(pairwise(stages))
    velocity = spreads(
        session,
        [stage_move_rows(f, scope.version_id, *pair) for pair in onward],
        seconds=t.from_stage_seconds,
        sample_key=t.enrollment_id,
        fractions=VELOCITY_FRACTIONS,
    )
    entered: Counter[str] = Counter()
    moved_out: Counter[str] = Counter()
    # Without a window, every row of a range is both a visit and a move: the velocity pass counted
    # the onward ranges already.
    counted = dict(zip(onward, (v.count for v in velocity), strict=True)) if f.since is None and f.until is None else {}
    for (source, target), count in counted.items():
        entered[target] += count
        moved_out[source] += count
    # Visits from no stage are the runs entering the journey: counted with the runs.
    for (_, stage_id), count in outcomes.entries.items():
        entered[stage_id] += count
    # Per other (stage entered, stage left) range, in one walk of its rows entered in the window:
    # visits to the stage entered, and, of them, moves out of visits to the stage left that began in
    # the window (a visit ends after it begins, so those lie in the same part of the range).
    moves_in_window = and_(true(), *_window(t.from_stage_at, f))
    ranges = [
        (target, source)
        for target, source in _recorded_pairs(
            session, f.journey_id, t.stage_id, t.from_stage_id, t.first_in_stage == true()
        )
        if source is not None and (source, target) not in counted
    ]
    tallies: list[Select[*tuple[Any, ...]]] = []
    for target, source in ranges:
        rows = [*_transitions_of(scope), t.first_in_stage == true(), t.stage_id == target, t.from_stage_id == source]
        tallies.append(select(func.count(), _count_if(moves_in_window)).where(*rows, *_window(t.at, f)))
    for (target, source), (visits, moves) in zip(ranges, _tally_each(session, tallies), strict=True):
        entered[target] += visits
        moved_out[source] += moves
    result = []
    for i, stage_id in enumerate(stages):
        dropped, reached = outcomes.by_stage.get(stage_id, (0, 0))
        onward_spread = velocity[i] if i < len(onward) else None
        median, p90 = onward_spread.percentiles if onward_spread else (None, None)
        result.append(
            StageMetrics(
                stage_id=stage_id,
                entered=entered[stage_id],
                moved_on=onward_spread.count if onward_spread else None,
                conversion=_ratio(entered[stages[i + 1]], entered[stage_id]) if onward_spread else None,
                dropped_off=dropped,
                reached_goal=reached,
                in_flight=entered[stage_id] - moved_out[stage_id] - dropped - reached,
                velocity_median=_duration(median),
                velocity_p90=_duration(p90),
            )
        )
    return tuple(result)


def stage_metrics(*, session: Session, metrics_filter: MetricsFilter) -> tuple[StageMetrics, ...]:
    """Per stage, in the plan's stage order: entered, moved on, conversion, drop-off, velocity."""
    scope = _scope(session, metrics_filter)
    return _stage_metrics(session, scope, _outcomes(session, scope))


@dataclass(frozen=True)
class _Flows:
    """Entries and customers per node, and customers per step-to-step move, in the window."""

    entries: Counter[str]
    customers: Counter[str]
    moves: Counter[tuple[str, str]]


def _recorded_moves(session: Session, journey_id: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The journey's distinct nodes and (source, target) moves, whatever the window."""
    t = TRANSITION.c
    node_ids, moves = [], []
    for node_id, source in _recorded_pairs(session, journey_id, t.node_id, t.from_node_id):
        if source is None:
            node_ids.append(node_id)
        else:
            moves.append((source, node_id))
    return node_ids, moves


def _on_cycles(moves: Sequence[tuple[str, str]]) -> set[str]:
    """Nodes a run may enter more than once: what is left after repeatedly dropping nodes that no
    recorded move enters or leaves. A run entering a node twice took a cycle of recorded moves, so
    every such node is kept (so may a node between two cycles: counted exactly, just not fastest)."""
    out_of: dict[str, set[str]] = defaultdict(set)
    into: dict[str, set[str]] = defaultdict(set)
    for source, target in moves:
        out_of[source].add(target)
        into[target].add(source)
    left = set(out_of) & set(into)
    while True:
        keep = {n for n in left if out_of[n] & left and into[n] & left}
        if keep == left:
            return left
        left = keep


# A statement counts at most this many ranges: SQLite caps a compound select at 500 terms.
COUNTS_PER_STATEMENT = 400


def _tally_each(session: Session, tallies: Sequence[Select[*tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    """Run one-row queries as a UNION ALL, in statements of COUNTS_PER_STATEMENT; their rows in order.

    Each branch is a plain range count, so PostgreSQL spreads the branches over parallel workers
    (Parallel Append), which it does not for the same counts as correlated subqueries.
    """
    found: list[tuple[Any, ...]] = [()] * len(tallies)
    for start in range(0, len(tallies), COUNTS_PER_STATEMENT):
        part = tallies[start : start + COUNTS_PER_STATEMENT]
        numbered = [tally.add_columns(literal(start + i).label("position")) for i, tally in enumerate(part)]
        for *values, position in session.execute(union_all(*numbered)):
            found[position] = tuple(values)
    return found


def _count_each(session: Session, counts: Sequence[Select[Any]]) -> list[int]:
    """One-row count queries run as by :func:`_tally_each`; their counts in order."""
    return [count for (count,) in _tally_each(session, counts)]


def _flows(session: Session, scope: _Scope, outcomes: _Outcomes) -> _Flows:
    """Entries, customers and moves, each an index range count.

    Each transition records the step it came from and when the customer had entered it, so a move
    is one row: customers who went from A to B, A entered in the window, are the rows (target B,
    source A, source entered in the window), counted as an index range. Counting rows counts
    customers wherever no run can enter a node twice, which holds for every node off the cycles of
    the recorded moves; only nodes and moves on a cycle are counted per distinct run. Without a
    window a node's entries are the moves into it plus the runs that entered the journey there.
    """
    f = scope.filter
    t = TRANSITION.c
    node_ids, moves = _recorded_moves(session, f.journey_id)
    if not node_ids:
        return _Flows(Counter(), Counter(), Counter())
    cyclic = _on_cycles(moves)
    windowless = f.since is None and f.until is None
    version = [t.version_id == scope.version_id] if scope.version_id is not None else []
    before_end = [t.at < f.until] if f.until is not None else []
    runs = func.count(t.enrollment_id.distinct())

    def at_node(node_id: str) -> list[ColumnElement[bool]]:
        return [t.journey_id == f.journey_id, t.node_id == node_id, *version]

    def moving(source: str, target: str) -> list[ColumnElement[bool]]:
        return [*at_node(target), t.from_node_id == source, *_window(t.from_at, f), *before_end]

    # With a window, a node's entries are counted by when they happened.
    entered_in_window = [] if windowless else node_ids
    repeated = [n for n in node_ids if n in cyclic]
    repeated_moves = [m for m in moves if m[0] in cyclic]
    counted = _count_each(
        session,
        [select(func.count()).where(*at_node(n), *_window(t.at, f)) for n in entered_in_window]
        + [select(func.count()).where(*moving(*m)) for m in moves]
        + [select(runs).where(*at_node(n), *_window(t.at, f)) for n in repeated]
        + [select(runs).where(*moving(*m)) for m in repeated_moves],
    )
    entry_rows = dict(zip(entered_in_window, counted, strict=False))
    move_rows = dict(zip(moves, counted[len(entered_in_window) :], strict=False))
    distinct = counted[len(entered_in_window) + len(moves) :]
    customers_of = dict(zip(repeated, distinct, strict=False))
    movers_of = dict(zip(repeated_moves, distinct[len(repeated) :], strict=False))
    began_at: Counter[str] = Counter()
    for (node_id, _), count in outcomes.entries.items():
        began_at[node_id] += count
    flows = _Flows(Counter(), Counter(), Counter())
    for node_id in node_ids:
        if windowless:
            moved_in = sum(count for (_, target), count in move_rows.items() if target == node_id)
            entries = began_at[node_id] + moved_in
        else:
            entries = entry_rows[node_id]
        if entries:
            flows.entries[node_id] = entries
            flows.customers[node_id] = customers_of.get(node_id, entries)
    for move in moves:
        customers = movers_of.get(move, move_rows[move])
        if customers:
            flows.moves[move] = customers
    return flows


def _distinct(session: Session, column: Any, *conditions: ColumnElement[bool]) -> list[Any]:
    """The distinct values of an indexed column under equality ``conditions`` on the columns before it,
    by a loose index scan: one seek per value found, however many rows hold each."""
    first = select(func.min(column).label("value")).where(*conditions).cte(recursive=True)
    following = select(func.min(column)).where(*conditions, column > first.c.value)
    found = first.union_all(select(following.scalar_subquery()).where(first.c.value.is_not(None)))
    return list(session.execute(select(found.c.value).where(found.c.value.is_not(None))).scalars())


def _message_counts(session: Session, scope: _Scope) -> dict[str, dict[str, int]]:
    """Messages per node and outcome (tests left out): an index range count per node and status."""
    f = scope.filter
    o = OUTBOX.c
    if scope.version_id is not None:
        # One version's messages are those of its runs: counted through the join, not off one index.
        grouped = (
            select(o.node_id, o.status, func.count())
            .join(ENROLLMENT, and_(ENROLLMENT.c.id == o.enrollment_id, ENROLLMENT.c.version_id == scope.version_id))
            .where(o.journey_id == f.journey_id, o.is_test == false(), *_window(o.created_at, f))
            .group_by(o.node_id, o.status)
        )
        rows: Sequence[tuple[Any, Any, int]] = [tuple(row) for row in session.execute(grouped)]
    else:
        nodes = _distinct(session, o.node_id, o.journey_id == f.journey_id)
        wanted = [(n, status.value) for n in nodes for status in MessageStatus]
        ranges = [
            select(func.count()).where(
                o.journey_id == f.journey_id,
                o.node_id == node_id,
                o.status == status,
                o.is_test == false(),
                *_window(o.created_at, f),
            )
            for node_id, status in wanted
        ]
        rows = [
            (node_id, status, count)
            for (node_id, status), count in zip(wanted, _count_each(session, ranges), strict=True)
        ]
    by_status: dict[str, dict[str, int]] = defaultdict(dict)
    for node_id, status, count in rows:
        if count:
            by_status[node_id][MessageStatus(status).value] = count
    return by_status


def _node_metrics(session: Session, scope: _Scope, flows: _Flows) -> tuple[NodeMetrics, ...]:
    waiting = session.execute(
        select(ENROLLMENT.c.step_id, func.count())
        .where(*_enrollments_of(scope), ENROLLMENT.c.status == EnrollmentStatus.WAITING)
        .group_by(ENROLLMENT.c.step_id)
    ).all()
    by_status = _message_counts(session, scope)
    waiting_at = {step_id: count for step_id, count in waiting if step_id is not None}
    order = _node_order(scope)
    seen = set(order)
    order += sorted((set(flows.entries) | set(waiting_at) | set(by_status)) - seen)
    result = []
    for node_id in order:
        sent = by_status.get(node_id, {})
        pending, delivered, failed = (
            sent.get(s.value, 0) for s in (MessageStatus.PENDING, MessageStatus.DELIVERED, MessageStatus.FAILED)
        )
        result.append(
            NodeMetrics(
                node_id=node_id,
                customers=flows.customers[node_id],
                entries=flows.entries[node_id],
                waiting=waiting_at.get(node_id, 0),
                sent=pending + delivered + failed,
                pending=pending,
                delivered=delivered,
                failed=failed,
                suppressed=sent.get(MessageStatus.SUPPRESSED.value, 0),
                skipped=sent.get(MessageStatus.SKIPPED.value, 0),
            )
        )
    return tuple(result)


def _node_order(scope: _Scope) -> list[str]:
    """The nodes the engine runs, in map order; nodes only older versions had follow, by id."""
    if scope.plan is None:
        return []
    return [scope.plan.entry.node_id, *(step.id for step in scope.plan.steps)]


def node_metrics(*, session: Session, metrics_filter: MetricsFilter) -> tuple[NodeMetrics, ...]:
    """Per node: customers and entries, waiting now, and its messages by outcome."""
    scope = _scope(session, metrics_filter)
    return _node_metrics(session, scope, _flows(session, scope, _outcomes(session, scope)))


@dataclass(frozen=True)
class _Outcomes:
    """What became of the runs: the goal conversion of those that entered in the window, where they
    entered (node and stage), and per stage, of the runs whose latest visit there began in the
    window, how many ended there without the goal and how many reached it there."""

    goal: GoalConversion
    entries: Counter[tuple[str, str]]
    by_stage: dict[str, tuple[int, int]]


def _outcomes(session: Session, scope: _Scope) -> _Outcomes:
    """One read of the journey's runs, off the index holding what these count.

    A run's first transition enters its version's entry node when the run enters the journey, so
    the runs counted here are those transitions: the node and stage figures take them from here
    rather than reading them again.
    """
    f = scope.filter
    e = ENROLLMENT.c
    # FILTER clauses, as lean as they can be: each is worked out for every run. A comparison with
    # NULL is not true, so "reached the goal before the window closed" needs no IS NOT NULL.
    if f.until is not None:
        ended, goal, no_goal = e.ended_at < f.until, e.goal_reached_at < f.until, e.goal_reached_at >= f.until
        no_goal = or_(e.goal_reached_at.is_(None), no_goal)
    else:
        ended, goal, no_goal = e.ended_at.is_not(None), e.goal_reached_at.is_not(None), e.goal_reached_at.is_(None)
    entered = _window(e.entered_at, f)
    visit = _window(e.stage_entered_at, f) or [e.stage_entered_at.is_not(None)]
    rows = session.execute(
        select(
            e.version_id,
            e.stage_id,
            func.count().filter(and_(*entered)) if entered else func.count(),
            func.count().filter(and_(*entered, goal)),
            func.count().filter(and_(*visit, ended, no_goal)),
            func.count().filter(and_(*visit, goal)),
        )
        .where(*_enrollments_of(scope))
        # In the index's order: the groups stream off it without a sort.
        .group_by(e.stage_id, e.version_id)
    ).all()
    by_version: Counter[int] = Counter()
    by_stage: dict[str, tuple[int, int]] = {}
    converted = 0
    for version_id, stage_id, entered, reached_goal, dropped, reached_here in rows:
        by_version[version_id] += entered
        converted += reached_goal
        if stage_id is not None:
            so_far = by_stage.get(stage_id, (0, 0))
            by_stage[stage_id] = (so_far[0] + dropped, so_far[1] + reached_here)
    entered_total = sum(by_version.values())
    return _Outcomes(
        goal=GoalConversion(entered=entered_total, reached_goal=converted, rate=_ratio(converted, entered_total)),
        entries=_entries_by_place(session, by_version),
        by_stage=by_stage,
    )


def _entries_by_place(session: Session, by_version: Counter[int]) -> Counter[tuple[str, str]]:
    """Runs entered, by (entry node, entry stage) of their version."""
    versions = [version_id for version_id, count in by_version.items() if count]
    if not versions:
        return Counter()
    entry = VERSION.c.plan["entry"]
    places = session.execute(
        select(VERSION.c.id, entry["node_id"].as_string(), entry["stage"].as_string()).where(VERSION.c.id.in_(versions))
    )
    entries: Counter[tuple[str, str]] = Counter()
    for version_id, node_id, stage_id in places:
        entries[(node_id, stage_id)] += by_version[version_id]
    return entries


def goal_conversion(*, session: Session, metrics_filter: MetricsFilter) -> GoalConversion:
    """Runs that entered the journey in the window, and how many of them reached the goal."""
    return _outcomes(session, _scope(session, metrics_filter)).goal


def recovery_by_channel(*, session: Session, metrics_filter: MetricsFilter) -> tuple[ChannelRecovery, ...]:
    """For runs that entered in the window and reached the goal: the channel of the last message of
    this journey delivered to them before the goal, counted per channel (most customers first; no channel last)."""
    scope = _scope(session, metrics_filter)
    f = scope.filter
    last_channel = (
        select(OUTBOX.c.channel)
        .where(
            OUTBOX.c.enrollment_id == ENROLLMENT.c.id,
            OUTBOX.c.status == MessageStatus.DELIVERED,
            OUTBOX.c.delivered_at <= ENROLLMENT.c.goal_reached_at,
            OUTBOX.c.is_test == false(),
        )
        .order_by(OUTBOX.c.delivered_at.desc(), OUTBOX.c.id.desc())
        .limit(1)
        .correlate(ENROLLMENT)
        .scalar_subquery()
        .label("channel")
    )
    runs = (
        select(last_channel)
        .where(
            *_enrollments_of(scope),
            *_window(ENROLLMENT.c.entered_at, f),
            _by_until(ENROLLMENT.c.goal_reached_at, f),
        )
        .subquery()
    )
    rows = session.execute(
        select(runs.c.channel, func.count())
        .group_by(runs.c.channel)
        .order_by(func.count().desc(), runs.c.channel.asc().nulls_last())
    ).all()
    return tuple(ChannelRecovery(channel=channel, customers=count) for channel, count in rows)


def two_proportion_p_value(successes_a: int, total_a: int, successes_b: int, total_b: int) -> float | None:
    """Two-sided p-value of a pooled two-proportion z-test; None when it is undefined."""
    if total_a == 0 or total_b == 0:
        return None
    pooled = (successes_a + successes_b) / (total_a + total_b)
    variance = pooled * (1 - pooled) * (1 / total_a + 1 / total_b)
    if variance == 0:
        return None
    z = (successes_b / total_b - successes_a / total_a) / math.sqrt(variance)
    # 2 * (1 - Phi(|z|)) with Phi(x) = (1 + erf(x / sqrt 2)) / 2; erfc keeps the tiny p-values
    # that 1 - erf would round to zero.
    return math.erfc(abs(z) / math.sqrt(2))


def split_results(*, session: Session, metrics_filter: MetricsFilter) -> tuple[SplitResult, ...]:
    """Per split node of the plan: each arm's customers (assigned in the window) and goal conversion,
    compared with the first arm."""
    scope = _scope(session, metrics_filter)
    if scope.plan is None:
        return ()
    splits = [step for step in scope.plan.steps if isinstance(step, SplitStep)]
    if not splits:
        return ()
    f = scope.filter
    assigned = (
        select(TRANSITION.c.node_id, TRANSITION.c.arm, TRANSITION.c.enrollment_id)
        .where(
            *_transitions_of(scope),
            TRANSITION.c.node_id.in_([s.id for s in splits]),
            TRANSITION.c.arm.is_not(None),
            *_window(TRANSITION.c.at, f),
        )
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(assigned.c.node_id, assigned.c.arm, func.count(), _count_if(_by_until(ENROLLMENT.c.goal_reached_at, f)))
        .select_from(assigned.join(ENROLLMENT, ENROLLMENT.c.id == assigned.c.enrollment_id))
        .group_by(assigned.c.node_id, assigned.c.arm)
    ).all()
    counts = {(node_id, arm): (customers, reached) for node_id, arm, customers, reached in rows}
    results = []
    for split in splits:
        control = counts.get((split.id, split.arms[0].name), (0, 0))
        arms = []
        for index, arm in enumerate(split.arms):
            customers, reached = counts.get((split.id, arm.name), (0, 0))
            arms.append(
                ArmResult(
                    arm=arm.name,
                    holdout=arm.holdout,
                    customers=customers,
                    reached_goal=reached,
                    rate=_ratio(reached, customers),
                    p_value=None if index == 0 else two_proportion_p_value(control[1], control[0], reached, customers),
                    small_sample=customers < MIN_ARM_CUSTOMERS or reached < MIN_ARM_CONVERSIONS,
                )
            )
        results.append(SplitResult(node_id=split.id, arms=tuple(arms), small_sample=any(a.small_sample for a in arms)))
    return tuple(results)


def _utc_day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def conversion_over_time(*, session: Session, metrics_filter: MetricsFilter) -> tuple[DailyConversion, ...]:
    """Per UTC day of the window (every day, empty ones too): entries, their conversions, goals reached."""
    scope = _scope(session, metrics_filter)
    f = scope.filter
    entry_day = _utc_day(ENROLLMENT.c.entered_at, scope.dialect).label("day")
    entries = session.execute(
        select(entry_day, func.count(), _count_if(_by_until(ENROLLMENT.c.goal_reached_at, f)))
        .where(*_enrollments_of(scope), *_window(ENROLLMENT.c.entered_at, f))
        .group_by(entry_day)
    ).all()
    goal_day = _utc_day(ENROLLMENT.c.goal_reached_at, scope.dialect).label("day")
    goals = session.execute(
        select(goal_day, func.count())
        .where(*_enrollments_of(scope), *_window(ENROLLMENT.c.goal_reached_at, f, nullable=True))
        .group_by(goal_day)
    ).all()
    by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, entered, converted in entries:
        by_day[_as_date(day)][:2] = [entered, converted]
    for day, reached in goals:
        by_day[_as_date(day)][2] = reached
    days = set(by_day)
    if f.since is not None:
        days.add(f.since.astimezone(UTC).date())
    if f.since is not None or f.until is not None:
        end = f.until - timedelta(microseconds=1) if f.until is not None else utc_now()
        days.add(end.astimezone(UTC).date())
    if not days:
        return ()
    first, final = min(days), max(days)
    return tuple(
        DailyConversion(day=day, entered=by_day[day][0], converted=by_day[day][1], goals_reached=by_day[day][2])
        for day in (first + timedelta(days=n) for n in range((final - first).days + 1))
    )


def _edge_paths(doc: JourneyMap | None) -> dict[tuple[str, str], tuple[str, ...]]:
    """Map edges by the step-to-step path they draw: touchpoints are not run, so an edge into one
    belongs to the path from its source to the step the chain of touchpoints leads to."""
    if doc is None:
        return {}
    touchpoints = {n.id for n in doc.nodes if n.kind is NodeKind.TOUCHPOINT}
    out_of = {e.source: e for e in doc.edges}
    paths: dict[tuple[str, str], tuple[str, ...]] = {}
    for edge in doc.edges:
        if edge.source in touchpoints:
            continue
        ids, target = [edge.id], edge.target
        while target in touchpoints and target in out_of and out_of[target].id not in ids:
            ids.append(out_of[target].id)
            target = out_of[target].target
        if target not in touchpoints:
            paths[(edge.source, target)] = paths.get((edge.source, target), ()) + tuple(ids)
    return paths


def _edge_shares(scope: _Scope, flows: _Flows) -> tuple[EdgeShare, ...]:
    paths = _edge_paths(scope.doc)
    return tuple(
        EdgeShare(
            source=source,
            target=target,
            customers=customers,
            share=_ratio(customers, flows.customers[source]),
            edge_ids=paths.get((source, target), ()),
        )
        for (source, target), customers in sorted(flows.moves.items())
    )


def journey_overlay(*, session: Session, metrics_filter: MetricsFilter) -> JourneyOverlay:
    """Everything the canvas overlay draws, in one call: stages, nodes, edge shares and the goal."""
    scope = _scope(session, metrics_filter)
    outcomes = _outcomes(session, scope)
    flows = _flows(session, scope, outcomes)
    return JourneyOverlay(
        filter=metrics_filter,
        stages=_stage_metrics(session, scope, outcomes),
        nodes=_node_metrics(session, scope, flows),
        edges=_edge_shares(scope, flows),
        goal=outcomes.goal,
    )
