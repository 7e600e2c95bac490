"""What the KPI queries share: the tables they read, the filter resolved against the store, the
conditions a window and a scope put on rows, and index scans and batched range counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, literal, select, union_all
from sqlmodel import Session

from engine.compiler import Plan
from engine.journeys import JourneyNotFoundError
from engine.kpis.figures import MetricsFilter, VersionNotFoundError
from engine.map import JourneyMap
from engine.store import Enrollment, Journey, JourneyVersion, OutboxMessage, Transition

TRANSITION: Table = Transition.__table__  # type: ignore[attr-defined]
ENROLLMENT: Table = Enrollment.__table__  # type: ignore[attr-defined]
OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
VERSION: Table = JourneyVersion.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Scope:
    """The filter resolved against the store: the version's id, and the plan and map to lay figures on."""

    filter: MetricsFilter
    version_id: int | None
    plan: Plan | None
    doc: JourneyMap | None
    dialect: str


def resolve_scope(session: Session, metrics_filter: MetricsFilter) -> Scope:
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
        return Scope(metrics_filter, None, None, None, dialect)
    return Scope(
        filter=metrics_filter,
        version_id=row.id if metrics_filter.version is not None else None,
        plan=Plan.model_validate(row.plan),
        doc=JourneyMap.model_validate(row.map),
        dialect=dialect,
    )


def window(column: Any, f: MetricsFilter, *, nullable: bool = False) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [column.is_not(None)] if nullable else []
    if f.since is not None:
        conditions.append(column >= f.since)
    if f.until is not None:
        conditions.append(column < f.until)
    return conditions


def by_until(column: Any, f: MetricsFilter) -> ColumnElement[bool]:
    """Happened, and before the window closed."""
    return and_(column.is_not(None), column < f.until) if f.until is not None else column.is_not(None)


def transitions_of(scope: Scope) -> list[ColumnElement[bool]]:
    conditions = [TRANSITION.c.journey_id == scope.filter.journey_id]
    if scope.version_id is not None:
        conditions.append(TRANSITION.c.version_id == scope.version_id)
    return conditions


def enrollments_of(scope: Scope) -> list[ColumnElement[bool]]:
    conditions = [ENROLLMENT.c.journey_id == scope.filter.journey_id]
    if scope.version_id is not None:
        conditions.append(ENROLLMENT.c.version_id == scope.version_id)
    return conditions


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def recorded_pairs(session: Session, journey_id: int, target: Any, source: Any, *rows: ColumnElement[bool]) -> Any:
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


# A statement counts at most this many ranges: SQLite caps a compound select at 500 terms.
COUNTS_PER_STATEMENT = 400


def tally_each(session: Session, tallies: Sequence[Select[*tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
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


def count_each(session: Session, counts: Sequence[Select[Any]]) -> list[int]:
    """One-row count queries run as by :func:`tally_each`; their counts in order."""
    return [count for (count,) in tally_each(session, counts)]
