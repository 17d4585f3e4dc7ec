"""assistant.knowledge.chunking on real text: offsets into the original, pages from a real PDF, Finnish abbreviations,
stable ids."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.documents import make_pdf

from assistant.knowledge.chunking import (
    CHUNKER_VERSION,
    LONG_SENTENCE,
    chunk,
    neighbour_id,
    source_key_hash,
    text_hash,
)
from assistant.knowledge.loaders import load_file
from assistant.text.normalise import normalise

VERSION = "0123456789abcdef0123"

MESSY = (
    "Elinkeinot\u00a0murroksessa\r\n"
    "\r\n"
    "Pilotti\u00adhanke alkoi vuonna 2018.  Sen nimi oli \u00b4Regions in Industrial Transition\u00b4.\r\n"
    "Mukana oli mm. Kainuu ja Lappi.\tToimintaa tuettiin esim. EAKR-rahoituksella.\r\n"
    "   \r\n"
    "\r\n"
    "\r\n"
    "Lis\u00e4tietoa: projektip\u00e4\u00e4llikk\u00f6 Gitte Meril\u00e4inen, puh. 040 6854 053. "
    "Kysy\u200b my\u00f6s \u201cELMO II\u201d -hankkeesta.\u2029"
    "Ta\u0308ma\u0308 kappale on hajotettua NFC:ta\u00a0\u00a0ja  v\u00e4lily\u00f6ntej\u00e4 . "
    "Loppu."
)


def assert_maps_to_original(original: str, chunks: list) -> None:
    norm = normalise(original)
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text == c.text.strip(), f"chunk {i} has untrimmed whitespace: {c.text!r}"
        assert c.text, "empty chunk"
        assert 0 <= c.start < c.end <= len(original)
        # the original span, normalised the same way, is exactly the chunk's text
        assert normalise(original[c.start : c.end]).text.strip() == c.text
        assert c.text_hash == text_hash(c.text)
    # together the chunks cover every visible character of the normalised text, in order, once
    assert "".join("".join(c.text for c in chunks).split()) == "".join(norm.text.split())
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.end <= b.start


@pytest.mark.parametrize("max_chars", [40, 80, 160, 420])
def test_offsets_map_into_the_original_text(max_chars: int) -> None:
    norm = normalise(MESSY)
    chunks = chunk(norm, source="messy.txt", version=VERSION, max_chars=max_chars)
    assert len(chunks) >= (2 if max_chars < 420 else 1)
    assert_maps_to_original(MESSY, chunks)
    joined = "\n".join(c.text for c in chunks)
    # normalised: no NBSP, soft hyphen, zero-width space, CR, acute-accent quotes or decomposed umlauts
    for bad in ("\u00a0", "\u00ad", "\u200b", "\r", "\u00b4", "\u0308", "\u201c", "  "):
        assert bad not in joined
    flat = " ".join(joined.split())
    assert "Pilottihanke" in flat
    assert "'Regions in Industrial Transition'" in flat
    assert "Tämä kappale" in flat
    if max_chars >= 160:
        assert len(chunks) < len(re.findall(r"[.!?]\s", MESSY))  # sentences are packed together


def test_offsets_fuzz_random_messy_text() -> None:
    atoms = [
        "Sana", "toinen", "mm.", "puh.", "esim.", "Oulu.", "Kainuu", "040 123 4567", "\u00a0", "\u00ad",
        "\u00b4lainaus\u00b4", "\r\n", "\n\n", "  ", "\t", "Loppu.", "Alku!", "a\u0308iti", "\u00c4\u00c4NI?",
        "x" * 50, "\u200b", "\u201cquote\u201d", "1.", "3. 5. 2023", "\n \n \n", "Kysymys?", "\u2029",
    ]  # fmt: skip
    rng = random.Random(20261123)
    for _ in range(400):
        original = " ".join(rng.choice(atoms) for _ in range(rng.randint(1, 90)))
        if rng.random() < 0.3:
            original = original.replace(" ", "")
        max_chars = rng.choice([30, 60, 120, 420])
        chunks = chunk(normalise(original), source="f.txt", version=VERSION, max_chars=max_chars)
        assert_maps_to_original(original, chunks)


def test_chunk_size_and_long_sentences_cut_evenly_at_word_boundaries() -> None:
    words = [f"sana{i}" for i in range(200)]
    long_sentence = " ".join(words) + "."  # 1,390 characters: past LONG_SENTENCE × 100, cut
    text = "Lyhyt alku.\n\n" + long_sentence + "\n\nLyhyt loppu."
    chunks = chunk(normalise(text), source="long.txt", version=VERSION, max_chars=100)
    pieces = [c.text for c in chunks if "sana" in c.text]
    assert all(len(p) <= LONG_SENTENCE * 100 for p in pieces)
    assert max(map(len, pieces)) - min(map(len, pieces)) <= 12  # even: no one-word tail
    # no word is broken in two
    tokens = [t for c in chunks for t in c.text.replace(".", " ").split()]
    assert [t for t in tokens if t.startswith("sana")] == words
    assert_maps_to_original(text, chunks)


def test_a_sentence_a_little_over_the_limit_stays_whole() -> None:
    # a cut sentence is shown cut in an answer ("… kuten Axe, Brue, Cary, [1]"), its tail a word on its own
    long_sentence = "Kreivikunnassa on monia jokia, kuten " + ", ".join(f"Joki{i}" for i in range(20)) + " ja Yeo."
    assert 100 < len(long_sentence) <= LONG_SENTENCE * 100
    text = f"Lyhyt alku on tässä. {long_sentence} Lyhyt loppu tulee tähän."
    chunks = chunk(normalise(text), source="whole.txt", version=VERSION, max_chars=100)
    assert long_sentence in [c.text for c in chunks]
    assert [c.text for c in chunks] == ["Lyhyt alku on tässä.", long_sentence, "Lyhyt loppu tulee tähän."]
    assert_maps_to_original(text, chunks)


def test_long_sentence_with_newlines_leaves_no_trailing_whitespace() -> None:
    # regression: a piece of an over-long sentence cut at the space after "\n" kept the newline
    text = "alku " + "mm.\n esim.\n " * 30 + "loppu"
    chunks = chunk(normalise(text), source="nl.txt", version=VERSION, max_chars=30)
    assert len(chunks) > 5
    assert_maps_to_original(text, chunks)


def test_paragraph_break_starts_a_new_chunk_once_half_full() -> None:
    para1 = "Ensimmäinen kappale kertoo poroista ja niiden laitumista Kuusamossa."  # 69 chars
    para2 = "Toinen kappale kertoo kaloista."
    chunks = chunk(normalise(f"{para1}\n\n{para2}"), source="p.txt", version=VERSION, max_chars=130)
    assert [c.text for c in chunks] == [para1, para2]
    # under half full: the paragraphs share a chunk
    chunks = chunk(normalise(f"Lyhyt.\n\n{para2}"), source="p.txt", version=VERSION, max_chars=130)
    assert len(chunks) == 1


def test_a_long_paragraph_splits_evenly_and_stays_out_of_the_next_one() -> None:
    s1 = "Ensimmäinen kappale kertoo poroista ja niiden laitumista Kuusamossa vuosina 2019-2023."
    s2 = "Toinen virke jatkaa samaa kappaletta ja kertoo porojen määrästä Kainuussa."
    s3 = "Kolmas virke on lyhyt."
    next_para = "Uusi kappale kertoo kaloista ja kalastuksesta Oulujoella."
    chunks = chunk(normalise(f"{s1} {s2} {s3}\n\n{next_para}"), source="p.txt", version=VERSION, max_chars=170)
    # greedy packing would give [s1 s2] [s3 + the next paragraph]: the short tail is kept with its own
    # paragraph's text, and the next paragraph is a chunk (so a passage retrieval joins) of its own
    assert [c.text for c in chunks] == [s1, f"{s2} {s3}", next_para]
    assert [c.continues for c in chunks] == [False, True, False]
    assert_maps_to_original(f"{s1} {s2} {s3}\n\n{next_para}", chunks)
    # a heading goes with the first chunk of the paragraph it heads
    chunks = chunk(normalise(f"Porot\n\n{s1} {s2} {s3}"), source="p.txt", version=VERSION, max_chars=170)
    assert [c.text for c in chunks] == [f"Porot\n\n{s1}", f"{s2} {s3}"]


def test_even_split_keeps_every_chunk_within_the_limit() -> None:
    sentences = [f"Virke {i} kertoo {'pitkästi ' * (i % 5)}asiasta." for i in range(40)]
    text = " ".join(sentences) + "\n\nLoppu."
    for max_chars in (60, 120, 420):
        chunks = chunk(normalise(text), source="e.txt", version=VERSION, max_chars=max_chars)
        assert all(len(c.text) <= max_chars for c in chunks)
        assert " ".join(c.text for c in chunks[:-1]) == " ".join(sentences)  # order kept, nothing lost
        greedy, size = 1, -1
        for sentence in sentences:
            if size >= 0 and size + 1 + len(sentence) > max_chars:
                greedy, size = greedy + 1, -1
            size += 1 + len(sentence)
        assert len(chunks) - 1 == greedy  # as few chunks as greedy packing makes


def test_finnish_abbreviations_never_end_a_chunk() -> None:
    sentences = [
        "Pilotissa opittiin mm. Tulevaisuuden työpaikoista ja ennakoinnista.",
        "Lisätietoja antaa projektipäällikkö Gitte Meriläinen, puh. 040 6854 053 tai sähköpostilla.",
        "Alueita ovat esim. Kainuu, Lappi ja Pohjois-Savo.",
        "Kokous pidetään klo 10 ja paikalla on mm. Lapin liitto.",
        "Rahoitus on n. 2 milj. euroa eli ns. Vipuvoimaa.",
        "Loppu.",
    ]
    text = " ".join(sentences)
    for max_chars in (60, 100, 420):
        chunks = chunk(normalise(text), source="abbr.txt", version=VERSION, max_chars=max_chars)
        ends = re.compile(r"(?:^|\s)(mm|puh|esim|klo|n|milj|ns)\.$", re.I)
        for c in chunks:
            assert not ends.search(c.text), f"chunk ends at an abbreviation: {c.text!r}"
        if max_chars == 100:
            # every sentence fits on its own: the chunks are exactly the sentences
            assert [c.text for c in chunks] == sentences[:4] + [" ".join(sentences[4:])]
        phone = next(c for c in chunks if "puh." in c.text)
        assert "puh. 040 6854 053" in phone.text


def test_page_numbers_from_a_real_pdf(tmp_path: Path) -> None:
    pages = [
        ["Ensimmäinen sivu kertoo porotaloudesta.", "Poroja on paljon mm. Kuusamossa."],
        [],  # an empty page: page numbers after it must still be right
        ["Kolmas sivu kertoo kalastuksesta.", "Lisätietoa: puh. 040 123 4567."],
        ["Neljäs sivu: metsätaloutta on esim. Kainuussa.", "Sahoja on Kajaanissa."],
    ]
    path = tmp_path / "sivut.pdf"
    path.write_bytes(make_pdf(pages))
    loaded = load_file(path)
    assert [p[2] for p in loaded.pages] == [1, 3, 4]
    for max_chars in (40, 420):
        chunks = chunk(
            normalise(loaded.text),
            source="sivut.pdf",
            version=VERSION,
            pages=loaded.pages,
            max_chars=max_chars,
        )
        assert_maps_to_original(loaded.text, chunks)
        for c in chunks:
            start, end, page = next(p for p in loaded.pages if p[0] <= c.start < p[1])
            assert c.page == page
            assert c.end <= end, "a chunk crosses a page break"
        by_word = {
            w: next(c.page for c in chunks if w in c.text) for w in ("porotaloudesta", "kalastuksesta")
        }
        assert by_word == {"porotaloudesta": 1, "kalastuksesta": 3}
        assert next(c.page for c in chunks if "Kajaanissa" in c.text) == 4
        assert {c.page for c in chunks} == {1, 3, 4}


def test_no_pages_means_page_none() -> None:
    chunks = chunk(normalise("Yksi lause. Toinen lause."), source="a.txt", version=VERSION)
    assert [c.page for c in chunks] == [None]


def test_empty_text_gives_no_chunks() -> None:
    assert chunk(normalise(""), source="e.txt", version=VERSION) == []
    assert chunk(normalise(" \n\u00a0\u00ad\n "), source="e.txt", version=VERSION) == []


def test_ids_are_stable_and_encode_source_and_version() -> None:
    norm = normalise(MESSY)
    a = chunk(norm, source="docs/messy.txt", version=VERSION, max_chars=80)
    b = chunk(normalise(MESSY), source="docs/messy.txt", version=VERSION, max_chars=80)
    assert a == b
    prefix = f"{hashlib.sha1(b'docs/messy.txt').hexdigest()[:10]}-{VERSION[:12]}"
    assert source_key_hash("docs/messy.txt") == prefix.split("-")[0]
    assert [c.id for c in a] == [f"{prefix}-{i:05d}" for i in range(len(a))]
    assert len({c.id for c in a}) == len(a)
    other_source = chunk(norm, source="docs/other.txt", version=VERSION, max_chars=80)
    other_version = chunk(norm, source="docs/messy.txt", version="f" * 20, max_chars=80)
    assert not {c.id for c in a} & {c.id for c in other_source}
    assert not {c.id for c in a} & {c.id for c in other_version}
    # same text, other id: the texts (and so reusable vectors) are the same
    assert [c.text_hash for c in a] == [c.text_hash for c in other_source]


def test_edit_at_the_end_keeps_earlier_chunk_texts() -> None:
    # a paragraph is split as a whole (evenly), so what an edit at the end keeps is the earlier paragraphs
    paragraphs = [" ".join(f"Kappaleen {p} lause kertoo asiasta {'tarkasti ' * i}nyt." for i in range(6)) for p in range(5)]
    base = "\n\n".join(paragraphs)
    edited = base + " Uusi lause lopussa."
    a = chunk(normalise(base), source="e.txt", version=VERSION, max_chars=120)
    b = chunk(normalise(edited), source="e.txt", version="1" * 20, max_chars=120)
    last = sum(c.text in paragraphs[-1] for c in a)  # the last paragraph's chunks
    assert len(a) > 8 and 0 < last < len(a)
    assert [c.text_hash for c in a[:-last]] == [c.text_hash for c in b[: len(a) - last]]
    assert a[-1].text_hash != b[-1].text_hash


def test_ids_stable_across_processes(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from assistant.knowledge.chunking import chunk\n"
        "from assistant.text.normalise import normalise\n"
        "text = open(sys.argv[1], encoding='utf-8', newline='').read()\n"
        "cs = chunk(normalise(text), source='docs/messy.txt', version=sys.argv[2], max_chars=80)\n"
        "print(json.dumps([[c.id, c.text, c.start, c.end] for c in cs]))\n"
    )
    path = tmp_path / "messy.txt"
    path.write_text(MESSY, encoding="utf-8", newline="")
    here = [[c.id, c.text, c.start, c.end] for c in chunk(normalise(MESSY), source="docs/messy.txt",
                                                          version=VERSION, max_chars=80)]  # fmt: skip
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script, str(path), VERSION],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        assert json.loads(out.stdout) == here


def test_a_chunks_neighbours_are_found_by_id() -> None:
    chunks = chunk(normalise(MESSY), source="docs/messy.txt", version=VERSION, max_chars=80)
    assert len(chunks) >= 3
    assert neighbour_id(chunks[1].id, -1) == chunks[0].id and neighbour_id(chunks[1].id, 1) == chunks[2].id
    assert neighbour_id(chunks[0].id, -1) is None


def test_chunker_version_is_a_string() -> None:
    assert isinstance(CHUNKER_VERSION, str) and CHUNKER_VERSION


def test_continues_marks_a_chunk_that_goes_on_with_its_predecessors_paragraph() -> None:
    """``continues``: no blank line between a chunk and the one before it (retrieval joins such neighbours)."""
    long_paragraph = " ".join(f"Lause numero {i} kertoo hankkeen vaiheesta {i} jotakin olennaista." for i in range(12))
    text = f"{long_paragraph}\n\nToinen kappale alkaa tästä. Se on lyhyt.\n\n{long_paragraph}"
    chunks = chunk(normalise(text), source="a.txt", version=VERSION, max_chars=200)
    norm = normalise(text).text
    assert len(chunks) > 4
    assert not chunks[0].continues
    for prev, c in zip(chunks, chunks[1:], strict=False):
        gap = text[prev.end : c.start]
        assert c.continues == ("\n\n" not in gap), (prev.text[-30:], gap, c.text[:30])
    assert any(c.continues for c in chunks) and any(not c.continues for c in chunks[1:])
    assert "\n\n" in norm


def _chunk_sizes(spans: list[tuple[int, int]], cuts: tuple[int, ...]) -> list[int]:
    bounds = (0, *cuts, len(spans))
    return [spans[b - 1][1] - spans[a][0] for a, b in zip(bounds, bounds[1:], strict=False)]


def test_even_split_is_the_one_whose_smallest_chunk_is_largest() -> None:
    from itertools import combinations

    from assistant.knowledge.chunking import _balanced

    rng = random.Random(20261204)
    for _ in range(200):
        lengths = [rng.randint(10, 120) for _ in range(rng.randint(2, 9))]
        spans, pos = [], 0
        for n in lengths:
            spans.append((pos, pos + n))
            pos += n + 1
        limit = rng.choice([130, 200, 300])
        if max(lengths) > limit:
            continue
        parts = _balanced(spans, limit)
        assert [s for p in parts for s in p] == spans
        assert all(p[-1][1] - p[0][0] <= limit for p in parts)
        # brute force over every split into as few chunks as fit
        splits = {
            cuts: sizes
            for n in range(len(spans))
            for cuts in combinations(range(1, len(spans)), n)
            if max(sizes := _chunk_sizes(spans, cuts)) <= limit
        }
        fewest = min(len(cuts) for cuts in splits) + 1
        assert len(parts) == fewest
        best = max(min(sizes) for cuts, sizes in splits.items() if len(cuts) == fewest - 1)
        assert min(p[-1][1] - p[0][0] for p in parts) == best
