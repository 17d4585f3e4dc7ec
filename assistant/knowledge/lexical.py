"""BM25 (bm25s) over pre-computed term lists: built from the chunks' stored ``terms``, saved with a
generation's artefacts and opened memory-mapped by every process."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import bm25s
import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import

EMPTY = "∅"  # bm25s cannot index a document with no tokens
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


class LexicalIndex:
    """BM25 over term lists; ``df`` answers "does any chunk use this term, and how many"."""

    def __init__(self, term_lists: list[list[str]] | None = None, *, bm25: bm25s.BM25 | None = None):
        self._bm25 = bm25 or bm25s.BM25()
        if bm25 is None and term_lists:
            self._bm25.index([t or [EMPTY] for t in term_lists], show_progress=False)
        scores = self._bm25.scores if (bm25 is not None or term_lists) else {}
        self.size = int(scores.get("num_docs", 0)) if scores else 0
        self.df: Mapping[str, int] = (
            DocFreq(self._bm25.vocab_dict, scores["indptr"]) if self.size else {}
        )

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
