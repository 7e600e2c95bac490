"""Revision 0013 adds each customer's in-app inbox, the secret customer tokens are signed with, and outbox messages'
button labels; going back drops them, and the messages stored meanwhile stay."""

from __future__ import annotations

import pytest
from alembic.command import downgrade, upgrade
from sqlalchemy import inspect, text

from engine.store import Profile, alembic_config, get_engine, session_scope, upgrade_database
from tests.engine_factories import event_trigger, journey_map, send
from tests.unit.store.older_rows import published_journey

BEFORE = "0012_send_attempts"
INSERT_MESSAGE = (
    "INSERT INTO outbox_message (idempotency_key, journey_id, profile_id, node_id, channel, recipient, subject, body,"
    " url, is_test, status, attempts, next_attempt_at, reason, created_at, lease_version, in_doubt)"
    " VALUES ('old-card', :journey, :profile, 'card', 'in_app', 'u1', 'Hi', 'Hello', 'https://x.example', false,"
    " 'delivered', 1, NULL, '', CURRENT_TIMESTAMP, 1, false)"
)


def test_messages_stored_before_0013_have_no_button_and_downgrading_drops_the_inboxes(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), BEFORE)
    with session_scope(empty_url) as session:
        journey_id, _ = published_journey(
            session, journey_map([event_trigger("go"), send("card", "in_app")], [("entry", "card")])
        )
        profile = Profile(user_id="u1")
        session.add(profile)
        session.flush()
        session.execute(text(INSERT_MESSAGE), {"journey": journey_id, "profile": profile.id})

    upgrade_database(empty_url)

    with get_engine(empty_url).begin() as connection:
        assert connection.execute(text("SELECT idempotency_key, button FROM outbox_message")).one() == ("old-card", "")
        message_id = connection.execute(text("SELECT id FROM outbox_message")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO in_app_message (outbox_id, user_id, node_id, title, body, button_label, button_url,"
                " is_test, created_at, expires_at) VALUES (:m, 'u1', 'card', 'Hi', 'Hello', 'Open',"
                " 'https://x.example', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"m": message_id},
        )
        connection.execute(text("INSERT INTO in_app_secret (secret, created_at) VALUES ('s', CURRENT_TIMESTAMP)"))
        with pytest.raises(Exception, match=r"(?i)unique"), connection.begin_nested():
            connection.execute(
                text(
                    "INSERT INTO in_app_message (outbox_id, user_id, node_id, title, body, button_label, button_url,"
                    " is_test, created_at, expires_at) VALUES (:m, 'u1', 'card', '', '', '', '', false,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"m": message_id},
            )

    downgrade(alembic_config(empty_url), BEFORE)

    inspector = inspect(get_engine(empty_url))
    assert {"in_app_message", "in_app_secret"}.isdisjoint(inspector.get_table_names())
    assert "button" not in {c["name"] for c in inspector.get_columns("outbox_message")}
    with get_engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT idempotency_key, status FROM outbox_message")).one() == (
            "old-card",
            "delivered",
        )
