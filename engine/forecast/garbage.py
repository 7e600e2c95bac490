"""Fewer runs of Python's cycle collector while a replay runs.

A replay keeps a copy of every customer it meets, their runs and a queue of what falls due: hundreds of thousands
of long-lived objects, while each event makes and drops many small ones. At the collector's default thresholds it
walks the young objects every 700 allocations and the older ones ever more often as they pile up; on a million
events that was about a quarter of the forecast's time. The replay makes almost no cyclic garbage (its objects
die by reference counting), so collecting a hundred times less often costs no memory, and cycles are still
collected. The thresholds are the process's: the first replay to start raises them, the last to end puts back
what they were.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Young objects allocated (net) before a collection of the young generation; then as the defaults, a middle
# collection every 50 of those, and a full one far apart.
REPLAY_GC_THRESHOLDS = (100_000, 50, 1_000)

_lock = threading.Lock()
_replays = 0
_before: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's thresholds to ``REPLAY_GC_THRESHOLDS`` for the block (none lowered)."""
    global _replays, _before
    with _lock:
        if _replays == 0:
            _before = gc.get_threshold()
            gc.set_threshold(*(max(now, raised) for now, raised in zip(_before, REPLAY_GC_THRESHOLDS, strict=True)))
        _replays += 1
    try:
        yield
    finally:
        with _lock:
            _replays -= 1
            if _replays == 0:
                gc.set_threshold(*_before)
