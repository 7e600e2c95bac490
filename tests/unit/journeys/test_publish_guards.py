"""What publishing and launching refuse: an archived journey, and what "unpublished changes" means."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from engine.journeys import (
    ArchiveError,
    JourneyArchivedError,
    archive_journey,
    create_journey,
    get_journey,
    has_unpublished_changes,
    publish_blocker,
    publish_journey,
    restore_journey,
    save_draft,
)
from engine.map.starters import load_template
from engine.runtime import LifecycleError, action_blocker, launch_journey, publish_consequence
from engine.store import JourneyStatus


def cart_journey(session: Session) -> int:
    journey = create_journey(session=session, doc=load_template("cart_abandonment"))
    assert journey.id is not None
    return journey.id


def test_an_archived_journey_cannot_be_published_or_launched_until_restored(session: Session) -> None:
    journey_id = cart_journey(session)
    publish_journey(session=session, journey_id=journey_id)
    archive_journey(session=session, journey_id=journey_id, actor="dana")

    with pytest.raises(JourneyArchivedError, match=r"cannot publish journey .*: it is archived; restore it"):
        publish_journey(session=session, journey_id=journey_id)
    with pytest.raises(LifecycleError, match=r"cannot launch journey .*: it is archived; restore it"):
        launch_journey(session=session, journey_id=journey_id, actor="maria")
    assert get_journey(session=session, journey_id=journey_id).status is JourneyStatus.DRAFT

    assert "archived" in (publish_blocker(session=session, journey_id=journey_id) or "")
    restore_journey(session=session, journey_id=journey_id, actor="dana")
    assert publish_journey(session=session, journey_id=journey_id).number == 2
    assert launch_journey(session=session, journey_id=journey_id, actor="maria").status is JourneyStatus.LIVE


def test_the_archived_refusal_is_an_archive_error_for_callers_that_handle_those() -> None:
    assert issubclass(JourneyArchivedError, ArchiveError)


def test_a_draft_has_unpublished_changes_until_published_and_again_after_an_edit(session: Session) -> None:
    journey_id = cart_journey(session)
    assert has_unpublished_changes(session=session, journey_id=journey_id)

    assert publish_blocker(session=session, journey_id=journey_id) is None
    publish_journey(session=session, journey_id=journey_id)
    assert not has_unpublished_changes(session=session, journey_id=journey_id)
    assert publish_blocker(session=session, journey_id=journey_id) == (
        "No changes since version 1; edit the map to publish a new version."
    )

    journey = get_journey(session=session, journey_id=journey_id)
    doc = load_template("cart_abandonment")
    save_draft(
        session=session,
        journey_id=journey_id,
        doc=doc.model_copy(update={"description": "Changed"}),
        expected_revision=journey.revision,
    )
    assert has_unpublished_changes(session=session, journey_id=journey_id)

    publish_journey(session=session, journey_id=journey_id)
    assert not has_unpublished_changes(session=session, journey_id=journey_id)


def test_the_controls_say_why_they_are_off_and_what_publishing_a_running_journey_does(session: Session) -> None:
    journey_id = cart_journey(session)
    journey = get_journey(session=session, journey_id=journey_id)

    assert "Publish a version first" in (action_blocker(journey, "launch", published=False) or "")
    assert "no version has been published" in (action_blocker(journey, "stop", published=False) or "")
    assert publish_consequence(journey, latest=0) is None

    publish_journey(session=session, journey_id=journey_id)
    assert action_blocker(journey, "launch", published=True) is None
    assert "has not been launched" in (action_blocker(journey, "stop", published=True) or "")

    launch_journey(session=session, journey_id=journey_id, actor="maria")
    assert action_blocker(journey, "stop", published=True) is None
    assert action_blocker(journey, "launch", published=True) == "The journey is already live."
    consequence = publish_consequence(journey, latest=1) or ""
    assert "Customers already inside stay on version 1" in consequence
    assert "enter from now on follow version 2" in consequence
