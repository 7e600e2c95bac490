"""The KPI overlay's figures as the map shows them: percentages, durations, counts, edge widths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.kpis import (
    EdgeShare,
    GoalConversion,
    JourneyOverlay,
    MetricsFilter,
    NodeMetrics,
    OutcomeShare,
    StageMetrics,
    TaskCardMetrics,
)
from journey_builder.canvas.overlay_view import (
    MAX_EDGE_WIDTH,
    MIN_EDGE_WIDTH,
    EdgeFigures,
    NodeFigures,
    OverlayWindow,
    StageFigures,
    edge_figures,
    edge_width,
    goal_line,
    node_figures,
    overlay_view,
    percent,
    short_duration,
    stage_figures,
    unavailable,
    with_task_figures,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def stage(
    stage_id: str = "s",
    *,
    entered: int = 0,
    moved_on: int | None = None,
    dropped_off: int = 0,
    reached_goal: int = 0,
    median: timedelta | None = None,
    p90: timedelta | None = None,
) -> StageMetrics:
    return StageMetrics(
        stage_id=stage_id,
        entered=entered,
        moved_on=moved_on,
        conversion=moved_on / entered if moved_on is not None and entered else None,
        dropped_off=dropped_off,
        reached_goal=reached_goal,
        in_flight=0,
        velocity_median=median,
        velocity_p90=p90,
    )


def node(node_id: str = "n", **counts: int) -> NodeMetrics:
    fields = dict.fromkeys(
        ("customers", "entries", "waiting", "sent", "pending", "delivered", "failed", "suppressed", "skipped"), 0
    )
    return NodeMetrics(node_id=node_id, **(fields | counts))


@pytest.mark.parametrize(
    ("share", "shown"),
    [
        (0.0, "0%"),
        (0.62, "62%"),
        (0.625, "62%"),
        (2 / 3, "67%"),
        (0.004, "<1%"),
        (0.996, ">99%"),
        (1.0, "100%"),
    ],
)
def test_a_share_is_a_whole_percentage_never_rounded_to_none_or_all(share: float, shown: str) -> None:
    assert percent(share) == shown


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(0), "< 1 s"),
        (timedelta(milliseconds=400), "< 1 s"),
        (timedelta(seconds=40), "40 s"),
        (timedelta(seconds=90), "1 m 30 s"),
        (timedelta(hours=1, minutes=12, seconds=30), "1 h 12 m"),
        (timedelta(hours=5), "5 h"),
        (timedelta(hours=1, seconds=5), "1 h"),
        (timedelta(days=2, hours=3, minutes=59), "2 d 3 h"),
        (timedelta(days=3), "3 d"),
    ],
)
def test_durations_show_their_two_largest_adjacent_units(delta: timedelta, shown: str) -> None:
    assert short_duration(delta) == shown


def test_a_stage_shows_its_conversion_to_the_next_counts_and_velocity() -> None:
    figures = stage_figures(
        stage(
            entered=1204, moved_on=746, dropped_off=37, median=timedelta(hours=1, minutes=12), p90=timedelta(hours=5)
        ),
        last=False,
    )

    assert figures == StageFigures(
        headline="62% → next",
        velocity="median 1 h 12 m · p90 5 h",
        counts="1,204 entered · 37 dropped off",
    )


def test_a_stage_nobody_left_yet_says_so_instead_of_a_velocity() -> None:
    figures = stage_figures(stage(entered=3, moved_on=0), last=False)

    assert (figures.headline, figures.velocity, figures.counts) == ("0% → next", "no one has moved on yet", "3 entered")


def test_a_stage_nobody_entered_shows_no_figures() -> None:
    empty = StageFigures(headline="—", velocity="", counts="no customers yet")

    assert stage_figures(stage(entered=0, moved_on=0), last=False) == empty
    assert stage_figures(stage(entered=0), last=True) == empty


def test_the_last_stage_shows_how_many_of_its_customers_reached_the_goal() -> None:
    figures = stage_figures(stage(entered=40, reached_goal=10, dropped_off=30), last=True)

    assert figures == StageFigures(headline="25% reached the goal", velocity="", counts="40 entered · 30 dropped off")


def test_a_node_shows_customers_waiting_and_its_messages() -> None:
    assert node_figures(node(customers=1204, entries=1300, waiting=37)) == NodeFigures(
        counts="1,204 entered · 37 waiting", messages="", customers=1204
    )
    assert node_figures(node(customers=903, sent=900, delivered=880, failed=3)).messages == "sent 900 · failed 3"
    assert node_figures(node(customers=10, suppressed=10)).messages == "sent 0 · suppressed 10"
    assert node_figures(node(customers=0)) == NodeFigures(counts="0 entered", messages="", customers=0)


def test_edge_width_grows_with_share_between_the_bounds() -> None:
    assert edge_width(0.0) == MIN_EDGE_WIDTH
    assert edge_width(1.0) == MAX_EDGE_WIDTH
    assert edge_width(0.5) == pytest.approx((MIN_EDGE_WIDTH + MAX_EDGE_WIDTH) / 2)
    assert edge_width(0.2) < edge_width(0.6)


def test_each_drawn_edge_of_a_path_gets_its_share_and_untaken_paths_none() -> None:
    shares = (
        EdgeShare(source="check", target="welcome", customers=3, share=0.6, edge_ids=("e_yes",)),
        # Through a touchpoint: both drawn edges carry the path's share.
        EdgeShare(source="check", target="bye", customers=2, share=0.4, edge_ids=("e_no", "e_tp_bye")),
        EdgeShare(source="old", target="gone", customers=5, share=1.0, edge_ids=()),
    )

    figures = edge_figures(shares)

    assert figures == {
        "e_yes": EdgeFigures(label="60%", width=edge_width(0.6), customers=3),
        "e_no": EdgeFigures(label="40%", width=edge_width(0.4), customers=2),
        "e_tp_bye": EdgeFigures(label="40%", width=edge_width(0.4), customers=2),
    }


def test_goal_line_names_customers_and_rate() -> None:
    assert goal_line(GoalConversion(entered=6, reached_goal=1, rate=1 / 6)) == (
        "Goal reached by 1 of 6 customers (17%)"
    )
    assert goal_line(GoalConversion(entered=0, reached_goal=0, rate=None)) == "No customers entered yet"


def test_the_overlay_is_keyed_by_the_maps_ids_and_marks_the_last_stage() -> None:
    overlay = JourneyOverlay(
        filter=MetricsFilter.all_time(journey_id=1),
        stages=(stage("arrive", entered=5, moved_on=3, dropped_off=2), stage("engage", entered=3, reached_goal=3)),
        nodes=(node("welcome", customers=3, sent=3),),
        edges=(EdgeShare(source="check", target="welcome", customers=3, share=0.6, edge_ids=("e_yes",)),),
        goal=GoalConversion(entered=5, reached_goal=3, rate=0.6),
    )

    view = overlay_view(overlay, OverlayWindow.WEEK, stamp=12.5)

    assert (view.on, view.window, view.legend, view.stamp, view.note) == (True, "7d", "Last 7 days", 12.5, "")
    assert view.stages["arrive"].headline == "60% → next"
    assert view.stages["engage"].headline == "100% reached the goal"
    assert view.nodes["welcome"].messages == "sent 3"
    assert view.edges["e_yes"].label == "60%"
    assert view.goal == "Goal reached by 3 of 5 customers (60%)"


def test_an_unpublished_journey_says_why_it_has_no_figures() -> None:
    overlay = JourneyOverlay(
        filter=MetricsFilter.all_time(journey_id=1),
        stages=(),
        nodes=(),
        edges=(),
        goal=GoalConversion(entered=0, reached_goal=0, rate=None),
    )

    view = overlay_view(overlay, OverlayWindow.ALL, stamp=1.0)

    assert view.note.startswith("Not published yet")
    assert (view.stages, view.nodes, view.edges) == ({}, {}, {})
    assert unavailable(OverlayWindow.DAY, "gone", stamp=2.0).note == "gone"


@pytest.mark.parametrize(
    ("window", "since"),
    [
        (OverlayWindow.DAY, NOW - timedelta(hours=24)),
        (OverlayWindow.WEEK, NOW - timedelta(days=7)),
        (OverlayWindow.MONTH, NOW - timedelta(days=30)),
        (OverlayWindow.ALL, None),
    ],
)
def test_each_window_asks_for_the_figures_of_its_period(window: OverlayWindow, since: datetime | None) -> None:
    metrics_filter = window.metrics_filter(7, NOW)

    assert (metrics_filter.journey_id, metrics_filter.since) == (7, since)
    assert metrics_filter.until == (None if since is None else NOW)


def test_a_task_card_shows_its_tasks_what_became_of_them_and_its_outcome_shares() -> None:
    task = TaskCardMetrics(
        node_id="call",
        created=13,
        done=10,
        done_within_due=9,
        overdue=2,
        closed_without_outcome=1,
        open=2,
        outcomes=(
            OutcomeShare(outcome="reached", tasks=6, share=0.6),
            OutcomeShare(outcome="no answer", tasks=4, share=0.4),
        ),
        median_to_outcome_seconds=3 * 3600 + 60,
    )

    shown = with_task_figures(node_figures(node(customers=12, waiting=2)), task)

    assert shown.tasks == "13 tasks · 9 done in time · 2 overdue · 1 closed without outcome · median 3 h 1 m"
    assert shown.outcomes == "reached 60% · no answer 40%"
    first = with_task_figures(
        node_figures(node(customers=1, waiting=1)),
        task.model_copy(
            update={
                "created": 1,
                "done": 0,
                "done_within_due": 0,
                "overdue": 0,
                "closed_without_outcome": 0,
                "open": 1,
                "outcomes": (),
                "median_to_outcome_seconds": None,
            }
        ),
    )
    assert (first.tasks, first.outcomes) == ("1 task · 0 done in time", "")
