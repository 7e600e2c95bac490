"""What became of the runs: goal conversion, recovery by channel, split arms compared (p-values),
and conversion per day."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, false, func, or_, select
from sqlmodel import Session

from engine.compiler import SplitStep
from engine.kpis.buckets import as_utc, bucket_for, bucket_index, start_of, starts
from engine.kpis.figures import (
    ArmResult,
    ChannelRecovery,
    DailyConversion,
    GoalConversion,
    MetricsFilter,
    SplitResult,
)
from engine.kpis.scope import (
    ENROLLMENT,
    OUTBOX,
    TRANSITION,
    VERSION,
    Scope,
    by_until,
    count_if,
    enrollments_of,
    ratio,
    resolve_scope,
    transitions_of,
    window,
)
from engine.store import MessageStatus, utc_now

# Below these, a split's comparison is shown with a warning: the p-value of a two-proportion
# z-test means little on so few customers or conversions.
MIN_ARM_CUSTOMERS = 30
MIN_ARM_CONVERSIONS = 5


@dataclass(frozen=True)
class Outcomes:
    """What became of the runs: the goal conversion of those that entered in the window, where they
    entered (node and stage), and per stage, of the runs whose latest visit there began in the
    window, how many ended there without the goal and how many reached it there."""

    goal: GoalConversion
    entries: Counter[tuple[str, str]]
    by_stage: dict[str, tuple[int, int]]


def read_outcomes(session: Session, scope: Scope) -> Outcomes:
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
    entered = window(e.entered_at, f)
    visit = window(e.stage_entered_at, f) or [e.stage_entered_at.is_not(None)]
    rows = session.execute(
        select(
            e.version_id,
            e.stage_id,
            func.count().filter(and_(*entered)) if entered else func.count(),
            func.count().filter(and_(*entered, goal)),
            func.count().filter(and_(*visit, ended, no_goal)),
            func.count().filter(and_(*visit, goal)),
        )
        .where(*enrollments_of(scope))
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
    return Outcomes(
        goal=GoalConversion(entered=entered_total, reached_goal=converted, rate=ratio(converted, entered_total)),
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
    return read_outcomes(session, resolve_scope(session, metrics_filter)).goal


def recovery_by_channel(*, session: Session, metrics_filter: MetricsFilter) -> tuple[ChannelRecovery, ...]:
    """For runs that entered in the window and reached the goal: the channel of the last message of
    this journey delivered to them before the goal, counted per channel (most customers first; no channel last)."""
    scope = resolve_scope(session, metrics_filter)
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
            *enrollments_of(scope),
            *window(ENROLLMENT.c.entered_at, f),
            by_until(ENROLLMENT.c.goal_reached_at, f),
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
    scope = resolve_scope(session, metrics_filter)
    if scope.plan is None:
        return ()
    splits = [step for step in scope.plan.steps if isinstance(step, SplitStep)]
    if not splits:
        return ()
    f = scope.filter
    assigned = (
        select(TRANSITION.c.node_id, TRANSITION.c.arm, TRANSITION.c.enrollment_id)
        .where(
            *transitions_of(scope),
            TRANSITION.c.node_id.in_([s.id for s in splits]),
            TRANSITION.c.arm.is_not(None),
            *window(TRANSITION.c.at, f),
        )
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(assigned.c.node_id, assigned.c.arm, func.count(), count_if(by_until(ENROLLMENT.c.goal_reached_at, f)))
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
                    rate=ratio(reached, customers),
                    p_value=None if index == 0 else two_proportion_p_value(control[1], control[0], reached, customers),
                    small_sample=customers < MIN_ARM_CUSTOMERS or reached < MIN_ARM_CONVERSIONS,
                )
            )
        results.append(SplitResult(node_id=split.id, arms=tuple(arms), small_sample=any(a.small_sample for a in arms)))
    return tuple(results)


def history_span(session: Session, scope: Scope) -> tuple[datetime, datetime] | None:
    """The part of the window the entries and goals cover: from the first of them to the window's end (to
    the last of them for an open end); None when the window holds none and has no bounds to show."""
    f = scope.filter
    e = ENROLLMENT.c
    first_entry, last_entry = session.execute(
        select(func.min(e.entered_at), func.max(e.entered_at)).where(*enrollments_of(scope), *window(e.entered_at, f))
    ).one()
    first_goal, last_goal = session.execute(
        select(func.min(e.goal_reached_at), func.max(e.goal_reached_at)).where(
            *enrollments_of(scope), *window(e.goal_reached_at, f, nullable=True)
        )
    ).one()
    firsts = [as_utc(at) for at in (first_entry, first_goal) if at is not None]
    lasts = [as_utc(at) for at in (last_entry, last_goal) if at is not None]
    first = min(firsts) if firsts else f.since
    if f.until is not None:
        last: datetime | None = f.until - timedelta(microseconds=1)
    elif f.since is not None:
        last = utc_now()
    else:
        last = max(lasts) if lasts else None
    if first is None or last is None:
        return None
    return first, max(first, last)


def conversion_over_time(
    *, session: Session, metrics_filter: MetricsFilter, bucket: timedelta | None = None
) -> tuple[DailyConversion, ...]:
    """Per bucket of time (every one from the first entry or goal in the window to its end, empty ones too):
    entries, their conversions, goals reached. The bucket is chosen from that span (:func:`bucket_for`:
    minutes or hours for a short history, UTC days for a long one) unless ``bucket`` is given."""
    scope = resolve_scope(session, metrics_filter)
    f = scope.filter
    span = history_span(session, scope)
    if span is None:
        return ()
    size = bucket if bucket is not None else bucket_for(span[1] - span[0])
    e = ENROLLMENT.c
    entry_bucket = bucket_index(e.entered_at, size, scope.dialect).label("bucket")
    entries = session.execute(
        select(entry_bucket, func.count(), count_if(by_until(e.goal_reached_at, f)))
        .where(*enrollments_of(scope), *window(e.entered_at, f))
        .group_by(entry_bucket)
    ).all()
    goal_bucket = bucket_index(e.goal_reached_at, size, scope.dialect).label("bucket")
    goals = session.execute(
        select(goal_bucket, func.count())
        .where(*enrollments_of(scope), *window(e.goal_reached_at, f, nullable=True))
        .group_by(goal_bucket)
    ).all()
    by_start: dict[datetime, list[int]] = defaultdict(lambda: [0, 0, 0])
    for index, entered, converted in entries:
        by_start[start_of(int(index), size)][:2] = [entered, converted]
    for index, reached in goals:
        by_start[start_of(int(index), size)][2] = reached
    return tuple(
        DailyConversion(
            start=at, size=size, entered=by_start[at][0], converted=by_start[at][1], goals_reached=by_start[at][2]
        )
        for at in starts(*span, size)
    )
