"""The journey map page lists every compiler problem and marks the cards they concern."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.compiler import compile_map
from engine.journeys import create_journey
from engine.map import JourneyMap
from engine.map.starters import load_template
from engine.store import session_scope
from journey_builder import routes

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


def cut_off_recovery() -> JourneyMap:
    """The cart starter with the edge out of its first wait removed: everything after it is unreachable."""
    doc = load_template("cart_abandonment")
    return doc.model_copy(
        update={"name": "Cart recovery, cut off", "edges": [e for e in doc.edges if e.source != "wait_1h"]}
    )


@pytest.fixture
def broken_journey_id(e2e_database: str) -> int:
    with session_scope(e2e_database) as session:
        journey = create_journey(session=session, doc=cut_off_recovery(), created_by="e2e")
        assert journey.id is not None
        return journey.id


def test_problems_listed_and_their_cards_marked(page: Page, broken_journey_id: int, artifacts: Path) -> None:
    errors = compile_map(cut_off_recovery()).errors
    assert errors, "the cut-off map must not compile"
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(routes.journey_editor(broken_journey_id))

    expect(page.get_by_role("heading", name="Cart recovery, cut off")).to_be_visible(timeout=TIMEOUT_MS)
    problems = page.locator("#problems")
    expect(problems).to_contain_text(f"{len(errors)} errors")
    for error in errors:
        expect(problems.get_by_text(error.message, exact=True)).to_be_visible()
    expect(page.locator(".jc-card.jc-error")).to_have_count(len({e.node_id for e in errors}))
    page.screenshot(path=str(artifacts / "journey_map_problems.png"), full_page=True)


def test_unknown_journey_says_so(page: Page) -> None:
    page.goto(routes.journey_editor(999_999))

    expect(page.get_by_text("There is no such journey.")).to_be_visible(timeout=TIMEOUT_MS)
