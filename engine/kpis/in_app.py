"""In-app card figures: per in-app send node, the messages delivered into customers' inboxes and how many were
opened, clicked and dismissed. One function gives them to the overlay, the KPI page and its CSV alike."""

from __future__ import annotations

from sqlalchemy import Table, and_, false, func, select
from sqlmodel import Session

from engine.kpis.figures import InAppCard, MetricsFilter
from engine.kpis.scope import ENROLLMENT, OUTBOX, Scope, by_until, count_if, ratio, resolve_scope, window
from engine.store import InboxMessage

INBOX: Table = InboxMessage.__table__  # type: ignore[attr-defined]


def scoped_in_app_cards(session: Session, scope: Scope) -> tuple[InAppCard, ...]:
    """Messages delivered in the window (by when they reached the inbox), with what was done to them before the
    window closed; ordered by node as the plan runs them, then by id."""
    f = scope.filter
    i = INBOX.c
    query = select(
        i.node_id,
        func.count(),
        count_if(by_until(i.read_at, f)),
        count_if(by_until(i.clicked_at, f)),
        count_if(by_until(i.dismissed_at, f)),
    ).where(i.journey_id == f.journey_id, i.is_test == false(), *window(i.created_at, f))
    if scope.version_id is not None:
        query = query.join(OUTBOX, OUTBOX.c.id == i.outbox_id).join(
            ENROLLMENT, and_(ENROLLMENT.c.id == OUTBOX.c.enrollment_id, ENROLLMENT.c.version_id == scope.version_id)
        )
    rows = session.execute(query.group_by(i.node_id)).all()
    order = {step.id: n for n, step in enumerate(scope.plan.steps)} if scope.plan is not None else {}
    return tuple(
        InAppCard(
            node_id=node_id,
            delivered=delivered,
            opened=opened,
            clicked=clicked,
            dismissed=dismissed,
            open_rate=ratio(opened, delivered),
            click_rate=ratio(clicked, delivered),
        )
        for node_id, delivered, opened, clicked, dismissed in sorted(
            rows, key=lambda row: (order.get(row[0], len(order)), row[0])
        )
    )


def in_app_cards(*, session: Session, metrics_filter: MetricsFilter) -> tuple[InAppCard, ...]:
    """Open and click rates per in-app card, for one journey and window."""
    return scoped_in_app_cards(session, resolve_scope(session, metrics_filter))
