from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.delivery import ProofError, send_proof
from engine.intake import IdentifyMessage
from engine.journeys import create_journey, seed_starters
from engine.map.starters import load_template
from engine.store import MessageStatus
from tests.engine_factories import ingest_and_react


def test_a_proof_is_rendered_for_the_test_profile_and_marked_as_a_test(session: Session) -> None:
    journey = create_journey(session=session, doc=load_template("cart_abandonment"))
    ingest_and_react(
        session=session,
        messages=[IdentifyMessage(userId="qa-1", traits={"email": "qa@example.com", "first_name": "Quinn"})],
    )
    assert journey.id is not None

    message = send_proof(session=session, journey_id=journey.id, node_id="email_reminder", customer="qa@example.com")

    assert message.is_test
    assert message.status is MessageStatus.PENDING
    assert message.recipient == "qa@example.com"
    assert message.subject.startswith("[TEST] ")
    assert "Quinn" in message.subject + message.body
    assert "sample-cart_url" in message.body
    assert "/v1/unsubscribe?" in message.body


def test_a_proof_names_what_is_missing(session: Session) -> None:
    seed_starters(session=session)
    journey = create_journey(session=session, doc=load_template("cart_abandonment"))
    assert journey.id is not None

    with pytest.raises(ProofError, match="no profile matches 'nobody'"):
        send_proof(session=session, journey_id=journey.id, node_id="email_reminder", customer="nobody")
    with pytest.raises(ProofError, match="'wait_1h' is not a message"):
        send_proof(session=session, journey_id=journey.id, node_id="wait_1h", customer="nobody")
