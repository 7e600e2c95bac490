"""What the executive dashboard and a journey's KPI page show: small aggregates, never raw rows.

The figures follow the definitions of :mod:`engine.kpis.metrics` (and reuse the queries of
:mod:`engine.kpis` where they exist); what this module adds are the aggregates those pages need on top:

- the velocity *distribution* of each stage (customers per time bucket), for a histogram;
- the cohort of a window (entered, reached the goal, dropped off, still in flight) in one query;
- every journey's entries per bucket of time, in one query for all journeys, for the dashboard's sparklines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    func,
    literal,
    outerjoin,
    select,
    union_all,
)
from sqlmodel import Session

from engine.compiler import Plan
from engine.journeys import JourneyNotFoundError
from engine.kpis.buckets import as_utc, bucket_for, bucket_index, start_of, starts
from engine.kpis.figures import (
    ChannelRecovery,
    DailyConversion,
    InAppCard,
    MetricsFilter,
    SplitResult,
    StageMetrics,
    VersionNotFoundError,
)
from engine.kpis.in_app import in_app_cards
from engine.kpis.outcomes import conversion_over_time, recovery_by_channel, split_results
from engine.kpis.stages import stage_metrics, stage_move_rows
from engine.kpis.tasks import TaskCardMetrics, task_card_metrics
from engine.map import JourneyMap, ordered_stages, stage_emotions
from engine.store import Enrollment, Journey, JourneyStatus, JourneyVersion, Transition, utc_now

TRANSITION: Table = Transition.__table__  # type: ignore[attr-defined]
ENROLLMENT: Table = Enrollment.__table__  # type: ignore[attr-defined]
VERSION: Table = JourneyVersion.__table__  # type: ignore[attr-defined]
JOURNEY: Table = Journey.__table__  # type: ignore[attr-defined]

# Upper bounds of the velocity buckets (the last is open). Fixed, human-sized steps rather than
# data-driven bins, so two journeys, or two windows of one journey, read the same way.
VELOCITY_BUCKETS: Final[tuple[tuple[str, timedelta | None], ...]] = (
    ("< 15 min", timedelta(minutes=15)),
    ("15-60 min", timedelta(hours=1)),
    ("1-6 h", timedelta(hours=6)),
    ("6-24 h", timedelta(days=1)),
    ("1-3 days", timedelta(days=3)),
    ("3-7 days", timedelta(days=7)),
    ("≥ 7 days", None),
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VelocityBucket(_Frozen):
    label: str
    # None for the last, open-ended bucket.
    upper: timedelta | None
    customers: int


class StageVelocity(_Frozen):
    """How long the customers who moved from ``stage_id`` on to ``next_stage_id`` took, in buckets.

    ``customers`` is the stage's ``moved_on`` of :func:`engine.kpis.stages.stage_metrics`.
    """

    stage_id: str
    next_stage_id: str
    customers: int
    buckets: tuple[VelocityBucket, ...]


class Cohort(_Frozen):
    """The runs that entered in the window, and where each stood when it closed."""

    entered: int
    reached_goal: int
    dropped_off: int
    in_flight: int

    @property
    def goal_rate(self) -> float | None:
        return self.reached_goal / self.entered if self.entered else None


class StageView(_Frozen):
    """A stage as the map draws it: its name and the mean emotion of its cards (None: no cards).

    ``tracked`` is False for a stage holding only touchpoints: the engine runs nothing there, so no
    customer is ever recorded entering it and its funnel figures are not zeros but unknown.
    """

    id: str
    name: str
    emotion: float | None
    tracked: bool


class JourneyReport(_Frozen):
    """Everything one journey's KPI page draws, for one filter."""

    journey_id: int
    journey_name: str
    journey_status: JourneyStatus
    filter: MetricsFilter
    versions: tuple[int, ...]
    stages: tuple[StageView, ...]
    stage_metrics: tuple[StageMetrics, ...]
    cohort: Cohort
    velocity: tuple[StageVelocity, ...]
    daily: tuple[DailyConversion, ...]
    recovery: tuple[ChannelRecovery, ...]
    splits: tuple[SplitResult, ...]
    node_titles: dict[str, str]
    in_app: tuple[InAppCard, ...] = ()
    tasks: tuple[TaskCardMetrics, ...] = ()


class DayCount(_Frozen):
    """Entries in one bucket of time starting at ``start`` (a UTC day, or less for a short history)."""

    start: datetime
    entered: int
    converted: int

    @property
    def day(self) -> date:
        return self.start.date()


class JourneyTrend(_Frozen):
    """One journey's runs that entered in the window, per bucket of time (every one, empty ones too)."""

    journey_id: int
    bucket: timedelta
    entered: int
    reached_goal: int
    days: tuple[DayCount, ...]

    @property
    def goal_rate(self) -> float | None:
        return self.reached_goal / self.entered if self.entered else None


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _window(column: Any, f: MetricsFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if f.since is not None:
        conditions.append(column >= f.since)
    if f.until is not None:
        conditions.append(column < f.until)
    return conditions


def _by_until(column: Any, until: datetime | None) -> ColumnElement[bool]:
    """Happened, and before the window closed."""
    return and_(column.is_not(None), column < until) if until is not None else column.is_not(None)


def _version(session: Session, metrics_filter: MetricsFilter) -> tuple[int | None, Plan | None, JourneyMap | None]:
    """The filtered version's id (None: every version), and the plan and map figures are laid on.

    Without a version the newest one is used, as :func:`engine.kpis.scope.resolve_scope` does.
    """
    journey_id = metrics_filter.journey_id
    if session.get(Journey, journey_id) is None:
        raise JourneyNotFoundError(journey_id)
    query = select(VERSION.c.id, VERSION.c.plan, VERSION.c.map).where(VERSION.c.journey_id == journey_id)
    if metrics_filter.version is not None:
        query = query.where(VERSION.c.number == metrics_filter.version)
    row = session.execute(query.order_by(VERSION.c.number.desc()).limit(1)).first()
    if row is None:
        if metrics_filter.version is not None:
            raise VersionNotFoundError(journey_id, metrics_filter.version)
        return None, None, None
    version_id = row.id if metrics_filter.version is not None else None
    return version_id, Plan.model_validate(row.plan), JourneyMap.model_validate(row.map)


def _velocity_distribution(
    session: Session, metrics_filter: MetricsFilter, version_id: int | None, plan: Plan | None
) -> tuple[StageVelocity, ...]:
    if plan is None or len(plan.stage_order) < 2:
        return ()
    stages = plan.stage_order
    took = TRANSITION.c.from_stage_seconds
    bucket = case(
        *(
            (took < upper.total_seconds(), index)
            for index, (_, upper) in enumerate(VELOCITY_BUCKETS)
            if upper is not None
        ),
        else_=len(VELOCITY_BUCKETS) - 1,
    )
    # The moves engine.kpis.stages times for the velocity: from each stage into the next.
    per_stage = [
        select(literal(i).label("stage"), bucket.label("bucket")).where(
            *stage_move_rows(metrics_filter, version_id, source, target)
        )
        for i, (source, target) in enumerate(pairwise(stages))
    ]
    moves = union_all(*per_stage).subquery()
    rows = session.execute(select(moves.c.stage, moves.c.bucket, func.count()).group_by(moves.c.stage, moves.c.bucket))
    counts = {(stage, bucket): count for stage, bucket, count in rows}
    result = []
    for i in range(len(stages) - 1):
        buckets = tuple(
            VelocityBucket(label=label, upper=upper, customers=counts.get((i, index), 0))
            for index, (label, upper) in enumerate(VELOCITY_BUCKETS)
        )
        result.append(
            StageVelocity(
                stage_id=stages[i],
                next_stage_id=stages[i + 1],
                customers=sum(b.customers for b in buckets),
                buckets=buckets,
            )
        )
    return tuple(result)


def velocity_distribution(*, session: Session, metrics_filter: MetricsFilter) -> tuple[StageVelocity, ...]:
    """Per stage but the last: the customers who moved on to the next stage, by how long it took."""
    version_id, plan, _ = _version(session, metrics_filter)
    return _velocity_distribution(session, metrics_filter, version_id, plan)


def _cohort(session: Session, metrics_filter: MetricsFilter, version_id: int | None) -> Cohort:
    f = metrics_filter
    conditions = [ENROLLMENT.c.journey_id == f.journey_id, *_window(ENROLLMENT.c.entered_at, f)]
    if version_id is not None:
        conditions.append(ENROLLMENT.c.version_id == version_id)
    goal = _by_until(ENROLLMENT.c.goal_reached_at, f.until)
    ended = _by_until(ENROLLMENT.c.ended_at, f.until)
    entered, reached, dropped = session.execute(
        select(func.count(), _count_if(goal), _count_if(and_(ended, ~goal))).where(*conditions)
    ).one()
    return Cohort(entered=entered, reached_goal=reached, dropped_off=dropped, in_flight=entered - reached - dropped)


def cohort(*, session: Session, metrics_filter: MetricsFilter) -> Cohort:
    """Runs that entered in the window: how many reached the goal, dropped off, or were still in flight
    when it closed. ``entered`` and ``reached_goal`` are :func:`engine.kpis.outcomes.goal_conversion`'s."""
    version_id, _, _ = _version(session, metrics_filter)
    return _cohort(session, metrics_filter, version_id)


def _stage_views(doc: JourneyMap | None, plan: Plan | None) -> tuple[StageView, ...]:
    if doc is None:
        return ()
    emotions = dict(zip((s.id for s in ordered_stages(doc)), stage_emotions(doc), strict=True))
    names = {s.id: s.name for s in doc.stages}
    if plan is None:
        return tuple(StageView(id=s, name=names[s], emotion=emotions[s], tracked=False) for s in emotions)
    run = {plan.entry.stage, *(step.stage for step in plan.steps)}
    return tuple(
        StageView(id=s, name=names.get(s, s), emotion=emotions.get(s), tracked=s in run) for s in plan.stage_order
    )


def journey_report(*, session: Session, metrics_filter: MetricsFilter) -> JourneyReport:
    """The KPI page of one journey for one filter, from a handful of aggregate queries."""
    journey = session.get(Journey, metrics_filter.journey_id)
    if journey is None:
        raise JourneyNotFoundError(metrics_filter.journey_id)
    version_id, plan, doc = _version(session, metrics_filter)
    numbers = session.execute(
        select(VERSION.c.number).where(VERSION.c.journey_id == metrics_filter.journey_id).order_by(VERSION.c.number)
    ).scalars()
    return JourneyReport(
        journey_id=metrics_filter.journey_id,
        journey_name=journey.name,
        journey_status=journey.status,
        filter=metrics_filter,
        versions=tuple(numbers),
        stages=_stage_views(doc, plan),
        stage_metrics=stage_metrics(session=session, metrics_filter=metrics_filter),
        cohort=_cohort(session, metrics_filter, version_id),
        velocity=_velocity_distribution(session, metrics_filter, version_id, plan),
        daily=conversion_over_time(session=session, metrics_filter=metrics_filter),
        recovery=recovery_by_channel(session=session, metrics_filter=metrics_filter),
        splits=split_results(session=session, metrics_filter=metrics_filter),
        node_titles={n.id: n.title or n.id for n in doc.nodes} if doc is not None else {},
        in_app=in_app_cards(session=session, metrics_filter=metrics_filter),
        tasks=task_card_metrics(session=session, metrics_filter=metrics_filter),
    )


class StageLine(_Frozen):
    """One stage of the plan, named as on the map, with its figures: what the dashboard lists."""

    stage: StageView
    metrics: StageMetrics


def stage_lines(*, session: Session, metrics_filter: MetricsFilter) -> tuple[StageLine, ...]:
    """The plan's stages in its order, with :func:`engine.kpis.stages.stage_metrics`'s figures (the
    overlay's and the KPI page's); ``stage.tracked`` says whether the engine runs anything there."""
    _, plan, doc = _version(session, metrics_filter)
    views = {view.id: view for view in _stage_views(doc, plan)}
    return tuple(
        StageLine(stage=views[m.stage_id], metrics=m)
        for m in stage_metrics(session=session, metrics_filter=metrics_filter)
        if m.stage_id in views
    )


def journey_trends(
    *, session: Session, since: datetime, until: datetime | None = None, bucket: timedelta | None = None
) -> dict[int, JourneyTrend]:
    """Every journey's runs that entered in [since, until), per bucket of time: one query for all of them
    (and one for the span of their entries when ``bucket`` is not given).

    The series run from the first entry of any journey in the window to its end, in a bucket chosen from
    that span (:func:`engine.kpis.buckets.bucket_for`), the same for every journey so their sparklines
    compare; a window nobody entered in runs from ``since``. Journeys without entries are there too, with
    zeros in every bucket; archived journeys are not.
    """
    until = until if until is not None else utc_now()
    dialect = session.get_bind().dialect.name
    in_window = and_(
        ENROLLMENT.c.journey_id == JOURNEY.c.id, ENROLLMENT.c.entered_at >= since, ENROLLMENT.c.entered_at < until
    )
    first = since
    if bucket is None:
        first_entry = session.execute(
            select(func.min(ENROLLMENT.c.entered_at))
            .select_from(JOURNEY.join(ENROLLMENT, in_window))
            .where(JOURNEY.c.archived_at.is_(None))
        ).scalar()
        first = as_utc(first_entry) if first_entry is not None else since
    size = bucket if bucket is not None else bucket_for(until - first)
    index = bucket_index(ENROLLMENT.c.entered_at, size, dialect).label("bucket")
    rows = session.execute(
        select(
            JOURNEY.c.id, index, func.count(ENROLLMENT.c.id), _count_if(_by_until(ENROLLMENT.c.goal_reached_at, until))
        )
        .select_from(outerjoin(JOURNEY, ENROLLMENT, in_window))
        .where(JOURNEY.c.archived_at.is_(None))
        .group_by(JOURNEY.c.id, index)
    ).all()
    per_bucket: dict[int, dict[datetime, tuple[int, int]]] = {}
    for journey_id, entry_bucket, entered, converted in rows:
        counts = per_bucket.setdefault(journey_id, {})
        if entry_bucket is not None:
            counts[start_of(int(entry_bucket), size)] = (entered, converted)
    series = starts(first, until - timedelta(microseconds=1), size)
    return {journey_id: _trend(journey_id, size, series, counts) for journey_id, counts in sorted(per_bucket.items())}


def _trend(
    journey_id: int, size: timedelta, series: Sequence[datetime], counts: dict[datetime, tuple[int, int]]
) -> JourneyTrend:
    points = tuple(
        DayCount(start=at, entered=counts.get(at, (0, 0))[0], converted=counts.get(at, (0, 0))[1]) for at in series
    )
    return JourneyTrend(
        journey_id=journey_id,
        bucket=size,
        entered=sum(p.entered for p in points),
        reached_goal=sum(p.converted for p in points),
        days=points,
    )
