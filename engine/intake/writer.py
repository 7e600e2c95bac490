"""The intake's writes: on SQLite, the requests queued for the writer's turn stored together in one transaction.

SQLite takes one writer at a time, so intake requests wait for the writer's turn (``engine.store.writer_turns``)
anyway. The request whose turn comes stores every request queued by then: one key check, one look-up of message ids
and of customers, one insert a table and one commit for all of them, where each request paid for its own. A request
that an earlier turn stored finds itself done when its turn comes and gives the turn up at once. Each request still
gets its own answer: its key is checked on its own, its duplicates are counted on its own, and when the transaction
fails, each request of it is stored again alone, so one request's failure is no other's.

On PostgreSQL, which runs writers side by side, each request is a transaction of its own.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session

from engine.intake.ingest import IngestResult, ingest_requests
from engine.intake.messages import AnyMessage
from engine.store import get_engine, session_scope, writer_turns

#: The most messages one transaction stores for the requests queued: a turn stays short for the writers behind it.
MAX_GROUP_MESSAGES = 5_000


class KeyCheck(Protocol):
    """Why a request's key may not store events, or None when it may (``engine.accounts.write_key_refusal``)."""

    def __call__(self, *, session: Session, secret: str) -> Exception | None: ...


@dataclass(eq=False)
class _Request:
    key: str
    messages: Sequence[AnyMessage]
    result: IngestResult | None = None
    error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


class IntakeWriter:
    """Stores intake requests for one database; shared by the threads that serve them."""

    def __init__(self, database_url: str | None, refusal: KeyCheck) -> None:
        self._database_url = database_url
        self._refusal = refusal
        self._turns = writer_turns(database_url)
        self._grouped = get_engine(database_url).dialect.name == "sqlite"
        self._guard = threading.Lock()
        self._queued: deque[_Request] = deque()

    def store(self, key: str, messages: Sequence[AnyMessage]) -> IngestResult:
        """Store one request's messages with its write key checked in the same transaction. Raises the key check's
        refusal, or what made storing the request fail (DBAPIError when the database could not): nothing of it was
        kept."""
        request = _Request(key, messages)
        if self._grouped:
            with self._guard:
                self._queued.append(request)
            with self._turns:
                # A request queued before this one may hold the turn after it: this turn then stores both.
                while not request.done:
                    self._store(self._take())
        else:
            self._store([request])
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _take(self) -> list[_Request]:
        with self._guard:
            group = [self._queued.popleft()]
            count = len(group[0].messages)
            while self._queued and count + len(self._queued[0].messages) <= MAX_GROUP_MESSAGES:
                group.append(self._queued.popleft())
                count += len(group[-1].messages)
        return group

    def _store(self, group: list[_Request]) -> None:
        try:
            self._store_together(group)
        except BaseException as error:
            # The other requests' threads wait on this one: each must leave with an answer.
            for request in group:
                if not request.done:
                    request.error = error
            raise

    def _store_together(self, group: list[_Request]) -> None:
        try:
            with session_scope(self._database_url) as session:
                allowed = _allowed(session, group, self._refusal)
                results = ingest_requests(session=session, requests=[r.messages for r in allowed]) if allowed else []
        except Exception as error:
            # Whatever one request's messages made fail (a value the database refuses, a fault of ours) fails that
            # request alone.
            if len(group) == 1:
                if group[0].error is None:
                    group[0].error = error
                return
            for request in group:
                if request.error is None:
                    self._store([request])
            return
        for request, result in zip(allowed, results, strict=True):
            request.result = result


def _allowed(session: Session, group: list[_Request], refusal: KeyCheck) -> list[_Request]:
    """The requests whose key may store events; the others are refused with the reason."""
    refusals: dict[str, Exception | None] = {}
    allowed = []
    for request in group:
        if request.key not in refusals:
            refusals[request.key] = refusal(session=session, secret=request.key)
        refused = refusals[request.key]
        if refused is None:
            allowed.append(request)
        else:
            request.error = refused
    return allowed
