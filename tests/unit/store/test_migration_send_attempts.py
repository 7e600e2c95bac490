"""Revision 0012 gives outbox messages a fencing token and an in-doubt flag and adds the send_attempt table; going
back drops them, and messages then caught mid-send or held in doubt become pending again."""

from __future__ import annotations

from alembic.command import downgrade, upgrade
from sqlalchemy import inspect, text

from engine.store import Profile, alembic_config, get_engine, session_scope, upgrade_database
from tests.engine_factories import event_trigger, journey_map, send
from tests.unit.store.older_rows import published_journey

BEFORE = "0011_event_consumption"
INSERT_MESSAGE = (
    "INSERT INTO outbox_message (idempotency_key, journey_id, profile_id, node_id, channel, recipient, subject, body,"
    " url, is_test, status, attempts, next_attempt_at, reason, created_at)"
    " VALUES (:key, :journey, :profile, 'mail', 'email', 'ada@example.com', 'Hi', 'Hello', '', false, :status, 1,"
    " CURRENT_TIMESTAMP, '', CURRENT_TIMESTAMP)"
)


def test_messages_stored_before_0012_are_unclaimed_and_not_in_doubt_and_downgrading_removes_it(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), BEFORE)
    with session_scope(empty_url) as session:
        journey_id, _ = published_journey(
            session, journey_map([event_trigger("go"), send("mail")], [("entry", "mail")])
        )
        profile = Profile(user_id="u1")
        session.add(profile)
        session.flush()
        for key, status in (("old-delivered", "delivered"), ("old-pending", "pending")):
            session.execute(
                text(INSERT_MESSAGE), {"key": key, "journey": journey_id, "profile": profile.id, "status": status}
            )

    upgrade_database(empty_url)

    with get_engine(empty_url).begin() as connection:
        rows = connection.execute(
            text("SELECT idempotency_key, lease_owner, lease_version, in_doubt FROM outbox_message ORDER BY id")
        ).all()
        assert [tuple(r) for r in rows] == [("old-delivered", None, 0, False), ("old-pending", None, 0, False)]
        assert connection.execute(text("SELECT count(*) FROM send_attempt")).scalar_one() == 0
        message_id = connection.execute(
            text("SELECT id FROM outbox_message WHERE idempotency_key = 'old-pending'")
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO send_attempt"
                " (message_id, attempt, worker, lease_version, channel, started_at, outcome, detail)"
                " VALUES (:m, 1, 'w1', 1, 'email', CURRENT_TIMESTAMP, 'sending', '')"
            ),
            {"m": message_id},
        )
        connection.execute(
            text("UPDATE outbox_message SET status = 'in_doubt', next_attempt_at = NULL, in_doubt = true")
        )

    downgrade(alembic_config(empty_url), BEFORE)

    inspector = inspect(get_engine(empty_url))
    assert "send_attempt" not in inspector.get_table_names()
    assert {"lease_owner", "lease_version", "in_doubt"}.isdisjoint(
        c["name"] for c in inspector.get_columns("outbox_message")
    )
    with get_engine(empty_url).connect() as connection:
        rows = connection.execute(text("SELECT status, next_attempt_at IS NOT NULL FROM outbox_message")).all()
    assert [tuple(r) for r in rows] == [("pending", True), ("pending", True)]
