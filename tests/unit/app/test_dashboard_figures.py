"""The dashboard's figures: every stage's conversion and velocity from the engine's stage metrics, as the rows
show them, and the CSV's and charts' names for buckets of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.kpis import StageLine, StageMetrics, StageView
from journey_builder.kpis.formatting import bucket_column, bucket_text, per_bucket
from journey_builder.pages.dashboard_state import StageSpeed, stage_speeds


def line(stage_id: str, name: str, *, entered: int, moved_on: int | None, tracked: bool = True) -> StageLine:
    return StageLine(
        stage=StageView(id=stage_id, name=name, emotion=None, tracked=tracked),
        metrics=StageMetrics(
            stage_id=stage_id,
            entered=entered,
            moved_on=moved_on,
            conversion=None if moved_on is None or not entered else moved_on / entered,
            dropped_off=0,
            reached_goal=0,
            in_flight=entered - (moved_on or 0),
            velocity_median=timedelta(minutes=1, seconds=10) if moved_on else None,
            velocity_p90=timedelta(minutes=2) if moved_on else None,
        ),
    )


def test_each_stage_with_a_next_one_shows_its_share_moved_on_and_median() -> None:
    lines = (
        line("browse", "Browse", entered=0, moved_on=0, tracked=False),
        line("abandon", "Abandon", entered=6, moved_on=3),
        line("recover", "Recover", entered=3, moved_on=0),
        line("purchase", "Purchase", entered=3, moved_on=None),
    )

    assert stage_speeds(lines) == [
        StageSpeed(move="Abandon → Recover", conversion="50.0% moved on", median="median 1 min"),
        StageSpeed(move="Recover → Purchase", conversion="0.0% moved on", median=""),
    ]


def test_a_stage_nobody_entered_says_so() -> None:
    lines = (line("a", "A", entered=0, moved_on=0), line("b", "B", entered=0, moved_on=None))

    assert stage_speeds(lines) == [StageSpeed(move="A → B", conversion="no customers yet", median="")]


def test_buckets_are_named_as_people_read_them() -> None:
    at = datetime(2026, 11, 13, 14, 5, tzinfo=UTC)

    assert [per_bucket(size) for size in (timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))] == [
        "Per 5 minutes (UTC)",
        "Per hour (UTC)",
        "Per UTC day",
    ]
    assert bucket_column(timedelta(days=1)) == ("Day (UTC)", "Goals reached that day (customers)")
    assert bucket_column(timedelta(minutes=1)) == ("Minute from (UTC)", "Goals reached in that minute (customers)")
    assert (bucket_text(at, timedelta(days=1)), bucket_text(at, timedelta(minutes=5))) == (
        "2026-11-13",
        "2026-11-13 14:05",
    )
