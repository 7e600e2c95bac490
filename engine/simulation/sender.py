"""Sending simulated customers' messages to the public ``/v1/batch`` intake when they fall due.

Each message goes out when its script says (``engine.simulation.planner`` has already compressed what is
compressed), stamped with the moment it really goes out: nothing is backdated, and nothing is
written to the database. Everything goes through the intake, as a customer's own systems would send it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

import httpx

from engine.simulation.planner import CustomerScript

MAX_BATCH: Final = 500
# Retries of a batch are harmless (message ids make them duplicates), so a server restarting under a
# demo (Reflex reloads its backend when code changes) is waited for rather than treated as fatal.
RETRY_FOR: Final = 30.0
_TRANSIENT_STATUS: Final = frozenset({429, 502, 503, 504})


class IntakeError(RuntimeError):
    """The intake refused a batch or could not be reached; the message says which and why."""


@dataclass(frozen=True, order=True)
class Delivery:
    due: float
    order: int
    user_id: str = field(compare=False)
    message: dict[str, Any] = field(compare=False)


def schedule(scripts: Sequence[CustomerScript]) -> list[Delivery]:
    """Every message of every script, in the order they go out; ``due`` in real seconds after the start."""
    planned = [
        (planned.at.total_seconds(), script.user_id, planned.message)
        for script in scripts
        for planned in script.messages
    ]
    # A stable sort: one customer's messages planned for the same moment keep their order.
    planned.sort(key=lambda item: item[0])
    return [Delivery(due, order, user_id, message) for order, (due, user_id, message) in enumerate(planned)]


@dataclass
class SendReport:
    customers: int
    events: int = 0
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unsent: int = 0
    elapsed: float = 0.0

    def summary(self) -> str:
        return (
            f"customers {self.customers:,}, events sent {self.events:,} in {self.batches:,} batches "
            f"({self.accepted:,} accepted, {self.duplicates:,} duplicates), "
            f"rejected {self.rejected:,}, not sent {self.unsent:,}, elapsed {_clock(self.elapsed)}"
        )


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class IntakeClient:
    """Posts batches to ``<base_url>/v1/batch`` with the write key as the HTTP Basic user, as Segment's libraries do."""

    def __init__(self, base_url: str, write_key: str, *, retry_for: float = RETRY_FOR) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry_for = retry_for
        self.http = httpx.Client(
            base_url=self.base_url,
            auth=(write_key, ""),
            timeout=30.0,
            headers={"User-Agent": "journey-simulate/1"},
        )

    def close(self) -> None:
        self.http.close()

    def wait_until_up(self, timeout: float, sleep: Callable[[float], None] = time.sleep) -> None:
        """Wait until the server answers at all (any HTTP status will do), for up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.http.get("/v1/batch")
                return
            except httpx.TransportError as error:
                if time.monotonic() >= deadline:
                    waited = f" within {timeout:g} s" if timeout else ""
                    raise IntakeError(
                        f"nothing answers at {self.base_url}{waited} ({error or type(error).__name__}); "
                        "start the app (bash scripts/run.sh) or pass --base-url"
                    ) from None
                sleep(1.0)

    def post(self, messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
        deadline = time.monotonic() + self.retry_for
        pause = 0.5
        while True:
            now = datetime.now(UTC).isoformat()
            body = {"batch": [{**message, "timestamp": now} for message in messages], "sentAt": now}
            try:
                response = self.http.post("/v1/batch", json=body)
            except httpx.TransportError as error:
                problem = f"{error or type(error).__name__}"
            else:
                if response.is_success:
                    answer: dict[str, Any] = response.json()
                    return answer
                problem = f"{_reason(response)} (HTTP {response.status_code})"
                if response.status_code not in _TRANSIENT_STATUS:
                    raise IntakeError(self._refusal(response, len(messages)))
            if time.monotonic() + pause > deadline:
                raise IntakeError(f"the intake at {self.base_url} failed for {self.retry_for:g} s: {problem}")
            time.sleep(pause)
            pause = min(pause * 2, 8.0)

    def _refusal(self, response: httpx.Response, count: int) -> str:
        reason = _reason(response)
        if response.status_code == 401:
            return (
                f"the intake at {self.base_url} refused the write key: {reason} (HTTP 401); "
                "create one with `journey key create NAME`, or leave out --write-key to have one created"
            )
        return (
            f"the intake at {self.base_url} refused a batch of {count} events: {reason} (HTTP {response.status_code})"
        )


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else (response.text.strip()[:200] or response.reason_phrase)


class Progress:
    """A progress bar on a terminal (redrawn in place), or one line per 10% in a log."""

    def __init__(self, total: int, stream: TextIO, *, live: bool | None = None, width: int = 30) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.width = width
        self._tenths = 0
        self._drawn_at = float("-inf")

    def show(self, done: int, note: str) -> None:
        if self.live:
            now = time.monotonic()
            if now - self._drawn_at < 0.1 and done < self.total:
                return
            self._drawn_at = now
            filled = self.width * done // self.total
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r[{bar}] {100 * done // self.total:3d}%  {done:,}/{self.total:,} events  {note}\x1b[K")
            self.stream.flush()
            return
        tenths = 10 * done // self.total
        if tenths > self._tenths:
            self._tenths = tenths
            self.stream.write(f"simulate: {100 * done // self.total:3d}%  {done:,}/{self.total:,} events  {note}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.live and self._drawn_at > float("-inf"):
            self.stream.write("\n")
            self.stream.flush()


class Sender:
    """Sends deliveries when they fall due, in batches of what is due at once; ``report`` stays current,
    so an interrupted run can still say how far it got."""

    def __init__(
        self,
        client: IntakeClient,
        deliveries: Sequence[Delivery],
        *,
        customers: int,
        progress: Progress,
        batch_size: int = 100,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"the batch size must be from 1 to {MAX_BATCH}, got {batch_size}")
        self.client = client
        self.deliveries = deliveries
        self.progress = progress
        self.batch_size = batch_size
        self.report = SendReport(customers=customers, unsent=len(deliveries))
        self._started: set[str] = set()

    def run(self) -> SendReport:
        start = time.monotonic()
        position = 0
        try:
            while position < len(self.deliveries):
                elapsed = time.monotonic() - start
                self.report.elapsed = elapsed
                due = self.deliveries[position].due
                if due > elapsed:
                    self._show(elapsed)
                    time.sleep(min(due - elapsed, 0.25))
                    continue
                batch: list[Delivery] = []
                while (
                    position < len(self.deliveries)
                    and len(batch) < self.batch_size
                    and self.deliveries[position].due <= elapsed
                ):
                    batch.append(self.deliveries[position])
                    position += 1
                self._post(batch)
                self._show(time.monotonic() - start)
        finally:
            self.report.elapsed = time.monotonic() - start
            self.progress.close()
        return self.report

    def _post(self, batch: list[Delivery]) -> None:
        try:
            answer = self.client.post([delivery.message for delivery in batch])
        except IntakeError:
            self.report.rejected += len(batch)
            self.report.unsent -= len(batch)
            raise
        report = self.report
        report.batches += 1
        report.events += len(batch)
        report.unsent -= len(batch)
        report.accepted += int(answer.get("accepted", 0))
        report.duplicates += int(answer.get("duplicates", 0))
        self._started.update(delivery.user_id for delivery in batch)

    def _show(self, elapsed: float) -> None:
        end = self.deliveries[-1].due if self.deliveries else 0.0
        note = (
            f"{len(self._started):,}/{self.report.customers:,} customers  "
            f"elapsed {_clock(elapsed)} of about {_clock(max(end, elapsed))}"
        )
        self.progress.show(self.report.events, note)
