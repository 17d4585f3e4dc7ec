"""Concurrent calls that share one call of a batch function, with no thread of their own and no wait.

A Chroma query costs ~3 ms of CPU a call whatever its size and ~0.7 ms a vector (10k chunks; 1 / 4 / 8 / 24
vectors a call: 3.9 / 1.6 / 1.2 / 0.8 ms a vector; the graph search itself is little of it: ef_search 200 vs 20
differ by 0.4 ms). Under load the question vectors of a micro-batch are ready together (query_vectors.py), so
their dense searches arrive together too (docs/benchmarks.md, "Throughput again"). Leader/follower: the
first caller runs what is queued; callers that arrive while a call runs wait, and the first of them to wake
runs the next call with everything queued by then. A lone caller goes straight through. A thread pool or a timer would add a hop or a wait to every call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("item", "done", "value", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.value: R | None = None
        self.error: BaseException | None = None


class Gatherer(Generic[T, R]):
    """``gatherer(item)`` → ``run_many([... item ...])``'s result for ``item``; one ``run_many`` at a time."""

    def __init__(self, run_many: Callable[[list[T]], list[R]], max_batch: int = 32) -> None:
        self._run_many = run_many
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Slot[T, R]] = []
        self._running = False
        self.calls = 0  # run_many calls made
        self.items = 0  # items served

    def __call__(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._cond:
            self._queue.append(slot)
        while True:
            with self._cond:
                while not slot.done and self._running:
                    self._cond.wait()
                if slot.done:
                    break
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self._running = True
            self._serve(batch)
        if slot.error is not None:
            raise slot.error
        return slot.value  # type: ignore[return-value]

    def _serve(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self._run_many([s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"run_many gave {len(results)} results for {len(batch)} items")
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
            results, error = [], exc
        else:
            error = None
        with self._cond:
            for i, s in enumerate(batch):
                if error is None:
                    s.value = results[i]
                else:
                    s.error = error
                s.done = True
            self.calls += 1
            self.items += len(batch)
            self._running = False
            self._cond.notify_all()
