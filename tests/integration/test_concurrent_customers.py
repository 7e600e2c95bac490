"""Two intake requests naming the same new customer at the same moment both succeed and make one profile; and no
intake answer ever carries a traceback, SQL or a customer's data, whatever the database says."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from engine.accounts import create_write_key
from engine.api import create_api
from engine.intake import ingest
from engine.store import Event, Profile, ProfileAlias, get_engine, session_scope
from tests.engine_factories import NOW, identify, track
from tests.security.serving import served


@pytest.fixture
def url(own_database_url: str) -> str:
    return own_database_url


def test_two_requests_creating_one_new_customer_at_once_both_succeed(url: str) -> None:
    """The first request has inserted the new customer and not yet committed when the second one, naming the same
    user id (and device), gets to its insert: the second waits, then takes the customer the first created."""
    errors: list[BaseException] = []
    second_done = threading.Event()

    def second_request() -> None:
        try:
            with session_scope(url) as session:
                ingest(
                    session=session,
                    messages=[identify("newbie", {"plan": "pro"}, anonymous_id="device-1", message_id="m2")],
                    now=NOW,
                )
        except BaseException as error:
            errors.append(error)
        finally:
            second_done.set()

    with session_scope(url) as first:
        ingest(
            session=first,
            messages=[track("newbie", "signed_up", anonymous_id="device-1", message_id="m1")],
            now=NOW,
        )
        second = threading.Thread(target=second_request)
        second.start()
        time.sleep(0.5)
        assert not second_done.is_set()
    second.join(30)

    assert not errors, errors
    with Session(get_engine(url)) as session:
        (profile,) = session.execute(select(Profile)).scalars()
        assert (profile.user_id, profile.traits) == ("newbie", {"plan": "pro"})
        events = session.execute(select(col(Event.message_id), col(Event.profile_id)).order_by(col(Event.id))).all()
        assert [tuple(row) for row in events] == [("m1", profile.id), ("m2", profile.id)]
        aliases = session.execute(select(col(ProfileAlias.anonymous_id), col(ProfileAlias.profile_id))).all()
        assert [tuple(row) for row in aliases] == [("device-1", profile.id)]


def test_an_intake_request_the_database_refuses_is_answered_without_internals(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the database raises, the client learns only that nothing was stored and that it may send again."""
    secret_sql = "INSERT INTO profile (user_id) VALUES ('customer-4711@example.com')"

    def refused(**_: object) -> None:
        raise IntegrityError(secret_sql, {"user_id": "customer-4711@example.com"}, Exception("duplicate key"))

    with session_scope(db_url) as session:
        key = create_write_key(session=session, name="shop").secret
    monkeypatch.setattr("engine.intake.writer.ingest_requests", refused)
    with served(create_api(db_url)) as client:
        response = client.post("/v1/track", json={"userId": "customer-4711@example.com", "event": "go"}, auth=(key, ""))

    assert response.status_code == 503
    assert response.json() == {
        "detail": "the events could not be stored just now; nothing of this request was kept: send it again"
    }
    for leak in ("INSERT", "profile", "4711", "Traceback", "duplicate"):
        assert leak not in response.text
