"""The Alembic migrations build exactly the schema the SQLModel tables describe, and can be undone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from engine.store.db import PROJECT_ROOT, alembic_config, get_engine, upgrade_database
from engine.store.models import metadata


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migrated.db'}"


def table_names(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_on_an_empty_database_creates_every_table(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    assert table_names(url) == set(metadata.tables) | {"alembic_version"}


def test_the_journey_tables_have_their_indexes_and_constraints(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    inspector = inspect(get_engine(url))
    assert {i["name"] for i in inspector.get_indexes("journey")} == {"ix_journey_name"}
    assert {i["name"] for i in inspector.get_indexes("journey_version")} == {"ix_journey_version_journey_id"}
    assert [(u["name"], u["column_names"]) for u in inspector.get_unique_constraints("journey_version")] == [
        ("uq_journey_version_number", ["journey_id", "number"])
    ]
    [foreign_key] = inspector.get_foreign_keys("journey_version")
    assert (foreign_key["referred_table"], foreign_key["options"].get("ondelete")) == ("journey", "CASCADE")


def test_upgrade_twice_changes_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    head = current_revision(url)
    upgrade_database(url)
    assert current_revision(url) == head


def test_the_first_revision_holds_exactly_the_journey_tables(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade(alembic_config(url), "0001_journeys")
    assert current_revision(url) == "0001_journeys"
    assert table_names(url) == {"journey", "journey_version", "alembic_version"}


def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds_them(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    migrated = table_names(url)
    downgrade(alembic_config(url), "base")
    assert table_names(url) == {"alembic_version"}
    assert current_revision(url) is None
    upgrade_database(url)
    assert table_names(url) == migrated


def test_the_migrated_schema_matches_the_models(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        assert compare_metadata(context, metadata) == []


def test_the_alembic_command_line_takes_the_url_from_x_arguments(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    finished = subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "0001_journeys"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert current_revision(url) == "0001_journeys"
