"""The vectorised BM25 build gives bm25s's own index, weight for weight."""

from __future__ import annotations

import random

import bm25s
import numpy as np

from assistant.knowledge.lexical import EMPTY, K1, B, LexicalIndex, compact


def _corpus(seed: int, docs: int = 600) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"sana{i}" for i in range(400)] + ["hanke", "kajaani", "2024", "∅x"]
    # skewed use (some terms in most documents, most in few), repeats, one-term and empty documents
    corpus = [[rng.choice(words[: rng.randint(3, len(words))]) for _ in range(rng.randint(0, 40))] for _ in range(docs)]
    return [d or [EMPTY] for d in corpus]


def _ids(corpus: list[list[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    vocab = list(dict.fromkeys(t for d in corpus for t in d))[::-1] + ["unused"]  # any order, with a spare term
    ids = {t: i for i, t in enumerate(vocab)}
    flat = np.asarray([ids[t] for d in corpus for t in d], dtype=np.int64)
    offsets = np.zeros(len(corpus) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in corpus], out=offsets[1:])
    return flat, offsets, vocab


def _column(index: LexicalIndex, term: str) -> tuple[bytes, bytes]:
    s = index._bm25.scores
    j = index._bm25.vocab_dict[term]
    a, b = s["indptr"][j], s["indptr"][j + 1]
    return s["indices"][a:b].tobytes(), s["data"][a:b].tobytes()


def test_build_from_ids_equals_bm25s_index() -> None:
    for seed in range(3):
        corpus = _corpus(seed)
        reference = LexicalIndex(corpus)
        flat, offsets, vocab = _ids(corpus)
        flat, vocab = compact(flat, vocab)
        assert vocab == sorted({t for d in corpus for t in d})  # the unused term is gone, the rest sorted
        built = LexicalIndex.build_from_ids(flat, offsets, vocab)
        assert built.size == reference.size == len(corpus)
        assert set(built.vocab) == set(reference.vocab)
        assert dict(built.df) == dict(reference.df)
        for term in vocab:
            assert _column(built, term) == _column(reference, term), term
        for query in (["hanke"], ["sana1", "sana7", "kajaani"], ["2024", "puuttuu"]):
            assert built.scores(query).tobytes() == reference.scores(query).tobytes()
            assert built.top(query, 10) == reference.top(query, 10)


def test_build_from_ids_saves_and_loads_like_bm25s(tmp_path) -> None:
    corpus = _corpus(7, docs=50)
    flat, offsets, vocab = _ids(corpus)
    flat, vocab = compact(flat, vocab)
    built = LexicalIndex.build_from_ids(flat, offsets, vocab)
    built.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded.size == 50 and dict(loaded.df) == dict(built.df)
    np.testing.assert_array_equal(loaded.scores(["sana3", "hanke"]), LexicalIndex(corpus).scores(["sana3", "hanke"]))



def test_both_builds_use_the_chosen_bm25_parameters() -> None:
    corpus = _corpus(11, docs=80)
    flat, offsets, vocab = _ids(corpus)
    flat, vocab = compact(flat, vocab)
    built = LexicalIndex.build_from_ids(flat, offsets, vocab)
    chosen, other = bm25s.BM25(k1=K1, b=B), bm25s.BM25(k1=K1 / 2, b=B / 2)
    for bm in (chosen, other):
        bm.index(corpus, show_progress=False)
    query = ["sana2", "hanke", "sana30"]
    np.testing.assert_allclose(built.scores(query), chosen.get_scores(query), rtol=1e-6)
    np.testing.assert_allclose(LexicalIndex(corpus).scores(query), chosen.get_scores(query), rtol=1e-6)
    assert not np.allclose(built.scores(query), other.get_scores(query))  # the parameters are the ones used
