"""Revision 0007 gives runs a failure reason (and failed runs an index) and takes them away again."""

from __future__ import annotations

from alembic.command import downgrade, upgrade
from sqlalchemy import inspect, text

from engine.store import Profile, alembic_config, get_engine, session_scope, upgrade_database
from tests.engine_factories import event_trigger, journey_map, node
from tests.unit.store.older_rows import published_journey


def test_runs_stored_before_0007_have_no_failure_and_downgrading_removes_it(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), "0006_transition_source")
    with session_scope(empty_url) as session:
        doc = journey_map([event_trigger("go"), node("hold", "wait", duration="PT1H")], [("entry", "hold")])
        journey_id, version_id = published_journey(session, doc)
        profile = Profile(user_id="u1")
        session.add(profile)
        session.flush()
        session.execute(
            text(
                "INSERT INTO enrollment (journey_id, version_id, profile_id, status, context, entered_at, end_reason)"
                " VALUES (:journey, :version, :profile, 'ended', '{}', CURRENT_TIMESTAMP, 'completed')"
            ),
            {"journey": journey_id, "version": version_id, "profile": profile.id},
        )

    upgrade_database(empty_url)

    with get_engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT end_reason, failure FROM enrollment")).all() == [("completed", None)]
    indexes = {i["name"] for i in inspect(get_engine(empty_url)).get_indexes("enrollment")}
    assert "ix_enrollment_failed" in indexes

    downgrade(alembic_config(empty_url), "0006_transition_source")

    inspector = inspect(get_engine(empty_url))
    assert "failure" not in {c["name"] for c in inspector.get_columns("enrollment")}
    assert "ix_enrollment_failed" not in {i["name"] for i in inspector.get_indexes("enrollment")}
    with get_engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT end_reason FROM enrollment")).all() == [("completed",)]
