"""The journey service: create, save with optimistic concurrency, publish numbered versions, list, seed."""

from __future__ import annotations

import re
import threading
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from engine.compiler import Plan, ProblemSeverity, compile_map
from engine.journeys import (
    ArchiveError,
    CompileFailedError,
    DraftConflictError,
    JourneyNameError,
    JourneyNotFoundError,
    JourneySummary,
    archive_blocker,
    archive_journey,
    create_blank_journey,
    create_from_starter,
    create_journey,
    draft_of,
    duplicate_journey,
    export_map,
    get_journey,
    import_journey,
    list_journeys,
    publish_journey,
    rename_journey,
    restore_journey,
    save_draft,
    seed_starters,
    suggest_name,
)
from engine.map import JourneyMap, NodeKind
from engine.map.starters import UnknownTemplateError, list_templates, load_template
from engine.runtime import StopMode, launch_journey, pause_journey, stop_journey
from engine.store import JourneyStatus, JourneyVersion, audit, session_scope
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
        touchpoint_count=6,
        updated_at=get_journey(session=session, journey_id=older.id).updated_at,
        latest_version=1,
    )
    assert summaries[0].latest_version is None


def test_touchpoints_are_the_messages_and_drawn_touchpoints_not_every_step(session: Session) -> None:
    doc = cart()
    create_journey(session=session, doc=doc)

    [summary] = list_journeys(session=session)

    # The cart starter: 12 cards, of which 3 messages (email, push, SMS) and 3 drawn touchpoints (browsing,
    # checkout, the confirmation); the trigger, two waits for the order, a wait, the goal and the exit are steps.
    kinds = [n.kind.value for n in doc.nodes]
    assert (len(kinds), kinds.count("send"), kinds.count("touchpoint")) == (12, 3, 3)
    assert (summary.node_count, summary.touchpoint_count) == (12, 6)


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


# --- new journeys, names, rename, duplicate, archive and restore ------------------------------------------


def audit_trail(session: Session, journey_id: int | None) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.actor, e.action, e.detail) for e in reversed(audit.entries(session=session, journey_id=journey_id))]


def test_a_blank_journey_has_one_stage_holding_a_trigger_card(session: Session) -> None:
    journey = create_blank_journey(session=session, name="  Welcome series ", actor="dana@example.com")
    assert journey.id is not None

    doc = export_map(session=session, journey_id=journey.id)
    assert (journey.name, doc.name, journey.status, journey.created_by) == (
        "Welcome series",
        "Welcome series",
        JourneyStatus.DRAFT,
        "dana@example.com",
    )
    [stage] = doc.stages
    [card] = doc.nodes
    assert (stage.name, card.kind, card.stage) == ("Stage 1", NodeKind.TRIGGER, stage.id)
    assert doc.edges == []
    assert audit_trail(session, journey.id) == [
        ("dana@example.com", "journey.create", {"name": "Welcome series", "starter": None})
    ]


def test_a_journey_from_a_starter_takes_the_name_given(session: Session) -> None:
    journey = create_from_starter(session=session, starter="trial_onboarding", name="Pro trial", actor="dana")
    assert journey.id is not None

    assert export_map(session=session, journey_id=journey.id) == load_template("trial_onboarding").model_copy(
        update={"name": "Pro trial"}
    )
    assert audit_trail(session, journey.id) == [
        ("dana", "journey.create", {"name": "Pro trial", "starter": "trial_onboarding"})
    ]
    with pytest.raises(UnknownTemplateError, match="no starter journey named 'nope'"):
        create_from_starter(session=session, starter="nope", name="Other", actor="dana")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "a journey needs a name"),
        ("   ", "a journey needs a name"),
        ("x" * 201, "at most 200 characters; this one has 201"),
        ("Cart abandonment recovery", "another journey is already called 'Cart abandonment recovery'"),
        ("cart ABANDONMENT recovery ", "such as 'cart ABANDONMENT recovery (2)'"),
    ],
)
def test_a_new_journey_needs_a_name_no_other_journey_has(session: Session, name: str, reason: str) -> None:
    create_journey(session=session, doc=cart())

    for create in (
        lambda: create_blank_journey(session=session, name=name, actor="dana"),
        lambda: create_from_starter(session=session, starter="cart_abandonment", name=name, actor="dana"),
    ):
        with pytest.raises(JourneyNameError, match=re.escape(reason)):
            create()

    assert [s.name for s in list_journeys(session=session)] == [cart().name]
    assert audit_trail(session, None) == []


def test_an_archived_journeys_name_stays_taken_and_the_refusal_says_so(session: Session) -> None:
    old = create_blank_journey(session=session, name="Winback", actor="dana")
    assert old.id is not None
    archive_journey(session=session, journey_id=old.id, actor="dana")

    with pytest.raises(JourneyNameError, match=r"an archived journey is already called 'Winback'.*'Winback \(2\)'"):
        create_blank_journey(session=session, name="Winback", actor="dana")


def test_suggested_names_count_up_from_two(session: Session) -> None:
    assert suggest_name(session=session, wanted=" Fresh ") == "Fresh"
    create_journey(session=session, doc=cart("Fresh"))
    assert suggest_name(session=session, wanted="Fresh") == "Fresh (2)"
    create_journey(session=session, doc=cart("fresh (2)"))
    assert suggest_name(session=session, wanted="Fresh") == "Fresh (3)"
    assert suggest_name(session=session, wanted="Fresh (2)") == "Fresh (3)"
    long = "y" * 200
    create_journey(session=session, doc=cart(long))
    assert suggest_name(session=session, wanted=long) == "y" * 196 + " (2)"


def test_renaming_changes_the_journey_and_its_draft_and_moves_the_revision_on(session: Session) -> None:
    journey = create_blank_journey(session=session, name="Welcome", actor="dana")
    assert journey.id is not None

    renamed = rename_journey(session=session, journey_id=journey.id, name=" Welcome series ", actor="lee")

    assert (renamed.name, renamed.revision) == ("Welcome series", 2)
    assert export_map(session=session, journey_id=journey.id).name == "Welcome series"
    assert audit_trail(session, journey.id)[-1] == (
        "lee",
        "journey.rename",
        {"old": "Welcome", "new": "Welcome series"},
    )
    # Its own name in other letter case is not "taken"; the same name again changes nothing.
    assert rename_journey(session=session, journey_id=journey.id, name="WELCOME series", actor="lee").revision == 3
    unchanged = rename_journey(session=session, journey_id=journey.id, name="WELCOME series", actor="lee")
    assert unchanged.revision == 3
    assert len(audit_trail(session, journey.id)) == 3


def test_renaming_to_another_journeys_name_or_after_someone_elses_save_is_refused(session: Session) -> None:
    create_journey(session=session, doc=cart())
    journey = create_blank_journey(session=session, name="Mine", actor="dana")
    assert journey.id is not None

    with pytest.raises(JourneyNameError, match="another journey is already called"):
        rename_journey(session=session, journey_id=journey.id, name=cart().name, actor="dana")
    save_draft(
        session=session,
        journey_id=journey.id,
        doc=export_map(session=session, journey_id=journey.id),
        expected_revision=1,
    )
    with pytest.raises(DraftConflictError):
        rename_journey(session=session, journey_id=journey.id, name="Ours", actor="dana", expected_revision=1)

    stored = get_journey(session=session, journey_id=journey.id)
    assert (stored.name, stored.revision) == ("Mine", 2)
    with pytest.raises(JourneyNotFoundError):
        rename_journey(session=session, journey_id=999, name="Ghost", actor="dana")


def test_a_duplicate_copies_the_draft_under_the_next_free_name(session: Session) -> None:
    source = create_journey(session=session, doc=cart(), created_by="starter")
    assert source.id is not None
    publish_journey(session=session, journey_id=source.id)
    launch_journey(session=session, journey_id=source.id, actor="mara")

    first = duplicate_journey(session=session, journey_id=source.id, actor="dana")
    second = duplicate_journey(session=session, journey_id=source.id, actor="dana")
    assert first.id is not None
    assert second.id is not None

    assert [first.name, second.name] == [f"{cart().name} (2)", f"{cart().name} (3)"]
    assert export_map(session=session, journey_id=first.id) == cart(f"{cart().name} (2)")
    assert (first.status, first.created_by, versions_of(session, first.id)) == (JourneyStatus.DRAFT, "dana", [])
    assert get_journey(session=session, journey_id=source.id).status is JourneyStatus.LIVE
    assert audit_trail(session, first.id) == [
        ("dana", "journey.duplicate", {"source": source.id, "name": f"{cart().name} (2)"})
    ]
    third = duplicate_journey(session=session, journey_id=first.id, actor="dana")
    assert third.name == f"{cart().name} (4)"


def test_archiving_takes_a_journey_off_the_list_and_restoring_brings_it_back(session: Session) -> None:
    kept = create_journey(session=session, doc=cart())
    journey = create_journey(session=session, doc=load_template("trial_onboarding"))
    assert journey.id is not None
    assert kept.id is not None
    publish_journey(session=session, journey_id=journey.id)

    archived = archive_journey(session=session, journey_id=journey.id, actor="dana@example.com")

    assert archived.archived_by == "dana@example.com"
    assert archived.archived_at is not None
    assert [s.id for s in list_journeys(session=session)] == [kept.id]
    [shown] = list_journeys(session=session, archived=True)
    assert (shown.id, shown.archived_by, shown.latest_version) == (journey.id, "dana@example.com", 1)
    assert {s.id for s in list_journeys(session=session, archived=None)} == {kept.id, journey.id}
    assert len(versions_of(session, journey.id)) == 1
    with pytest.raises(ArchiveError, match="is already archived"):
        archive_journey(session=session, journey_id=journey.id, actor="dana@example.com")

    restored = restore_journey(session=session, journey_id=journey.id, actor="lee@example.com")

    assert (restored.archived_at, restored.archived_by) == (None, None)
    assert [s.id for s in list_journeys(session=session)] == [journey.id, kept.id]
    assert [(actor, action) for actor, action, _ in audit_trail(session, journey.id)] == [
        ("dana@example.com", "journey.archive"),
        ("lee@example.com", "journey.restore"),
    ]
    with pytest.raises(ArchiveError, match="is not archived"):
        restore_journey(session=session, journey_id=journey.id, actor="lee@example.com")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (JourneyStatus.LIVE, "it is live; stop it in launch control before archiving it"),
        (JourneyStatus.PAUSED, "it is paused; stop it in launch control before archiving it"),
        (JourneyStatus.DRAINING, "it is draining (customers are still finishing their runs)"),
    ],
)
def test_a_journey_customers_can_be_in_cannot_be_archived(session: Session, status: JourneyStatus, reason: str) -> None:
    journey = create_journey(session=session, doc=cart())
    assert journey.id is not None
    publish_journey(session=session, journey_id=journey.id)
    launch_journey(session=session, journey_id=journey.id, actor="mara")
    if status is JourneyStatus.PAUSED:
        pause_journey(session=session, journey_id=journey.id, actor="mara")
    if status is JourneyStatus.DRAINING:
        # A waiting customer keeps a draining journey from stopping at once.
        stop_journey(session=session, journey_id=journey.id, actor="mara", mode=StopMode.DRAIN)
    assert get_journey(session=session, journey_id=journey.id).status is status
    assert archive_blocker(status) is not None
    assert (archive_blocker(status) or "").startswith(reason)

    with pytest.raises(ArchiveError, match=re.escape(f"journey {cart().name!r} cannot be archived: {reason}")):
        archive_journey(session=session, journey_id=journey.id, actor="dana")

    assert get_journey(session=session, journey_id=journey.id).archived_at is None
    assert audit.entries(session=session, journey_id=journey.id, action="journey.archive") == []


def test_a_stopped_journey_can_be_archived(session: Session) -> None:
    journey = create_journey(session=session, doc=cart())
    assert journey.id is not None
    publish_journey(session=session, journey_id=journey.id)
    launch_journey(session=session, journey_id=journey.id, actor="mara")
    stop_journey(session=session, journey_id=journey.id, actor="mara", mode=StopMode.NOW)

    assert archive_blocker(JourneyStatus.STOPPED) is None
    assert archive_journey(session=session, journey_id=journey.id, actor="dana").archived_by == "dana"


def test_archiving_reads_the_journey_as_stored_now_not_a_stale_copy_in_the_session(db_url: str) -> None:
    with session_scope(db_url) as session:
        journey_id = create_journey(session=session, doc=cart()).id
        assert journey_id is not None
        publish_journey(session=session, journey_id=journey_id)
    with session_scope(db_url) as session:
        # This session read the journey as a draft; another one launches it before the archive is written.
        assert get_journey(session=session, journey_id=journey_id).status is JourneyStatus.DRAFT
        with session_scope(db_url) as other:
            launch_journey(session=other, journey_id=journey_id, actor="mara")
        with pytest.raises(ArchiveError, match="it is live"):
            archive_journey(session=session, journey_id=journey_id, actor="dana")
    with session_scope(db_url) as session:
        assert get_journey(session=session, journey_id=journey_id).archived_at is None


def test_an_imported_map_may_not_take_an_archived_journeys_name(session: Session) -> None:
    kept = create_journey(session=session, doc=cart("Spring sale"))
    assert kept.id is not None
    archive_journey(session=session, journey_id=kept.id, actor="dana@example.com")

    refusal = r"an archived journey is already called 'Spring sale'; choose another name, such as 'spring sale \(2\)'"
    with pytest.raises(JourneyNameError, match=refusal):
        import_journey(session=session, doc=cart("spring sale"), actor="dana@example.com")
    imported = import_journey(session=session, doc=cart(" Summer sale "), actor="dana@example.com")

    assert imported.name == "Summer sale"
    assert draft_of(imported).name == "Summer sale"
