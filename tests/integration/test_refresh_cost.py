"""What a one-source refresh reads and writes (issue 14: ≤ 5 s at 100k chunks), with real refreshes and a
real Chroma: a clean store's catalogue comes from the generation's published folder, not from Chroma, and
the folder it then builds is the one a full build of the store writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_artefacts import DOCS, _settings
from test_ingest import write

from assistant.config import Settings
from assistant.knowledge import artefacts
from assistant.knowledge.ingest import refresh
from assistant.knowledge.store import Store

pytestmark = pytest.mark.slow


def _count_catalogue_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = Store.live_sources

    def counted(self: Store) -> dict:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(Store, "live_sources", counted)
    return calls


def _same_as_a_full_build(settings: Settings, tmp_path: Path) -> None:
    store = Store.open(settings)
    generation, key = store.generation_key()
    mine = artefacts.Artefacts(artefacts.root_for(settings) / key)
    full = artefacts.build(store, tmp_path / "full", key, generation, previous=None)
    for name in ("sources.json", "rows.jsonl", "ids.json", "tokens.npy", "sentences.npy", "sentences.keys.npy"):
        assert (mine.path / name).read_bytes() == (full.path / name).read_bytes(), name


def test_a_clean_store_is_refreshed_from_its_published_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, fillers=6)
    refresh(settings)
    reads = _count_catalogue_reads(monkeypatch)
    write(settings, "kala.md", DOCS["kala.md"] + "Uusi kalasatama avattiin Sotkamossa.\n")
    (settings.sources / "metsa.md").unlink()
    summary = refresh(settings)
    assert (summary.updated, summary.removed, summary.unchanged) == (1, 1, 7)
    assert reads == []  # neither at the start nor for the artefacts: the refresh knows what it changed
    monkeypatch.undo()
    _same_as_a_full_build(settings, tmp_path)
    assert refresh(settings).unchanged == 8  # the folder's raw hashes are the store's


def test_an_interrupted_or_unpublished_store_is_read_from_chroma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, fillers=6)
    refresh(settings)
    reads = _count_catalogue_reads(monkeypatch)
    Store.open(settings).write_meta(clean=False)  # as a killed refresh leaves it: commits after the last publish
    write(settings, "vety.md", DOCS["vety.md"] + "Toinen pilotti alkaa Raahessa.\n")
    assert refresh(settings).updated == 1
    assert len(reads) >= 1
    monkeypatch.undo()
    _same_as_a_full_build(settings, tmp_path)

    # no published folder for the current generation (its build failed, or another path): the store again
    reads = _count_catalogue_reads(monkeypatch)
    _, key = Store.open(settings).generation_key()
    for folder in artefacts.root_for(settings).iterdir():
        if folder.is_dir():
            (folder / "meta.json").unlink()
    write(settings, "vety.md", DOCS["vety.md"] + "Kolmas pilotti alkaa Kemissä.\n")
    assert refresh(settings).updated == 1
    assert len(reads) >= 1


def test_rows_copied_without_copy_file_range_are_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel copy of unchanged rows and sentence vectors has a fallback (not Linux, or two file systems)."""
    settings = _settings(tmp_path, fillers=6)
    refresh(settings)

    def refused(*args: object, **kwargs: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(artefacts.os, "copy_file_range", refused)
    write(settings, "metsa.md", DOCS["metsa.md"] + "Hanke päättyy vuonna 2025.\n")
    assert refresh(settings).updated == 1
    _same_as_a_full_build(settings, tmp_path)


def test_sentences_without_a_vector_are_asked_again(tmp_path: Path) -> None:
    """A folder built while the store lacked some sentence vectors marks them vectorless (NaN); the next
    incremental build reads them again instead of copying the NaN rows."""
    settings = _settings(tmp_path, fillers=6)
    refresh(settings)
    store = Store.open(settings)
    generation, key = store.generation_key()
    root = artefacts.root_for(settings)
    matrix = artefacts.Artefacts(root / key).sentence_matrix()
    assert matrix is not None
    gone = [k.decode() for k in matrix.keys[:3].tolist()]
    vectors = store.sentence_vectors(gone)
    store.sentences.delete(ids=gone)
    holey = artefacts.build(store, root, f"{key}-holey", generation, previous=None)  # the newest folder now
    assert holey.meta["sentence_vectors"]["found"] == len(matrix) - 3
    store.add_sentence_vectors(gone, np.vstack([vectors[k] for k in gone]))
    fresh = artefacts.build(store, root, f"{key}-again", generation, previous=holey,
                            changes={})
    assert fresh.meta["incremental"] and fresh.meta["sentence_vectors"]["read"] == 3
    got, unknown = fresh.sentence_matrix().get(gone)  # type: ignore[union-attr]
    assert not unknown and sorted(got) == sorted(gone)
    full = artefacts.build(store, tmp_path / "full", key, generation, previous=None)
    assert (fresh.path / "sentences.npy").read_bytes() == (full.path / "sentences.npy").read_bytes()


def test_progress_reports_every_changed_source_and_few_unchanged_ones(tmp_path: Path) -> None:
    settings = _settings(tmp_path, fillers=40)
    refresh(settings)
    write(settings, "muu-37.md", "# Muistio 37\n\nKokous siirtyi Iisalmeen.\n")
    calls: list[tuple[int, int, str]] = []
    summary = refresh(settings, progress=lambda i, n, src: calls.append((i, n, src)))
    assert (summary.updated, summary.unchanged) == (1, 42)
    names = sorted([*DOCS, *(f"muu-{i}.md" for i in range(40))])
    assert calls[0] == (0, 43, names[0]) and calls[-1] == (43, 43, "")
    assert (names.index("muu-37.md"), 43, "muu-37.md") in calls  # a source being loaded is always shown
    assert len(calls) < 10  # unchanged ones at most every PROGRESS_EVERY_S (0.1 s): 43 take far less
    assert [c[0] for c in calls] == sorted({c[0] for c in calls})
