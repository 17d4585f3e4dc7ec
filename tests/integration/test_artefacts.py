"""Per-generation artefacts (knowledge/artefacts.py) with real refreshes, real Chroma, real processes:
the refresh writes them, other processes open them without building, a missing folder is built once by
racing processes, an incremental build equals a full one; concurrent questions share model calls and
answer exactly as one at a time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from test_ingest import make_settings, write

from assistant.answering.assistant import Assistant
from assistant.answering.retrieve import KnowledgeBase, Snapshot
from assistant.answering.vocabulary import Vocabulary, vocabulary
from assistant.config import REPO_ROOT, Settings
from assistant.knowledge import artefacts
from assistant.knowledge.artefacts import BUILD_LOG, Artefacts
from assistant.knowledge.embeddings import embedder_from_settings
from assistant.knowledge.ingest import refresh
from assistant.knowledge.query_vectors import QueryVectors
from assistant.knowledge.store import Store

pytestmark = pytest.mark.slow

DOCS = {
    "kala.md": "# Kalatalous\n\nKainuun kalatalousryhmän yhteyshenkilö on Aino Pesonen, puh. 040 555 1234. "
    "Kalastusmatkailu kasvoi vuonna 2023 Kajaanissa.\n",
    "metsa.md": "# Metsäbiotalous\n\nPohjois-Karjalan metsäbiotalouden hanke alkoi vuonna 2021. "
    "Hanketta rahoittaa Pohjois-Karjalan liitto.\n",
    "vety.md": "# Vetytalous\n\nVetytalouden pilotti käynnistyi Oulussa. Lisätietoja antaa projektipäällikkö "
    "Matti Virtanen, puh. 040 777 8888.\n",
}
QUESTIONS = [
    "Kuka on kalatalousryhmän yhteyshenkilö?",
    "Milloin metsäbiotalouden hanke alkoi?",
    "Kuka rahoittaa metsäbiotalouden hanketta?",
    "Missä vetytalouden pilotti käynnistyi?",
    "Mikä on Matti Virtasen puhelinnumero?",
    "Kasvoiko kalastusmatkailu Kajaanissa?",
]

OPEN_AND_ASK = """
import json, sys
from assistant.answering.assistant import Assistant
from assistant.answering.retrieve import KnowledgeBase
from assistant.config import Settings
kb = KnowledgeBase(Settings())
answer = Assistant(Settings(), kb=kb).ask(sys.argv[1])
print(json.dumps({"key": kb.snapshot.key, "rows": len(kb.snapshot.ids), "answer": answer.answer}))
"""


def _settings(tmp_path: Path, fillers: int = 0) -> Settings:
    settings = make_settings(tmp_path)
    for name, text in DOCS.items():
        write(settings, name, text)
    for i in range(fillers):  # unchanged sources: few changed ones make the next build incremental
        write(settings, f"muu-{i}.md", f"# Muistio {i}\n\nKokous {i} pidettiin Kuopiossa vuonna {2000 + i}.\n")
    return settings


def _builds(settings: Settings) -> list[dict]:
    path = artefacts.root_for(settings) / BUILD_LOG
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_SOURCES=str(settings.sources),
        ASSISTANT_INDEX=str(settings.index),
        ASSISTANT_CHUNK_CHARS=str(settings.chunk_chars),
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def _spawn(settings: Settings, question: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", OPEN_AND_ASK, question],
        env=_env(settings),
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_refresh_writes_artefacts_that_another_process_opens(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    refresh(settings)
    generation, key = Store.open(settings).generation_key()
    builds = _builds(settings)
    assert [(b["key"], b["reason"]) for b in builds] == [(key, "refresh")]
    folder = artefacts.root_for(settings) / key
    assert (folder / "bm25" / "params.index.json").exists() and not list(folder.parent.glob(".tmp-*"))

    got = _result(_spawn(settings, QUESTIONS[0]))
    assert got["key"] == key and got["rows"] == len(Artefacts(folder))
    assert "Aino Pesonen" in got["answer"]
    assert _builds(settings) == builds  # opened, not built

    # the rows a process reads are the store's live chunks, text and metadata
    store = Store.open(settings)
    live = {cid: (text, meta) for cid, text, meta in store.live_chunks(Snapshot.of(Artefacts(folder)).versions)}
    art = Artefacts(folder)
    assert sorted(art.ids) == sorted(live)
    for i, cid in enumerate(art.ids):
        row = art.row(i)
        assert row["text"] == live[cid][0]
        assert row["meta"]["terms"] == live[cid][1]["terms"]


def test_missing_artefacts_are_built_once_by_racing_processes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    refresh(settings)
    root = artefacts.root_for(settings)
    _, key = Store.open(settings).generation_key()
    shutil.rmtree(root)  # e.g. a new shared path, or an index written before artefacts existed
    procs = [_spawn(settings, QUESTIONS[4]) for _ in range(3)]
    results = [_result(p) for p in procs]
    builds = _builds(settings)
    assert [(b["key"], b["reason"]) for b in builds] == [(key, "missing")]
    assert {r["key"] for r in results} == {key}
    assert len({r["answer"] for r in results}) == 1 and "040 777 8888" in results[0]["answer"]


def test_incremental_build_equals_a_full_build(tmp_path: Path) -> None:
    settings = _settings(tmp_path, fillers=8)
    refresh(settings)
    write(settings, "kala.md", DOCS["kala.md"].replace("2023", "2024") + "Uusi kalasatama avattiin Sotkamossa.\n")
    write(settings, "meri.md", "# Merituuli\n\nMerituulivoiman hanke alkoi Porissa vuonna 2022.\n")
    (settings.sources / "metsa.md").unlink()
    refresh(settings)
    store = Store.open(settings)
    generation, key = store.generation_key()
    builds = _builds(settings)
    assert builds[-1]["key"] == key and builds[-1]["incremental"] is True
    incremental = Artefacts(artefacts.root_for(settings) / key)
    full = artefacts.build(store, tmp_path / "full", key, generation, previous=None)
    assert full.meta["incremental"] is False

    assert incremental.ids == full.ids
    # token ids and the BM25 index itself: the same bytes as a full build of the same store
    for name in ("tokens.npy", "tokens.offsets.npy", *(f"bm25/{p.name}" for p in (full.path / "bm25").iterdir())):
        assert (incremental.path / name).read_bytes() == (full.path / name).read_bytes(), name
    assert incremental.row_bytes(0, len(full)) == full.row_bytes(0, len(full))
    assert incremental.spans == full.spans and incremental.versions == full.versions
    # the catalogue patched with the refresh's own changes equals the one read back from the store
    mine, theirs = incremental.raw_sources(), full.raw_sources()
    assert list(mine) == list(theirs)
    assert {s: m for s, m in mine.items() if theirs[s] != m} == {}
    assert (incremental.path / "sources.json").read_bytes() == (full.path / "sources.json").read_bytes()
    for name in ("surface", "lemmas"):
        assert incremental.counts(name) == full.counts(name)
    # sentence vectors: unchanged keys copied, only the new ones read from the store, same bytes as a full read
    for name in ("sentences.keys.npy", "sentences.counts.npy", "sentences.npy"):
        assert (incremental.path / name).read_bytes() == (full.path / name).read_bytes(), name
    copied = incremental.meta["sentence_vectors"]
    assert copied["copied"] > 0 and 0 < copied["read"] < full.meta["sentence_vectors"]["read"]
    assert full.meta["sentence_vectors"]["found"] == len(full.sentence_matrix() or [])
    assert "metsäbiotalous" not in incremental.counts("lemmas") and "kalasatama" in incremental.counts("lemmas")
    a, b = incremental.lexical(), full.lexical()
    assert dict(a.df) == dict(b.df)
    for terms in (["kalasatama"], ["hanke", "alkaa"], ["merituulivoima", "pori"]):
        np.testing.assert_array_equal(a.scores(terms), b.scores(terms))
    snaps = [Snapshot.of(incremental), Snapshot.of(full)]
    assert vocabulary(snaps[0]) == vocabulary(snaps[1])
    # the vocabulary of a snapshot equals the one built from its texts
    assert vocabulary(snaps[0]) == Vocabulary.of(list(snaps[0].texts), snaps[0].lexical.df)


def test_answers_from_the_sentence_matrix_equal_answers_from_the_store(tmp_path: Path) -> None:
    """The answerer reads sentence vectors from the generation's mapped matrix, never from Chroma, and
    answers byte for byte as from Chroma; a scheme change without a new generation falls back to Chroma."""
    settings = _settings(tmp_path, fillers=2)
    refresh(settings)
    kb = KnowledgeBase(settings, reload_every=0.0)
    store = kb.store
    matrix = kb.snapshot.artefacts.sentence_matrix() if kb.snapshot.artefacts else None
    assert matrix is not None and len(matrix) > 10
    keys = [k.decode() for k in np.asarray(matrix.keys).tolist()]
    stored = store.sentence_vectors(keys)
    mapped, unknown = matrix.get(keys)
    assert unknown == [] and set(mapped) == set(stored) == set(keys)
    assert all(mapped[k].tobytes() == stored[k].tobytes() for k in keys)  # the same float32 bits

    assistant = Assistant(settings, kb=kb)

    def answers() -> list[dict]:
        return [{k: v for k, v in assistant.ask(q).to_dict().items() if k != "timings_ms"} for q in QUESTIONS]

    reads: list[int] = []
    real = Store.sentence_vectors
    Store.sentence_vectors = lambda self, keys: reads.append(len(keys)) or real(self, keys)  # type: ignore[method-assign]
    try:
        from_matrix = answers()
        assert reads == []  # no question read Chroma's sentences
        kb.sentence_vectors = lambda snap: store  # type: ignore[method-assign,assignment,return-value]
        from_store = answers()
        assert reads
    finally:
        Store.sentence_vectors = real  # type: ignore[method-assign]
    del kb.sentence_vectors
    assert from_matrix == from_store and any(not a["refused"] for a in from_matrix)

    store.write_meta(sentence_scheme="")  # e.g. vectors switched off: dropped without a new generation
    assert kb.sentence_vectors(kb.current()).matrix is None


def _open_files(folder: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    return [t for fd in fds.iterdir() if (t := os.path.realpath(fd)).startswith(str(folder))]


def _refreshed_with_format(tmp_path: Path, fmt: str) -> tuple[Settings, Store, Path, str, int]:
    """A refreshed index whose current artefact folder claims to be of format ``fmt`` (an older release's)."""
    settings = _settings(tmp_path, fillers=4)
    refresh(settings)
    store = Store.open(settings)
    generation, key = store.generation_key()
    root = artefacts.root_for(settings)
    meta_file = root / key / "meta.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "format": fmt}))
    return settings, store, root, key, generation


def test_folder_of_an_older_layout_is_rebuilt_and_never_a_base(tmp_path: Path) -> None:
    """An index whose artefacts were written by an older release (format "a1": no token ids): the process
    replaces the folder under the same key, and the next refresh does not build incrementally from it."""
    settings, store, root, key, generation = _refreshed_with_format(tmp_path, "a1")
    meta_file = root / key / "meta.json"
    (root / key / "tokens.npy").unlink()
    opened = artefacts.open_or_build(store, root, key, generation)
    assert opened.meta["format"] == artefacts.FORMAT and opened.meta["reason"] == "missing"
    assert (root / key / "tokens.npy").exists() and not list(root.glob(".tmp-*"))
    old = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**old, "format": "a1"}))  # the base of the next refresh is old again
    write(settings, "vety.md", DOCS["vety.md"] + "Pilotti laajeni Raaheen.\n")
    refresh(settings)
    assert _builds(settings)[-1]["incremental"] is False
    fresh = Artefacts(root / Store.open(settings).generation_key()[1])
    assert "raahe" in fresh.lexical().df



def test_folder_of_an_older_format_is_rebuilt_with_the_current_bm25_parameters(tmp_path: Path) -> None:
    """A folder of an older format ("a2": no k1/b in its format) is rebuilt, and the rebuilt index scores as
    bm25s does with the current k1 and b over the same terms."""
    import bm25s

    from assistant.knowledge.lexical import K1, B

    settings, store, root, key, generation = _refreshed_with_format(tmp_path, "a2")
    opened = artefacts.open_or_build(store, root, key, generation)
    assert opened.meta["format"] == artefacts.FORMAT != "a2" and opened.meta["reason"] == "missing"
    snap = Snapshot.of(opened)
    terms = [(m.get("terms") or "").split() for m in snap.metas]
    reference = bm25s.BM25(k1=K1, b=B)
    reference.index(terms, show_progress=False)
    query = ["vety", "pilotti", "hanke"]
    known = [t for t in query if t in snap.lexical.df]
    assert known
    np.testing.assert_allclose(snap.lexical.scores(query), reference.get_scores(known), rtol=1e-6)


def test_failed_build_closes_its_rows_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    refresh(settings)
    store = Store.open(settings)
    generation, key = store.generation_key()
    rows = store.live_chunks({s: r.version for s, r in store.live_sources().items()})
    broken = [(cid, text, {**meta, "index": "x"}) for cid, text, meta in rows]  # a corrupt chunk record
    monkeypatch.setattr(store, "live_chunks", lambda versions: broken)
    with pytest.raises(ValueError) as excinfo:
        artefacts.build(store, tmp_path / "art", key, generation, previous=None)
    # the traceback (kept by whoever reports the failure) holds build's frame: the file must be closed, not freed
    assert excinfo.traceback[-1].path.name == "artefacts.py"
    assert _open_files(tmp_path / "art") == []


def test_prune_skips_folders_another_process_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "art"
    for i in range(artefacts.KEEP + 2):
        (root / f"gen-{i}").mkdir(parents=True)
        os.utime(root / f"gen-{i}", (1000 + i, 1000 + i))
    (root / ".tmp-gone-1").symlink_to(root / "renamed-meanwhile")  # listed, then gone
    is_dir = Path.is_dir

    def racing_is_dir(self: Path) -> bool:
        found = is_dir(self)
        if found and self == root / "gen-0":
            shutil.rmtree(self)  # another process prunes it right after this one saw it
        return found

    monkeypatch.setattr(Path, "is_dir", racing_is_dir)
    artefacts._prune(root, keep=root / f"gen-{artefacts.KEEP + 1}")
    left = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    assert left == sorted(f"gen-{i}" for i in range(2, artefacts.KEEP + 2))  # keep + the KEEP - 1 newest


def test_concurrent_questions_share_model_calls_and_answer_as_serial(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    refresh(settings)
    serial_kb = KnowledgeBase(settings.model_copy(update={"query_batching": False, "query_cache": 0}))
    assert serial_kb.queries.batcher is None
    serial = {q: Assistant(settings, kb=serial_kb).ask(q) for q in QUESTIONS}

    batched_kb = KnowledgeBase(settings.model_copy(update={"query_cache": 0}))
    assistant = Assistant(settings, kb=batched_kb)
    asked = QUESTIONS * 3
    answers: dict[int, object] = {}
    start = threading.Barrier(len(asked))

    def ask(i: int) -> None:
        start.wait()
        answers[i] = assistant.ask(asked[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(asked))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    batcher = batched_kb.queries.batcher
    assert batcher is not None and batcher.calls < len(asked)  # questions shared model calls
    for i, q in enumerate(asked):
        got, want = answers[i], serial[q]
        assert got.answer == want.answer  # type: ignore[attr-defined]
        assert [c.chunk_id for c in got.citations] == [c.chunk_id for c in want.citations]  # type: ignore[attr-defined]


def test_question_vectors_are_cached_and_bit_identical_in_batches(kb_settings: Settings) -> None:
    embedder = embedder_from_settings(kb_settings)
    vectors = QueryVectors(embedder, cache_size=8)
    one = vectors.embed("Kuka rahoittaa  ELMO-hanketta?\n")
    assert one is vectors.embed("Kuka rahoittaa ELMO-hanketta?")  # the same normalised question: cached
    np.testing.assert_array_equal(one, embedder.embed_query("Kuka rahoittaa ELMO-hanketta?"))
    batch = embedder.embed_queries(QUESTIONS)  # type: ignore[attr-defined]
    for q, v in zip(QUESTIONS, batch, strict=True):
        np.testing.assert_array_equal(v, embedder.embed_query(q))
