"""A new marketer's first hour in Chromium: launch control reached from the journeys list, Launch and Stop now
disabled with the reason before anything is published, a test email to their own address received by the local
SMTP server marked [TEST], Publish disabled without changes and confirmed on a live journey, and a customer found
by part of their email and picked from a list."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from engine.intake import IdentifyMessage, TrackMessage, ingest
from engine.journeys import archive_journey, create_journey, get_journey, list_journeys, save_draft
from engine.map.starters import load_template
from engine.runtime import StopMode, stop_journey
from engine.store import JourneyStatus, Role, session_scope
from tests.e2e.conftest import email_of, mail_to
from tests.engine_factories import event_trigger, journey_map, node, publish_and_launch
from tests.integration.servers import SmtpTestServer

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
PREFIX = "Marketer hour"
NAME = f"{PREFIX}: cart recovery"


@pytest.fixture
def journey_id(e2e_database: str) -> Iterator[int]:
    """A draft of its own; stopped and archived afterwards, since other browser tests count the journeys listed."""
    doc = load_template("cart_abandonment").model_copy(update={"name": NAME})
    with session_scope(e2e_database) as session:
        journey = create_journey(session=session, doc=doc, created_by="e2e")
        assert journey.id is not None
        created = journey.id
    yield created
    with session_scope(e2e_database) as session:
        for summary in list_journeys(session=session):
            if summary.name.startswith(PREFIX):
                if summary.status in {JourneyStatus.LIVE, JourneyStatus.PAUSED, JourneyStatus.DRAINING}:
                    stop_journey(session=session, journey_id=summary.id, actor="e2e", mode=StopMode.NOW)
                archive_journey(session=session, journey_id=summary.id, actor="e2e")


def refresh_until(page: Page, rows: Locator) -> None:
    """Recent messages are read when the page refreshes them: the dispatcher settles a test within seconds."""
    for _ in range(60):
        if rows.count():
            return
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_timeout(500)
    expect(rows.first).to_be_visible()


def confirm(page: Page, action: str) -> None:
    page.get_by_role("button", name=action, exact=True).first.click()
    page.get_by_role("alertdialog").get_by_role("button", name=action, exact=True).click()


def test_a_marketer_tests_publishes_and_launches_from_the_list(
    signed_in_as: Callable[[Role], Page], journey_id: int, smtp_server: SmtpTestServer, artifacts: Path
) -> None:
    page = signed_in_as(Role.MARKETER)
    page.set_viewport_size({"width": 1440, "height": 1000})

    # Launch control is one click from the journeys list.
    page.goto("/")
    card = page.get_by_test_id("journey-card").filter(has=page.get_by_role("heading", name=NAME, exact=True))
    link = card.get_by_test_id("launch-control-link")
    expect(link).to_be_visible(timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "marketer_journeys_list.png"), full_page=True)
    link.click()
    expect(page).to_have_url(re.compile(rf"/journeys/{journey_id}/launch$"), timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name=NAME)).to_be_visible(timeout=TIMEOUT_MS)

    # Before a version is published: Launch and Stop now are disabled, and the page says why.
    launch = page.get_by_role("button", name="Launch", exact=True)
    expect(launch).to_be_disabled(timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Stop now", exact=True)).to_be_disabled()
    expect(page.get_by_test_id("launch-reason")).to_contain_text("publish a version first")
    expect(page.get_by_test_id("stop-now-reason")).to_contain_text("no version has been published")
    page.screenshot(path=str(artifacts / "marketer_launch_unpublished.png"), full_page=True)

    # A test to their own address (filled in for them) reaches the SMTP server, marked and with sample values.
    send_to = page.get_by_label("Send to")
    expect(send_to).to_have_value(email_of(Role.MARKETER))
    received = len(smtp_server.messages)
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("proof-preview")).to_contain_text("[TEST]", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("proof-preview")).to_contain_text("rendered with sample values")
    mail = mail_to(smtp_server, email_of(Role.MARKETER), after=received)
    assert str(mail.message["Subject"]).startswith("[TEST] ")
    text = mail.message.get_body(("plain",))
    assert text is not None
    assert "Hi Test Alex" in text.get_content()

    # An SMS test with no SMS provider set up is stored by the sandbox, and shown as not sent.
    page.get_by_label("Message").click()
    page.get_by_role("option", name=re.compile(r"\(sms\)$")).click()
    send_to.fill("+1 555 0177")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("proof-preview")).to_contain_text("[TEST]", timeout=TIMEOUT_MS)
    sms_row = page.get_by_role("row").filter(has_text="+1 555 0177")
    refresh_until(page, sms_row.filter(has_text="sandbox (not sent)"))
    expect(sms_row).not_to_contain_text("delivered")

    # Publishing makes Launch possible; with nothing changed since, Publish is disabled and says so.
    page.get_by_role("button", name="Publish draft").click()
    expect(page.get_by_text("v1 ·")).to_be_visible(timeout=TIMEOUT_MS)
    expect(launch).to_be_enabled(timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Publish draft")).to_be_disabled()
    expect(page.get_by_test_id("publish-reason")).to_contain_text("no changes since version 1")

    confirm(page, "Launch")
    expect(page.get_by_test_id("journey-status")).to_have_text("live", timeout=TIMEOUT_MS)

    # A change to a live journey's draft: Publish asks first, saying what happens to customers inside.
    with session_scope() as session:
        journey = get_journey(session=session, journey_id=journey_id)
        doc = load_template("cart_abandonment").model_copy(update={"name": NAME, "description": "Edited"})
        save_draft(session=session, journey_id=journey_id, doc=doc, expected_revision=journey.revision)
    page.get_by_role("button", name="Refresh").click()
    publish = page.get_by_role("button", name="Publish draft")
    expect(publish).to_be_enabled(timeout=TIMEOUT_MS)
    publish.click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("stay on version 1", timeout=TIMEOUT_MS)
    expect(dialog).to_contain_text("from now on follow version 2")
    page.screenshot(path=str(artifacts / "marketer_publish_live.png"), full_page=True)
    dialog.get_by_role("button", name="Publish draft").click()
    expect(page.get_by_text("v2 ·")).to_be_visible(timeout=TIMEOUT_MS)

    messages = page.get_by_role("row").filter(has_text=email_of(Role.MARKETER))
    expect(messages.first).to_contain_text("test", timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "marketer_launch_live.png"), full_page=True)


LONG_BODY = "Hello {{ profile.first_name }}, " + "here is everything about your order. " * 12


def test_a_customer_is_found_by_part_of_their_email_and_picked_from_a_list(
    signed_in_as: Callable[[Role], Page], journey_id: int, e2e_database: str, artifacts: Path
) -> None:
    # A live journey of the test's own (stopped and archived with the fixture's) that greets whoever signs up.
    doc = journey_map(
        [
            event_trigger("signed_up_pick"),
            node(
                "greet",
                "send",
                title="Welcome email",
                channel="email",
                content={"subject": "Welcome", "body": LONG_BODY},
            ),
            node("later", "wait", title="Wait a day", duration="P1D"),
        ],
        [("entry", "greet"), ("greet", "later")],
        name=f"{PREFIX}: greeting",
    )
    with session_scope(e2e_database) as session:
        publish_and_launch(session, doc)
        ingest(
            session=session,
            messages=[
                IdentifyMessage(userId="pick-1", traits={"email": "pick.one@shop.example", "first_name": "Piper"}),
                IdentifyMessage(userId="pick-2", traits={"email": "pick.two@shop.example", "first_name": "Pat"}),
                TrackMessage(userId="pick-1", event="signed_up_pick"),
            ],
        )
    page = signed_in_as(Role.MARKETER)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/customers")

    page.get_by_label("Find a customer").fill("PICK.T")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("customer-match")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name="pick-2")).to_be_visible(timeout=TIMEOUT_MS)

    page.get_by_label("Find a customer").fill("shop.EXAMPLE")
    page.get_by_role("button", name="Look up").click()
    matches = page.get_by_test_id("customer-match")
    expect(matches).to_have_count(2, timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "marketer_customer_matches.png"), full_page=True)
    matches.filter(has_text="pick.one@shop.example").click()
    expect(page.get_by_role("heading", name="pick-1")).to_be_visible(timeout=TIMEOUT_MS)
    # Steps are named by their cards' titles, and the message's whole text is a click away.
    timeline = page.get_by_test_id("timeline-item")
    expect(timeline.filter(has_text="entered Wait a day")).to_have_count(1, timeout=TIMEOUT_MS)
    message = timeline.filter(has_text="Welcome email (email)")
    expect(message).to_contain_text("…")
    page.screenshot(path=str(artifacts / "marketer_customer_collapsed.png"), full_page=True)
    expect(page.get_by_role("cell", name="Wait a day")).to_be_visible()
    message.locator("summary").click()
    expect(message).to_contain_text(("here is everything about your order. " * 12).strip())
    page.screenshot(path=str(artifacts / "marketer_customer.png"), full_page=True)
