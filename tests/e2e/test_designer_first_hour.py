"""A new designer's first hour in Chromium: a blank journey started and named from the list, renamed in the
editor, duplicated, the copy archived (found under Archived, its map view-only) and restored, a live journey's
Archive disabled with the reason, a persona added and a pain point typed with Enter, which is that persona's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.journeys import (
    archive_journey,
    create_journey,
    draft_of,
    get_journey,
    list_journeys,
    publish_journey,
)
from engine.map import PainPoint
from engine.map.starters import load_template
from engine.runtime import StopMode, launch_journey, stop_journey
from engine.store import Role, session_scope

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
PREFIX = "First hour"
NAME = f"{PREFIX}: welcome series"
RENAMED = f"{PREFIX}: welcome for teams"
LIVE = f"{PREFIX}: live journey"


def journey_id_named(name: str) -> int:
    with session_scope() as session:
        return next(s.id for s in list_journeys(session=session, archived=None) if s.name == name)


@pytest.fixture
def live_journey(e2e_database: str) -> Iterator[str]:
    """A live journey of its own; afterwards every journey this test made is stopped and archived, since other
    browser tests count the journeys listed in the shared database. Archived, not deleted: SQLite would hand a
    deleted version's id to the next published version, whose plan the engine's cache would then mistake."""
    doc = load_template("trial_onboarding").model_copy(update={"name": LIVE})
    with session_scope(e2e_database) as session:
        journey_id = create_journey(session=session, doc=doc, created_by="e2e").id
        assert journey_id is not None
        publish_journey(session=session, journey_id=journey_id, published_by="e2e")
        launch_journey(session=session, journey_id=journey_id, actor="e2e")
    yield LIVE
    with session_scope(e2e_database) as session:
        stop_journey(session=session, journey_id=journey_id, actor="e2e", mode=StopMode.NOW)
        for summary in list_journeys(session=session):
            if summary.name.startswith(PREFIX):
                archive_journey(session=session, journey_id=summary.id, actor="e2e")


def card_of(page: Page, name: str) -> Locator:
    return page.get_by_test_id("journey-card").filter(has=page.get_by_role("heading", name=name, exact=True))


def wait_saved(page: Page) -> None:
    expect(page.locator("#jc-save-status")).to_have_text("All changes saved", timeout=10_000)


def test_a_designers_first_hour_has_no_dead_ends(
    signed_in_as: Callable[[Role], Page], live_journey: str, artifacts: Path
) -> None:
    page = signed_in_as(Role.DESIGNER)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/")
    expect(card_of(page, live_journey)).to_have_count(1, timeout=TIMEOUT_MS)

    # A blank journey, named up front.
    page.get_by_role("button", name="New journey").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="New journey")).to_be_visible()
    expect(dialog.get_by_role("radio", name=re.compile("^Blank journey"))).to_be_checked()
    dialog.get_by_label("Journey name").fill(NAME)
    page.screenshot(path=str(artifacts / "first_hour_new_journey.png"), animations="disabled")
    dialog.get_by_role("button", name="Create journey").click()

    expect(page).to_have_url(re.compile(r"/journeys/\d+$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name=NAME, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stage-lane")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", "1")
    original = journey_id_named(NAME)

    # Renamed from the editor's journey menu.
    page.locator("#jc-journey-menu").click()
    page.get_by_role("menuitem", name="Rename…").click()
    rename = page.get_by_role("dialog")
    rename.get_by_label("Journey name").fill(RENAMED)
    page.screenshot(path=str(artifacts / "first_hour_rename.png"), animations="disabled")
    rename.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name=RENAMED, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(rename).to_have_count(0)

    # Duplicated from the list; the copy archived, found under Archived, and restored.
    page.get_by_role("link", name="← Journeys").click()
    expect(card_of(page, RENAMED)).to_have_count(1, timeout=TIMEOUT_MS)
    card_of(page, RENAMED).get_by_test_id("journey-menu").click()
    page.get_by_role("menuitem", name="Duplicate").click()
    copy = f"{RENAMED} (2)"
    expect(card_of(page, copy)).to_have_count(1, timeout=TIMEOUT_MS)
    card_of(page, copy).get_by_test_id("journey-menu").click()
    page.get_by_role("menuitem", name="Archive").click()
    expect(card_of(page, copy)).to_have_count(0, timeout=TIMEOUT_MS)
    page.get_by_role("radio", name=re.compile(r"^Archived \d+$")).click()
    expect(card_of(page, copy)).to_have_count(1, timeout=TIMEOUT_MS)
    expect(card_of(page, RENAMED)).to_have_count(0)
    expect(card_of(page, copy).get_by_test_id("restore-journey")).to_be_visible()
    page.screenshot(path=str(artifacts / "first_hour_archived.png"), full_page=True, animations="disabled")
    # Opened from there, its map is view-only and says how to bring it back.
    card_of(page, copy).click()
    banner = page.locator("#jc-archived-banner")
    expect(banner).to_contain_text("Archived just now by designer@e2e.example.com", timeout=TIMEOUT_MS)
    expect(page.locator("#jc-view-only-note")).to_contain_text("restore it to change it")
    expect(page.locator("input[name=new_persona]")).to_have_count(0)
    page.screenshot(path=str(artifacts / "first_hour_archived_map.png"), animations="disabled")
    banner.get_by_role("button", name="Restore").click()
    expect(banner).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.locator("input[name=new_persona]")).to_be_visible()
    page.get_by_role("link", name="← Journeys").click()
    # Back on the list at All, not at the Archived tab left selected (which other archived journeys keep there).
    expect(page.get_by_role("radio", name=re.compile(r"^All \d+$"))).to_be_checked(timeout=TIMEOUT_MS)
    expect(card_of(page, copy)).to_have_count(1, timeout=TIMEOUT_MS)
    expect(card_of(page, copy)).to_have_attribute("data-archived", "false")
    expect(card_of(page, RENAMED)).to_have_count(1)

    # A live journey cannot be archived: the item is disabled and says why.
    card_of(page, live_journey).get_by_test_id("journey-menu").click()
    archive = page.get_by_role("menuitem", name="Archive")
    expect(archive).to_have_attribute("data-disabled", "")
    reason = "It is live; stop it in launch control before archiving it."
    expect(archive).to_have_attribute("title", reason)
    expect(page.get_by_role("menu").get_by_text(reason)).to_be_visible()
    page.screenshot(path=str(artifacts / "first_hour_archive_disabled.png"), animations="disabled")
    page.keyboard.press("Escape")

    # A persona, and a pain point typed with Enter, on the original's trigger card.
    card_of(page, RENAMED).click()
    # The copy's map was open before in this tab: wait for this journey's own, not a name it contains.
    expect(page).to_have_url(re.compile(rf"/journeys/{original}$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name=RENAMED, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#jc-personas")).to_contain_text("No persona yet", timeout=TIMEOUT_MS)
    page.locator("input[name=new_persona]").fill("Ana, the agency owner")
    page.locator("input[name=new_persona]").press("Enter")
    personas = page.locator("#jc-personas")
    expect(personas.get_by_role("button", name="Ana", exact=True)).to_have_attribute("aria-pressed", "true")
    goals = personas.get_by_label("Persona goals (one per line)")
    goals.fill("Win new clients\nKeep the ones she has")
    goals.blur()
    page.locator('.react-flow__node-card[data-id="trigger_1"]').click()
    expect(page.locator("#jc-experience-persona")).to_have_text("Drawn for Ana, the agency owner")
    adder = page.locator("input[name=add_pain_points]")
    adder.fill("No plan for agencies")
    adder.press("Enter")
    expect(page.get_by_test_id("pain-point")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(adder).to_have_value("")
    expect(adder).to_be_focused()
    # Leaving the emptied box adds nothing more.
    page.locator("input[name=add_opportunities]").click()
    wait_saved(page)
    expect(page.get_by_test_id("pain-point")).to_have_count(1)
    page.screenshot(path=str(artifacts / "first_hour_editor.png"), animations="disabled")
    # Ana's pain point is hers: another persona does not have it.
    page.locator("input[name=new_persona]").fill("Ben")
    page.locator("input[name=new_persona]").press("Enter")
    expect(page.locator("#jc-experience-persona")).to_have_text("Drawn for Ben")
    expect(page.get_by_test_id("pain-point")).to_have_count(0)
    personas.get_by_role("button", name="Ana", exact=True).click()
    expect(page.get_by_test_id("pain-point")).to_have_count(1)
    wait_saved(page)

    with session_scope() as session:
        journey = get_journey(session=session, journey_id=original)
        doc = draft_of(journey)
    assert (journey.name, doc.name) == (RENAMED, RENAMED)
    persona, _ = doc.personas
    assert (persona.name, persona.goals) == ("Ana, the agency owner", ["Win new clients", "Keep the ones she has"])
    trigger = doc.node("trigger_1")
    assert trigger is not None
    assert trigger.pain_points == [PainPoint(text="No plan for agencies", persona=persona.id)]
