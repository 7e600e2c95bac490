"""The forecast on the map, in Chromium: the demo journey's map (60x faster) with two days old carts stored, the
"Forecast" toggle turned on, the figures read off the cards and lanes and compared with ``journey forecast --json``;
then launch control's "Forecast this version" and Launch's confirmation.

The replay meets events in the order they were stored, its clock never going back, as the live engine does: these
carts are stored two days old after other browser tests' events of now, so their runs may still be waiting at the
window's end. The command is therefore given the window's end the page shows (a whole second), and replays exactly
the page's window.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from engine.cli import main
from engine.intake import ingest
from engine.journeys import archive_journey, create_journey, publish_journey
from engine.simulation import demo_map
from engine.store import Role, session_scope, utc_now
from journey_builder import routes
from tests.engine_factories import identify, track

pytestmark = pytest.mark.e2e

SHOPPERS = 6
BUYERS = 2


@pytest.fixture
def demo_journey(e2e_database: str) -> Iterator[int]:
    """The demo journey's map, published (not launched: a forecast needs no live journey), with carts stored two
    days ago: six shoppers leave one each, two of them order within minutes. Archived afterwards."""
    run = uuid.uuid4().hex[:8]
    doc = demo_map().model_copy(update={"name": f"Cart demo forecast {run}"})
    with session_scope() as session:
        journey = create_journey(session=session, doc=doc, created_by="e2e")
        assert journey.id is not None
        journey_id = journey.id
        publish_journey(session=session, journey_id=journey_id, published_by="e2e")
    start = utc_now() - timedelta(days=2)
    cart = {"cart_url": "https://shop.example/c", "cart_total": 30, "item_count": 1}
    for i in range(SHOPPERS):
        user = f"forecast-{run}-{i}"
        at = start + timedelta(minutes=5 * i)
        messages: list[tuple[timedelta, Any]] = [
            (timedelta(0), identify(user, {"email": f"{user}@example.com", "phone": "+15550100", "first_name": "Kim"})),
            (timedelta(seconds=1), track(user, "cart_abandoned", {"cart_id": f"{user}-c", **cart})),
        ]
        if i < BUYERS:
            messages.append((timedelta(seconds=20), track(user, "order_completed", {"cart_id": f"{user}-c"})))
        with session_scope() as session:
            for offset, message in messages:
                ingest(session=session, messages=[message], now=at + offset)
    yield journey_id
    with session_scope() as session:
        archive_journey(session=session, journey_id=journey_id, actor="e2e")


def _cli(capsys: pytest.CaptureFixture[str], journey_id: int, shown: str, *arguments: str) -> dict[str, Any]:
    """``journey forecast --json`` over the window whose end (``YYYY-MM-DD HH:MM:SS UTC``) is in ``shown``."""
    ends = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", shown)
    assert ends, f"no window end in {shown!r}"
    capsys.readouterr()
    assert main(["forecast", str(journey_id), *arguments, "--until", ends[-1].replace(" ", "T") + "Z", "--json"]) == 0
    figures: dict[str, Any] = json.loads(capsys.readouterr().out)
    return figures


def test_the_forecast_on_the_map_is_the_commands(
    page: Page, demo_journey: int, capsys: pytest.CaptureFixture[str], artifacts: Path
) -> None:
    page.set_viewport_size({"width": 2200, "height": 1100})
    page.goto(routes.journey_editor(demo_journey))
    expect(page.locator(".react-flow__node-card").first).to_be_visible()
    page.locator("#jc-forecast-toggle").click()
    expect(page.locator("#jc-forecast-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".jc-canvas")).to_have_attribute("data-forecast", "on")
    legend = page.get_by_test_id("kpi-legend")
    expect(legend).to_contain_text("FORECAST")
    expect(legend).to_contain_text("Would reach the goal")
    expect(page.locator("#jc-forecast-channels")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(artifacts / "forecast_map.png"))

    figures = _cli(capsys, demo_journey, page.locator("#jc-forecast-window").inner_text())
    # Other browser tests leave carts of their own in the window: the figures hold at least this test's.
    assert figures["entered"] >= SHOPPERS
    assert figures["goal_reached"]["low"] >= BUYERS
    goal = figures["goal_reached"]
    reached = f"{goal['low']:,}" if goal["low"] == goal["high"] else f"{goal['low']:,} to {goal['high']:,}"
    expect(legend).to_contain_text(f"Would reach the goal: {reached} of {figures['entered']:,}")
    for node_id, shown in figures["nodes"].items():
        kpi = page.locator(f'.jc-card[data-node-id="{node_id}"]').get_by_test_id("node-kpi")
        expect(kpi).to_have_attribute("data-forecast", "true")
        expect(kpi).to_contain_text(f"{shown['customers']:,} would enter")
        if shown["channel"]:
            expect(kpi).to_contain_text(f"would send {shown['sent']:,}")
    for stage_id, shown in figures["stages"].items():
        if shown["entered"]:
            lane = page.locator(f'[data-testid="stage-kpi"][data-stage="{stage_id}"]')
            expect(lane).to_contain_text("FORECAST")
            expect(lane).to_contain_text(f"{shown['entered']:,} would enter")
    for channel, shown in figures["channels"].items():
        row = page.locator(f'#jc-forecast-channels tr[data-channel="{channel}"]')
        expect(row).to_contain_text(f"{shown['sent']:,}")
    expect(page.get_by_test_id("forecast-panel")).to_contain_text("Nothing was sent and nothing was stored.")
    # The chart of sends per hour is drawn (plotly's SVG), with a bar per channel that sends.
    chart = page.get_by_test_id("forecast-panel").locator("svg.main-svg").first
    expect(chart).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("forecast-panel")).to_contain_text("Forecast: sends per hour")

    page.locator("#jc-forecast-compare").click()
    expect(page.locator("#jc-forecast-compare-table")).to_be_visible(timeout=30_000)
    # The draft is version 1 unchanged, and both sides are replayed to the same end: no row may differ.
    expect(page.locator("#jc-forecast-compare-note")).to_contain_text("both over the 7 days of events to")
    expect(page.locator("#jc-forecast-compare-table tbody tr")).not_to_have_count(0)
    expect(page.locator("#jc-forecast-compare-table tr.jc-compare-changed")).to_have_count(0)
    page.get_by_test_id("forecast-panel").screenshot(path=str(artifacts / "forecast_panel.png"))

    # The KPIs put the forecast away: one set of figures on the map at a time.
    page.locator("#jc-kpi-toggle").click()
    expect(page.locator(".jc-canvas")).to_have_attribute("data-forecast", "off")
    expect(page.locator("#jc-forecast-toggle")).to_have_attribute("aria-pressed", "false")


def test_launch_control_forecasts_the_version_before_launch(
    page: Page, demo_journey: int, capsys: pytest.CaptureFixture[str], artifacts: Path
) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(routes.journey_launch(demo_journey))
    page.get_by_test_id("forecast-version").click()
    totals = page.get_by_test_id("forecast-totals")
    expect(totals).to_contain_text("would have entered", timeout=30_000)
    figures = _cli(capsys, demo_journey, totals.inner_text(), "--version", "1")
    low, high = figures["goal_reached"]["low"], figures["goal_reached"]["high"]
    # A range while some of the window's customers are still waiting at its end.
    goal = f"{low:,}" if low == high else f"{low:,} to {high:,}"
    entered = f"would have entered {figures['entered']:,} customers ({goal} reaching"
    expect(totals).to_contain_text(entered)
    sent = [f"{channel} {f['sent']:,}" for channel, f in figures["channels"].items() if f["sent"]]
    sends = ", ".join(sent) or "nothing"
    expect(totals).to_contain_text(f"and sent {sends};")
    page.get_by_role("button", name="Launch", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text(entered)
    dialog.get_by_role("button", name="Cancel").click()
    # In a new tab (a state of its own) nobody pressed "Forecast this version": the confirmation makes it itself, over
    # a window ending a few seconds later, in which a customer waiting at the end may have moved on.
    fresh = page.context.new_page()
    fresh.set_viewport_size({"width": 1440, "height": 1000})
    fresh.goto(routes.journey_launch(demo_journey))
    fresh.get_by_role("button", name="Launch", exact=True).click()
    dialog = fresh.get_by_role("alertdialog")
    expect(dialog).to_contain_text(f"would have entered {figures['entered']:,} customers (", timeout=30_000)
    # The dialog fades in: the screenshot waits until it has.
    expect(dialog).to_have_css("opacity", "1")
    fresh.screenshot(path=str(artifacts / "forecast_launch.png"))
    dialog.get_by_role("button", name="Cancel").click()


def test_an_executive_sees_the_newest_versions_forecast_and_no_draft_comparison(
    signed_in_as: Callable[[Role], Page], demo_journey: int, artifacts: Path
) -> None:
    page = signed_in_as(Role.EXECUTIVE)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(routes.journey_editor(demo_journey))
    expect(page.locator(".react-flow__node-card").first).to_be_visible()
    page.locator("#jc-forecast-toggle").click()
    legend = page.get_by_test_id("kpi-legend")
    expect(legend).to_contain_text("FORECAST · version 1", timeout=30_000)
    expect(page.locator("#jc-forecast-channels")).to_be_visible(timeout=30_000)
    expect(page.locator("#jc-forecast-compare")).to_have_count(0)
    page.screenshot(path=str(artifacts / "forecast_executive.png"))
