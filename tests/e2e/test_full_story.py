"""One journey's whole life in Chromium, as its three users live it: a designer draws it from a blank journey and
publishes it, a marketer sends a test to their own address and launches it, simulated customers flow through it
(`journey simulate` posting to the app's own /v1/batch), and an executive reads the same figures on the map's
overlay, the KPI page, its CSV and the dashboard. Every figure compared is read from a page, not from the engine."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.journeys import archive_journey, draft_of, get_journey, list_journeys
from engine.map import NodeKind
from engine.runtime import StopMode, stop_journey
from engine.store import JourneyStatus, Role, session_scope
from tests.e2e.conftest import ROOT, email_of, mail_to
from tests.integration.servers import ReceivedMail, SmtpTestServer

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
PREFIX = "Story"
NAME = f"{PREFIX}: welcome"
RENAMED = f"{PREFIX}: welcome for new accounts"
EVENT = "story_signed_up"
CUSTOMERS = 12


@pytest.fixture
def cleanup(e2e_database: str) -> Iterator[None]:
    """Other browser tests count the journeys listed in the shared database: this one's is stopped and archived."""
    yield
    with session_scope(e2e_database) as session:
        for summary in list_journeys(session=session):
            if summary.name.startswith(PREFIX):
                if summary.status in {JourneyStatus.LIVE, JourneyStatus.PAUSED, JourneyStatus.DRAINING}:
                    stop_journey(session=session, journey_id=summary.id, actor="e2e", mode=StopMode.NOW)
                archive_journey(session=session, journey_id=summary.id, actor="e2e")


def card(page: Page, node_id: str) -> Locator:
    return page.locator(f'.react-flow__node-card[data-id="{node_id}"]')


def journey_card(page: Page, name: str) -> Locator:
    return page.get_by_test_id("journey-card").filter(has=page.get_by_role("heading", name=name, exact=True))


def wait_saved(page: Page) -> None:
    expect(page.locator("#jc-save-status")).to_have_text("All changes saved", timeout=10_000)


def drop_kind(page: Page, kind: str, *, lane: int, y: float) -> None:
    """Drag a palette entry onto a lane, ``y`` pixels below the lane's top, as a designer does."""
    pane = page.locator(".react-flow__pane")
    pane_box = pane.bounding_box()
    lane_box = page.locator(".react-flow__node-lane").nth(lane).bounding_box()
    assert pane_box is not None
    assert lane_box is not None
    target = {"x": lane_box["x"] - pane_box["x"] + lane_box["width"] / 2, "y": lane_box["y"] - pane_box["y"] + y}
    page.locator(f'.jc-palette-item[data-kind="{kind}"]').drag_to(pane, target_position=target)


def connect(page: Page, source: str, target: str) -> None:
    edges = int(page.locator(".jc-canvas").get_attribute("data-edges") or 0)
    card(page, source).locator(".react-flow__handle-bottom").drag_to(
        card(page, target).locator(".react-flow__handle-top")
    )
    expect(page.locator(".jc-canvas")).to_have_attribute("data-edges", str(edges + 1))


def fill_field(page: Page, name: str, value: str) -> None:
    """Inspector fields save when they lose focus."""
    field = page.locator(f"#jc-inspector [name={name}]")
    field.fill(value)
    field.blur()


def simulate(journey: str, backend_url: str, database_url: str) -> None:
    """`journey simulate` as scripts/run.sh runs it: customers posted to the app's own /v1/batch."""
    command = [
        sys.executable,
        "-m",
        "engine.cli",
        "simulate",
        journey,
        "--customers",
        str(CUSTOMERS),
        "--over",
        "PT10S",
        "--seed",
        "7",
        "--base-url",
        backend_url,
    ]
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def draw_the_journey(page: Page, artifacts: Path) -> int:
    """The designer's part: a blank journey drawn trigger → wait → email → goal across two stages and renamed, ready
    for a marketer to publish (designers do not publish: see engine/accounts/permissions.py). Returns its id."""
    page.goto("/")
    page.get_by_role("button", name="New journey").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Journey name").fill(NAME)
    dialog.get_by_role("button", name="Create journey").click()
    expect(page).to_have_url(re.compile(r"/journeys/\d+$"), timeout=TIMEOUT_MS)
    journey_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", "1", timeout=TIMEOUT_MS)

    # The trigger: customers enter when they sign up; a pain point typed with Enter.
    card(page, "trigger_1").click()
    fill_field(page, "title", "Signs up")
    fill_field(page, "event", EVENT)
    adder = page.locator("input[name=add_pain_points]")
    adder.fill("Does not know where to start")
    adder.press("Enter")
    expect(page.get_by_test_id("pain-point")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(adder).to_have_value("")
    wait_saved(page)

    # A second stage, then a short wait in the first and the email and the goal in the second.
    page.locator("input[name=new_stage]").fill("Convert")
    page.locator("#jc-add-stage").click()
    expect(page.get_by_test_id("stage-lane")).to_have_count(2, timeout=TIMEOUT_MS)
    wait_saved(page)

    drop_kind(page, "wait", lane=0, y=260)
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", "2")
    fill_field(page, "title", "Wait a moment")
    page.locator("#jc-inspector [name=duration_unit]").select_option("minutes")
    fill_field(page, "duration_amount", "0.1")
    expect(card(page, "wait_1")).to_contain_text("6 s")
    wait_saved(page)

    drop_kind(page, "send", lane=1, y=120)
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", "3")
    fill_field(page, "title", "Welcome email")
    fill_field(page, "subject", "Welcome, {{ profile.first_name | default: 'friend' }}")
    fill_field(page, "body", "Here is how to start.")
    wait_saved(page)

    drop_kind(page, "goal", lane=1, y=300)
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", "4")
    fill_field(page, "title", "Account active")
    wait_saved(page)

    connect(page, "trigger_1", "wait_1")
    connect(page, "wait_1", "send_1")
    connect(page, "send_1", "goal_1")
    wait_saved(page)
    page.screenshot(path=str(artifacts / "story_designer_map.png"))

    # Renamed from the editor's journey menu, then published.
    page.locator("#jc-journey-menu").click()
    page.get_by_role("menuitem", name="Rename…").click()
    rename = page.get_by_role("dialog")
    rename.get_by_label("Journey name").fill(RENAMED)
    rename.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name=RENAMED, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#jc-publish-state")).to_have_text("Ready to publish", timeout=TIMEOUT_MS)

    with session_scope() as session:
        journey = get_journey(session=session, journey_id=journey_id)
        doc = draft_of(journey)
    assert journey.name == RENAMED
    assert [node.kind for node in doc.nodes] == [NodeKind.TRIGGER, NodeKind.WAIT, NodeKind.SEND, NodeKind.GOAL]
    assert {(edge.source, edge.target) for edge in doc.edges} == {
        ("trigger_1", "wait_1"),
        ("wait_1", "send_1"),
        ("send_1", "goal_1"),
    }
    assert [node.stage for node in doc.nodes] == [
        doc.stages[0].id,
        doc.stages[0].id,
        doc.stages[1].id,
        doc.stages[1].id,
    ]
    return journey_id


def test_a_journey_from_blank_map_to_the_executives_figures(
    signed_in_as: Callable[[Role], Page],
    smtp_server: SmtpTestServer,
    backend_url: str,
    e2e_database: str,
    cleanup: None,
    artifacts: Path,
) -> None:
    designer = signed_in_as(Role.DESIGNER)
    designer.set_viewport_size({"width": 1600, "height": 1000})
    journey_id = draw_the_journey(designer, artifacts)

    # The marketer: a test to their own address, then Launch, from the journeys list.
    marketer = signed_in_as(Role.MARKETER)
    marketer.set_viewport_size({"width": 1440, "height": 1000})
    marketer.goto("/")
    journey_card(marketer, RENAMED).get_by_test_id("launch-control-link").click()
    expect(marketer).to_have_url(re.compile(rf"/journeys/{journey_id}/launch$"), timeout=TIMEOUT_MS)
    expect(marketer.get_by_label("Send to")).to_have_value(email_of(Role.MARKETER), timeout=TIMEOUT_MS)
    received = len(smtp_server.messages)
    marketer.get_by_role("button", name="Send test").click()
    expect(marketer.get_by_test_id("proof-preview")).to_contain_text("[TEST]", timeout=TIMEOUT_MS)
    mail = mail_to(smtp_server, email_of(Role.MARKETER), after=received)
    assert str(mail.message["Subject"]) == "[TEST] Welcome, Test Alex"
    marketer.get_by_role("button", name="Publish draft").click()
    expect(marketer.get_by_text("v1 ·")).to_be_visible(timeout=TIMEOUT_MS)
    marketer.get_by_role("button", name="Launch", exact=True).click()
    marketer.get_by_role("alertdialog").get_by_role("button", name="Launch", exact=True).click()
    expect(marketer.get_by_test_id("journey-status")).to_have_text("live", timeout=TIMEOUT_MS)
    marketer.screenshot(path=str(artifacts / "story_marketer_launched.png"), full_page=True)

    # Customers flow: every one of them is welcomed by email and reaches the goal.
    received = len(smtp_server.messages)
    simulate(RENAMED, backend_url, e2e_database)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(welcomed(smtp_server, received)) < CUSTOMERS:
        time.sleep(0.5)
    assert len(welcomed(smtp_server, received)) == CUSTOMERS

    read_the_figures(signed_in_as(Role.EXECUTIVE), journey_id, artifacts)


def welcomed(server: SmtpTestServer, after: int) -> list[ReceivedMail]:
    return [mail for mail in server.messages[after:] if str(mail.message["Subject"]).startswith("Welcome, ")]


def number(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in {text!r}"
    return int(match.group(1).replace(",", ""))


def read_the_figures(page: Page, journey_id: int, artifacts: Path) -> None:
    """The executive's part: the overlay, the KPI page, its CSV and the dashboard, all for the last 30 days (the
    dashboard's window), must tell one story."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    with session_scope() as session:
        doc = draft_of(get_journey(session=session, journey_id=journey_id))
    first, second = doc.stages

    # The map with its KPIs.
    page.goto(f"/journeys/{journey_id}")
    expect(page.locator(".jc-canvas")).to_have_attribute("data-cards", "4", timeout=TIMEOUT_MS)
    # An executive's map opens with its KPIs on.
    expect(page.locator("#jc-kpi-toggle")).to_have_attribute("aria-pressed", "true", timeout=TIMEOUT_MS)
    page.locator("#jc-kpi-window").select_option("30d")
    legend = page.get_by_test_id("kpi-legend")
    expect(legend).to_contain_text(f"Goal reached by {CUSTOMERS} of {CUSTOMERS} customers", timeout=TIMEOUT_MS)
    stage_kpi = {
        stage.id: page.locator(f'[data-testid="stage-kpi"][data-stage="{stage.id}"]') for stage in (first, second)
    }
    expect(stage_kpi[first.id]).to_contain_text(f"{CUSTOMERS} entered", timeout=TIMEOUT_MS)
    overlay = {
        "entered": number(legend.inner_text(), r"of (\d[\d,]*) customers"),
        "goal": number(legend.inner_text(), r"Goal reached by (\d[\d,]*)"),
        "goal card": number(card(page, "goal_1").get_by_test_id("node-kpi").inner_text(), r"(\d[\d,]*) entered"),
        "trigger card": number(card(page, "trigger_1").get_by_test_id("node-kpi").inner_text(), r"(\d[\d,]*) entered"),
        "first stage": number(stage_kpi[first.id].inner_text(), r"(\d[\d,]*) entered"),
        "first stage onward": number(stage_kpi[first.id].inner_text(), r"(\d+)% → next"),
        "second stage": number(stage_kpi[second.id].inner_text(), r"(\d[\d,]*) entered"),
        "second stage goal": number(stage_kpi[second.id].inner_text(), r"(\d+)% reached the goal"),
    }
    median = re.search(r"median (.+?) ·", stage_kpi[first.id].inner_text())
    assert median is not None
    page.screenshot(path=str(artifacts / "story_executive_overlay.png"))
    assert overlay == {
        "entered": CUSTOMERS,
        "goal": CUSTOMERS,
        "goal card": CUSTOMERS,
        "trigger card": CUSTOMERS,
        "first stage": CUSTOMERS,
        "first stage onward": 100,
        "second stage": CUSTOMERS,
        "second stage goal": 100,
    }

    # The KPI page and its CSV.
    page.goto(f"/journeys/{journey_id}/kpis")
    page.get_by_role("radio", name="30 d", exact=True).click()
    expect(page.get_by_test_id("kpi-entered")).to_have_text(str(CUSTOMERS), timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("kpi-goal-rate")).to_have_text("100.0%")
    expect(page.get_by_text(f"{CUSTOMERS} of them reached the goal")).to_be_visible()
    expect(page.get_by_test_id("kpi-in-flight")).to_have_text("0")
    funnel = page.get_by_test_id("chart-funnel")
    expect(funnel).to_contain_text(f"{CUSTOMERS} · 100% → next", timeout=TIMEOUT_MS)
    expect(funnel).to_contain_text(f"{CUSTOMERS} · 100% reached the goal")
    page.screenshot(path=str(artifacts / "story_executive_kpis.png"), full_page=True)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    headline = rows[rows.index(["Headline"]) + 2]
    assert headline[:3] == [str(CUSTOMERS), str(CUSTOMERS), "100.0"]
    at = rows.index(["Stage funnel"]) + 2
    # Stage, entered, moved on, conversion, dropped off, reached goal, in flight.
    assert [row[:7] for row in rows[at : at + 2]] == [
        [first.name, str(CUSTOMERS), str(CUSTOMERS), "100.0", "0", "0", "0"],
        [second.name, str(CUSTOMERS), "", "", "0", str(CUSTOMERS), "0"],
    ]

    # The dashboard.
    page.goto("/dashboard")
    row = page.locator(f'[data-testid="journey-row"][data-journey="{RENAMED}"]')
    expect(row.get_by_test_id("journey-entered")).to_have_text(str(CUSTOMERS), timeout=TIMEOUT_MS)
    expect(row.get_by_test_id("journey-goal-rate")).to_have_text("100.0%")
    speed = row.get_by_test_id("stage-velocity")
    expect(speed).to_contain_text(f"{first.name} → {second.name}")
    expect(speed).to_contain_text(f"100.0% moved on · median {median.group(1)}")
    page.screenshot(path=str(artifacts / "story_executive_dashboard.png"), full_page=True)
