"""What an executive sees in the browser: a dashboard that refreshes itself, says how fresh its figures are and
gives each stage's velocity, and no control that is not theirs on the dashboard, the map, the KPI page or the
journeys list; and a fresh install's first run, which asks nobody to sign in.

The journey is the demo journey (its map, 60x faster), with a history of the last half hour recorded by hand.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from engine.journeys import archive_journey
from engine.map import JourneyMap
from engine.runtime import StopMode, stop_journey
from engine.simulation import demo_map
from engine.store import Role, session_scope, utc_now
from journey_builder import routes
from tests.engine_factories import publish_and_launch
from tests.history_factories import Run, path, record_runs

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
# The dashboard asks for fresh figures every 10 s: two turns and some slack.
REFRESH_TIMEOUT_MS = 35_000
MINUTE = 1 / 60


@dataclass(frozen=True)
class Demo:
    journey_id: int
    version_id: int
    name: str
    doc: JourneyMap
    start: datetime


def demo_runs() -> list[Run]:
    """In hours after the start: two customers ordered while waiting in Abandon, three moved on to Recover
    after their 1-minute wait (one of them ordered there 2 minutes later), one is still waiting in Abandon."""
    abandon = [("cart_abandoned", 0.0), ("wait_1h", 0.0)]
    recover = [*abandon, ("email_reminder", MINUTE), ("wait_order_4h", MINUTE)]
    return [
        Run(path(*abandon, ("order_completed", 0.5 * MINUTE)), ended=timedelta(seconds=30), goal=timedelta(seconds=30)),
        Run(path(*abandon, ("order_completed", 0.5 * MINUTE)), ended=timedelta(seconds=30), goal=timedelta(seconds=30)),
        Run(path(*recover, ("order_completed", 3 * MINUTE)), ended=timedelta(minutes=3), goal=timedelta(minutes=3)),
        Run(path(*recover)),
        Run(path(*recover)),
        Run(path(*abandon)),
    ]


@pytest.fixture(scope="module")
def demo(e2e_database: str) -> Iterator[Demo]:
    """The demo journey with its history; stopped and archived afterwards, since other browser tests count the
    journeys (and the "Cart abandonment recovery" ones) listed in the shared database."""
    base = demo_map()
    doc = base.model_copy(update={"name": f"{base.name} {uuid.uuid4().hex[:6]}"})
    start = utc_now() - timedelta(minutes=30)
    with session_scope(e2e_database) as session:
        journey_id, version_id = publish_and_launch(session, doc, actor="e2e")
        record_runs(session, doc=doc, journey_id=journey_id, version_id=version_id, start=start, runs=demo_runs())
    yield Demo(journey_id=journey_id, version_id=version_id, name=doc.name, doc=doc, start=start)
    with session_scope(e2e_database) as session:
        stop_journey(session=session, journey_id=journey_id, actor="e2e", mode=StopMode.NOW)
        archive_journey(session=session, journey_id=journey_id, actor="e2e")


def test_the_dashboard_refreshes_by_itself_and_says_how_fresh_and_how_fast(
    signed_in_as: Callable[[Role], Page], demo: Demo, artifacts: Path
) -> None:
    page = signed_in_as(Role.EXECUTIVE)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(routes.DASHBOARD)

    row = page.locator(f'[data-testid="journey-row"][data-journey="{demo.name}"]')
    expect(row.get_by_test_id("journey-entered")).to_have_text("6", timeout=TIMEOUT_MS)
    freshness = page.get_by_test_id("dashboard-freshness")
    expect(freshness).to_contain_text(re.compile(r"Updated (just now|\d+ s ago) · figures of \d\d:\d\d:\d\d UTC"))
    # Abandon: 3 of 6 visits moved on to Recover, each after its 1-minute wait; Recover: 0 of 3 to Purchase
    # (the order from Recover went to the goal in Purchase: 1 of 3).
    speeds = row.get_by_test_id("stage-velocity")
    expect(speeds.first).to_contain_text("Abandon → Recover")
    expect(speeds.first).to_contain_text("50.0% moved on")
    expect(speeds.first).to_contain_text("median 1 min")
    expect(speeds.nth(1)).to_contain_text("Recover → Purchase")
    expect(speeds.nth(1)).to_contain_text("33.3% moved on")
    # The header names the bucket the series are drawn in: one for every row, chosen from the span of all the
    # journeys' entries (per minute for this half hour alone; the shared database may hold longer histories).
    # Which bucket a span gets is tested in tests/unit/kpis.
    expect(
        page.get_by_role(
            "columnheader", name=re.compile(r"^Entries \(30 d\) per ((minute|\d+ minutes|hour) \(UTC\)|UTC day)$")
        )
    ).to_be_visible()
    expect(row.get_by_test_id("journey-trend").locator("path.js-line")).to_have_count(1, timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "dashboard_executive.png"), full_page=True)

    stamp = freshness.get_attribute("data-stamp")
    with session_scope() as session:
        record_runs(
            session,
            doc=demo.doc,
            journey_id=demo.journey_id,
            version_id=demo.version_id,
            start=utc_now() - timedelta(minutes=1),
            runs=[Run(path(("cart_abandoned", 0.0), ("wait_1h", 0.0))) for _ in range(3)],
        )

    # No reload: the page's own timer brings the new figures.
    expect(row.get_by_test_id("journey-entered")).to_have_text("9", timeout=REFRESH_TIMEOUT_MS)
    assert freshness.get_attribute("data-stamp") != stamp
    expect(freshness).to_contain_text("Updated")


def test_an_executive_sees_no_publish_or_launch_controls(
    signed_in_as: Callable[[Role], Page], demo: Demo, artifacts: Path
) -> None:
    marketer = signed_in_as(Role.MARKETER)
    marketer.goto(routes.DASHBOARD)
    marketer_row = marketer.locator(f'[data-testid="journey-row"][data-journey="{demo.name}"]')
    # The marketer's row has the way to launch control: the executive's check below is not vacuous.
    expect(marketer_row.get_by_role("link", name="Launch control")).to_be_visible(timeout=TIMEOUT_MS)

    page = signed_in_as(Role.EXECUTIVE)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(routes.DASHBOARD)
    row = page.locator(f'[data-testid="journey-row"][data-journey="{demo.name}"]')
    expect(row.get_by_test_id("journey-entered")).not_to_have_text("", timeout=TIMEOUT_MS)
    expect(row.get_by_role("link", name="KPIs", exact=True)).to_be_visible()
    expect(row.get_by_role("link", name="Map", exact=True)).to_be_visible()
    # Exact: other tests' journeys are named "Launch control check …", and their rows link by name.
    expect(page.get_by_role("link", name="Launch control", exact=True)).to_have_count(0)
    expect(page.locator('a[href*="/launch"]')).to_have_count(0)

    page.goto(routes.journey_editor(demo.journey_id))
    expect(page.get_by_test_id("kpi-legend")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("kpi-legend")).to_contain_text("Goal reached by", timeout=TIMEOUT_MS)
    for control in ("#jc-publish-state", "#jc-publish", "#jc-launch-control", "#jc-new-journey"):
        expect(page.locator(control)).to_have_count(0)
    expect(page.get_by_text("Ready to publish")).to_have_count(0)
    expect(page.locator('a[href*="/launch"]')).to_have_count(0)
    # The demo's cards say the demo's times.
    expect(page.get_by_text("Wait 1 min (1 h in production)")).to_be_visible()
    # What stands between a draft and publishing is the designer's business, not the executive's.
    expect(page.locator("#problems")).to_have_count(0)
    expect(page.get_by_text("this journey can be published")).to_have_count(0)
    page.screenshot(path=str(artifacts / "map_executive.png"), full_page=True)

    page.goto(routes.journey_kpis(demo.journey_id))
    expect(page.get_by_role("heading", name=demo.name)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("link", name="Map")).to_be_visible()
    expect(page.get_by_role("button", name="Launch control")).to_have_count(0)
    expect(page.locator('a[href*="/launch"]')).to_have_count(0)
    # The funnel speaks as the lanes do: each stage's own share that moved on.
    funnel = page.get_by_test_id("chart-funnel")
    expect(funnel.locator("svg.main-svg").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(funnel.get_by_text("3 · 33% → next")).to_be_visible()
    over_time = page.get_by_test_id("chart-over-time")
    expect(over_time.locator("svg.main-svg").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(over_time).to_contain_text("Per minute (UTC)")
    page.screenshot(path=str(artifacts / "kpis_executive.png"), full_page=True)

    page.goto(routes.journeys_list())
    expect(page.get_by_test_id("journey-card").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator('a[href*="/launch"]')).to_have_count(0)
    expect(page.get_by_role("button", name="New journey")).to_have_count(0)
    expect(page.get_by_test_id("journey-menu")).to_have_count(0)
    page.screenshot(path=str(artifacts / "journeys_executive.png"), full_page=True)


def title_is_whole(page: Page, name: str) -> None:
    """The header's journey name is shown in full (on up to two lines, nothing clipped) and has it as tooltip."""
    title = page.locator("#jc-title")
    expect(title).to_have_text(name, timeout=TIMEOUT_MS)
    expect(title).to_have_attribute("title", name)
    clipped = title.evaluate("el => el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1")
    assert not clipped, f"the journey name is cut in the header: {title.bounding_box()}"
    box = title.bounding_box()
    assert box is not None
    assert box["width"] >= 160


# An admin's header is the fullest: it edits, publishes and runs journeys.
@pytest.mark.parametrize("role", [Role.DESIGNER, Role.EXECUTIVE, Role.ADMIN])
def test_the_maps_name_is_readable_in_a_1280_px_wide_header(
    signed_in_as: Callable[[Role], Page], demo: Demo, artifacts: Path, role: Role
) -> None:
    page = signed_in_as(role)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(routes.journey_editor(demo.journey_id))
    expect(page.locator(".react-flow__node-card").first).to_be_visible(timeout=TIMEOUT_MS)
    if role is Role.EXECUTIVE:
        expect(page.get_by_test_id("kpi-legend")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator("#problems")).to_have_count(0)
    else:
        expect(page.locator("#jc-publish-state")).to_be_visible()
        expect(page.locator("#jc-new-journey")).to_be_visible()
        expect(page.locator("#problems")).to_be_visible()
    if role is Role.ADMIN:
        expect(page.locator("#jc-publish")).to_be_visible()
        expect(page.locator("#jc-launch-control")).to_be_visible()
    page.screenshot(path=str(artifacts / f"map_header_1280_{role.value}.png"))
    title_is_whole(page, demo.name)


def test_the_first_run_asks_nobody_to_sign_in(
    nobody_has_an_account: None, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    page = new_context().new_page()
    page.goto("/")

    expect(page).to_have_url(re.compile(r"/first-run$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Create admin and sign in")).to_be_visible(timeout=TIMEOUT_MS)
    # A toast would have come with the redirect; give it the time it takes to show.
    page.wait_for_timeout(2_000)
    expect(page.get_by_text("Sign in to continue.")).to_have_count(0)
    expect(page.locator("[data-sonner-toast]")).to_have_count(0)
    page.screenshot(path=str(artifacts / "first_run_fresh.png"), full_page=True)
