"""Segment's own Python library talks to the intake served by uvicorn on 127.0.0.1, on SQLite and PostgreSQL.

PostgreSQL tests share one database, so each test names its people and events uniquely and stops its
journey when it is done.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import segment.analytics as analytics
from segment.analytics.request import APIError
from sqlalchemy import select
from sqlmodel import col

from engine.accounts import create_write_key
from engine.runtime import stop_journey
from engine.store import Enrollment, EnrollmentStatus, Event, Profile, session_scope
from tests.engine_factories import event_trigger, journey_map, node, publish_and_launch, react_to_pending
from tests.integration.journey_harness import api_server


@dataclass(frozen=True)
class Intake:
    database_url: str
    url: str
    write_key: str
    journey_id: int
    tag: str

    def user(self, name: str) -> str:
        return f"{name}-{self.tag}"

    @property
    def trial_started(self) -> str:
        return f"Trial Started {self.tag}"

    def client(self, key: str | None = None, **options: object) -> analytics.Client:
        return analytics.Client(key or self.write_key, host=self.url, max_retries=0, **options)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def intake(request: pytest.FixtureRequest) -> Iterator[Intake]:
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    tag = uuid.uuid4().hex[:10]
    trigger = event_trigger(
        f"Trial Started {tag}", filters=[{"source": "event", "field": "plan", "op": "eq", "value": "pro"}]
    )
    doc = journey_map([trigger, node("hold", "wait", duration="P3D")], [("entry", "hold")], name=f"Trial {tag}")
    with session_scope(url) as session:
        journey_id, _ = publish_and_launch(session, doc)
        key = create_write_key(session=session, name="segment").secret
    try:
        with api_server(url) as base:
            yield Intake(url, base, key, journey_id, tag)
    finally:
        with session_scope(url) as session:
            stop_journey(session=session, journey_id=journey_id, actor="test")


def stored_events(intake: Intake, *users: str) -> list[Event]:
    with session_scope(intake.database_url) as session:
        return list(
            session.execute(
                select(Event)
                .join(Profile, col(Profile.id) == col(Event.profile_id))
                .where(col(Profile.user_id).in_(users))
                .order_by(col(Event.id))
            ).scalars()
        )


def runs(intake: Intake) -> list[Enrollment]:
    """The journey's runs once the engine has reacted to every event stored."""
    react_to_pending(intake.database_url)
    with session_scope(intake.database_url) as session:
        return list(session.execute(select(Enrollment).where(Enrollment.journey_id == intake.journey_id)).scalars())


def test_identify_and_track_from_the_segment_client_enroll_the_customer(intake: Intake) -> None:
    client = intake.client(sync_mode=True)
    ada = intake.user("ada")

    client.identify(
        ada,
        {"email": "ada@example.com", "first_name": "Ada"},
        context={"timezone": "Europe/Paris"},
        message_id=f"identify-{intake.tag}",
    )
    client.track(ada, intake.trial_started, {"plan": "pro", "seats": 3}, message_id=f"track-{intake.tag}")
    client.track(ada, intake.trial_started, {"plan": "pro", "seats": 3}, message_id=f"track-{intake.tag}")

    events = stored_events(intake, ada)
    assert [(e.message_id, e.type, e.name) for e in events] == [
        (f"identify-{intake.tag}", "identify", None),
        (f"track-{intake.tag}", "track", intake.trial_started),
    ]
    assert events[1].properties == {"plan": "pro", "seats": 3}
    with session_scope(intake.database_url) as session:
        profile = session.execute(select(Profile).where(Profile.user_id == ada)).scalar_one()
        assert profile.traits == {"email": "ada@example.com", "first_name": "Ada"}
        assert profile.timezone == "Europe/Paris"
    (run,) = runs(intake)
    assert run.profile_id == profile.id
    assert (run.status, run.step_id) == (EnrollmentStatus.WAITING, "hold")
    assert run.context == {"plan": "pro", "seats": 3}


def test_the_queued_client_delivers_its_batch_on_flush(intake: Intake) -> None:
    client = intake.client(upload_interval=0.05)
    grace, anonymous = intake.user("grace"), intake.user("anon")
    try:
        client.track(anonymous_id=anonymous, event="Viewed Pricing")
        client.identify(grace, {"email": "grace@example.com"}, anonymous_id=anonymous)
        client.track(grace, intake.trial_started, {"plan": "free"})
        client.flush()
    finally:
        client.shutdown()

    events = stored_events(intake, grace)
    assert [e.type for e in events] == ["track", "identify", "track"]
    assert runs(intake) == []


def test_the_segment_client_may_gzip_its_requests(intake: Intake) -> None:
    client = intake.client(sync_mode=True, gzip=True)
    linus = intake.user("linus")

    client.identify(linus, {"email": "linus@example.com"})
    client.track(linus, intake.trial_started, {"plan": "pro"})

    assert [e.type for e in stored_events(intake, linus)] == ["identify", "track"]
    assert len(runs(intake)) == 1


def test_the_segment_client_is_refused_with_a_wrong_write_key(intake: Intake) -> None:
    client = intake.client("wk_wrong", sync_mode=True)
    mallory = intake.user("mallory")

    with pytest.raises(APIError) as refused:
        client.track(mallory, intake.trial_started, {"plan": "pro"})

    assert refused.value.status == 401
    assert stored_events(intake, mallory) == []
    assert runs(intake) == []
