"""The engine reads the audit log's and the KPI page's filters strictly: a value that cannot be one is
refused with an error naming the filter (``field``) and what is wrong, before any query runs, so no
database error (an integer too large for SQLite, a NUL PostgreSQL refuses) and no date arithmetic past
the calendar's end reaches the pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import delete
from sqlmodel import Session

from engine.kpis import KpiWindow, WindowError, parse_day, parse_version, parse_window, window_filter
from engine.store import AuditEntry, audit, get_engine

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOO_BIG = "99999999999999999999999"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    url = request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")
    with Session(get_engine(url), expire_on_commit=False) as session:
        session.execute(delete(AuditEntry))
        session.add(AuditEntry(at=START, actor="ann@example.com", action="launch", journey_id=1))
        session.flush()
        yield session
        session.rollback()


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"journey_id": int(TOO_BIG)}, "journey_id", "there is no journey 99999999999999999999999"),
        ({"journey_id": 0}, "journey_id", "there is no journey 0"),
        ({"actor": "ann\x00@example.com"}, "actor", "cannot hold a NUL character"),
        ({"action": "x" * 65}, "action", "at most 64 characters"),
        ({"limit": 0}, "limit", "between 1 and 1000"),
        ({"limit": 10**30}, "limit", "between 1 and 1000"),
        ({"offset": -50}, "offset", "cannot be negative"),
        ({"offset": 10**30}, "offset", "past the end"),
        ({"since": datetime(2026, 3, 1)}, "since", "must carry a time zone"),
    ],
)
def test_the_audit_query_refuses_a_filter_it_cannot_apply_naming_it(
    any_session: Session, query: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(audit.AuditQueryError, match=reason) as refused:
        audit.entries(session=any_session, **query)

    assert refused.value.field == field
    assert [e.actor for e in audit.entries(session=any_session, offset=0, limit=1)] == ["ann@example.com"]


@pytest.mark.parametrize(
    ("first", "last", "field", "reason"),
    [
        ("2024-13-45", "", "since", "'2024-13-45' is not a date"),
        ("", "9999-99-99", "until", "'9999-99-99' is not a date"),
        ("2024-W10-2", "", "since", "is not a date"),
        ("\uff12\uff10\uff12\uff14-\uff10\uff11-\uff10\uff11", "", "since", "is not a date"),  # full-width digits
        ("x" * 10_000, "", "since", r"'xxxxxxxxxx.*…' is not a date"),
        ("2024-03-05", "2024-03-01", None, r"the first day \(2024-03-05\) is after the last \(2024-03-01\)"),
    ],
)
def test_audit_days_are_read_strictly(first: str, last: str, field: str | None, reason: str) -> None:
    with pytest.raises(audit.AuditQueryError, match=reason) as refused:
        audit.day_bounds(first, last)

    assert refused.value.field == field
    assert len(str(refused.value)) < 120


def test_the_last_day_of_the_calendar_leaves_the_audit_log_open_ended() -> None:
    assert audit.day_bounds("0001-01-01", "9999-12-31") == (datetime(1, 1, 1, tzinfo=UTC), None)
    assert audit.day_bounds("2024-03-01", "2024-03-01") == (
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 3, 2, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("parse", "text", "field", "reason"),
    [
        (lambda t: parse_day(t, field="first_day"), "2024-13-45", "first_day", "'2024-13-45' is not a date"),
        (lambda t: parse_day(t, field="last_day"), "9999-12-31", "last_day", "outside 1970-01-01 to 2100-12-31"),
        (lambda t: parse_day(t, field="first_day"), "0001-01-01", "first_day", "outside 1970-01-01 to 2100-12-31"),
        (parse_window, "bogus", "window", "'bogus' is not one of 24h, 7d, 30d, all, custom"),
        (parse_version, "1e999", "version", "'1e999' is not a version number"),
        (parse_version, "-1", "version", "'-1' is not a version number"),
        (parse_version, "0", "version", "there is no version 0"),
        (parse_version, TOO_BIG, "version", f"there is no version {TOO_BIG}"),
    ],
)
def test_kpi_window_values_are_read_strictly(parse: Any, text: str, field: str, reason: str) -> None:
    with pytest.raises(WindowError, match=reason) as refused:
        parse(text)

    assert refused.value.field == field


def test_a_custom_window_stays_within_the_days_it_can_count() -> None:
    with pytest.raises(WindowError, match="outside 1970-01-01 to 2100-12-31") as refused:
        window_filter(KpiWindow.CUSTOM, journey_id=1, first_day=date(1, 1, 1), last_day=date.max)
    assert refused.value.field == "first_day"
    with pytest.raises(WindowError, match="there is no version 0"):
        window_filter(KpiWindow.LAST_7D, journey_id=1, version=0)
    widest = window_filter(KpiWindow.CUSTOM, journey_id=1, first_day=date(1970, 1, 1), last_day=date(2100, 12, 31))
    assert (widest.since, widest.until) == (datetime(1970, 1, 1, tzinfo=UTC), datetime(2101, 1, 1, tzinfo=UTC))
