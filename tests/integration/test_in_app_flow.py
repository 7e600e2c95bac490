"""The at-risk starter's in-app message, for real on SQLite and PostgreSQL: the engine's in-app channel delivers it
into the customer's inbox, the customer's app clicks its button through the public inbox API, and the click,
stored as an event, moves the run waiting for it onto the engaged path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from engine.accounts import create_write_key, in_app_secret, mint_token
from engine.api import create_api
from engine.cli import main
from engine.delivery.channels import DeliveryStatus, InboxSender, OutboundMessage
from engine.journeys import create_journey, publish_journey
from engine.kpis import MetricsFilter, in_app_cards, journey_overlay
from engine.map import Channel
from engine.map.starters import load_template
from engine.runtime import launch_journey, stop_journey
from engine.store import Enrollment, InboxMessage, MessageStatus, OutboxMessage, Profile, session_scope
from engine.worker import Engine, EngineSettings
from tests.integration.journey_harness import api_server, wait_for

SHOP = "https://app.example"


def run_of(url: str, journey_id: int, user_id: str) -> Enrollment | None:
    with session_scope(url) as session:
        return session.execute(
            select(Enrollment)
            .join(Profile, Profile.id == Enrollment.profile_id)  # type: ignore[arg-type]
            .where(Enrollment.journey_id == journey_id, Profile.user_id == user_id)
        ).scalar_one_or_none()


def inbox_of(url: str, user_id: str) -> list[InboxMessage]:
    with session_scope(url) as session:
        return list(session.execute(select(InboxMessage).where(InboxMessage.user_id == user_id)).scalars())


@pytest.fixture
def at_risk(own_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int, str, str]]:
    """The at-risk starter live, the engine running with the senders it builds itself, and the API served."""
    monkeypatch.delenv("JOURNEY_SANDBOX", raising=False)
    url = own_database_url
    with session_scope(url) as session:
        journey = create_journey(session=session, doc=load_template("at_risk_save"), created_by="test")
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id, published_by="test")
        launch_journey(session=session, journey_id=journey.id, actor="test")
        key = create_write_key(session=session, name="app").secret
        secret, _ = in_app_secret(session=session, actor="test")
        journey_id = journey.id
    engine = Engine(EngineSettings(database_url=url, tick=timedelta(seconds=0.2)))
    engine.start()
    try:
        with api_server(url, create_api(url, in_app_origins=[SHOP])) as base:
            yield base, journey_id, key, secret
    finally:
        engine.shutdown()
        with session_scope(url) as session:
            stop_journey(session=session, journey_id=journey_id, actor="test")


def test_the_in_app_message_reaches_the_inbox_and_its_click_takes_the_engaged_path(
    own_database_url: str,
    at_risk: tuple[str, int, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = own_database_url
    base, journey_id, key, secret = at_risk
    admin = {"role": "admin", "health_score": 42, "account_name": "Acme", "email": "dana@acme.example"}
    httpx.post(
        f"{base}/v1/identify", json={"userId": "dana", "traits": admin, "messageId": "id-dana"}, auth=(key, "")
    ).raise_for_status()

    [message] = wait_for(lambda: inbox_of(url, "dana"), what="the in-app message in Dana's inbox")
    run = wait_for(lambda: run_of(url, journey_id, "dana"), what="Dana's run")
    assert wait_for(lambda: (r := run_of(url, journey_id, "dana")) and r.step_id == "wait_engaged", what="the wait")
    token = mint_token(secret, "dana")
    listed = httpx.post(f"{base}/inapp/v1/messages", json={"token": token}).json()["messages"]
    assert [m["id"] for m in listed] == [message.id]
    assert listed[0]["title"] == "Three quick wins"
    assert "get Acme back on track" in listed[0]["body"]
    assert listed[0]["button"] == {"label": "See the quick wins", "url": "https://example.com/app/health-check"}
    assert (message.node_id, message.journey_id) == ("in_app_guidance", journey_id)

    clicked = httpx.post(
        f"{base}/inapp/v1/messages/{message.id}/clicked", content=f'{{"token": "{token}"}}', headers={"Origin": SHOP}
    )

    assert clicked.status_code == 200
    assert clicked.headers["access-control-allow-origin"] == SHOP
    moved = wait_for(
        lambda: (r := run_of(url, journey_id, "dana")) is not None and r.step_id == "wait_score_refresh" and r,
        what="the run on the engaged path",
    )
    assert moved.id == run.id
    with session_scope(url) as session:
        delivered = session.execute(
            select(OutboxMessage.status).where(OutboxMessage.node_id == "in_app_guidance")  # type: ignore[call-overload]
        ).scalar_one()
        cards = in_app_cards(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
        overlay = journey_overlay(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
    assert delivered == MessageStatus.DELIVERED
    [card] = cards
    assert (card.node_id, card.delivered, card.opened, card.clicked, card.click_rate) == (
        "in_app_guidance",
        1,
        1,
        1,
        1.0,
    )
    assert overlay.in_app == cards

    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["kpis", str(journey_id)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("in-app card"))
    # The in-app table, after the node table, names the card as the map does.
    [row] = [line for line in lines[header:] if line.startswith("In-app: three quick wins")]
    assert row.split()[-6:] == ["1", "1", "1", "0", "100%", "100%"], text


def test_a_send_in_doubt_asked_again_leaves_one_inbox_row(
    own_database_url: str, at_risk: tuple[str, int, str, str]
) -> None:
    url = own_database_url
    base, _, key, _ = at_risk
    admin = {"role": "admin", "health_score": 10, "email": "lee@example.com"}
    httpx.post(f"{base}/v1/identify", json={"userId": "lee", "traits": admin}, auth=(key, "")).raise_for_status()
    [row] = wait_for(lambda: inbox_of(url, "lee"), what="the in-app message in Lee's inbox")
    with session_scope(url) as session:
        message_key = session.execute(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.id == row.outbox_id)  # type: ignore[call-overload]
        ).scalar_one()

    again = InboxSender(lambda: session_scope(url)).send(
        OutboundMessage(idempotency_key=message_key, channel=Channel.IN_APP, to="lee")
    )

    assert again.status is DeliveryStatus.DELIVERED
    assert again.provider_message_id == f"inbox-{row.id}"
    assert [r.id for r in inbox_of(url, "lee")] == [row.id]
