"""How UtcDateTime writes timestamps on SQLite: the text SQLAlchemy's DateTime would write, in UTC, whichever
timestamps come one after another (the processor remembers the last one it wrote)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from engine.store import UtcDateTime


def test_each_timestamp_is_written_as_its_own_utc_text_when_one_repeats_between_others() -> None:
    process = UtcDateTime().bind_processor(sqlite.dialect())
    assert process is not None
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    paris = datetime(2026, 12, 6, 13, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    written = [process(value) for value in (now, now, paris, None, now, paris, paris)]
    assert written == [
        "2026-12-06 12:00:00.000000",
        "2026-12-06 12:00:00.000000",
        "2026-12-06 12:00:00.000005",
        None,
        "2026-12-06 12:00:00.000000",
        "2026-12-06 12:00:00.000005",
        "2026-12-06 12:00:00.000005",
    ]


def test_a_naive_timestamp_is_refused_even_right_after_an_aware_one() -> None:
    process = UtcDateTime().bind_processor(sqlite.dialect())
    assert process is not None
    process(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive datetime"):
        process(datetime(2026, 12, 6, 12, 0))
