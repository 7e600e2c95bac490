"""A replay raises the cycle collector's thresholds while it runs and puts them back after, once the last replay
running in the process ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from engine.forecast import REPLAY_GC_THRESHOLDS, fewer_collections


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_raised_inside_and_put_back_after() -> None:
    with fewer_collections():
        assert gc.get_threshold() == REPLAY_GC_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_put_back_when_the_last_of_two_overlapping_replays_ends() -> None:
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == REPLAY_GC_THRESHOLDS
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_put_back_when_the_replay_fails() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the replay failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_higher_thresholds_are_not_lowered() -> None:
    gc.set_threshold(500_000, 10, 5_000)
    with fewer_collections():
        assert gc.get_threshold() == (500_000, 50, 5_000)
    assert gc.get_threshold() == (500_000, 10, 5_000)
