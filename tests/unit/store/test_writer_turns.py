"""SQLite's writers of one process take turns in the order they asked, one at a time."""

import threading
import time
from pathlib import Path

from engine.store import writer_turns


def _queued(turns: object, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(turns._queue) < count:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"{count} writers never queued"
        time.sleep(0.001)


def test_writers_are_served_in_the_order_they_asked(tmp_path: Path) -> None:
    turns = writer_turns(f"sqlite:///{tmp_path / 'turns.db'}")
    served: list[int] = []

    def write(number: int) -> None:
        with turns:
            served.append(number)

    writers = [threading.Thread(target=write, args=(number,)) for number in range(8)]
    with turns:
        for count, writer in enumerate(writers, start=1):
            writer.start()
            _queued(turns, count)
    for writer in writers:
        writer.join(10)

    assert served == list(range(8))


def test_one_writer_holds_the_turn_at_a_time(tmp_path: Path) -> None:
    turns = writer_turns(f"sqlite:///{tmp_path / 'turns.db'}")
    inside = 0
    most = 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(200):
            with turns:
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0)
                with guard:
                    inside -= 1

    writers = [threading.Thread(target=write) for _ in range(6)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)

    assert most == 1
    with turns:
        assert inside == 0
