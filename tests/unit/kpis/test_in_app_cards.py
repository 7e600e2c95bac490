"""Open and click rates per in-app card: the same figures on the overlay, the KPI report, its CSV and the map."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from engine.delivery import send_proof
from engine.delivery.channels import InboxSender, OutboundMessage
from engine.kpis import InAppCard, MetricsFilter, in_app_cards, journey_overlay, journey_report
from engine.map import Channel
from engine.store import InboxAction, InboxMessage, OutboxMessage, mark_inbox_message, session_scope
from journey_builder.canvas.overlay_view import OverlayWindow, overlay_view
from journey_builder.kpis.csv_export import report_csv
from tests.engine_factories import NOW, event_trigger, identify, ingest_and_react, journey_map, node, publish_and_launch
from tests.engine_factories import track as tracked

HOUR = timedelta(hours=1)


def card_journey(session: Session) -> int:
    card = node("card", "send", title="Quick wins card", channel="in_app", content={"body": "Quick wins"})
    journey_id, _ = publish_and_launch(session, journey_map([event_trigger("go"), card], [("entry", "card")]))
    return journey_id


def delivered(db_url: str, user_ids: list[str], at: timedelta) -> dict[str, int]:
    """Each customer enters and their in-app message reaches their inbox ``at`` after NOW; inbox ids by user."""
    with session_scope(db_url) as session:
        ingest_and_react(
            session=session,
            messages=[m for u in user_ids for m in (identify(u), tracked(u, "go", message_id=f"go-{u}"))],
            now=NOW + at,
        )
        keys = session.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.recipient)  # type: ignore[call-overload]
            .outerjoin(InboxMessage, InboxMessage.outbox_id == OutboxMessage.id)  # type: ignore[arg-type]
            .where(InboxMessage.id.is_(None))  # type: ignore[union-attr]
        ).all()
    sender = InboxSender(lambda: session_scope(db_url), now=lambda: NOW + at)
    for key, to in keys:
        sender.send(OutboundMessage(idempotency_key=key, channel=Channel.IN_APP, to=to))
    with session_scope(db_url) as session:
        return dict(session.execute(select(InboxMessage.user_id, InboxMessage.id)).all())  # type: ignore[call-overload]


def act(db_url: str, inbox_id: int, action: InboxAction, at: timedelta) -> None:
    with session_scope(db_url) as session:
        message = session.get(InboxMessage, inbox_id)
        assert message is not None
        mark_inbox_message(message, action, NOW + at)


def test_rates_count_messages_delivered_in_the_window_and_what_was_done_by_its_end(db_url: str) -> None:
    with session_scope(db_url) as session:
        journey_id = card_journey(session)
    early = delivered(db_url, ["old"], -48 * HOUR)
    ids = delivered(db_url, ["a", "b", "c", "d"], HOUR)
    with session_scope(db_url) as session:
        proof = send_proof(session=session, journey_id=journey_id, node_id="card", to="tester")
        key = proof.idempotency_key
    # A test send, delivered inside the window: counted nowhere.
    InboxSender(lambda: session_scope(db_url), now=lambda: NOW + HOUR).send(
        OutboundMessage(idempotency_key=key, channel=Channel.IN_APP, to="tester")
    )
    with session_scope(db_url) as session:
        tester = session.execute(select(InboxMessage.id).where(InboxMessage.is_test)).scalar_one()  # type: ignore[call-overload]
    act(db_url, ids["a"], InboxAction.CLICKED, 2 * HOUR)
    act(db_url, ids["b"], InboxAction.READ, 2 * HOUR)
    act(db_url, ids["c"], InboxAction.DISMISSED, 2 * HOUR)
    act(db_url, ids["d"], InboxAction.CLICKED, 30 * HOUR)
    act(db_url, early["old"], InboxAction.CLICKED, 2 * HOUR)
    act(db_url, tester, InboxAction.CLICKED, 2 * HOUR)
    window = MetricsFilter.custom(journey_id=journey_id, since=NOW, until=NOW + 24 * HOUR)

    with session_scope(db_url) as session:
        cards = in_app_cards(session=session, metrics_filter=window)
        overlay = journey_overlay(session=session, metrics_filter=window)
        report = journey_report(session=session, metrics_filter=window)
        everything = in_app_cards(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    expected = InAppCard(node_id="card", delivered=4, opened=2, clicked=1, dismissed=1, open_rate=0.5, click_rate=0.25)
    assert cards == overlay.in_app == report.in_app == (expected,)
    assert everything == (
        InAppCard(node_id="card", delivered=5, opened=4, clicked=3, dismissed=1, open_rate=0.8, click_rate=0.6),
    )
    drawn = overlay_view(overlay, OverlayWindow.DAY, stamp=0.0).nodes["card"]
    assert drawn.messages == "sent 4 · opened 50% · clicked 25%"
    rows = list(csv.reader(io.StringIO(report_csv(report, window_label="Custom", generated_at=NOW))))
    at = rows.index(["In-app cards"])
    assert rows[at + 2] == ["Quick wins card", "4", "2", "1", "1", "50.0", "25.0"]


def test_a_journey_without_in_app_messages_has_no_cards_and_no_csv_section(db_url: str) -> None:
    with session_scope(db_url) as session:
        journey_id = card_journey(session)
        report = journey_report(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert report.in_app == ()
    assert ["In-app cards"] not in list(
        csv.reader(io.StringIO(report_csv(report, window_label="All", generated_at=NOW)))
    )
