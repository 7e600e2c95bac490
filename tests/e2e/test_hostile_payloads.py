"""Script payloads planted in every field a person or a customer can write, then every page opened as each
role: nothing may run. A payload that ran sets ``window.__xss`` or opens a dialog; both are watched for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect

from engine.accounts import create_api_token, create_user, create_write_key
from engine.intake import IdentifyMessage, TrackMessage
from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap
from engine.store import Role, session_scope, utc_now
from journey_builder.routes import journey_map_kpis
from tests.engine_factories import ingest_and_react
from tests.history_factories import H, as_of, record_runs, story_map, story_run

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
RAN = "window.__xss = (window.__xss || 0) + 1; alert(document.domain)"
PAYLOADS = (
    f'<img src=x onerror="{RAN}">',
    f'"><script>{RAN}</script>',
    f'<svg onload="{RAN}"></svg>',
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">click</a>',
)


# Plotly draws links in SVG labels as <a xlink:href>; React would refuse a javascript: href in its own links.
SCRIPT_LINKS = """[...document.querySelectorAll('a')].some(a =>
    (a.getAttribute('href') || a.getAttribute('xlink:href') || '').trim().toLowerCase().startsWith('javascript:'))"""


def hostile(field: str, index: int = 0) -> str:
    """A payload, tagged with the field it went into so a finding names it."""
    return f"{field} {PAYLOADS[index % len(PAYLOADS)]}"


def _hostile_map() -> JourneyMap:
    data: dict[str, Any] = story_map(hostile("journey name")).model_dump(mode="json")
    data["description"] = hostile("description", 1)
    for i, stage in enumerate(data["stages"]):
        stage["name"] = hostile(f"stage {stage['id']}", i)
    for i, node in enumerate(data["nodes"]):
        node["title"] = hostile(f"title {node['id']}", i)
        node["notes"] = hostile(f"notes {node['id']}", i + 1)
        if node["kind"] == "touchpoint":
            node["pain_points"] = [{"text": hostile("pain point", 2), "severity": "high"}]
            node["opportunities"] = [hostile("opportunity", 3)]
        if node["kind"] == "send":
            node["content"]["subject"] = hostile("subject", 4)
            node["content"]["body"] = hostile("body", 0)
    return JourneyMap.model_validate(data)


@pytest.fixture(scope="module")
def planted(e2e_database: str) -> int:
    """A journey whose every text is a payload, with a history to draw, and hostile customers, people and keys."""
    doc = _hostile_map()
    with session_scope(e2e_database) as session:
        journey = create_journey(session=session, doc=doc, created_by=hostile("author"))
        assert journey.id is not None
        version = publish_journey(session=session, journey_id=journey.id, published_by=hostile("publisher", 1))
        assert version.id is not None
        hours = 24 * 10.0
        runs = [as_of(story_run(i, i * 4.0), hours) for i in range(60)]
        record_runs(
            session, doc=doc, journey_id=journey.id, version_id=version.id, start=utc_now() - hours * H, runs=runs
        )
        ingest_and_react(
            session=session,
            messages=[
                IdentifyMessage(
                    userId="hostile-customer",
                    traits={"name": hostile("trait name"), "email": "hostile@example.com", "plan": hostile("plan", 1)},
                ),
                TrackMessage(userId="hostile-customer", event=hostile("event name", 2), properties={"p": hostile("p")}),
            ],
        )
        create_user(
            session=session,
            email="hostile.person@e2e.example.com",
            name=hostile("user name", 1),
            password="a hostile person's password",
            role=Role.DESIGNER,
            actor=hostile("actor", 2),
        )
        create_write_key(session=session, name=hostile("key name", 3), actor="e2e")
        create_api_token(session=session, name=hostile("token name", 4), role=Role.EXECUTIVE, actor="e2e")
        session.commit()
        return journey.id


def _pages(journey_id: int) -> list[str]:
    return [
        "/",
        "/dashboard",
        f"/journeys/{journey_id}",
        journey_map_kpis(journey_id),
        f"/journeys/{journey_id}/launch",
        f"/journeys/{journey_id}/kpis",
        "/customers",
        "/admin/users",
        "/admin/keys",
        "/admin/audit",
    ]


def _watch(page: Page, dialogs: list[str]) -> None:
    def dismissed(dialog: Dialog) -> None:
        dialogs.append(f"{page.url}: {dialog.type} {dialog.message!r}")
        dialog.dismiss()

    page.on("dialog", dismissed)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_no_planted_payload_runs_on_any_page_for_any_role(
    role: Role, planted: int, signed_in_as: Callable[[Role], Page], artifacts: Path
) -> None:
    page = signed_in_as(role)
    page.set_viewport_size({"width": 1440, "height": 1000})
    dialogs: list[str] = []
    _watch(page, dialogs)
    ran: list[str] = []
    for path in _pages(planted):
        page.goto(path)
        expect(page.locator("main, [role=main], body").first).to_be_visible(timeout=TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        if path == "/customers" and page.get_by_placeholder("User id, anonymous id or email").count():
            page.get_by_placeholder("User id, anonymous id or email").fill("hostile-customer")
            page.keyboard.press("Enter")
            page.wait_for_timeout(1_000)
        page.wait_for_timeout(500)
        if page.evaluate("window.__xss || 0"):
            ran.append(path)
        assert page.locator("img[src='x'], svg[onload]").count() == 0, f"{path} drew a planted element"
        assert not page.evaluate(SCRIPT_LINKS), f"{path} drew a planted javascript: link"
    page.goto(f"/journeys/{planted}/kpis")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / f"hostile_payloads_{role.value}_kpis.png"), full_page=True)
    page.goto(f"/journeys/{planted}")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / f"hostile_payloads_{role.value}_map.png"))
    assert not ran, f"a planted script ran on {ran}"
    assert not dialogs, f"dialogs opened: {dialogs}"


def test_the_payloads_are_shown_as_text(planted: int, page: Page) -> None:
    """The fields are not emptied to be safe: the words people typed are on the page, markup and all."""
    page.goto(f"/journeys/{planted}/launch")
    expect(page.get_by_text(hostile("journey name"), exact=False).first).to_be_visible(timeout=TIMEOUT_MS)
