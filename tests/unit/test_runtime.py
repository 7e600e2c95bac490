from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from engine.ingest import ingest
from engine.store.db import get_engine, session_scope, upgrade_database
from engine.store.enrollments import Enrollment
from tests.engine_factories import NOW, event_trigger, journey_map, node, publish_and_launch, track


@pytest.fixture
def other_db_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade_database(url)
    yield url
    get_engine(url).dispose()


def enrollments(session: Session) -> list[Enrollment]:
    return list(session.execute(select(Enrollment).order_by(Enrollment.id)).scalars())  # type: ignore[arg-type]


def test_each_database_runs_its_own_plan_for_the_same_version_id(db_url: str, other_db_url: str) -> None:
    for url, wait in ((db_url, "P1D"), (other_db_url, "PT1H")):
        with session_scope(url) as session:
            doc = journey_map([event_trigger("go"), node("hold", "wait", duration=wait)], [("entry", "hold")])
            _, version_id = publish_and_launch(session, doc)
            assert version_id == 1
            ingest(session=session, messages=[track("u1", "go")], now=NOW)

    for url, due in ((db_url, NOW + timedelta(days=1)), (other_db_url, NOW + timedelta(hours=1))):
        with session_scope(url) as session:
            (run,) = enrollments(session)
            assert run.due_at == due
