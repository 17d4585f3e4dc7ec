"""BM25 (bm25s) over pre-computed term lists: built from the chunks' stored ``terms``, saved with a
generation's artefacts and opened memory-mapped by every process.

``build_from_ids`` builds the same index as ``bm25s.BM25.index`` from a flat array of term ids: bm25s loops
over every document in Python (5.9 s at 100k chunks); the same arithmetic vectorised with numpy takes a
fraction of that, which is what keeps an incremental refresh's re-index short. Its vocabulary is sorted
(bm25s's follows ``set`` order, which changes between processes), so a build depends on its input only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import bm25s
import numpy as np
from bm25s import scoring

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import

EMPTY = "∅"  # bm25s cannot index a document with no tokens
# bm25s's defaults. k1 0.75 / b 0.9 (short chunks of similar length) raised squad2fi-dev hit@1 0.705 → 0.730 on both
# halves, but with b near 1 a short injected document outranked a legitimate sentence in an answer
# (tests/system/test_hostile_inputs.py), so the defaults stay (evals/README.md). A change rebuilds every artefact
# folder (knowledge/artefacts.py FORMAT).
K1 = 1.5
B = 0.75


def _bm25() -> bm25s.BM25:
    return bm25s.BM25(k1=K1, b=B)
_NOT_TERMS = {EMPTY, ""}  # bm25s's own vocabulary has an empty-string entry


class DocFreq(Mapping[str, int]):
    """Document frequency per term, read from the index's CSC column pointers instead of held as a dict:
    a column holds one entry per document containing the term (BM25 weights of present terms are > 0)."""

    def __init__(self, vocab: dict[str, int], indptr: np.ndarray):
        self._vocab = vocab
        self._indptr = indptr

    def __getitem__(self, term: str) -> int:
        if term in _NOT_TERMS:
            raise KeyError(term)
        j = self._vocab[term]
        return int(self._indptr[j + 1] - self._indptr[j])

    def __contains__(self, term: object) -> bool:
        return term in self._vocab and term not in _NOT_TERMS

    def __iter__(self) -> Iterator[str]:
        return (t for t in self._vocab if t not in _NOT_TERMS)

    def __len__(self) -> int:
        return len(self._vocab) - sum(t in self._vocab for t in _NOT_TERMS)


def compact(flat: np.ndarray, vocab: list[str]) -> tuple[np.ndarray, list[str]]:
    """Term ids into ``vocab`` → ids into the sorted list of the terms actually used, and that list."""
    used = np.flatnonzero(np.bincount(flat, minlength=len(vocab)))
    names = [vocab[i] for i in used.tolist()]
    order = sorted(range(len(names)), key=names.__getitem__)
    remap = np.zeros(len(vocab), dtype=np.int32 if len(vocab) < 2**31 else np.int64)
    remap[used[order]] = np.arange(len(order))
    return remap[flat], [names[j] for j in order]


class LexicalIndex:
    """BM25 over term lists; ``df`` answers "does any chunk use this term, and how many"."""

    def __init__(self, term_lists: list[list[str]] | None = None, *, bm25: bm25s.BM25 | None = None):
        self._bm25 = bm25 or _bm25()
        if bm25 is None and term_lists:
            self._bm25.index([t or [EMPTY] for t in term_lists], show_progress=False)
        scores = self._bm25.scores if (bm25 is not None or term_lists) else {}
        self.size = int(scores.get("num_docs", 0)) if scores else 0
        self.df: Mapping[str, int] = (
            DocFreq(self._bm25.vocab_dict, scores["indptr"]) if self.size else {}
        )

    @classmethod
    def build_from_ids(cls, flat: np.ndarray, offsets: np.ndarray, vocab: list[str]) -> LexicalIndex:
        """BM25 over documents given as term ids into ``vocab`` (as ``compact`` returns them: sorted, every
        term used): document ``d`` is ``flat[offsets[d]:offsets[d + 1]]``, at least one id each. Scores are
        bit-identical to ``bm25s.BM25(k1=K1, b=B).index`` of the same term lists."""
        bm25 = _bm25()
        n_docs = len(offsets) - 1
        if n_docs <= 0:
            return cls([])
        n_vocab = len(vocab)
        lengths = np.diff(offsets).astype(np.int64)
        # one sort, term-major: equal (term, doc) pairs become runs (their length is the term frequency) and
        # the pairs come out in the CSC order bm25s saves. In place where numpy allows: at 100k chunks
        # (5.8M terms) every fresh temporary array is ~45 MB of pages the kernel must hand out.
        key = np.multiply(flat, n_docs, dtype=np.int64)
        key += np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        key.sort()
        first = np.empty(len(key), dtype=bool)
        first[0] = True
        np.not_equal(key[1:], key[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        del first
        tf32 = np.diff(starts, append=len(key)).astype(bm25.dtype)
        pairs = key[starts]
        del key, starts
        doc = (pairs % n_docs).astype(bm25.int_dtype)
        pairs //= n_docs
        term = pairs
        df = np.bincount(term, minlength=n_vocab)
        idf_fn = scoring._select_idf_scorer(bm25.idf_method)
        idf = scoring._build_idf_array(dict(enumerate(df.tolist())), n_docs, idf_fn, bm25.dtype)
        # the same float64 operations, in the same order, as bm25s's per-document _score_tfc_lucene:
        # idf * (tf / (norm + tf)), each step into one buffer
        avg_len = lengths.mean()
        norm = bm25.k1 * ((1 - bm25.b) + bm25.b * lengths.astype(np.float64) / avg_len)
        scratch = norm[doc]
        scratch += tf32
        np.divide(tf32, scratch, out=scratch)
        np.multiply(idf[term], scratch, out=scratch)
        weights = scratch.astype(bm25.dtype)
        del scratch, term
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        bm25.scores = {
            "data": weights,
            "indices": doc,
            "indptr": indptr,
            "num_docs": n_docs,
        }
        bm25.vocab_dict = {t: k for k, t in enumerate(vocab)}
        bm25.vocab_dict.setdefault("", n_vocab)  # as bm25s's index() adds it
        bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
        bm25.nonoccurrence_array = None
        return cls(bm25=bm25)

    @property
    def vocab(self) -> dict[str, int]:
        return self._bm25.vocab_dict if self.size else {}

    def save(self, folder: Path) -> None:
        if self.size:
            self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Memory-mapped: the index's arrays live in the page cache, shared by every process on the host."""
        if not (folder / "params.index.json").exists():
            return cls([])
        return cls(bm25=bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

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
