"""Customer look-up: search by part of a name, email, phone or id, and one customer's timeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session

from engine.delivery.channels import OutboundMessage, SandboxSender
from engine.intake import ingest
from engine.map import Channel
from engine.runtime import SANDBOXED, advance_due, customer_view, message_status_label, search_customers
from engine.store import MessageStatus, get_engine, upgrade_database
from tests.conftest import scratch_postgres_database
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    track,
)

MINE = {"u-ada", "u-bob", "u-cy"}


@pytest.fixture(scope="module")
def search_pg_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own: a search answers at most 20 matches, and the session-wide
    database holds other tests' customers (many of them at example.com) that would crowd these out."""
    with scratch_postgres_database("journey_search") as url:
        upgrade_database(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session on SQLite or on this module's PostgreSQL database; what a test writes is rolled back."""
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "search_pg_url")
    with Session(get_engine(url), expire_on_commit=False) as session:
        yield session
        session.rollback()


@pytest.fixture
def customers(any_session: Session) -> None:
    session = any_session
    ingest(
        session=session,
        messages=[
            identify("u-ada", {"email": "Ada.Lovelace@Example.com", "first_name": "Ada", "last_name": "Lovelace"}),
            identify("u-bob", {"email": "bob@example.com", "name": "Bob 100% Builder", "phone": "+1 555 0142"}),
            identify("u-cy", {"email": "cy@other.org", "first_name": "Cy"}),
            track(None, "viewed", anonymous_id="anon-42"),
        ],
        now=NOW,
    )
    session.flush()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lovelace", {"u-ada"}),
        ("ADA", {"u-ada"}),
        ("ada lovelace", {"u-ada"}),
        ("example.COM", {"u-ada", "u-bob"}),
        ("555 01", {"u-bob"}),
        ("u-", {"u-ada", "u-bob", "u-cy"}),
        ("100%", {"u-bob"}),
        ("_", set()),
        ("nobody", set()),
        ("", set()),
    ],
)
@pytest.mark.usefixtures("customers")
def test_search_finds_by_part_of_a_name_email_phone_or_user_id_ignoring_case(
    any_session: Session, query: str, expected: set[str]
) -> None:
    assert {m.user_id for m in search_customers(session=any_session, query=query)} == expected


@pytest.mark.usefixtures("customers")
def test_search_finds_by_profile_id_and_anonymous_id_and_names_each_match(any_session: Session) -> None:
    session = any_session
    (ada,) = [m for m in search_customers(session=session, query="lovelace") if m.user_id in MINE]
    assert (ada.name, ada.email, ada.phone) == ("Ada Lovelace", "Ada.Lovelace@Example.com", "")
    # The exact match comes first, before any whose ids merely contain those digits.
    assert search_customers(session=session, query=str(ada.profile_id))[0].user_id == "u-ada"
    assert search_customers(session=session, query="anon-42")[0].user_id is None


def test_search_is_one_bounded_query(session: Session) -> None:
    ingest(session=session, messages=[identify(f"user-{i}", {"email": f"user{i}@example.com"}) for i in range(30)])
    session.flush()
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        found = search_customers(session=session, query="user", limit=20)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len(found) == 20
    assert len(statements) == 1
    assert "LIMIT" in statements[0].upper()


def titled_journey(session: Session) -> int:
    doc = journey_map(
        [
            event_trigger("go"),
            node("mail", "send", title="Welcome email", channel="email", content={"subject": "Hi", "body": "x" * 500}),
            node("hour", "wait", title="Wait an hour", duration="PT1H"),
        ],
        [("entry", "mail"), ("mail", "hour")],
    )
    return publish_and_launch(session, doc)[0]


def test_the_timeline_names_cards_by_title_holds_the_whole_message_and_orders_one_instant_stably(
    session: Session,
) -> None:
    titled_journey(session)
    ingest_and_react(
        session=session, messages=[identify("u1", {"email": "u1@example.com"}), track("u1", "go")], now=NOW
    )
    advance_due(session=session, now=NOW + timedelta(minutes=1))
    session.flush()
    (match,) = search_customers(session=session, query="u1@")

    first = customer_view(session=session, profile_id=match.profile_id)
    again = customer_view(session=session, profile_id=match.profile_id)

    assert first is not None
    assert again is not None
    assert [r.step_title for r in first.runs] == ["Wait an hour"]
    titles = [item.title for item in first.timeline]
    assert {"entered Welcome email", "entered Wait an hour", "Welcome email (email)"} <= set(titles)
    assert not [t for t in titles if t in {"entered mail", "entered hour"}]
    (message,) = [item for item in first.timeline if item.kind.startswith("message")]
    assert "x" * 500 in message.detail
    assert [i.model_dump() for i in first.timeline] == [i.model_dump() for i in again.timeline]
    keys = [(item.at, item.row_id) for item in first.timeline if item.source == "step"]
    assert keys == sorted(keys, reverse=True)


def test_a_message_the_sandbox_took_is_shown_as_not_sent() -> None:
    result = SandboxSender().send(OutboundMessage(idempotency_key="k", channel=Channel.EMAIL, to="a@example.com"))

    assert message_status_label(MessageStatus.DELIVERED.value, result.detail) == SANDBOXED == "sandbox (not sent)"
    assert message_status_label("delivered", "250 accepted") == "delivered"
    assert message_status_label("failed", "sandbox: stored, not sent") == "failed"
