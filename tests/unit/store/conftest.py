"""Fixtures of the store's tests: an empty database for the migration tests, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import get_engine
from tests.conftest import scratch_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
        yield url
        get_engine(url).dispose()
        return
    with scratch_postgres_database("journey_migration") as url:
        yield url
