"""Items handed in one at a time and worked on in batches: whatever waits when a worker is free, up to a size.

Batches grow while the work is slower than the arrivals and stay small while it keeps up, so the last item
waits for little more than one round of work. Each item gets a Future of its own result.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class _Item[T, R]:
    value: T
    result: Future[R] = field(default_factory=Future)


class Batcher[T, R]:
    """`work` takes a batch and returns one result per item, in order; if it raises, every item of that
    batch gets the error. `close` (or leaving the `with` block) waits until everything handed in is done."""

    def __init__(self, work: Callable[[Sequence[T]], Sequence[R]], *, workers: int, max_batch: int) -> None:
        if workers < 1 or max_batch < 1:
            raise ValueError("a batcher needs at least one worker and batches of at least one item")
        self._work = work
        self._max_batch = max_batch
        self._waiting: queue.SimpleQueue[_Item[T, R] | None] = queue.SimpleQueue()  # None: stop
        self._threads = [
            threading.Thread(target=self._serve, name=f"batcher-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, value: T) -> Future[R]:
        item: _Item[T, R] = _Item(value)
        self._waiting.put(item)
        return item.result

    def close(self) -> None:
        for _ in self._threads:
            self._waiting.put(None)
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _serve(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._run(batch)

    def _next_batch(self) -> list[_Item[T, R]] | None:
        """What waits now, at least one item (None once told to stop and nothing is left)."""
        first = self._waiting.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is None:  # stopping: finish this batch, then the next get sees the stop again
                self._waiting.put(None)
                break
            batch.append(item)
        return batch

    def _run(self, batch: list[_Item[T, R]]) -> None:
        try:
            results = self._work([item.value for item in batch])
        except BaseException as error:  # noqa: BLE001 - not lost: each caller of the batch raises it
            for item in batch:
                item.result.set_exception(error)
            return
        if len(results) != len(batch):
            mismatch = RuntimeError(f"batch work returned {len(results)} results for {len(batch)} items")
            for item in batch:
                item.result.set_exception(mismatch)
            return
        for item, result in zip(batch, results, strict=True):
            item.result.set_result(result)
