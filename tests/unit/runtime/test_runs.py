from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from engine.runtime import advance_due, find_customer, run_overview
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    send,
    track,
)


def two_step_journey(session: Session) -> int:
    """Email on entry, wait an hour, SMS, wait a day, end."""
    doc = journey_map(
        [
            event_trigger("go"),
            send("mail"),
            node("hour", "wait", duration="PT1H"),
            send("text", "sms", stage="s2"),
            node("day", "wait", stage="s2", duration="P1D"),
        ],
        [("entry", "mail"), ("mail", "hour"), ("hour", "text"), ("text", "day")],
    )
    return publish_and_launch(session, doc)[0]


def test_the_run_overview_counts_customers_and_messages(session: Session) -> None:
    journey_id = two_step_journey(session)
    ingest_and_react(
        session=session,
        messages=[
            identify("a", {"email": "a@example.com", "phone": "+15550001"}),
            identify("b", {"email": "b@example.com"}),
            identify("c", {"email": "c@example.com"}),
            track("a", "go"),
            track("b", "go"),
        ],
        now=NOW,
    )
    advance_due(session=session, now=NOW + timedelta(hours=1))
    ingest_and_react(session=session, messages=[track("c", "go")], now=NOW + timedelta(hours=1))
    advance_due(session=session, now=NOW + timedelta(days=1, hours=1))
    session.flush()

    overview = run_overview(session=session, journey_id=journey_id)

    assert [(n.node_id, n.waiting) for n in overview.waiting_by_node] == [("day", 1)]
    assert (overview.in_flight, overview.ended) == (1, 2)
    # Only a has a phone number: the SMS to b and c is suppressed when it is written.
    assert overview.messages_by_status == {"pending": 4, "suppressed": 2}
    assert len(overview.recent_messages) == 6
    assert [m.id for m in overview.recent_messages] == sorted((m.id for m in overview.recent_messages), reverse=True)
    assert {(m.node_id, m.recipient, m.status.value) for m in overview.recent_messages if m.channel == "sms"} == {
        ("text", "+15550001", "pending"),
        ("text", "", "suppressed"),
    }


def test_the_run_overview_of_an_untouched_journey_is_empty(session: Session) -> None:
    journey_id = two_step_journey(session)

    overview = run_overview(session=session, journey_id=journey_id)

    assert (overview.in_flight, overview.ended, overview.waiting_by_node) == (0, 0, [])
    assert (overview.messages_by_status, overview.recent_messages) == ({}, [])


@pytest.fixture
def known_customer(session: Session) -> None:
    two_step_journey(session)
    ingest_and_react(
        session=session, messages=[track(None, "viewed", anonymous_id="anon-7")], now=NOW - timedelta(days=1)
    )
    ingest_and_react(
        session=session,
        messages=[
            identify("u7", {"email": "ada@example.com", "first_name": "Ada"}, anonymous_id="anon-7"),
            track("u7", "go"),
        ],
        now=NOW,
    )
    ingest_and_react(session=session, messages=[identify("someone_else", {"email": "bob@example.com"})], now=NOW)
    session.flush()


@pytest.mark.parametrize("query", ["u7", "anon-7", "ada@example.com", "  u7  "])
@pytest.mark.usefixtures("known_customer")
def test_a_customer_is_found_by_user_id_anonymous_id_or_email(session: Session, query: str) -> None:
    found = find_customer(session=session, query=query)

    assert found is not None
    assert found.user_id == "u7"
    assert found.traits == {"email": "ada@example.com", "first_name": "Ada"}
    assert [(r.step_id, r.status.value) for r in found.runs] == [("hour", "waiting")]


@pytest.mark.usefixtures("known_customer")
def test_the_customer_timeline_holds_events_steps_and_messages_newest_first(session: Session) -> None:
    found = find_customer(session=session, query="u7")

    assert found is not None
    kinds = [(item.kind, item.title) for item in found.timeline]
    assert set(kinds) == {
        ("identify", "identify"),
        ("track", "go"),
        ("track", "viewed"),
        ("message:pending", "mail (email)"),
        ("step", "entered entry"),
        ("step", "entered mail"),
        ("step", "entered hour"),
    }
    assert kinds[-1] == ("track", "viewed")
    assert [item.at for item in found.timeline] == sorted((item.at for item in found.timeline), reverse=True)


@pytest.mark.parametrize("query", ["", "   ", "nobody", "anon-unknown", "nobody@example.com"])
@pytest.mark.usefixtures("known_customer")
def test_an_unknown_customer_is_not_found(session: Session, query: str) -> None:
    assert find_customer(session=session, query=query) is None
