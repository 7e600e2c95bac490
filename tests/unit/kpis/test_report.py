"""The KPI pages' aggregates on hand-built histories with hand-worked answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session

from engine.journeys import JourneyNotFoundError, archive_journey, create_journey, publish_journey
from engine.kpis import (
    VELOCITY_BUCKETS,
    KpiWindow,
    MetricsFilter,
    VersionNotFoundError,
    WindowError,
    cohort,
    goal_conversion,
    journey_report,
    journey_trends,
    stage_lines,
    stage_metrics,
    velocity_distribution,
    window_filter,
)
from engine.map import JourneyMap
from engine.map.starters import load_template
from engine.store import get_engine
from tests.engine_factories import event_trigger, node, send
from tests.history_factories import H, Run, path, record_runs

T0 = datetime(2026, 11, 13, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
A = [("entry", 0.0), ("mail", 0.0), ("pause", 0.0)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session on SQLite or on the shared PostgreSQL database; what a test writes is rolled back."""
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    with Session(get_engine(url), expire_on_commit=False) as session:
        yield session
        session.rollback()


def kpi_map() -> JourneyMap:
    """Stages Discover (emotions 1, -1, 0), Consider (-2, 0, 0, -1) and Buy (2, 1, 0):
    entry -> mail -> pause -> split ab: text or nudge -> cool -> wait for purchase: won (goal) or lost."""
    return JourneyMap.from_dict(
        {
            "name": f"KPIs {uuid.uuid4().hex[:8]}",
            "stages": [
                {"id": "a", "name": "Discover", "order": 0},
                {"id": "b", "name": "Consider", "order": 1},
                {"id": "c", "name": "Buy", "order": 2},
            ],
            "nodes": [
                {**event_trigger("signed_up"), "stage": "a", "emotion": 1},
                {**send("mail", stage="a"), "emotion": -1, "title": "Welcome mail"},
                node("pause", "wait", stage="a", duration="PT1H"),
                node(
                    "ab",
                    "split",
                    stage="b",
                    title="Reminder test",
                    emotion=-2,
                    arms=[{"name": "control", "percent": 50}, {"name": "variant", "percent": 50}],
                ),
                send("text", "sms", stage="b"),
                send("nudge", "push", stage="b"),
                node("cool", "wait", stage="b", duration="PT1H", emotion=-1),
                node("buy", "wait_for_event", stage="c", event="purchased", timeout="P1D", emotion=2),
                node("won", "goal", stage="c", emotion=1),
                node("lost", "exit", stage="c"),
            ],
            "edges": [
                {"id": f"e_{source}_{target}", "source": source, "target": target, "label": label}
                for source, target, label in [
                    ("entry", "mail", None),
                    ("mail", "pause", None),
                    ("pause", "ab", None),
                    ("ab", "text", "control"),
                    ("ab", "nudge", "variant"),
                    ("text", "cool", None),
                    ("nudge", "cool", None),
                    ("cool", "buy", None),
                    ("buy", "won", "event"),
                    ("buy", "lost", "timeout"),
                ]
            ],
            "settings": {"goal_event": "purchased"},
        }
    )


def published(session: Session, *, versions: int = 1) -> tuple[JourneyMap, int, list[int]]:
    doc = kpi_map()
    journey = create_journey(session=session, doc=doc)
    assert journey.id is not None
    version_ids = []
    for _ in range(versions):
        version = publish_journey(session=session, journey_id=journey.id)
        assert version.id is not None
        version_ids.append(version.id)
    return doc, journey.id, version_ids


def to_b_after(hours: float, *, then_c: float | None = None, ended: float | None = None) -> Run:
    """Entered stage a at 0 and stage b ``hours`` later (and stage c ``then_c`` hours after b)."""
    steps = [*A, ("ab", hours), ("text", hours), ("cool", hours)]
    if then_c is not None:
        steps += [("buy", hours + then_c), ("lost", hours + then_c)]
    return Run(path(*steps), ended=ended * H if ended is not None else None)


def velocity_runs() -> list[Run]:
    """a -> b after 10 min, 59.999 min, exactly 1 h, 2 h, 30 h and 8 days; one never moves on.
    b -> c after 20 min (for the 2 h run) and after 3 days (for the 30 h run)."""
    return [
        to_b_after(10 / 60),
        to_b_after(59.999 / 60),
        to_b_after(1),
        to_b_after(2, then_c=20 / 60, ended=3),
        to_b_after(30, then_c=72, ended=110),
        to_b_after(8 * 24),
        Run(path(*A), ended=H),
    ]


def test_velocity_buckets_count_who_moved_on_by_how_long_it_took(any_session: Session) -> None:
    doc, journey_id, [version_id] = published(any_session)
    record_runs(any_session, doc=doc, journey_id=journey_id, version_id=version_id, start=T0, runs=velocity_runs())
    everything = MetricsFilter.all_time(journey_id=journey_id)

    a_to_b, b_to_c = velocity_distribution(session=any_session, metrics_filter=everything)

    assert [b.label for b in a_to_b.buckets] == [label for label, _ in VELOCITY_BUCKETS]
    assert (a_to_b.stage_id, a_to_b.next_stage_id, a_to_b.customers) == ("a", "b", 6)
    # < 15 min: 10 min; 15-60 min: 59.999 min; 1-6 h: exactly 1 h and 2 h; 1-3 days: 30 h; >= 7 days: 8 days.
    assert [b.customers for b in a_to_b.buckets] == [1, 1, 2, 0, 1, 0, 1]
    assert (b_to_c.stage_id, b_to_c.next_stage_id, b_to_c.customers) == ("b", "c", 2)
    # 20 min, and exactly 3 days (the upper edge belongs to the next bucket).
    assert [b.customers for b in b_to_c.buckets] == [0, 1, 0, 0, 0, 1, 0]
    moved_on = [s.moved_on for s in stage_metrics(session=any_session, metrics_filter=everything)[:2]]
    assert moved_on == [a_to_b.customers, b_to_c.customers]


def test_velocity_counts_who_entered_the_stage_in_the_window_and_moved_on_before_it_closed(
    any_session: Session,
) -> None:
    doc, journey_id, [version_id] = published(any_session)
    record_runs(any_session, doc=doc, journey_id=journey_id, version_id=version_id, start=T0, runs=velocity_runs())
    # Entered a at T0 + 48 h; the window closes before the one that moves on after 8 days does.
    late = Run(path(("entry", 48), ("mail", 48), ("pause", 48), ("ab", 50), ("text", 50)))
    record_runs(any_session, doc=doc, journey_id=journey_id, version_id=version_id, start=T0, runs=[late])
    window = MetricsFilter.custom(journey_id=journey_id, since=T0 + 24 * H, until=T0 + 100 * H)

    a_to_b, b_to_c = velocity_distribution(session=any_session, metrics_filter=window)

    # a: only the late run entered in the window (2 h to b). b: the 30 h run entered b in it and
    # had not reached c when the window closed; the late run entered b too and is still there.
    assert [b.customers for b in a_to_b.buckets] == [0, 0, 1, 0, 0, 0, 0]
    assert b_to_c.customers == 0


def test_a_version_filter_keeps_only_that_versions_velocity(any_session: Session) -> None:
    doc, journey_id, [first, second] = published(any_session, versions=2)
    record_runs(any_session, doc=doc, journey_id=journey_id, version_id=first, start=T0, runs=velocity_runs())
    record_runs(any_session, doc=doc, journey_id=journey_id, version_id=second, start=T0, runs=[to_b_after(4)])

    a_to_b, _ = velocity_distribution(
        session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id, version=2)
    )

    assert [b.customers for b in a_to_b.buckets] == [0, 0, 1, 0, 0, 0, 0]
    with pytest.raises(VersionNotFoundError):
        velocity_distribution(
            session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id, version=3)
        )


def test_the_cohort_splits_entrants_into_goal_dropped_and_in_flight_as_the_window_closes(any_session: Session) -> None:
    doc, journey_id, [version_id] = published(any_session)
    runs = [
        Run(path(*A, ("ab", 1), ("text", 1), ("cool", 1), ("buy", 2), ("won", 3)), ended=3 * H, goal=3 * H),
        # Reaches the goal after the window closes: in flight when it closed.
        Run(path(*A, ("ab", 1), ("text", 1), ("cool", 1), ("buy", 2), ("won", 30)), ended=30 * H, goal=30 * H),
        Run(path(*A), ended=2 * H),
        # Ends after the window closes: in flight when it closed.
        Run(path(*A), ended=40 * H),
        Run(path(*A)),
        # Entered before the window: not in the cohort.
        Run(path(("entry", -5), ("mail", -5), ("pause", -5)), ended=-4 * H),
    ]
    record_runs(any_session, doc=doc, journey_id=journey_id, version_id=version_id, start=T0, runs=runs)
    window = MetricsFilter.custom(journey_id=journey_id, since=T0, until=T0 + 24 * H)

    result = cohort(session=any_session, metrics_filter=window)

    assert (result.entered, result.reached_goal, result.dropped_off, result.in_flight) == (5, 1, 1, 3)
    assert result.goal_rate == pytest.approx(0.2)
    goal = goal_conversion(session=any_session, metrics_filter=window)
    assert (goal.entered, goal.reached_goal) == (result.entered, result.reached_goal)
    everything = cohort(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
    assert (everything.entered, everything.reached_goal, everything.dropped_off, everything.in_flight) == (6, 2, 3, 1)


def test_trends_give_every_journey_its_entries_per_day_in_two_queries(session: Session) -> None:
    doc, busy, [busy_version] = published(session)
    other_doc, quiet, [quiet_version] = published(session)
    _, empty, _ = published(session)
    day = 24.0
    record_runs(
        session,
        doc=doc,
        journey_id=busy,
        version_id=busy_version,
        start=T0,
        runs=[
            Run(path(*A), ended=H, goal=H),
            Run(path(*A)),
            Run(path(("entry", 2 * day), ("mail", 2 * day)), ended=(2 * day + 1) * H, goal=(2 * day + 1) * H),
            # Reaches the goal after the window: entered, not converted.
            Run(path(("entry", 2 * day), ("mail", 2 * day)), ended=10 * day * H, goal=10 * day * H),
            # Before the window.
            Run(path(("entry", -day), ("mail", -day))),
        ],
    )
    record_runs(
        session, doc=other_doc, journey_id=quiet, version_id=quiet_version, start=T0, runs=[Run(path(("entry", 1)))]
    )
    statements: list[str] = []
    engine = session.get_bind()

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    since = datetime(2026, 11, 13, tzinfo=UTC)
    event.listen(engine, "before_cursor_execute", count)
    try:
        trends = journey_trends(session=session, since=since, until=since + timedelta(days=3))
    finally:
        event.remove(engine, "before_cursor_execute", count)

    # One for the span of the entries (it picks the bucket), one for every journey's counts.
    assert len(statements) == 2
    assert {busy, quiet, empty} <= set(trends)
    assert {trends[j].bucket for j in (busy, quiet, empty)} == {timedelta(days=1)}
    first, third = date(2026, 11, 13), date(2026, 11, 15)
    assert [(d.day, d.entered, d.converted) for d in trends[busy].days] == [
        (first, 2, 1),
        (date(2026, 11, 14), 0, 0),
        (third, 2, 1),
    ]
    assert (trends[busy].entered, trends[busy].reached_goal, trends[busy].goal_rate) == (4, 2, 0.5)
    assert [d.entered for d in trends[quiet].days] == [1, 0, 0]
    assert [d.entered for d in trends[empty].days] == [0, 0, 0]
    assert (trends[empty].entered, trends[empty].goal_rate) == (0, None)


def test_trends_of_a_few_hours_are_drawn_per_hour_from_the_first_entry(any_session: Session) -> None:
    doc, journey_id, [version_id] = published(any_session)
    record_runs(
        any_session,
        doc=doc,
        journey_id=journey_id,
        version_id=version_id,
        start=T0,
        runs=[Run(path(*A), ended=H, goal=H), Run(path(("entry", 2.5), ("mail", 2.5))), Run(path(("entry", 9)))],
    )

    # A 30-day window ending 20 hours after the first entry: the entries span 20 hours of it.
    trends = journey_trends(session=any_session, since=T0 + 20 * H - timedelta(days=30), until=T0 + 20 * H)

    trend = trends[journey_id]
    assert trend.bucket == H
    assert (trend.days[0].start, trend.days[-1].start, len(trend.days)) == (T0, T0 + 19 * H, 20)
    assert [(d.start, d.entered, d.converted) for d in trend.days if d.entered] == [
        (T0, 1, 1),
        (T0 + 2 * H, 1, 0),
        (T0 + 9 * H, 1, 0),
    ]
    assert (trend.entered, trend.reached_goal) == (3, 1)


def test_stage_lines_name_the_plans_stages_with_the_overlays_figures(any_session: Session) -> None:
    doc, journey_id, [version_id] = published(any_session)
    record_runs(any_session, doc=doc, journey_id=journey_id, version_id=version_id, start=T0, runs=velocity_runs())
    metrics_filter = MetricsFilter.all_time(journey_id=journey_id)

    lines = stage_lines(session=any_session, metrics_filter=metrics_filter)

    assert [(line.stage.id, line.stage.name) for line in lines] == [("a", "Discover"), ("b", "Consider"), ("c", "Buy")]
    assert tuple(line.metrics for line in lines) == stage_metrics(session=any_session, metrics_filter=metrics_filter)


def test_trends_leave_archived_journeys_out(session: Session) -> None:
    doc, kept, [kept_version] = published(session)
    _, archived, [archived_version] = published(session)
    for journey_id, version_id in ((kept, kept_version), (archived, archived_version)):
        record_runs(session, doc=doc, journey_id=journey_id, version_id=version_id, start=T0, runs=[Run(path(*A))])
    archive_journey(session=session, journey_id=archived, actor="dana@example.com")

    trends = journey_trends(session=session, since=T0, until=T0 + 24 * H)

    assert kept in trends
    assert archived not in trends


def test_the_report_lays_the_figures_on_the_maps_stages_emotions_and_titles(session: Session) -> None:
    doc, journey_id, [_, version_id] = published(session, versions=2)
    record_runs(session, doc=doc, journey_id=journey_id, version_id=version_id, start=T0, runs=velocity_runs())

    report = journey_report(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert (report.journey_name, report.versions) == (doc.name, (1, 2))
    # Mean emotion of each stage's cards: (1 - 1 + 0) / 3, (-2 + 0 + 0 - 1) / 4, (2 + 1 + 0) / 3.
    assert [(s.id, s.name) for s in report.stages] == [("a", "Discover"), ("b", "Consider"), ("c", "Buy")]
    assert [s.emotion for s in report.stages] == pytest.approx([0.0, -0.75, 1.0])
    assert all(s.tracked for s in report.stages)
    assert [s.entered for s in report.stage_metrics] == [7, 6, 2]
    assert (report.cohort.entered, report.cohort.dropped_off, report.cohort.in_flight) == (7, 3, 4)
    assert [v.customers for v in report.velocity] == [6, 2]
    assert report.node_titles["ab"] == "Reminder test"
    assert report.node_titles["mail"] == "Welcome mail"
    assert [s.node_id for s in report.splits] == ["ab"]


def test_a_stage_of_touchpoints_only_is_not_tracked(session: Session) -> None:
    doc = load_template("cart_abandonment")
    journey = create_journey(session=session, doc=doc)
    assert journey.id is not None
    publish_journey(session=session, journey_id=journey.id)

    report = journey_report(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey.id))

    # Browsing is drawn on the map, but customers enter at the abandoned cart.
    assert [(s.id, s.tracked) for s in report.stages] == [
        ("browse", False),
        ("abandon", True),
        ("recover", True),
        ("purchase", True),
    ]
    assert report.stages[0].emotion == pytest.approx(0.0)


def test_a_journey_without_versions_has_an_empty_report_and_an_unknown_one_is_refused(session: Session) -> None:
    journey = create_journey(session=session, doc=kpi_map())
    assert journey.id is not None

    report = journey_report(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey.id))

    assert (report.versions, report.stages, report.stage_metrics, report.velocity) == ((), (), (), ())
    assert (report.cohort.entered, report.cohort.goal_rate) == (0, None)
    with pytest.raises(JourneyNotFoundError):
        journey_report(session=session, metrics_filter=MetricsFilter.all_time(journey_id=987654))


def test_windows_the_pages_offer_become_metrics_filters() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert window_filter(KpiWindow.LAST_24H, journey_id=1, now=now).since == now - timedelta(hours=24)
    assert window_filter(KpiWindow.LAST_7D, journey_id=1, now=now).since == now - timedelta(days=7)
    month = window_filter(KpiWindow.LAST_30D, journey_id=1, version=2, now=now)
    assert (month.since, month.until, month.version) == (now - timedelta(days=30), now, 2)
    everything = window_filter(KpiWindow.ALL_TIME, journey_id=1, now=now)
    assert (everything.since, everything.until) == (None, None)
    custom = window_filter(KpiWindow.CUSTOM, journey_id=1, first_day=date(2026, 11, 1), last_day=date(2026, 11, 3))
    # Both days included: from the start of the first to the end of the last.
    assert (custom.since, custom.until) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC))
    one_day = window_filter(KpiWindow.CUSTOM, journey_id=1, first_day=date(2026, 11, 1), last_day=date(2026, 11, 1))
    assert one_day.until - one_day.since == timedelta(days=1)
    open_end = window_filter(KpiWindow.CUSTOM, journey_id=1, first_day=date(2026, 11, 1))
    assert (open_end.since, open_end.until) == (datetime(2026, 11, 1, tzinfo=UTC), None)
    with pytest.raises(WindowError, match=r"first day \(2026-11-03\) is after the last \(2026-11-01\)"):
        window_filter(KpiWindow.CUSTOM, journey_id=1, first_day=date(2026, 11, 3), last_day=date(2026, 11, 1))
