"""`assistant refresh`: sources folder + manifest URLs → clean chunks → vectors in Chroma, incrementally.

Why not llama-index's IngestionPipeline + docstore: its document hash includes metadata such as the file's
mtime (a touched file is re-embedded), and its upsert/delete strategies have known bugs with renames,
deletions and equal hashes (STACK.md). We keep llama-index's node layout in Chroma (see store.py) and do
the change tracking ourselves with content hashes and a per-source commit.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.utils import node_to_metadata_dict

from assistant.config import Settings
from assistant.knowledge import artefacts
from assistant.knowledge.chunking import CHUNKER_VERSION, Chunk, chunk, text_hash
from assistant.knowledge.embeddings import Embedder, embedder_from_settings
from assistant.knowledge.loaders import MAX_FILE_BYTES, Loaded, LoadError, fetch_url, parse_bytes, parse_file
from assistant.knowledge.manifest import SourceMeta, discover_sources, read_manifest
from assistant.knowledge.sentence_vectors import SCHEME as SENTENCE_SCHEME
from assistant.knowledge.sentence_vectors import embed_missing as embed_missing_sentences
from assistant.knowledge.store import ModelMismatch, SourceRecord, Store, StoreError, new_key
from assistant.text import finnish
from assistant.text.contacts import CONTACTS_VERSION, extract_contacts
from assistant.text.normalise import normalise

log = logging.getLogger("assistant.knowledge.ingest")

Progress = Callable[[int, int, str], None]


class RefreshBusy(RuntimeError):
    pass


# Disk space. Chroma (embedded) cannot even *read* a store whose write-ahead log it could not apply for lack
# of space ("Error in compaction: Failed to apply logs to the metadata segment"): a new process cannot open
# the index until space is freed. So a refresh never writes into the last MIN_FREE_BYTES of the disk and
# checks before each batch; ~12 kB a chunk was measured (vector, text, metadata, full-text index, log).
MIN_FREE_BYTES = 32 * 1024 * 1024
PROGRESS_EVERY_S = 0.1
BYTES_PER_CHUNK = 16 * 1024


@dataclass
class Summary:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0  # sentence vectors for sentence choice (not in --json: its keys are fixed)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # human messages (e.g. a rebuild); not in --json
    # wall and CPU seconds (the whole process's) per phase of the run: where a refresh's time goes; not in --json
    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            got = self.phases.setdefault(name, {"wall": 0.0, "cpu": 0.0})
            got["wall"] += time.perf_counter() - wall
            got["cpu"] += time.process_time() - cpu

    def phase_text(self) -> str:
        return ", ".join(f"{k} {v['wall']:.2f}/{v['cpu']:.2f}" for k, v in self.phases.items()) + " s (wall/CPU)"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("notes")
        out.pop("phases")
        out.pop("sentences_embedded")
        out["seconds"] = round(self.seconds, 3)
        return out

    def text(self) -> str:
        lines = [*self.notes]
        lines.append(
            f"added {self.added}, updated {self.updated}, removed {self.removed}, unchanged {self.unchanged}, "
            f"failed {len(self.failed)}; {self.chunks_embedded} chunks embedded in {self.seconds:.1f} s"
        )
        lines += [f"  failed: {f['source']}: {f['reason']}" for f in self.failed]
        return "\n".join(lines)


@dataclass
class _Spec:
    source: str  # relative posix path, or the URL
    path: Path | None
    meta: SourceMeta | None


@dataclass
class _Pending:
    record: SourceRecord
    original: str
    chunks: list[Chunk]
    embed_texts: list[str]
    terms: list[str]
    vectors: dict[str, np.ndarray]
    is_new: bool


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def _meta_json(meta: SourceMeta | None) -> str:
    return json.dumps(meta.to_dict() if meta else {}, sort_keys=True, ensure_ascii=False)


def _specs(sources_dir: Path) -> list[_Spec]:
    manifest = read_manifest(sources_dir)
    specs = [_Spec(rel, path, manifest.files.get(rel)) for rel, path in discover_sources(sources_dir)]
    specs += [_Spec(m.url, None, m) for m in manifest.urls if m.url]
    return specs


def embed_text(title: str, body: str) -> str:
    """What is embedded for a chunk: its source title gives short passages their context."""
    return f"{title}\n{body}" if title else body


def chunk_contacts(chunks: list[Chunk]) -> list[dict[str, Any]]:
    """The contacts of a source's chunks as its catalogue record stores them (each tied to its chunk)."""
    contacts = []
    for c in chunks:
        for contact in extract_contacts(c.text):
            entry = contact.to_dict()
            entry["chunk_id"] = c.id
            # offsets into the chunk text → offsets into the original, for the viewer
            entry.pop("start", None)
            entry.pop("end", None)
            contacts.append(entry)
    return contacts


def chunk_metadata(record: SourceRecord, c: Chunk, etext: str, terms: str) -> dict[str, Any]:
    """A chunk's stored metadata: the llama-index node layout (flat) plus version, index, text hash, terms."""
    node = TextNode(
        id_=c.id,
        text=c.text,
        metadata={
            "source": record.source,
            "title": record.title,
            "start": c.start,
            "end": c.end,
            **({"page": c.page} if c.page is not None else {}),
            **({"url": record.url} if record.url else {}),
        },
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=record.source)},
    )
    flat = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    flat.update(version=record.version, index=c.index, text_hash=text_hash(etext), terms=terms, continues=c.continues)
    return dict(flat)


class _Live(Mapping[str, SourceRecord]):
    """The live catalogue a run starts from: raw metadata, made a ``SourceRecord`` (contacts parsed) only
    for a source looked at closer than its raw hash — at 10k sources the records were ~0.1 s and tens of
    thousands of objects that set off full garbage collections of the server's heap."""

    def __init__(self, raw: dict[str, dict[str, Any]]):
        self._raw = raw

    def __getitem__(self, source: str) -> SourceRecord:
        return SourceRecord.from_metadata(source, self._raw[source])

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def raw_hash(self, source: str) -> str | None:
        meta = self._raw.get(source)
        return None if meta is None else str(meta.get("raw_hash", ""))


class Refresher:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None):
        self.settings = settings
        self._embedder = embedder
        self.progress = progress
        self.config_hash = _hash(CHUNKER_VERSION, finnish.TERMS_VERSION, CONTACTS_VERSION, str(settings.chunk_chars))
        self._changes: dict[str, SourceRecord | None] = {}  # committed (record) or removed (None) by this run
        self._current: tuple[int, int, str] = (0, 0, "")  # the source being looked at (index, total, name)
        self._reported: tuple[int, float] = (-1, -1e9)  # the last index reported to ``progress``, and when
        self._start_key = ""
        self._base: artefacts.Artefacts | None = None  # the published folder of the generation this run started from

    @property
    def embedder(self) -> Embedder:
        # loaded lazily: a refresh that finds the lock taken says so at once, not after loading a model
        if self._embedder is None:
            self._embedder = embedder_from_settings(self.settings)
        return self._embedder

    def run(self, show_bar: bool = False) -> Summary:
        self.settings.index.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.settings.index / "refresh.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RefreshBusy(
                f"another refresh is already running on this index ({self.settings.index}); "
                "wait for it to finish and run again"
            ) from None
        try:
            return self._run(show_bar)
        except (StoreError, RefreshBusy, ModelMismatch):
            raise
        except Exception as exc:
            if _is_write_failure(exc):
                raise StoreError(self._write_failure_message(exc)) from exc
            raise
        finally:
            lock.release()

    def _where(self) -> str:
        return self.settings.chroma_url or str(self.settings.index)

    def _free_bytes(self) -> int | None:
        if self.settings.chroma_url:  # a Chroma server's disk is not ours to see
            return None
        try:
            return shutil.disk_usage(self.settings.index).free
        except OSError:
            return None

    def _write_failure_message(self, exc: BaseException) -> str:
        free = self._free_bytes()
        full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or (
            free is not None and free < MIN_FREE_BYTES
        )
        detail = " ".join(str(exc).split())[:300]
        head = f"the refresh could not write the index at {self._where()}: {detail}."
        if full:
            head += f" The disk is full ({(free or 0) / 1e6:.1f} MB free)."
        return (
            f"{head} Sources refreshed before this point are at their new version, all others at their "
            "previous one; free some space (or fix the store) and run `assistant refresh` again."
        )

    def _check_space(self, pending: list[_Pending]) -> None:
        free = self._free_bytes()
        if free is None:
            return
        need = sum(len(p.chunks) * BYTES_PER_CHUNK + 4 * len(p.original) for p in pending)
        if free < need + MIN_FREE_BYTES:
            raise StoreError(
                f"not enough free disk space for the index at {self.settings.index}: {free / 1e6:.1f} MB free; "
                f"the next {sum(len(p.chunks) for p in pending)} chunks need about {need / 1e6:.1f} MB and "
                f"{MIN_FREE_BYTES / 1e6:.0f} MB must stay free. Nothing more was written: sources refreshed "
                "before this point are at their new version, all others at their previous one. Free some "
                "space and run `assistant refresh` again."
            )

    # ---------------------------------------------------------------------------------------------------

    def _run(self, show_bar: bool) -> Summary:
        t0 = time.perf_counter()
        summary = Summary()
        with summary.phase("open"):
            store, live, interrupted = self._open_store(summary)
        with summary.phase("scan"):
            specs = _specs(self.settings.sources)
        changed = self._refresh_sources(specs, live, summary, show_bar)
        with summary.phase("write"):
            for source in sorted(set(live) - {s.source for s in specs}):
                store.remove_source(source)
                self._changes[source] = None
                summary.removed += 1
                changed = True
        with summary.phase("publish"):
            if changed or interrupted or self._changes:  # a killed refresh's commits are published by the next one
                self._publish(store, summary, None if interrupted else self._changes)
            else:
                generation, key = store.generation_key()  # e.g. an index written before artefacts existed
                artefacts.open_or_build(store, artefacts.root_for(self.settings), key, generation)
        with summary.phase("finish"):
            self._complete_sentence_vectors(store, summary)
            if interrupted:
                removed = store.collect_garbage({s: r.version for s, r in store.live_sources().items()})
                if removed:
                    summary.notes.append(f"cleaned {removed} chunks left by an interrupted refresh")
            store.write_meta(
                clean=True,
                last_refresh=time.time(),
                failures=json.dumps(summary.failed, ensure_ascii=False),
                # where the last refresh's time went, for whoever runs it (benchmarks.scale reads it)
                last_refresh_phases=json.dumps({k: {m: round(x, 3) for m, x in v.items()} for k, v in summary.phases.items()}),
            )
        log.info("refresh phases: %s", summary.phase_text())
        if self.progress:
            self.progress(len(specs), len(specs), "")
        summary.seconds = time.perf_counter() - t0
        return summary

    def _open_store(self, summary: Summary) -> tuple[Store, _Live, bool]:
        """The store, emptied when its vectors are of another (or an unknown) model, marked as being
        refreshed; returns it, its live sources and whether the previous refresh was interrupted."""
        store = Store.open(self.settings)
        if not store.meta().get("embed_id") and store.count_chunks():
            # vectors of an unknown model (a rebuild killed between its two steps): never reuse them
            store.reset()
        try:
            store.check_model(self.embedder.id, self.embedder.dim)
        except ModelMismatch:
            built = store.meta().get("embed_id")
            summary.notes.append(
                f"The index was built with {built}; the configured model is {self.embedder.id}. "
                "Vectors of different models must not mix: rebuilding the whole index."
            )
            store.reset()
        meta = store.meta()
        # Leftovers of an interrupted refresh are collected at the end, not now: until then their vectors
        # can be reused (vectors_for) instead of embedded again.
        interrupted = not meta.get("clean", True)
        self._start_key = store.generation_key()[1]
        # A clean store's catalogue is its generation's (only a refresh commits, and it publishes a new
        # generation before it marks the store clean): read from the published folder, not paged out of
        # Chroma (1–1.5 s at 10k sources).
        self._base = None if interrupted else artefacts.published(
            artefacts.root_for(self.settings), self._start_key, meta.get("embed_id"))
        live = _Live(self._base.hold_catalogue() if self._base is not None else store.live_catalogue())
        store.write_meta(embed_id=self.embedder.id, dim=self.embedder.dim, clean=False)
        self.store = store
        return store, live, interrupted

    def _refresh_sources(
        self, specs: list[_Spec], live: _Live, summary: Summary, show_bar: bool
    ) -> bool:
        """Loads, chunks and embeds each changed source, committing in embedding-batch-sized groups;
        returns whether anything was written."""
        bar = None
        if show_bar:
            from tqdm import tqdm

            bar = tqdm(total=len(specs), unit="source", file=sys.stderr, disable=len(specs) < 20)
        pending: list[_Pending] = []
        changed = False
        for i, spec in enumerate(specs):
            self._current = (i, len(specs), spec.source)
            self._report()
            with summary.phase("load"):
                outcome = self._prepare_or_fail(spec, live, summary)
            if isinstance(outcome, _Pending):
                pending.append(outcome)
                if sum(len(p.embed_texts) - len(p.vectors) for p in pending) >= self.settings.embed_batch:
                    self._flush(pending, summary)
                    changed = True
                    pending = []
            elif outcome == "unchanged":
                summary.unchanged += 1
            if bar:
                bar.update(1)
        if pending:
            self._flush(pending, summary)
            changed = True
        if bar:
            bar.close()
        return changed

    def _prepare_or_fail(self, spec: _Spec, live: _Live, summary: Summary) -> _Pending | str | None:
        """``_prepare``, with a source that fails recorded in the summary (None) instead of raised."""
        try:
            return self._prepare(spec, live)
        except LoadError as exc:
            summary.failed.append({"source": spec.source, "reason": exc.reason})
        except Exception as exc:  # noqa: BLE001 - one bad source must not stop the refresh
            log.exception("refresh failed on %s", spec.source)
            summary.failed.append({"source": spec.source, "reason": f"{type(exc).__name__}: {exc}"})
        return None

    def _complete_sentence_vectors(self, store: Store, summary: Summary) -> None:
        """An index built before sentence vectors (or with another sentence scheme): fill them in once; with
        sentence vectors switched off, drop them (the answerer then uses the weights fitted without them)."""
        scheme = store.meta().get("sentence_scheme")
        if not self.settings.sentence_vectors:
            if scheme:
                store.clear_sentence_vectors()
                store.write_meta(sentence_scheme="")
            return
        if scheme == SENTENCE_SCHEME:
            return
        texts = [text for _, text, _ in store.live_chunks({s: r.version for s, r in store.live_sources().items()})]
        summary.sentences_embedded += embed_missing_sentences(store, self.embedder, texts)
        store.write_meta(sentence_scheme=SENTENCE_SCHEME)

    def _publish(self, store: Store, summary: Summary, changes: dict[str, SourceRecord | None] | None) -> None:
        """The new generation's artefacts first, then the generation bump that makes processes open them:
        no process ever sees a generation without its BM25 index and rows. ``changes`` (what this refresh
        committed and removed) patch the current generation's catalogue instead of reading it back."""
        generation = store.generation() + 1
        key = new_key(generation)
        root = artefacts.root_for(self.settings)
        try:
            previous_key = store.generation_key()[1]
            if self._base is not None and self._base.key == previous_key:
                previous: artefacts.Artefacts | None = self._base
            else:
                previous = artefacts.Artefacts(root / previous_key) if (root / previous_key / "meta.json").exists() else None
            if previous is None or previous_key != self._start_key:
                # changes are relative to the generation this refresh started from (another host's refresh
                # may have published since: then the catalogue is read back whole)
                previous, changes = previous or artefacts.newest(root), None
            artefacts.build(store, root, key, generation, previous, changes=changes)
        except Exception as exc:  # noqa: BLE001 - the data is committed: processes build what is missing
            log.exception("writing the artefacts of generation %s failed", generation)
            summary.notes.append(f"the search index files could not be written ({exc}); each process builds them")
        store.bump_generation(key)

    def _report(self, force: bool = False) -> None:
        """The source being looked at, to ``progress``: every source that is loaded, the unchanged ones at
        most every PROGRESS_EVERY_S (10k unchanged sources were 10k events through the service's queue,
        ~0.2 s of CPU and a busy consumer thread in a server, and as many UI updates)."""
        i, total, source = self._current
        if self.progress is None or i == self._reported[0]:
            return
        now = time.monotonic()
        if force or now - self._reported[1] >= PROGRESS_EVERY_S:
            self._reported = (i, now)
            self.progress(i, total, source)

    @property
    def _limits(self) -> dict[str, Any]:
        """Parsing runs in a worker process with these hard limits (loaders.parse_file)."""
        return {"timeout_s": self.settings.parse_timeout_s, "memory_mb": self.settings.parse_memory_mb}

    def _load(self, spec: _Spec, old: SourceRecord | None, file_hash: str | None = None
              ) -> tuple[Loaded | None, str, dict[str, Any]]:
        """Returns (loaded or None when the URL was not modified, raw hash, HTTP validators); ``file_hash``:
        a file's raw hash when already computed."""
        if spec.path is not None:
            raw_hash = file_hash or self._file_hash(spec)
            if old and old.raw_hash == raw_hash:
                return None, raw_hash, {}
            return parse_file(spec.path, **self._limits), raw_hash, {}
        fetched = fetch_url(
            spec.source,
            etag=old.etag if old else None,
            last_modified=old.last_modified if old else None,
            parse=functools.partial(parse_bytes, **self._limits),
        )
        validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
        if fetched.not_modified or fetched.loaded is None:
            return None, old.raw_hash if old else "", validators
        raw_hash = _hash(fetched.loaded.text, _meta_json(spec.meta), self.config_hash)
        if old and old.raw_hash == raw_hash:
            return None, raw_hash, validators
        return fetched.loaded, raw_hash, validators

    def _commit_record(self, record: SourceRecord, original: str) -> None:
        """A catalogue record rewritten without new chunks (new raw hash or HTTP validators)."""
        self.store.commit_source(record, original)
        self._changes[record.source] = record

    def _file_hash(self, spec: _Spec) -> str:
        assert spec.path is not None
        return _hash(_file_sha256(spec.path), _meta_json(spec.meta), self.config_hash)

    def _prepare(self, spec: _Spec, live: _Live) -> _Pending | str:
        file_hash = self._file_hash(spec) if spec.path is not None else None
        if file_hash is not None and file_hash == live.raw_hash(spec.source):
            return "unchanged"  # the common case, decided without making the source's record
        self._report(force=True)  # loading it may take a while: show which one
        old = live.get(spec.source)
        loaded, raw_hash, validators = self._load(spec, old, file_hash)
        if loaded is None:
            fresh = (validators.get("etag"), validators.get("last_modified"))
            if old and validators and fresh != (old.etag, old.last_modified):
                # same content under new HTTP validators: keep them, or every refresh downloads it again
                old.etag, old.last_modified = fresh
                original = self.store.source_text(old.source)
                if original is not None:
                    self._commit_record(old, original)
            return "unchanged"
        norm = normalise(loaded.text)
        if not norm.text.strip():
            raise LoadError("no text")
        meta = spec.meta
        version = _hash(norm.text, _meta_json(meta), self.config_hash)
        if old and old.version == version:
            # Same text under new bytes (e.g. re-saved): record the new raw hash, embed nothing.
            old.raw_hash = raw_hash
            old.etag, old.last_modified = validators.get("etag"), validators.get("last_modified")
            self._commit_record(old, self.store.source_text(old.source) or loaded.text)
            return "unchanged"

        title = (meta.title if meta and meta.title else None) or loaded.title or _title_from(spec.source)
        chunks = chunk(
            norm, source=spec.source, version=version, pages=loaded.pages, max_chars=self.settings.chunk_chars
        )
        contacts = chunk_contacts(chunks)
        record = SourceRecord(
            source=spec.source,
            version=version,
            raw_hash=raw_hash,
            title=title,
            kind=loaded.kind,
            chunks=len(chunks),
            refreshed_at=round(time.time(), 3),  # Chroma hands a float's 17th digit back changed
            publisher=meta.publisher if meta else None,
            language=meta.language if meta else None,
            date=meta.date if meta else None,
            url=(meta.url if meta and meta.url else None),
            etag=validators.get("etag"),
            last_modified=validators.get("last_modified"),
            contacts=contacts,
        )
        texts = [embed_text(title, c.text) for c in chunks]
        vectors: dict[str, np.ndarray] = {}  # looked up for the whole batch in _flush
        return _Pending(
            record=record,
            original=loaded.text,
            chunks=chunks,
            embed_texts=texts,
            terms=[" ".join(finnish.terms(t)) for t in texts],
            vectors=vectors,
            is_new=old is None,
        )

    def _flush(self, pending: list[_Pending], summary: Summary) -> None:
        self._check_space(pending)
        with summary.phase("lookup"):
            # vectors already stored for the same text (an edit's unchanged chunks, a rename, a killed refresh)
            known = self.store.vectors_for([text_hash(t) for p in pending for t in p.embed_texts])
        missing = sorted({t for p in pending for t in p.embed_texts if text_hash(t) not in known})
        if missing:
            with summary.phase("embed"):
                fresh = self.embedder.embed_passages(missing)
            summary.chunks_embedded += len(missing)
            known.update({text_hash(t): v for t, v in zip(missing, fresh, strict=True)})
        for p in pending:
            p.vectors = known
        # before the commit: a source goes live only with the vectors of its sentences
        if self.settings.sentence_vectors:
            texts = [c.text for p in pending for c in p.chunks]
            with summary.phase("sentences"):
                summary.sentences_embedded += embed_missing_sentences(self.store, self.embedder, texts)
        with summary.phase("write"):
            self._commit(pending)
        for p in pending:
            if p.is_new:
                summary.added += 1
            else:
                summary.updated += 1

    def _commit(self, pending: list[_Pending]) -> None:
        """One chunk write and one catalogue upsert per batch of sources (two Chroma writes per *source*
        held ingestion at ~66% of the bare model's speed); each source still goes live only with its record,
        after all its chunks are stored."""
        ids, vecs, docs, metas = [], [], [], []
        for p in pending:
            rec = p.record
            for c, etext, terms in zip(p.chunks, p.embed_texts, p.terms, strict=True):
                ids.append(c.id)
                vecs.append(p.vectors[text_hash(etext)])
                docs.append(c.text)
                metas.append(chunk_metadata(rec, c, etext, terms))
        if ids:
            self.store.add_chunks(ids, np.vstack(vecs), docs, metas)
        self.store.commit_sources([(p.record, p.original) for p in pending])  # live from here
        self._changes.update((p.record.source, p.record) for p in pending)
        for p in pending:
            if not p.is_new:  # a new source has no older chunks; leftovers of a kill go via the clean flag
                self.store.delete_stale_chunks(p.record.source, p.record.version)


def _is_write_failure(exc: BaseException) -> bool:
    """A failure of the store itself (Chroma, SQLite, the disk) rather than a bug."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("chromadb", "sqlite3", "httpx", "httpcore")) or "disk" in str(exc).lower()


def _file_sha256(path: Path) -> str:
    """The file's SHA-256, read in blocks: a huge file costs no memory and is refused before it is read."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise LoadError(f"file too large ({size / 1e6:.0f} MB > {MAX_FILE_BYTES / 1e6:.0f} MB limit)")
            h = hashlib.sha256()  # not hashlib.file_digest: it zero-fills a 256 kB buffer per file
            while block := fh.read(1 << 20):
                h.update(block)
            return h.hexdigest()
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc


def _title_from(source: str) -> str:
    name = source.rstrip("/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or source


def refresh(settings: Settings, *, progress: Progress | None = None, show_bar: bool = False) -> Summary:
    return Refresher(settings, progress=progress).run(show_bar=show_bar)
