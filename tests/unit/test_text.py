"""Tests for assistant.text: normalise offsets, sentence splitting, language detection."""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.text.language import detect_language
from assistant.text.normalise import Normalised, normalise
from assistant.text.sentences import split_sentences

CORPUS = Path("/work/shared/corpus")

# ---------------------------------------------------------------------------------------------
# normalise
# ---------------------------------------------------------------------------------------------


def test_normalise_basic_mappings() -> None:
    raw = "a\u00a0b\u202fc\u00add\u200be ´Regions in Industrial Transition´ “x” „y” ‘z’"
    n = normalise(raw)
    assert n.text == "a b cde 'Regions in Industrial Transition' \"x\" \"y\" 'z'"
    assert len(n.offsets) == len(n.text) + 1
    assert n.offsets[-1] == len(raw)


def test_normalise_whitespace_layout() -> None:
    raw = "Otsikko  \r\n\r\n \t \r\n\r\n\r\nEka\t\trivi   \nToka \u00a0 rivi \n   \n"
    n = normalise(raw)
    assert n.text == "Otsikko\n\nEka rivi\nToka rivi\n\n"
    assert "\r" not in n.text


def test_normalise_controls_and_separators() -> None:
    n = normalise("a\x00b\x07c\x0cd\u2028e\u2029f\x7f")
    assert n.text == "abc\nd\ne\n\nf"


def test_normalise_nfc() -> None:
    raw = "Ma\u0308a\u0308 ja A\u030angstro\u0308m"
    n = normalise(raw)
    assert n.text == "Mää ja Ångström"
    assert n.text == unicodedata.normalize("NFC", n.text)
    s = n.text.index("Å")
    assert n.to_original(s, s + 1) == (raw.index("A\u030a"), raw.index("A\u030a") + 2)


def test_to_original_maps_spans() -> None:
    raw = "Lisätietoa:\u00a0\u00a0Projekti\u00adpäällikkö   Gitte  Meriläinen"
    n = normalise(raw)
    assert n.text == "Lisätietoa: Projektipäällikkö Gitte Meriläinen"
    s = n.text.index("Gitte")
    a, b = n.to_original(s, s + len("Gitte Meriläinen"))
    assert raw[a:b] == "Gitte  Meriläinen"
    s = n.text.index("Projektipäällikkö")
    a, b = n.to_original(s, s + len("Projektipäällikkö"))
    assert raw[a:b] == "Projekti\u00adpäällikkö"
    assert n.to_original(3, 3) == (3, 3)
    with pytest.raises(ValueError):
        n.to_original(5, 2)


def test_normalised_is_frozen() -> None:
    n = normalise("x")
    assert isinstance(n, Normalised)
    with pytest.raises(AttributeError):
        n.text = "y"  # type: ignore[misc]


def test_normalise_speed() -> None:
    raw = "".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt")))
    raw = (raw.replace(" ", "  ", 50) + "\u00a0´x´\u00ad\r\n") * (100_000 // len(raw) + 1)
    raw = raw[:100_000]
    normalise(raw)
    t = time.perf_counter()
    normalise(raw)
    assert time.perf_counter() - t < 0.2  # ~15 ms measured


_SPECIALS = list(" \t\n\r\u00a0\u202f\u2009\u00ad\u200b\ufeff´`‘’‚′“”„″\x00\x01\x0b\x0c\x85\u2028\u2029")
_PLAIN = list("aäöÅbcXyz019.,:;!?-'\"()")


def _stable_char(c: str) -> bool:
    """Characters that NFC leaves alone and that never compose with a neighbour."""
    cat = unicodedata.category(c)
    return (
        cat not in ("Mn", "Mc", "Me", "Cs")
        and unicodedata.normalize("NFC", c) == c
        and not (0x1100 <= ord(c) <= 0x11FF)
        and unicodedata.combining(c) == 0
    )


_stable_text = st.text(
    alphabet=st.one_of(st.sampled_from(_SPECIALS + _PLAIN), st.characters().filter(_stable_char)),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(_stable_text)
def test_normalise_offsets_property(raw: str) -> None:
    n = normalise(raw)
    text, offs = n.text, n.offsets
    assert len(offs) == len(text) + 1
    assert offs[-1] == len(raw)
    assert all(a <= b for a, b in zip(offs, offs[1:], strict=False))
    for i, ch in enumerate(text):
        assert 0 <= offs[i] < len(raw)
        if not ch.isspace():
            # the original character maps to exactly this normalised character
            assert normalise(raw[offs[i]]).text == ch
    # layout invariants
    assert "\r" not in text and "\t" not in text and "\u00a0" not in text and "\u00ad" not in text
    assert "  " not in text and " \n" not in text and "\n\n\n" not in text
    assert not text.endswith(" ")
    # idempotent
    assert normalise(text).text == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_normalise_offsets_any_text(raw: str) -> None:
    n = normalise(raw)
    assert len(n.offsets) == len(n.text) + 1
    assert n.offsets[-1] == len(raw)
    assert all(a <= b for a, b in zip(n.offsets, n.offsets[1:], strict=False))
    assert n.text == unicodedata.normalize("NFC", n.text) or any(0x1100 <= ord(c) <= 0x11FF for c in raw)


# ---------------------------------------------------------------------------------------------
# split_sentences
# ---------------------------------------------------------------------------------------------


def _sents(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_simple() -> None:
    assert _sents("Eka lause. Toka lause! Kolmas? Neljäs.") == [
        "Eka lause.",
        "Toka lause!",
        "Kolmas?",
        "Neljäs.",
    ]


def test_split_abbreviations() -> None:
    text = (
        "Pilotissa opittiin mm. tulevaisuuden työpaikoista. Lisätietoa: puh. 040 6854 053. "
        "Esim. Lappi ja ns. Kainuu ovat mukana jne. Ks. Liite 2. Työpaja on klo 10 ja n. 20 henkeä. "
        "Tri Virtanen ja prof. Korhonen puhuivat, vrt. Oulu. A. Virtanen kirjoitti e.g. Smith etc. "
        "The talk by Dr. Smith vs. Mr. Jones was fine."
    )
    assert _sents(text) == [
        "Pilotissa opittiin mm. tulevaisuuden työpaikoista.",
        "Lisätietoa: puh. 040 6854 053.",
        "Esim. Lappi ja ns. Kainuu ovat mukana jne. Ks. Liite 2.",
        "Työpaja on klo 10 ja n. 20 henkeä.",
        "Tri Virtanen ja prof. Korhonen puhuivat, vrt. Oulu.",
        "A. Virtanen kirjoitti e.g. Smith etc. The talk by Dr. Smith vs. Mr. Jones was fine.",
    ]


def test_split_encyclopaedic_abbreviations() -> None:
    # life dates and language names as encyclopaedias write them: "(k. 1169)" cut "1169) piti …" off
    text = (
        "Historioitsija al-Bayhaqī (k. 1169) piti Avicennaa kannattajana. "
        "Sveitsin valaliitto (lat. Confoederatio Helvetica) on liittovaltio. Paavi (synt. 1897) valittiin 1963."
    )
    assert _sents(text) == [
        "Historioitsija al-Bayhaqī (k. 1169) piti Avicennaa kannattajana.",
        "Sveitsin valaliitto (lat. Confoederatio Helvetica) on liittovaltio.",
        "Paavi (synt. 1897) valittiin 1963.",
    ]


def test_split_chained_initials_and_eras() -> None:
    # real squad2fi-dev sentences: "H.W." cut a list of presidents in two, "Vuonna 587 eKr." stood alone
    text = (
        "Vuonna 1922 H.M. Evans ja L.S. Bishop löysivät E-vitamiinin. Presidenttejä ovat olleet George H.W. Bush "
        "ja Bill Clinton. Vuonna 587 eKr. Nebukadnessar II valloitti Jerusalemin. Noin vuonna 260 jKr. Alamannit "
        "tuhosivat sen. Toinen temppeli valmistui vuonna 515 eaa. Jehudin maakunta oli rauhallinen. "
        "Temppeli valmistui 515 eaa. Se oli suuri."
    )
    assert _sents(text) == [
        "Vuonna 1922 H.M. Evans ja L.S. Bishop löysivät E-vitamiinin.",
        "Presidenttejä ovat olleet George H.W. Bush ja Bill Clinton.",
        "Vuonna 587 eKr. Nebukadnessar II valloitti Jerusalemin.",
        "Noin vuonna 260 jKr. Alamannit tuhosivat sen.",
        "Toinen temppeli valmistui vuonna 515 eaa.",
        "Jehudin maakunta oli rauhallinen.",
        "Temppeli valmistui 515 eaa.",
        "Se oli suuri.",
    ]


def test_split_ordinals_dates_decimals() -> None:
    text = (
        "Haku päättyy 5. kesäkuuta 2024. Päätös tehdään 1. päivänä heinäkuuta. Hanke on 2. vaihe. "
        "Osuus oli 3.5 prosenttia ja 12,5 % kasvua. Kokous pidetään 5. 6. 2024 Oulussa. Soita 040 6854 053."
    )
    assert _sents(text) == [
        "Haku päättyy 5. kesäkuuta 2024.",
        "Päätös tehdään 1. päivänä heinäkuuta.",
        "Hanke on 2. vaihe.",
        "Osuus oli 3.5 prosenttia ja 12,5 % kasvua.",
        "Kokous pidetään 5. 6. 2024 Oulussa.",
        "Soita 040 6854 053.",
    ]


def test_split_numbered_heading_and_quotes() -> None:
    text = '1. Johdanto\n\nHän sanoi: "Tämä on hyvä." Sitten (kuten aina.) Loppu. Vuonna 2019. Seuraava.'
    assert _sents(text) == [
        "1. Johdanto",
        'Hän sanoi: "Tämä on hyvä."',
        "Sitten (kuten aina.)",
        "Loppu.",
        "Vuonna 2019.",
        "Seuraava.",
    ]


def test_split_newlines() -> None:
    text = (
        "Elinkeinot murroksessa\n"
        "Pohjois-Pohjanmaa mukana pilotissa\n\n"
        "Tämä on pitkä rivi joka jatkuu ilman välimerkkiä koska teksti on rivitetty pdf:stä ja se\n"
        "jatkuu seuraavalla rivillä.\n"
        "Lyhyt rivi ilman pistettä\n"
        "jatkuu pienellä.\n"
        "Lista:\n- eka\n- toka"
    )
    assert _sents(text) == [
        "Elinkeinot murroksessa",
        "Pohjois-Pohjanmaa mukana pilotissa",
        "Tämä on pitkä rivi joka jatkuu ilman välimerkkiä koska teksti on rivitetty pdf:stä ja se\n"
        "jatkuu seuraavalla rivillä.",
        "Lyhyt rivi ilman pistettä\njatkuu pienellä.",
        "Lista:",
        "- eka",
        "- toka",
    ]


def test_split_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n ") == []
    assert _sents("  yksi  ") == ["yksi"]


def test_split_real_corpus() -> None:
    files = sorted(CORPUS.glob("*.txt"))
    assert files, "corpus missing"
    joined: list[str] = []
    for path in files:
        text = normalise(path.read_text(encoding="utf-8")).text
        sents = _sents(text)
        assert sents
        joined.extend(sents)
        assert re.sub(r"\s", "", "".join(sents)) == re.sub(r"\s", "", text)
    assert any("mm. tulevaisuuden" in s for s in joined)
    assert any("puh. 040 6854 053" in s for s in joined)
    assert not any(s.endswith(("mm.", "puh.")) for s in joined)
    assert "Elinkeinot murroksessa" in joined  # the title line is its own sentence
    assert any(s.startswith("Lisätietoa: Projektipäällikkö Gitte Meriläinen") for s in joined)


_PIECES = [*"aB ö.Ä!?\n\t,12\"')(:-", "mm. ", "puh. ", "5. ", "Virtanen", "kesäkuuta", "\n\n", "040 6854 053"]
_sentence_text = st.lists(st.sampled_from(_PIECES), max_size=80).map("".join)


def _visible(s: str) -> str:
    return "".join(c for c in s if not c.isspace())


@settings(max_examples=200, deadline=None)
@given(_sentence_text)
def test_split_covers_every_char_once(text: str) -> None:
    spans = split_sentences(text)
    prev = 0
    for s, e in spans:
        assert prev <= s < e <= len(text)
        assert not text[s].isspace() and not text[e - 1].isspace()
        assert text[prev:s].strip() == ""
        prev = e
    assert text[prev:].strip() == ""
    assert _visible("".join(text[s:e] for s, e in spans)) == _visible(text)


def test_split_speed() -> None:
    text = normalise("".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt")))).text
    big = (text + "\n\n") * (100_000 // len(text) + 1)
    t = time.perf_counter()
    split_sentences(big)
    assert time.perf_counter() - t < 0.5


# ---------------------------------------------------------------------------------------------
# detect_language
# ---------------------------------------------------------------------------------------------

QUESTIONS = {
    "fi": [
        "Kuka on projektipäällikkö?",
        "Milloin ELMO alkoi?",
        "Mikä on ELMO?",
        "Missä Oulu on?",
        "Keitä hankkeessa on mukana?",
        "Mitä älykäs erikoistuminen tarkoittaa?",
        "Onko Oulussa EDIH?",
        "Kuka rahoitti hanketta?",
        "Mitkä maakunnat osallistuivat?",
        "Yhteystiedot",
        "Lapin liitto",
        "Strategian painopisteet",
        "Milloin strategia julkaistiin?",
        "Kenelle voin soittaa?",
        "Paljonko rahaa?",
        "Mikä EOCIC on?",
        "Kuka koordinoi vuonna 2024?",
        "Ketkä ovat asiantuntijaryhmässä?",
        "Kuka on Gitte Meriläinen?",
        "Puhelinnumero",
    ],
    "en": [
        "Who is the project manager?",
        "Is there an EDIH in Oulu?",
        "When did ELMO start?",
        "What is smart specialisation?",
        "Which regions take part?",
        "Who funded the project?",
        "Contact details",
        "Phone number",
        "What is EOCIC?",
        "Where is Lapland?",
        "How do I apply for funding?",
        "Tell me about ELMO",
        "Which strategy is valid in 2024?",
        "Who coordinates in 2024?",
        "Regions in Industrial Transition",
        "project manager",
        "What are the priorities?",
        "Is Oulu involved?",
        "When was the strategy published?",
        "Who is Gitte Meriläinen?",
    ],
    "sv": [
        "Vem är projektledare?",
        "Vilka regioner deltar?",
        "När började ELMO?",
        "Vad är smart specialisering?",
        "Finns det en EDIH i Uleåborg?",
        "Vem finansierade projektet?",
        "Kontaktuppgifter",
        "Telefonnummer",
        "Vad är EOCIC?",
        "Var ligger Lappland?",
        "Hur ansöker jag om finansiering?",
        "Berätta om ELMO",
        "Vilken strategi gäller 2024?",
        "Vem samordnar år 2024?",
        "Vilka är prioriteringarna?",
        "Är Uleåborg med?",
        "När publicerades strategin?",
        "Vem är Gitte Meriläinen?",
        "projektledare",
        "Vilka landskap deltar?",
    ],
}


@pytest.mark.parametrize(("lang", "question"), [(lang, q) for lang, qs in QUESTIONS.items() for q in qs])
def test_detect_language_questions(lang: str, question: str) -> None:
    assert detect_language(question) == lang


def test_detect_language_fallbacks() -> None:
    assert detect_language("") == "fi"
    assert detect_language("  123 / 2024 ?! ") == "fi"
    text = (CORPUS / "elinkeinot-murroksessa.txt").read_text(encoding="utf-8")
    assert detect_language(text) == "fi"
