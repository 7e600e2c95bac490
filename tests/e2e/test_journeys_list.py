"""The journeys list shows the starters, and a card opens that journey's map with its stages."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.journeys import create_journey, list_journeys, publish_journey
from engine.map.starters import list_templates, load_template
from engine.runtime import launch_journey
from engine.store import JourneyStatus, session_scope

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


def test_starters_listed_and_a_card_opens_its_map(page: Page, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/")

    cards = page.get_by_test_id("journey-card")
    for name in list_templates():
        expect(cards.filter(has_text=load_template(name).name)).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.get_by_role("link", name="Dashboard")).to_be_visible()
    page.screenshot(path=str(artifacts / "journeys_list.png"), full_page=True)

    starter = load_template("cart_abandonment")
    cards.filter(has_text=starter.name).click()

    expect(page).to_have_url(re.compile(r"/journeys/\d+$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name=starter.name)).to_be_visible(timeout=TIMEOUT_MS)
    lanes = page.get_by_test_id("stage-lane")
    expect(lanes).to_have_count(len(starter.stages), timeout=TIMEOUT_MS)
    for stage in starter.stages:
        expect(lanes.filter(has=page.get_by_role("heading", name=stage.name))).to_have_count(1)
    page.screenshot(path=str(artifacts / "journey_editor.png"), full_page=True)


def test_dashboard_counts_every_journey_by_status(page: Page, e2e_database: str, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/dashboard")

    for name in list_templates():
        expect(page.get_by_role("rowheader", name=load_template(name).name)).to_be_visible(timeout=TIMEOUT_MS)
    # Other browser tests add journeys to the same database, so the expected counts are read from it.
    with session_scope(e2e_database) as session:
        statuses = Counter(s.status for s in list_journeys(session=session))
    for status in JourneyStatus:
        tile = page.locator(f'[data-testid="status-count"][data-status="{status.value}"]')
        expect(tile.get_by_test_id("status-count-number")).to_have_text(str(statuses[status]), timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)


@pytest.fixture
def live_journey_name(e2e_database: str) -> str:
    doc = load_template("trial_onboarding").model_copy(update={"name": "Live filter check"})
    with session_scope(e2e_database) as session:
        journey = create_journey(session=session, doc=doc, created_by="e2e")
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id, published_by="e2e")
        launch_journey(session=session, journey_id=journey.id, actor="e2e")
    return doc.name


def test_status_filter_shows_only_that_status(page: Page, live_journey_name: str, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/")
    cards = page.get_by_test_id("journey-card")
    expect(cards.filter(has_text=live_journey_name)).to_have_count(1, timeout=TIMEOUT_MS)

    page.get_by_role("radio", name=re.compile(r"^Live \d+$")).click()

    # Other tests may leave journeys live in the shared database: the filter shows exactly the live ones.
    with session_scope() as session:
        live = sum(1 for s in list_journeys(session=session) if s.status is JourneyStatus.LIVE)
    expect(cards).to_have_count(live, timeout=TIMEOUT_MS)
    expect(cards.filter(has_text=live_journey_name)).to_contain_text("v1")

    page.get_by_role("radio", name=re.compile(r"^All \d+$")).click()
    expect(cards.filter(has_text=load_template("cart_abandonment").name)).to_have_count(1, timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "journeys_list_with_live.png"), full_page=True)
