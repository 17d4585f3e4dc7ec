"""Per-generation artefacts: what every answering process needs besides Chroma, built once per generation.

Before this, each process read every chunk back from Chroma and indexed it for BM25 at start and after
every refresh (29 s and 1.6 GB a process at 100k chunks). Now the refresh that changes the store writes,
next to it, one folder per generation (``<artefacts>/<collection>/<key>/``):

* ``bm25/`` — the BM25 index (bm25s ``save``), opened memory-mapped: its pages are shared by every
  process on the host;
* ``rows.jsonl`` + ``rows.offsets.npy`` — one JSON record per live chunk (text + the metadata a passage
  needs), read by position through ``mmap`` (nothing is parsed until a lexical hit asks for it);
* ``ids.json`` — chunk ids per row;
* ``tokens.npy`` + ``tokens.offsets.npy`` — each row's stored Voikko terms as ids into ``bm25/``'s
  vocabulary: the next incremental build re-indexes BM25 from them without splitting or lemmatising;
* ``sources.json`` — the catalogue of that generation (versions, titles, contacts);
* ``surface.json``, ``lemmas.json`` — word counts for typo correction and compound heads;
* ``sentences.keys.npy`` + ``sentences.npy`` + ``sentences.counts.npy`` — the stored vector (float32, as
  Chroma hands it back) of every distinct sentence of the live chunks, rows sorted by sentence key, and how
  many live chunks hold each sentence: the answerer reads them memory-mapped instead of asking Chroma,
  whose ``get(include=["embeddings"])`` loads the sentences' whole HNSW segment into each process (+168 MB
  at 100k chunks);
* ``meta.json`` — key, generation, the embedding model of the index, row spans per source, versions, how
  the folder was built.

A folder appears whole or not at all (written under a temp name, then renamed). A process that finds none
for the store's current key builds it under a file lock, and the processes that lose the race wait and
open it. A build starts from the newest earlier folder when one exists: rows of unchanged sources are
copied as bytes, only the changed sources are read from Chroma, word counts are patched; BM25 itself is
re-indexed from the token ids (its IDF changes with every document, so it cannot be patched in place),
vectorised (``LexicalIndex.build_from_ids``: ~0.5 s at 100k chunks where bm25s's own loop took 5.9 s) and
bit-identical to a full build of the same store. Sentence vectors of unchanged keys are copied from the
earlier matrix, only new keys are read from Chroma (by id); the counts drop the gone sources' sentences. A
folder of an index built with another embedding model is never a base: a model switch rebuilds everything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from assistant.knowledge.lexical import EMPTY, K1, B, LexicalIndex, compact
from assistant.knowledge.sentence_vectors import SCHEME, chunk_sentences, sentence_key
from assistant.knowledge.store import SourceRecord, Store
from assistant.text import finnish

log = logging.getLogger("assistant.knowledge.artefacts")

# bump when the folder's layout changes (a3: rows keep ``continues``; a4: sentence vectors): older folders are then
# never opened (nor the BM25 weights of other k1/b)
FORMAT = f"a4-bm25-{K1}-{B}"
KEEP = 3  # generations kept on disk (a process may still be answering from the previous one)
BUILD_LOG = "builds.log"  # one JSON line per build: the evidence that a process opened instead of building
ROW_KEYS = ("source", "title", "start", "end", "page", "url", "terms", "index", "version", "continues")
INCREMENTAL_SHARE = 0.3  # more changed sources than this share: one full read of the store is cheaper


def root_for(settings: Any) -> Path:
    base = settings.artefacts if getattr(settings, "artefacts", None) else settings.index / "artefacts"
    return Path(base) / settings.collection


def surface_counts(texts: Iterable[str]) -> Counter[str]:
    """Surface words (lower case) and their hyphen parts ("ELMO-pilotti" → "pilotti"), by occurrences."""
    counts: Counter[str] = Counter()
    for text in texts:
        for w, _, _ in finnish.words(text):
            low = w.lower()
            counts.update(p for p in {low, *low.split("-")} if p and not p.isdigit())
    return counts


def lemma_counts(texts: Iterable[str]) -> Counter[str]:
    """Whole-word lemmas (compound parts excluded), by the number of chunks using them."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(finnish.word_lemmas(text))
    return counts


def sentence_counts(texts: Iterable[str]) -> Counter[str]:
    """Sentence keys of these chunk texts, by occurrences (a sentence shared by chunks is stored once)."""
    return Counter(sentence_key(x) for text in texts for x in chunk_sentences(text))


KEY_DTYPE = "S24"  # sentence keys: 24 hex digits, sorted for np.searchsorted


class SentenceMatrix:
    """A generation's sentence vectors, memory-mapped: sorted keys, one float32 row each (NaN: the store
    had no vector for it when the folder was built), and how many live chunk sentences use each key."""

    def __init__(self, path: Path):
        self.path = path / "sentences.npy"
        vectors = np.load(self.path, mmap_mode="r")
        self.header = int(vectors.offset)  # bytes before row 0 in the file (rows are copied file to file)
        # plain ndarray views of the maps (same pages): np.memmap's bookkeeping on every slice and fancy
        # index cost ~0.5 ms of CPU an answer (py-spy under 16 clients)
        self.vectors = vectors.view(np.ndarray)
        self.keys = np.load(path / "sentences.keys.npy", mmap_mode="r").view(np.ndarray)
        self.counts = np.load(path / "sentences.counts.npy", mmap_mode="r").view(np.ndarray)

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key (sorted ``KEY_DTYPE`` array or not), -1 where absent."""
        if not len(self.keys) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.searchsorted(self.keys, keys).clip(0, len(self.keys) - 1)
        return np.where(self.keys[at] == keys, at, -1)

    def get(self, keys: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        """The stored vectors of these keys, and the keys this matrix does not know (keys it knows as
        vectorless are in neither)."""
        rows = self.rows(np.asarray(keys, dtype=KEY_DTYPE))
        found = rows >= 0
        known = [k for k, f in zip(keys, found.tolist(), strict=True) if f]
        unknown = [k for k, f in zip(keys, found.tolist(), strict=True) if not f]
        if not self.vectors.shape[1]:
            return {}, unknown
        vectors = self.vectors[rows[found]]  # fancy indexing: a copy, the map's pages stay shared
        return {k: v for k, v in zip(known, vectors, strict=True) if not np.isnan(v[0])}, unknown


def _write_sentences(folder: Path, store: Store, keys: np.ndarray, counts: np.ndarray,
                     previous: SentenceMatrix | None, previous_complete: bool = False) -> dict[str, int]:
    """The matrix of ``keys`` (sorted): rows known to ``previous`` copied file to file by the kernel (one
    copy per run of rows: no pass through memory, nothing dirtied through a map), the others read from the
    store by id."""
    rows = np.full(len(keys), -1, dtype=np.int64)
    dim = 0
    if previous is not None and len(previous) and previous.vectors.shape[1]:
        rows, dim = previous.rows(keys), previous.vectors.shape[1]
    copied = rows >= 0
    if copied.any() and not previous_complete:  # vectorless then: asked again
        copied[copied] = ~np.isnan(previous.vectors[rows[copied], 0])  # type: ignore[union-attr]
    wanted = [k.decode() for k in keys[~copied].tolist()]
    # the store's scheme is written after a refresh's first build: what it holds is what counts here
    fresh = store.sentence_vectors(wanted) if wanted and store.sentences.count() else {}
    dim = dim or (len(next(iter(fresh.values()))) if fresh else 0)
    path = folder / "sentences.npy"
    if not dim or not len(keys):
        np.save(path, np.zeros((len(keys), dim), dtype=np.float32))
    else:
        # the header, and a file of the full size (sparse until written)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(keys), dim))
        header = int(out.offset)
        del out
        fd = os.open(path, os.O_WRONLY)
        try:
            if copied.any():
                _copy_rows(previous, fd, header, np.flatnonzero(copied), rows[copied])  # type: ignore[arg-type]
            block = np.full((len(wanted), dim), np.nan, dtype=np.float32)
            for j, key in enumerate(wanted):
                if key in fresh:
                    block[j] = fresh[key]
            at = np.flatnonzero(~copied)
            for x, y in _runs(at):
                os.pwrite(fd, block[x:y].tobytes(), header + int(at[x]) * dim * 4)
        finally:
            os.close(fd)
    np.save(folder / "sentences.keys.npy", keys)
    np.save(folder / "sentences.counts.npy", counts.astype(np.int32))
    return {"sentences": len(keys), "copied": int(copied.sum()), "read": len(wanted), "found": len(fresh)}


def _copy_rows(previous: SentenceMatrix, fd: int, header: int, at: np.ndarray, rows: np.ndarray) -> None:
    """Rows ``rows`` of ``previous``'s matrix to rows ``at`` of the new file, one kernel copy per run of
    rows that follow each other in both (a refresh of a few sources: a few runs for 80k rows)."""
    width = previous.vectors.shape[1] * 4
    src_header = previous.header
    with previous.path.open("rb") as src:
        for x, y in _runs(at, rows):
            _copy_bytes(src.fileno(), fd, src_header + int(rows[x]) * width, header + int(at[x]) * width,
                        (y - x) * width)


def _runs(*positions: np.ndarray) -> list[tuple[int, int]]:
    """[x, y) spans of the indexes where every array goes up by one at each step."""
    n = len(positions[0])
    if not n:
        return []
    step = np.zeros(n - 1, dtype=bool)
    for p in positions:
        step |= np.diff(p) != 1
    breaks = (np.flatnonzero(step) + 1).tolist()
    return list(zip([0, *breaks], [*breaks, n], strict=True))


def _as_arrays(counts: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.asarray(sorted(counts), dtype=KEY_DTYPE)
    return keys, np.asarray([counts[k.decode()] for k in keys.tolist()], dtype=np.int64)


def _patched_sentences(base: SentenceMatrix, minus: Counter[str], plus: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
    """``base``'s keys and counts with the gone chunks' sentences taken out and the new ones added."""
    delta = Counter(plus)
    delta.subtract(minus)
    d_keys, d_counts = _as_arrays(Counter({k: v for k, v in delta.items() if v}))
    keys = np.union1d(np.asarray(base.keys), d_keys).astype(KEY_DTYPE)
    counts = np.zeros(len(keys), dtype=np.int64)
    counts[np.searchsorted(keys, base.keys)] += np.asarray(base.counts, dtype=np.int64)
    counts[np.searchsorted(keys, d_keys)] += d_counts
    live = counts > 0
    return keys[live], counts[live]


def _patched(base: dict[str, int], minus: Counter[str], plus: Counter[str]) -> dict[str, int]:
    out = Counter(base)
    out.subtract(minus)
    out.update(plus)
    return {k: v for k, v in out.items() if v > 0}


class Artefacts:
    """One generation's folder, opened: rows are read on demand, BM25 is memory-mapped."""

    def __init__(self, path: Path):
        self.path = path
        self.meta: dict[str, Any] = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        self.key: str = self.meta["key"]
        self.generation = int(self.meta["generation"])
        self.versions: dict[str, str] = self.meta["versions"]
        self.spans: dict[str, list[int]] = self.meta["spans"]
        self.ids: list[str] = json.loads((path / "ids.json").read_text(encoding="utf-8"))
        self._offsets = np.load(path / "rows.offsets.npy", mmap_mode="r").view(np.ndarray)
        self._rows = _map(path / "rows.jsonl")
        self._sentences: SentenceMatrix | None = None
        self._held: dict[str, dict[str, Any]] | None = None  # the catalogue, once hold_catalogue() was called
        self._stamp = _stamp(path)

    def __len__(self) -> int:
        return len(self.ids)

    def row_bytes(self, start: int, end: int) -> bytes:
        return bytes(self._rows[int(self._offsets[start]) : int(self._offsets[end])]) if end > start else b""

    def row(self, i: int) -> dict[str, Any]:
        """``{"id", "text", "meta"}`` of row ``i``."""
        return dict(json.loads(self.row_bytes(i, i + 1)))

    def sentence_matrix(self) -> SentenceMatrix | None:
        """The sentence vectors (None: keyed by another sentence scheme)."""
        if self.meta.get("sentence_key_scheme") != SCHEME:
            return None
        if self._sentences is None:
            self._sentences = SentenceMatrix(self.path)
        return self._sentences

    def lexical(self) -> LexicalIndex:
        return LexicalIndex.load(self.path / "bm25")

    def raw_sources(self) -> dict[str, dict[str, Any]]:
        if self._held is not None:
            return dict(self._held)
        return dict(json.loads((self.path / "sources.json").read_text(encoding="utf-8")))

    def hold_catalogue(self) -> dict[str, dict[str, Any]]:
        """The catalogue, parsed once and kept for later ``raw_sources`` calls (a refresh reads it at its start
        and patches it for the next generation; an answering process does not keep it twice)."""
        if self._held is None:
            self._held = self.raw_sources()
        return self._held

    def sources(self) -> dict[str, SourceRecord]:
        return {s: SourceRecord.from_metadata(s, m) for s, m in self.raw_sources().items()}

    def counts(self, name: str) -> dict[str, int]:
        """``surface`` or ``lemmas`` word counts."""
        return dict(json.loads((self.path / f"{name}.json").read_text(encoding="utf-8")))

    def tokens(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Every row's terms as ids (flat, memory-mapped), the rows' offsets into them, and the vocabulary."""
        flat = np.load(self.path / "tokens.npy", mmap_mode="r")
        offsets = np.load(self.path / "tokens.offsets.npy", mmap_mode="r")
        vocab_file = self.path / "bm25" / "vocab.index.json"
        vocab_ids = json.loads(vocab_file.read_text(encoding="utf-8")) if vocab_file.exists() else {}
        names = [""] * len(vocab_ids)
        for term, i in vocab_ids.items():
            names[i] = term
        return flat, offsets, names


def _copy_bytes(src: int, dst: int, src_at: int, dst_at: int, size: int) -> None:
    """``size`` bytes of file ``src`` from ``src_at`` to file ``dst`` at ``dst_at``: copied by the kernel
    (``copy_file_range``; no pass through this process's memory, extents shared where the file system can)
    when it can, else read and written."""
    while size > 0:
        try:
            done = os.copy_file_range(src, dst, size, src_at, dst_at)
        except (AttributeError, OSError):  # not Linux, or not between these two files
            done = os.pwrite(dst, os.pread(src, min(size, 1 << 24), src_at), dst_at)
        if done <= 0:
            raise OSError(f"the source file ended {size} bytes early")
        src_at, dst_at, size = src_at + done, dst_at + done, size - done


def _map(path: Path) -> mmap.mmap | bytes:
    with path.open("rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return b""  # mmap refuses an empty file
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


class _Writer:
    """Rows in the order the snapshot indexes them: by source, then by the chunk's place in it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._rows = (folder / "rows.jsonl").open("wb")
        self._offsets: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self._end = 0  # bytes written to rows.jsonl
        self.ids: list[str] = []
        self.spans: dict[str, list[int]] = {}
        # term ids: the base folder's vocabulary (so its token ids are copied as they are) + new terms
        self.vocab: list[str] = []
        self._vocab_ids: dict[str, int] = {}
        self._tokens: list[np.ndarray] = []
        self._token_lengths: list[np.ndarray] = []
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    def start_from(self, prev: Artefacts) -> None:
        flat, offsets, self.vocab = prev.tokens()
        self._vocab_ids = {t: i for i, t in enumerate(self.vocab)}
        self._prev = (flat, offsets)

    def copy(self, sources: list[str], prev: Artefacts) -> None:
        """Sources unchanged since ``prev`` whose rows follow each other there: their rows as bytes and
        their token ids as they are, in one piece, nothing parsed."""
        assert self._prev is not None, "start_from(prev) first"
        a, b = prev.spans[sources[0]][0], prev.spans[sources[-1]][1]
        shift = len(self.ids) - a
        start = int(prev._offsets[a])
        base = self._end - start
        size = int(prev._offsets[b]) - start
        self._rows.flush()
        with (prev.path / "rows.jsonl").open("rb") as src:
            _copy_bytes(src.fileno(), self._rows.fileno(), start, self._end, size)
        self._end += size
        self._rows.seek(self._end)
        self._offsets.append(np.asarray(prev._offsets[a + 1 : b + 1], dtype=np.int64) + base)
        self.ids += prev.ids[a:b]
        flat, offsets = self._prev
        self._tokens.append(np.asarray(flat[offsets[a] : offsets[b]], dtype=np.int32))  # a view of the map
        self._token_lengths.append(np.diff(offsets[a : b + 1]).astype(np.int64))
        for source in sources:
            x, y = prev.spans[source]
            self.spans[source] = [x + shift, y + shift]

    def _token_ids(self, terms: str) -> list[int]:
        ids = self._vocab_ids
        out = []
        for term in terms.split() or [EMPTY]:
            i = ids.get(term)
            if i is None:
                i = ids[term] = len(self.vocab)
                self.vocab.append(term)
            out.append(i)
        return out

    def add(self, source: str, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        start = len(self.ids)
        for cid, text, meta in sorted(rows, key=lambda r: int(r[2].get("index", 0))):
            record = {"id": cid, "text": text, "meta": {k: meta[k] for k in ROW_KEYS if k in meta}}
            data = json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
            self._rows.write(data)
            self._end += len(data)
            self._offsets.append(np.asarray([self._end], dtype=np.int64))
            self.ids.append(cid)
            token_ids = self._token_ids(str(meta.get("terms") or ""))
            self._tokens.append(np.asarray(token_ids, dtype=np.int32))
            self._token_lengths.append(np.asarray([len(token_ids)], dtype=np.int64))
        self.spans[source] = [start, len(self.ids)]

    def close_rows(self) -> None:
        self._rows.close()

    def close(self) -> LexicalIndex:
        self.close_rows()
        np.save(self.folder / "rows.offsets.npy", np.concatenate(self._offsets))
        _dump(self.folder / "ids.json", self.ids)
        flat, vocab = compact(np.concatenate([np.zeros(0, np.int32), *self._tokens]), self.vocab)
        offsets = np.zeros(len(self.ids) + 1, dtype=np.int64)
        np.cumsum(np.concatenate([np.zeros(0, np.int64), *self._token_lengths]), out=offsets[1:])
        np.save(self.folder / "tokens.npy", np.asarray(flat, dtype=np.int32))
        np.save(self.folder / "tokens.offsets.npy", offsets)
        lexical = LexicalIndex.build_from_ids(flat, offsets, vocab)
        lexical.save(self.folder / "bm25")
        return lexical


def _write_rows(writer: _Writer, sources: list[str], fresh: dict[str, list[tuple[str, str, dict[str, Any]]]],
                base: Artefacts | None, changed: set[str]) -> None:
    """Every source's rows in order: from ``fresh`` (read from the store), or copied from ``base`` in runs
    of unchanged sources whose rows follow each other there."""
    run: list[str] = []
    for source in sources:
        if base is not None and source not in changed and source in base.spans:
            if run and base.spans[run[-1]][1] != base.spans[source][0]:
                writer.copy(run, base)
                run = []
            run.append(source)
            continue
        if run and base is not None:
            writer.copy(run, base)
            run = []
        writer.add(source, fresh.get(source, []))
    if run and base is not None:
        writer.copy(run, base)


def _sentences(folder: Path, store: Store, previous: Artefacts | None, incremental: bool,
               old_texts: list[str], new_texts: list[str]) -> dict[str, int]:
    """The sentence-vector files: every live sentence's key, count and vector. Counts are patched when
    ``previous`` has them; vectors of keys ``previous`` holds are copied (any build: a key names one
    sentence of one scheme), the others read from the store by id."""
    base = previous.sentence_matrix() if previous is not None else None
    if incremental and base is not None:
        keys, counts = _patched_sentences(base, sentence_counts(old_texts), sentence_counts(new_texts))
    elif incremental:  # the previous folder had no usable sentences: every row's text, from this folder
        with (folder / "rows.jsonl").open("rb") as fh:
            keys, counts = _as_arrays(sentence_counts(json.loads(line)["text"] for line in fh))
    else:
        keys, counts = _as_arrays(sentence_counts(new_texts))
    # a folder every row of which has a vector (most): its rows need no check (a read of the whole file)
    written = previous.meta.get("sentence_vectors", {}) if previous is not None else {}
    complete = bool(written) and written.get("sentences") == written.get("copied", 0) + written.get("found", 0)
    return _write_sentences(folder, store, keys, counts, base, complete)


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


@contextlib.contextmanager
def _small_pages() -> Iterator[None]:
    """numpy advises the kernel to back every array of 4 MB and more with transparent huge pages; a build's
    short-lived arrays (hundreds of MB at 100k chunks) then spent most of their time in the kernel faulting
    and compacting huge pages (the BM25 build at 100k: 0.8 s of system time, 0.16 s without). numpy has
    only its import-time variable (NUMPY_MADVISE_HUGEPAGE) and this private switch for it."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # another numpy layout: build as before
        yield
        return
    before = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(before)


def build(store: Store, root: Path, key: str, generation: int, previous: Artefacts | None = None,
          reason: str = "refresh", changes: dict[str, SourceRecord | None] | None = None) -> Artefacts:
    """Writes the folder for ``key`` from the store's live catalogue and chunks, starting from
    ``previous`` (any earlier folder) when few sources changed since it. ``changes`` — every source
    committed (its record) or removed (None) since ``previous`` was built, as the refresh that made them
    knows — spares reading the whole catalogue back from the store (1–1.5 s at 10k sources)."""
    with _small_pages():
        return _build(store, root, key, generation, previous, reason, changes)


def _build(store: Store, root: Path, key: str, generation: int, previous: Artefacts | None,
           reason: str, changes: dict[str, SourceRecord | None] | None) -> Artefacts:
    t0 = time.perf_counter()
    store_meta = store.meta()
    embed_id = store_meta.get("embed_id")
    scheme = str(store_meta.get("sentence_scheme") or "")
    if previous is not None and (previous.meta.get("embed_id") != embed_id or previous.meta.get("format") != FORMAT):
        previous = None  # written before a model switch (or before folders named their model), or another layout
    catalogue = _catalogue(store, previous, changes)
    versions = {s: str(m["version"]) for s, m in catalogue.items()}
    before = previous.versions if previous else {}
    changed = {s: v for s, v in versions.items() if before.get(s) != v}
    incremental = previous is not None and len(changed) <= INCREMENTAL_SHARE * max(len(versions), 1)
    fresh = store.chunks_of(changed) if incremental else store.live_chunks(versions)
    by_source: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for row in fresh:
        by_source.setdefault(row[2]["source"], []).append(row)
    t_read = time.perf_counter()

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    writer = _Writer(tmp)
    try:
        if incremental and previous:
            writer.start_from(previous)
        _write_rows(writer, sorted(versions), by_source, previous if incremental else None, set(changed))
    finally:
        writer.close_rows()  # also when a source fails: the rest of the folder is then never written
    t_rows = time.perf_counter()
    writer.close()
    t_index = time.perf_counter()

    new_texts = [text for _, text, _ in fresh]
    old_texts: list[str] = []
    if incremental and previous:
        gone = [s for s, v in before.items() if versions.get(s) != v]
        old_texts = [previous.row(i)["text"] for s in gone for i in range(*previous.spans[s])]
        surface = _patched(previous.counts("surface"), surface_counts(old_texts), surface_counts(new_texts))
        lemmas = _patched(previous.counts("lemmas"), lemma_counts(old_texts), lemma_counts(new_texts))
    else:
        surface, lemmas = dict(surface_counts(new_texts)), dict(lemma_counts(new_texts))
    _dump(tmp / "surface.json", surface)
    _dump(tmp / "lemmas.json", lemmas)
    _dump(tmp / "sources.json", catalogue)
    t_counts = time.perf_counter()
    sentences = _sentences(tmp, store, previous, incremental, old_texts, new_texts)
    done = time.perf_counter()
    meta = {
        "format": FORMAT,
        "key": key,
        "generation": generation,
        "embed_id": embed_id,
        "rows": len(writer.ids),
        "versions": versions,
        "spans": writer.spans,
        "built_at": time.time(),
        "built_by": os.getpid(),
        "reason": reason,
        "incremental": incremental,
        "changed_sources": len(changed),
        "sentence_scheme": scheme,  # the store's, when built
        "sentence_key_scheme": SCHEME,  # the keys
        "sentence_vectors": sentences,
        "timings_s": {
            "read": round(t_read - t0, 3),
            "rows_and_bm25": round(t_index - t_read, 3),
            "rows": round(t_rows - t_read, 3),
            "bm25": round(t_index - t_rows, 3),
            "word_counts": round(t_counts - t_index, 3),
            "sentence_vectors": round(done - t_counts, 3),
            "total": round(done - t0, 3),
        },
    }
    _dump(tmp / "meta.json", meta)
    final = root / key
    if final.exists():  # a folder of an older layout (or a broken one) under this key: replaced
        stale = root / f".tmp-stale-{key}-{uuid.uuid4().hex[:8]}"
        os.rename(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    os.rename(tmp, final)  # atomic: readers see the whole folder or none
    with (root / BUILD_LOG).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({k: meta[k] for k in ("key", "generation", "rows", "built_by", "reason",
                                                   "incremental", "timings_s")}) + "\n")
    _prune(root, keep=final)
    global _just_built
    _just_built = Artefacts(final)
    return _just_built


def _catalogue(store: Store, previous: Artefacts | None,
               changes: dict[str, SourceRecord | None] | None) -> dict[str, dict[str, Any]]:
    """The live sources' catalogue metadata, sorted by source: ``previous``'s patched with ``changes``, or
    read from the store."""
    if previous is not None and changes is not None:
        out = previous.raw_sources()
        for source, record in changes.items():
            if record is None:
                out.pop(source, None)
            else:  # as the store hands it back
                out[source] = SourceRecord.from_metadata(source, record.to_metadata()).to_metadata()
    else:
        out = {s: r.to_metadata() for s, r in store.live_sources().items()}
    return {s: out[s] for s in sorted(out)}


# The folder this process built last, opened: the refresh that built it hands it to the snapshot its process
# opens next (a second parse of its ids and row spans saved). Taken once; its files never change after the
# rename, and a folder replaced under the same key since is told apart by its meta.json's identity.
_just_built: Artefacts | None = None


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path / "meta.json")
    return st.st_ino, st.st_mtime_ns


def _take_just_built(path: Path) -> Artefacts | None:
    global _just_built
    built, _just_built = _just_built, None
    if built is None or built.path != path:
        return None
    try:
        return built if _stamp(path) == built._stamp else None
    except OSError:
        return None


def _complete(path: Path) -> bool:
    try:
        return json.loads((path / "meta.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def published(root: Path, key: str, embed_id: str | None) -> Artefacts | None:
    """The complete folder of ``key`` when it was built for an index of ``embed_id`` (else None)."""
    path = root / key
    if not _complete(path):
        return None
    try:
        found = Artefacts(path)
    except (OSError, ValueError) as exc:
        log.warning("unreadable artefacts %s: %s", path, exc)
        return None
    return found if found.meta.get("embed_id") == embed_id else None


def newest(root: Path, exclude: str | None = None) -> Artefacts | None:
    """The most recently built complete folder (the base of an incremental build)."""
    if not root.is_dir():
        return None
    found = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != exclude]
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        if _complete(path):
            try:
                return Artefacts(path)
            except (OSError, ValueError) as exc:
                log.warning("unreadable artefacts %s: %s", path, exc)
    return None


def _mtime(path: Path) -> float | None:
    """None when another process renamed or deleted ``path`` since it was listed."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _prune(root: Path, keep: Path) -> None:
    """Drops all but the newest KEEP folders (an open mmap survives its file's deletion on POSIX) and
    temp folders of builds that died more than an hour ago."""
    listed = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p != keep]
    dated = [(m, p) for p in listed if (m := _mtime(p)) is not None]
    folders = [p for _, p in sorted(dated, key=lambda mp: mp[0], reverse=True)]
    for old in folders[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
        (root / f"{old.name}.lock").unlink(missing_ok=True)
    for tmp in root.glob(".tmp-*"):
        made = _mtime(tmp)
        if made is not None and time.time() - made > 3600:
            shutil.rmtree(tmp, ignore_errors=True)


def open_or_build(store: Store, root: Path, key: str, generation: int, timeout: float = 900.0) -> Artefacts:
    """The folder for ``key``; built here (once, under a file lock) when no process has written it yet."""
    path = root / key
    if _complete(path):
        return _take_just_built(path) or Artefacts(path)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{key}.lock"), timeout=timeout):
        if _complete(path):  # another process built it while we waited
            return Artefacts(path)
        return build(store, root, key, generation, previous=newest(root, exclude=key), reason="missing")
