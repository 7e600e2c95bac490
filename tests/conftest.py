"""Shared fixtures: a migrated SQLite database per test, and a PostgreSQL database per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from engine.store import get_engine, normalise_url, upgrade_database

POSTGRES_ADMIN_URL = normalise_url(
    os.environ.get("JOURNEY_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'journeys.db'}"
    upgrade_database(url)
    yield url
    get_engine(url).dispose()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on ``db_url``, configured like ``session_scope``'s; what a test leaves uncommitted is rolled back."""
    with Session(get_engine(db_url), expire_on_commit=False) as open_session:
        yield open_session


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped afterwards; the test is skipped, saying why, when
    PostgreSQL cannot be reached."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        where = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL is not reachable at {where} (set JOURNEY_TEST_POSTGRES_URL): {error.orig}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    with scratch_postgres_database("journey_test") as url:
        upgrade_database(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_database_url(request: pytest.FixtureRequest, db_url: str) -> Iterator[str]:
    """A migrated database of the test's own, on SQLite and on PostgreSQL (a scratch database, dropped after), for
    tests that commit, run other processes against it or count what the whole database holds."""
    if request.param == "sqlite":
        yield db_url
        return
    with scratch_postgres_database("journey_own") as url:
        upgrade_database(url)
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: their app (and the engine ticking inside it) then runs alone, at the end."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
