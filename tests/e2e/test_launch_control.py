"""Launch control in the browser: publish, launch with confirmation, send a proof, pause."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.intake import IdentifyMessage
from engine.journeys import create_journey
from engine.map.starters import load_template
from engine.store import session_scope
from tests.engine_factories import ingest_and_react

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


@pytest.fixture
def journey_id(e2e_database: str) -> int:
    doc = load_template("cart_abandonment").model_copy(update={"name": "Launch control check"})
    with session_scope(e2e_database) as session:
        journey = create_journey(session=session, doc=doc, created_by="e2e")
        ingest_and_react(
            session=session,
            messages=[IdentifyMessage(userId="qa-1", traits={"email": "qa@example.com", "first_name": "Quinn"})],
        )
        assert journey.id is not None
        return journey.id


def confirm(page: Page, action: str) -> None:
    page.get_by_role("button", name=action, exact=True).first.click()
    page.get_by_role("alertdialog").get_by_role("button", name=action, exact=True).click()


def test_a_marketer_publishes_launches_proofs_and_pauses(page: Page, journey_id: int, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/journeys/{journey_id}/launch")
    expect(page.get_by_role("heading", name="Launch control check")).to_be_visible(timeout=TIMEOUT_MS)
    status = page.get_by_test_id("journey-status")
    expect(status).to_have_text("draft", timeout=TIMEOUT_MS)

    page.get_by_role("button", name="Publish draft").click()
    expect(page.get_by_text("v1 ·")).to_be_visible(timeout=TIMEOUT_MS)

    confirm(page, "Launch")
    expect(status).to_have_text("live", timeout=TIMEOUT_MS)

    page.get_by_label("Send to").fill("qa@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("proof-preview")).to_contain_text("[TEST]", timeout=TIMEOUT_MS)
    expect(page.get_by_role("cell", name="qa@example.com").first).to_be_visible(timeout=TIMEOUT_MS)

    confirm(page, "Pause")
    expect(status).to_have_text("paused", timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "launch_control.png"), full_page=True)
