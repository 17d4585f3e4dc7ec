"""The knowledge base in Chroma: chunk vectors plus a catalogue of sources, shared by every process.

Two collections:

* ``<prefix>_chunks`` — one record per chunk: its vector, its text and metadata in llama-index's layout
  (``node_to_metadata_dict``), so a plain llama-index ``VectorStoreIndex`` can read the same store.
  Chunk ids contain the source's version, so a new version never overwrites an old one in place.
* ``<prefix>_sentences`` — one vector per distinct sentence of the chunks, keyed by a hash of its text
  (content-addressed: shared by every chunk, version and source that holds the sentence), for sentence
  choice at query time.
* ``<prefix>_sources`` — the catalogue: one record per *live* source (its version, title, publisher,
  contacts, original text for the passage viewer), plus one ``__meta__`` record (the embedding model
  that built the index, a generation counter bumped on every change, the last refresh's failures).

A source's new version becomes visible in one step — the upsert of its catalogue record — and readers
drop chunks whose (source, version) is not the live one. So a refresh killed at any moment leaves each
source at its old or its new version, never a mix; the next refresh deletes what was left behind.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from assistant.knowledge.gather import Gatherer

META_ID = "__meta__"
_PAGE = 1000  # records per paged get
# HNSW settings of the chunk collection, applied to new and existing stores. Chroma 1.x persists its
# embedded HNSW graph every ``sync_threshold`` records (default 1000) and every process that opens the
# store replays the newer records into its own copy of the graph in parallel, in no fixed order: after a
# refresh, fresh processes searched slightly different graphs and could miss different near neighbours.
# Persisting after every write makes them all load the same graph (benchmarks/dense_agreement.py); a
# larger ``ef_search`` (default 100) makes the search miss fewer of the true nearest chunks.
CHUNK_HNSW = {"sync_threshold": 1, "ef_search": 200}


def new_key(generation: int) -> str:
    return f"g{generation}-{uuid.uuid4().hex[:12]}"


class StoreError(RuntimeError):
    pass


class ModelMismatch(StoreError):
    pass


@dataclass
class SourceRecord:
    source: str
    version: str
    raw_hash: str
    title: str
    kind: str
    chunks: int
    refreshed_at: float
    publisher: str | None = None
    language: str | None = None
    date: str | None = None
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    contacts: list[dict[str, Any]] = field(default_factory=list)

    def to_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "version": self.version,
            "raw_hash": self.raw_hash,
            "title": self.title,
            "kind": self.kind,
            "chunks": self.chunks,
            "refreshed_at": self.refreshed_at,
            "contacts": json.dumps(self.contacts, ensure_ascii=False),
        }
        for key in ("publisher", "language", "date", "url", "etag", "last_modified"):
            value = getattr(self, key)
            if value is not None:
                meta[key] = value
        return meta

    @classmethod
    def from_metadata(cls, source: str, meta: dict[str, Any]) -> SourceRecord:
        return cls(
            source=source,
            version=meta["version"],
            raw_hash=meta.get("raw_hash", ""),
            title=meta.get("title", source),
            kind=meta.get("kind", ""),
            chunks=int(meta.get("chunks", 0)),
            refreshed_at=float(meta.get("refreshed_at", 0.0)),
            publisher=meta.get("publisher"),
            language=meta.get("language"),
            date=meta.get("date"),
            url=meta.get("url"),
            etag=meta.get("etag"),
            last_modified=meta.get("last_modified"),
            contacts=json.loads(meta.get("contacts") or "[]"),
        )

    def public(self) -> dict[str, Any]:
        out = self.to_metadata()
        out["contacts"] = self.contacts
        out["source"] = self.source
        for private in ("raw_hash", "etag", "last_modified"):
            out.pop(private, None)
        return out


@dataclass
class Hit:
    id: str
    text: str
    meta: dict[str, Any]
    score: float


def make_client(chroma_url: str | None, path: Any) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        parsed = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        return chromadb.HttpClient(
            host=parsed.hostname or "localhost",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=chroma_settings,
        )
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _tune_hnsw(collection: Any, wanted: dict[str, int]) -> None:
    """Give a collection these HNSW settings unless it has them (a store built before they existed)."""
    current = (collection.configuration or {}).get("hnsw") or {}
    if any(current.get(key) != value for key, value in wanted.items()):
        collection.modify(configuration={"hnsw": dict(wanted)})


class Store:
    def __init__(self, client: Any, prefix: str = "elmo", path: Path | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.path = path  # an embedded store's directory (None: a Chroma server)
        self._open_collections()
        self.max_batch = int(client.get_max_batch_size())
        self.dense_gather: Gatherer[tuple[np.ndarray, int], list[tuple[str, float]]] = Gatherer(self.nearest_many)

    @classmethod
    def open(cls, settings: Any) -> Store:
        try:
            path = None if settings.chroma_url else settings.index / "chroma"
            client = make_client(settings.chroma_url, path)
            return cls(client, settings.collection, path)
        except StoreError:
            raise
        except Exception as exc:
            where = settings.chroma_url or str(settings.index / "chroma")
            raise StoreError(f"cannot open the Chroma store at {where}: {exc}") from exc

    def _open_collections(self) -> None:
        # embedding_function=None: Chroma's default would download an ONNX model; we bring our own vectors.
        self.chunks = self.client.get_or_create_collection(
            f"{self.prefix}_chunks", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        _tune_hnsw(self.chunks, CHUNK_HNSW)
        self.sources = self.client.get_or_create_collection(f"{self.prefix}_sources", embedding_function=None)
        self.sentences = self.client.get_or_create_collection(
            f"{self.prefix}_sentences", embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def reopen(self) -> None:
        """See an embedded store as a process opening it now does. Chroma keeps one system per directory and
        process, with the HNSW graph it loaded then: another process's writes never reach that graph, so
        after another process's refresh this one's dense search misses the new chunks until it reopens.
        A search already running finishes on the old system (not stopped: its collections stay referenced;
        other Stores on this directory keep it until they reopen too)."""
        if self.path is None:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        # no public way to drop one directory's cached system (clear_system_cache drops every one)
        identifier = self.client._identifier
        SharedSystemClient._identifier_to_system.pop(identifier, None)
        SharedSystemClient._identifier_to_refcount.pop(identifier, None)
        self.client = make_client(None, self.path)
        self._open_collections()

    def reset(self) -> None:
        """Drop everything (a model switch). The catalogue goes first: killed in between, no source is left
        live without its chunks, and the orphaned chunks (no ``embed_id`` any more) are dropped next time."""
        for name in (f"{self.prefix}_sources", f"{self.prefix}_chunks", f"{self.prefix}_sentences"):
            try:
                self.client.delete_collection(name)
            except Exception:  # noqa: BLE001 - absent is fine
                pass
        self._open_collections()

    def heartbeat(self) -> None:
        self.client.heartbeat()

    # ---- the catalogue -------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        got = self.sources.get(ids=[META_ID], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else {}

    def write_meta(self, **values: Any) -> dict[str, Any]:
        meta = self.meta()
        meta.update({k: v for k, v in values.items() if v is not None})
        self.sources.upsert(ids=[META_ID], embeddings=[[0.0]], metadatas=[meta], documents=[""])
        return meta

    def generation(self) -> int:
        return int(self.meta().get("generation", 0))

    def generation_key(self) -> tuple[int, str]:
        """The generation and the key its artefacts are filed under (unique even across a reset, which
        restarts the counter)."""
        meta = self.meta()
        gen = int(meta.get("generation", 0))
        return gen, str(meta.get("artefacts_key") or f"g{gen}-{meta.get('changed_at', 0)}")

    def bump_generation(self, artefacts_key: str | None = None) -> int:
        gen = self.generation() + 1
        self.write_meta(generation=gen, changed_at=time.time(), artefacts_key=artefacts_key or new_key(gen))
        return gen

    def check_model(self, embed_id: str, dim: int) -> None:
        meta = self.meta()
        built = meta.get("embed_id")
        if built and (built != embed_id or int(meta.get("dim", dim)) != dim):
            raise ModelMismatch(
                f"the index was built with {built} but {embed_id} is configured; "
                "run `assistant refresh` to rebuild it with the configured model"
            )

    def live_sources(self) -> dict[str, SourceRecord]:
        return {s: SourceRecord.from_metadata(s, m) for s, m in self.live_catalogue().items()}

    def live_catalogue(self) -> dict[str, dict[str, Any]]:
        """Every live source's catalogue metadata, as stored (``SourceRecord.from_metadata`` reads it)."""
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            got = self.sources.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for sid, meta in zip(got["ids"], got["metadatas"], strict=True):
                if sid != META_ID:
                    out[sid] = dict(meta)
            if len(got["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def source_text(self, source: str) -> str | None:
        got = self.sources.get(ids=[source], include=["documents"])
        return got["documents"][0] if got["ids"] and source != META_ID else None

    def commit_source(self, record: SourceRecord, original_text: str) -> None:
        """The moment a source's new version goes live: one record upsert."""
        self.commit_sources([(record, original_text)])

    def commit_sources(self, items: list[tuple[SourceRecord, str]]) -> None:
        """Several sources go live in one upsert (each still all-or-nothing: its chunks are already stored)."""
        if items:
            self.sources.upsert(
                ids=[r.source for r, _ in items],
                embeddings=[[0.0]] * len(items),
                metadatas=[r.to_metadata() for r, _ in items],
                documents=[text for _, text in items],
            )

    def remove_source(self, source: str) -> None:
        self.sources.delete(ids=[source])
        self.chunks.delete(where={"source": source})

    # ---- chunks -------------------------------------------------------------------------------------

    def vectors_for(self, text_hashes: list[str]) -> dict[str, np.ndarray]:
        """Vectors already stored for these embedded-text hashes, in any source or version: an edit
        re-embeds only its changed chunks, a rename or an interrupted refresh re-embeds nothing."""
        out: dict[str, np.ndarray] = {}
        wanted = sorted(set(text_hashes))
        for i in range(0, len(wanted), _PAGE):
            got = self.chunks.get(
                where={"text_hash": {"$in": wanted[i : i + _PAGE]}}, include=["embeddings", "metadatas"]
            )
            for emb, meta in zip(got["embeddings"], got["metadatas"], strict=True):
                out[meta["text_hash"]] = np.asarray(emb, dtype=np.float32)
        return out

    def add_chunks(self, ids: list[str], vectors: np.ndarray, texts: list[str], metas: list[dict]) -> None:
        # Chroma refuses batches over get_max_batch_size() (llama-index's ChromaVectorStore.add does not
        # respect it), so we batch ourselves.
        for i in range(0, len(ids), self.max_batch):
            j = i + self.max_batch
            self.chunks.upsert(ids=ids[i:j], embeddings=vectors[i:j], documents=texts[i:j], metadatas=metas[i:j])

    def delete_stale_chunks(self, source: str, live_version: str) -> None:
        self.chunks.delete(where={"$and": [{"source": source}, {"version": {"$ne": live_version}}]})

    def collect_garbage(self, live: dict[str, str]) -> int:
        """Delete chunks whose (source, version) is not live. Returns how many were removed."""
        stale: list[str] = []
        for cid, meta in self._iter_chunk_meta():
            if live.get(meta.get("source")) != meta.get("version"):
                stale.append(cid)
        for i in range(0, len(stale), self.max_batch):
            self.chunks.delete(ids=stale[i : i + self.max_batch])
        return len(stale)

    def _iter_chunk_meta(self) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = 0
        while True:
            got = self.chunks.get(include=["metadatas"], limit=_PAGE, offset=offset)
            yield from ((cid, meta or {}) for cid, meta in zip(got["ids"], got["metadatas"], strict=True))
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE

    def live_chunks(self, live: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, text, metadata) of every live chunk: what the lexical index is built from."""
        out = []
        offset = 0
        while True:
            got = self.chunks.get(include=["metadatas", "documents"], limit=_PAGE, offset=offset)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if meta is not None and doc is not None and live.get(meta.get("source")) == meta.get("version"):
                    out.append((cid, doc, meta))
            if len(got["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def chunks_of(self, wanted: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, text, metadata) of the chunks of these (source → version) pairs only: an incremental
        artefact build reads just the sources a refresh changed."""
        out = []
        names = sorted(wanted)
        for i in range(0, len(names), 100):
            got = self.chunks.get(
                where={"source": {"$in": names[i : i + 100]}}, include=["metadatas", "documents"]
            )
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if meta is not None and doc is not None and wanted.get(meta.get("source")) == meta.get("version"):
                    out.append((cid, doc, meta))
        return out

    # ---- sentence vectors ---------------------------------------------------------------------------

    def sentence_vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these sentence keys (absent keys are simply missing from the result)."""
        out: dict[str, np.ndarray] = {}
        wanted = sorted(set(keys))
        for i in range(0, len(wanted), _PAGE):
            got = self.sentences.get(ids=wanted[i : i + _PAGE], include=["embeddings"])
            for sid, emb in zip(got["ids"], got["embeddings"], strict=True):
                out[sid] = np.asarray(emb, dtype=np.float32)
        return out

    def clear_sentence_vectors(self) -> None:
        self.client.delete_collection(f"{self.prefix}_sentences")
        self._open_collections()

    def add_sentence_vectors(self, keys: list[str], vectors: np.ndarray) -> None:
        for i in range(0, len(keys), self.max_batch):
            j = i + self.max_batch
            self.sentences.upsert(ids=keys[i:j], embeddings=vectors[i:j])

    def count_chunks(self) -> int:
        return int(self.chunks.count())

    def nearest(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the ``n`` nearest chunks, any version: ids and distances only, as
        reading each hit's metadata and text back from Chroma costs ~6x the search itself. Concurrent
        calls share one Chroma query (``gather.py``)."""
        return self.dense_gather((vector, n))

    def nearest_many(self, asked: list[tuple[np.ndarray, int]]) -> list[list[tuple[str, float]]]:
        """``nearest`` of several (vector, n): one Chroma query per distinct n (the answerer asks one n).
        Each vector's list is what its own query gives: HNSW searches each vector of a query on its own
        (tests/integration/test_store_nearest.py)."""
        out: list[list[tuple[str, float]]] = [[] for _ in asked]
        for n in dict.fromkeys(n for _, n in asked):
            at = [i for i, (_, m) in enumerate(asked) if m == n]
            got = self.chunks.query(query_embeddings=[asked[i][0] for i in at], n_results=n, include=["distances"])
            for i, ids, dists in zip(at, got["ids"], got["distances"], strict=True):
                out[i] = [(cid, 1.0 - float(dist)) for cid, dist in zip(ids, dists, strict=True)]
        return out

    def dense(self, vector: np.ndarray, n: int, live: dict[str, str]) -> list[Hit]:
        """Nearest chunks, live versions only (over-fetched so that stale ones can be dropped)."""
        # n_results above the collection size is fine in Chroma 1.x (it returns what there is)
        got = self.chunks.query(
            query_embeddings=[vector], n_results=n + 8, include=["metadatas", "documents", "distances"]
        )
        hits = []
        for cid, doc, meta, dist in zip(
            got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
        ):
            # a chunk deleted by a concurrent refresh can still come back from the vector index, without
            # its metadata and text: it is not live
            if meta is None or doc is None:
                continue
            if live.get(meta.get("source")) == meta.get("version"):
                hits.append(Hit(cid, doc, meta, 1.0 - float(dist)))
        return hits[:n]
