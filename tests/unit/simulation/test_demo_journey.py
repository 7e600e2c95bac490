"""A stored demo journey is brought up to date with the demo map this code makes, as ``journey demo`` runs."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.journeys import archive_journey, create_journey, draft_of, get_journey
from engine.map import JourneyMap
from engine.runtime import pause_journey
from engine.simulation import demo_map, ensure_demo_journey
from engine.store import Enrollment, JourneyStatus, JourneyVersion, Profile
from tests.engine_factories import NOW, ingest_and_react, publish_and_launch, track


def older_demo() -> JourneyMap:
    """The demo journey as an older release stored it: its wait's card still said production's time."""
    doc = demo_map()
    nodes = [n.model_copy(update={"title": "Wait 1 hour"}) if n.id == "wait_1h" else n for n in doc.nodes]
    return doc.model_copy(update={"nodes": nodes})


def version_of_run(session: Session, user_id: str) -> int:
    return session.execute(
        select(col(JourneyVersion.number))
        .join(Enrollment, col(Enrollment.version_id) == col(JourneyVersion.id))
        .join(Profile, col(Profile.id) == col(Enrollment.profile_id))
        .where(col(Profile.user_id) == user_id)
    ).scalar_one()


def test_a_live_demo_journey_from_an_older_release_gets_the_new_map_as_a_new_version(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, older_demo())
    ingest_and_react(session=session, messages=[track("early", "cart_abandoned")], now=NOW)
    assert version_of_run(session, "early") == 1

    demo = ensure_demo_journey(session=session, actor="test")

    assert (demo.created, demo.updated, demo.published_version, demo.launched) == (False, True, 2, False)
    assert demo.journey.id == journey_id
    assert demo.journey.status is JourneyStatus.LIVE
    assert draft_of(get_journey(session=session, journey_id=journey_id)) == demo_map()
    # The run in flight stays on the version it entered with; a new entrant takes the new one.
    ingest_and_react(session=session, messages=[track("late", "cart_abandoned")], now=NOW)
    assert version_of_run(session, "early") == 1
    assert version_of_run(session, "late") == 2
    newest = session.execute(select(col(JourneyVersion.map)).where(col(JourneyVersion.number) == 2)).scalar_one()
    assert JourneyMap.model_validate(newest) == demo_map()

    # Up to date: nothing more to do.
    again = ensure_demo_journey(session=session, actor="test")
    assert (again.updated, again.published_version) == (False, None)
    assert session.execute(select(func.count()).select_from(JourneyVersion)).scalar_one() == 2


def test_a_paused_demo_journey_gets_the_new_draft_but_no_version(session: Session) -> None:
    journey_id, _ = publish_and_launch(session, older_demo())
    pause_journey(session=session, journey_id=journey_id, actor="test")

    demo = ensure_demo_journey(session=session, actor="test")

    assert (demo.updated, demo.published_version, demo.launched) == (True, None, False)
    assert demo.journey.status is JourneyStatus.PAUSED
    assert draft_of(get_journey(session=session, journey_id=journey_id)) == demo_map()
    assert session.execute(select(func.count()).select_from(JourneyVersion)).scalar_one() == 1


def test_a_fresh_demo_journey_is_not_counted_as_updated(session: Session) -> None:
    demo = ensure_demo_journey(session=session, actor="test")
    assert (demo.created, demo.updated, demo.published_version, demo.launched) == (True, False, 1, True)


def test_an_archived_demo_journey_is_not_touched(session: Session) -> None:
    journey = create_journey(session=session, doc=older_demo(), created_by="test")
    assert journey.id is not None
    archive_journey(session=session, journey_id=journey.id, actor="test")

    demo = ensure_demo_journey(session=session, actor="test")

    assert (demo.created, demo.updated, demo.published_version, demo.launched) == (False, False, None, False)
    assert draft_of(get_journey(session=session, journey_id=journey.id)) == older_demo()
