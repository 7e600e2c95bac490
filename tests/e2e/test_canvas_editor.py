"""The canvas in Chromium: every gesture a designer makes reaches the saved journey map."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.journeys import archive_journey, create_journey, draft_of, get_journey
from engine.map import LANE_WIDTH, JourneyMap, NodeKind, SendNode
from engine.map.starters import load_template
from engine.store import session_scope
from journey_builder import routes

pytestmark = pytest.mark.e2e

SAVED = "All changes saved"


def stored_map(journey_id: int) -> JourneyMap:
    with session_scope() as session:
        return draft_of(get_journey(session=session, journey_id=journey_id))


def new_journey(doc: JourneyMap) -> int:
    with session_scope() as session:
        journey_id: int = create_journey(session=session, doc=doc).id
    return journey_id


@pytest.fixture(scope="session")
def editor_url(base_url: str) -> Callable[[int], str]:
    # The pages' address on the backend's host, where the session cookie lives (see conftest's base_url).
    return lambda journey_id: base_url + routes.journey_editor(journey_id)


@pytest.fixture
def journey_id() -> Iterator[int]:
    journey_id = new_journey(load_template("cart_abandonment").model_copy(update={"name": "Canvas test journey"}))
    yield journey_id
    # Other browser tests count the journeys in the shared database, so each test puts its journey away: archived,
    # not deleted, since SQLite would hand a deleted journey's id to the next one made, and a save still on its way
    # from this test's editor would land in that journey.
    with session_scope() as session:
        archive_journey(session=session, journey_id=journey_id, actor="e2e")


@pytest.fixture
def editor(page: Page, editor_url: Callable[[int], str], journey_id: int) -> Page:
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(editor_url(journey_id))
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", str(len(stored_map(journey_id).nodes)))
    expect(page.locator(".react-flow__node-card").first).to_be_visible()
    return page


def canvas(page: Page) -> Locator:
    return page.locator(".jc-canvas")


def card(page: Page, node_id: str) -> Locator:
    return page.locator(f'.react-flow__node-card[data-id="{node_id}"]')


def wait_saved(page: Page) -> None:
    expect(page.locator("#jc-save-status")).to_have_text(SAVED, timeout=10_000)


def drop_kind(page: Page, kind: str, *, lane: int, y_from_bottom: float = 80) -> None:
    """Drag a palette entry onto a lane, as a designer would."""
    pane = page.locator(".react-flow__pane")
    pane_box = pane.bounding_box()
    lane_box = page.locator(".react-flow__node-lane").nth(lane).bounding_box()
    assert pane_box is not None
    assert lane_box is not None
    target = {
        "x": lane_box["x"] - pane_box["x"] + lane_box["width"] / 2,
        "y": lane_box["y"] - pane_box["y"] + lane_box["height"] - y_from_bottom,
    }
    page.locator(f'.jc-palette-item[data-kind="{kind}"]').drag_to(pane, target_position=target)


def test_dragging_a_kind_from_the_palette_onto_a_lane_adds_a_card_there(editor: Page, journey_id: int) -> None:
    before = stored_map(journey_id)

    drop_kind(editor, "wait", lane=2)

    expect(canvas(editor)).to_have_attribute("data-cards", str(len(before.nodes) + 1))
    expect(editor.locator("#jc-inspector .jc-kind-tag")).to_have_text("Wait")
    wait_saved(editor)
    after = stored_map(journey_id)
    (added,) = [node for node in after.nodes if node.id not in {n.id for n in before.nodes}]
    assert added.kind == NodeKind.WAIT
    assert added.stage == "recover"
    assert 2 * LANE_WIDTH <= added.position.x + 120 < 3 * LANE_WIDTH


def test_connecting_two_cards_by_dragging_from_a_handle(editor: Page, journey_id: int) -> None:
    # browse_products and start_checkout sit in the first lane; the starter leaves order_confirmation unconnected.
    source = card(editor, "order_completed").locator(".react-flow__handle-bottom")
    target = card(editor, "order_confirmation").locator(".react-flow__handle-top")
    before = len(stored_map(journey_id).edges)

    source.drag_to(target)

    expect(canvas(editor)).to_have_attribute("data-edges", str(before + 1))
    wait_saved(editor)
    edges = {(edge.source, edge.target) for edge in stored_map(journey_id).edges}
    assert ("order_completed", "order_confirmation") in edges


def test_editing_a_node_in_the_inspector_changes_the_card_and_the_map(editor: Page, journey_id: int) -> None:
    card(editor, "email_reminder").click()
    title = editor.locator("#jc-inspector input[name=title]")
    expect(title).to_have_value("Email: your cart is saved")

    title.fill("Email: we kept your cart")
    editor.locator("#jc-inspector input[name=subject]").click()
    editor.locator("#jc-inspector input[name=subject]").fill("Still thinking it over?")
    editor.locator("#jc-inspector textarea[name=notes]").click()

    expect(card(editor, "email_reminder")).to_contain_text("Email: we kept your cart")
    wait_saved(editor)
    node = stored_map(journey_id).node("email_reminder")
    assert isinstance(node, SendNode)
    assert node.title == "Email: we kept your cart"
    assert node.content.subject == "Still thinking it over?"


def test_undo_and_redo_with_the_keyboard(editor: Page, journey_id: int) -> None:
    count = len(stored_map(journey_id).nodes)
    card(editor, "order_confirmation").click()
    editor.keyboard.press("Delete")
    expect(canvas(editor)).to_have_attribute("data-cards", str(count - 1))

    editor.keyboard.press("Control+z")
    expect(canvas(editor)).to_have_attribute("data-cards", str(count))
    expect(card(editor, "order_confirmation")).to_be_visible()

    editor.keyboard.press("Control+Shift+z")
    expect(canvas(editor)).to_have_attribute("data-cards", str(count - 1))
    wait_saved(editor)
    assert stored_map(journey_id).node("order_confirmation") is None


def test_a_validation_marker_appears_on_the_node_and_clears_when_fixed(editor: Page, journey_id: int) -> None:
    before = {node.id for node in stored_map(journey_id).nodes}
    drop_kind(editor, "send", lane=3)
    expect(canvas(editor)).to_have_attribute("data-cards", str(len(before) + 1))
    wait_saved(editor)
    (new_id,) = {node.id for node in stored_map(journey_id).nodes} - before

    new_card = card(editor, new_id)
    expect(new_card.locator(".jc-card")).to_have_class(re.compile(r"\bjc-error\b"))
    expect(new_card.locator(".jc-problem")).not_to_be_empty()
    expect(editor.locator("#jc-publish-state")).to_contain_text("to fix before publishing")
    editor.locator("#problems .jc-problem-row").first.click()
    expect(editor.locator("#jc-inspector .jc-mono")).not_to_be_empty()

    card(editor, new_id).click()
    editor.keyboard.press("Delete")

    expect(canvas(editor)).to_have_attribute("data-cards", str(len(before)))
    expect(editor.locator(".jc-card.jc-error")).to_have_count(0)
    expect(editor.locator("#jc-publish-state")).to_have_text("Ready to publish")


def test_autosave_survives_a_reload(editor: Page, editor_url: Callable[[int], str], journey_id: int) -> None:
    card(editor, "wait_1h").click()
    editor.locator("#jc-inspector input[name=title]").fill("Wait a little")
    editor.locator("#jc-inspector input[name=title]").press("Tab")
    drop_kind(editor, "touchpoint", lane=0)
    wait_saved(editor)
    saved = stored_map(journey_id)

    editor.reload()

    expect(canvas(editor)).to_have_attribute("data-cards", str(len(saved.nodes)))
    expect(card(editor, "wait_1h")).to_contain_text("Wait a little")
    assert stored_map(journey_id) == saved


def test_two_tabs_editing_one_journey_never_overwrite_each_other(
    editor: Page, editor_url: Callable[[int], str], journey_id: int
) -> None:
    other = editor.context.new_page()
    other.set_viewport_size({"width": 1600, "height": 900})
    other.goto(editor_url(journey_id))
    expect(other.locator(".react-flow__node-card").first).to_be_visible()

    cards_before = len(stored_map(journey_id).nodes)
    card(editor, "wait_1h").click()
    editor.keyboard.press("Delete")
    # The status reads "saved" until the server has the delete: wait for the delete to show first.
    expect(canvas(editor)).to_have_attribute("data-cards", str(cards_before - 1))
    wait_saved(editor)
    first = stored_map(journey_id)

    card(other, "order_confirmation").click()
    other.keyboard.press("Delete")

    expect(other.locator("#jc-save-message")).to_contain_text("changed in another tab")
    expect(other.locator("#jc-save-status")).to_have_text("Not saved: conflict")
    assert stored_map(journey_id) == first
    other.locator("#jc-save-message button").click()
    expect(card(other, "order_confirmation")).to_be_visible()
    expect(other.locator("#jc-save-message")).to_have_count(0)


def test_export_and_import_the_map_as_json(editor: Page, journey_id: int, tmp_path: Path) -> None:
    with editor.expect_download() as download:
        editor.locator("#jc-export-json").click()
    exported = JourneyMap.from_json(Path(download.value.path()).read_text())
    assert exported == stored_map(journey_id)

    replacement = load_template("support_escalation")
    upload = tmp_path / "support.json"
    upload.write_text(replacement.to_json())
    editor.locator("#journey-import input[type=file]").set_input_files(upload)

    expect(editor.locator(f'.jc-stage-row[data-stage="{replacement.stages[0].id}"]')).to_have_count(1)
    expect(canvas(editor)).to_have_attribute("data-cards", str(len(replacement.nodes)))
    wait_saved(editor)
    # The journey keeps its own name: names stay unique, and the imported file's belongs to another journey.
    assert stored_map(journey_id) == replacement.model_copy(update={"name": exported.name})


def test_importing_a_file_that_is_not_a_map_changes_nothing(editor: Page, journey_id: int, tmp_path: Path) -> None:
    before = stored_map(journey_id)
    upload = tmp_path / "bad.json"
    upload.write_text(json.dumps({"name": "x", "nodes": [{"id": "n"}]}))

    editor.locator("#journey-import input[type=file]").set_input_files(upload)

    expect(editor.get_by_text("is not a journey map")).to_be_visible()
    assert stored_map(journey_id) == before


def test_export_png_downloads_an_image(editor: Page) -> None:
    with editor.expect_download() as download:
        editor.locator("#jc-export-png").click()

    assert download.value.suggested_filename.endswith(".png")
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_copy_paste_with_the_keyboard_and_add_a_stage(editor: Page, journey_id: int) -> None:
    before = stored_map(journey_id)
    card(editor, "wait_1h").click()
    editor.keyboard.press("Control+c")
    editor.keyboard.press("Control+v")
    expect(canvas(editor)).to_have_attribute("data-cards", str(len(before.nodes) + 1))

    editor.locator("input[name=new_stage]").fill("Advocate")
    editor.locator(".jc-stage-row + .jc-row button, .jc-row button", has_text="Add").first.click()

    expect(
        editor.get_by_test_id("stage-lane").filter(has=editor.get_by_role("heading", name="Advocate"))
    ).to_be_visible()
    wait_saved(editor)
    after = stored_map(journey_id)
    (copy,) = [node for node in after.nodes if node.id not in {n.id for n in before.nodes}]
    assert (copy.kind, copy.title, copy.stage) == (NodeKind.WAIT, "Wait 1 hour", "abandon")
    assert [stage.name for stage in after.stages][-1] == "Advocate"
