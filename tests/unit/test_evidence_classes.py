"""The question readings added for the refusal classes of docs/refusal.md (2026-12-02, issue 12): real Voikko,
a small real snapshot, no model."""

from __future__ import annotations

import pytest

from assistant.answering.assistant import corrected_question
from assistant.answering.evidence import assess, frames_answer, holds_answer
from assistant.answering.retrieve import LexicalIndex, Snapshot
from assistant.answering.vocabulary import restored_letter
from assistant.text import finnish

TEXTS = [
    "Maakunnat toteuttavat ohjelmaa yhdessä, ja hanketta on rahoittanut Pohjois-Savon liitto.",
    "Hankkeen SISU II tuloksia esiteltiin seminaarissa.",
    "Kerromme verkkosivuilla rahoituksen uusista mahdollisuuksista.",
]


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    ids = [f"c{i}" for i in range(len(TEXTS))]
    metas = [{"source": "a.txt", "title": "A", "start": 0, "end": len(t), "terms": " ".join(finnish.terms(t))} for t in TEXTS]
    return Snapshot(
        generation=1, sources={}, ids=ids, texts=TEXTS, metas=metas,
        lexical=LexicalIndex([finnish.terms(t) for t in TEXTS]), position={cid: i for i, cid in enumerate(ids)},
    )  # fmt: skip


def test_an_action_noun_is_known_through_the_verb_the_sources_use(snap: Snapshot) -> None:
    evidence = assess("Miten ohjelman toteutus etenee?", "fi", snap)
    assert "toteutus" not in " ".join(evidence.missing).lower() and evidence.missing == []
    assert any("toteuttaa" in g for g in evidence.groups)
    # a noun that is not derived from a verb the sources use stays missing
    assert assess("Mikä on ohjelman budjetti?", "fi", snap).missing == ["budjetti"]


def test_a_clipped_spoken_case_ending_is_read_with_its_vowel() -> None:
    assert finnish.unclipped("täst") == "tästä"
    assert finnish.unclipped("kotoo") is None  # not a clipped case ending
    assert finnish.unclipped("talossa") is None  # a word Voikko knows is left as written


def test_a_spoken_numeral_noun_is_the_numeral_the_sources_write(snap: Snapshot) -> None:
    evidence = assess("mitä SISU kakkosessa saatiin aikaan", "fi", snap)
    assert evidence.missing == [] and evidence.corrected == {"kakkosessa": "II"}
    assert corrected_question("mitä SISU kakkosessa saatiin", evidence.corrected) == "mitä SISU II saatiin"
    # the third one is not in the sources: a number they do not state
    assert assess("mitä SISU kolmosessa tehtiin", "fi", snap).missing == ["kolmosessa"]


def test_a_roman_numeral_is_a_number_the_sources_state_or_not(snap: Snapshot) -> None:
    assert assess("Mitä SISU II -hankkeessa tehtiin?", "fi", snap).missing == []
    evidence = assess("Mitä SISU IV -hankkeessa tehtiin?", "fi", snap)
    assert evidence.missing == ["IV"] and evidence.specific == ["IV"]


def test_a_dropped_letter_is_restored_to_a_form_of_a_corpus_lemma() -> None:
    assert restored_letter("rahotti", {"rahoittaa": 1}) == "rahoitti"
    assert restored_letter("rahotti", {"talo": 1}) is None  # the lemma must be the sources'
    assert restored_letter("xyz", {"rahoittaa": 1}) is None


def test_a_compound_is_known_by_the_reading_whose_parts_the_sources_have(snap: Snapshot) -> None:
    # Voikko also reads "rahoitusmahdollisuuksista" as an adjective "…mahdollisuuksinen": that reading must not
    # make the noun unknown (and the question "about nothing in the sources")
    evidence = assess("Mistä löydän rahoitusmahdollisuuksista?", "fi", snap)
    assert evidence.known and evidence.missing == []


def test_a_two_part_compound_whose_modifier_the_sources_never_use_is_missing(snap: Snapshot) -> None:
    # "metsähanke" is not a "hanke" of the sources: a forest project they never mention
    evidence = assess("Kuka rahoitti metsähanketta?", "fi", snap)
    assert evidence.missing == ["metsähanketta"]
    # both parts in the sources: the compound is theirs, however they write it ("rahoituksen … mahdollisuuksista")
    assert assess("Mistä löydän rahoitusmahdollisuudet?", "fi", snap).missing == []


def test_a_noun_after_an_interrogative_names_the_kind_of_answer() -> None:
    words = "Mikä taho rahoitti hanketta".split()
    assert frames_answer(words, 1) and not frames_answer(words, 3)
    assert frames_answer("kuka on se henkilö joka".split(), 3)
    assert not frames_answer("Mikä on hankkeen budjetti".split(), 3)  # the thing asked about, not its kind


def test_a_who_question_naming_a_missing_channel_asks_for_the_person(snap: Snapshot) -> None:
    # no contact in this snapshot has an e-mail field, and the texts never say "sähköposti"
    assert assess("Kenelle lähetän sähköpostia hankkeesta?", "fi", snap).missing == []
    assert assess("Mikä on hankkeen sähköpostiosoite?", "fi", snap).missing == ["sähköpostiosoite"]


def test_a_year_of_fewer_digits_or_with_an_era_answers_when() -> None:
    asked = {"milloin", "vero"}
    assert holds_answer("when", "Vero lakkautettiin vuonna 96.", asked)
    assert holds_answer("when", "Kaupunki perustettiin 753 eKr.", asked)
    assert not holds_answer("when", "Vero koski 96 miestä.", asked)


def test_a_hyphen_compound_of_a_known_name_misses_only_its_head(snap: Snapshot) -> None:
    evidence = assess("Kuka vetää SISU-kerhoa?", "fi", snap)
    assert evidence.missing == ["kerhoa"] and evidence.specific == []
    assert ["sisu"] in evidence.groups


def test_a_word_questions_use_where_their_answer_does_not_weighs_less(snap: Snapshot, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.text import background

    # "henkilö" is missing from most paragraphs answering questions that use it; "yliopisto" almost never
    assert background.framing("henkilö") > 0.5 > background.framing("yliopisto") == 0.0
    assert background.framing("sanaton-lemma") == 0.0  # an unseen lemma keeps its weight
    framed = assess("Mikä henkilö johtaa ohjelmaa?", "fi", snap).missing_idf["henkilö"]
    monkeypatch.setattr(background, "framing", lambda lemma: 0.0)
    plain = assess("Mikä henkilö johtaa ohjelmaa?", "fi", snap).missing_idf["henkilö"]
    assert 0.0 < framed < 0.5 * plain
