"""One true map: the goal conversion, the goal card, the goal's stage, the funnel, the command line and the
KPI page count the same customers, however they reached the goal.

Checked on hand-built histories and on runs the engine made (intake and ticks) from the cart-abandonment
starter, where the order event is the goal, an exit criterion and the event two waits listen for; on SQLite
and on PostgreSQL, for every window the pages offer. The runs of each history enter and reach the goal
inside the same windows: the goal conversion counts the customers who entered in the window, the goal card
those who reached it in the window, and only across a window's edge may the two differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.cli import main
from engine.compiler import GoalStep, Plan
from engine.journeys import create_journey, publish_journey
from engine.kpis import MetricsFilter, goal_conversion, journey_overlay, journey_report, overlay_summary
from engine.map import JourneyMap
from engine.map.starters import load_template
from engine.runtime import advance_due
from engine.store import Enrollment, JourneyVersion, Transition, get_engine
from tests.engine_factories import NOW, identify, ingest_and_react, publish_and_launch, track
from tests.history_factories import H, Run, path, record_runs, story_map

END = NOW + 40 * H


def windows(journey_id: int, until: datetime) -> list[MetricsFilter]:
    return [
        MetricsFilter.last_24h(journey_id=journey_id, now=until),
        MetricsFilter.last_7d(journey_id=journey_id, now=until),
        MetricsFilter.last_30d(journey_id=journey_id, now=until),
        MetricsFilter.all_time(journey_id=journey_id),
    ]


def moved_elsewhere(session: Session, f: MetricsFilter, stage_id: str, next_stage: str | None) -> int:
    """Visits to ``stage_id`` begun in the window that moved to a stage other than the next before it closed:
    the stage metrics count them in no figure of their own."""
    rows = session.execute(
        select(Transition.from_stage_at, Transition.at).where(
            col(Transition.journey_id) == f.journey_id,
            col(Transition.first_in_stage),
            col(Transition.from_stage_id) == stage_id,
            col(Transition.stage_id) != (next_stage or ""),
        )
    ).all()

    def inside(at: datetime | None) -> bool:
        moment = at if at is None or at.tzinfo else at.replace(tzinfo=NOW.tzinfo)
        return moment is not None and (f.since is None or moment >= f.since) and (f.until is None or moment < f.until)

    return sum(1 for began, at in rows if inside(began) and inside(at))


def assert_one_true_map(session: Session, journey_id: int, until: datetime) -> dict[str, int]:
    """Every window's figures agree; returns the goals reached per window, for the test to check too."""
    reached: dict[str, int] = {}
    stored = session.execute(select(JourneyVersion.plan).where(col(JourneyVersion.journey_id) == journey_id)).one()
    plan = Plan.model_validate(stored.plan)
    goal_nodes = [s.id for s in plan.steps if isinstance(s, GoalStep)]
    goal_stages = {s.stage for s in plan.steps if isinstance(s, GoalStep)}
    for f in windows(journey_id, until):
        overlay = journey_overlay(session=session, metrics_filter=f)
        goal = overlay.goal.reached_goal
        where = f"window {f.since} .. {f.until}"
        assert goal_conversion(session=session, metrics_filter=f).reached_goal == goal, where
        on_goal_cards = sum(n.entries for n in overlay.nodes if n.node_id in goal_nodes)
        assert on_goal_cards == goal, where
        stages = {s.stage_id: s for s in overlay.stages}
        assert sum(stages[s].reached_goal for s in goal_stages) == goal, where
        # Nobody reaches the goal anywhere but in its stage.
        assert sum(s.reached_goal for s in overlay.stages) == goal, where
        order = plan.stage_order
        for i, stage in enumerate(overlay.stages):
            following = order[i + 1] if i + 1 < len(order) else None
            elsewhere = moved_elsewhere(session, f, stage.stage_id, following)
            assert stage.in_flight >= 0, (where, stage)
            total = (stage.moved_on or 0) + stage.dropped_off + stage.reached_goal + stage.in_flight + elsewhere
            assert total == stage.entered, (where, stage, elsewhere)
        summary = overlay_summary(overlay, journey_name="j")
        assert summary["goal_reached"] == goal
        assert sum(summary["nodes"][n]["entered"] for n in goal_nodes if n in summary["nodes"]) == goal
        report = journey_report(session=session, metrics_filter=f)
        assert report.cohort.reached_goal == goal, where
        assert report.cohort.entered == overlay.goal.entered, where
        assert report.stage_metrics == overlay.stages, where
        reached[str(f.since and until - f.since)] = goal
    return reached


# --- hand-built histories ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session on SQLite or PostgreSQL; what a test leaves uncommitted is rolled back."""
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    with Session(get_engine(url), expire_on_commit=False) as open_session:
        yield open_session
        open_session.rollback()


def test_hand_built_goals_agree_on_the_map_in_every_window(store: Session) -> None:
    session = store
    doc = story_map("Trial (one true map)")
    journey = create_journey(session=session, doc=doc)
    version = publish_journey(session=session, journey_id=journey.id or 0)
    assert journey.id is not None
    assert version.id is not None
    signup = [("entry", 0.0), ("mail", 0.0), ("pause", 0.0)]
    trial = [*signup, ("ab", 1.0), ("text", 1.0), ("cool", 1.0)]
    runs = []
    # Entered 60 days, 20 days, 3 days and 10 hours before the end: each in its own set of windows.
    for ago in (60 * 24, 20 * 24, 3 * 24, 10):
        start = 40 - ago
        runs += [
            Run(
                path(*((n, start + t) for n, t in [*trial, ("buy", 2.0), ("won", 3.0)])),
                ended=(start + 3) * H,
                goal=(start + 3) * H,
            ),
            # The goal event while waiting in Trial: straight into the goal card.
            Run(
                path(*((n, start + t) for n, t in [*trial, ("won", 1.5)])),
                ended=(start + 1.5) * H,
                goal=(start + 1.5) * H,
            ),
            Run(path(*((n, start + t) for n, t in [*trial, ("buy", 2.0), ("lost", 4.0)])), ended=(start + 4) * H),
            Run(path(*((n, start + t) for n, t in signup)), ended=(start + 1) * H),
            Run(path(*((n, start + t) for n, t in trial))),
        ]
    record_runs(session, doc=doc, journey_id=journey.id, version_id=version.id, start=NOW, runs=runs)
    session.flush()

    reached = assert_one_true_map(session, journey.id, END)

    assert list(reached.values()) == [2, 4, 6, 8]


# --- runs the engine made ---------------------------------------------------------------------------


def starter() -> JourneyMap:
    return load_template("cart_abandonment")


def cart(user: str, event: str, cart_id: str) -> Any:
    properties = {"cart_id": cart_id, "cart_url": "https://shop.example/c", "cart_total": 10, "item_count": 1}
    return track(user, event, properties)


def play_cart_abandonment(session: Session, *, start: datetime) -> tuple[int, dict[str, str]]:
    """Customers of the starter, from ``start``: their runs as the engine leaves them, by user."""
    journey_id, _ = publish_and_launch(session, starter())
    users = {
        "while-waiting-an-hour": "goal event while waiting at wait_1h (an exit criterion too)",
        "after-the-email": "awaited by wait_order_4h",
        "after-the-push": "awaited by wait_order_24h",
        "emptied": "exit criterion, no goal",
        "never": "timed out to the end",
        "still-inside": "waiting",
    }
    ingest_and_react(session=session, messages=[identify(u, {"email": f"{u}@example.com"}) for u in users], now=start)
    ingest_and_react(session=session, messages=[cart(u, "cart_abandoned", f"c-{u}") for u in users], now=start)
    ingest_and_react(
        session=session,
        messages=[cart("while-waiting-an-hour", "order_completed", "c-while-waiting-an-hour")],
        now=start + 0.5 * H,
    )
    advance_due(session=session, now=start + 1 * H)
    ingest_and_react(
        session=session, messages=[cart("after-the-email", "order_completed", "c-after-the-email")], now=start + 2 * H
    )
    ingest_and_react(session=session, messages=[cart("emptied", "cart_emptied", "c-emptied")], now=start + 2 * H)
    advance_due(session=session, now=start + 4 * H)
    ingest_and_react(
        session=session, messages=[cart("after-the-push", "order_completed", "c-after-the-push")], now=start + 5 * H
    )
    advance_due(session=session, now=start + 24 * H)
    ingest_and_react(session=session, messages=[cart("still-inside", "cart_abandoned", "c-again")], now=start + 24 * H)
    session.flush()
    return journey_id, users


def goal_entries(session: Session, journey_id: int) -> list[tuple[str | None, str, str | None, str]]:
    rows = session.execute(
        select(Transition.from_node_id, Transition.node_id, Transition.from_stage_id, Transition.stage_id)
        .where(col(Transition.journey_id) == journey_id, col(Transition.node_id) == "order_completed")
        .order_by(col(Transition.id))
    ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def check_engine_runs(session: Session) -> None:
    journey_id, _ = play_cart_abandonment(session, start=NOW)

    assert goal_entries(session, journey_id) == [
        ("wait_1h", "order_completed", "abandon", "purchase"),
        ("wait_order_4h", "order_completed", "recover", "purchase"),
        ("wait_order_24h", "order_completed", "recover", "purchase"),
    ]
    goals = session.execute(
        select(Enrollment.stage_id, Enrollment.end_reason).where(
            col(Enrollment.journey_id) == journey_id, col(Enrollment.goal_reached_at).is_not(None)
        )
    ).all()
    assert sorted(tuple(g) for g in goals) == [("purchase", "goal")] * 3
    reached = assert_one_true_map(session, journey_id, END)
    assert list(reached.values()) == [0, 3, 3, 3]
    overlay = journey_overlay(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
    purchase = next(s for s in overlay.stages if s.stage_id == "purchase")
    assert (purchase.entered, purchase.reached_goal) == (3, 3)
    shares = {(e.source, e.target): e.customers for e in overlay.edges}
    assert shares[("wait_order_4h", "order_completed")] == 1
    assert shares[("wait_order_24h", "order_completed")] == 1


def test_goals_the_engine_records_agree_on_the_map(store: Session) -> None:
    check_engine_runs(store)


def test_the_command_line_prints_the_overlays_goals(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        journey_id, _ = play_cart_abandonment(session, start=NOW)
        session.commit()
        overlay = journey_overlay(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    status = main(["kpis", str(journey_id), "--window", "all", "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert status == 0
    assert printed["goal_reached"] == overlay.goal.reached_goal == 3
    assert printed["nodes"]["order_completed"]["entered"] == 3
    assert printed["stages"]["purchase"]["entered"] == 3
    assert printed["stages"] == overlay_summary(overlay, journey_name="")["stages"]
