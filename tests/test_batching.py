"""The batcher: each item its own result, batches that grow while the work is slower than the arrivals."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from sesflow.batching import Batcher

pytestmark = pytest.mark.unit


def test_each_item_gets_its_own_result_and_close_waits_for_all() -> None:
    batches: list[list[int]] = []

    def square(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        return [item * item for item in items]

    with Batcher(square, workers=2, max_batch=4) as batcher:
        futures = [batcher.submit(n) for n in range(25)]

    assert [future.result(timeout=0) for future in futures] == [n * n for n in range(25)]
    assert sorted(n for batch in batches for n in batch) == list(range(25))
    assert max(len(batch) for batch in batches) <= 4


def test_items_arriving_while_the_work_is_busy_go_together_in_the_next_batch() -> None:
    started, release = threading.Event(), threading.Event()
    batches: list[list[str]] = []

    def slow(items: Sequence[str]) -> list[str]:
        batches.append(list(items))
        started.set()
        release.wait(5)
        return [item.upper() for item in items]

    with Batcher(slow, workers=1, max_batch=50) as batcher:
        first = batcher.submit("a")
        assert started.wait(5)
        waiting = [batcher.submit(letter) for letter in "bcdef"]
        release.set()

    assert first.result(timeout=0) == "A"
    assert [future.result(timeout=0) for future in waiting] == list("BCDEF")
    assert batches == [["a"], ["b", "c", "d", "e", "f"]]


def test_an_error_reaches_every_item_of_its_batch_and_the_batcher_goes_on() -> None:
    def picky(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky batch")
        return list(items)

    with Batcher(picky, workers=1, max_batch=1) as batcher:
        unlucky, fine = batcher.submit(13), batcher.submit(7)

    with pytest.raises(ValueError, match="unlucky batch"):
        unlucky.result(timeout=0)
    assert fine.result(timeout=0) == 7


def test_a_result_count_that_does_not_match_the_batch_is_an_error_for_each_item() -> None:
    started, release = threading.Event(), threading.Event()

    def one_result(items: Sequence[int]) -> list[int]:
        started.set()
        release.wait(5)
        return [len(items)]

    with Batcher(one_result, workers=1, max_batch=10) as batcher:
        alone = batcher.submit(0)
        assert started.wait(5)
        together = [batcher.submit(n) for n in range(3)]
        release.set()

    assert alone.result(timeout=0) == 1
    for future in together:
        with pytest.raises(RuntimeError, match="1 results for 3 items"):
            future.result(timeout=0)


def test_a_batcher_needs_a_worker_and_a_batch_size() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Batcher(lambda items: list(items), workers=0, max_batch=1)
