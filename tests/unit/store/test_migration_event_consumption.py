"""Revision 0011 adds the events the engine has yet to react to (none of those stored before it: they were reacted to
on arrival) and finds runs by customer through ix_enrollment_profile; downgrading takes both away and keeps the
events and runs."""

from __future__ import annotations

from alembic.command import downgrade, upgrade
from sqlalchemy import inspect, text

from engine.store import alembic_config, get_engine, session_scope, upgrade_database
from tests.engine_factories import event_trigger, journey_map, node
from tests.unit.store.older_rows import published_journey

BEFORE = "0010_journey_archive"


def indexes(url: str, table: str) -> set[str]:
    return {index["name"] for index in inspect(get_engine(url)).get_indexes(table)}


def test_events_stored_before_0011_are_not_pending_and_downgrading_keeps_events_and_runs(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), BEFORE)
    with session_scope(empty_url) as session:
        doc = journey_map([event_trigger("go"), node("hold", "wait", duration="PT1H")], [("entry", "hold")])
        journey_id, version_id = published_journey(session, doc)
        session.execute(
            text(
                "INSERT INTO profile (user_id, traits, consent, created_at, updated_at)"
                " VALUES ('u1', '{}', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        session.execute(
            text(
                "INSERT INTO event (message_id, profile_id, type, name, properties, occurred_at, received_at)"
                " SELECT 'm1', id, 'track', 'go', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM profile"
            )
        )
        session.execute(
            text(
                "INSERT INTO enrollment (journey_id, version_id, profile_id, status, step_id, context, entered_at)"
                " SELECT :journey, :version, id, 'waiting', 'hold', '{}', CURRENT_TIMESTAMP FROM profile"
            ),
            {"journey": journey_id, "version": version_id},
        )

    upgrade_database(empty_url)

    with get_engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM pending_event")).scalar_one() == 0
        assert connection.execute(text("SELECT message_id FROM event")).all() == [("m1",)]
    assert "ix_enrollment_profile" in indexes(empty_url, "enrollment")
    assert "ix_enrollment_profile_wait" not in indexes(empty_url, "enrollment")
    assert "ix_pending_event_profile" in indexes(empty_url, "pending_event")

    downgrade(alembic_config(empty_url), BEFORE)

    assert "pending_event" not in inspect(get_engine(empty_url)).get_table_names()
    assert "ix_enrollment_profile_wait" in indexes(empty_url, "enrollment")
    assert "ix_enrollment_profile" not in indexes(empty_url, "enrollment")
    with get_engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT message_id FROM event")).all() == [("m1",)]
        assert connection.execute(text("SELECT status, step_id FROM enrollment")).all() == [("waiting", "hold")]
