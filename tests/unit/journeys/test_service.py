"""The journey service: create, save with optimistic concurrency, publish numbered versions, list, seed."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta

import pytest
from sqlmodel import Session, select

from engine.compiler import Plan, ProblemSeverity, compile_map
from engine.journeys import (
    CompileFailedError,
    DraftConflictError,
    JourneyNotFoundError,
    JourneySummary,
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
from engine.store import JourneyStatus, JourneyVersion, session_scope
from tests.engine_factories import journey_map, send


def cart(name: str | None = None) -> JourneyMap:
    doc = load_template("cart_abandonment")
    return doc.model_copy(update={"name": name}) if name else doc


def without_trigger() -> JourneyMap:
    return journey_map([send("hello")], [], name="No way in")


def versions_of(session: Session, journey_id: int) -> list[JourneyVersion]:
    statement = select(JourneyVersion).where(JourneyVersion.journey_id == journey_id).order_by(JourneyVersion.number)
    return list(session.exec(statement))


def test_create_journey_stores_the_document_as_a_draft(session: Session) -> None:
    doc = cart()
    journey = create_journey(session=session, doc=doc, created_by="dana")
    assert (journey.name, journey.description, journey.status) == (doc.name, doc.description, JourneyStatus.DRAFT)
    assert (journey.revision, journey.created_by) == (1, "dana")
    assert journey.created_at == journey.updated_at


def test_export_returns_the_document_that_was_stored(db_url: str) -> None:
    doc = cart()
    with session_scope(db_url) as session:
        journey_id = create_journey(session=session, doc=doc).id
    with session_scope(db_url) as session:
        assert journey_id is not None
        assert export_map(session=session, journey_id=journey_id) == doc


def test_an_unknown_journey_is_named_in_the_error(session: Session) -> None:
    with pytest.raises(JourneyNotFoundError, match="no journey with id 42"):
        get_journey(session=session, journey_id=42)
    with pytest.raises(JourneyNotFoundError):
        export_map(session=session, journey_id=42)
    with pytest.raises(JourneyNotFoundError):
        publish_journey(session=session, journey_id=42)
    with pytest.raises(JourneyNotFoundError):
        save_draft(session=session, journey_id=42, doc=cart(), expected_revision=1)


def test_every_save_bumps_the_revision_and_replaces_the_draft(session: Session) -> None:
    journey = create_journey(session=session, doc=cart())
    assert journey.id is not None
    created_at = journey.updated_at
    trial = load_template("trial_onboarding")

    second = save_draft(session=session, journey_id=journey.id, doc=cart("Renamed"), expected_revision=1)
    third = save_draft(session=session, journey_id=journey.id, doc=trial, expected_revision=2)

    assert third.revision == 3
    assert second is third
    assert (third.name, third.description) == (trial.name, trial.description)
    assert third.updated_at >= created_at
    assert export_map(session=session, journey_id=journey.id) == trial


def test_a_save_from_a_stale_revision_is_refused_and_changes_nothing(session: Session) -> None:
    journey = create_journey(session=session, doc=cart())
    assert journey.id is not None
    save_draft(session=session, journey_id=journey.id, doc=cart("Mine"), expected_revision=1)

    with pytest.raises(DraftConflictError, match="someone else saved a newer revision") as refused:
        save_draft(session=session, journey_id=journey.id, doc=cart("Theirs"), expected_revision=1)

    assert (refused.value.current_revision, refused.value.expected_revision) == (2, 1)
    stored = get_journey(session=session, journey_id=journey.id)
    assert (stored.name, stored.revision) == ("Mine", 2)


def test_a_save_naming_a_revision_that_does_not_exist_yet_is_refused(session: Session) -> None:
    journey = create_journey(session=session, doc=cart())
    assert journey.id is not None
    with pytest.raises(DraftConflictError, match="has no revision 5 yet"):
        save_draft(session=session, journey_id=journey.id, doc=cart("Ahead"), expected_revision=5)
    assert get_journey(session=session, journey_id=journey.id).revision == 1


def test_two_editors_of_the_same_revision_cannot_both_save(db_url: str) -> None:
    with session_scope(db_url) as session:
        journey_id = create_journey(session=session, doc=cart()).id
    assert journey_id is not None
    with session_scope(db_url) as first, session_scope(db_url) as second:
        # Both editors loaded revision 1; the second session still holds that copy when it saves.
        assert get_journey(session=first, journey_id=journey_id).revision == 1
        assert get_journey(session=second, journey_id=journey_id).revision == 1
        save_draft(session=first, journey_id=journey_id, doc=cart("First"), expected_revision=1)
        first.commit()
        with pytest.raises(DraftConflictError):
            save_draft(session=second, journey_id=journey_id, doc=cart("Second"), expected_revision=1)
    with session_scope(db_url) as session:
        assert get_journey(session=session, journey_id=journey_id).name == "First"


def test_publishing_freezes_numbered_versions_with_their_plan(session: Session) -> None:
    first_doc, second_doc = cart(), cart("Cart, second cut")
    journey = create_journey(session=session, doc=first_doc)
    assert journey.id is not None

    first = publish_journey(session=session, journey_id=journey.id, published_by="mo")
    save_draft(session=session, journey_id=journey.id, doc=second_doc, expected_revision=1)
    second = publish_journey(session=session, journey_id=journey.id)

    assert [v.number for v in versions_of(session, journey.id)] == [1, 2]
    assert (first.published_by, second.published_by) == ("mo", None)
    assert JourneyMap.model_validate(first.map) == first_doc
    assert JourneyMap.model_validate(second.map) == second_doc
    assert Plan.model_validate(first.plan) == compile_map(first_doc).plan
    assert Plan.model_validate(second.plan).journey_name == "Cart, second cut"
    assert first.published_at <= second.published_at


def test_published_plans_load_from_a_fresh_session(db_url: str) -> None:
    doc = cart()
    with session_scope(db_url) as session:
        journey_id = create_journey(session=session, doc=doc).id
        assert journey_id is not None
        published_at = publish_journey(session=session, journey_id=journey_id).published_at
    with session_scope(db_url) as session:
        [version] = versions_of(session, journey_id)
        assert Plan.model_validate(version.plan) == compile_map(doc).plan
        assert version.published_at.tzinfo is UTC
        assert version.published_at == published_at
        assert list_journeys(session=session)[0].updated_at.tzinfo is UTC


def test_version_numbers_count_per_journey(session: Session) -> None:
    one = create_journey(session=session, doc=cart("One"))
    two = create_journey(session=session, doc=cart("Two"))
    assert one.id is not None
    assert two.id is not None
    publish_journey(session=session, journey_id=one.id)
    publish_journey(session=session, journey_id=one.id)
    assert publish_journey(session=session, journey_id=two.id).number == 1


def test_publishing_a_map_with_errors_is_refused_and_changes_nothing(session: Session) -> None:
    journey = create_journey(session=session, doc=without_trigger())
    assert journey.id is not None
    before = (journey.revision, journey.updated_at, journey.status)

    with pytest.raises(CompileFailedError, match="cannot be published") as refused:
        publish_journey(session=session, journey_id=journey.id)

    assert "no_trigger" in {p.code for p in refused.value.problems}
    assert any(p.severity is ProblemSeverity.ERROR for p in refused.value.problems)
    assert versions_of(session, journey.id) == []
    stored = get_journey(session=session, journey_id=journey.id)
    assert (stored.revision, stored.updated_at, stored.status) == before


def test_two_publishers_at_once_get_consecutive_numbers(db_url: str) -> None:
    with session_scope(db_url) as session:
        journey_id = create_journey(session=session, doc=cart()).id
    assert journey_id is not None
    numbers: list[int] = []
    failures: list[BaseException] = []

    def publish_in_another_session() -> None:
        try:
            with session_scope(db_url) as other:
                numbers.append(publish_journey(session=other, journey_id=journey_id).number)
        except BaseException as error:  # handed to the main thread, which fails the test with it
            failures.append(error)

    with session_scope(db_url) as session:
        numbers.append(publish_journey(session=session, journey_id=journey_id).number)
        # This transaction is still open: the other publisher must wait for it, then number after it.
        other = threading.Thread(target=publish_in_another_session)
        other.start()
        other.join(timeout=0.3)
    other.join(timeout=20)

    assert failures == []
    assert sorted(numbers) == [1, 2]


def test_list_journeys_summarises_each_journey(session: Session) -> None:
    cart_doc, trial_doc = cart(), load_template("trial_onboarding")
    older = create_journey(session=session, doc=cart_doc)
    newer = create_journey(session=session, doc=trial_doc)
    assert older.id is not None
    assert newer.id is not None
    publish_journey(session=session, journey_id=older.id)
    save_draft(session=session, journey_id=newer.id, doc=trial_doc, expected_revision=1)

    summaries = list_journeys(session=session)

    assert [s.id for s in summaries] == [newer.id, older.id]
    assert summaries[1] == JourneySummary(
        id=older.id,
        name=cart_doc.name,
        status=JourneyStatus.DRAFT,
        description=cart_doc.description,
        stage_count=len(cart_doc.stages),
        node_count=len(cart_doc.nodes),
        updated_at=get_journey(session=session, journey_id=older.id).updated_at,
        latest_version=1,
    )
    assert summaries[0].latest_version is None


def test_list_journeys_is_empty_without_journeys(session: Session) -> None:
    assert list_journeys(session=session) == []


def test_seeding_creates_each_starter_once(session: Session) -> None:
    created = seed_starters(session=session)
    again = seed_starters(session=session)

    assert [j.name for j in created] == [load_template(name).name for name in list_templates()]
    assert again == []
    assert len(list_journeys(session=session)) == len(list_templates())
    assert export_map(session=session, journey_id=created[0].id or 0) == load_template(list_templates()[0])


def test_seeding_skips_a_starter_whose_name_is_taken(session: Session) -> None:
    own = create_journey(session=session, doc=cart(), created_by="dana")
    created = seed_starters(session=session)
    assert cart().name not in {j.name for j in created}
    assert len(created) == len(list_templates()) - 1
    assert get_journey(session=session, journey_id=own.id or 0).created_by == "dana"


def test_updated_at_moves_forward_on_publish(session: Session) -> None:
    journey = create_journey(session=session, doc=cart())
    assert journey.id is not None
    created = journey.updated_at
    version = publish_journey(session=session, journey_id=journey.id)
    stored = get_journey(session=session, journey_id=journey.id)
    assert stored.updated_at == version.published_at
    assert stored.updated_at - created >= timedelta(0)
