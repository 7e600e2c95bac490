"""In-app messages in a customer's own web page: the page (served on 127.0.0.1, an origin the inbox API allows)
embeds the snippet with its customer's token; the at-risk starter's in-app message appears as a card, a click on its
button is recorded, and the journey's run waiting for that click takes the engaged path. Another customer's token
cannot touch the first one's message (403)."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from engine.accounts import create_write_key, in_app_secret, mint_token
from engine.journeys import archive_journey, create_journey, publish_journey
from engine.map.starters import load_template
from engine.runtime import launch_journey, stop_journey
from engine.store import Enrollment, InboxMessage, Profile, session_scope
from journey_builder import routes
from tests.integration.journey_harness import wait_for

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Acme workspace</title>
<style>
  body {{ font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f6f7fb; color: #1f2330; }}
  header {{ background: #1f2330; color: #fff; padding: 14px 24px; font-weight: 600; }}
  main {{ padding: 24px; max-width: 720px; }}
  .panel {{ background: #fff; border-radius: 10px; padding: 18px 20px; margin-bottom: 14px;
           border: 1px solid #e6e8ef; }}
</style></head>
<body>
  <header>Acme workspace · admin console</header>
  <main>
    <div class="panel"><strong>Teams</strong><p>Design · Sales · Support · Finance</p></div>
    <div class="panel"><strong>Seats</strong><p>40 seats, 17 active this week</p></div>
  </main>
  <script src="{backend}/inapp.js" data-token="{token}" data-refresh="1" async></script>
</body></html>
"""


@dataclass
class AtRisk:
    journey_id: int
    secret: str
    write_key: str


@pytest.fixture
def at_risk(e2e_database: str) -> Iterator[AtRisk]:
    """A copy of the at-risk starter, live; archived afterwards (other browser tests count the journeys)."""
    doc = load_template("at_risk_save").model_copy(update={"name": f"At-risk in-app {uuid.uuid4().hex[:6]}"})
    with session_scope() as session:
        journey = create_journey(session=session, doc=doc, created_by="e2e")
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id, published_by="e2e")
        launch_journey(session=session, journey_id=journey.id, actor="e2e")
        secret, _ = in_app_secret(session=session, actor="e2e")
        key = create_write_key(session=session, name="customer site").secret
        journey_id = journey.id
    yield AtRisk(journey_id, secret, key)
    with session_scope() as session:
        stop_journey(session=session, journey_id=journey_id, actor="e2e")
        archive_journey(session=session, journey_id=journey_id, actor="e2e")


@pytest.fixture
def customer_site(customer_site_port: int) -> Iterator[dict[str, str]]:
    """The customer's own site on 127.0.0.1: it serves whatever page a test puts in the returned dict."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            """Quiet: the test's output is its assertions."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", customer_site_port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pages
    finally:
        server.shutdown()
        server.server_close()


def inbox_message(journey_id: int, user_id: str) -> InboxMessage | None:
    with session_scope() as session:
        return session.execute(
            select(InboxMessage).where(InboxMessage.user_id == user_id, InboxMessage.journey_id == journey_id)
        ).scalar_one_or_none()


def step_of(journey_id: int, user_id: str) -> str | None:
    with session_scope() as session:
        return session.execute(
            select(Enrollment.step_id)
            .join(Profile, Profile.id == Enrollment.profile_id)  # type: ignore[arg-type]
            .where(Enrollment.journey_id == journey_id, Profile.user_id == user_id)
        ).scalar_one_or_none()


def test_the_snippet_shows_the_at_risk_message_and_its_click_takes_the_engaged_path(
    page: Page,
    at_risk: AtRisk,
    customer_site: dict[str, str],
    customer_site_port: int,
    backend_url: str,
    artifacts: Path,
) -> None:
    dana, sam = f"dana-{uuid.uuid4().hex[:6]}", f"sam-{uuid.uuid4().hex[:6]}"
    for user_id, score in ((dana, 41), (sam, 90)):
        traits = {"role": "admin", "health_score": score, "account_name": "Acme", "email": f"{user_id}@acme.example"}
        httpx.post(
            f"{backend_url}/v1/identify", json={"userId": user_id, "traits": traits}, auth=(at_risk.write_key, "")
        ).raise_for_status()
    message = wait_for(lambda: inbox_message(at_risk.journey_id, dana), timeout=30, what="the in-app message")
    wait_for(lambda: step_of(at_risk.journey_id, dana) == "wait_engaged", timeout=30, what="the wait for a click")
    customer_site["/console"] = PAGE.format(backend=backend_url, token=mint_token(at_risk.secret, dana))
    opened: list[str] = []

    def help_page(route: Route) -> None:
        opened.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Three quick wins</h1>")

    page.context.route("https://example.com/**", help_page)
    page.set_viewport_size({"width": 1100, "height": 700})
    page.goto(f"http://127.0.0.1:{customer_site_port}/console")

    card = page.locator(f'.card[data-message-id="{message.id}"]')
    expect(card).to_be_visible(timeout=15_000)
    expect(card.locator(".title")).to_have_text("Three quick wins")
    expect(card.locator(".body")).to_contain_text("get Acme back on track")
    button = card.get_by_role("link", name="See the quick wins")
    expect(button).to_have_attribute("href", "https://example.com/app/health-check")
    wait_for(lambda: (m := inbox_message(at_risk.journey_id, dana)) and m.read_at, what="the card marked read")
    page.screenshot(path=str(artifacts / "in_app_card.png"))

    with page.expect_popup() as popup:
        button.click()
    popup.value.wait_for_load_state()

    expect(card).to_have_count(0)
    clicked = wait_for(
        lambda: (m := inbox_message(at_risk.journey_id, dana)) and m.clicked_at and m, what="the click recorded"
    )
    assert clicked.dismissed_at is None
    assert opened == ["https://example.com/app/health-check"]
    wait_for(lambda: step_of(at_risk.journey_id, dana) == "wait_score_refresh", timeout=30, what="the engaged path")
    page.screenshot(path=str(artifacts / "in_app_card_clicked.png"))

    # Sam's token, from the same allowed page: Sam sees none of Dana's messages and cannot mark them.
    sam_token = mint_token(at_risk.secret, sam)
    answers = page.evaluate(
        """async ([api, id, token]) => {
            const call = (path) => fetch(api + path, {method: "POST", body: JSON.stringify({token})});
            const mark = await call(`/messages/${id}/dismissed`);
            const list = await call("/messages");
            return {mark: mark.status, detail: (await mark.json()).detail, listed: (await list.json()).messages};
        }""",
        [f"{backend_url}/inapp/v1", message.id, sam_token],
    )
    assert answers["mark"] == 403
    assert answers["detail"] == f"in-app message {message.id} is not this customer's"
    assert [m["id"] for m in answers["listed"] if m["id"] == message.id] == []
    refused = inbox_message(at_risk.journey_id, dana)
    assert refused is not None
    assert refused.dismissed_at is None
    assert step_of(at_risk.journey_id, sam) is None

    # The map's KPI overlay shows the card's open and click rates: tall enough that the whole starter fits at a
    # zoom that draws full cards (below 0.6 the canvas draws titles and counts only).
    page.set_viewport_size({"width": 1600, "height": 1300})
    page.goto(routes.journey_map_kpis(at_risk.journey_id))
    figures = page.locator('.react-flow__node-card[data-id="in_app_guidance"]').get_by_test_id("node-kpi")
    expect(figures).to_contain_text("opened 100% · clicked 100%", timeout=15_000)
    page.screenshot(path=str(artifacts / "in_app_kpi_overlay.png"))

    # The KPI page draws the same rates.
    page.goto(routes.journey_kpis(at_risk.journey_id))
    chart = page.get_by_test_id("chart-in-app")
    expect(chart).to_contain_text("In-app cards", timeout=15_000)
    expect(chart).to_contain_text("100.0% · 1/1")
    page.screenshot(path=str(artifacts / "in_app_kpi_page.png"), full_page=True)
