"""A real journey end to end: the HTTP intake under uvicorn, the engine's scheduler, and real
SMTP and HTTP providers on 127.0.0.1. Shared by the SQLite and PostgreSQL flow tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import uvicorn

from engine.accounts import create_write_key
from engine.api import create_api
from engine.delivery.channels import ChannelSettings, build_senders
from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap, WaitForEventNode, WaitNode
from engine.map.starters import load_template
from engine.runtime import launch_journey, stop_journey
from engine.store import session_scope
from engine.worker import Engine, EngineSettings
from tests.integration.servers import HttpTestServer, SmtpTestServer


def fast_cart_abandonment(seconds: float = 1.0) -> JourneyMap:
    """The cart-abandonment starter with every wait shortened to seconds and no quiet hours or cap,
    so a test's outcome does not depend on the hour CI happens to run at."""
    doc = load_template("cart_abandonment")
    nodes = []
    for node in doc.nodes:
        if isinstance(node, WaitNode) and node.duration is not None:
            node = node.model_copy(update={"duration": timedelta(seconds=seconds)})
        elif isinstance(node, WaitForEventNode):
            node = node.model_copy(update={"timeout": timedelta(seconds=seconds * 1.5)})
        nodes.append(node)
    settings = doc.settings.model_copy(update={"quiet_hours": None, "frequency_cap": None})
    return doc.model_copy(update={"nodes": nodes, "settings": settings, "name": f"{doc.name} (fast)"})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def api_server(database_url: str, app: Any = None) -> Iterator[str]:
    """The API (``app``, or the default one on ``database_url``) under uvicorn on a free port of 127.0.0.1."""
    port = free_port()
    served = app if app is not None else create_api(database_url)
    server = uvicorn.Server(uvicorn.Config(served, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the API server did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class JourneyRig:
    database_url: str
    journey_id: int
    write_key: str
    base_url: str
    smtp: SmtpTestServer
    sms: HttpTestServer
    push: HttpTestServer
    engine: Engine

    def send(self, *messages: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.base_url}/v1/batch", json={"batch": list(messages)}, auth=(self.write_key, ""))
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def emails_to(self, address: str) -> list[Any]:
        return [m for m in self.smtp.messages if address in m.rcpt_tos]

    def sms_to(self, phone: str) -> list[Any]:
        return [r for r in self.sms.requests if r.json().get("to") == phone]

    def push_to(self, user_id: str) -> list[Any]:
        return [r for r in self.push.requests if r.json().get("user_id") == user_id]


def channel_environment(smtp: SmtpTestServer, sms: HttpTestServer, push: HttpTestServer) -> dict[str, str]:
    return {
        "JOURNEY_SMTP_HOST": smtp.host,
        "JOURNEY_SMTP_PORT": str(smtp.port),
        "JOURNEY_SMS_URL": f"http://127.0.0.1:{sms.port}/sms",
        "JOURNEY_PUSH_URL": f"http://127.0.0.1:{push.port}/push",
    }


@contextmanager
def journey_rig(database_url: str, doc: JourneyMap | None = None, *, tick: float = 0.2) -> Iterator[JourneyRig]:
    doc = doc or fast_cart_abandonment()
    with session_scope(database_url) as session:
        journey = create_journey(session=session, doc=doc, created_by="test")
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id, published_by="test")
        launch_journey(session=session, journey_id=journey.id, actor="test")
        key = create_write_key(session=session, name="test").secret
        journey_id = journey.id
    with SmtpTestServer() as smtp, HttpTestServer() as sms, HttpTestServer() as push, api_server(database_url) as url:
        senders = build_senders(ChannelSettings.from_env(channel_environment(smtp, sms, push)))
        engine = Engine(EngineSettings(database_url=database_url, tick=timedelta(seconds=tick)), senders=senders)
        engine.start()
        try:
            yield JourneyRig(database_url, journey_id, key, url, smtp, sms, push, engine)
        finally:
            engine.shutdown()
            # PostgreSQL tests share one database: a journey left live would enroll the next test's customers.
            with session_scope(database_url) as session:
                stop_journey(session=session, journey_id=journey_id, actor="test")


def wait_for(condition: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def customer(user_id: str, *, consent: dict[str, bool] | None = None) -> dict[str, Any]:
    traits: dict[str, Any] = {
        "email": f"{user_id}@example.com",
        "phone": f"+1555{abs(hash(user_id)) % 10**7:07d}",
        "first_name": user_id.title(),
    }
    if consent is not None:
        traits["consent"] = consent
    return {"type": "identify", "userId": user_id, "traits": traits, "messageId": f"id-{user_id}"}


def abandon(user_id: str, cart_id: str) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user_id,
        "event": "cart_abandoned",
        "messageId": f"abandon-{user_id}-{cart_id}",
        "properties": {
            "cart_id": cart_id,
            "cart_url": f"https://shop.example/cart/{cart_id}",
            "cart_total": 129.9,
            "item_count": 3,
        },
    }


def order(user_id: str, cart_id: str) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user_id,
        "event": "order_completed",
        "messageId": f"order-{user_id}-{cart_id}",
        "properties": {"cart_id": cart_id, "total": 129.9},
    }
