"""KPI queries on hand-built histories whose answers are worked out by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import insert
from sqlmodel import Session

from engine.journeys import JourneyNotFoundError, create_journey, publish_journey
from engine.kpis import (
    SAMPLE_PERIOD,
    SAMPLE_SLOTS,
    MetricsFilter,
    VersionNotFoundError,
    conversion_over_time,
    goal_conversion,
    journey_overlay,
    node_metrics,
    recovery_by_channel,
    split_results,
    stage_metrics,
    two_proportion_p_value,
)
from engine.map import JourneyMap
from engine.store import Enrollment, EnrollmentStatus, MessageStatus, Profile, Transition, get_engine
from tests.engine_factories import event_trigger, node, send
from tests.history_factories import Message, Run, path, record_runs

T0 = datetime(2026, 11, 13, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
STAGE_OF = {
    "entry": "a",
    "mail": "a",
    "pause": "a",
    "ab": "b",
    "text": "b",
    "nudge": "b",
    "cool": "b",
    "buy": "c",
    "won": "c",
    "lost": "c",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session on SQLite or on the shared PostgreSQL database; what a test writes is rolled back."""
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    with Session(get_engine(url), expire_on_commit=False) as session:
        yield session
        session.rollback()


def metrics_map() -> JourneyMap:
    """entry -> mail -> pause | split ab: text or nudge -> cool | wait for purchase: won (goal) or lost."""
    return JourneyMap.from_dict(
        {
            "name": f"Metrics {uuid.uuid4().hex[:8]}",
            "stages": [{"id": s, "name": s.upper(), "order": i} for i, s in enumerate("abc")],
            "nodes": [
                {**event_trigger("signed_up"), "stage": "a"},
                send("mail", stage="a"),
                node("pause", "wait", stage="a", duration="PT1H"),
                node(
                    "ab",
                    "split",
                    stage="b",
                    arms=[{"name": "control", "percent": 50}, {"name": "variant", "percent": 50}],
                ),
                send("text", "sms", stage="b"),
                send("nudge", "push", stage="b"),
                node("cool", "wait", stage="b", duration="PT1H"),
                node("buy", "wait_for_event", stage="c", event="purchased", timeout="P1D"),
                node("won", "goal", stage="c"),
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


def published_journey(session: Session, *, versions: int = 1) -> tuple[int, list[int]]:
    """A journey on the metrics map with ``versions`` published versions: (journey id, version ids)."""
    journey = create_journey(session=session, doc=metrics_map())
    assert journey.id is not None
    version_ids = []
    for _ in range(versions):
        version = publish_journey(session=session, journey_id=journey.id)
        assert version.id is not None
        version_ids.append(version.id)
    return journey.id, version_ids


def record(session: Session, journey_id: int, version_id: int, *runs: Run) -> None:
    record_runs(session, doc=metrics_map(), journey_id=journey_id, version_id=version_id, start=T0, runs=runs)


A = [("entry", 0.0), ("mail", 0.0), ("pause", 0.0)]


def funnel_runs() -> list[Run]:
    """Six runs through stages a -> b -> c:

    won        a at 0, b at 1 h, c at 3 h, reached the goal
    lost       a at 0, b at 2 h, c at 6 h, ended at the exit without the goal
    waiting_b  a at 0, b at 4 h, still waiting in b           (in flight, not dropped)
    left_a     a at 0, ended at 1 h without entering b        (dropped in a)
    waiting_a  a at 0, still waiting in a                     (in flight, not dropped)
    left_b     a at 0, b at 10 h, ended at 11 h without c      (dropped in b)
    """
    return [
        Run(
            path(*A, ("ab", 1), ("text", 1), ("cool", 1), ("buy", 3), ("won", 3)),
            ended=3 * H,
            goal=3 * H,
            arm="control",
        ),
        Run(path(*A, ("ab", 2), ("text", 2), ("cool", 2), ("buy", 6), ("lost", 6)), ended=6 * H, arm="control"),
        Run(path(*A, ("ab", 4), ("nudge", 4), ("cool", 4)), arm="variant"),
        Run(path(*A), ended=1 * H),
        Run(path(*A)),
        Run(path(*A, ("ab", 10), ("nudge", 10), ("cool", 10)), ended=11 * H, arm="variant"),
    ]


def test_stage_conversion_drop_off_and_velocity_follow_the_hand_worked_funnel(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    record(any_session, journey_id, version_id, *funnel_runs())

    a, b, c = stage_metrics(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert (a.stage_id, a.entered, a.moved_on, a.dropped_off, a.reached_goal, a.in_flight) == ("a", 6, 4, 1, 0, 1)
    assert a.conversion == pytest.approx(4 / 6)
    # a -> b took 1, 2, 4 and 10 hours: the median interpolates 2 and 4; p90 is 4 h + 0.7 * (10 h - 4 h).
    assert (a.velocity_median, a.velocity_p90) == (3 * H, timedelta(hours=8.2))
    assert (b.entered, b.moved_on, b.dropped_off, b.reached_goal, b.in_flight) == (4, 2, 1, 0, 1)
    assert b.conversion == pytest.approx(0.5)
    # b -> c took 2 and 4 hours.
    assert (b.velocity_median, b.velocity_p90) == (3 * H, timedelta(hours=3.8))
    assert (c.entered, c.moved_on, c.conversion, c.dropped_off, c.reached_goal, c.in_flight) == (2, None, None, 1, 1, 0)
    assert (c.velocity_median, c.velocity_p90) == (None, None)


def test_customers_still_in_flight_are_not_dropped_until_their_run_ends(session: Session) -> None:
    journey_id, [version_id] = published_journey(session)
    record(session, journey_id, version_id, Run(path(*A)), Run(path(*A)), Run(path(*A), ended=2 * H))

    [a, b, _] = stage_metrics(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert (a.entered, a.moved_on, a.dropped_off, a.in_flight, a.conversion) == (3, 0, 1, 2, 0.0)
    assert (b.entered, b.conversion, b.velocity_median) == (0, None, None)


def test_a_customer_who_skips_a_stage_left_it_for_elsewhere_and_counts_where_it_ended(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    # Straight from stage a into c (past b), ending there without the goal.
    record(any_session, journey_id, version_id, Run(path(*A, ("buy", 2), ("lost", 2)), ended=2 * H))

    a, b, c = stage_metrics(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    # Not moved on to b, yet not dropped in a nor still in it: it moved on elsewhere.
    assert (a.entered, a.moved_on, a.dropped_off, a.reached_goal, a.in_flight) == (1, 0, 0, 0, 0)
    assert (b.entered, b.moved_on) == (0, 0)
    assert (c.entered, c.dropped_off, c.in_flight) == (1, 1, 0)


def test_a_goal_reached_from_an_earlier_stage_is_not_the_conversion_of_the_stage_it_skipped(
    any_session: Session,
) -> None:
    journey_id, [version_id] = published_journey(any_session)
    record(
        any_session,
        journey_id,
        version_id,
        # Into b and waiting there.
        Run(path(*A, ("ab", 1), ("text", 1), ("cool", 1)), arm="control"),
        # The goal event arrives while waiting in a: straight into the goal card in c, past b.
        Run(path(*A, ("won", 2)), ended=2 * H, goal=2 * H),
    )

    a, b, c = stage_metrics(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert (a.entered, a.moved_on, a.conversion) == (2, 1, 0.5)
    # Nobody moved on from b: its conversion says so too, though c was entered (from a).
    assert (b.entered, b.moved_on, b.conversion, b.velocity_median) == (1, 0, 0.0, None)
    assert (c.entered, c.reached_goal) == (1, 1)
    for stage in (a, b):
        assert stage.conversion == (stage.moved_on or 0) / stage.entered


def test_a_customer_who_comes_back_to_a_stage_visits_it_again(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    # a -> b, back to a, on to b again and still waiting there.
    back_and_forth = path(*A, ("ab", 1), ("text", 1), ("pause", 2), ("ab", 5), ("nudge", 5), ("cool", 5))
    record(any_session, journey_id, version_id, Run(back_and_forth, arm="control"))

    a, b, _ = stage_metrics(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    # Two visits to a, both moved on to b: after 1 hour, then after 3 hours.
    assert (a.entered, a.moved_on, a.in_flight, a.conversion) == (2, 2, 0, 1.0)
    assert (a.velocity_median, a.velocity_p90) == (2 * H, timedelta(hours=2.8))
    # The first visit to b went back to a (elsewhere); the second is still there.
    assert (b.entered, b.moved_on, b.in_flight) == (2, 0, 1)


def test_node_counts_give_customers_entries_waiting_and_messages_by_outcome(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    delivered = Message("mail", "email", MessageStatus.DELIVERED, 0 * H, 0.1 * H)
    record(
        any_session,
        journey_id,
        version_id,
        # Sent back to the mail step once: two entries, one customer.
        Run(
            path(*A, ("mail", 1), ("pause", 1)), messages=[delivered, Message("mail", "email", MessageStatus.FAILED, H)]
        ),
        Run(path(*A), messages=[Message("mail", "email", MessageStatus.SUPPRESSED, 0 * H)]),
        Run(path(*A, ("ab", 1), ("text", 1), ("cool", 1)), messages=[Message("text", "sms", MessageStatus.PENDING, H)]),
        Run(path(*A, ("ab", 1), ("text", 1), ("cool", 1)), messages=[Message("text", "sms", MessageStatus.SKIPPED, H)]),
        Run(path(*A), ended=H),
    )

    nodes = {
        n.node_id: n
        for n in node_metrics(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
    }

    assert list(nodes) == ["entry", "mail", "pause", "ab", "text", "nudge", "cool", "buy", "won", "lost"]
    mail = nodes["mail"]
    assert (mail.customers, mail.entries, mail.waiting) == (5, 6, 0)
    assert (mail.sent, mail.delivered, mail.failed, mail.suppressed, mail.pending, mail.skipped) == (2, 1, 1, 1, 0, 0)
    assert (nodes["pause"].waiting, nodes["cool"].waiting) == (2, 2)
    text = nodes["text"]
    assert (text.customers, text.entries, text.sent, text.pending, text.skipped) == (2, 2, 1, 1, 1)
    assert (nodes["nudge"].customers, nodes["nudge"].entries, nodes["nudge"].sent) == (0, 0, 0)


def test_goal_conversion_counts_runs_that_entered_and_those_that_reached_the_goal(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    record(any_session, journey_id, version_id, *funnel_runs())

    goal = goal_conversion(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert (goal.entered, goal.reached_goal) == (6, 1)
    assert goal.rate == pytest.approx(1 / 6)


def test_recovery_credits_the_last_channel_delivered_before_the_goal(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    mail = Message("mail", "email", MessageStatus.DELIVERED, 0 * H, 0.1 * H)
    goal_run = path(*A, ("ab", 1), ("text", 1), ("cool", 1), ("buy", 3), ("won", 5))
    record(
        any_session,
        journey_id,
        version_id,
        # SMS delivered last before the goal; the push after the goal and the failed SMS do not count.
        Run(
            goal_run,
            ended=5 * H,
            goal=5 * H,
            messages=[
                mail,
                Message("text", "sms", MessageStatus.DELIVERED, H, 1.1 * H),
                Message("text", "sms", MessageStatus.FAILED, 2 * H),
                Message("nudge", "push", MessageStatus.DELIVERED, 6 * H, 6 * H),
            ],
        ),
        Run(goal_run, ended=5 * H, goal=5 * H, messages=[mail, Message("text", "sms", MessageStatus.SUPPRESSED, H)]),
        Run(goal_run, ended=5 * H, goal=5 * H, messages=[mail]),
        Run(goal_run, ended=5 * H, goal=5 * H, messages=[Message("mail", "email", MessageStatus.FAILED, 0 * H)]),
        # No goal: its messages are nobody's recovery.
        Run(path(*A), ended=H, messages=[mail]),
    )

    recovered = recovery_by_channel(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert [(r.channel, r.customers) for r in recovered] == [("email", 2), ("sms", 1), (None, 1)]


def split_runs(arm: str, customers: int, converted: int) -> list[Run]:
    steps = path(*A, ("ab", 1), ("text", 1), ("cool", 1))
    return [
        Run(steps, ended=5 * H, goal=5 * H, arm=arm) if i < converted else Run(steps, ended=5 * H, arm=arm)
        for i in range(customers)
    ]


def test_split_compares_each_arm_with_the_first_by_a_two_proportion_z_test(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    record(any_session, journey_id, version_id, *split_runs("control", 100, 20), *split_runs("variant", 100, 35))

    [split] = split_results(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    control, variant = split.arms
    assert (control.arm, control.customers, control.reached_goal, control.p_value) == ("control", 100, 20, None)
    assert (variant.arm, variant.customers, variant.reached_goal) == ("variant", 100, 35)
    # Pooled rate 55/200 = 0.275; standard error sqrt(0.275 * 0.725 * (1/100 + 1/100)) = 0.0631466;
    # z = (0.35 - 0.20) / 0.0631466 = 2.37542; two-sided p = 2 * (1 - Phi(2.37542)) = 0.017529.
    assert variant.p_value == pytest.approx(0.017529, abs=1e-6)
    assert not split.small_sample
    assert not control.small_sample


def test_a_split_warns_while_arms_are_small_or_have_few_conversions(session: Session) -> None:
    journey_id, [version_id] = published_journey(session)
    record(session, journey_id, version_id, *split_runs("control", 40, 4), *split_runs("variant", 20, 10))

    [split] = split_results(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert [(a.arm, a.customers, a.reached_goal, a.small_sample) for a in split.arms] == [
        ("control", 40, 4, True),
        ("variant", 20, 10, True),
    ]
    assert split.small_sample


def test_the_p_value_is_undefined_without_customers_or_variation() -> None:
    assert two_proportion_p_value(0, 0, 3, 10) is None
    assert two_proportion_p_value(0, 10, 0, 10) is None
    assert two_proportion_p_value(10, 10, 10, 10) is None
    assert two_proportion_p_value(5, 10, 5, 10) == pytest.approx(1.0)


def test_a_window_counts_who_entered_in_it_and_what_happened_before_it_closed(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    late = 5 * 24.0
    record(
        any_session,
        journey_id,
        version_id,
        *funnel_runs(),
        # Entered five days after T0: moved on six hours later, then reached the goal.
        Run(
            path(("entry", late), ("mail", late), ("pause", late), ("ab", late + 6), ("text", late + 6)),
            ended=(late + 8) * H,
            goal=(late + 8) * H,
        ),
    )
    recent = MetricsFilter.custom(journey_id=journey_id, since=T0 + 4 * 24 * H, until=T0 + (late + 7) * H)

    a, b, _ = stage_metrics(session=any_session, metrics_filter=recent)
    goal = goal_conversion(session=any_session, metrics_filter=recent)
    nodes = {n.node_id: n for n in node_metrics(session=any_session, metrics_filter=recent)}

    # Only the late run entered in the window; when it closed it had moved on but not reached the goal.
    assert (a.entered, a.moved_on, a.dropped_off, a.in_flight, a.velocity_median) == (1, 1, 0, 0, 6 * H)
    assert (b.entered, b.moved_on, b.dropped_off, b.reached_goal, b.in_flight) == (1, 0, 0, 0, 1)
    assert (goal.entered, goal.reached_goal) == (1, 0)
    assert (nodes["mail"].entries, nodes["text"].entries, nodes["cool"].entries) == (1, 1, 0)

    everything = stage_metrics(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
    assert (everything[0].entered, everything[1].reached_goal) == (7, 1)


def test_the_rolling_windows_end_now_and_reach_back_their_length() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert MetricsFilter.last_24h(journey_id=1, now=now).since == now - timedelta(hours=24)
    assert MetricsFilter.last_7d(journey_id=1, now=now).since == now - timedelta(days=7)
    week = MetricsFilter.last_30d(journey_id=1, version=2, now=now)
    assert (week.since, week.until, week.version) == (now - timedelta(days=30), now, 2)
    assert (MetricsFilter.all_time(journey_id=1).since, MetricsFilter.all_time(journey_id=1).until) == (None, None)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (datetime(2026, 11, 1), None, "since must be timezone-aware"),
        (None, datetime(2026, 11, 1), "until must be timezone-aware"),
        (T0, T0, "must be before until"),
        (T0 + H, T0, "must be before until"),
    ],
)
def test_a_window_must_be_aware_and_in_order(since: datetime | None, until: datetime | None, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MetricsFilter.custom(journey_id=1, since=since, until=until)


def test_a_version_filter_counts_only_that_versions_runs(any_session: Session) -> None:
    journey_id, [first, second] = published_journey(any_session, versions=2)
    record(any_session, journey_id, first, *funnel_runs())
    record(
        any_session,
        journey_id,
        second,
        Run(path(*A, ("ab", 1), ("text", 1), ("cool", 1)), arm="control"),
        Run(path(*A), ended=H),
    )

    v2 = MetricsFilter.all_time(journey_id=journey_id, version=2)
    a, b, _ = stage_metrics(session=any_session, metrics_filter=v2)
    nodes = {n.node_id: n for n in node_metrics(session=any_session, metrics_filter=v2)}

    assert (a.entered, a.moved_on, a.dropped_off, b.entered, b.in_flight) == (2, 1, 1, 1, 1)
    assert (nodes["mail"].customers, nodes["cool"].waiting) == (2, 1)
    assert goal_conversion(session=any_session, metrics_filter=v2).entered == 2
    assert (
        stage_metrics(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))[0].entered == 8
    )


def test_an_unknown_journey_or_version_is_refused_by_name(session: Session) -> None:
    journey_id, _ = published_journey(session)
    with pytest.raises(VersionNotFoundError, match=f"journey {journey_id} has no published version 9"):
        stage_metrics(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id, version=9))
    with pytest.raises(JourneyNotFoundError, match="no journey with id 987654"):
        journey_overlay(session=session, metrics_filter=MetricsFilter.all_time(journey_id=987654))


def test_conversion_over_time_buckets_entries_and_goals_by_utc_day_with_empty_days(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    day = 24.0
    record(
        any_session,
        journey_id,
        version_id,
        Run(path(*A), ended=(day + 1) * H, goal=(day + 1) * H),
        Run(path(*A)),
        Run(
            path(("entry", 3 * day), ("mail", 3 * day), ("pause", 3 * day)),
            ended=(3 * day + 2) * H,
            goal=(3 * day + 2) * H,
        ),
    )

    days = conversion_over_time(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    assert [(d.day, d.entered, d.converted, d.goals_reached) for d in days] == [
        (date(2026, 11, 13), 2, 1, 0),
        (date(2026, 11, 14), 0, 0, 1),
        (date(2026, 11, 15), 0, 0, 0),
        (date(2026, 11, 16), 1, 1, 1),
    ]
    assert {d.size for d in days} == {timedelta(days=1)}


def test_a_history_of_a_few_hours_is_drawn_per_hour_and_one_of_minutes_per_minutes(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    # Three entries within 3 hours of 12:00 UTC, one goal at 14:30.
    record(
        any_session,
        journey_id,
        version_id,
        Run(path(*A), ended=2.5 * H, goal=2.5 * H),
        Run(path(("entry", 1.25), ("mail", 1.25), ("pause", 1.25))),
        Run(path(("entry", 3), ("mail", 3), ("pause", 3))),
    )
    all_time = MetricsFilter.all_time(journey_id=journey_id)

    hours = conversion_over_time(session=any_session, metrics_filter=all_time)

    # 12:00 to 15:00 is 3 hours: 5-minute buckets would be 37 of them, so 5 minutes it is.
    assert {d.size for d in hours} == {timedelta(minutes=5)}
    assert (hours[0].start, hours[-1].start) == (T0, T0 + 3 * H)
    assert sum(d.entered for d in hours) == 3
    assert [(d.start, d.entered, d.converted) for d in hours if d.entered] == [
        (T0, 1, 1),
        (T0 + 1.25 * H, 1, 0),
        (T0 + 3 * H, 1, 0),
    ]
    assert [(d.start, d.goals_reached) for d in hours if d.goals_reached] == [(T0 + 2.5 * H, 1)]
    # The last 24 hours up to 18:00 UTC: the entries span 6 hours in it, drawn per 15 minutes.
    day = conversion_over_time(
        session=any_session,
        metrics_filter=MetricsFilter.last_24h(journey_id=journey_id, now=T0 + 6 * H),
    )
    assert {d.size for d in day} == {timedelta(minutes=15)}
    assert (day[0].start, day[-1].start, len(day)) == (T0, T0 + 5.75 * H, 24)
    # A week: the same entries, over 5 days and a half from the first: per UTC day.
    week = conversion_over_time(
        session=any_session,
        metrics_filter=MetricsFilter.last_7d(journey_id=journey_id, now=T0 + 5.5 * 24 * H),
    )
    assert {d.size for d in week} == {timedelta(days=1)}
    assert [d.entered for d in week] == [3, 0, 0, 0, 0, 0]


def test_a_window_nobody_entered_in_has_empty_buckets_and_all_time_none(any_session: Session) -> None:
    journey_id, _ = published_journey(any_session)

    assert conversion_over_time(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id)) == ()
    day = conversion_over_time(
        session=any_session, metrics_filter=MetricsFilter.last_24h(journey_id=journey_id, now=T0)
    )
    assert {d.size for d in day} == {timedelta(hours=1)}
    assert len(day) == 24
    assert all(d.entered == d.goals_reached == 0 for d in day)


def test_the_overlay_gives_stages_nodes_edge_shares_and_the_goal_in_one_call(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    record(any_session, journey_id, version_id, *funnel_runs())
    metrics_filter = MetricsFilter.all_time(journey_id=journey_id)

    overlay = journey_overlay(session=any_session, metrics_filter=metrics_filter)

    assert overlay.stages == stage_metrics(session=any_session, metrics_filter=metrics_filter)
    assert overlay.nodes == node_metrics(session=any_session, metrics_filter=metrics_filter)
    assert overlay.goal == goal_conversion(session=any_session, metrics_filter=metrics_filter)
    edges = {(e.source, e.target): e for e in overlay.edges}
    # Six entered the pause; four went on to the split (two are waiting there or left from it).
    assert (edges[("pause", "ab")].customers, edges[("pause", "ab")].share) == (4, pytest.approx(4 / 6))
    assert (edges[("ab", "text")].customers, edges[("ab", "text")].share) == (2, 0.5)
    assert (edges[("buy", "won")].customers, edges[("buy", "won")].share, edges[("buy", "won")].edge_ids) == (
        1,
        0.5,
        ("e_buy_won",),
    )
    assert set(edges) == {
        ("entry", "mail"),
        ("mail", "pause"),
        ("pause", "ab"),
        ("ab", "text"),
        ("ab", "nudge"),
        ("text", "cool"),
        ("nudge", "cool"),
        ("cool", "buy"),
        ("buy", "won"),
        ("buy", "lost"),
    }
    assert all(e.edge_ids == (f"e_{e.source}_{e.target}",) for e in overlay.edges)


def test_a_journey_without_a_published_version_has_no_figures(session: Session) -> None:
    journey = create_journey(session=session, doc=metrics_map())
    assert journey.id is not None

    overlay = journey_overlay(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey.id))

    assert (overlay.stages, overlay.nodes, overlay.edges) == ((), (), ())
    assert (overlay.goal.entered, overlay.goal.rate) == (0, None)


def test_an_edge_share_names_the_map_edges_drawn_through_touchpoints(session: Session) -> None:
    doc = JourneyMap.from_dict(
        {
            "name": "Touchpoints in between",
            "stages": [{"id": "a", "name": "A", "order": 0}],
            "nodes": [
                {**event_trigger("signed_up"), "stage": "a"},
                node("call", "touchpoint", stage="a"),
                node("visit", "touchpoint", stage="a"),
                send("mail", stage="a"),
                node("pause", "wait", stage="a", duration="PT1H"),
            ],
            "edges": [
                {"id": "to_call", "source": "entry", "target": "call"},
                {"id": "to_visit", "source": "call", "target": "visit"},
                {"id": "to_mail", "source": "visit", "target": "mail"},
                {"id": "to_pause", "source": "mail", "target": "pause"},
            ],
        }
    )
    journey = create_journey(session=session, doc=doc)
    assert journey.id is not None
    version = publish_journey(session=session, journey_id=journey.id)
    assert version.id is not None
    record(session, journey.id, version.id, Run(path(*A)), Run(path(("entry", 0), ("mail", 0))))

    overlay = journey_overlay(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey.id))

    assert [(e.source, e.target, e.customers, e.share, e.edge_ids) for e in overlay.edges] == [
        ("entry", "mail", 2, 1.0, ("to_call", "to_visit", "to_mail")),
        ("mail", "pause", 1, 0.5, ("to_pause",)),
    ]


def test_a_windowed_edge_share_counts_customers_by_when_they_entered_the_source(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    day = 24.0
    record(
        any_session,
        journey_id,
        version_id,
        # Waited at the pause from before the window into it: its move out of the pause is not counted.
        Run(path(*A, ("ab", 2 * day + 1), ("text", 2 * day + 1), ("cool", 2 * day + 1)), arm="control"),
        # Entered and moved on inside the window.
        Run(
            path(("entry", 2 * day + 2), ("mail", 2 * day + 2), ("pause", 2 * day + 2), ("ab", 2 * day + 3)),
            arm="variant",
        ),
        # Entered the pause inside the window and moved on after it closed: not counted as moved yet.
        Run(path(("entry", 3 * day - 1), ("mail", 3 * day - 1), ("pause", 3 * day - 1), ("ab", 3 * day + 1))),
    )
    window = MetricsFilter.custom(journey_id=journey_id, since=T0 + 2 * day * H, until=T0 + 3 * day * H)

    overlay = journey_overlay(session=any_session, metrics_filter=window)

    edges = {(e.source, e.target): (e.customers, e.share) for e in overlay.edges}
    nodes = {n.node_id: (n.customers, n.entries) for n in overlay.nodes}
    assert edges[("pause", "ab")] == (1, 0.5)
    assert edges[("ab", "text")] == (1, 0.5)
    assert (nodes["pause"], nodes["ab"], nodes["text"]) == ((2, 2), (2, 2), (1, 1))
    assert edges[("entry", "mail")] == (2, 1.0)


def test_runs_that_loop_are_counted_once_per_node_and_move(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    loop = path(*A, ("mail", 1), ("pause", 1), ("mail", 2), ("pause", 2))
    record(any_session, journey_id, version_id, Run(loop), Run(loop), Run(path(*A, ("ab", 1), ("text", 1))))

    overlay = journey_overlay(session=any_session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))

    nodes = {n.node_id: (n.customers, n.entries) for n in overlay.nodes}
    edges = {(e.source, e.target): (e.customers, e.share) for e in overlay.edges}
    assert (nodes["mail"], nodes["pause"], nodes["ab"]) == ((3, 7), (3, 7), (1, 1))
    # Twice from the pause back to the mail, still two customers; the pause's share is per customer.
    assert edges[("pause", "mail")] == (2, pytest.approx(2 / 3))
    assert edges[("mail", "pause")] == (3, 1.0)
    assert edges[("pause", "ab")] == (1, pytest.approx(1 / 3))


def record_velocities(
    session: Session, journey_id: int, version_id: int, runs: int, minutes: Callable[[int, int], float]
) -> list[float]:
    """``runs`` runs entering stage a at T0 and stage b ``minutes(i, run id)`` later, in bulk (thousands
    of runs); returns the minutes in run order."""
    profiles = Profile.__table__  # type: ignore[attr-defined]
    enrollments = Enrollment.__table__  # type: ignore[attr-defined]
    steps = Transition.__table__  # type: ignore[attr-defined]
    people = [
        {"user_id": f"v-{uuid.uuid4().hex}", "traits": {}, "consent": {}, "created_at": T0, "updated_at": T0}
        for _ in range(runs)
    ]
    profile_ids = session.execute(
        insert(profiles).returning(profiles.c.id, sort_by_parameter_order=True), people
    ).scalars()
    entered = [
        {
            "journey_id": journey_id,
            "version_id": version_id,
            "profile_id": profile_id,
            "status": EnrollmentStatus.WAITING,
            "step_id": "ab",
            "stage_id": "b",
            "context": {},
            "entered_at": T0,
        }
        for profile_id in profile_ids
    ]
    run_ids = session.execute(
        insert(enrollments).returning(enrollments.c.id, sort_by_parameter_order=True), entered
    ).scalars()
    taken = []
    rows = []
    for i, run_id in enumerate(run_ids):
        taken.append(minutes(i, run_id))
        moved = T0 + timedelta(minutes=taken[-1])
        for node_id, at, source in [
            ("entry", T0, None),
            ("mail", T0, "entry"),
            ("pause", T0, "mail"),
            ("ab", moved, "pause"),
        ]:
            rows.append(
                {
                    "enrollment_id": run_id,
                    "journey_id": journey_id,
                    "version_id": version_id,
                    "node_id": node_id,
                    "stage_id": STAGE_OF[node_id],
                    "first_in_stage": node_id in ("entry", "ab"),
                    "arm": None,
                    "at": at,
                    "from_node_id": source,
                    "from_at": T0 if source else None,
                    "from_stage_id": "a" if node_id == "ab" else None,
                    "from_stage_at": T0 if node_id == "ab" else None,
                    "from_stage_seconds": (at - T0).total_seconds() if node_id == "ab" else None,
                }
            )
    session.execute(insert(steps), rows)
    return taken


def velocity(session: Session, journey_id: int) -> tuple[timedelta | None, timedelta | None]:
    a, *_ = stage_metrics(session=session, metrics_filter=MetricsFilter.all_time(journey_id=journey_id))
    return a.velocity_median, a.velocity_p90


def exact(minutes: Sequence[float]) -> tuple[timedelta, timedelta]:
    """percentile_cont's median and p90 of the minutes, worked out here by sorting them all."""
    ordered = sorted(minutes)

    def at(fraction: float) -> float:
        place = (len(ordered) - 1) * fraction
        low = int(place)
        return ordered[low] + (place - low) * (ordered[min(low + 1, len(ordered) - 1)] - ordered[low])

    return timedelta(minutes=at(0.5)), timedelta(minutes=at(0.9))


def test_the_velocity_of_thousands_of_runs_is_the_exact_percentile(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    order = list(range(1, 3001))
    random.Random(3).shuffle(order)
    record_velocities(any_session, journey_id, version_id, 3000, lambda i, _: float(order[i]))

    # Sorted, 1 .. 3000 minutes: the median lies between 1500 and 1501; p90 at 2700 + 0.1 * (2701 - 2700).
    assert velocity(any_session, journey_id) == (timedelta(minutes=1500.5), timedelta(minutes=2700.1))


def test_the_velocity_is_exact_when_the_runs_sampled_first_are_unlike_the_rest(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)

    def minutes(i: int, run_id: int) -> float:
        # The runs the velocity sample reads first took far longer than everyone else.
        return 5000.0 + i if run_id % SAMPLE_PERIOD < SAMPLE_SLOTS else float(i % 1000)

    taken = record_velocities(any_session, journey_id, version_id, 3000, minutes)

    assert sum(m >= 5000 for m in taken) > 30
    assert velocity(any_session, journey_id) == exact(taken)


def test_the_velocity_counts_ties_without_listing_them(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    # Most runs moved on at once (a stage with no wait); the rest took 1 .. 600 minutes.
    taken = [0.0] * 2400 + [float(m) for m in range(1, 601)]
    random.Random(5).shuffle(taken)
    record_velocities(any_session, journey_id, version_id, 3000, lambda i, _: taken[i])

    # Sorted: 2400 zeros, then 1 .. 600. The median is 0; p90 lies between 300 and 301.
    assert velocity(any_session, journey_id) == (timedelta(0), timedelta(minutes=300.1))


def test_the_velocity_stays_exact_when_the_durations_move_away_from_last_time(any_session: Session) -> None:
    journey_id, [version_id] = published_journey(any_session)
    first = record_velocities(any_session, journey_id, version_id, 2000, lambda i, _: float(i % 700))
    assert velocity(any_session, journey_id) == exact(first)

    # Thousands more, all far slower: last time's brackets no longer hold the percentiles.
    later = record_velocities(any_session, journey_id, version_id, 4000, lambda i, _: 9000.0 + i)

    assert velocity(any_session, journey_id) == exact(first + later)
