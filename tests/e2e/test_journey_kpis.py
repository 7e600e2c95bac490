"""The executive dashboard and a journey's KPI page in the browser, on a known 40-day history.

125 customers entered a live trial journey, one every 7.7 hours from 40 days ago (see
``tests.history_factories.story_run``); the expected figures are counted here from that story,
not read back from the queries under test.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.journeys import publish_journey
from engine.store import session_scope, utc_now
from tests.engine_factories import publish_and_launch
from tests.history_factories import H, Run, as_of, record_runs, story_map, story_run

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
CUSTOMERS = 125
EVERY_HOURS = 7.7
HISTORY_HOURS = 40 * 24
CHART_TITLES = {
    "chart-funnel": "Stage funnel",
    "chart-emotion": "Emotion and drop-off by stage",
    "chart-velocity": "Time to the next stage",
    "chart-over-time": "Goal conversion over time",
    "chart-recovery": "Recovery by channel",
    "chart-splits": "Split results",
}


@dataclass(frozen=True)
class Story:
    journey_id: int
    name: str
    start: datetime
    runs: list[Run]

    def entered(self, since: datetime | None, until: datetime | None = None) -> list[Run]:
        return [
            run
            for run in self.runs
            if (since is None or self.start + run.steps[0][1] >= since)
            and (until is None or self.start + run.steps[0][1] < until)
        ]


@pytest.fixture(scope="module")
def story(e2e_database: str) -> Story:
    """A live journey with the story recorded on version 1, and an empty version 2 published since."""
    name = f"Trial to paid {uuid.uuid4().hex[:6]}"
    doc = story_map(name)
    now = utc_now()
    start = now - timedelta(hours=HISTORY_HOURS)
    runs = [as_of(story_run(i, i * EVERY_HOURS), HISTORY_HOURS) for i in range(CUSTOMERS)]
    with session_scope(e2e_database) as session:
        journey_id, version_id = publish_and_launch(session, doc, actor="e2e")
        record_runs(session, doc=doc, journey_id=journey_id, version_id=version_id, start=start, runs=runs)
        publish_journey(session=session, journey_id=journey_id, published_by="e2e")
    return Story(journey_id=journey_id, name=name, start=start, runs=runs)


def rate(runs: list[Run]) -> str:
    return f"{100 * sum(1 for r in runs if r.goal is not None) / len(runs):.1f}%"


def expect_chart(page: Page, test_id: str) -> Locator:
    chart = page.get_by_test_id(test_id)
    expect(chart.locator("svg.main-svg").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(chart.locator(".gtitle")).to_have_text(CHART_TITLES[test_id], timeout=TIMEOUT_MS)
    return chart


def test_the_dashboard_shows_each_journeys_last_30_days_with_a_sparkline(
    page: Page, story: Story, artifacts: Path
) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/dashboard")

    row = page.locator(f'[data-testid="journey-row"][data-journey="{story.name}"]')
    month = story.entered(utc_now() - timedelta(days=30))
    expect(row.get_by_test_id("journey-entered")).to_have_text(str(len(month)), timeout=TIMEOUT_MS)
    expect(row.get_by_test_id("journey-goal-rate")).to_have_text(rate(month))
    expect(row.get_by_text("live", exact=True)).to_be_visible()
    # The sparkline: one line over the 31 UTC days the 30 days touch, nothing else drawn.
    expect(row.get_by_test_id("journey-trend").locator("svg.main-svg").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(row.get_by_test_id("journey-trend").locator("path.js-line")).to_have_count(1)
    expect(row.get_by_test_id("journey-trend").locator(".xtick")).to_have_count(0)
    page.screenshot(path=str(artifacts / "dashboard_kpis.png"), full_page=True)

    row.get_by_role("link", name="KPIs", exact=True).click()
    expect(page).to_have_url(f"{page.url.split('/dashboard')[0]}/journeys/{story.journey_id}/kpis", timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name=story.name)).to_be_visible(timeout=TIMEOUT_MS)


def test_a_journeys_kpi_page_draws_its_charts_and_follows_the_filters(
    page: Page, story: Story, artifacts: Path
) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/journeys/{story.journey_id}/kpis")
    expect(page.get_by_role("heading", name=story.name)).to_be_visible(timeout=TIMEOUT_MS)
    entered = page.get_by_test_id("kpi-entered")

    month = story.entered(utc_now() - timedelta(days=30))
    expect(entered).to_have_text(str(len(month)), timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("kpi-goal-rate")).to_have_text(rate(month))
    in_flight = sum(1 for r in month if r.ended is None)
    expect(page.get_by_test_id("kpi-in-flight")).to_have_text(str(in_flight))
    for test_id in CHART_TITLES:
        expect_chart(page, test_id)
    # Stages as the map names them; Research holds touchpoints only and is left out of the funnel.
    funnel = page.get_by_test_id("chart-funnel")
    for stage in ("Sign up", "Trial", "Purchase"):
        expect(funnel.locator(".ytick", has_text=stage)).to_have_count(1)
    expect(funnel.locator(".ytick", has_text="Research")).to_have_count(0)
    expect(page.get_by_test_id("chart-splits").get_by_text("Reminder test")).to_be_visible()
    page.screenshot(path=str(artifacts / "journey_kpis_30d.png"), full_page=True)

    page.get_by_role("radio", name="24 h", exact=True).click()
    day = story.entered(utc_now() - timedelta(hours=24))
    expect(entered).to_have_text(str(len(day)), timeout=TIMEOUT_MS)
    expect_chart(page, "chart-over-time")
    page.screenshot(path=str(artifacts / "journey_kpis_24h.png"), full_page=True)

    page.get_by_role("radio", name="Custom", exact=True).click()
    # The page fills in the last 30 days; typing before that arrives would be overwritten.
    expect(page.get_by_label("First day")).not_to_have_value("", timeout=TIMEOUT_MS)
    first, last = date.fromisoformat("2000-01-01"), (story.start + 10 * 24 * H).date()
    page.get_by_label("First day").fill(first.isoformat())
    page.get_by_label("Last day").fill(last.isoformat())
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), story.start.tzinfo)
    expect(entered).to_have_text(str(len(story.entered(None, until))), timeout=TIMEOUT_MS)

    page.get_by_role("radio", name="All", exact=True).click()
    expect(entered).to_have_text(str(CUSTOMERS), timeout=TIMEOUT_MS)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Journey", story.name]
    assert rows[1][0] == "Window"
    assert rows[1][1].startswith("All time")
    headline = rows[rows.index(["Headline"]) + 2]
    reached = sum(1 for r in story.runs if r.goal is not None)
    assert headline[:3] == [str(CUSTOMERS), str(reached), f"{100 * reached / CUSTOMERS:.1f}"]
    funnel_at = rows.index(["Stage funnel"])
    # Everyone entered at Sign up; the touchpoint-only Research stage is not in the table.
    assert [r[:2] for r in rows[funnel_at + 2 : funnel_at + 5]] == [
        ["Sign up", str(CUSTOMERS)],
        ["Trial", str(sum(1 for r in story.runs if any(node == "ab" for node, _ in r.steps)))],
        ["Purchase", str(sum(1 for r in story.runs if any(node == "buy" for node, _ in r.steps)))],
    ]
    assert rows[funnel_at + 5] == []
    assert ["Time to the next stage"] in rows
    assert ["Recovery by channel"] in rows
    assert any(r[:2] == ["Reminder test", "sms"] for r in rows)

    page.get_by_role("combobox", name="Version").click()
    page.get_by_role("option", name="Version 2").click()
    expect(page.get_by_test_id("kpi-empty")).to_contain_text(
        "No customers have entered this journey in this window", timeout=TIMEOUT_MS
    )
    expect(entered).to_have_text("0")
    page.screenshot(path=str(artifacts / "journey_kpis_empty.png"), full_page=True)


def test_launch_control_links_to_the_kpi_page(page: Page, story: Story) -> None:
    page.goto(f"/journeys/{story.journey_id}/launch")
    expect(page.get_by_role("heading", name=story.name)).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("link", name="KPIs", exact=True).click()
    expect(page.get_by_test_id("kpi-entered")).to_have_text(
        str(len(story.entered(utc_now() - timedelta(days=30)))), timeout=TIMEOUT_MS
    )
