"""Hybrid retrieval: dense search in Chroma + BM25 over Voikko lemmas, fused by reciprocal rank fusion.

The BM25 side is derived from what the store holds (each chunk's stored ``terms``): built once per
generation with that generation's other artefacts (knowledge/artefacts.py) and opened memory-mapped by
every process, so all processes sharing one Chroma server answer from the same data.

Fusion is our own ~10 lines of RRF rather than llama-index's QueryFusionRetriever: that one runs its
retrievers through asyncio and (by default) an LLM query generator, and cannot report per-stage timings;
both sides here are already in memory and the whole query must stay within a few milliseconds.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np

from assistant.config import Settings
from assistant.knowledge import artefacts
from assistant.knowledge.artefacts import Artefacts, SentenceMatrix, lemma_counts, surface_counts
from assistant.knowledge.embeddings import Embedder, embedder_from_settings
from assistant.knowledge.lexical import LexicalIndex
from assistant.knowledge.query_vectors import QueryVectors
from assistant.knowledge.sentence_vectors import SCHEME as SENTENCE_SCHEME
from assistant.knowledge.sentence_vectors import chunk_sentences, sentence_key
from assistant.knowledge.store import Hit, SourceRecord, Store
from assistant.text import finnish, glossary

__all__ = ["JOIN", "KnowledgeBase", "LexicalIndex", "Passage", "Retrieval", "Retriever", "Snapshot", "query_terms", "year_span"]

log = logging.getLogger("assistant.answering.retrieve")

ROW_CACHE = 4096  # parsed artefact rows kept per snapshot (~1 KB each)
JOIN = "+"  # the id of a passage of joined chunks: theirs, joined by this
MODES = ("hybrid", "dense", "bm25", "bm25-snowball")
_YEARS = re.compile(r"(1\d{3}|20\d{2})(?:[-–](1\d{3}|20\d{2}))?")


def year_span(word: str) -> tuple[int, int] | None:
    """(first, last) of a year (1000–2099) or a range of years written as one word; None for other words."""
    if m := _YEARS.fullmatch(word):
        return int(m.group(1)), int(m.group(2) or m.group(1))
    return None


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
    members: list[str] = field(default_factory=list)  # the chunk ids it is made of (one, or neighbours joined)
    # (offset in ``text``, rank of the chunk in the fused list) of each member, in text order
    ranks: list[tuple[int, int]] = field(default_factory=list)

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
            members=[cid],
        )

    def rank_at(self, offset: int, default: int) -> int:
        """The fused rank of the chunk holding ``offset`` of the text (``default`` when not known)."""
        return next((rank for start, rank in reversed(self.ranks) if start <= offset), default)

    def absorb(self, other: Passage) -> None:
        """Takes in the neighbouring chunk ``other`` (just before or after this passage in its paragraph)."""
        first, second = (other, self) if other.start < self.start else (self, other)
        first_text = first.text
        glue = " " if first.text.rstrip()[-1:] in ".!?…:;)\"”»" else "\n"
        self.text = first.text + glue + second.text
        self.start, self.end = first.start, second.end
        self.page = first.page
        shift = len(first_text) + len(glue)
        self.ranks = first.ranks + [(offset + shift, rank) for offset, rank in second.ranks]
        self.members = first.members + second.members
        self.id = JOIN.join(self.members)  # cited as what it is: these chunks, in text order
        self.dense = max((x for x in (self.dense, other.dense) if x is not None), default=None)
        self.lexical = max((x for x in (self.lexical, other.lexical) if x is not None), default=None)
        self.terms = list(dict.fromkeys(first.terms + second.terms))


class _Column(Sequence[Any]):
    """One field of every row of a generation's artefacts (texts or metadata), read from the mapped file
    when asked: no process holds every chunk's text."""

    def __init__(self, artefacts: Artefacts, field_name: str):
        self._artefacts = artefacts
        self._field = field_name

    def __len__(self) -> int:
        return len(self._artefacts)

    @overload
    def __getitem__(self, i: int) -> Any: ...

    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._artefacts.row(i % len(self))[self._field]

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))


@dataclass
class Snapshot:
    """One consistent view of the knowledge base: the catalogue and the lexical index built from it."""

    generation: int
    sources: dict[str, SourceRecord]
    ids: list[str]
    texts: Sequence[str]
    metas: Sequence[dict[str, Any]]
    lexical: LexicalIndex
    position: dict[str, int] | None = None
    key: str = ""
    artefacts: Artefacts | None = None
    _extra: dict[str, LexicalIndex] = field(default_factory=dict)
    _words: set[str] | None = None

    @classmethod
    def of(cls, artefacts: Artefacts) -> Snapshot:
        return cls(
            generation=artefacts.generation,
            sources=artefacts.sources(),
            ids=artefacts.ids,
            texts=_Column(artefacts, "text"),
            metas=_Column(artefacts, "meta"),
            lexical=artefacts.lexical(),
            key=artefacts.key,
            artefacts=artefacts,
        )

    def chunk(self, i: int) -> tuple[str, dict[str, Any]]:
        """(text, metadata) of row ``i``: one read, or none for the last ``ROW_CACHE`` rows read (an answer
        reads ~90 rows, and parsing one costs ~6 µs); the metadata is the caller's own copy."""
        if self.artefacts is not None:
            text, meta = self._row(i)
            return text, dict(meta)
        return self.texts[i], self.metas[i]

    @cached_property
    def _row(self) -> Callable[[int], tuple[str, dict[str, Any]]]:
        assert self.artefacts is not None
        row = self.artefacts.row

        @lru_cache(maxsize=ROW_CACHE)
        def read(i: int) -> tuple[str, dict[str, Any]]:
            parsed = row(i)
            return parsed["text"], parsed["meta"]

        return read

    def index_of(self, cid: str) -> int | None:
        if self.position is None:
            self.position = {c: i for i, c in enumerate(self.ids)}
        return self.position.get(cid)

    @property
    def words(self) -> set[str]:
        """Whole-word lemmas of every live chunk (compound parts excluded), built on first use."""
        if self._words is None:
            if self.artefacts is not None:
                self._words = set(self.artefacts.counts("lemmas"))
            else:
                self._words = set(lemma_counts(self.texts))
        return self._words

    def surface_counts(self) -> dict[str, int]:
        """Surface words of every live chunk by occurrences (for typo correction)."""
        if self.artefacts is not None:
            return self.artefacts.counts("surface")
        return dict(surface_counts(self.texts))

    # A snapshot never changes (a new generation builds a new one), so these are computed once.
    @cached_property
    def versions(self) -> dict[str, str]:
        return {s: r.version for s, r in self.sources.items()}

    @cached_property
    def year_spans(self) -> list[tuple[int, int]]:
        """The years the sources name, each as (first, last): a year alone, or a range ("2019-2023")."""
        return [span for word in self.words if (span := year_span(word))]

    def names_year(self, year: int) -> bool:
        return any(first <= year <= last for first, last in self.year_spans)

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


class SentenceVectors:
    """Sentence vectors for the answerer: from the generation's memory-mapped matrix, and from the store
    only for keys the matrix does not know (a sentence across two joined chunks that an older version held
    whole: the store keeps every vector ever embedded), or for every key when there is no matrix. A key the matrix knows as vectorless had no vector when the generation was built: trusted when
    the store's scheme was already the current one then (a refresh that embeds it publishes a new
    generation right after), else asked again (the vectors were being filled in)."""

    def __init__(self, matrix: SentenceMatrix | None, store: Store, trust_gaps: bool = True):
        self.matrix = matrix
        self.store = store
        self.trust_gaps = trust_gaps

    def sentence_vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        if self.matrix is None:
            return self.store.sentence_vectors(keys)
        found, rest = self.matrix.get(keys)
        if not self.trust_gaps:
            rest = [k for k in keys if k not in found]
        if rest:
            found.update(self.store.sentence_vectors(rest))
        return found


@dataclass
class Retrieval:
    query: str
    terms: list[str]
    passages: list[Passage]
    timings_ms: dict[str, float]
    snapshot: Snapshot
    degraded: bool = False  # the dense side failed (store unreachable): lexical results only
    query_vector: np.ndarray | None = None  # the embedded query, for sentence choice
    # the best chunks before neighbours were joined: what the refusal model (evidence.decide) was fitted on
    chunks: list[Passage] = field(default_factory=list)


class KnowledgeBase:
    """Store + embedding model + the generation's artefacts, opened once per process and on change."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, reload_every: float = 1.0):
        self.settings = settings
        self.embedder = embedder or embedder_from_settings(settings)
        self.queries = QueryVectors(self.embedder, settings.query_cache, settings.query_batching)
        self.store = Store.open(settings)
        self.store.check_model(self.embedder.id, self.embedder.dim)
        self.artefacts_root = artefacts.root_for(settings)
        self._private: Path | None = None  # this process's own snapshots of an unpublished store state
        self.reload_every = reload_every
        self._lock = threading.Lock()
        self._checked = 0.0
        self.store_error: str | None = None  # set while the store is unreachable
        self._scheme = ""  # the store's sentence scheme, checked with its generation
        self.snapshot = self._build()

    def _build(self) -> Snapshot:
        self._scheme = str(self.store.meta().get("sentence_scheme") or "")
        generation, key = self.store.generation_key()
        published = artefacts.open_or_build(self.store, self.artefacts_root, key, generation)
        if self.store.meta().get("clean", True) is False:
            # a refresh is running or was killed: what it committed is live in the store, as before artefacts
            # existed. Only a process opening the store now pays for it (a catalogue read, and a private
            # incremental build when the catalogue moved on); running processes switch at the next generation.
            live = {s: r.version for s, r in self.store.live_sources().items()}
            if live != published.versions:
                if self._private is None:
                    self._private = Path(tempfile.mkdtemp(prefix="elmo-uncommitted-"))
                own = f"{key}-uncommitted-{uuid.uuid4().hex[:8]}"
                return Snapshot.of(artefacts.build(self.store, self._private, own, generation, published, "uncommitted"))
        return Snapshot.of(published)

    def current(self) -> Snapshot:
        """The live snapshot, reopened when another process (or a refresh) changed the store."""
        now = time.monotonic()
        if now - self._checked >= self.reload_every:
            with self._lock:
                if now - self._checked >= self.reload_every:
                    self._checked = now
                    try:
                        if self.store.generation_key()[1] != self.snapshot.key:
                            self.store.reopen()  # an embedded store: load what the other process wrote
                            self.snapshot = self._build()
                        else:  # sentence vectors filled in or dropped without a new generation
                            self._scheme = str(self.store.meta().get("sentence_scheme") or "")
                        self.store_error = None
                    except Exception as exc:  # noqa: BLE001 - store unreachable: keep serving what we have
                        self.store_error = f"{type(exc).__name__}: {exc}"
                        log.warning("knowledge base store unreachable, serving the last snapshot: %s", exc)
        return self.snapshot

    def sentence_vectors(self, snap: Snapshot) -> SentenceVectors:
        """What the answerer reads sentence vectors from: ``snap``'s matrix while the store's sentence
        vectors are on and of this code's scheme (checked with the generation), else the store."""
        art = snap.artefacts
        if art is None or self._scheme != SENTENCE_SCHEME:  # switched off or not filled in: as the store says
            return SentenceVectors(None, self.store)
        return SentenceVectors(art.sentence_matrix(), self.store, art.meta.get("sentence_scheme") == SENTENCE_SCHEME)

    def reload(self) -> Snapshot:
        with self._lock:
            self._checked = time.monotonic()
            self.snapshot = self._build()
        return self.snapshot


def join_neighbours(ranked: list[Passage], metas: dict[str, dict[str, Any]], max_chars: int) -> list[Passage]:
    """Best first, a chunk found next to an already found chunk of the same paragraph (the chunker's
    ``continues`` flag) joins that passage instead of taking a place of its own, while the joined span stays
    within ``max_chars`` of the original text: the answerer sees the paragraph, and the places it frees go to
    passages further down. A store chunked before the flag existed joins nothing."""
    out: list[Passage] = []
    holder: dict[tuple[str, Any, int], Passage] = {}  # (source, version, chunk index) → the passage holding it

    def key(cid: str, step: int = 0) -> tuple[str, Any, int]:
        meta = metas[cid]
        return meta["source"], meta.get("version"), int(meta.get("index", -1)) + step

    for p in ranked:
        before, after = holder.get(key(p.id, -1)), holder.get(key(p.id, 1))
        # members are kept in text order: the passage after this chunk starts with the chunk at index + 1
        links = [
            (before, bool(metas[p.id].get("continues"))),
            (after, after is not None and bool(metas[after.members[0]].get("continues"))),
        ]
        home: Passage | None = None
        for other, linked in links:
            if other is None or not linked or other is home:
                continue
            if max(p.end, other.end) - min(p.start, other.start) > max_chars:
                continue
            if home is None:
                other.absorb(p)
                home = other
            elif max(home.end, other.end) - min(home.start, other.start) <= max_chars:
                # the chunk bridges two found passages: the later-ranked one joins the better one
                keep, drop = (home, other) if out.index(home) < out.index(other) else (other, home)
                keep.absorb(drop)
                out.remove(drop)
                holder.update({key(m): keep for m in drop.members})
                home = keep
        if home is None:
            out.append(p)
            home = p
        holder[key(p.id)] = home
    return out


def query_terms(query: str, language: str) -> list[str]:
    terms = [t for t in finnish.terms(query) if not finnish.is_stopword(t)]
    if language != "fi":
        terms += glossary.finnish_terms(query)
    return list(dict.fromkeys(terms))


def lexical_share(query: str, language: str, vocabulary: Container[str]) -> float:
    """How much of a question BM25 can read: the share of its content words the corpus or the glossary knows.
    1.0 for a Finnish question. An English or Swedish question about a document the glossary does not cover
    matches little but names, so its BM25 ranking is mostly noise: fused at full weight, it pushed the dense
    side's better ranking down (`evals/README.md`, cross-lingual questions on squad2fi-dev)."""
    if language == "fi":
        return 1.0
    words = [w for w, _, _ in finnish.words(query)]
    content = [w for w in words if not finnish.is_stopword(w.lower())]
    if not content:
        return 1.0
    glossed = glossary.read_words(query)
    known = sum(
        1 for w in content
        if w.lower() in glossed or any(t in vocabulary for t in finnish.terms(w) if not finnish.is_stopword(t))
    )  # fmt: skip
    return known / len(content)


# a chunk's best sentence counts a hair below the chunk itself: of equals, the chunk's own cosine leads
SENTENCE_MARGIN = 0.01


def by_best_sentence(hits: list[Hit], vectors: SentenceVectors, vector: np.ndarray) -> list[Hit]:
    """The dense hits of an English or Swedish question ranked by max(the chunk's cosine, its best stored
    sentence's cosine − SENTENCE_MARGIN): across languages the model matches a question to the one sentence that
    says what it asks more surely than to a chunk of several (squad2fi-dev's 35 translated questions, dense
    side alone: English hit@5 0.771 → 0.857, Swedish hit@1 0.514 → 0.571, hit@5 0.743 → 0.800; Finnish
    unchanged — for Finnish, measured on all 400, it moved three questions and cost an in-house answer, see
    evals/README.md). The chunk's own cosine stays its dense score: the refusal model was fitted on it."""
    owner: dict[str, list[int]] = {}
    for i, h in enumerate(hits):
        for sentence in chunk_sentences(h.text):
            owner.setdefault(sentence_key(sentence), []).append(i)
    best = [h.score for h in hits]
    q = np.asarray(vector, dtype=np.float32)
    for key, v in vectors.sentence_vectors(list(owner)).items():
        cosine = float(v @ q) - SENTENCE_MARGIN
        for i in owner[key]:
            best[i] = max(best[i], cosine)
    order = sorted(range(len(hits)), key=lambda i: -best[i])  # stable: ties keep the store's order
    return [hits[i] for i in order]


def dense_live(store: Store, snap: Snapshot, vector: np.ndarray, n: int) -> list[Hit]:
    """The ``n`` nearest live chunks: Chroma gives ids and scores, the snapshot their text and metadata
    (what ``Store.dense`` reads back from Chroma, at a fraction of the CPU). Over-fetched by 8 as there:
    an id not in the snapshot (deleted, or written by a refresh this process has not loaded) is dropped."""
    hits = []
    for cid, score in store.nearest(vector, n + 8):
        if (i := snap.index_of(cid)) is not None:
            text, meta = snap.chunk(i)
            hits.append(Hit(cid, text, meta, score))
    return hits[:n]


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
        depth = max(self.kb.settings.fusion_depth, 3 * k)
        rrf_k = self.kb.settings.rrf_k
        terms = query_terms(query, language) + [t for t in (extra_terms or []) if t]
        terms = list(dict.fromkeys(terms))

        dense_hits: list[Hit] = []
        degraded = False
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            vector = self.kb.queries.embed(query)
            timings["embed"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            try:
                dense_hits = dense_live(self.kb.store, snap, vector, depth)
            except Exception as exc:  # noqa: BLE001 - a Chroma server away: lexical side only, flagged
                if mode == "dense":
                    raise
                self.kb.store_error = f"{type(exc).__name__}: {exc}"
                log.warning("dense search failed, answering from the lexical index only: %s", exc)
                degraded = True
            if language != "fi" and dense_hits:
                try:
                    dense_hits = by_best_sentence(dense_hits, self.kb.sentence_vectors(snap), vector)
                except Exception as exc:  # noqa: BLE001 - the store away: the chunks' own order
                    log.warning("sentence vectors unavailable, dense order kept: %s", exc)
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
        metas: dict[str, dict[str, Any]] = {}
        for rank, hit in enumerate(dense_hits):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (rrf_k + rank + 1)
            p = found.setdefault(hit.id, Passage.from_chunk(hit.id, hit.text, hit.meta))
            metas[hit.id] = hit.meta
            p.dense = hit.score
        lexical_weight = self.kb.settings.lexical_weight
        if lexical_hits:
            lexical_weight *= lexical_share(query, language, snap.lexical.vocab)
        for rank, (i, score) in enumerate(lexical_hits):
            cid = snap.ids[i]
            fused[cid] = fused.get(cid, 0.0) + lexical_weight / (rrf_k + rank + 1)
            if cid not in found:
                text, meta = snap.chunk(i)
                # as before rows kept the flag: a chunk found by BM25 alone does not join its predecessor
                # (see the report of issue 14; dropping this line lets it join, which changes answers)
                metas[cid] = {k: v for k, v in meta.items() if k != "continues"}
                found[cid] = Passage.from_chunk(cid, text, metas[cid])
            found[cid].lexical = score
        ranked = sorted(fused, key=lambda cid: -fused[cid])
        for rank, cid in enumerate(ranked):
            found[cid].score = fused[cid]
            found[cid].ranks = [(0, rank)]
        passages = [found[cid] for cid in ranked]
        for p in passages:
            if not p.terms and (i := snap.index_of(p.id)) is not None:
                p.terms = (snap.chunk(i)[1].get("terms") or "").split()
        chunks = [dataclasses.replace(p) for p in passages[:k]]  # copies: joining changes the passages
        if self.kb.settings.join_chars > 0:
            passages = join_neighbours(passages, metas, self.kb.settings.join_chars)
        passages = passages[:k]
        timings["fusion"] = (time.perf_counter() - t) * 1000
        return Retrieval(
            query=query, terms=terms, passages=passages, timings_ms=timings, snapshot=snap, degraded=degraded,
            chunks=chunks,
            query_vector=vector if mode in ("hybrid", "dense") else None,
        )
