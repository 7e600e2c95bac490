"""The public in-app inbox API: customer tokens (expired, forged, another customer's), what customers do with their
messages stored once as events, CORS per allowed origin, and the snippet it serves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from engine.accounts import in_app_secret, mint_token
from engine.api import create_api
from engine.delivery.channels import InboxSender, OutboundMessage
from engine.map import Channel
from engine.store import Event, InboxMessage, OutboxMessage, PendingEvent, session_scope, utc_now
from tests.engine_factories import (
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    track,
)
from tests.integration.journey_harness import api_server

SHOP = "https://shop.example"


@dataclass
class Inbox:
    database_url: str
    client: httpx.Client
    secret: str
    messages: dict[str, int]

    def token(self, user_id: str, lifetime: timedelta = timedelta(minutes=5)) -> str:
        return mint_token(self.secret, user_id, lifetime=lifetime)

    def call(self, path: str, token: str | None, *, origin: str | None = None, **body: Any) -> Any:
        headers = {"Content-Type": "text/plain"} | ({"Origin": origin} if origin else {})
        payload = {"token": token, **body} if token is not None else body
        return self.client.post(f"/inapp/v1{path}", content=json.dumps(payload), headers=headers)

    def row(self, message_id: int) -> InboxMessage:
        with session_scope(self.database_url) as session:
            found = session.get(InboxMessage, message_id)
            assert found is not None
            return found

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        with session_scope(self.database_url) as session:
            rows = session.execute(
                select(Event.name, Event.properties).where(Event.name.like("in_app_%")).order_by(Event.id)  # type: ignore[union-attr]
            ).all()
        return [(name, properties) for name, properties in rows]


def deliver(database_url: str, *user_ids: str) -> dict[str, int]:
    """One in-app message delivered to each customer, by the in-app channel; their inbox ids by user id."""
    card = node(
        "card",
        "send",
        channel="in_app",
        content={"subject": "Hi {{ profile.first_name }}", "body": "Quick wins", "url": "https://x.example/w"},
    )
    with session_scope(database_url) as session:
        publish_and_launch(session, journey_map([event_trigger("go"), card], [("entry", "card")]))
        for user_id in user_ids:
            ingest_and_react(
                session=session, messages=[identify(user_id, {"first_name": user_id.title()}), track(user_id, "go")]
            )
        outbox = session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.recipient)).all()  # type: ignore[call-overload]
    sender = InboxSender(lambda: session_scope(database_url))
    for key, to in outbox:
        sender.send(OutboundMessage(idempotency_key=key, channel=Channel.IN_APP, to=to))
    with session_scope(database_url) as session:
        return dict(session.execute(select(InboxMessage.user_id, InboxMessage.id)).all())  # type: ignore[call-overload]


@pytest.fixture
def inbox(db_url: str) -> Iterator[Inbox]:
    messages = deliver(db_url, "ada", "grace")
    with session_scope(db_url) as session:
        secret, _ = in_app_secret(session=session, actor="test")
    app = create_api(db_url, in_app_origins=[SHOP])
    with api_server(db_url, app) as url, httpx.Client(base_url=url) as client:
        yield Inbox(db_url, client, secret, messages)


def test_a_customer_lists_only_their_own_messages(inbox: Inbox) -> None:
    answer = inbox.call("/messages", inbox.token("ada"))

    assert answer.status_code == 200
    [shown] = answer.json()["messages"]
    assert answer.json()["user_id"] == "ada"
    assert shown["id"] == inbox.messages["ada"]
    assert (shown["title"], shown["body"]) == ("Hi Ada", "Quick wins")
    assert shown["button"] == {"label": "Open", "url": "https://x.example/w"}
    assert (shown["node_id"], shown["read_at"], shown["clicked_at"]) == ("card", None, None)


def test_the_token_may_come_as_a_bearer_header(inbox: Inbox) -> None:
    answer = inbox.client.post("/inapp/v1/messages", headers={"Authorization": f"Bearer {inbox.token('grace')}"})

    assert [m["id"] for m in answer.json()["messages"]] == [inbox.messages["grace"]]


def test_expired_forged_and_missing_tokens_are_refused_and_change_nothing(inbox: Inbox) -> None:
    ada = inbox.messages["ada"]
    expired = mint_token(inbox.secret, "ada", lifetime=timedelta(seconds=-1))
    forged = mint_token("not-the-workspace-secret", "ada")

    answers = {
        "expired": inbox.call(f"/messages/{ada}/clicked", expired),
        "forged": inbox.call(f"/messages/{ada}/clicked", forged),
        "garbage": inbox.call("/messages", "abc.def.ghi"),
        "missing": inbox.call("/messages", None),
    }

    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 401)
    assert "expired" in answers["expired"].json()["detail"]
    assert "signature does not match" in answers["forged"].json()["detail"]
    assert "missing customer token" in answers["missing"].json()["detail"]
    assert inbox.row(ada).clicked_at is None
    assert inbox.events() == []


def test_another_customer_s_message_is_forbidden(inbox: Inbox) -> None:
    grace = inbox.messages["grace"]

    for action in ("read", "clicked", "dismissed"):
        answer = inbox.call(f"/messages/{grace}/{action}", inbox.token("ada"))
        assert answer.status_code == 403
        assert answer.json()["detail"] == f"in-app message {grace} is not this customer's"
    row = inbox.row(grace)
    assert (row.read_at, row.clicked_at, row.dismissed_at) == (None, None, None)
    assert inbox.call(f"/messages/{grace + 100}/read", inbox.token("ada")).status_code == 404
    assert inbox.call(f"/messages/{grace}/liked", inbox.token("grace")).status_code == 422


def test_a_click_reads_and_clicks_once_each_and_is_stored_as_events_for_the_engine(inbox: Inbox) -> None:
    ada = inbox.messages["ada"]

    first = inbox.call(f"/messages/{ada}/clicked", inbox.token("ada"))
    again = inbox.call(f"/messages/{ada}/clicked", inbox.token("ada"))
    inbox.call(f"/messages/{ada}/dismissed", inbox.token("ada"))

    assert first.status_code == again.status_code == 200
    assert first.json()["clicked_at"] == again.json()["clicked_at"] is not None
    properties = {"message_id": ada, "journey_id": inbox.row(ada).journey_id, "node_id": "card"}
    assert inbox.events() == [
        ("in_app_opened", properties),
        ("in_app_clicked", properties),
        ("in_app_dismissed", properties),
    ]
    with session_scope(inbox.database_url) as session:
        pending = session.execute(select(PendingEvent.event_id)).scalars().all()  # type: ignore[call-overload]
    assert len(pending) >= 3, "the engine's consumer reacts to the events like any other"
    assert inbox.call("/messages", inbox.token("ada")).json()["messages"] == []


def test_expired_messages_are_neither_listed_nor_marked(inbox: Inbox) -> None:
    ada = inbox.messages["ada"]
    with session_scope(inbox.database_url) as session:
        session.execute(update(InboxMessage).values(expires_at=utc_now() - timedelta(minutes=1)))

    assert inbox.call("/messages", inbox.token("ada")).json()["messages"] == []
    answer = inbox.call(f"/messages/{ada}/read", inbox.token("ada"))
    assert answer.status_code == 410
    assert "expired" in answer.json()["detail"]


def test_an_allowed_origin_gets_cors_headers_and_preflights(inbox: Inbox) -> None:
    answer = inbox.call("/messages", inbox.token("ada"), origin=SHOP)
    preflight = inbox.client.options(
        "/inapp/v1/messages",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == SHOP
    assert "access-control-allow-credentials" not in answer.headers
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SHOP
    assert preflight.headers["access-control-allow-methods"] == "POST"


def test_another_origin_is_refused_before_anything_is_recorded(inbox: Inbox) -> None:
    ada = inbox.messages["ada"]
    evil = "https://evil.example"

    clicked = inbox.call(f"/messages/{ada}/clicked", inbox.token("ada"), origin=evil)
    listed = inbox.call("/messages", inbox.token("ada"), origin=evil)
    preflight = inbox.client.options(
        "/inapp/v1/messages", headers={"Origin": evil, "Access-Control-Request-Method": "POST"}
    )
    lookalike = inbox.call("/messages", inbox.token("ada"), origin=f"{SHOP}.evil.example")

    for answer in (clicked, listed, preflight, lookalike):
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers
    assert "may not call the in-app API" in clicked.json()["detail"]
    assert inbox.row(ada).clicked_at is None
    assert inbox.events() == []


def test_no_origin_is_allowed_unless_listed(db_url: str) -> None:
    deliver(db_url, "ada")
    with session_scope(db_url) as session:
        secret, _ = in_app_secret(session=session, actor="test")
    with api_server(db_url, create_api(db_url, in_app_origins=[])) as url, httpx.Client(base_url=url) as client:
        answer = client.post(
            "/inapp/v1/messages", content=f'{{"token": "{mint_token(secret, "ada")}"}}', headers={"Origin": SHOP}
        )
        native = client.post("/inapp/v1/messages", json={"token": mint_token(secret, "ada")})

    assert answer.status_code == 403
    assert native.status_code == 200


def test_bodies_that_are_not_a_small_json_object_are_refused(inbox: Inbox) -> None:
    too_big = inbox.client.post("/inapp/v1/messages", content=b"{" + b" " * 9000 + b"}")
    not_json = inbox.client.post("/inapp/v1/messages", content=b"token=abc")
    unknown = inbox.call("/messages", inbox.token("ada"), colour="red")

    assert too_big.status_code == 413
    assert not_json.status_code == 422
    assert unknown.status_code == 422
    assert "colour" in unknown.json()["detail"]


def test_the_snippet_is_served_as_javascript(inbox: Inbox) -> None:
    answer = inbox.client.get("/inapp.js")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert "window.JourneyInApp" in answer.text
    assert "/inapp/v1" in answer.text
