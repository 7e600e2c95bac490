"""Stage metrics: visits to each stage, moves on to the next, drop-off and velocity, and the
stage-move index ranges they are counted over."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, true
from sqlmodel import Session

from engine.kpis.figures import MetricsFilter, StageMetrics
from engine.kpis.outcomes import Outcomes, read_outcomes
from engine.kpis.percentiles import spreads
from engine.kpis.scope import (
    TRANSITION,
    Scope,
    count_if,
    ratio,
    recorded_pairs,
    resolve_scope,
    tally_each,
    transitions_of,
    window,
)


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
    conditions += [t.from_stage_id == source, *window(t.from_stage_at, f)]
    # Entered the next stage no sooner than the visit began, and before the window closed: the
    # index range is bounded by when the move happened.
    conditions += window(t.at, f)
    if version_id is not None:
        conditions.append(t.version_id == version_id)
    return conditions


def scoped_stage_metrics(session: Session, scope: Scope, outcomes: Outcomes) -> tuple[StageMetrics, ...]:
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
    moves_in_window = and_(true(), *window(t.from_stage_at, f))
    ranges = [
        (target, source)
        for target, source in recorded_pairs(
            session, f.journey_id, t.stage_id, t.from_stage_id, t.first_in_stage == true()
        )
        if source is not None and (source, target) not in counted
    ]
    tallies: list[Select[*tuple[Any, ...]]] = []
    for target, source in ranges:
        rows = [*transitions_of(scope), t.first_in_stage == true(), t.stage_id == target, t.from_stage_id == source]
        tallies.append(select(func.count(), count_if(moves_in_window)).where(*rows, *window(t.at, f)))
    for (target, source), (visits, moves) in zip(ranges, tally_each(session, tallies), strict=True):
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
                # Of this stage's own visits: a customer who came into the next stage from elsewhere (the goal
                # reached from an earlier stage) is not this stage's conversion.
                conversion=ratio(onward_spread.count, entered[stage_id]) if onward_spread else None,
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
    scope = resolve_scope(session, metrics_filter)
    return scoped_stage_metrics(session, scope, read_outcomes(session, scope))
