"""Launch control in the browser: publish, launch with confirmation, send a proof, pause; messages in doubt."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlmodel import col

from engine.intake import IdentifyMessage
from engine.journeys import create_journey, publish_journey
from engine.map.starters import load_template
from engine.runtime import launch_journey, pause_journey, stop_journey
from engine.store import MessageStatus, OutboxMessage, Profile, session_scope
from tests.engine_factories import ingest_and_react

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


@pytest.fixture
def journey_id(e2e_database: str) -> int:
    doc = load_template("cart_abandonment").model_copy(update={"name": "Launch control check"})
    with session_scope(e2e_database) as session:
        journey = create_journey(session=session, doc=doc, created_by="e2e")
        ingest_and_react(
            session=session,
            messages=[IdentifyMessage(userId="qa-1", traits={"email": "qa@example.com", "first_name": "Quinn"})],
        )
        assert journey.id is not None
        return journey.id


def confirm(page: Page, action: str) -> None:
    page.get_by_role("button", name=action, exact=True).first.click()
    page.get_by_role("alertdialog").get_by_role("button", name=action, exact=True).click()


def test_a_marketer_publishes_launches_proofs_and_pauses(page: Page, journey_id: int, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/journeys/{journey_id}/launch")
    expect(page.get_by_role("heading", name="Launch control check")).to_be_visible(timeout=TIMEOUT_MS)
    status = page.get_by_test_id("journey-status")
    expect(status).to_have_text("draft", timeout=TIMEOUT_MS)

    page.get_by_role("button", name="Publish draft").click()
    expect(page.get_by_text("v1 ·")).to_be_visible(timeout=TIMEOUT_MS)

    confirm(page, "Launch")
    expect(status).to_have_text("live", timeout=TIMEOUT_MS)

    page.get_by_label("Send to").fill("qa@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("proof-preview")).to_contain_text("[TEST]", timeout=TIMEOUT_MS)
    expect(page.get_by_role("cell", name="qa@example.com").first).to_be_visible(timeout=TIMEOUT_MS)

    confirm(page, "Pause")
    expect(status).to_have_text("paused", timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "launch_control.png"), full_page=True)


def test_an_email_in_doubt_is_shown_and_marked_sent(page: Page, journey_id: int, e2e_database: str) -> None:
    with session_scope(e2e_database) as session:
        publish_journey(session=session, journey_id=journey_id, published_by="e2e")
        launch_journey(session=session, journey_id=journey_id, actor="e2e")
        profile = session.execute(select(Profile).where(col(Profile.user_id) == "qa-1")).scalar_one()
        session.add(
            OutboxMessage(
                idempotency_key=f"e2e-doubt-{journey_id}",
                journey_id=journey_id,
                profile_id=profile.id,
                node_id="reminder",
                channel="email",
                recipient="qa@example.com",
                subject="Your cart",
                status=MessageStatus.IN_DOUBT,
                attempts=1,
                in_doubt=True,
                reason="in doubt: attempt 1 was being sent when its worker stopped; held for a person",
            )
        )
    page.goto(f"/journeys/{journey_id}/launch")

    held = page.get_by_test_id("in-doubt")
    expect(held).to_contain_text("In doubt (1)", timeout=TIMEOUT_MS)
    expect(held).to_contain_text("qa@example.com")
    held.get_by_role("button", name="Mark sent").click()

    expect(held).to_be_hidden(timeout=TIMEOUT_MS)
    with session_scope(e2e_database) as session:
        message = session.execute(
            select(OutboxMessage).where(col(OutboxMessage.idempotency_key) == f"e2e-doubt-{journey_id}")
        ).scalar_one()
    assert message.status is MessageStatus.DELIVERED
    assert message.reason.startswith("in doubt; marked sent by ")


def test_a_paused_journeys_waiting_sms_is_shown_in_doubt_and_a_stopped_journeys_email_cannot_be_resent(
    page: Page, journey_id: int, e2e_database: str
) -> None:
    with session_scope(e2e_database) as session:
        publish_journey(session=session, journey_id=journey_id, published_by="e2e")
        launch_journey(session=session, journey_id=journey_id, actor="e2e")
        pause_journey(session=session, journey_id=journey_id, actor="e2e")
        profile = session.execute(select(Profile).where(col(Profile.user_id) == "qa-1")).scalar_one()
        for channel, recipient, status in (
            ("email", "qa@example.com", MessageStatus.IN_DOUBT),
            ("sms", "+15550199", MessageStatus.PENDING),
        ):
            session.add(
                OutboxMessage(
                    idempotency_key=f"e2e-{channel}-{journey_id}",
                    journey_id=journey_id,
                    profile_id=profile.id,
                    node_id="reminder",
                    channel=channel,
                    recipient=recipient,
                    status=status,
                    attempts=1,
                    in_doubt=True,
                    reason=f"in doubt: attempt 1 was being sent when its worker stopped ({channel})",
                )
            )
    page.goto(f"/journeys/{journey_id}/launch")

    shown = page.get_by_test_id("in-doubt")
    expect(shown).to_contain_text("In doubt (2)", timeout=TIMEOUT_MS)
    expect(shown).to_contain_text("+15550199")
    # Only the held email has actions: the SMS is asked again with its key when the journey resumes.
    expect(shown.get_by_role("button", name="Resend")).to_have_count(1)
    expect(shown.get_by_role("button", name="Mark sent")).to_have_count(1)

    with session_scope(e2e_database) as session:
        stop_journey(session=session, journey_id=journey_id, actor="e2e")
    page.reload()

    # Stopped: the SMS waiting for a resume is held too (design.md, "Cut short, then paused or stopped"); both
    # can be marked sent, neither resent.
    expect(shown.get_by_role("button", name="Mark sent")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(shown).to_contain_text("In doubt (2)")
    expect(shown).to_contain_text("held, not sent again: its journey stopped")
    expect(shown.get_by_role("button", name="Resend")).to_have_count(0)
