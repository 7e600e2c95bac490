"""The journeys list shows the starters, and a card opens that journey's map with its stages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.templates import list_templates, load_template

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


def test_dashboard_counts_every_journey_by_status(page: Page, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/dashboard")

    expect(page.get_by_role("rowheader")).to_have_count(len(list_templates()), timeout=TIMEOUT_MS)
    draft = page.get_by_test_id("status-count").filter(has_text="draft")
    expect(draft).to_contain_text(str(len(list_templates())))
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
