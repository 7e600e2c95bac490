"""The engine's clock: APScheduler 3.11 ticks that advance due customers and deliver the outbox.

APScheduler is only the clock. No job is ever created per customer: one interval job claims due
rows in batches, one reacts to the events the intake stored, one cron job per scheduled-entry journey
enrolls its audience, and an hourly job deletes ended sessions and sign-in attempts that no longer count.
The outbox is delivered beside the clock by the delivery package's Dispatcher (its own threads, one set per
channel).
This is the only module that imports apscheduler.
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

from engine.delivery import LEASE, Dispatcher
from engine.delivery.channels import ChannelSettings, Sender, build_senders
from engine.map import Channel
from engine.runtime import (
    CLAIM_BATCH,
    advance_due,
    consume_batch,
    consume_batch_size,
    enroll_scheduled_audience,
    finish_drained,
    scheduled_journeys,
)
from engine.store import get_engine, purge_sessions, purge_sign_in_attempts, session_scope, utc_now, writer_turns

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
    # Stored events are reacted to this often (and, while full batches come back, at once again), so an event
    # moves its customer well within a second of its acknowledgement.
    consume: timedelta = timedelta(seconds=0.25)
    # Events per consumer batch; by default what suits the database (engine.runtime.consume_batch_size).
    consume_batch: int | None = None
    # Ended sessions and old attempts only take room, and nothing reads them: hourly is often enough.
    purge: timedelta = timedelta(hours=1)
    # A stopping engine waits this long for sends under way (a supervisor's stop timeout is usually 10 s).
    stop_grace: timedelta = timedelta(seconds=7)
    # How long a claimed message is this process's before another may take it (extended while a send runs).
    send_lease: timedelta = LEASE


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_weekdays(field: str) -> str:
    """A standard crontab weekday field (0 or 7 = Sunday, names, ranges, steps) as APScheduler names.

    APScheduler counts weekdays from Monday = 0, so ``CronTrigger.from_crontab("0 9 * * 1")`` would
    fire on Tuesdays; spelling the days out keeps the designer's meaning.
    """
    days: set[int] = set()
    for item in field.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            first, last = 0, 6
        else:
            start, _, end = base.partition("-")
            first = _day_number(start)
            last = _day_number(end) if end else (6 if step else first)
            if end and last == 0:
                last = 7
        days.update(day % 7 for day in range(first, last + 1, int(step) if step else 1))
    if len(days) == 7:
        return "*"
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _day_number(text: str) -> int:
    """0-7 (7 is Sunday again, kept as 7 so a range may end on it) from a number or a day's name."""
    lowered = text.lower()
    return _WEEKDAYS.index(lowered) if lowered in _WEEKDAYS else int(text)


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """The trigger for a journey's five-field schedule, in the journey's time zone."""
    minute, hour, day, month, weekday = expression.split()
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_weekdays(weekday), timezone=timezone
    )


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
        self._senders = (
            senders if senders is not None else build_senders(ChannelSettings.from_env(), sessions=self._sessions)
        )
        self._now = now
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._cron_jobs: dict[int, str] = {}
        self._lock = threading.Lock()
        self._dispatcher = Dispatcher(
            sessions=self._sessions,
            senders=self._senders,
            now=now,
            idle=self.settings.tick,
            lease=self.settings.send_lease,
        )

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

    def consume_once(self) -> int:
        """React to the events the intake stored, batch after batch, until none are left or the budget is spent."""
        deadline = clock.monotonic() + self.settings.tick_budget.total_seconds()
        size = self.settings.consume_batch or consume_batch_size(get_engine(self.settings.database_url).dialect.name)
        total = 0
        while True:
            with writer_turns(self.settings.database_url):
                consumed = consume_batch(sessions=self._sessions, now=self._now(), limit=size)
            total += consumed.events
            if consumed.events + consumed.deferred < size or clock.monotonic() >= deadline:
                return total

    def refresh_schedules(self) -> None:
        """Keep one cron job per live journey with a scheduled entry, and none for the others."""
        with self._sessions() as session:
            wanted = {
                journey_id: (cron, journey.loaded.plan.default_timezone)
                for journey_id, cron, journey in scheduled_journeys(session=session)
            }
        with self._lock:
            for journey_id in set(self._cron_jobs) - set(wanted):
                self._scheduler.remove_job(self._cron_jobs.pop(journey_id))
            for journey_id, (cron, timezone) in wanted.items():
                job_id = f"schedule-{journey_id}-{cron}-{timezone}"
                if self._cron_jobs.get(journey_id) == job_id:
                    continue
                if journey_id in self._cron_jobs:
                    self._scheduler.remove_job(self._cron_jobs.pop(journey_id))
                self._scheduler.add_job(
                    self._run_schedule,
                    cron_trigger(cron, timezone),
                    args=[journey_id],
                    id=job_id,
                )
                self._cron_jobs[journey_id] = job_id

    def purge_once(self) -> None:
        """Delete the sessions that have ended and the sign-in attempts that no longer count."""
        with self._sessions() as session:
            now = self._now()
            sessions = purge_sessions(session=session, now=now)
            attempts = purge_sign_in_attempts(session=session, now=now)
        if sessions or attempts:
            log.info("purged %s ended sessions and %s old sign-in attempts", sessions, attempts)

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
        self._scheduler.add_job(
            self._guarded(self.consume_once),
            IntervalTrigger(seconds=self.settings.consume.total_seconds()),
            id="consume",
        )
        self._scheduler.add_job(
            self._guarded(self.refresh_schedules),
            IntervalTrigger(seconds=self.settings.schedule_refresh.total_seconds()),
            id="schedules",
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.add_job(
            self._guarded(self.purge_once),
            IntervalTrigger(seconds=self.settings.purge.total_seconds()),
            id="purge",
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.start()
        self._dispatcher.start()

    def shutdown(self) -> None:
        """Stop claiming, let the running tick and the sends under way finish (sends: within ``stop_grace``)."""
        started = clock.monotonic()
        self._dispatcher.stop_claiming()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        grace = self.settings.stop_grace.total_seconds() - (clock.monotonic() - started)
        busy = self._dispatcher.stop(max(grace, 0.0))
        # A sender still in a provider call is left to the process's end: closing it would wait for the call.
        for channel, sender in self._senders.items():
            if channel not in busy:
                sender.close()
