"""The Alembic migrations build exactly the schema the SQLModel tables describe, and can be undone."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.migration import MigrationContext
from sqlalchemy import JSON, bindparam, inspect, text
from sqlmodel import Session

from engine.compiler import compile_map
from engine.journeys import list_journeys
from engine.map import JourneyMap
from engine.store import (
    PROJECT_ROOT,
    Profile,
    UtcDateTime,
    alembic_config,
    get_engine,
    metadata,
    session_scope,
    upgrade_database,
)
from tests.engine_factories import NOW, event_trigger, journey_map, node


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


def stored_at_revision_0003(session: Session, doc: JourneyMap) -> tuple[int, int]:
    """The ids of a journey and its first version, stored as 0003's tables hold them (the models have columns
    those lack)."""
    plan = compile_map(doc).plan
    assert plan is not None
    journey = session.execute(
        text(
            "INSERT INTO journey (name, description, status, draft_map, revision, created_at, updated_at)"
            " VALUES (:name, '', 'draft', :map, 1, :at, :at) RETURNING id"
        ).bindparams(bindparam("map", type_=JSON), bindparam("at", type_=UtcDateTime)),
        {"name": doc.name, "map": doc.model_dump(mode="json"), "at": NOW},
    ).scalar_one()
    version = session.execute(
        text(
            "INSERT INTO journey_version (journey_id, number, map, plan, published_at)"
            " VALUES (:journey, 1, :map, :plan, :at) RETURNING id"
        ).bindparams(bindparam("map", type_=JSON), bindparam("plan", type_=JSON), bindparam("at", type_=UtcDateTime)),
        {"journey": journey, "map": doc.model_dump(mode="json"), "plan": plan.model_dump(mode="json"), "at": NOW},
    ).scalar_one()
    return journey, version


def test_upgrading_fills_in_where_earlier_transitions_came_from_and_where_runs_are(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), "0003_metrics_indexes")
    with session_scope(empty_url) as session:
        doc = journey_map([event_trigger("go"), node("hold", "wait", duration="PT1H")], [("entry", "hold")])
        journey_id, version_id = stored_at_revision_0003(session, doc)
        # Runs as 0003's enrollment table holds them (the model has a column it does not have yet).
        enter = text(
            "INSERT INTO enrollment (journey_id, version_id, profile_id, status, context, entered_at)"
            " VALUES (:journey, :version, :profile, 'waiting', :context, :at)"
        ).bindparams(bindparam("context", type_=JSON), bindparam("at", type_=UtcDateTime))
        runs = []
        for user in ("a", "b"):
            profile = Profile(user_id=user)
            session.add(profile)
            session.flush()
            values = {"journey": journey_id, "version": version_id, "profile": profile.id, "context": {}, "at": NOW}
            session.execute(enter, values)
            run_id = session.execute(text("SELECT max(id) FROM enrollment")).scalar_one()
            runs.append((run_id, journey_id, version_id))
    # The two runs' steps interleave, as runs advanced in the same batches record them.
    steps = [
        (0, "entry", "s1", 0),
        (1, "entry", "s1", 1),
        (0, "hold", "s2", 0),
        (0, "done", "s2", 2),
        (1, "hold", "s2", 3),
    ]
    insert = text(
        "INSERT INTO transition (enrollment_id, journey_id, version_id, node_id, stage_id, first_in_stage, at)"
        " VALUES (:run, :journey, :version, :node, :stage, :first, :at)"
    ).bindparams(bindparam("at", type_=UtcDateTime))
    with get_engine(empty_url).begin() as connection:
        for run, node_id, stage_id, hours in steps:
            run_id, journey_id, version_id = runs[run]
            values = {"run": run_id, "journey": journey_id, "version": version_id, "node": node_id, "stage": stage_id}
            first = node_id != "done"
            connection.execute(insert, {**values, "first": first, "at": NOW + timedelta(hours=hours)})

    upgrade_database(empty_url)

    read = text(
        "SELECT enrollment_id, node_id, from_node_id, from_at, from_stage_id, from_stage_at, from_stage_seconds"
        " FROM transition ORDER BY id"
    ).columns(from_at=UtcDateTime, from_stage_at=UtcDateTime)
    where = text("SELECT id, step_entered_at, stage_id, stage_entered_at FROM enrollment ORDER BY id").columns(
        step_entered_at=UtcDateTime, stage_entered_at=UtcDateTime
    )
    with get_engine(empty_url).connect() as connection:
        recorded = [tuple(row) for row in connection.execute(read)]
        runs_are = [tuple(row) for row in connection.execute(where)]
    (a, *_), (b, *_) = runs
    one = timedelta(hours=1)
    assert recorded == [
        (a, "entry", None, None, None, None, None),
        (b, "entry", None, None, None, None, None),
        (a, "hold", "entry", NOW, "s1", NOW, 0.0),
        (a, "done", "hold", NOW, None, None, None),
        (b, "hold", "entry", NOW + one, "s1", NOW + one, pytest.approx(2 * 3600.0)),
    ]
    # Both runs are still waiting, each at the step its latest transition entered, in the stage its
    # latest stage entry entered.
    assert runs_are == [(a, NOW + 2 * one, "s2", NOW), (b, NOW + 3 * one, "s2", NOW + 3 * one)]


def test_journeys_stored_before_archiving_existed_come_out_not_archived_and_downgrade_keeps_them(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    upgrade(alembic_config(url), "0006_transition_source")
    with get_engine(url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journey (name, description, status, draft_map, revision, created_at, updated_at)"
                " VALUES ('Old', '', 'draft', :map, 1, :at, :at)"
            ).bindparams(bindparam("map", type_=JSON), bindparam("at", type_=UtcDateTime)),
            {"map": {"name": "Old"}, "at": NOW},
        )

    upgrade_database(url)

    with session_scope(url) as session:
        assert [(s.name, s.archived_at) for s in list_journeys(session=session)] == [("Old", None)]
    downgrade(alembic_config(url), "0006_transition_source")
    assert "archived_at" not in {c["name"] for c in inspect(get_engine(url)).get_columns("journey")}
    with get_engine(url).connect() as connection:
        assert connection.execute(text("SELECT name FROM journey")).scalars().all() == ["Old"]
