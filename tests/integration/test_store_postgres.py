"""The journey store and service on PostgreSQL: the same guarantees as on SQLite, with real concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import select

from engine.compiler import Plan, compile_map
from engine.journeys import (
    CompileFailedError,
    DraftConflictError,
    create_journey,
    export_map,
    get_journey,
    list_journeys,
    publish_journey,
    save_draft,
    seed_starters,
)
from engine.map import JourneyMap
from engine.map.starters import list_templates, load_template
from engine.store import Journey, JourneyVersion, get_engine, metadata, session_scope
from tests.engine_factories import journey_map, send

pytestmark = pytest.mark.postgres


def unique(template: str = "cart_abandonment") -> JourneyMap:
    """A starter under a name no other test in this shared database uses."""
    doc = load_template(template)
    return doc.model_copy(update={"name": f"{doc.name} {uuid.uuid4().hex[:8]}"})


def stored(pg_url: str, doc: JourneyMap) -> int:
    with session_scope(pg_url) as session:
        journey_id = create_journey(session=session, doc=doc).id
    assert journey_id is not None
    return journey_id


def numbers(pg_url: str, journey_id: int) -> list[int]:
    with session_scope(pg_url) as session:
        statement = select(JourneyVersion.number).where(JourneyVersion.journey_id == journey_id)
        return sorted(session.exec(statement))


def in_parallel(*calls: Callable[[], object]) -> list[BaseException]:
    failures: list[BaseException] = []

    def guarded(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as error:  # collected for the test to report
            failures.append(error)

    threads = [threading.Thread(target=guarded, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return failures


def test_the_migrated_schema_matches_the_models(pg_url: str) -> None:
    with get_engine(pg_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_a_stored_map_reads_back_equal_to_the_document(pg_url: str) -> None:
    doc = unique()
    journey_id = stored(pg_url, doc)
    with session_scope(pg_url) as session:
        journey = session.exec(select(Journey).where(Journey.id == journey_id)).one()
        assert journey.draft_map == doc.model_dump(mode="json")
        assert export_map(session=session, journey_id=journey_id) == doc
        assert journey.created_at.tzinfo is UTC


def test_saves_bump_the_revision_and_a_stale_save_is_refused(pg_url: str) -> None:
    journey_id = stored(pg_url, unique())
    renamed = unique()
    with session_scope(pg_url) as session:
        assert save_draft(session=session, journey_id=journey_id, doc=renamed, expected_revision=1).revision == 2
    with pytest.raises(DraftConflictError, match="someone else saved a newer revision"), session_scope(pg_url) as s:
        save_draft(session=s, journey_id=journey_id, doc=unique(), expected_revision=1)
    with session_scope(pg_url) as session:
        assert export_map(session=session, journey_id=journey_id) == renamed


def test_concurrent_saves_of_one_revision_let_exactly_one_win(pg_url: str) -> None:
    journey_id = stored(pg_url, unique())
    docs = [unique(), unique()]

    def save(doc: JourneyMap) -> Callable[[], object]:
        def call() -> object:
            with session_scope(pg_url) as session:
                return save_draft(session=session, journey_id=journey_id, doc=doc, expected_revision=1)

        return call

    failures = in_parallel(*(save(doc) for doc in docs))

    assert [type(f) for f in failures] == [DraftConflictError]
    with session_scope(pg_url) as session:
        journey = get_journey(session=session, journey_id=journey_id)
        assert journey.revision == 2
        assert journey.name in {doc.name for doc in docs}


def test_publishing_freezes_numbered_versions_with_their_plan(pg_url: str) -> None:
    first_doc, second_doc = unique(), unique()
    journey_id = stored(pg_url, first_doc)
    with session_scope(pg_url) as session:
        publish_journey(session=session, journey_id=journey_id, published_by="mo")
        save_draft(session=session, journey_id=journey_id, doc=second_doc, expected_revision=1)
        publish_journey(session=session, journey_id=journey_id)
    with session_scope(pg_url) as session:
        statement = select(JourneyVersion).where(JourneyVersion.journey_id == journey_id)
        first, second = sorted(session.exec(statement), key=lambda v: v.number)
        assert (first.number, second.number) == (1, 2)
        assert Plan.model_validate(first.plan) == compile_map(first_doc).plan
        assert Plan.model_validate(second.plan) == compile_map(second_doc).plan
        assert JourneyMap.model_validate(second.map) == second_doc
        assert [s.latest_version for s in list_journeys(session=session) if s.id == journey_id] == [2]


def test_publishing_a_map_with_errors_changes_nothing(pg_url: str) -> None:
    journey_id = stored(pg_url, journey_map([send("hello")], [], name=f"No trigger {uuid.uuid4().hex[:8]}"))
    with session_scope(pg_url) as session:
        before = get_journey(session=session, journey_id=journey_id).updated_at
    with pytest.raises(CompileFailedError) as refused, session_scope(pg_url) as session:
        publish_journey(session=session, journey_id=journey_id)
    assert "no_trigger" in {p.code for p in refused.value.problems}
    assert numbers(pg_url, journey_id) == []
    with session_scope(pg_url) as session:
        assert get_journey(session=session, journey_id=journey_id).updated_at == before


def test_concurrent_publishers_get_consecutive_numbers(pg_url: str) -> None:
    journey_id = stored(pg_url, unique())

    def publish() -> object:
        with session_scope(pg_url) as session:
            return publish_journey(session=session, journey_id=journey_id)

    assert in_parallel(publish, publish, publish) == []
    assert numbers(pg_url, journey_id) == [1, 2, 3]


def test_seeding_is_idempotent(pg_url: str) -> None:
    with session_scope(pg_url) as session:
        seed_starters(session=session)
    with session_scope(pg_url) as session:
        assert seed_starters(session=session) == []
        names = {s.name for s in list_journeys(session=session)}
    assert {load_template(name).name for name in list_templates()} <= names
