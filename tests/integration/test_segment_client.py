"""Segment's own Python library talks to the intake served by uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import segment.analytics as analytics
from segment.analytics.request import APIError
from sqlalchemy import select

from engine.access import create_write_key
from engine.store.db import session_scope
from engine.store.enrollments import Enrollment, EnrollmentStatus
from engine.store.events import Event
from engine.store.profiles import Profile
from tests.engine_factories import event_trigger, journey_map, node, publish_and_launch
from tests.integration.journey_harness import api_server


@dataclass(frozen=True)
class Intake:
    database_url: str
    url: str
    write_key: str
    journey_id: int


@pytest.fixture
def intake(db_url: str) -> Iterator[Intake]:
    doc = journey_map(
        [
            event_trigger("Trial Started", filters=[{"source": "event", "field": "plan", "op": "eq", "value": "pro"}]),
            node("hold", "wait", duration="P3D"),
        ],
        [("entry", "hold")],
    )
    with session_scope(db_url) as session:
        journey_id, _ = publish_and_launch(session, doc)
        key = create_write_key(session=session, name="segment").secret
    with api_server(db_url) as url:
        yield Intake(db_url, url, key, journey_id)


def stored_events(intake: Intake) -> list[Event]:
    with session_scope(intake.database_url) as session:
        return list(session.execute(select(Event).order_by(Event.id)).scalars())  # type: ignore[arg-type]


def test_identify_and_track_from_the_segment_client_enroll_the_customer(intake: Intake) -> None:
    client = analytics.Client(intake.write_key, host=intake.url, sync_mode=True, max_retries=0)

    client.identify(
        "user-1",
        {"email": "ada@example.com", "first_name": "Ada"},
        context={"timezone": "Europe/Paris"},
        message_id="identify-1",
    )
    client.track("user-1", "Trial Started", {"plan": "pro", "seats": 3}, message_id="track-1")
    client.track("user-1", "Trial Started", {"plan": "pro", "seats": 3}, message_id="track-1")

    events = stored_events(intake)
    assert [(e.message_id, e.type, e.name) for e in events] == [
        ("identify-1", "identify", None),
        ("track-1", "track", "Trial Started"),
    ]
    assert events[1].properties == {"plan": "pro", "seats": 3}
    with session_scope(intake.database_url) as session:
        profile = session.execute(select(Profile).where(Profile.user_id == "user-1")).scalar_one()
        (run,) = session.execute(select(Enrollment)).scalars()
        assert profile.traits == {"email": "ada@example.com", "first_name": "Ada"}
        assert profile.timezone == "Europe/Paris"
        assert (run.profile_id, run.journey_id) == (profile.id, intake.journey_id)
        assert (run.status, run.step_id) == (EnrollmentStatus.WAITING, "hold")
        assert run.context == {"plan": "pro", "seats": 3}


def test_the_queued_client_delivers_its_batch_on_flush(intake: Intake) -> None:
    client = analytics.Client(intake.write_key, host=intake.url, max_retries=0, upload_interval=0.05)
    try:
        client.track(anonymous_id="anon-1", event="Viewed Pricing")
        client.identify("user-2", {"email": "grace@example.com"}, anonymous_id="anon-1")
        client.track("user-2", "Trial Started", {"plan": "free"})
        client.flush()
    finally:
        client.shutdown()

    events = stored_events(intake)
    assert [e.type for e in events] == ["track", "identify", "track"]
    assert len({e.profile_id for e in events}) == 1
    with session_scope(intake.database_url) as session:
        assert session.execute(select(Enrollment)).first() is None


def test_the_segment_client_may_gzip_its_requests(intake: Intake) -> None:
    client = analytics.Client(intake.write_key, host=intake.url, sync_mode=True, max_retries=0, gzip=True)

    client.identify("user-4", {"email": "linus@example.com"})
    client.track("user-4", "Trial Started", {"plan": "pro"})

    assert [e.type for e in stored_events(intake)] == ["identify", "track"]
    with session_scope(intake.database_url) as session:
        assert session.execute(select(Enrollment)).first() is not None


def test_the_segment_client_is_refused_with_a_wrong_write_key(intake: Intake) -> None:
    client = analytics.Client("wk_wrong", host=intake.url, sync_mode=True, max_retries=0)

    with pytest.raises(APIError) as refused:
        client.track("user-3", "Trial Started", {"plan": "pro"})

    assert refused.value.status == 401
    assert stored_events(intake) == []
