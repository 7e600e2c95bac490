"""The intake's writer: on SQLite the requests queued for the writer's turn share one transaction, each with its own
answer; on both databases a request's key is checked where its events are stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from engine.accounts import AccessDeniedError, create_write_key, revoke_write_key, write_key_refusal
from engine.intake import AnyMessage, IngestResult, IntakeWriter, ingest_requests
from engine.store import Event, PendingEvent, Profile, get_engine, session_scope, writer_turns
from tests.engine_factories import identify, track


def keys(url: str) -> tuple[str, str]:
    """A valid write key and a revoked one."""
    with session_scope(url) as session:
        valid = create_write_key(session=session, name="shop").secret
        revoked = create_write_key(session=session, name="old")
        revoke_write_key(session=session, key_id=revoked.id)
    return valid, revoked.secret


def stored_names(url: str) -> list[str | None]:
    with session_scope(url) as session:
        return list(session.execute(select(col(Event.name)).order_by(col(Event.id))).scalars())


def count(url: str, table: type) -> int:
    with session_scope(url) as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


class Queued:
    """Requests sent from threads of their own while the test holds the writer's turn, so they queue behind it."""

    def __init__(self, writer: IntakeWriter, url: str) -> None:
        self.writer = writer
        self.url = url
        self.answers: dict[int, IngestResult | BaseException] = {}
        self.threads: list[threading.Thread] = []

    def send(self, requests: Sequence[tuple[str, list[AnyMessage]]]) -> None:
        with writer_turns(self.url):
            for number, (key, messages) in enumerate(requests):
                thread = threading.Thread(target=self._store, args=(number, key, messages))
                thread.start()
                self.threads.append(thread)
                self._wait_for(number + 1)
        for thread in self.threads:
            thread.join(30)

    def _store(self, number: int, key: str, messages: list[AnyMessage]) -> None:
        try:
            self.answers[number] = self.writer.store(key, messages)
        except BaseException as error:
            self.answers[number] = error

    def _wait_for(self, queued: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.writer._queued) < queued:
            assert time.monotonic() < deadline, "the request never queued"
            time.sleep(0.001)


def commits(url: str) -> tuple[list[int], Callable[[], None]]:
    counted = [0]

    def counted_commit(_: Any) -> None:
        counted[0] += 1

    engine = get_engine(url)
    event.listen(engine, "commit", counted_commit)
    return counted, lambda: event.remove(engine, "commit", counted_commit)


def test_requests_queued_for_the_turn_share_one_transaction_each_with_its_own_answer(db_url: str) -> None:
    valid, _ = keys(db_url)
    writer = IntakeWriter(db_url, write_key_refusal)
    queued = Queued(writer, db_url)
    counted, stop_counting = commits(db_url)
    try:
        queued.send(
            [
                (valid, [identify("ada", message_id="a1"), track("ada", "signed_up", message_id="a2")]),
                # A retry of the first request's track: a duplicate of this request, though neither was stored before.
                (valid, [track("ada", "signed_up", message_id="a2"), track("bob", "signed_up", message_id="b1")]),
                (valid, [track("cy", "viewed", message_id="c1")]),
            ]
        )
    finally:
        stop_counting()

    assert queued.answers == {
        0: IngestResult(accepted=2, duplicates=0),
        1: IngestResult(accepted=1, duplicates=1),
        2: IngestResult(accepted=1, duplicates=0),
    }
    assert counted[0] == 1
    assert stored_names(db_url) == [None, "signed_up", "signed_up", "viewed"]
    assert count(db_url, Profile) == 3
    assert count(db_url, PendingEvent) == 4


def only_the_middle_request_fails(db_url: str, middle_key: str, valid_key: str, failure: type[Exception]) -> None:
    """Three requests queued behind one turn: the middle one (eve's, two events) fails with ``failure``, nothing of it
    is kept, and the two others are stored."""
    queued = Queued(IntakeWriter(db_url, write_key_refusal), db_url)

    queued.send(
        [
            (valid_key, [track("ada", "signed_up", message_id="a1")]),
            (middle_key, [track("eve", "signed_up", message_id="e1"), track("eve", "poison", message_id="e2")]),
            (valid_key, [track("bob", "signed_up", message_id="b1")]),
        ]
    )

    assert queued.answers[0] == IngestResult(accepted=1, duplicates=0)
    assert isinstance(queued.answers[1], failure)
    assert queued.answers[2] == IngestResult(accepted=1, duplicates=0)
    assert stored_names(db_url) == ["signed_up", "signed_up"]
    assert count(db_url, Profile) == 2


def test_a_request_with_a_refused_key_is_refused_alone_in_its_transaction(db_url: str) -> None:
    valid, revoked = keys(db_url)

    only_the_middle_request_fails(db_url, revoked, valid, AccessDeniedError)


def test_a_request_the_database_refuses_fails_alone_and_the_others_are_stored(db_url: str) -> None:
    valid, _ = keys(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON event WHEN NEW.name = 'poison' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )
    only_the_middle_request_fails(db_url, valid, valid, DBAPIError)


def test_more_queued_than_one_transaction_takes_are_all_stored_in_order(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.intake.writer.MAX_GROUP_MESSAGES", 2)
    valid, _ = keys(db_url)
    writer = IntakeWriter(db_url, write_key_refusal)
    queued = Queued(writer, db_url)

    queued.send([(valid, [track(f"u{n}", f"e{n}", message_id=f"m{n}")]) for n in range(5)])

    assert all(answer == IngestResult(accepted=1, duplicates=0) for answer in queued.answers.values())
    assert stored_names(db_url) == ["e0", "e1", "e2", "e3", "e4"]


def test_the_writer_stores_and_refuses_on_both_databases(own_database_url: str) -> None:
    valid, revoked = keys(own_database_url)
    writer = IntakeWriter(own_database_url, write_key_refusal)

    stored = writer.store(valid, [identify("ada", message_id="a1"), track("ada", "signed_up", message_id="a2")])
    again = writer.store(valid, [track("ada", "signed_up", message_id="a2")])
    with pytest.raises(AccessDeniedError):
        writer.store(revoked, [track("eve", "signed_up", message_id="e1")])

    assert stored == IngestResult(accepted=2, duplicates=0)
    assert again == IngestResult(accepted=0, duplicates=1)
    assert stored_names(own_database_url) == [None, "signed_up"]


def test_a_request_whose_storing_fails_in_our_code_fails_alone(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    valid, _ = keys(db_url)

    def failing_on_poison(*, session: Any, requests: Sequence[Sequence[AnyMessage]], **rest: Any) -> Any:
        if any(getattr(message, "event", None) == "poison" for messages in requests for message in messages):
            raise ValueError("a fault of ours")
        return ingest_requests(session=session, requests=requests, **rest)

    monkeypatch.setattr("engine.intake.writer.ingest_requests", failing_on_poison)
    only_the_middle_request_fails(db_url, valid, valid, ValueError)
