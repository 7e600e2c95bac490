from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from engine.map import Duration, DurationFormatError, format_duration, parse_duration


class _Holder(BaseModel):
    wait: Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT30S", timedelta(seconds=30)),
        ("PT1H", timedelta(hours=1)),
        ("PT1M", timedelta(minutes=1)),
        ("P3D", timedelta(days=3)),
        ("P1W", timedelta(weeks=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("PT1.25S", timedelta(seconds=1, milliseconds=250)),
        ("PT1.5H", timedelta(hours=1, minutes=30)),
        ("-PT1H", timedelta(hours=-1)),
        ("-P1DT12H", -timedelta(days=1, hours=12)),
        ("PT0S", timedelta(0)),
        ("P0D", timedelta(0)),
        ("pt1h", timedelta(hours=1)),
        (" PT1H ", timedelta(hours=1)),
    ],
)
def test_parse_duration_reads_iso_8601(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=30), "PT30S"),
        (timedelta(hours=1), "PT1H"),
        (timedelta(days=3), "P3D"),
        (timedelta(weeks=1), "P7D"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "P1DT2H3M4S"),
        (timedelta(milliseconds=500), "PT0.5S"),
        (timedelta(seconds=1, milliseconds=250), "PT1.25S"),
        (timedelta(hours=-1), "-PT1H"),
        (-timedelta(days=1, hours=12), "-P1DT12H"),
        (timedelta(0), "PT0S"),
    ],
)
def test_format_duration_writes_canonical_text(delta: timedelta, expected: str) -> None:
    assert format_duration(delta) == expected


@pytest.mark.parametrize(
    "text",
    ["P1M", "P1Y", "P1Y2M", "", "   ", "P", "PT", "P1DT", "1h", "30", "1.5", "PT1H1H", "P1H", "T1H", "PT-1H", "P1,5D"],
)
def test_parse_duration_rejects_what_is_not_a_supported_iso_duration(text: str) -> None:
    with pytest.raises(DurationFormatError, match="is not an ISO 8601 duration"):
        parse_duration(text)


def test_months_are_refused_with_a_hint_to_use_weeks_or_days() -> None:
    with pytest.raises(DurationFormatError, match="use weeks or days"):
        parse_duration("P1M")


@pytest.mark.parametrize("value", [3600, 1.5])
def test_a_bare_number_in_a_document_is_refused_with_an_example(value: float) -> None:
    with pytest.raises(ValidationError, match="bare number"):
        _Holder.model_validate({"wait": value})


def test_a_document_field_reads_text_and_writes_canonical_text() -> None:
    holder = _Holder.model_validate_json('{"wait": "P1W"}')

    assert holder.wait == timedelta(days=7)
    assert holder.model_dump_json() == '{"wait":"P7D"}'


# Millisecond resolution is what journeys need (and what the format currently keeps); sub-millisecond
# values are covered by the examples below.
_ten_years_ms = 10 * 366 * 24 * 3600 * 1000
timedeltas_ms = st.integers(min_value=-_ten_years_ms, max_value=_ten_years_ms).map(
    lambda ms: timedelta(milliseconds=ms)
)


@given(timedeltas_ms)
def test_parse_of_format_gives_the_same_timedelta(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta


@given(timedeltas_ms)
def test_formatted_text_is_canonical(delta: timedelta) -> None:
    text = format_duration(delta)

    assert format_duration(parse_duration(text)) == text


iso_texts = st.builds(
    lambda sign, weeks, days, hours, minutes, seconds: f"{sign}P{weeks}W{days}DT{hours}H{minutes}M{seconds}S",
    st.sampled_from(["", "-"]),
    st.integers(0, 50),
    st.integers(0, 400),
    st.integers(0, 100),
    st.integers(0, 200),
    st.integers(0, 5000),
)


@given(iso_texts)
def test_any_spelling_formats_to_one_canonical_text(text: str) -> None:
    canonical = format_duration(parse_duration(text))

    assert parse_duration(canonical) == parse_duration(text)
    assert format_duration(parse_duration(canonical)) == canonical


@pytest.mark.parametrize(
    "delta",
    [timedelta(seconds=59, microseconds=123_456), timedelta(hours=1, microseconds=1), timedelta(microseconds=1)],
)
def test_microseconds_survive_a_round_trip(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta
