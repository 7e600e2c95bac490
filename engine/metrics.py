"""Live KPIs of a journey: SQL aggregates over what the engine already records.

Nothing here keeps counts of its own: every figure is a query over the transitions (a customer
entering a node), the enrollments (one row per run) and the outbox (one row per message). Only
aggregated rows come back to Python.

Windows select customers by when they did the thing being measured: entering a stage for the
stage metrics, entering a node for the node counts and edge shares, entering the journey for the
goal conversion. What happened next is counted up to the end of the window (``until``), so a
window in the past shows the figures as they stood at its end. Customers still in flight are
never counted as dropped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator
from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlmodel import Session

from engine.journeys import JourneyNotFoundError
from engine.mapdoc import JourneyMap, NodeKind
from engine.plan import Plan, SplitStep
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
    """One stage, for the customers who first entered it in the window.

    ``moved_on`` entered the next stage afterwards; ``conversion`` is the shared definition,
    customers entering the next stage in the window / customers entering this one. ``dropped_off``
    ended their run without entering the next stage and without reaching the goal (reaching it is
    a success, counted in ``reached_goal``); ``in_flight`` are still inside, neither. Velocity is
    the time from entering this stage to entering the next, over those who moved on. The last
    stage has no next one: its ``moved_on``, ``conversion`` and velocity are None.
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


def _window(column: Any, f: MetricsFilter) -> list[ColumnElement[bool]]:
    conditions = [column.is_not(None)]
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


def _seconds(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    # SQLite keeps timestamps as ISO text; julianday() reads them (to well under a millisecond).
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _duration(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(milliseconds=round(seconds * 1000))


def _percentiles_sqlite(durations: Select[Any], fractions: Sequence[float]) -> Select[Any]:
    """percentile_cont over (stage, seconds) rows, per stage, in SQL: SQLite has no ordered-set aggregates.

    Each percentile interpolates between the two ranked values around (n - 1) * fraction, as
    PostgreSQL's percentile_cont does, so both databases report the same figure.
    """
    source = durations.subquery()
    ranked = select(
        source.c.stage,
        source.c.seconds,
        (func.row_number().over(partition_by=source.c.stage, order_by=source.c.seconds) - 1).label("k"),
        func.count().over(partition_by=source.c.stage).label("n"),
    ).subquery()
    columns = []
    for i, fraction in enumerate(fractions):
        position = (ranked.c.n - 1) * fraction
        low = cast(position, Integer)
        weight = position - low
        columns.append(
            func.sum(
                case((ranked.c.k == low, ranked.c.seconds * (1 - weight)), else_=0.0)
                + case(((ranked.c.k == low + 1) & (weight > 0), ranked.c.seconds * weight), else_=0.0)
            ).label(f"p{i}")
        )
    return select(ranked.c.stage, *columns).group_by(ranked.c.stage)


def _stage_firsts(scope: _Scope, stages: Sequence[str]) -> Any:
    """One row per run: when it first entered each stage (columns s0, s1 ... in stage order)."""
    f = scope.filter
    conditions = [*_transitions_of(scope), TRANSITION.c.first_in_stage == true(), TRANSITION.c.stage_id.in_(stages)]
    if f.until is not None:
        conditions.append(TRANSITION.c.at < f.until)
    return (
        select(
            TRANSITION.c.enrollment_id,
            *(
                func.min(case((TRANSITION.c.stage_id == s, TRANSITION.c.at))).label(f"s{i}")
                for i, s in enumerate(stages)
            ),
        )
        .where(*conditions)
        .group_by(TRANSITION.c.enrollment_id)
        .cte("firsts")
    )


def _stage_metrics(session: Session, scope: _Scope) -> tuple[StageMetrics, ...]:
    if scope.plan is None or not scope.plan.stage_order:
        return ()
    f = scope.filter
    stages = scope.plan.stage_order
    last = len(stages) - 1
    firsts = _stage_firsts(scope, stages)
    ended = _by_until(ENROLLMENT.c.ended_at, f)
    goal = _by_until(ENROLLMENT.c.goal_reached_at, f)
    counts: list[ColumnElement[Any]] = []
    moved_by_stage: list[ColumnElement[bool]] = []
    for i in range(len(stages)):
        entered_here = firsts.c[f"s{i}"]
        here = and_(*_window(entered_here, f))
        stays = here
        counts.append(_count_if(here).label(f"entered{i}"))
        if i < last:
            entered_next = firsts.c[f"s{i + 1}"]
            moved = and_(here, entered_next >= entered_here)
            stays = and_(here, or_(entered_next.is_(None), entered_next < entered_here))
            moved_by_stage.append(moved)
            counts.append(_count_if(moved).label(f"moved{i}"))
        counts.append(_count_if(and_(stays, ended, not_(goal))).label(f"dropped{i}"))
        counts.append(_count_if(and_(stays, goal)).label(f"goal{i}"))
    tallies = select(*counts).select_from(firsts.join(ENROLLMENT, ENROLLMENT.c.id == firsts.c.enrollment_id)).subquery()
    velocity = _velocity(scope, firsts, moved_by_stage)
    row = session.execute(select(tallies, velocity).join_from(tallies, velocity, true())).one()._mapping
    result = []
    for i, stage_id in enumerate(stages):
        entered = row[f"entered{i}"]
        moved_on = row[f"moved{i}"] if i < last else None
        dropped, reached = row[f"dropped{i}"], row[f"goal{i}"]
        result.append(
            StageMetrics(
                stage_id=stage_id,
                entered=entered,
                moved_on=moved_on,
                conversion=_ratio(row[f"entered{i + 1}"], entered) if i < last else None,
                dropped_off=dropped,
                reached_goal=reached,
                in_flight=entered - (moved_on or 0) - dropped - reached,
                velocity_median=_duration(row[f"median{i}"]) if i < last else None,
                velocity_p90=_duration(row[f"p90_{i}"]) if i < last else None,
            )
        )
    return tuple(result)


def _velocity(scope: _Scope, firsts: Any, moved_by_stage: Sequence[ColumnElement[bool]]) -> Any:
    """Median and p90 seconds from entering each stage to entering the next: one row, two columns per stage."""
    durations = [_seconds(firsts.c[f"s{i + 1}"], firsts.c[f"s{i}"], scope.dialect) for i in range(len(moved_by_stage))]
    if not durations:
        return select(literal(0).label("no_velocity")).subquery()
    if scope.dialect == "postgresql":
        columns = []
        for i, (moved, seconds) in enumerate(zip(moved_by_stage, durations, strict=True)):
            # Ordered-set aggregates skip NULLs: runs that did not move on contribute nothing.
            only_moved = case((moved, seconds))
            columns.append(func.percentile_cont(0.5).within_group(only_moved).label(f"median{i}"))
            columns.append(func.percentile_cont(0.9).within_group(only_moved).label(f"p90_{i}"))
        return select(*columns).select_from(firsts).subquery()
    per_stage = union_all(
        *(
            select(literal(i).label("stage"), seconds.label("seconds")).select_from(firsts).where(moved)
            for i, (moved, seconds) in enumerate(zip(moved_by_stage, durations, strict=True))
        )
    )
    percentiles = _percentiles_sqlite(select(per_stage.subquery()), (0.5, 0.9)).subquery()
    columns = []
    for i in range(len(durations)):
        columns.append(func.max(case((percentiles.c.stage == i, percentiles.c.p0))).label(f"median{i}"))
        columns.append(func.max(case((percentiles.c.stage == i, percentiles.c.p1))).label(f"p90_{i}"))
    return select(*columns).select_from(percentiles).subquery()


def stage_metrics(*, session: Session, metrics_filter: MetricsFilter) -> tuple[StageMetrics, ...]:
    """Per stage, in the plan's stage order: entered, moved on, conversion, drop-off, velocity."""
    return _stage_metrics(session, _scope(session, metrics_filter))


def _node_metrics(session: Session, scope: _Scope) -> tuple[NodeMetrics, ...]:
    f = scope.filter
    entries = session.execute(
        select(TRANSITION.c.node_id, func.count(), func.count(TRANSITION.c.enrollment_id.distinct()))
        .where(*_transitions_of(scope), *_window(TRANSITION.c.at, f))
        .group_by(TRANSITION.c.node_id)
    ).all()
    waiting = session.execute(
        select(ENROLLMENT.c.step_id, func.count())
        .where(*_enrollments_of(scope), ENROLLMENT.c.status == EnrollmentStatus.WAITING)
        .group_by(ENROLLMENT.c.step_id)
    ).all()
    messages = select(OUTBOX.c.node_id, OUTBOX.c.status, func.count()).where(
        OUTBOX.c.journey_id == f.journey_id, OUTBOX.c.is_test == false(), *_window(OUTBOX.c.created_at, f)
    )
    if scope.version_id is not None:
        messages = messages.join(
            ENROLLMENT, and_(ENROLLMENT.c.id == OUTBOX.c.enrollment_id, ENROLLMENT.c.version_id == scope.version_id)
        )
    by_status: dict[str, dict[str, int]] = defaultdict(dict)
    for node_id, status, count in session.execute(messages.group_by(OUTBOX.c.node_id, OUTBOX.c.status)):
        by_status[node_id][MessageStatus(status).value] = count
    entered = {node_id: (total, unique) for node_id, total, unique in entries}
    waiting_at = {step_id: count for step_id, count in waiting if step_id is not None}
    order = _node_order(scope)
    seen = set(order)
    order += sorted((set(entered) | set(waiting_at) | set(by_status)) - seen)
    result = []
    for node_id in order:
        total, unique = entered.get(node_id, (0, 0))
        sent = by_status.get(node_id, {})
        pending, delivered, failed = (
            sent.get(s.value, 0) for s in (MessageStatus.PENDING, MessageStatus.DELIVERED, MessageStatus.FAILED)
        )
        result.append(
            NodeMetrics(
                node_id=node_id,
                customers=unique,
                entries=total,
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
    return _node_metrics(session, _scope(session, metrics_filter))


def _goal_conversion(session: Session, scope: _Scope) -> GoalConversion:
    f = scope.filter
    entered, reached = session.execute(
        select(func.count(), _count_if(_by_until(ENROLLMENT.c.goal_reached_at, f))).where(
            *_enrollments_of(scope), *_window(ENROLLMENT.c.entered_at, f)
        )
    ).one()
    return GoalConversion(entered=entered, reached_goal=reached, rate=_ratio(reached, entered))


def goal_conversion(*, session: Session, metrics_filter: MetricsFilter) -> GoalConversion:
    """Runs that entered the journey in the window, and how many of them reached the goal."""
    return _goal_conversion(session, _scope(session, metrics_filter))


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
        .where(*_enrollments_of(scope), *_window(ENROLLMENT.c.goal_reached_at, f))
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


def _edge_shares(session: Session, scope: _Scope, nodes: Sequence[NodeMetrics]) -> tuple[EdgeShare, ...]:
    f = scope.filter
    conditions = _transitions_of(scope)
    if f.until is not None:
        conditions.append(TRANSITION.c.at < f.until)
    # Within a run, transitions are written in the order they happen, so the id orders them.
    steps = (
        select(
            TRANSITION.c.enrollment_id,
            TRANSITION.c.at,
            TRANSITION.c.node_id.label("source"),
            func.lead(TRANSITION.c.node_id)
            .over(partition_by=TRANSITION.c.enrollment_id, order_by=TRANSITION.c.id)
            .label("target"),
        )
        .where(*conditions)
        .subquery()
    )
    rows = session.execute(
        select(steps.c.source, steps.c.target, func.count(steps.c.enrollment_id.distinct()))
        .where(steps.c.target.is_not(None), *_window(steps.c.at, f))
        .group_by(steps.c.source, steps.c.target)
    ).all()
    customers_at = {n.node_id: n.customers for n in nodes}
    paths = _edge_paths(scope.doc)
    return tuple(
        EdgeShare(
            source=source,
            target=target,
            customers=customers,
            share=_ratio(customers, customers_at.get(source, 0)),
            edge_ids=paths.get((source, target), ()),
        )
        for source, target, customers in sorted(rows)
    )


def journey_overlay(*, session: Session, metrics_filter: MetricsFilter) -> JourneyOverlay:
    """Everything the canvas overlay draws, in one call: stages, nodes, edge shares and the goal."""
    scope = _scope(session, metrics_filter)
    nodes = _node_metrics(session, scope)
    return JourneyOverlay(
        filter=metrics_filter,
        stages=_stage_metrics(session, scope),
        nodes=nodes,
        edges=_edge_shares(session, scope, nodes),
        goal=_goal_conversion(session, scope),
    )
