from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.delivery import claim
from engine.intake import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    IdentifyMessage,
    IngestError,
    PageMessage,
    Rejection,
    TrackMessage,
    parse_batch,
    parse_single,
)
from engine.store import Enrollment, EnrollmentStatus, Event, MessageStatus, OutboxMessage, Profile, ProfileAlias
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


def profiles(session: Session) -> list[Profile]:
    return list(session.execute(select(Profile).order_by(col(Profile.id))).scalars())


def events(session: Session) -> list[Event]:
    return list(session.execute(select(Event).order_by(col(Event.id))).scalars())


def count(session: Session, table: type) -> int:
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def waiting_journey(session: Session, event: str = "signed_up") -> int:
    doc = journey_map(
        [event_trigger(event), node("hold", "wait", duration="P1D")],
        [("entry", "hold")],
    )
    return publish_and_launch(session, doc)[0]


def test_a_track_payload_is_parsed_with_its_fields() -> None:
    body = {
        "type": "track",
        "userId": 42,
        "event": "cart_abandoned",
        "properties": {"cart_id": "c1"},
        "messageId": "m-1",
        "timestamp": "2026-11-23T10:00:00Z",
        "context": {"timezone": "Europe/Paris"},
        "integrations": {"All": True},
    }

    message = parse_single(json.dumps(body).encode(), TrackMessage)

    assert isinstance(message, TrackMessage)
    assert message.user_id == "42"
    assert message.event == "cart_abandoned"
    assert message.properties == {"cart_id": "c1"}
    assert message.timestamp == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_batch_mixes_track_identify_and_page() -> None:
    body = {
        "batch": [
            {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
            {"type": "track", "anonymousId": "a1", "event": "viewed"},
            {"type": "page", "userId": "u1", "name": "Pricing", "properties": {"path": "/pricing"}},
        ]
    }

    parsed = parse_batch(json.dumps(body).encode())
    messages = parsed.messages

    assert parsed.rejected == []
    assert [type(m) for m in messages] == [IdentifyMessage, TrackMessage, PageMessage]
    assert messages[1].anonymous_id == "a1"
    assert messages[1].user_id is None


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"type": "track", "userId": "u1"}, "event"),
        ({"type": "track", "userId": "u1", "event": ""}, "event"),
        ({"type": "track", "event": "x"}, "either userId or anonymousId is required"),
        ({"type": "track", "userId": "u1", "event": "x", "timestamp": "yesterday"}, "timestamp"),
        ({"type": "track", "userId": "u1", "event": "x", "properties": ["a"]}, "properties"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(body: dict[str, object], named: str) -> None:
    with pytest.raises(IngestError, match=named):
        parse_single(json.dumps(body).encode(), TrackMessage)


def test_a_bad_message_of_a_batch_is_refused_alone_naming_its_position() -> None:
    body = {"batch": [{"type": "track", "userId": "u1", "event": "ok"}, {"type": "identify", "traits": {}}]}

    parsed = parse_batch(json.dumps(body).encode())

    assert [m.user_id for m in parsed.messages] == ["u1"]
    assert parsed.rejected == [Rejection(1, "either userId or anonymousId is required")]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "invalid payload"),
        (b'{"batch": {"type": "track"}}', "batch"),
        (b'[{"type": "track", "userId": "u1", "event": "x"}]', "batch"),
    ],
)
def test_a_malformed_batch_is_refused(body: bytes, named: str) -> None:
    with pytest.raises(IngestError, match=named):
        parse_batch(body)


def test_oversized_bodies_are_refused_with_the_limit() -> None:
    padding = "x" * MAX_EVENT_BYTES
    single = json.dumps({"type": "track", "userId": "u1", "event": "big", "properties": {"p": padding}})
    big = {"type": "track", "userId": "u1", "event": "big", "properties": {"p": "x" * MAX_BATCH_BYTES}}
    batch = json.dumps({"batch": [big]})

    with pytest.raises(IngestError, match=str(MAX_EVENT_BYTES)):
        parse_single(single.encode(), TrackMessage)
    with pytest.raises(IngestError, match=str(MAX_BATCH_BYTES)):
        parse_batch(batch.encode())


def test_events_are_stored_with_their_profile(session: Session) -> None:
    result = ingest_and_react(
        session=session,
        messages=[
            identify("u1", {"email": "u1@example.com", "plan": "pro"}, message_id="i1"),
            track("u1", "viewed", {"sku": "A"}, message_id="t1"),
            PageMessage.model_validate({"userId": "u1", "name": "Pricing", "messageId": "p1"}),
        ],
        now=NOW,
    )

    stored = events(session)
    (profile,) = profiles(session)
    assert result.accepted == 3
    assert result.duplicates == 0
    assert [(e.type, e.name, e.properties) for e in stored] == [
        ("identify", None, {"email": "u1@example.com", "plan": "pro"}),
        ("track", "viewed", {"sku": "A"}),
        ("page", "Pricing", {}),
    ]
    assert {e.profile_id for e in stored} == {profile.id}
    assert profile.user_id == "u1"
    assert profile.traits == {"email": "u1@example.com", "plan": "pro"}


def test_a_retried_message_id_is_stored_once(session: Session) -> None:
    waiting_journey(session)
    first = ingest_and_react(session=session, messages=[track("u1", "signed_up", message_id="m1")], now=NOW)
    again = ingest_and_react(session=session, messages=[track("u1", "signed_up", message_id="m1")], now=NOW)

    assert (first.accepted, first.enrolled) == (1, 1)
    assert (again.accepted, again.duplicates, again.enrolled) == (0, 1, 0)
    assert count(session, Event) == 1
    assert count(session, Enrollment) == 1


def test_a_message_id_repeated_inside_one_batch_is_stored_once(session: Session) -> None:
    result = ingest_and_react(
        session=session,
        messages=[track("u1", "viewed", message_id="same"), track("u1", "viewed", message_id="same")],
        now=NOW,
    )

    assert (result.accepted, result.duplicates) == (1, 1)
    assert count(session, Event) == 1


def test_messages_without_a_message_id_are_each_stored(session: Session) -> None:
    ingest_and_react(session=session, messages=[track("u1", "viewed"), track("u1", "viewed")], now=NOW)

    assert count(session, Event) == 2


def test_an_anonymous_visitor_who_signs_in_keeps_one_profile(session: Session) -> None:
    ingest_and_react(session=session, messages=[track(None, "viewed", anonymous_id="anon-1", message_id="t1")], now=NOW)
    ingest_and_react(
        session=session,
        messages=[identify("u1", {"email": "u1@example.com"}, anonymous_id="anon-1", message_id="i1")],
        now=NOW,
    )

    (profile,) = profiles(session)
    assert profile.user_id == "u1"
    assert {e.profile_id for e in events(session)} == {profile.id}
    assert session.get(ProfileAlias, "anon-1") is not None


def test_an_anonymous_profile_is_merged_into_the_known_customer(session: Session) -> None:
    waiting_journey(session, "viewed")
    ingest_and_react(session=session, messages=[identify("u1", {"email": "u1@example.com", "plan": "free"})], now=NOW)
    ingest_and_react(
        session=session,
        messages=[
            identify(None, {"plan": "pro", "color": "blue"}, anonymous_id="anon-1"),
            track(None, "viewed", anonymous_id="anon-1"),
        ],
        now=NOW,
    )
    assert len(profiles(session)) == 2

    ingest_and_react(session=session, messages=[identify("u1", {"first_name": "Ada"}, anonymous_id="anon-1")], now=NOW)

    (profile,) = profiles(session)
    enrollments = list(session.execute(select(Enrollment)).scalars())
    assert profile.user_id == "u1"
    # The signed-in profile's own traits win over what was learnt anonymously.
    assert profile.traits == {"email": "u1@example.com", "plan": "free", "color": "blue", "first_name": "Ada"}
    assert count(session, Event) == 4
    assert {e.profile_id for e in events(session)} == {profile.id}
    assert [e.profile_id for e in enrollments] == [profile.id]
    alias = session.get(ProfileAlias, "anon-1")
    assert alias is not None
    assert alias.profile_id == profile.id


def test_an_anonymous_visit_and_the_sign_in_in_one_batch_merge(session: Session) -> None:
    waiting_journey(session, "viewed")
    ingest_and_react(session=session, messages=[identify("u1", {"email": "u1@example.com"})], now=NOW)

    result = ingest_and_react(
        session=session,
        messages=[
            track(None, "viewed", anonymous_id="anon-2"),
            identify("u1", {"plan": "pro"}, anonymous_id="anon-2"),
        ],
        now=NOW,
    )

    (profile,) = profiles(session)
    assert result.accepted == 2
    assert profile.traits == {"email": "u1@example.com", "plan": "pro"}
    assert {e.profile_id for e in events(session)} == {profile.id}
    assert [e.profile_id for e in session.execute(select(Enrollment)).scalars()] == [profile.id]
    alias = session.get(ProfileAlias, "anon-2")
    assert alias is not None
    assert alias.profile_id == profile.id


def test_consent_comes_from_the_consent_trait_and_unsubscribed_flags(session: Session) -> None:
    ingest_and_react(session=session, messages=[identify("u1", {"consent": {"sms": False, "email": True}})], now=NOW)
    flags = {"unsubscribed_email": True, "unsubscribed_push": False}
    ingest_and_react(session=session, messages=[identify("u1", flags)], now=NOW)

    (profile,) = profiles(session)
    assert profile.consent == {"sms": False, "email": False, "push": True}
    assert "consent" not in profile.traits


def test_the_time_zone_comes_from_the_context(session: Session) -> None:
    ingest_and_react(session=session, messages=[track("u1", "viewed", context={"timezone": "Asia/Tokyo"})], now=NOW)
    ingest_and_react(session=session, messages=[track("u2", "viewed")], now=NOW)

    tokyo, unknown = profiles(session)
    assert tokyo.timezone == "Asia/Tokyo"
    assert unknown.timezone is None


def test_the_event_time_is_the_message_timestamp_when_given(session: Session) -> None:
    earlier = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    message = TrackMessage.model_validate({"userId": "u1", "event": "viewed", "timestamp": earlier.isoformat()})

    ingest_and_react(session=session, messages=[message, track("u1", "viewed")], now=NOW)

    assert [e.occurred_at for e in events(session)] == [earlier, NOW]


def test_identify_enrolls_nobody_into_an_event_journey(session: Session) -> None:
    waiting_journey(session)

    result = ingest_and_react(session=session, messages=[identify("u1")], now=NOW)

    assert result.enrolled == 0
    assert count(session, Enrollment) == 0


def test_an_event_enrolls_the_customer_into_the_live_journey(session: Session) -> None:
    journey_id = waiting_journey(session)

    result = ingest_and_react(session=session, messages=[identify("u1"), track("u1", "signed_up")], now=NOW)

    (enrollment,) = session.execute(select(Enrollment)).scalars()
    assert result.enrolled == 1
    assert enrollment.journey_id == journey_id
    assert enrollment.status is EnrollmentStatus.WAITING
    assert enrollment.step_id == "hold"


def test_two_customers_signing_in_on_one_device_stay_two_customers(session: Session) -> None:
    journey_id = waiting_journey(session, "viewed")
    ingest_and_react(
        session=session,
        messages=[identify("u1", {"email": "u1@example.com"}, anonymous_id="shared"), track("u1", "viewed")],
        now=NOW,
    )

    ingest_and_react(
        session=session,
        messages=[identify("u2", {"email": "u2@example.com"}, anonymous_id="shared"), track("u2", "viewed")],
        now=NOW,
    )
    ingest_and_react(session=session, messages=[track("u2", "bought", anonymous_id="shared")], now=NOW)

    first, second = profiles(session)
    runs = {e.profile_id: e.journey_id for e in session.execute(select(Enrollment)).scalars()}
    assert (first.user_id, first.traits) == ("u1", {"email": "u1@example.com"})
    assert (second.user_id, second.traits) == ("u2", {"email": "u2@example.com"})
    assert [(e.profile_id, e.name) for e in events(session) if e.type == "track"] == [
        (first.id, "viewed"),
        (second.id, "viewed"),
        (second.id, "bought"),
    ]
    assert runs == {first.id: journey_id, second.id: journey_id}


def test_a_known_customer_on_another_known_customers_device_in_one_batch(session: Session) -> None:
    ingest_and_react(
        session=session, messages=[identify("u1", {"email": "u1@example.com"}, anonymous_id="shared")], now=NOW
    )

    ingest_and_react(
        session=session,
        messages=[
            identify("u2", {"email": "u2@example.com"}, anonymous_id="shared"),
            track(None, "viewed", anonymous_id="shared"),
            identify("u2", {"plan": "pro"}, anonymous_id="shared"),
        ],
        now=NOW,
    )

    first, second = profiles(session)
    assert (first.user_id, first.traits) == ("u1", {"email": "u1@example.com"})
    assert (second.user_id, second.traits) == ("u2", {"email": "u2@example.com", "plan": "pro"})


def test_consent_flags_sent_as_text_mean_what_they_say(session: Session) -> None:
    traits = {
        "unsubscribed_email": "false",
        "unsubscribed_sms": "TRUE",
        "consent": {"push": "no", "in_app": "yes", "webhook": 0},
    }

    ingest_and_react(session=session, messages=[identify("u1", traits)], now=NOW)

    (profile,) = profiles(session)
    assert profile.consent == {"email": True, "sms": False, "push": False, "in_app": True, "webhook": False}


def test_a_consent_value_that_is_not_a_yes_or_no_changes_nothing(session: Session) -> None:
    ingest_and_react(session=session, messages=[identify("u1", {"consent": {"sms": False}})], now=NOW)

    ingest_and_react(
        session=session, messages=[identify("u1", {"consent": {"sms": "maybe"}, "unsubscribed_sms": None})], now=NOW
    )

    (profile,) = profiles(session)
    assert profile.consent == {"sms": False}


def test_messages_waiting_for_an_anonymous_profile_follow_it_into_the_merge(session: Session) -> None:
    doc = journey_map([event_trigger("viewed"), send("mail")], [("entry", "mail")])
    publish_and_launch(session, doc)
    ingest_and_react(
        session=session, messages=[identify("u1", {"email": "u1@example.com", "unsubscribed_email": True})], now=NOW
    )
    ingest_and_react(
        session=session,
        messages=[
            identify(None, {"email": "u1@example.com"}, anonymous_id="anon-3"),
            track(None, "viewed", anonymous_id="anon-3"),
        ],
        now=NOW,
    )

    ingest_and_react(session=session, messages=[identify("u1", {}, anonymous_id="anon-3")], now=NOW)
    session.flush()
    claimed, report = claim(session=session, now=NOW)

    (profile,) = profiles(session)
    message = session.execute(select(OutboxMessage)).scalar_one()
    session.refresh(message)
    assert message.profile_id == profile.id
    assert claimed == []
    assert report.suppressed == 1
    assert (message.status, message.reason) == (MessageStatus.SUPPRESSED, "opted out of email")
