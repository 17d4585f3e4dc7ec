"""A snapshot's parsed-row cache (answering/retrieve.py ``Snapshot.chunk``) gives what the artefact file
holds, hands each caller its own metadata, and stays bounded: the real index built from knowledge/."""

from __future__ import annotations

from assistant.answering.retrieve import ROW_CACHE, KnowledgeBase
from assistant.config import Settings


def test_cached_rows_equal_the_file_and_metadata_is_the_callers_own(kb_settings: Settings) -> None:
    snap = KnowledgeBase(kb_settings).current()
    assert snap.artefacts is not None and len(snap.ids) > 3
    for i in range(len(snap.ids)):
        row = snap.artefacts.row(i)
        assert snap.chunk(i) == (row["text"], row["meta"])
        assert snap.chunk(i) == (row["text"], row["meta"])  # read again, from the cache
    text, meta = snap.chunk(0)
    meta["source"] = "changed by a caller"
    meta.pop("start", None)
    assert snap.chunk(0)[1] == snap.artefacts.row(0)["meta"]  # the cached row is untouched
    info = snap._row.cache_info()
    assert info.hits >= len(snap.ids) and info.maxsize == ROW_CACHE and info.currsize <= ROW_CACHE
