"""The engine's clock: APScheduler 3.11 ticks that advance due customers and deliver the outbox.

APScheduler is only the clock. No job is ever created per customer: one interval job claims due
rows in batches, one delivers the outbox, and one cron job per scheduled-entry journey enrolls
its audience. This is the only module that imports apscheduler.
"""

from __future__ import annotations

import logging
import threading
import time as clock
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from engine.channels.base import Sender
from engine.channels.settings import ChannelSettings, build_senders
from engine.dispatcher import dispatch_due
from engine.entry import enroll_scheduled_audience, scheduled_journeys
from engine.lifecycle import finish_drained
from engine.mapdoc import Channel
from engine.runtime import CLAIM_BATCH, advance_due
from engine.store.db import session_scope, utc_now

log = logging.getLogger(__name__)


class _QuietOverlap(logging.Filter):
    """A tick that outlasts its interval is expected under load (max_instances=1 makes the next one
    wait); APScheduler warns about it every interval, which would bury the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_QuietOverlap())


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    database_url: str | None = None
    tick: timedelta = timedelta(seconds=1)
    batch: int = CLAIM_BATCH
    # One tick keeps claiming batches while there is due work, up to this long, so a burst of
    # customers due at once is worked off at database speed rather than one batch per second.
    tick_budget: timedelta = timedelta(seconds=5)
    schedule_refresh: timedelta = timedelta(seconds=30)


class Engine:
    """The in-process engine: the embedded app runs one, `journey worker` runs one per process."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        senders: Mapping[Channel, Sender] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings or EngineSettings()
        self._senders = senders if senders is not None else build_senders(ChannelSettings.from_env())
        self._now = now
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._cron_jobs: dict[int, str] = {}
        self._lock = threading.Lock()

    def _sessions(self) -> AbstractContextManager[Session]:
        return session_scope(self.settings.database_url)

    def advance_once(self) -> int:
        """Claim and advance due customers until none are left or the tick's budget is spent."""
        deadline = clock.monotonic() + self.settings.tick_budget.total_seconds()
        total = 0
        while True:
            with self._sessions() as session:
                advanced = advance_due(session=session, now=self._now(), limit=self.settings.batch)
                if advanced < self.settings.batch:
                    finish_drained(session=session, now=self._now())
            total += advanced
            if advanced < self.settings.batch or clock.monotonic() >= deadline:
                return total

    def deliver_once(self) -> int:
        report = dispatch_due(sessions=self._sessions, senders=self._senders, now=self._now)
        return report.handled

    def refresh_schedules(self) -> None:
        """Keep one cron job per live journey with a scheduled entry, and none for the others."""
        with self._sessions() as session:
            wanted = {journey_id: cron for journey_id, cron, _ in scheduled_journeys(session=session)}
        with self._lock:
            for journey_id in set(self._cron_jobs) - set(wanted):
                self._scheduler.remove_job(self._cron_jobs.pop(journey_id))
            for journey_id, cron in wanted.items():
                job_id = f"schedule-{journey_id}-{cron}"
                if self._cron_jobs.get(journey_id) == job_id:
                    continue
                if journey_id in self._cron_jobs:
                    self._scheduler.remove_job(self._cron_jobs.pop(journey_id))
                self._scheduler.add_job(
                    self._run_schedule,
                    CronTrigger.from_crontab(cron, timezone=UTC),
                    args=[journey_id],
                    id=job_id,
                )
                self._cron_jobs[journey_id] = job_id

    def _run_schedule(self, journey_id: int) -> None:
        with self._sessions() as session:
            count = enroll_scheduled_audience(session=session, journey_id=journey_id, now=self._now())
        log.info("scheduled entry of journey %s enrolled %s customers", journey_id, count)

    def _guarded(self, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except Exception:
                # A failing tick must not kill the clock: log it and try again at the next tick.
                log.exception("engine job %s failed", getattr(job, "__name__", job))

        return run

    def start(self) -> None:
        seconds = self.settings.tick.total_seconds()
        self._scheduler.add_job(self._guarded(self.advance_once), IntervalTrigger(seconds=seconds), id="advance")
        self._scheduler.add_job(self._guarded(self.deliver_once), IntervalTrigger(seconds=seconds), id="deliver")
        self._scheduler.add_job(
            self._guarded(self.refresh_schedules),
            IntervalTrigger(seconds=self.settings.schedule_refresh.total_seconds()),
            id="schedules",
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        for sender in self._senders.values():
            sender.close()
