"""A replay dealt out by customer to several processes.

Customers never meet in a replay: each one's runs, sends within the frequency cap and statuses are their own. So a
window with many events is dealt out by profile id into parts, each part replayed in a process of its own over its
customers' events, and the parts' counts added up. Two things keep the figures the same whatever the number of
parts: every event carries the moment the whole window's replay would give it (the latest receipt so far over all
the window's events, which the query computes before it deals the events out), and each run's id, on which a split
draws its arm, is made from its customer (:meth:`engine.forecast.replay.Customer.next_run_id`).

The parts are processes, not threads: the replay is pure Python and would hold the interpreter's lock. A process
that runs no other thread (the CLI, a script) forks them, so they start at once with the engine already imported;
one that does (the web server) starts them afresh (``spawn``, about a second each to import the engine), as a fork
would copy other threads' locks in whatever state they were in. The first part is replayed here meanwhile.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.forecast.figures import ForecastError
from engine.forecast.garbage import fewer_collections
from engine.forecast.replay import Replay
from engine.forecast.source import entrants, event_names, profile_copies, stream_events
from engine.forecast.tally import Tally
from engine.journeys import LoadedPlan
from engine.map import EventTrigger
from engine.store import Event, get_engine, session_scope

# Below this many stored events, starting processes (each imports the engine: about a second) costs more than
# the replay they would share.
PARALLEL_FROM = 100_000
MAX_PROCESSES = 4
PROCESSES_SETTING = "JOURNEY_FORECAST_PROCESSES"


@dataclass
class PartOutcome:
    """What one part's replay found, in counts that add up across parts."""

    tally: Tally
    waiting_by_step: Counter[str] = field(default_factory=Counter)
    waiting_by_stage: Counter[str] = field(default_factory=Counter)
    seen_events: set[str] = field(default_factory=set)
    events: int = 0
    customers: int = 0

    def add(self, other: PartOutcome) -> None:
        self.tally.add(other.tally)
        self.waiting_by_step.update(other.waiting_by_step)
        self.waiting_by_stage.update(other.waiting_by_stage)
        self.seen_events |= other.seen_events
        self.events += other.events
        self.customers += other.customers


def replay_window(
    session: Session,
    loaded: LoadedPlan,
    *,
    journey_id: int,
    version_id: int,
    since: datetime,
    until: datetime,
    processes: int | None = None,
) -> PartOutcome:
    """Replay ``[since, until)`` through ``loaded`` in ``processes`` parts (None: as many as the window is worth)."""
    parts = processes if processes is not None else process_count(session)
    if parts <= 1:
        return replay_part(session, loaded, journey_id=journey_id, version_id=version_id, since=since, until=until)
    url = session.connection().engine.url.render_as_string(hide_password=False)
    start = "fork" if threading.active_count() == 1 else "spawn"
    with ProcessPoolExecutor(max_workers=parts - 1, mp_context=multiprocessing.get_context(start)) as pool:
        others = [
            pool.submit(_replay_part_of, url, loaded, journey_id, version_id, since, until, part, parts)
            for part in range(1, parts)
        ]
        outcome = replay_part(
            session, loaded, journey_id=journey_id, version_id=version_id, since=since, until=until, parts=parts
        )
        for other in others:
            outcome.add(other.result())
    return outcome


def process_count(session: Session) -> int:
    """How many processes a forecast on this store takes: up to the machine's cores (at most ``MAX_PROCESSES``, or
    ``JOURNEY_FORECAST_PROCESSES``) when the event table is large, one for a small one or an in-memory database
    (which no other process can open)."""
    configured = os.environ.get(PROCESSES_SETTING, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ForecastError(
                f"{PROCESSES_SETTING} must be a whole number of processes, 1 or more, not {configured!r}"
            )
        processes = int(configured)
    else:
        processes = min(os.cpu_count() or 1, MAX_PROCESSES)
    url = session.connection().engine.url
    if processes <= 1 or (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")):
        return 1
    # The ids' span, read off the primary key's ends, stands for the events stored: counting them would read them.
    span = session.execute(select(func.max(col(Event.id)) - func.min(col(Event.id)))).scalar() or 0
    return processes if span >= PARALLEL_FROM else 1


def replay_part(
    session: Session,
    loaded: LoadedPlan,
    *,
    journey_id: int,
    version_id: int,
    since: datetime,
    until: datetime,
    part: int = 0,
    parts: int = 1,
) -> PartOutcome:
    """Replay the customers of part ``part`` of ``parts`` (by profile id) over ``[since, until)``."""
    replay = Replay(loaded, journey_id=journey_id, version_id=version_id, start=since)
    customers = replay.customers
    plan = loaded.plan
    names = event_names(plan)
    trigger = plan.entry.trigger
    only = (
        entrants(session, since=since, until=until, event=trigger.event) if isinstance(trigger, EventTrigger) else None
    )
    seen: set[str] = set()
    with fewer_collections():
        for chunk in stream_events(
            session, since=since, until=until, names=names, part=part, parts=parts, only=only, seen=seen
        ):
            unseen = {event.profile_id for event in chunk if event.profile_id not in customers}
            for customer in profile_copies(session, unseen):
                customers[customer.profile_id] = customer
            for event in chunk:
                replay.feed(event)
        replay.finish(until)
    waiting_by_step, waiting_by_stage = replay.waiting()
    return PartOutcome(
        tally=replay.tally,
        waiting_by_step=waiting_by_step,
        waiting_by_stage=waiting_by_stage,
        seen_events=seen,
        events=replay.events,
        customers=len(customers),
    )


def _replay_part_of(
    url: str,
    loaded: LoadedPlan,
    journey_id: int,
    version_id: int,
    since: datetime,
    until: datetime,
    part: int,
    parts: int,
) -> PartOutcome:
    """A part replayed in a process of its own, on its own connection to the store."""
    # A forked process holds copies of its parent's pooled connections, which are the parent's to use: it drops
    # them unclosed and opens its own.
    get_engine(url).dispose(close=False)
    with session_scope(url) as session:
        return replay_part(
            session,
            loaded,
            journey_id=journey_id,
            version_id=version_id,
            since=since,
            until=until,
            part=part,
            parts=parts,
        )
