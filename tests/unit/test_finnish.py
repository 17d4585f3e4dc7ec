"""Tests for assistant.text.finnish: Voikko lemmas, compound parts, Snowball fallback, stop words, speed."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
import Stemmer

from assistant.text.finnish import STOPWORDS, cardinal_numeral, is_stopword, lemma, terms, word_classes, words

CORPUS = Path("/work/shared/corpus")


def test_words_spans() -> None:
    text = "ELMO:n Keski-Pohjanmaalla IP-alueen, 040 6854 053 ja Itä- ja Pohjois-Suomen (2019-2023)."
    toks = words(text)
    assert [w for w, _, _ in toks] == [
        "ELMO:n",
        "Keski-Pohjanmaalla",
        "IP-alueen",
        "040",
        "6854",
        "053",
        "ja",
        "Itä",
        "ja",
        "Pohjois-Suomen",
        "2019-2023",
    ]
    for w, s, e in toks:
        assert text[s:e] == w


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("maakuntien", {"maakunta"}),
        ("projektipäälliköltä", {"projektipäällikkö", "projekti", "päällikkö"}),
        ("Keski-Pohjanmaalla", {"keski-pohjanmaa", "pohjanmaa"}),
        ("maakuntaliittojen", {"maakuntaliitto", "liitto", "maakunta"}),
        ("strategian", {"strategia"}),
        ("Meriläiseltä", {"meriläinen"}),
        ("ELMO-pilotin", {"elmo-pilotti", "elmo", "pilotti"}),
        ("IP-alueen", {"ip", "alue"}),
        ("ELMO:n", {"elmo"}),
        ("OECD:n", {"oecd"}),
        ("2019", {"2019"}),
    ],
)
def test_voikko_terms(word: str, expected: set[str]) -> None:
    assert expected <= set(terms(word))


def test_no_boundary_marks_and_no_duplicates_per_word() -> None:
    for w in ["Keski-Pohjanmaalla", "Pohjois-Pohjanmaan", "maakuntaliittojen", "ELMO-pilotin"]:
        ts = terms(w)
        assert len(ts) == len(set(ts))
        assert not any("=" in t or "--" in t or t.startswith("-") or t.endswith("-") for t in ts)


def test_term_frequency_kept_across_words() -> None:
    ts = terms("Strategia ja strategian toimeenpano; strategiaa.")
    assert ts.count("strategia") == 3


def test_unknown_word_falls_back_to_snowball() -> None:
    stem = Stemmer.Stemmer("finnish").stemWord
    assert terms("Gitte") == [stem("gitte")]
    assert terms("xyzzyistä") == [stem("xyzzyistä")]


def test_modes() -> None:
    text = "Kuka on maakuntien projektipäällikkö?"
    assert terms(text, mode="none") == ["maakuntien", "projektipäällikkö"]
    stem = Stemmer.Stemmer("finnish").stemWord
    assert terms(text, mode="snowball") == [stem("maakuntien"), stem("projektipäällikkö")]
    assert terms(text) == terms(text, mode="voikko")
    with pytest.raises(ValueError):
        terms(text, mode="bogus")


def test_stopwords() -> None:
    assert terms("Kuka on se, joka ja että? Who is the what? Vem är och vad?") == []
    assert terms("Milloin ja missä ELMO alkoi?") == ["elmo", "alkaa"]
    for w in ["ja", "on", "olla", "kuka", "mikä", "milloin", "the", "of", "who", "och", "är", "vem", "vad"]:
        assert is_stopword(w)
        assert w in STOPWORDS
    assert not is_stopword("maakunta")
    assert is_stopword("Kuka")


def test_inflected_interrogatives_are_dropped() -> None:
    assert terms("missä mistä kenelle ketkä ovat") == []


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("Kuka on projektipäällikkö?", "Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053"),
        ("Kenen kanssa Meriläinen työskentelee?", "Ota yhteyttä Gitte Meriläiseen."),
        ("Mitkä maakunnat ovat mukana?", "Itä- ja Pohjois-Suomen maakuntien kanssa"),
        ("maakunnat", "siirtyy vakituiseksi osaksi maakuntaliittojen normaalia työtä"),
        ("Milloin strategia julkaistiin?", "Uusi strategian versio on julkaistu."),
        ("Keski-Pohjanmaa", "Vuonna 2024 puheenjohtajana toimii Keski-Pohjanmaalla."),
        ("pohjanmaa", "Pohjois-Pohjanmaan liitto"),
        ("liitto", "Hanketta on rahoittanut Pohjois-Savon liitto."),
        ("ELMO-pilotti", "ELMO-pilotista syntyi strategia"),
        ("IP-alue", "IP-alueen klusteritoiminta"),
        ("asiantuntijat", "asiantuntijaryhmä koostuu edustajista"),
        # a passive past participle carries its verb: questions ask with the verb, sources write the perfect
        ("Kuka laati?", "Strategia on laadittu työryhmässä."),
        ("julkaistiin", "Se on julkaistu verkossa."),
        ("Mitä nostettiin esiin?", "Painopisteiksi on nostettu puhtaat ratkaisut."),
    ],
)
def test_query_terms_intersect_sentence_terms(query: str, sentence: str) -> None:
    q, s = set(terms(query)), set(terms(sentence))
    assert q, query
    assert q & s, (q, s)


def test_word_classes() -> None:
    assert "sukunimi" in word_classes("Meriläinen")
    assert "sukunimi" in word_classes("Meriläiseltä")
    assert "etunimi" in word_classes("Matti")
    assert "paikannimi" in word_classes("Oulussa")
    assert "nimisana" in word_classes("projektipäällikkö")
    assert word_classes("Gitte") == set()
    assert isinstance(word_classes("Oulu"), set)


def test_lemma() -> None:
    assert lemma("Meriläiseltä") == "Meriläinen"
    assert lemma("liiton") == "liitto"
    assert lemma("Oulussa") == "Oulu"
    assert lemma("Pohjois-Pohjanmaan") == "Pohjois-Pohjanmaa"
    assert lemma("Keski-Pohjanmaalla") == "Keski-Pohjanmaa"
    assert lemma("ELMO:n") == "ELMO"
    assert lemma("IP-alueen") == "IP-alue"
    assert lemma("Gitte") == "Gitte"
    assert lemma("maakuntien") == "maakunta"


def _corpus_words() -> list[str]:
    return [w for p in sorted(CORPUS.glob("*.txt")) for w in p.read_text(encoding="utf-8").split()]


def test_terms_speed_10k_chunks() -> None:
    rng = random.Random(0)
    vocab = _corpus_words()
    # 10,000 chunks of 60 words, mostly repeated corpus words plus some inflected variants
    extra = [f"{w}lla" for w in vocab[:200]] + [f"{w}n" for w in vocab[200:400]]
    pool = vocab + extra
    chunks = [" ".join(rng.choice(pool) for _ in range(60)) for _ in range(10_000)]
    t = time.perf_counter()
    out = [terms(c) for c in chunks]
    elapsed = time.perf_counter() - t
    assert all(out)
    assert elapsed < 5.0, elapsed


def test_thread_safety() -> None:
    text = " ".join(_corpus_words())
    expected = terms(text)
    results: list[list[str]] = []

    def work() -> None:
        results.append(terms(text))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r == expected for r in results)


def test_cardinal_numerals_are_told_by_voikko_word_class_in_any_inflection() -> None:
    for word in ("kolme", "kolmessa", "kahdeksastatoista", "Neljäkymmentäseitsemän", "sadoille", "tuhansia", "kahta"):
        assert cardinal_numeral(word), word
    # ordinals, Roman numerals, adverbs and words that only begin like a numeral count nothing
    for word in ("kolmas", "ensimmäinen", "toinen", "XII", "yhdessä", "yksinkertaisesti", "yksityinen", "satamiin", "2024"):
        assert not cardinal_numeral(word), word
