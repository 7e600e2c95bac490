"""Revision 0009 records, for runs stored as having reached the goal without entering a goal node, their move
into the goal node and its stage, so the goal card and the goal's stage count them as the goal conversion does."""

from __future__ import annotations

from alembic.command import downgrade, upgrade
from sqlalchemy import select, text
from sqlmodel import Session, col

from engine.kpis import MetricsFilter, journey_overlay
from engine.map.starters import load_template
from engine.store import Enrollment, Transition, alembic_config, get_engine, upgrade_database
from tests.engine_factories import NOW
from tests.history_factories import H, Run, path, record_runs
from tests.unit.store.older_rows import published_journey

BEFORE = "0008_sign_in_throttle"


ENTERED = [("cart_abandoned", 0.0), ("wait_1h", 0.0)]
AWAITING = [*ENTERED, ("email_reminder", 1.0), ("wait_order_4h", 1.0)]


def stored_history(url: str) -> int:
    """The starter's runs as the engine stored them before 0009: two goals reached by the order event
    (one waiting an hour, one awaiting the order), one that walked into the goal card, one that gave up, and
    one that walked past the goal card and lost the goal's moment."""
    doc = load_template("cart_abandonment")
    with Session(get_engine(url), expire_on_commit=False) as session:
        journey_id, version_id = published_journey(session, doc)
        runs = [
            Run(path(*ENTERED), ended=0.5 * H, goal=0.5 * H),
            Run(path(*AWAITING), ended=2 * H, goal=2 * H),
            Run(path(*AWAITING, ("order_completed", 3.0)), ended=3 * H, goal=3 * H),
            Run(path(*AWAITING), ended=4 * H),
            # Walked past the goal card and went on: its next step cleared the goal's moment.
            Run(path(*AWAITING, ("order_completed", 5.0)), ended=6 * H),
        ]
        record_runs(session, doc=doc, journey_id=journey_id, version_id=version_id, start=NOW, runs=runs)
        session.commit()
        return journey_id


def test_goals_reached_by_an_event_enter_the_goal_node_and_its_stage(empty_url: str) -> None:
    upgrade(alembic_config(empty_url), BEFORE)
    journey_id = stored_history(empty_url)
    # Read with plain SQL: today's models name columns that later migrations add.
    with get_engine(empty_url).connect() as connection:
        on_goal_card = "SELECT count(*) FROM transition WHERE node_id = 'order_completed'"
        assert connection.execute(text(on_goal_card)).scalar_one() == 2
        goals = "SELECT count(*) FROM enrollment WHERE goal_reached_at IS NOT NULL"
        assert connection.execute(text(goals)).scalar_one() == 3

    upgrade_database(empty_url)

    with Session(get_engine(empty_url)) as session:
        moves = session.execute(
            select(
                Transition.enrollment_id,
                Transition.from_node_id,
                Transition.from_at,
                Transition.at,
                Transition.from_stage_id,
                Transition.from_stage_at,
                Transition.from_stage_seconds,
                Transition.first_in_stage,
            )
            .where(col(Transition.node_id) == "order_completed")
            .order_by(col(Transition.enrollment_id))
        ).all()
        assert [tuple(m) for m in moves] == [
            (1, "wait_1h", NOW, NOW + 0.5 * H, "abandon", NOW, 1800.0, True),
            (2, "wait_order_4h", NOW + H, NOW + 2 * H, "recover", NOW + H, 3600.0, True),
            (3, "wait_order_4h", NOW + H, NOW + 3 * H, "recover", NOW + H, 7200.0, True),
            (5, "wait_order_4h", NOW + H, NOW + 5 * H, "recover", NOW + H, 14400.0, True),
        ]
        runs = session.execute(
            select(Enrollment.stage_id, Enrollment.stage_entered_at).order_by(col(Enrollment.id))
        ).all()
        assert [tuple(r) for r in runs] == [
            ("purchase", NOW + 0.5 * H),
            ("purchase", NOW + 2 * H),
            ("purchase", NOW + 3 * H),
            ("recover", NOW + H),
            ("purchase", NOW + 5 * H),
        ]
        goal_moments = session.execute(select(Enrollment.goal_reached_at).order_by(col(Enrollment.id))).scalars()
        assert list(goal_moments) == [NOW + 0.5 * H, NOW + 2 * H, NOW + 3 * H, None, NOW + 5 * H]
        overlay = journey_overlay(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
        stages = {s.stage_id: s for s in overlay.stages}
        nodes = {n.node_id: n for n in overlay.nodes}
        assert overlay.goal.reached_goal == 4
        assert nodes["order_completed"].entries == 4
        assert (stages["purchase"].entered, stages["purchase"].reached_goal) == (4, 4)
        assert (stages["abandon"].reached_goal, stages["recover"].reached_goal) == (0, 0)
        assert stages["recover"].dropped_off == 1

    downgrade(alembic_config(empty_url), BEFORE)

    with Session(get_engine(empty_url)) as session:
        count = session.execute(select(Transition.id).where(col(Transition.node_id) == "order_completed")).all()
        assert len(count) == 4
