"""Delivering the outbox channel by channel: each channel has its own claims and its own bounded number of sends
in flight, so a slow or hanging provider holds back its own channel and nothing else.

``Dispatcher`` runs in an engine process: per channel one claiming thread and ``width`` sending threads. The claimer
claims only as many messages as there are free sending threads, so a claimed message starts at once and a lease is
never spent waiting in a queue. A heartbeat extends the lease of every message in flight, so a send that takes long
(every provider call is bounded well under the lease anyway) is never taken over by another worker while it runs.

``stop`` stops claiming, gives back what was claimed and not started, waits for the sends under way up to a grace
period, and ends the lease of any still under way then, so another worker takes them (as in doubt) at once rather
than after the lease. The threads are daemons: a send stuck in a provider call cannot keep the process alive.

A provider that answers 429 with ``Retry-After`` is limiting the sender: its channel's lane claims and sends nothing
until then (``Throttle``). Webhooks are not throttled as a lane: each journey posts to its own endpoint.

``dispatch_due`` is one pass over every channel at once, for tests and one-off runs.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, update

from engine.delivery.channels import Sender
from engine.delivery.dispatcher import LEASE, Claimed, DispatchReport, SessionFactory, claim
from engine.delivery.sending import OUTBOX, Outcome, Throttle, release, send_claimed
from engine.map import Channel
from engine.store import MessageStatus

log = logging.getLogger(__name__)

# Sends in flight at once per channel in one process: a sender that says how many it can carry (a pool of SMTP
# connections) gets that many; a lone SMTP connection carries one; an HTTP provider's pooled client, eight.
WIDTHS: Mapping[Channel, int] = {Channel.EMAIL: 1}
DEFAULT_WIDTH = 8
# Channels with one provider each, whose 429 holds back the whole channel.
THROTTLED = frozenset(Channel) - {Channel.WEBHOOK}


def throttle_for(channel: Channel) -> Throttle | None:
    return Throttle() if channel in THROTTLED else None


def width_of(channel: Channel, sender: Sender) -> int:
    return int(getattr(sender, "width", 0)) or WIDTHS.get(channel, DEFAULT_WIDTH)


def worker_name() -> str:
    """Who holds a lease, as the attempt rows and the logs name it: host, process and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def _tally(report: DispatchReport, outcome: Outcome) -> None:
    match outcome:
        case Outcome.DELIVERED:
            report.delivered += 1
        case Outcome.RETRIED:
            report.retried += 1
        case Outcome.FAILED:
            report.failed += 1
        case Outcome.SUPPRESSED:
            report.suppressed += 1
        case Outcome.RELEASED | Outcome.LOST_LEASE:
            report.released += 1


def dispatch_due(
    *,
    sessions: SessionFactory,
    senders: Mapping[Channel, Sender],
    now: Callable[[], datetime],
    limit: int = 200,
    worker: str = "dispatcher",
) -> DispatchReport:
    """One pass: every channel claims up to ``limit`` due messages and sends them, the channels side by side; a
    message handed to its fallback channel is sent in a second round."""
    report = DispatchReport()

    def channel_pass(channel: Channel) -> DispatchReport:
        with sessions() as session:
            claimed, part = claim(session=session, now=now(), limit=limit, channel=channel, worker=worker)
        throttle = throttle_for(channel)
        with ThreadPoolExecutor(max_workers=max(1, min(len(claimed), width_of(channel, senders[channel])))) as pool:
            sends = pool.map(
                lambda m: send_claimed(m, sessions=sessions, senders=senders, now=now, throttle=throttle), claimed
            )
            for outcome in sends:
                _tally(part, outcome)
        return part

    for _ in range(2):
        with ThreadPoolExecutor(max_workers=len(senders)) as pool:
            parts = list(pool.map(channel_pass, list(senders)))
        rerouted = 0
        for part in parts:
            rerouted += part.rerouted
            report.add(part)
        if not rerouted:
            break
    return report


@dataclass
class _Lane:
    channel: Channel
    width: int
    busy: int = 0
    throttle: Throttle | None = None
    queue: deque[Claimed] = field(default_factory=deque)
    ready: threading.Condition = field(default_factory=threading.Condition)
    threads: list[threading.Thread] = field(default_factory=list)


class Dispatcher:
    """The outbox delivered continuously by one engine process, each channel on its own."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        senders: Mapping[Channel, Sender],
        now: Callable[[], datetime],
        idle: timedelta = timedelta(seconds=1),
        worker: str | None = None,
        widths: Mapping[Channel, int] | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.worker = worker or worker_name()
        self._lease = lease
        self._sessions = sessions
        self._senders = senders
        self._now = now
        self._idle = idle.total_seconds()
        self._lanes = [
            _Lane(channel, (widths or {}).get(channel) or width_of(channel, sender), throttle=throttle_for(channel))
            for channel, sender in senders.items()
        ]
        self._stopping = threading.Event()
        self._in_flight: dict[int, Claimed] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for lane in self._lanes:
            name = lane.channel.value
            lane.threads = [threading.Thread(target=self._claims, args=(lane,), name=f"claim-{name}", daemon=True)]
            lane.threads += [
                threading.Thread(target=self._sends, args=(lane,), name=f"send-{name}-{i}", daemon=True)
                for i in range(lane.width)
            ]
            self._threads += lane.threads
        self._threads.append(threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop_claiming(self) -> None:
        """Claim nothing more and give back what was claimed but not started."""
        self._stopping.set()
        for lane in self._lanes:
            with lane.ready:
                queued = list(lane.queue)
                lane.queue.clear()
                lane.busy -= len(queued)
                lane.ready.notify_all()
            for message in queued:
                self._give_back(message)

    def stop(self, grace: float) -> set[Channel]:
        """Stop claiming, wait up to ``grace`` seconds for the sends under way, and end the leases of those still
        under way. Returns the channels with a send still in flight (their senders are in use)."""
        self.stop_claiming()
        deadline = time.monotonic() + grace
        for lane in self._lanes:
            if lane.threads:
                lane.threads[0].join(max(0.0, deadline - time.monotonic()))
        for lane in self._lanes:
            with lane.ready:
                while lane.busy > 0 and (left := deadline - time.monotonic()) > 0:
                    lane.ready.wait(left)
        with self._lock:
            stuck = list(self._in_flight.values())
        if stuck:
            log.warning("stopping with %s sends still in flight; their leases end now (they are in doubt)", len(stuck))
            self._guard(partial(self._end_leases, stuck))
        return {message.channel for message in stuck}

    def _give_back(self, message: Claimed) -> None:
        self._guard(partial(release, self._sessions, message, self._now(), "released: its worker stopped"))

    def _guard(self, job: Callable[[], object]) -> None:
        try:
            job()
        except Exception:
            # A database that is down now must not stop the worker from stopping: leases run out on their own.
            log.exception("dispatcher: could not write to the database")

    def _end_leases(self, messages: list[Claimed]) -> None:
        now = self._now()
        for message in messages:
            release(self._sessions, message, now, "released: its worker stopped")
        rows = [{"mid": m.id, "version": m.lease_version} for m in messages]
        with self._sessions() as session:
            session.execute(
                update(OUTBOX)
                .where(
                    (OUTBOX.c.id == bindparam("mid"))
                    & (OUTBOX.c.lease_version == bindparam("version"))
                    & (OUTBOX.c.status == MessageStatus.SENDING.value)
                )
                .values(next_attempt_at=now),
                rows,
                execution_options={"synchronize_session": False},
            )

    def _claims(self, lane: _Lane) -> None:
        while not self._stopping.is_set():
            with lane.ready:
                while lane.busy >= lane.width and not self._stopping.is_set():
                    lane.ready.wait(0.5)
                free = lane.width - lane.busy
            if self._stopping.is_set():
                return
            if lane.throttle is not None and (until := lane.throttle.until(self._now())) is not None:
                self._stopping.wait(min(self._idle, max((until - self._now()).total_seconds(), 0.01)))
                continue
            try:
                with self._sessions() as session:
                    claimed, report = claim(
                        session=session,
                        now=self._now(),
                        limit=free,
                        channel=lane.channel,
                        worker=self.worker,
                        lease=self._lease,
                    )
            except Exception:
                log.exception("the %s claim failed; trying again", lane.channel.value)
                self._stopping.wait(self._idle)
                continue
            if claimed:
                with lane.ready:
                    # Stopping began while this claim ran: what it took goes straight back.
                    late = self._stopping.is_set()
                    if not late:
                        lane.busy += len(claimed)
                        lane.queue.extend(claimed)
                        lane.ready.notify_all()
                if late:
                    for message in claimed:
                        self._guard(
                            partial(release, self._sessions, message, self._now(), "released: its worker stopped")
                        )
                    return
            elif not (report.handled or report.rerouted or report.in_doubt):
                self._stopping.wait(self._idle)

    def _sends(self, lane: _Lane) -> None:
        while True:
            with lane.ready:
                while not lane.queue and not self._stopping.is_set():
                    lane.ready.wait(0.5)
                if self._stopping.is_set() or not lane.queue:
                    return
                message = lane.queue.popleft()
            with self._lock:
                self._in_flight[message.id] = message
            try:
                send_claimed(
                    message, sessions=self._sessions, senders=self._senders, now=self._now, throttle=lane.throttle
                )
            except Exception:
                # The database failed around the send: the lease runs out and the message is claimed again (in
                # doubt if it had been handed to the provider).
                log.exception("sending message %s failed", message.id)
            finally:
                with self._lock:
                    self._in_flight.pop(message.id, None)
                with lane.ready:
                    lane.busy -= 1
                    lane.ready.notify_all()

    def _heartbeat(self) -> None:
        # Four beats per lease: a beat or two may fail (a busy database) before any lease runs out.
        while not self._stopping.wait(self._lease.total_seconds() / 4):
            with self._lock:
                rows = [{"mid": m.id, "version": m.lease_version} for m in self._in_flight.values()]
            if rows:
                self._guard(partial(self._extend, rows))

    def _extend(self, rows: list[dict[str, int]]) -> None:
        with self._sessions() as session:
            session.execute(
                update(OUTBOX)
                .where(
                    (OUTBOX.c.id == bindparam("mid"))
                    & (OUTBOX.c.lease_version == bindparam("version"))
                    & OUTBOX.c.status.in_([MessageStatus.PENDING.value, MessageStatus.SENDING.value])
                )
                .values(next_attempt_at=self._now() + self._lease),
                rows,
                execution_options={"synchronize_session": False},
            )
