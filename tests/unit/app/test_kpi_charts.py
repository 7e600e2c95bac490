"""The KPI figures and CSV built from known aggregates: traces, titles, values, labels and the CSV's cells."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest

from engine.kpis import (
    VELOCITY_BUCKETS,
    ArmResult,
    ChannelRecovery,
    Cohort,
    DailyConversion,
    DayCount,
    JourneyReport,
    JourneyTrend,
    MetricsFilter,
    SplitResult,
    StageMetrics,
    StageVelocity,
    StageView,
    VelocityBucket,
)
from engine.store import JourneyStatus
from journey_builder.kpis.charts import ACCENT, NEUTRAL, WARNING
from journey_builder.kpis.csv_export import report_csv
from journey_builder.kpis.formatting import format_count, format_duration, format_rate
from journey_builder.kpis.goal_charts import recovery_by_channel, split_results
from journey_builder.kpis.stage_charts import emotion_and_drop_off, stage_funnel, velocity_distribution
from journey_builder.kpis.trend_charts import conversion_over_time, rolling_rates, sparkline

H = timedelta(hours=1)
STAGES = (
    StageView(id="research", name="Research", emotion=1.0, tracked=False),
    StageView(id="signup", name="Sign up", emotion=0.5, tracked=True),
    StageView(id="trial", name="Trial", emotion=-1.5, tracked=True),
    StageView(id="buy", name="Purchase", emotion=None, tracked=True),
)


def stage(
    stage_id: str,
    entered: int,
    moved_on: int | None,
    dropped: int,
    goal: int = 0,
    conversion: float | None = None,
    median: timedelta | None = None,
    p90: timedelta | None = None,
) -> StageMetrics:
    return StageMetrics(
        stage_id=stage_id,
        entered=entered,
        moved_on=moved_on,
        conversion=conversion,
        dropped_off=dropped,
        reached_goal=goal,
        in_flight=entered - (moved_on or 0) - dropped - goal,
        velocity_median=median,
        velocity_p90=p90,
    )


METRICS = (
    stage("research", 0, 0, 0),
    stage("signup", 200, 120, 50, conversion=0.6, median=3 * H, p90=30 * H),
    stage("trial", 120, 30, 60, conversion=0.25, median=timedelta(minutes=45), p90=2 * H),
    stage("buy", 30, None, 6, goal=24),
)


def buckets(*counts: int) -> tuple[VelocityBucket, ...]:
    return tuple(
        VelocityBucket(label=label, upper=upper, customers=count)
        for (label, upper), count in zip(VELOCITY_BUCKETS, counts, strict=True)
    )


VELOCITY = (
    StageVelocity(stage_id="research", next_stage_id="signup", customers=0, buckets=buckets(0, 0, 0, 0, 0, 0, 0)),
    StageVelocity(stage_id="signup", next_stage_id="trial", customers=120, buckets=buckets(12, 0, 48, 30, 24, 6, 0)),
    StageVelocity(stage_id="trial", next_stage_id="buy", customers=30, buckets=buckets(3, 27, 0, 0, 0, 0, 0)),
)


def arm(name: str, customers: int, reached: int, p_value: float | None, *, holdout: bool = False) -> ArmResult:
    return ArmResult(
        arm=name,
        holdout=holdout,
        customers=customers,
        reached_goal=reached,
        rate=reached / customers,
        p_value=p_value,
        small_sample=False,
    )


SPLIT = SplitResult(
    node_id="ab",
    arms=(
        arm("control", 100, 20, None),
        arm("variant", 100, 35, 0.017529),
        arm("nothing", 50, 5, 0.1234, holdout=True),
    ),
    small_sample=False,
)


def title(figure: object) -> tuple[str, str]:
    layout = figure.layout  # type: ignore[attr-defined]
    return layout.title.text, layout.title.subtitle.text


def annotations(figure: object) -> list[str]:
    return [a.text for a in figure.layout.annotations]  # type: ignore[attr-defined]


def test_the_funnel_shows_tracked_stages_top_down_with_the_share_of_the_stage_before() -> None:
    figure = stage_funnel(STAGES, METRICS)

    [bars] = figure.data
    assert title(figure) == (
        "Stage funnel",
        "Customers who entered each stage · % of them who moved on to the next (last: reached the goal)",
    )
    assert (bars.type, bars.orientation) == ("bar", "h")
    # Research holds touchpoints only: left out rather than drawn as zero.
    assert list(bars.y) == ["Sign up", "Trial", "Purchase"]
    assert list(bars.x) == [200, 120, 30]
    # The lanes' words and shares: the engine's conversion of each stage, the goal rate of the last.
    assert list(bars.text) == ["200 · 60% → next", "120 · 25% → next", "30 · 80% reached the goal"]
    assert figure.layout.yaxis.autorange == "reversed"
    assert figure.layout.xaxis.title.text == "Customers"


def test_a_stage_entered_from_further_back_lends_nothing_to_the_stage_before() -> None:
    # Nobody moved on from Trial, yet Purchase was entered: 3 reached the goal from Sign up.
    metrics = (
        stage("signup", 10, 4, 3, conversion=0.4),
        stage("trial", 4, 0, 1, conversion=0.0),
        stage("buy", 3, None, 0, goal=3),
    )

    [bars] = stage_funnel(STAGES, metrics).data

    assert list(bars.text) == ["10 · 40% → next", "4 · 0% → next", "3 · 100% reached the goal"]


def test_an_empty_window_draws_a_message_not_empty_axes() -> None:
    empty = (stage("signup", 0, 0, 0), stage("trial", 0, None, 0))

    figures = [
        stage_funnel(STAGES, empty),
        velocity_distribution(STAGES, VELOCITY[:1], empty),
        conversion_over_time(()),
        recovery_by_channel(()),
        split_results((), {}),
    ]

    for figure in figures:
        assert figure.data == ()
        assert figure.layout.xaxis.visible is False
        [message] = annotations(figure)
        assert "in this window" in message


def test_velocity_stacks_each_stages_buckets_as_shares_with_the_median_beside_it() -> None:
    figure = velocity_distribution(STAGES, VELOCITY, METRICS)

    assert title(figure) == ("Time to the next stage", "Share of the customers who moved on, by how long it took (%)")
    assert [trace.name for trace in figure.data] == [label for label, _ in VELOCITY_BUCKETS]
    assert figure.layout.barmode == "stack"
    rows = figure.data[0].y
    assert len(rows) == 2
    assert rows[0].startswith("Sign up → Trial<br>")
    assert "median 3.0 h · 120 moved on" in rows[0]
    assert "median 45 min · 30 moved on" in rows[1]
    shares = [[trace.x[row] for trace in figure.data] for row in range(2)]
    assert shares[0] == pytest.approx([10, 0, 40, 25, 20, 5, 0])
    assert shares[1] == pytest.approx([10, 90, 0, 0, 0, 0, 0])
    assert [trace.customdata[0] for trace in figure.data] == [12, 0, 48, 30, 24, 6, 0]
    # Too narrow segments carry no label; the hover still gives them.
    assert [trace.text[0] for trace in figure.data] == ["10%", "", "40%", "25%", "20%", "", ""]
    assert figure.layout.xaxis.range == (0, 100)
    assert figure.layout.xaxis.title.text == "Customers who moved on (%)"


def days(*counts: tuple[int, int], first: date = date(2026, 11, 1)) -> tuple[DailyConversion, ...]:
    return tuple(
        DailyConversion(
            start=datetime.combine(first + timedelta(days=i), time(), UTC),
            size=timedelta(days=1),
            entered=entered,
            converted=converted,
            goals_reached=converted,
        )
        for i, (entered, converted) in enumerate(counts)
    )


def test_conversion_over_time_draws_daily_entries_and_the_days_conversion_on_a_second_axis() -> None:
    figure = conversion_over_time(days((5, 1), (0, 0), (4, 3)))

    bars, line = figure.data
    assert title(figure)[0] == "Goal conversion over time"
    assert (bars.type, bars.name, list(bars.y)) == ("bar", "Entered (customers)", [5, 0, 4])
    assert list(bars.x) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert (line.type, line.name, line.yaxis) == ("scatter", "Goal conversion (%)", "y2")
    assert list(line.y) == [20.0, None, 75.0]
    assert figure.layout.yaxis2.overlaying == "y"
    assert figure.layout.yaxis2.range == (0, 100.0)
    assert figure.layout.yaxis.dtick == 1


def test_a_short_history_is_drawn_per_hour_with_times_of_day_on_the_axis() -> None:
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    hours = tuple(
        DailyConversion(
            start=start + n * timedelta(hours=1), size=timedelta(hours=1), entered=e, converted=c, goals_reached=c
        )
        for n, (e, c) in enumerate([(4, 1), (0, 0), (2, 2)])
    )

    figure = conversion_over_time(hours)

    bars, line = figure.data
    assert title(figure)[1] == "Per hour (UTC): customers who entered, and the % of them who reached the goal"
    assert list(bars.x) == ["2026-11-01 09:00:00", "2026-11-01 10:00:00", "2026-11-01 11:00:00"]
    # Half an hour either side: the first and last bars are drawn whole.
    assert figure.layout.xaxis.range == ("2026-11-01 08:30:00", "2026-11-01 11:30:00")
    # Few points between empty buckets: drawn as markers, which a line alone would leave out.
    assert line.mode == "lines+markers"
    assert list(line.y) == [25.0, None, 100.0]
    assert figure.layout.xaxis.tickformat == "%H:%M"
    assert "%H:%M" in bars.hovertemplate
    assert figure.layout.xaxis.dtick is None


def test_a_long_series_shows_the_trailing_weeks_conversion() -> None:
    series = days(*([(10, 1)] * 7 + [(10, 8)] * 7 + [(0, 0)]))

    figure = conversion_over_time(series)

    line = figure.data[1]
    assert line.name == "Goal conversion, trailing 7 days (%)"
    # Day 8 looks back over days 2-8: six days of 1 in 10 and one of 8 in 10.
    assert line.y[7] == pytest.approx(100 * 14 / 70)
    assert line.y[14] == pytest.approx(100 * 48 / 60)
    assert rolling_rates(series[:3], 2) == pytest.approx([10.0, 10.0, 10.0])


def test_a_window_reaching_back_years_starts_the_chart_at_its_first_active_day() -> None:
    series = days(*([(0, 0)] * 400 + [(5, 1), (3, 0)]), first=date(2025, 1, 1))

    figure = conversion_over_time(series)

    assert figure.data[0].x[0] == (date(2025, 1, 1) + timedelta(days=400)).isoformat()
    assert len(figure.data[0].x) == 2


def test_recovery_lists_channels_by_customers_with_their_share() -> None:
    recovery = (
        ChannelRecovery(channel="email", customers=30),
        ChannelRecovery(channel="sms", customers=15),
        ChannelRecovery(channel=None, customers=5),
    )

    figure = recovery_by_channel(recovery)

    [bars] = figure.data
    assert title(figure)[0] == "Recovery by channel"
    assert list(bars.y) == ["Email", "SMS", "No message"]
    assert list(bars.x) == [30, 15, 5]
    assert list(bars.text) == ["30 · 60%", "15 · 30%", "5 · 10%"]
    assert list(bars.marker.color) == [ACCENT, ACCENT, NEUTRAL]


def test_split_arms_show_conversion_with_the_p_value_against_the_first_arm() -> None:
    figure = split_results((SPLIT,), {"ab": "Reminder test"})

    [bars] = figure.data
    assert title(figure) == ("Split results", "Goal conversion per arm (%), each arm compared with the split's first")
    assert [list(level) for level in bars.x] == [
        ["Reminder test"] * 3,
        ["control", "variant", "nothing (holdout)"],
    ]
    assert list(bars.y) == pytest.approx([20.0, 35.0, 10.0])
    assert list(bars.text) == ["20.0% · 20/100", "35.0% · 35/100", "10.0% · 5/50"]
    assert annotations(figure) == ["p = 0.018 vs control", "p = 0.123 vs control"]
    assert figure.layout.xaxis.type == "multicategory"


def test_a_small_split_says_so_in_its_subtitle() -> None:
    small = SplitResult(
        node_id="ab",
        arms=(
            arm("control", 10, 2, None).model_copy(update={"small_sample": True}),
            arm("variant", 12, 0, None).model_copy(update={"small_sample": True}),
        ),
        small_sample=True,
    )

    figure = split_results((small,), {})

    assert title(figure)[1] == "Small sample: too few customers or conversions to call a winner yet"
    assert figure.layout.title.subtitle.font.color == WARNING
    assert annotations(figure) == ["too few to compare"]
    assert list(figure.data[0].x[0]) == ["ab", "ab"]


def test_emotion_runs_above_the_drop_off_of_each_stage_on_a_shared_stage_axis() -> None:
    figure = emotion_and_drop_off(STAGES, METRICS)

    bars, line = figure.data
    assert title(figure)[0] == "Emotion and drop-off by stage"
    assert list(bars.x) == ["Research", "Sign up", "Trial", "Purchase"]
    # Research is not tracked: no bar rather than a false 0 %.
    assert list(bars.y) == [None, 25.0, 50.0, 20.0]
    assert list(bars.text) == ["", "25% · 50", "50% · 60", "20% · 6"]
    assert (line.yaxis, list(line.y)) == ("y2", [1.0, 0.5, -1.5, None])
    assert figure.layout.yaxis2.range == (-2.5, 2.5)
    assert figure.layout.yaxis2.domain[0] > figure.layout.yaxis.domain[1]


def test_a_sparkline_is_one_line_of_daily_entries_without_axes() -> None:
    trend = JourneyTrend(
        journey_id=1,
        bucket=timedelta(days=1),
        entered=7,
        reached_goal=2,
        days=(
            DayCount(start=datetime(2026, 11, 1, tzinfo=UTC), entered=3, converted=1),
            DayCount(start=datetime(2026, 11, 2, tzinfo=UTC), entered=0, converted=0),
            DayCount(start=datetime(2026, 11, 3, tzinfo=UTC), entered=4, converted=1),
        ),
    )

    figure = sparkline(trend)

    [line] = figure.data
    assert list(line.y) == [3, 0, 4]
    assert (figure.layout.xaxis.visible, figure.layout.yaxis.visible, figure.layout.showlegend) == (False, False, False)
    assert (figure.layout.height, figure.layout.title.text) == (40, None)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (timedelta(milliseconds=300), "< 1 s"),
        (timedelta(seconds=6), "6 s"),
        (timedelta(seconds=6.7), "6 s"),
        (timedelta(seconds=59.6), "59 s"),
        (timedelta(minutes=45), "45 min"),
        (3 * H, "3.0 h"),
        (47 * H, "47.0 h"),
        (72 * H, "3.0 days"),
    ],
)
def test_durations_read_in_the_unit_that_suits_them(value: timedelta | None, text: str) -> None:
    assert format_duration(value) == text


def test_rates_and_counts_read_as_people_write_them() -> None:
    assert (format_rate(None), format_rate(0.2916)) == ("—", "29.2%")
    assert format_count(12345) == "12,345"


def report() -> JourneyReport:
    return JourneyReport(
        journey_id=7,
        journey_name="Trial to paid",
        journey_status=JourneyStatus.LIVE,
        filter=MetricsFilter.custom(
            journey_id=7,
            version=2,
            since=datetime(2026, 11, 1, tzinfo=UTC),
            until=datetime(2026, 11, 3, tzinfo=UTC),
        ),
        versions=(1, 2),
        stages=STAGES,
        stage_metrics=METRICS,
        cohort=Cohort(entered=200, reached_goal=24, dropped_off=116, in_flight=60),
        velocity=VELOCITY,
        daily=days((120, 20), (80, 4)),
        recovery=(ChannelRecovery(channel="sms", customers=18), ChannelRecovery(channel=None, customers=6)),
        splits=(SPLIT,),
        node_titles={"ab": "Reminder test"},
    )


def sections(text: str) -> dict[str, list[list[str]]]:
    """The CSV's sections by title: each the header row and the rows below it."""
    rows = list(csv.reader(io.StringIO(text)))
    found: dict[str, list[list[str]]] = {}
    for i, row in enumerate(rows):
        if row == [] and i + 1 < len(rows):
            end = next((j for j in range(i + 1, len(rows)) if rows[j] == []), len(rows))
            found[rows[i + 1][0]] = rows[i + 2 : end]
    return found


def test_the_csv_holds_every_charts_table_with_units_in_its_headers() -> None:
    text = report_csv(report(), window_label="Custom dates", generated_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC))

    assert text.startswith("\ufeffJourney,Trial to paid\r\n")
    head = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))[:4]
    assert head == [
        ["Journey", "Trial to paid"],
        ["Window", "Custom dates (2026-11-01 00:00 UTC to 2026-11-03 00:00 UTC)"],
        ["Version", "v2"],
        ["Generated", "2026-11-23 09:30 UTC"],
    ]
    found = sections(text)
    assert list(found) == [
        "Headline",
        "Stage funnel",
        "Time to the next stage",
        "Goal conversion over time",
        "Recovery by channel",
        "Split results",
        "Human tasks",
        "Emotion and drop-off by stage",
    ]
    assert found["Headline"] == [
        [
            "Entered (customers)",
            "Reached goal (customers)",
            "Goal conversion (%)",
            "Dropped off (customers)",
            "In flight (customers)",
        ],
        ["200", "24", "12.0", "116", "60"],
    ]
    funnel = found["Stage funnel"]
    assert funnel[0][:4] == ["Stage", "Entered (customers)", "Moved on (customers)", "Conversion to next stage (%)"]
    assert funnel[1:] == [
        ["Sign up", "200", "120", "60.0", "50", "0", "30", "3.00", "30.00"],
        ["Trial", "120", "30", "25.0", "60", "0", "30", "0.75", "2.00"],
        ["Purchase", "30", "", "", "6", "24", "0", "", ""],
    ]
    velocity = found["Time to the next stage"]
    assert velocity[0][:4] == ["From stage", "To stage", "Moved on (customers)", "< 15 min (customers)"]
    assert velocity[1:] == [
        ["Sign up", "Trial", "120", "12", "0", "48", "30", "24", "6", "0"],
        ["Trial", "Purchase", "30", "3", "27", "0", "0", "0", "0", "0"],
    ]
    assert found["Goal conversion over time"][1:] == [
        ["2026-11-01", "120", "20", "16.7", "20"],
        ["2026-11-02", "80", "4", "5.0", "4"],
    ]
    assert found["Recovery by channel"][1:] == [["SMS", "18", "75.0"], ["No message", "6", "25.0"]]
    assert found["Split results"][1:] == [
        ["Reminder test", "control", "no", "100", "20", "20.0", "", "no"],
        ["Reminder test", "variant", "no", "100", "35", "35.0", "0.0175", "no"],
        ["Reminder test", "nothing", "yes", "50", "5", "10.0", "0.1234", "no"],
    ]
    assert found["Emotion and drop-off by stage"][1:] == [
        ["Research", "+1.00", "", "", ""],
        ["Sign up", "+0.50", "200", "50", "25.0"],
        ["Trial", "-1.50", "120", "60", "50.0"],
        ["Purchase", "", "30", "6", "20.0"],
    ]
