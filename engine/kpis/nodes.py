"""Node figures: entries, customers and step-to-step moves (flows), customers waiting, messages by
outcome, and the edge shares drawn on the map."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, select
from sqlmodel import Session

from engine.kpis.figures import EdgeShare, MetricsFilter, NodeMetrics
from engine.kpis.outcomes import Outcomes, read_outcomes
from engine.kpis.scope import (
    ENROLLMENT,
    OUTBOX,
    TRANSITION,
    Scope,
    count_each,
    enrollments_of,
    ratio,
    recorded_pairs,
    resolve_scope,
    window,
)
from engine.map import JourneyMap, NodeKind
from engine.store import EnrollmentStatus, MessageStatus


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
    for node_id, source in recorded_pairs(session, journey_id, t.node_id, t.from_node_id):
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


def count_flows(session: Session, scope: Scope, outcomes: Outcomes) -> _Flows:
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
        return [*at_node(target), t.from_node_id == source, *window(t.from_at, f), *before_end]

    # With a window, a node's entries are counted by when they happened.
    entered_in_window = [] if windowless else node_ids
    repeated = [n for n in node_ids if n in cyclic]
    repeated_moves = [m for m in moves if m[0] in cyclic]
    counted = count_each(
        session,
        [select(func.count()).where(*at_node(n), *window(t.at, f)) for n in entered_in_window]
        + [select(func.count()).where(*moving(*m)) for m in moves]
        + [select(runs).where(*at_node(n), *window(t.at, f)) for n in repeated]
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


def _message_counts(session: Session, scope: Scope) -> dict[str, dict[str, int]]:
    """Messages per node and outcome (tests left out): an index range count per node and status."""
    f = scope.filter
    o = OUTBOX.c
    if scope.version_id is not None:
        # One version's messages are those of its runs: counted through the join, not off one index.
        grouped = (
            select(o.node_id, o.status, func.count())
            .join(ENROLLMENT, and_(ENROLLMENT.c.id == o.enrollment_id, ENROLLMENT.c.version_id == scope.version_id))
            .where(o.journey_id == f.journey_id, o.is_test == false(), *window(o.created_at, f))
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
                *window(o.created_at, f),
            )
            for node_id, status in wanted
        ]
        rows = [
            (node_id, status, count)
            for (node_id, status), count in zip(wanted, count_each(session, ranges), strict=True)
        ]
    by_status: dict[str, dict[str, int]] = defaultdict(dict)
    for node_id, status, count in rows:
        if count:
            by_status[node_id][MessageStatus(status).value] = count
    return by_status


def scoped_node_metrics(session: Session, scope: Scope, flows: _Flows) -> tuple[NodeMetrics, ...]:
    waiting = session.execute(
        select(ENROLLMENT.c.step_id, func.count())
        .where(*enrollments_of(scope), ENROLLMENT.c.status == EnrollmentStatus.WAITING)
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
        delivered, failed = (sent.get(s.value, 0) for s in (MessageStatus.DELIVERED, MessageStatus.FAILED))
        # Messages being sent, or held in doubt, are not settled yet: they count as pending.
        pending = sum(
            sent.get(s.value, 0) for s in (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.IN_DOUBT)
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


def _node_order(scope: Scope) -> list[str]:
    """The nodes the engine runs, in map order; nodes only older versions had follow, by id."""
    if scope.plan is None:
        return []
    return [scope.plan.entry.node_id, *(step.id for step in scope.plan.steps)]


def node_metrics(*, session: Session, metrics_filter: MetricsFilter) -> tuple[NodeMetrics, ...]:
    """Per node: customers and entries, waiting now, and its messages by outcome."""
    scope = resolve_scope(session, metrics_filter)
    return scoped_node_metrics(session, scope, count_flows(session, scope, read_outcomes(session, scope)))


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


def edge_shares(scope: Scope, flows: _Flows) -> tuple[EdgeShare, ...]:
    paths = _edge_paths(scope.doc)
    return tuple(
        EdgeShare(
            source=source,
            target=target,
            customers=customers,
            share=ratio(customers, flows.customers[source]),
            edge_ids=paths.get((source, target), ()),
        )
        for (source, target), customers in sorted(flows.moves.items())
    )
