"""Store.nearest under concurrency: the dense searches that arrive together share one Chroma query
(gather.py), and every caller gets exactly what its own query gives. A real Chroma on a temp dir."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from assistant.knowledge.store import Store, make_client


def _store(tmp_path: Path, n: int = 600, dim: int = 32) -> tuple[Store, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(make_client(None, tmp_path / "chroma"), "t", tmp_path / "chroma")
    ids = [f"c{i}" for i in range(n)]
    store.add_chunks(ids, vectors, [f"text {i}" for i in range(n)], [{"source": "s", "version": "v"}] * n)
    return store, rng.normal(size=(24, dim)).astype(np.float32)


def _own(store: Store, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
    got = store.chunks.query(query_embeddings=[vector], n_results=n, include=["distances"])
    return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]


def test_one_query_for_several_vectors_gives_each_its_own_result(tmp_path: Path) -> None:
    store, questions = _store(tmp_path)
    asked = [(questions[0], 48), (questions[1], 48), (questions[2], 10), (questions[3], 48)]
    assert store.nearest_many(asked) == [_own(store, v, n) for v, n in asked]
    assert store.nearest_many([]) == []


def test_concurrent_callers_share_queries_and_get_their_own_neighbours(tmp_path: Path) -> None:
    store, questions = _store(tmp_path)
    serial = [_own(store, v, 48) for v in questions]
    got: dict[int, list[tuple[str, float]]] = {}
    barrier = threading.Barrier(len(questions))

    def ask(i: int) -> None:
        barrier.wait()
        for _ in range(5):
            got[i] = store.nearest(questions[i], 48)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [got[i] for i in range(len(questions))] == serial
    assert store.dense_gather.items == 5 * len(questions)
    assert store.dense_gather.calls < store.dense_gather.items, "some searches shared a query"
