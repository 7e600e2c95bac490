"""The database layer: URLs, SQLite settings, timestamps and the journey tables on a migrated SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, select

from engine.map import JourneyMap
from engine.map.starters import load_template
from engine.store import (
    DEFAULT_SQLITE,
    PROJECT_ROOT,
    Journey,
    JourneyStatus,
    JourneyVersion,
    all_journeys,
    database_url,
    find_journey,
    find_journey_by_name,
    get_engine,
    latest_version_numbers,
    next_version_number,
    normalise_url,
    replace_draft,
    session_scope,
    touch_journey,
)

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def make_journey(session: Session, *, name: str = "Cart", doc: JourneyMap | None = None, **fields: Any) -> Journey:
    draft = doc or load_template("cart_abandonment")
    journey = Journey(name=name, draft_map=draft.model_dump(mode="json"), **fields)
    session.add(journey)
    session.flush()
    return journey


def make_version(session: Session, journey: Journey, number: int) -> JourneyVersion:
    assert journey.id is not None
    version = JourneyVersion(journey_id=journey.id, number=number, map=journey.draft_map, plan={"steps": []})
    session.add(version)
    session.flush()
    return version


def test_database_url_defaults_to_a_sqlite_file_in_the_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert (PROJECT_ROOT / "pyproject.toml").is_file()
    assert DEFAULT_SQLITE == PROJECT_ROOT / "journey_builder.db"
    assert database_url() == f"sqlite:///{DEFAULT_SQLITE}"


def test_database_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://app:secret@db.internal:5432/journeys")
    assert database_url() == "postgresql+psycopg://app:secret@db.internal:5432/journeys"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_postgres_urls_are_normalised_to_psycopg_3(given: str, used: str) -> None:
    assert normalise_url(given) == used


def test_engines_are_cached_per_url(db_url: str) -> None:
    assert get_engine(db_url) is get_engine(db_url)


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() > 0


def test_session_scope_commits_on_success(db_url: str) -> None:
    with session_scope(db_url) as session:
        make_journey(session, name="Kept")
    with session_scope(db_url) as session:
        assert find_journey_by_name(session=session, name="Kept") is not None


def test_session_scope_rolls_back_when_the_block_raises(db_url: str) -> None:
    def save_then_fail() -> None:
        with session_scope(db_url) as session:
            make_journey(session, name="Lost")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_then_fail()
    with session_scope(db_url) as session:
        assert find_journey_by_name(session=session, name="Lost") is None


def test_a_stored_map_reads_back_equal_to_the_document(db_url: str) -> None:
    doc = load_template("cart_abandonment")
    with session_scope(db_url) as session:
        journey_id = make_journey(session, doc=doc).id
    # A second session, so the map comes from the database and not from the first session's objects.
    with session_scope(db_url) as session:
        stored = session.exec(select(Journey).where(Journey.id == journey_id)).one()
        assert stored.draft_map == doc.model_dump(mode="json")
        assert JourneyMap.model_validate(stored.draft_map) == doc


def test_new_journeys_start_as_drafts_at_revision_one(session: Session) -> None:
    journey = make_journey(session)
    assert (journey.status, journey.revision, journey.created_by) == (JourneyStatus.DRAFT, 1, None)


def test_timestamps_come_back_as_aware_utc(db_url: str) -> None:
    paris_noon = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with session_scope(db_url) as session:
        journey_id = make_journey(session, created_at=paris_noon, updated_at=paris_noon).id
    with session_scope(db_url) as session:
        stored = session.exec(select(Journey).where(Journey.id == journey_id)).one()
        assert stored.created_at.tzinfo is UTC
        assert stored.created_at == paris_noon
        assert stored.created_at.hour == 10


def test_sqlite_keeps_utc_timestamps_as_text_that_sorts_and_matches_sqlalchemys(db_url: str) -> None:
    # On the hour (no microseconds to print) and from another zone: both as SQLAlchemy's DateTime
    # writes them, so a query comparing with a bound time (written by the same type) still matches.
    on_the_hour = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    later = on_the_hour + timedelta(microseconds=7)
    with session_scope(db_url) as session:
        journey_id = make_journey(session, created_at=on_the_hour, updated_at=later).id
    with session_scope(db_url) as session:
        raw = session.execute(
            text("SELECT created_at, updated_at FROM journey WHERE id = :id"), {"id": journey_id}
        ).one()
        found = session.exec(select(Journey).where(Journey.created_at == on_the_hour)).all()
    assert tuple(raw) == ("2026-06-01 10:00:00.000000", "2026-06-01 10:00:00.000007")
    assert [j.id for j in found] == [journey_id]


def test_naive_timestamps_are_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        make_journey(session, created_at=datetime(2026, 6, 1, 12, 0))


def test_status_is_stored_as_its_value(session: Session) -> None:
    make_journey(session, status=JourneyStatus.PAUSED)
    assert session.connection().execute(text("SELECT status FROM journey")).scalar_one() == "paused"


def test_find_journey_reads_past_a_stale_copy_in_the_session(db_url: str) -> None:
    with session_scope(db_url) as first:
        journey_id = make_journey(first).id
    with session_scope(db_url) as reader, session_scope(db_url) as writer:
        assert journey_id is not None
        stale = find_journey(session=reader, journey_id=journey_id)
        assert stale is not None
        assert stale.revision == 1
        assert replace_draft(
            session=writer,
            journey_id=journey_id,
            expected_revision=1,
            draft_map=stale.draft_map,
            name="Renamed",
            description="",
            at=AT,
        )
        writer.commit()
        fresh = find_journey(session=reader, journey_id=journey_id)
        assert fresh is not None
        assert (fresh.revision, fresh.name) == (2, "Renamed")


def test_replace_draft_applies_only_at_the_expected_revision(session: Session) -> None:
    journey = make_journey(session)
    assert journey.id is not None
    new_map = load_template("trial_onboarding").model_dump(mode="json")
    replaced = replace_draft(
        session=session, journey_id=journey.id, expected_revision=1, draft_map=new_map, name="N", description="D", at=AT
    )
    again = replace_draft(
        session=session, journey_id=journey.id, expected_revision=1, draft_map={}, name="X", description="", at=AT
    )
    stored = find_journey(session=session, journey_id=journey.id)
    assert (replaced, again) == (True, False)
    assert stored is not None
    assert (stored.revision, stored.name, stored.description, stored.updated_at) == (2, "N", "D", AT)
    assert stored.draft_map == new_map


def test_touch_journey_reports_whether_the_journey_exists(session: Session) -> None:
    journey = make_journey(session)
    assert journey.id is not None
    assert touch_journey(session=session, journey_id=journey.id, at=AT)
    assert not touch_journey(session=session, journey_id=journey.id + 1, at=AT)
    stored = find_journey(session=session, journey_id=journey.id)
    assert stored is not None
    assert stored.updated_at == AT


def test_version_numbers_are_unique_per_journey(session: Session) -> None:
    first, second = make_journey(session, name="A"), make_journey(session, name="B")
    make_version(session, first, 1)
    make_version(session, second, 1)
    with pytest.raises(IntegrityError, match="UNIQUE"):
        make_version(session, first, 1)


def test_next_version_number_counts_per_journey(session: Session) -> None:
    first, second = make_journey(session, name="A"), make_journey(session, name="B")
    assert first.id is not None
    assert second.id is not None
    make_version(session, first, 1)
    make_version(session, first, 2)
    assert next_version_number(session=session, journey_id=first.id) == 3
    assert next_version_number(session=session, journey_id=second.id) == 1
    assert latest_version_numbers(session=session) == {first.id: 2}


def test_a_version_needs_an_existing_journey(session: Session) -> None:
    session.add(JourneyVersion(journey_id=999, number=1, map={}, plan={}))
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        session.flush()


def test_deleting_a_journey_deletes_its_versions(session: Session) -> None:
    journey = make_journey(session)
    make_version(session, journey, 1)
    session.connection().execute(text("DELETE FROM journey"))
    assert session.connection().execute(text("SELECT count(*) FROM journey_version")).scalar_one() == 0


def test_all_journeys_lists_the_most_recently_updated_first(session: Session) -> None:
    make_journey(session, name="Old", updated_at=AT - timedelta(days=1))
    make_journey(session, name="New", updated_at=AT)
    make_journey(session, name="Oldest", updated_at=AT - timedelta(days=2))
    assert [j.name for j in all_journeys(session=session)] == ["New", "Old", "Oldest"]
