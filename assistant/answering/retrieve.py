"""Hybrid retrieval: dense search in Chroma + BM25 over Voikko lemmas, fused by reciprocal rank fusion.

The BM25 side is derived from what the store holds (each chunk's stored ``terms``) and rebuilt whenever
the store's generation changes, so every process sharing one Chroma server answers from the same data.

Fusion is our own ~10 lines of RRF rather than llama-index's QueryFusionRetriever: that one runs its
retrievers through asyncio and (by default) an LLM query generator, and cannot report per-stage timings;
both sides here are already in memory and the whole query must stay within a few milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import bm25s
import numpy as np

from assistant.config import Settings
from assistant.knowledge.embeddings import Embedder, embedder_from_settings
from assistant.knowledge.store import Hit, SourceRecord, Store
from assistant.text import finnish, glossary

log = logging.getLogger("assistant.answering.retrieve")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import

RRF_K = 60
MODES = ("hybrid", "dense", "bm25", "bm25-snowball")


@dataclass
class Passage:
    id: str
    text: str
    source: str
    title: str
    start: int
    end: int
    page: int | None
    url: str | None
    score: float  # fused score
    dense: float | None = None  # cosine similarity, when the dense side found it
    lexical: float | None = None  # BM25 score, when the lexical side found it
    terms: list[str] = field(default_factory=list)

    @classmethod
    def from_chunk(cls, cid: str, text: str, meta: dict[str, Any], score: float = 0.0) -> Passage:
        return cls(
            id=cid,
            text=text,
            source=meta["source"],
            title=meta.get("title", meta["source"]),
            start=int(meta.get("start", 0)),
            end=int(meta.get("end", 0)),
            page=meta.get("page"),
            url=meta.get("url"),
            score=score,
            terms=(meta.get("terms") or "").split(),
        )


class LexicalIndex:
    """BM25 (bm25s) over pre-computed term lists."""

    def __init__(self, term_lists: list[list[str]]):
        self.size = len(term_lists)
        self.df: dict[str, int] = {}
        for terms in term_lists:
            for t in set(terms):
                self.df[t] = self.df.get(t, 0) + 1
        self._bm25 = bm25s.BM25()
        if term_lists:
            # bm25s cannot index an empty document list or a document with no tokens
            self._bm25.index([t or ["∅"] for t in term_lists], show_progress=False)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        known = [t for t in query_terms if t in self.df]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def top(self, query_terms: list[str], n: int) -> list[tuple[int, float]]:
        scores = self.scores(query_terms)
        if not scores.any():
            return []
        n = min(n, int((scores > 0).sum()))
        idx = np.argpartition(-scores, n - 1)[:n]
        idx = idx[np.argsort(-scores[idx])]
        return [(int(i), float(scores[i])) for i in idx]


@dataclass
class Snapshot:
    """One consistent view of the knowledge base: the catalogue and the lexical index built from it."""

    generation: int
    sources: dict[str, SourceRecord]
    ids: list[str]
    texts: list[str]
    metas: list[dict[str, Any]]
    lexical: LexicalIndex
    position: dict[str, int]
    _extra: dict[str, LexicalIndex] = field(default_factory=dict)
    _words: set[str] | None = None

    @property
    def words(self) -> set[str]:
        """Whole-word lemmas of every live chunk (compound parts excluded), built on first use."""
        if self._words is None:
            vocab: set[str] = set()
            for text in self.texts:
                vocab |= finnish.word_lemmas(text)
            self._words = vocab
        return self._words

    # A snapshot never changes (a new generation builds a new one), so these are computed once.
    @cached_property
    def versions(self) -> dict[str, str]:
        return {s: r.version for s, r in self.sources.items()}

    @cached_property
    def contact_fields(self) -> set[str]:
        """Which contact fields (phone, email, name, title) any source states."""
        return {k for r in self.sources.values() for c in r.contacts for k in ("phone", "email", "name", "title") if c.get(k)}

    @cached_property
    def contacts_by_chunk(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for record in self.sources.values():
            for contact in record.contacts:
                out.setdefault(contact.get("chunk_id", ""), []).append(contact)
        return out

    def lexical_for(self, mode: str) -> LexicalIndex:
        if mode == "voikko":
            return self.lexical
        if mode not in self._extra:  # only the evaluation's ablations ask for these
            self._extra[mode] = LexicalIndex([finnish.terms(t, mode=mode) for t in self.texts])
        return self._extra[mode]


@dataclass
class Retrieval:
    query: str
    terms: list[str]
    passages: list[Passage]
    timings_ms: dict[str, float]
    snapshot: Snapshot
    degraded: bool = False  # the dense side failed (store unreachable): lexical results only
    query_vector: np.ndarray | None = None  # the embedded query, for sentence choice


class KnowledgeBase:
    """Store + embedding model + lexical index, loaded once per process and refreshed on change."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, reload_every: float = 1.0):
        self.settings = settings
        self.embedder = embedder or embedder_from_settings(settings)
        self.store = Store.open(settings)
        self.store.check_model(self.embedder.id, self.embedder.dim)
        self.reload_every = reload_every
        self._lock = threading.Lock()
        self._checked = 0.0
        self.store_error: str | None = None  # set while the store is unreachable
        self.snapshot = self._build()

    def _build(self) -> Snapshot:
        generation = self.store.generation()
        sources = self.store.live_sources()
        rows = self.store.live_chunks({s: r.version for s, r in sources.items()})
        rows.sort(key=lambda r: (r[2]["source"], r[2].get("index", 0)))
        ids = [r[0] for r in rows]
        return Snapshot(
            generation=generation,
            sources=sources,
            ids=ids,
            texts=[r[1] for r in rows],
            metas=[r[2] for r in rows],
            lexical=LexicalIndex([(r[2].get("terms") or "").split() for r in rows]),
            position={cid: i for i, cid in enumerate(ids)},
        )

    def current(self) -> Snapshot:
        """The live snapshot, rebuilt when another process (or a refresh) changed the store."""
        now = time.monotonic()
        if now - self._checked >= self.reload_every:
            with self._lock:
                if now - self._checked >= self.reload_every:
                    self._checked = now
                    try:
                        if self.store.generation() != self.snapshot.generation:
                            self.snapshot = self._build()
                        self.store_error = None
                    except Exception as exc:  # noqa: BLE001 - store unreachable: keep serving what we have
                        self.store_error = f"{type(exc).__name__}: {exc}"
                        log.warning("knowledge base store unreachable, serving the last snapshot: %s", exc)
        return self.snapshot

    def reload(self) -> Snapshot:
        with self._lock:
            self._checked = time.monotonic()
            self.snapshot = self._build()
        return self.snapshot


def query_terms(query: str, language: str) -> list[str]:
    terms = [t for t in finnish.terms(query) if not finnish.is_stopword(t)]
    if language != "fi":
        terms += glossary.finnish_terms(query)
    return list(dict.fromkeys(terms))


class Retriever:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    def retrieve(
        self,
        query: str,
        *,
        language: str = "fi",
        k: int | None = None,
        mode: str = "hybrid",
        extra_terms: list[str] | None = None,
    ) -> Retrieval:
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; one of {MODES}")
        k = k or self.kb.settings.top_k
        snap = self.kb.current()
        timings: dict[str, float] = {}
        depth = max(20, 3 * k)
        terms = query_terms(query, language) + [t for t in (extra_terms or []) if t]
        terms = list(dict.fromkeys(terms))

        dense_hits: list[Hit] = []
        degraded = False
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            # e5 reads 512 tokens at most; a long question only costs time beyond its first ~1,000 chars
            vector = self.kb.embedder.embed_query(query[:1000])
            timings["embed"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            try:
                dense_hits = self.kb.store.dense(vector, depth, snap.versions)
            except Exception as exc:  # noqa: BLE001 - a Chroma server away: lexical side only, flagged
                if mode == "dense":
                    raise
                self.kb.store_error = f"{type(exc).__name__}: {exc}"
                log.warning("dense search failed, answering from the lexical index only: %s", exc)
                degraded = True
            timings["dense"] = (time.perf_counter() - t) * 1000

        lexical_hits: list[tuple[int, float]] = []
        if mode in ("hybrid", "bm25", "bm25-snowball"):
            t = time.perf_counter()
            if mode == "bm25-snowball":
                lex_terms = finnish.terms(" ".join([query, *(extra_terms or [])]), mode="snowball")
                lexical_hits = snap.lexical_for("snowball").top(lex_terms, depth)
            else:
                lexical_hits = snap.lexical.top(terms, depth)
            timings["bm25"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        fused: dict[str, float] = {}
        found: dict[str, Passage] = {}
        for rank, hit in enumerate(dense_hits):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (RRF_K + rank + 1)
            p = found.setdefault(hit.id, Passage.from_chunk(hit.id, hit.text, hit.meta))
            p.dense = hit.score
        lexical_weight = self.kb.settings.lexical_weight
        for rank, (i, score) in enumerate(lexical_hits):
            cid = snap.ids[i]
            fused[cid] = fused.get(cid, 0.0) + lexical_weight / (RRF_K + rank + 1)
            p = found.setdefault(cid, Passage.from_chunk(cid, snap.texts[i], snap.metas[i]))
            p.lexical = score
        ranked = sorted(fused, key=lambda cid: -fused[cid])[:k]
        passages = []
        for cid in ranked:
            p = found[cid]
            p.score = fused[cid]
            if not p.terms and cid in snap.position:
                p.terms = (snap.metas[snap.position[cid]].get("terms") or "").split()
            passages.append(p)
        timings["fusion"] = (time.perf_counter() - t) * 1000
        return Retrieval(
            query=query, terms=terms, passages=passages, timings_ms=timings, snapshot=snap, degraded=degraded,
            query_vector=vector if mode in ("hybrid", "dense") else None,
        )
