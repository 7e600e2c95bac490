"""The KPI overlay on the map, in Chromium: figures of real customers run through the engine.

The journey is published and launched in the e2e database, and customers enter it through the
event intake (``engine.intake.ingest``), so every figure comes from what the engine recorded:

    Arrive:  entry -> check (branch: plan is pro?)  -- no --> bye (exit)
                                                   -- yes --> Engage: welcome (email) -> hold (30 days) -> Convert: won

Five customers: three on the pro plan and one free today, one free ten days ago. All time, 3 of
the 5 who arrived moved on to Engage (60%); in the last 7 days, 3 of 4 (75%).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.journeys import draft_of, get_journey
from engine.map import JourneyMap
from engine.runtime import stop_journey
from engine.store import session_scope, utc_now
from journey_builder import routes
from journey_builder.canvas.overlay_state import VIEW_ONLY_MESSAGE
from tests.engine_factories import identify, ingest_and_react, publish_and_launch, track

pytestmark = pytest.mark.e2e

# Unique to this run, so no other live journey in the shared database enrolls these customers.
SIGNED_UP = f"kpi_signed_up_{uuid.uuid4().hex[:8]}"
# The canvas asks for fresh figures every 5 s; a new customer must show within about 10 s.
REFRESH_TIMEOUT_MS = 12_000


def _node(node_id: str, kind: str, stage: str, x: float, y: float, **fields: object) -> dict[str, object]:
    return {"id": node_id, "kind": kind, "stage": stage, "position": {"x": x, "y": y}, **fields}


def kpi_map() -> JourneyMap:
    edges = [
        ("entry", "check", None),
        ("check", "welcome", "yes"),
        ("check", "bye", "no"),
        ("welcome", "hold", None),
        ("hold", "won", None),
    ]
    return JourneyMap.from_dict(
        {
            "name": "KPI overlay journey",
            "stages": [
                {"id": "arrive", "name": "Arrive", "goal": "Sign up", "order": 0},
                {"id": "engage", "name": "Engage", "goal": "Read the welcome", "order": 1},
                {"id": "convert", "name": "Convert", "goal": "Buy", "order": 2},
            ],
            "nodes": [
                _node(
                    "entry",
                    "trigger",
                    "arrive",
                    40,
                    80,
                    title="Signed up",
                    trigger={"type": "event", "event": SIGNED_UP},
                ),
                _node(
                    "check",
                    "branch",
                    "arrive",
                    40,
                    220,
                    title="On the pro plan?",
                    conditions=[{"source": "trait", "field": "plan", "op": "eq", "value": "pro"}],
                ),
                _node("bye", "exit", "arrive", 40, 360, title="Free plan: leave", reason="free plan"),
                _node(
                    "welcome",
                    "send",
                    "engage",
                    360,
                    80,
                    title="Welcome email",
                    channel="email",
                    content={"subject": "Welcome aboard", "body": "Hello {{ profile.email }}"},
                ),
                _node("hold", "wait", "engage", 360, 220, title="Wait 30 days", duration="P30D"),
                _node("won", "goal", "convert", 680, 80, title="Bought a plan"),
            ],
            "edges": [
                {"id": f"e_{source}_{target}", "source": source, "target": target, "label": label}
                for source, target, label in edges
            ],
            "settings": {"goal_event": "kpi_purchased"},
        }
    )


def enter(plan: str, *, now: datetime | None = None) -> None:
    """One customer signs up on ``plan``: identified, then the trigger event, through the intake."""
    user_id = f"kpi-{uuid.uuid4().hex[:10]}"
    with session_scope() as session:
        result = ingest_and_react(
            session=session,
            messages=[identify(user_id, {"email": f"{user_id}@example.com", "plan": plan}), track(user_id, SIGNED_UP)],
            now=now,
        )
    assert result.enrolled == 1


@pytest.fixture
def kpi_journey(e2e_database: str) -> Iterator[int]:
    with session_scope() as session:
        journey_id, _ = publish_and_launch(session, kpi_map())
    enter("free", now=utc_now() - timedelta(days=10))
    for plan in ("pro", "pro", "pro", "free"):
        enter(plan)
    yield journey_id
    # Stopped rather than deleted: SQLite would hand a deleted version's id to the next published
    # version, and the engine's plan cache (keyed by version id) would then run this journey's plan.
    with session_scope() as session:
        stop_journey(session=session, journey_id=journey_id, actor="e2e")


def stored(journey_id: int) -> tuple[int, JourneyMap]:
    with session_scope() as session:
        journey = get_journey(session=session, journey_id=journey_id)
        return journey.revision, draft_of(journey)


def open_map(page: Page, url: str, journey_id: int) -> None:
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(url)
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", str(len(stored(journey_id)[1].nodes)))
    expect(page.locator(".react-flow__node-card").first).to_be_visible()


def card(page: Page, node_id: str) -> Locator:
    return page.locator(f'.react-flow__node-card[data-id="{node_id}"]')


def stage_kpi(page: Page, stage_id: str) -> Locator:
    return page.locator(f'[data-testid="stage-kpi"][data-stage="{stage_id}"]')


def edge_label(page: Page, edge_id: str) -> Locator:
    """The label drawn on an edge: its branch name, and while the overlay is on the share that took it."""
    kpi = page.locator(f'[data-testid="edge-kpi"][data-edge="{edge_id}"]')
    return kpi.or_(page.locator(f'.react-flow__edge[data-id="{edge_id}"] .react-flow__edge-text'))


def edge_width(page: Page, edge_id: str) -> float:
    path = page.locator(f'.react-flow__edge[data-id="{edge_id}"] .react-flow__edge-path')
    return float(path.evaluate("element => getComputedStyle(element).strokeWidth").removesuffix("px"))


def flow_position(node: Locator) -> str:
    """Where React Flow placed the node on the map (not on the screen, which panning changes)."""
    return node.evaluate("element => element.style.transform")


def viewport(page: Page) -> str:
    return page.locator(".react-flow__viewport").evaluate("element => element.style.transform")


def test_kpi_overlay_shows_the_recorded_figures_and_follows_new_customers(
    page: Page, kpi_journey: int, artifacts: Path
) -> None:
    open_map(page, routes.journey_editor(kpi_journey), kpi_journey)
    expect(page.get_by_test_id("stage-kpi")).to_have_count(0)
    plain_width = edge_width(page, "e_check_welcome")

    page.locator("#jc-kpi-toggle").click()

    expect(stage_kpi(page, "arrive")).to_contain_text("60% → next", timeout=10_000)
    expect(stage_kpi(page, "arrive")).to_contain_text("5 entered · 2 dropped off")
    expect(stage_kpi(page, "arrive")).to_contain_text("median < 1 s · p90 < 1 s")
    expect(stage_kpi(page, "engage")).to_contain_text("0% → next")
    expect(stage_kpi(page, "engage")).to_contain_text("no one has moved on yet")
    expect(card(page, "welcome").get_by_test_id("node-kpi")).to_have_text("3 enteredsent 3")
    expect(card(page, "hold").get_by_test_id("node-kpi")).to_have_text("3 entered · 3 waiting")
    expect(edge_label(page, "e_check_welcome")).to_have_text("yes · 60%")
    expect(edge_label(page, "e_check_bye")).to_have_text("no · 40%")
    expect(edge_label(page, "e_entry_check")).to_have_text("100%")
    # Thicker by share; the path nobody took yet is faded.
    assert edge_width(page, "e_entry_check") > edge_width(page, "e_check_welcome") > edge_width(page, "e_check_bye")
    assert edge_width(page, "e_check_bye") > plain_width
    expect(page.locator('.react-flow__edge[data-id="e_hold_won"]')).to_have_class(re.compile(r"\bjc-edge-idle\b"))
    legend = page.get_by_test_id("kpi-legend")
    expect(legend).to_contain_text("All time")
    expect(legend).to_contain_text("Goal reached by 0 of 5 customers")
    expect(page.get_by_test_id("kpi-refreshed")).to_contain_text("refreshed")
    page.screenshot(path=str(artifacts / "kpi_overlay_on.png"))

    page.locator("#jc-kpi-window").select_option("7d")
    expect(stage_kpi(page, "arrive")).to_contain_text("75% → next")
    expect(edge_label(page, "e_check_welcome")).to_have_text("yes · 75%")
    expect(legend).to_contain_text("Last 7 days")
    page.locator("#jc-kpi-window").select_option("all")
    expect(stage_kpi(page, "arrive")).to_contain_text("60% → next")

    # The designer has panned the map and selected a card; a refresh must keep both.
    lane = page.locator(".react-flow__node-lane").nth(2).bounding_box()
    assert lane is not None
    page.mouse.move(lane["x"] + lane["width"] / 2, lane["y"] + lane["height"] - 60)
    page.mouse.down()
    page.mouse.move(lane["x"] + lane["width"] / 2 - 90, lane["y"] + lane["height"] - 110, steps=8)
    page.mouse.up()
    card(page, "hold").click()
    expect(card(page, "hold").locator(".jc-card")).to_have_class(re.compile(r"\bjc-selected\b"))
    expect(page.locator("#jc-inspector input[name=title]")).to_have_value("Wait 30 days")
    before = viewport(page)
    hold_box = card(page, "hold").bounding_box()

    enter("pro")

    expect(stage_kpi(page, "arrive")).to_contain_text("67% → next", timeout=REFRESH_TIMEOUT_MS)
    expect(stage_kpi(page, "arrive")).to_contain_text("6 entered · 2 dropped off")
    expect(card(page, "welcome").get_by_test_id("node-kpi")).to_have_text("4 enteredsent 4")
    expect(card(page, "hold").get_by_test_id("node-kpi")).to_have_text("4 entered · 4 waiting")
    expect(edge_label(page, "e_check_welcome")).to_have_text("yes · 67%")
    assert viewport(page) == before
    assert card(page, "hold").bounding_box() == hold_box
    expect(card(page, "hold").locator(".jc-card")).to_have_class(re.compile(r"\bjc-selected\b"))
    page.screenshot(path=str(artifacts / "kpi_overlay_refreshed.png"))

    page.locator("#jc-kpi-toggle").click()

    expect(page.get_by_test_id("stage-kpi")).to_have_count(0)
    expect(page.get_by_test_id("node-kpi")).to_have_count(0)
    expect(page.get_by_test_id("kpi-legend")).to_have_count(0)
    expect(edge_label(page, "e_check_welcome")).to_have_text("yes")
    expect(edge_label(page, "e_entry_check")).to_have_count(0)
    assert edge_width(page, "e_check_welcome") == plain_width
    page.screenshot(path=str(artifacts / "kpi_overlay_off.png"))


def test_a_map_opened_view_only_takes_no_edits(page: Page, kpi_journey: int, artifacts: Path) -> None:
    revision, doc = stored(kpi_journey)
    open_map(page, routes.journey_map_kpis(kpi_journey), kpi_journey)

    expect(page.locator("#jc-view-only")).to_have_text("View only")
    expect(stage_kpi(page, "arrive")).to_contain_text("60% → next", timeout=10_000)
    expect(page.locator(".jc-canvas")).to_have_attribute("data-read-only", "true")
    page.screenshot(path=str(artifacts / "kpi_view_only.png"))
    for edit_control in ("#jc-publish", "#jc-new-journey", "#journey-import", "#jc-tidy", ".jc-palette-item"):
        expect(page.locator(edit_control)).to_have_count(0)
    expect(page.get_by_role("button", name="Undo")).to_have_count(0)
    cards = page.locator(".jc-canvas")
    welcome = card(page, "welcome")
    box = welcome.bounding_box()
    assert box is not None
    placed = flow_position(welcome)

    # Drag a card, delete it with the keyboard, undo, paste, and drop a kind onto the canvas.
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 160, box["y"] + 120, steps=10)
    page.mouse.up()
    assert flow_position(welcome) == placed
    welcome.click()
    page.keyboard.press("Delete")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+v")
    page.locator(".react-flow__pane").evaluate(
        """pane => {
            const data = new DataTransfer();
            data.setData("application/x-journey-kind", "wait");
            const at = pane.getBoundingClientRect();
            for (const type of ["dragover", "drop"]) {
                pane.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data,
                    clientX: at.x + 200, clientY: at.y + 300}));
            }
        }"""
    )
    expect(cards).to_have_attribute("data-cards", str(len(doc.nodes)))
    expect(welcome).to_be_visible()

    # The inspector shows the card but takes no typing.
    title = page.locator("#jc-inspector input[name=title]")
    expect(title).to_have_value("Welcome email")
    expect(title).to_be_disabled()
    page.screenshot(path=str(artifacts / "kpi_view_only_inspector.png"))
    # Zoomed far out, each card keeps its count.
    for _ in range(4):
        page.locator(".react-flow__controls-zoomout").click()
    expect(card(page, "welcome").locator(".jc-overview-kpi")).to_have_text("3")
    page.screenshot(path=str(artifacts / "kpi_view_only_zoomed_out.png"))

    # A client that enables the inputs anyway is refused by the server.
    page.locator("#jc-inspector fieldset").evaluate("fieldset => fieldset.removeAttribute('disabled')")
    title.fill("Hacked title")
    title.press("Tab")
    expect(page.get_by_text(VIEW_ONLY_MESSAGE)).to_be_visible()

    page.reload()

    expect(card(page, "welcome")).to_contain_text("Welcome email")
    expect(page.locator("#jc-view-only")).to_be_visible()
    assert stored(kpi_journey) == (revision, doc)
