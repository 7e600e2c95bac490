"""A customer the intake meets for the first time is written once, with what the batch says of them; a customer
already stored is updated; and a request racing another that creates the same customer still stores everything once.

On SQLite and PostgreSQL alike: the statements are watched where what matters is how a profile was written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlmodel import Session, col

from engine.intake import AnyMessage, GroupMessage, ingest
from engine.store import Event, PendingEvent, Profile, ProfileAlias, get_engine, session_scope
from tests.engine_factories import NOW, identify, track

LATER = NOW + timedelta(hours=1)


@pytest.fixture
def url(own_database_url: str) -> str:
    return own_database_url


@contextmanager
def watched(url: str) -> Iterator[list[str]]:
    """The SQL statements run on ``url`` in the block, upper-cased."""
    statements: list[str] = []
    engine = get_engine(url)

    def record(*args: Any) -> None:
        statements.append(str(args[2]).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def stored(url: str, messages: Sequence[AnyMessage], now: Any = NOW) -> list[str]:
    with watched(url) as statements, session_scope(url) as session:
        ingest(session=session, messages=messages, now=now)
    return statements


def writes_to_profile(statements: list[str]) -> list[str]:
    """Each INSERT, UPDATE or DELETE of the profile table, as its verb."""
    verbs = []
    for statement in statements:
        for verb, table in (
            ("INSERT", "INSERT INTO PROFILE "),
            ("UPDATE", "UPDATE PROFILE "),
            ("DELETE", "FROM PROFILE "),
        ):
            if statement.lstrip().startswith(verb) and table in statement:
                verbs.append(verb)
    return verbs


def the_profiles(url: str) -> list[Profile]:
    with Session(get_engine(url)) as session:
        return list(session.execute(select(Profile).order_by(col(Profile.id))).scalars())


def traits_before(url: str) -> dict[str, Any]:
    """Each pending reaction's traits before its event, by messageId."""
    with Session(get_engine(url)) as session:
        rows = session.execute(
            select(col(Event.message_id), col(PendingEvent.traits_before)).join(
                PendingEvent, col(PendingEvent.event_id) == col(Event.id)
            )
        )
        return {message_id: before for message_id, before in rows}


def test_a_new_customer_is_inserted_once_with_their_traits_consent_and_time_zone(url: str) -> None:
    statements = stored(
        url,
        [
            identify(
                "ada",
                {"email": "ada@example.com", "unsubscribed_sms": True},
                message_id="m1",
                context={"timezone": "Europe/Paris"},
            ),
            track("ada", "signed_up", message_id="m2"),
            GroupMessage.model_validate({"userId": "ada", "groupId": "acme", "messageId": "m3"}),
        ],
    )

    assert writes_to_profile(statements) == ["INSERT"]
    (profile,) = the_profiles(url)
    assert profile.user_id == "ada"
    assert profile.traits == {"email": "ada@example.com", "unsubscribed_sms": True, "group_id": "acme"}
    assert profile.consent == {"sms": False}
    assert profile.timezone == "Europe/Paris"
    assert (profile.created_at, profile.updated_at) == (NOW, NOW)
    assert traits_before(url) == {
        "m1": {},
        "m2": None,
        "m3": {"email": "ada@example.com", "unsubscribed_sms": True},
    }


def test_a_stored_customer_is_updated_and_keeps_when_they_were_created(url: str) -> None:
    stored(url, [identify("ada", {"plan": "free"}, message_id="m1")])

    statements = stored(url, [identify("ada", {"plan": "pro"}, message_id="m2")], now=LATER)

    assert writes_to_profile(statements) == ["UPDATE"]
    (profile,) = the_profiles(url)
    assert (profile.traits, profile.created_at, profile.updated_at) == ({"plan": "pro"}, NOW, LATER)


def test_a_new_customer_identified_twice_in_one_batch_is_one_profile_with_the_latest_traits(url: str) -> None:
    statements = stored(
        url,
        [
            identify("ada", {"plan": "free", "email": "ada@example.com"}, message_id="m1"),
            identify("ada", {"plan": "pro", "consent": {"email": False}}, message_id="m2"),
        ],
    )

    assert writes_to_profile(statements) == ["INSERT"]
    (profile,) = the_profiles(url)
    assert (profile.traits, profile.consent) == ({"plan": "pro", "email": "ada@example.com"}, {"email": False})
    assert traits_before(url) == {"m1": {}, "m2": {"plan": "free", "email": "ada@example.com"}}


def test_a_new_device_signing_in_as_a_new_customer_is_inserted_once_under_the_user_id(url: str) -> None:
    statements = stored(
        url,
        [
            track(None, "viewed", anonymous_id="device-1", message_id="m1"),
            identify("ada", {"plan": "pro"}, anonymous_id="device-1", message_id="m2"),
        ],
    )

    assert writes_to_profile(statements) == ["INSERT"]
    (profile,) = the_profiles(url)
    assert (profile.user_id, profile.traits) == ("ada", {"plan": "pro"})
    with Session(get_engine(url)) as session:
        aliases = session.execute(select(col(ProfileAlias.anonymous_id), col(ProfileAlias.profile_id))).all()
        events = session.execute(select(col(Event.profile_id))).scalars().all()
    assert [tuple(alias) for alias in aliases] == [("device-1", profile.id)]
    assert events == [profile.id, profile.id]


def test_a_new_device_of_a_stored_customer_is_never_a_profile_of_its_own(url: str) -> None:
    stored(url, [identify("ada", {"plan": "free"}, message_id="m1")])

    statements = stored(
        url,
        [
            track(None, "viewed", anonymous_id="device-1", message_id="m2"),
            identify("ada", {"plan": "pro"}, anonymous_id="device-1", message_id="m3"),
        ],
    )

    # Merged before it was ever written: no profile inserted to be deleted.
    assert writes_to_profile(statements) == ["UPDATE"]
    (profile,) = the_profiles(url)
    assert profile.traits == {"plan": "pro"}
    with Session(get_engine(url)) as session:
        events = session.execute(select(col(Event.profile_id))).scalars().all()
    assert events == [profile.id] * 3


def _while_another_request_creates(url: str, first: list[AnyMessage], second: list[AnyMessage]) -> None:
    """``second`` stored while ``first``, naming some of the same new customers, has been stored and is not yet
    committed: the second request waits on the first's new rows, then commits after it."""
    errors: list[BaseException] = []
    second_done = threading.Event()

    def second_request() -> None:
        try:
            with session_scope(url) as session:
                ingest(session=session, messages=second, now=NOW)
        except BaseException as error:
            errors.append(error)
        finally:
            second_done.set()

    with session_scope(url) as session:
        ingest(session=session, messages=first, now=NOW)
        thread = threading.Thread(target=second_request)
        thread.start()
        time.sleep(0.5)
        assert not second_done.is_set()
    thread.join(30)
    assert not errors, errors


def test_a_batch_racing_another_that_creates_one_of_its_new_customers_builds_on_what_that_one_stored(
    url: str,
) -> None:
    """The second request had planned both customers as new; one was taken meanwhile, so it resolves its batch again:
    that customer's traits build on the first request's, and the other customer is created once."""
    _while_another_request_creates(
        url,
        [identify("ada", {"plan": "free", "email": "ada@example.com"}, message_id="m1")],
        [
            identify("grace", {"plan": "pro"}, message_id="m2"),
            identify("ada", {"plan": "pro"}, message_id="m3"),
        ],
    )

    profiles = {profile.user_id: profile for profile in the_profiles(url)}
    assert set(profiles) == {"ada", "grace"}
    assert profiles["ada"].traits == {"plan": "pro", "email": "ada@example.com"}
    assert profiles["grace"].traits == {"plan": "pro"}
    assert traits_before(url) == {"m1": {}, "m2": {}, "m3": {"plan": "free", "email": "ada@example.com"}}
    with Session(get_engine(url)) as session:
        events = {
            message_id: profile_id
            for message_id, profile_id in session.execute(select(col(Event.message_id), col(Event.profile_id)))
        }
    assert events == {"m1": profiles["ada"].id, "m2": profiles["grace"].id, "m3": profiles["ada"].id}


def test_a_new_device_signing_in_as_a_customer_another_request_is_creating_joins_them(url: str) -> None:
    _while_another_request_creates(
        url,
        [identify("ada", {"plan": "free"}, message_id="m1")],
        [
            track(None, "viewed", anonymous_id="device-1", message_id="m2"),
            identify("ada", {"email": "ada@example.com"}, anonymous_id="device-1", message_id="m3"),
        ],
    )

    (profile,) = the_profiles(url)
    assert (profile.user_id, profile.traits) == ("ada", {"plan": "free", "email": "ada@example.com"})
    with Session(get_engine(url)) as session:
        aliases = session.execute(select(col(ProfileAlias.anonymous_id), col(ProfileAlias.profile_id))).all()
        events = session.execute(select(col(Event.profile_id))).scalars().all()
    assert [tuple(alias) for alias in aliases] == [("device-1", profile.id)]
    assert events == [profile.id] * 3


def test_a_retried_batch_is_stored_once_and_changes_no_profile(url: str) -> None:
    batch = [identify("ada", {"plan": "free"}, message_id="m1"), track("ada", "signed_up", message_id="m2")]
    stored(url, batch)
    stored(url, [identify("ada", {"plan": "pro"}, message_id="m3")], now=LATER)

    statements = stored(url, batch, now=LATER + timedelta(hours=1))

    assert writes_to_profile(statements) == []
    (profile,) = the_profiles(url)
    assert (profile.traits, profile.updated_at) == ({"plan": "pro"}, LATER)
    assert set(traits_before(url)) == {"m1", "m2", "m3"}
