"""The canvas at the zoom it opens with, for maps of any size: the whole map fits with every card drawn, an
overview (stage names, big titles, kind colours) when cards would be too small to read and full cards when
zoomed in, a new stage in view, the minimap and controls off the map. Screenshots land in artifacts/."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.journeys import archive_journey, create_journey
from engine.map import Edge, JourneyMap, NodeKind, Position, Stage
from engine.map import edits as map_edits
from engine.simulation import demo_map
from engine.store import session_scope
from journey_builder import routes

pytestmark = pytest.mark.e2e

LANES = 10
KINDS = [NodeKind.TOUCHPOINT, NodeKind.SEND, NodeKind.WAIT, NodeKind.TOUCHPOINT, NodeKind.SEND]

# Every card is in the DOM, has a size and lies inside the pane; and neither the minimap nor the zoom controls
# overlaps a lane or the emotion curve.
ALL_DRAWN_AND_CLEAR = """
(expected) => {
  const pane = document.querySelector('.react-flow__pane').getBoundingClientRect();
  const cards = [...document.querySelectorAll('.react-flow__node-card')];
  if (cards.length !== expected) return `${cards.length} of ${expected} cards in the DOM`;
  for (const card of cards) {
    const r = card.getBoundingClientRect();
    if (!(r.width > 0) || getComputedStyle(card).visibility === 'hidden') return `${card.dataset.id} not drawn`;
    if (r.left < pane.left - 1 || r.right > pane.right + 1 || r.top < pane.top - 1 || r.bottom > pane.bottom + 1) {
      return `${card.dataset.id} outside the pane`;
    }
  }
  const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const map = [...document.querySelectorAll('.react-flow__node-lane, .react-flow__node-curve')]
    .map((n) => n.getBoundingClientRect());
  for (const selector of ['.react-flow__minimap', '.react-flow__controls']) {
    const box = document.querySelector(selector).getBoundingClientRect();
    if (map.some((r) => overlaps(r, box))) return `${selector} covers the map`;
  }
  return 'ok';
}
"""


def grid_map(n: int) -> JourneyMap:
    """``n`` cards chained trigger to goal, row by row over ten lanes (as benchmarks/canvas.py lays them out)."""
    doc = JourneyMap(
        name=f"Grid of {n}", stages=[Stage(id=f"s{i}", name=f"Stage {i + 1}", order=i) for i in range(LANES)]
    )
    ids = []
    for i in range(n):
        kind = NodeKind.TRIGGER if i == 0 else NodeKind.GOAL if i == n - 1 else KINDS[i % len(KINDS)]
        position = Position(x=map_edits.lane_left(i % LANES) + 40, y=80 + (i // LANES) * 140)
        doc, node_id = map_edits.add_node(doc, kind=kind, position=position)
        doc = map_edits.update_node(doc, node_id, {"title": f"Card {i + 1} of the grid map"})
        ids.append(node_id)
    edges = [Edge(id=f"e{i}", source=a, target=b) for i, (a, b) in enumerate(itertools.pairwise(ids))]
    return doc.model_copy(update={"edges": edges})


@pytest.fixture
def stored() -> Iterator[Callable[[JourneyMap], int]]:
    made: list[int] = []

    def store(doc: JourneyMap) -> int:
        with session_scope() as session:
            journey_id = create_journey(session=session, doc=doc).id
        assert journey_id is not None
        made.append(journey_id)
        return journey_id

    yield store
    # Other browser tests count the journeys in the shared database. Archived, not deleted: SQLite would hand a
    # deleted journey's id to the next one made, and a save still on its way from this test's editor would land
    # in that journey (seen: the designer's live journey renamed "Grid of 30").
    with session_scope() as session:
        for journey_id in made:
            archive_journey(session=session, journey_id=journey_id, actor="e2e")


def open_editor(page: Page, base_url: str, journey_id: int, cards: int) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(base_url + routes.journey_editor(journey_id))
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", str(cards), timeout=30_000)


def all_drawn_and_clear(page: Page, cards: int, timeout: float = 60_000) -> None:
    try:
        page.wait_for_function(f"({ALL_DRAWN_AND_CLEAR})({cards}) === 'ok'", timeout=timeout)
    except Exception:
        raise AssertionError(page.evaluate(f"({ALL_DRAWN_AND_CLEAR})({cards})")) from None


def test_a_1000_card_map_fits_when_opened_with_every_card_drawn(
    page: Page, base_url: str, stored: Callable[[JourneyMap], int], artifacts: Path
) -> None:
    open_editor(page, base_url, stored(grid_map(1000)), 1000)
    try:
        all_drawn_and_clear(page, 1000)
    finally:
        page.screenshot(path=str(artifacts / "editor_1000_cards_opened.png"))
    # Far too small for full cards: the overview, with the stages named at a readable size.
    expect(page.locator(".jc-card-overview")).to_have_count(1000)
    expect(page.get_by_test_id("stage-strip").get_by_text("Stage 1", exact=True)).to_be_visible()


def test_overview_when_zoomed_out_and_full_cards_when_zoomed_in(
    page: Page, base_url: str, stored: Callable[[JourneyMap], int], artifacts: Path
) -> None:
    open_editor(page, base_url, stored(grid_map(300)), 300)
    all_drawn_and_clear(page, 300)
    page.screenshot(path=str(artifacts / "editor_300_cards_opened.png"))
    overview = page.locator(".jc-card-overview")
    expect(overview).to_have_count(300)
    # The overview's titles are set larger than a full card's, and each card carries its kind's colour.
    first = page.locator('.react-flow__node-card[data-id] .jc-card[data-kind="trigger"]')
    expect(first.locator(".jc-overview-title")).to_have_css("font-size", "22px")
    expect(first).to_have_css("border-top-color", "rgb(22, 163, 74)")
    expect(page.get_by_test_id("stage-strip")).to_be_visible()

    # Zoomed in on a card: full cards (kind, title on up to two lines, emotion), and no more strip.
    box = first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(12):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(60)
    expect(overview).to_have_count(0)
    title = page.locator(".jc-card-title").first
    expect(title).to_be_visible()
    expect(title).to_contain_text("of the grid map")
    expect(page.get_by_test_id("stage-strip")).to_have_count(0)
    page.screenshot(path=str(artifacts / "editor_300_cards_zoomed_in.png"))


def test_the_demo_journey_opens_readable(
    page: Page, base_url: str, stored: Callable[[JourneyMap], int], artifacts: Path
) -> None:
    doc = demo_map()
    open_editor(page, base_url, stored(doc.model_copy(update={"name": "Demo at opening zoom"})), len(doc.nodes))
    try:
        all_drawn_and_clear(page, len(doc.nodes))
    finally:
        page.screenshot(path=str(artifacts / "editor_demo_opened.png"))
    # At 1280x800 the demo's cards would be too small to read in full: the overview, every title whole.
    expect(page.locator(".jc-card-overview")).to_have_count(len(doc.nodes))
    expect(page.get_by_test_id("stage-strip").get_by_text("Recover", exact=True)).to_be_visible()
    for title in page.locator(".jc-overview-title").all():
        assert title.evaluate("el => el.scrollHeight <= el.clientHeight + 1"), title.inner_text()

    # The PNG shows full cards (titles, pain points, emotion faces) whatever the zoom; the overview comes back.
    with page.expect_download() as download:
        page.locator("#jc-export-png").click()
    download.value.save_as(artifacts / "editor_demo_export.png")
    assert (artifacts / "editor_demo_export.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expect(page.locator(".jc-card-overview")).to_have_count(len(doc.nodes))

    # With room to draw them (a larger window), full cards, titles wrapped rather than cut.
    page.set_viewport_size({"width": 1920, "height": 1080})
    expect(page.locator(".jc-card-overview")).to_have_count(0)
    expect(page.locator(".jc-card-title")).to_have_count(len(doc.nodes))
    all_drawn_and_clear(page, len(doc.nodes))
    for title in page.locator(".jc-card-title").all():
        assert title.evaluate("el => el.scrollHeight <= el.clientHeight + 1"), title.inner_text()
    page.screenshot(path=str(artifacts / "editor_demo_opened_1920.png"))


def test_a_new_stage_appears_in_view(
    page: Page, base_url: str, stored: Callable[[JourneyMap], int], artifacts: Path
) -> None:
    open_editor(page, base_url, stored(grid_map(30)), 30)
    all_drawn_and_clear(page, 30)
    page.locator("input[name=new_stage]").fill("Afterwards")
    page.locator("#jc-add-stage").click()
    expect(page.locator(".react-flow__node-lane")).to_have_count(LANES + 1)
    all_drawn_and_clear(page, 30, timeout=10_000)
    # The map moves there in a 300 ms animation, which a loaded machine may not have finished yet.
    page.wait_for_function(
        """() => {
            const lanes = document.querySelectorAll(".react-flow__node-lane");
            const lane = lanes[lanes.length - 1].getBoundingClientRect();
            return lane.right <= document.querySelector(".react-flow__pane").getBoundingClientRect().right + 1;
        }""",
        timeout=10_000,
    )
    lane = page.locator(".react-flow__node-lane").last
    pane = page.locator(".react-flow__pane").bounding_box()
    box = lane.bounding_box()
    assert pane is not None
    assert box is not None
    assert box["x"] + box["width"] <= pane["x"] + pane["width"] + 1
    page.screenshot(path=str(artifacts / "editor_new_stage.png"))
