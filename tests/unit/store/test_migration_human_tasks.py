"""Revision 0014 adds the human_task table; going back drops it and leaves the runs its tasks belonged to."""

from __future__ import annotations

from alembic.command import downgrade, upgrade
from sqlalchemy import inspect, text

from engine.store import Profile, alembic_config, get_engine, session_scope, upgrade_database
from tests.engine_factories import event_trigger, journey_map, send
from tests.unit.store.older_rows import published_journey

BEFORE = "0013_in_app_inbox"


def test_0014_adds_the_task_table_and_downgrading_drops_it_keeping_the_runs(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), BEFORE)
    with session_scope(empty_url) as session:
        journey_id, version_id = published_journey(
            session, journey_map([event_trigger("go"), send("mail")], [("entry", "mail")])
        )
        profile = Profile(user_id="u1")
        session.add(profile)
        session.flush()
        session.execute(
            text(
                "INSERT INTO enrollment (journey_id, version_id, profile_id, status, step_id, context, entered_at)"
                " VALUES (:j, :v, :p, 'waiting', 'call', '{}', CURRENT_TIMESTAMP)"
            ),
            {"j": journey_id, "v": version_id, "p": profile.id},
        )

    upgrade_database(empty_url)

    with get_engine(empty_url).begin() as connection:
        enrollment_id = connection.execute(text("SELECT id FROM enrollment")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO human_task (journey_id, version_id, enrollment_id, profile_id, node_id, title, team,"
                " instructions, outcomes, status, created_at, due_at, note)"
                " VALUES (:j, :v, :e, :p, 'call', 'Call', 'csm', 'Call them', '[\"reached\"]', 'open',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '')"
            ),
            {"j": journey_id, "v": version_id, "e": enrollment_id, "p": 1},
        )
        row = connection.execute(text("SELECT node_id, team, status, outcome, assignee_id FROM human_task")).one()
        assert tuple(row) == ("call", "csm", "open", None, None)
        indexes = {index["name"] for index in inspect(connection).get_indexes("human_task")}
        assert {"ix_human_task_queue", "ix_human_task_enrollment", "ix_human_task_journey_node"} <= indexes

    downgrade(alembic_config(empty_url), BEFORE)

    assert "human_task" not in inspect(get_engine(empty_url)).get_table_names()
    with get_engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT step_id, status FROM enrollment")).one() == ("call", "waiting")
