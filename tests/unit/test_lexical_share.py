"""How much of a question BM25 can read, which sets its weight in the fusion (retrieve.lexical_share)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answering.retrieve import lexical_share
from assistant.text import finnish, glossary

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"


@pytest.fixture(scope="module")
def vocabulary() -> set[str]:
    """The default knowledge base's lemmas, as the BM25 index holds them."""
    return set(finnish.terms(" ".join(p.read_text(encoding="utf-8") for p in KNOWLEDGE.glob("*.txt"))))


def test_a_finnish_question_is_read_whole(vocabulary: set[str]) -> None:
    assert lexical_share("Mikä väri laaksolla oli neoliittisella kaudella?", "fi", vocabulary) == 1.0


@pytest.mark.parametrize(
    ("question", "language"),
    [("Who is the project manager of the ELMO pilot?", "en"), ("Vem är projektledare för ELMO-piloten?", "sv")],
)
def test_a_question_the_glossary_covers_keeps_bm25(vocabulary: set[str], question: str, language: str) -> None:
    assert lexical_share(question, language, vocabulary) == 1.0


def test_a_foreign_question_about_what_the_sources_lack_is_not_read(vocabulary: set[str]) -> None:
    assert lexical_share("What colour was the famous valley in the Neolithic period?", "en", vocabulary) == 0.0


def test_partly_readable_question(vocabulary: set[str]) -> None:
    # "pilot" is a glossary word; "produce", "patents", "inventions" are neither the glossary's nor the corpus's
    assert lexical_share("Did the pilot produce any patents or inventions?", "en", vocabulary) == pytest.approx(0.2)
    # a multi-word key reads all its words: "took part" (osallistua), and "countries" (maa)
    assert lexical_share("Which whole countries took part in the pilot?", "en", vocabulary) == pytest.approx(0.8)


def test_the_verb_call_is_no_funding_call() -> None:
    # "call" read as rahoitushaku made "What is … called?" miss a word the squad articles never use, and refused
    assert glossary.finnish_terms("What is the study of algae called?") == []
    assert "rahoitushaku" in glossary.finnish_terms("Where are the funding calls announced?")
    assert "rahoitushaku" in glossary.finnish_terms("Is there an open call for projects?")


def test_a_multi_word_key_reads_each_of_its_words() -> None:
    assert glossary.read_words("Who is the project manager of ELMO?") >= {"project", "manager", "elmo"}
    assert glossary.read_words("Which countries took part?") == {"countries", "took", "part"}
    assert glossary.read_words("What is the study of algae called?") == set()


@pytest.mark.parametrize(
    ("english", "swedish"),
    [
        ("When did the ELMO pilot start?", "När började ELMO-piloten?"),
        ("When does the project end?", "När slutar projektet?"),
        ("Which countries participated?", "Vilka länder deltog?"),
        ("Who chairs the cooperation?", "Vem är ordförande för samarbetet?"),
        ("Who wrote the report on the clusters?", "Vem skrev rapporten om klustren?"),
        ("What are the goals of the strategy?", "Vilka är strategins mål?"),
        ("Who coordinates the work?", "Vem samordnar arbetet?"),
        ("Who is the project manager?", "Vem är projektets chef?"),
    ],
)
def test_a_swedish_question_is_read_as_far_as_its_english_counterpart(english: str, swedish: str) -> None:
    assert set(glossary.finnish_terms(english)) - {"yhteistyö"} <= set(glossary.finnish_terms(swedish))
