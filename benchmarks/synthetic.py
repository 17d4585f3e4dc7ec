"""Stores of any size written through the Store API with the records a refresh writes (synthesised vectors).

The chunk metadata and the catalogue records come from the refresh's own builders
(``ingest.chunk_metadata``, ``ingest.chunk_contacts``, ``SourceRecord``); only the vectors are made up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.knowledge.chunking import chunk, text_hash
from assistant.knowledge.embeddings import embedder_from_settings
from assistant.knowledge.ingest import chunk_contacts, chunk_metadata, embed_text
from assistant.knowledge.store import SourceRecord, Store
from assistant.text import finnish
from assistant.text.normalise import normalise
from benchmarks.corpus import GenDoc, Log, content_version, generate_document, synth_vectors

SOURCES_PER_COMMIT = 500


@dataclass
class _Batch:
    """Chunks and catalogue records waiting for their Store write."""

    ids: list[str] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    records: list[tuple[SourceRecord, str]] = field(default_factory=list)

    def write_chunks(self, store: Store) -> None:
        if self.ids:
            store.add_chunks(self.ids, np.vstack(self.vectors), self.texts, self.metas)
            self.ids, self.vectors, self.texts, self.metas = [], [], [], []

    def commit_sources(self, store: Store) -> None:
        store.commit_sources(self.records)
        self.records = []


def _add_document(
    batch: _Batch,
    d: GenDoc,
    settings: Settings,
    pool: dict[str, np.ndarray],
    draw: Callable[[int], np.ndarray],
    raw_hash: Callable[[GenDoc], str] | None = None,
) -> tuple[int, int]:
    """Queues one generated document's chunks and record; returns (chunks, chunks with a real vector).
    ``draw(k)`` gives k synthesised vectors."""
    norm = normalise(d.text)
    version = content_version(norm.text, settings.chunk_chars)
    chunks = chunk(norm, source=d.source, version=version, max_chars=settings.chunk_chars)
    record = SourceRecord(
        source=d.source,
        version=version,
        raw_hash=raw_hash(d) if raw_hash else content_version(d.text, 0),
        title=d.title,
        kind="md",
        chunks=len(chunks),
        refreshed_at=time.time(),
        language="fi",
        contacts=chunk_contacts(chunks),
    )
    real = 0
    for c, sv in zip(chunks, draw(len(chunks)), strict=True):
        etext = embed_text(d.title, c.text)
        vec = pool.get(text_hash(etext))
        real += vec is not None
        batch.ids.append(c.id)
        batch.vectors.append(vec if vec is not None else sv)
        batch.texts.append(c.text)
        batch.metas.append(chunk_metadata(record, c, etext, " ".join(finnish.terms(etext))))
    batch.records.append((record, d.text))
    return len(chunks), real


def build_synthetic_store(
    settings: Settings,
    n_chunks: int,
    pool: dict[str, np.ndarray],
    *,
    chunks_per_doc: int,
    seed: int = 0,
    log: Log | None = None,
    raw_hash: Callable[[GenDoc], str] | None = None,
) -> dict[str, Any]:
    """Write ~``n_chunks`` chunks of generated documents through the Store API, with the metadata and
    catalogue records a refresh writes. ``pool`` maps embedded-text hashes to real vectors: a chunk whose
    text was embedded for real gets that vector, every other chunk a synthesised one."""
    t0 = time.perf_counter()
    embedder = embedder_from_settings(settings)
    store = Store.open(settings)
    store.write_meta(embed_id=embedder.id, dim=embedder.dim, clean=False)
    pool_matrix = np.vstack(list(pool.values()))
    rng = np.random.default_rng(seed + n_chunks)
    batch = _Batch()
    total = real = docs = 0
    next_log = time.perf_counter() + 15
    while total < n_chunks:
        n = min(chunks_per_doc, max(1, n_chunks - total))
        d = generate_document(docs, chunks=n, seed=seed)
        docs += 1
        added, got_real = _add_document(
            batch, d, settings, pool, lambda k: synth_vectors(pool_matrix, k, rng), raw_hash
        )
        total, real = total + added, real + got_real
        if len(batch.ids) >= store.max_batch:
            batch.write_chunks(store)
        if len(batch.records) >= SOURCES_PER_COMMIT:
            batch.write_chunks(store)  # a record goes live only after its chunks are stored
            batch.commit_sources(store)
        if log and time.perf_counter() > next_log:
            log(f"  … {total:,}/{n_chunks:,} chunks written")
            next_log = time.perf_counter() + 15
    batch.write_chunks(store)
    batch.commit_sources(store)
    store.bump_generation()
    store.write_meta(clean=True, last_refresh=time.time(), failures="[]")
    return {
        "chunks": total,
        "sources": docs,
        "real_vectors": real,
        "synthesised_vectors": total - real,
        "build_s": round(time.perf_counter() - t0, 2),
    }
