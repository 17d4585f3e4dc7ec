"""Which sentences of a cited passage the passage viewer highlights (web/ui/render.py)."""

from __future__ import annotations

from assistant.web.ui.render import cited_sentences, cited_stretches, render_card

CHUNK = (
    "Elinkeinot murroksessa\n\n"
    "Itä- ja Pohjois-Suomen seitsemän maakuntaa valittiin pilottiin. Pilotti alkoi vuonna 2018.\n\n"
    "Lisätietoa: projektipäällikkö Gitte Meriläinen, puh. 040 6854 053"
)


def test_stretches_end_at_their_marker() -> None:
    answer = "Eka lause [1]. Toka lause. Kolmas [2][1]\n> Lainaus [2]"
    assert cited_stretches(answer, 1) == ["Eka lause ", ". Toka lause. Kolmas "]
    assert cited_stretches(answer, 2) == [". Toka lause. Kolmas ", "> Lainaus "]
    assert cited_stretches(answer, 3) == []


def test_only_the_cited_sentences_are_marked() -> None:
    answer = "Itä- ja Pohjois-Suomen seitsemän maakuntaa valittiin pilottiin. [1]"
    spans = cited_sentences(answer, 1, CHUNK)
    assert [CHUNK[s:e] for s, e in spans] == [
        "Itä- ja Pohjois-Suomen seitsemän maakuntaa valittiin pilottiin."
    ]


def test_two_sentences_across_a_blank_line_are_two_marks() -> None:
    answer = (
        "Pilotti alkoi vuonna 2018. Lisätietoa: projektipäällikkö Gitte Meriläinen, puh. 040 6854 053 [1]"
    )
    card = render_card(
        0, {"n": 1, "text": CHUNK, "start": 0, "end": 0, "source": "a.txt"}, None, "fi", answer
    )
    assert card.count("<mark>") == 2
    assert "<mark>Pilotti alkoi vuonna 2018.</mark>" in card
    assert "<mark>Elinkeinot" not in card


def test_no_match_marks_the_whole_passage() -> None:
    assert cited_sentences("Aivan muuta tekstiä [1]", 1, CHUNK) == []
    card = render_card(
        0, {"n": 1, "text": CHUNK, "start": 0, "end": 0, "source": "a.txt"}, None, "fi", "x [1]"
    )
    assert card.count("<mark>") == 1 and "<mark>Elinkeinot murroksessa" in card
