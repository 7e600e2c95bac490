"""The audit log's filters, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlmodel import Session

from engine.store import AuditEntry, audit, get_engine
from tests.engine_factories import NOW

H = timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session whose audit log starts empty (inside its transaction, which is rolled back at the end)."""
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    with Session(get_engine(url), expire_on_commit=False) as session:
        session.execute(delete(AuditEntry))
        yield session
        session.rollback()


@pytest.fixture
def logged(any_session: Session) -> Session:
    """Six entries an hour apart: two people, two journeys, user administration in between."""
    for hours, actor, action, journey_id in [
        (0, "ann@example.com", "publish", 1),
        (1, "ann@example.com", "launch", 1),
        (2, "bob@example.com", "user.create", None),
        (3, "bob@example.com", "publish", 2),
        (4, "ann@example.com", "pause", 1),
        (5, "cli:root", "key.create", None),
    ]:
        any_session.add(AuditEntry(at=NOW + hours * H, actor=actor, action=action, journey_id=journey_id))
    any_session.flush()
    return any_session


def shown(entries: list[AuditEntry]) -> list[tuple[int, str, str]]:
    return [(hours_after_now(entry), entry.actor, entry.action) for entry in entries]


def hours_after_now(entry: AuditEntry) -> int:
    return int((entry.at - NOW) / H)


def hours(entries: list[AuditEntry]) -> list[int]:
    return [hours_after_now(entry) for entry in entries]


def test_without_filters_the_newest_come_first(logged: Session) -> None:
    assert hours(audit.entries(session=logged)) == [5, 4, 3, 2, 1, 0]
    assert hours(audit.entries(session=logged, limit=2)) == [5, 4]


def test_filter_by_journey_actor_and_action(logged: Session) -> None:
    assert shown(audit.entries(session=logged, journey_id=1)) == [
        (4, "ann@example.com", "pause"),
        (1, "ann@example.com", "launch"),
        (0, "ann@example.com", "publish"),
    ]
    assert shown(audit.entries(session=logged, actor="bob@example.com")) == [
        (3, "bob@example.com", "publish"),
        (2, "bob@example.com", "user.create"),
    ]
    assert shown(audit.entries(session=logged, action="publish")) == [
        (3, "bob@example.com", "publish"),
        (0, "ann@example.com", "publish"),
    ]
    assert audit.entries(session=logged, actor="Ann@example.com") == []


def test_since_is_inclusive_and_until_exclusive(logged: Session) -> None:
    assert hours(audit.entries(session=logged, since=NOW + 1 * H, until=NOW + 4 * H)) == [3, 2, 1]
    assert hours(audit.entries(session=logged, since=NOW + 5 * H)) == [5]
    assert hours(audit.entries(session=logged, until=NOW + 1 * H)) == [0]


def test_filters_combine(logged: Session) -> None:
    found = audit.entries(session=logged, actor="ann@example.com", journey_id=1, since=NOW + H, action="pause")

    assert shown(found) == [(4, "ann@example.com", "pause")]


def test_the_actions_in_the_log_are_listed_once_each(logged: Session) -> None:
    assert audit.actions(session=logged) == ["key.create", "launch", "pause", "publish", "user.create"]
