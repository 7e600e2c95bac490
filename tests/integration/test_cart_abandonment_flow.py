"""The cart-abandonment starter run for real, on SQLite and on PostgreSQL.

Events go in over /v1/batch, the scheduler advances customers in real (shortened) time, and the
messages arrive at an SMTP server and HTTP providers listening on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from engine.map import PausePolicy
from engine.runtime import pause_journey, resume_journey
from engine.store import Enrollment, MessageStatus, OutboxMessage, Profile, session_scope
from tests.integration.journey_harness import JourneyRig, abandon, customer, journey_rig, order, wait_for


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def rig(request: pytest.FixtureRequest) -> Iterator[JourneyRig]:
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    with journey_rig(url) as journey:
        yield journey


def outbox(rig: JourneyRig, user: str) -> list[OutboxMessage]:
    with session_scope(rig.database_url) as session:
        rows = session.execute(
            select(OutboxMessage)
            .join(Profile, Profile.id == OutboxMessage.profile_id)  # type: ignore[arg-type]
            .where(OutboxMessage.journey_id == rig.journey_id, Profile.user_id == user)
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        ).scalars()
        return list(rows)


def entered(rig: JourneyRig, user: str) -> bool:
    with session_scope(rig.database_url) as session:
        return (
            session.execute(
                select(Enrollment.id)
                .join(Profile, Profile.id == Enrollment.profile_id)  # type: ignore[arg-type]
                .where(Enrollment.journey_id == rig.journey_id, Profile.user_id == user)
            ).first()
            is not None
        )


def test_a_customer_who_buys_after_the_email_gets_nothing_more(rig: JourneyRig) -> None:
    rig.send(customer("buyer"), abandon("buyer", "c-1"))

    mails = wait_for(lambda: rig.emails_to("buyer@example.com"), what="the reminder email")
    rig.send(order("buyer", "c-1"))
    time.sleep(3.5)

    assert len(rig.emails_to("buyer@example.com")) == 1
    assert "Buyer" in mails[0].message.get_content()
    assert mails[0].message["Message-ID"].startswith("<e")
    assert rig.push_to("buyer") == []
    assert rig.sms_to(customer("buyer")["traits"]["phone"]) == []


def test_a_customer_who_does_not_buy_gets_email_then_push_then_sms(rig: JourneyRig) -> None:
    phone = customer("browser")["traits"]["phone"]
    rig.send(customer("browser"), abandon("browser", "c-2"))

    wait_for(lambda: rig.emails_to("browser@example.com"), what="the email")
    pushes = wait_for(lambda: rig.push_to("browser"), what="the push")
    texts = wait_for(lambda: rig.sms_to(phone), what="the SMS")

    assert len(rig.emails_to("browser@example.com")) == 1
    assert len(pushes) == 1
    assert len(texts) == 1
    assert pushes[0].headers["idempotency-key"] != texts[0].headers["idempotency-key"]
    assert "https://shop.example/cart/c-2" in texts[0].json()["body"]


def test_an_opted_out_customer_gets_nothing_and_the_reason_is_recorded(rig: JourneyRig) -> None:
    rig.send(customer("quiet", consent={"email": False, "push": False, "sms": False}), abandon("quiet", "c-3"))

    def settled() -> list[OutboxMessage]:
        rows = [m for m in outbox(rig, "quiet") if m.status is MessageStatus.SUPPRESSED]
        return rows if len(rows) >= 1 else []

    suppressed = wait_for(settled, what="a suppressed message")
    time.sleep(4)

    assert rig.emails_to("quiet@example.com") == []
    assert rig.push_to("quiet") == []
    assert suppressed[0].reason == "opted out of email"


def test_a_paused_journey_sends_nothing_and_resumes_by_its_policy(rig: JourneyRig) -> None:
    rig.send(customer("paused"), abandon("paused", "c-4"))
    # The engine enters the customer once it reacts to the stored event; a journey paused before then takes no
    # entry, so the pause comes once the customer is in.
    wait_for(lambda: entered(rig, "paused"), what="the customer's entry")
    with session_scope(rig.database_url) as session:
        pause_journey(session=session, journey_id=rig.journey_id, actor="test")

    time.sleep(3)
    assert rig.emails_to("paused@example.com") == []

    with session_scope(rig.database_url) as session:
        resume_journey(session=session, journey_id=rig.journey_id, actor="test", policy=PausePolicy.SKIP_OVERDUE_SENDS)

    wait_for(lambda: rig.push_to("paused"), what="the push after resuming")
    skipped = [m for m in outbox(rig, "paused") if m.status is MessageStatus.SKIPPED]
    assert rig.emails_to("paused@example.com") == []
    assert [m.channel for m in skipped] == ["email"]
    assert "paused" in skipped[0].reason


def test_a_retried_event_is_stored_once(rig: JourneyRig) -> None:
    first = rig.send(customer("retry"), abandon("retry", "c-5"))
    again = rig.send(abandon("retry", "c-5"))

    assert first["accepted"] == 2
    assert again == {"success": True, "accepted": 0, "duplicates": 1, "rejected": []}
    wait_for(lambda: rig.emails_to("retry@example.com"), what="the email")
    time.sleep(0.5)
    assert len(rig.emails_to("retry@example.com")) == 1


def test_the_unsubscribe_link_in_the_email_stops_that_channel(rig: JourneyRig) -> None:
    rig.send(customer("leaver"), abandon("leaver", "c-6"))
    mail = wait_for(lambda: rig.emails_to("leaver@example.com"), what="the email")[0]
    link = mail.message["List-Unsubscribe"].strip("<>")
    assert link in mail.message.get_content()

    path = link.split("/v1/", 1)[1]
    forged = httpx.get(f"{rig.base_url}/v1/{path[:-4]}beef")
    answer = httpx.get(f"{rig.base_url}/v1/{path}")

    assert forged.status_code == 400
    assert answer.status_code == 200
    with session_scope(rig.database_url) as session:
        profile = session.execute(select(Profile).where(Profile.user_id == "leaver")).scalar_one()
        assert profile.consent == {"email": False}
