"""The plans the engine runs: published versions parsed once per process, and the live journeys' newest.

A version is frozen when it is published, so a parsed plan never goes stale; the runtime, the
dispatcher and the lifecycle all read plans through ``PLANS``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.compiler import Plan, Step
from engine.store import Journey, JourneyStatus, JourneyVersion

# Journeys whose customers move on: a draining journey takes no entries but lets those inside finish.
RUNNING = (JourneyStatus.LIVE, JourneyStatus.DRAINING)


@dataclass(frozen=True)
class LoadedPlan:
    plan: Plan
    steps: Mapping[str, Step]
    journey_name: str


@lru_cache(maxsize=512)
def _parse_plan(plan_json: str) -> LoadedPlan:
    plan = Plan.from_json(plan_json)
    return LoadedPlan(plan=plan, steps=plan.step_index(), journey_name=plan.journey_name)


class PlanCache:
    """Published plans by database and version id; versions are frozen, so a cached plan never goes stale.

    The database is part of the key: one process may talk to several (the CLI, tests), and version
    ids are only unique within one.
    """

    def __init__(self) -> None:
        self._plans: dict[tuple[str, int], LoadedPlan] = {}

    def get_many(self, *, session: Session, version_ids: Iterable[int]) -> dict[int, LoadedPlan]:
        database = str(session.get_bind().engine.url)
        wanted = set(version_ids)
        missing = {version_id for version_id in wanted if (database, version_id) not in self._plans}
        if missing:
            rows = session.execute(
                select(col(JourneyVersion.id), col(JourneyVersion.plan)).where(col(JourneyVersion.id).in_(missing))
            )
            for version_id, plan_data in rows:
                self._plans[(database, version_id)] = _load(plan_data)
        return {v: self._plans[(database, v)] for v in wanted if (database, v) in self._plans}

    def get(self, *, session: Session, version_id: int) -> LoadedPlan:
        return self.get_many(session=session, version_ids=[version_id])[version_id]


def _load(plan_data: Any) -> LoadedPlan:
    text = plan_data if isinstance(plan_data, str) else json.dumps(plan_data, sort_keys=True)
    return _parse_plan(text)


PLANS = PlanCache()


@dataclass(frozen=True)
class LiveJourney:
    journey_id: int
    version_id: int
    loaded: LoadedPlan


def live_journeys(*, session: Session) -> list[LiveJourney]:
    """Live journeys with their newest version: new entrants always take the newest."""
    newest = (
        select(col(JourneyVersion.journey_id), func.max(col(JourneyVersion.id)).label("version_id"))
        .group_by(col(JourneyVersion.journey_id))
        .subquery()
    )
    rows = session.execute(
        select(col(Journey.id), newest.c.version_id)
        .join(newest, newest.c.journey_id == col(Journey.id))
        .where(col(Journey.status) == JourneyStatus.LIVE)
    ).all()
    plans = PLANS.get_many(session=session, version_ids={version_id for _, version_id in rows})
    return [LiveJourney(journey_id, version_id, plans[version_id]) for journey_id, version_id in rows]
