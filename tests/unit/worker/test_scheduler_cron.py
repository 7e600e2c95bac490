from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.worker import cron_trigger

MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def next_fire(expression: str, timezone: str = "UTC", after: datetime = MONDAY) -> datetime:
    fire = cron_trigger(expression, timezone).get_next_fire_time(None, after)
    assert fire is not None
    return fire


@pytest.mark.parametrize(
    ("expression", "weekday"),
    [
        ("0 9 * * 1", "Monday"),
        ("0 9 * * 0", "Sunday"),
        ("0 9 * * 7", "Sunday"),
        ("0 9 * * sun", "Sunday"),
        ("0 9 * * 5-7", "Friday"),
        ("0 9 * * 2/7", "Tuesday"),
    ],
)
def test_weekdays_mean_what_a_crontab_means(expression: str, weekday: str) -> None:
    assert f"{next_fire(expression):%A}" == weekday


def test_every_weekday_range_and_list() -> None:
    fires = []
    moment = MONDAY
    for _ in range(6):
        moment = next_fire("30 8 * * 1-5", after=moment + timedelta(seconds=1))
        fires.append(f"{moment:%a}")
    assert fires == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]
    assert f"{next_fire('0 0 * * 0-6'):%a}" == "Mon"


def test_the_schedule_runs_in_the_journeys_time_zone() -> None:
    fire = next_fire("0 9 * * *", "America/New_York")
    assert fire.astimezone(UTC) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
