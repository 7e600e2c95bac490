"""Migration 0007: the sign-in throttle's table, the session hand-over code, and the account's own lock-out gone."""

from __future__ import annotations

from alembic.command import downgrade, upgrade
from sqlalchemy import inspect, text

from engine.accounts import create_user
from engine.store import Role, alembic_config, get_engine, session_scope, upgrade_database

BEFORE = "0007_run_failure"


def columns(url: str, table: str) -> set[str]:
    return {column["name"] for column in inspect(get_engine(url)).get_columns(table)}


def test_upgrading_keeps_users_and_sessions_and_drops_the_accounts_lock(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), BEFORE)
    with get_engine(empty_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO user_account (email, name, role, password_hash, created_at, failed_sign_ins, locked_until)"
                " VALUES ('ann@example.com', 'Ann', 'admin', 'hash', '2026-12-01 09:00:00', 4, '2026-12-01 09:15:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO user_session (secret_hash, user_id, created_at, last_seen_at)"
                " VALUES ('abc', 1, '2026-12-01 09:00:00', '2026-12-01 09:00:00')"
            )
        )

    upgrade_database(empty_url)

    assert {"failed_sign_ins", "locked_until"}.isdisjoint(columns(empty_url, "user_account"))
    assert {"handoff_hash", "handoff_until"} <= columns(empty_url, "user_session")
    assert columns(empty_url, "sign_in_attempt") == {"id", "client", "email_hash", "at"}
    indexes = {index["name"] for index in inspect(get_engine(empty_url)).get_indexes("sign_in_attempt")}
    assert indexes == {"ix_sign_in_attempt_client_at", "ix_sign_in_attempt_email_client", "ix_sign_in_attempt_at"}
    with get_engine(empty_url).connect() as connection:
        assert connection.execute(text("SELECT email, name FROM user_account")).all() == [("ann@example.com", "Ann")]
        assert connection.execute(text("SELECT secret_hash, handoff_hash FROM user_session")).all() == [("abc", None)]


def test_downgrading_brings_the_accounts_lock_back_unlocked(empty_url: str) -> None:
    upgrade_database(empty_url)
    with session_scope(empty_url) as session:
        create_user(session=session, email="ann@example.com", password="a long password", role=Role.ADMIN, actor="t")

    downgrade(alembic_config(empty_url), BEFORE)

    assert "sign_in_attempt" not in inspect(get_engine(empty_url)).get_table_names()
    with get_engine(empty_url).connect() as connection:
        locks = connection.execute(text("SELECT failed_sign_ins, locked_until FROM user_account")).all()
    assert locks == [(0, None)]
    upgrade_database(empty_url)
    assert "sign_in_attempt" in inspect(get_engine(empty_url)).get_table_names()
