"""The same refresh cycle against a real Chroma server (`chroma run --path ... --port ...`) started by
the test: ASSISTANT_CHROMA_URL instead of the embedded PersistentClient."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from support.network import free_port
from support.processes import terminate
from test_ingest import (
    KALA,
    METSA,
    Q_KALA,
    ST_MODEL,
    assert_rebuilt_with,
    assert_summary,
    check_bad_input_summary,
    check_completed,
    cited,
    kill_and_recover,
    live,
    make_settings,
    run_lifecycle,
    write,
    write_bad_inputs,
    write_doc,
)

from assistant.answering.assistant import Assistant
from assistant.answering.retrieve import KnowledgeBase
from assistant.config import Settings
from assistant.knowledge.embeddings import embedder_from_settings
from assistant.knowledge.ingest import embed_text, refresh
from assistant.knowledge.store import ModelMismatch, Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.fail(f"the chroma CLI is not installed next to {sys.executable}")
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("chroma run did not start: " + (root / "server.log").read_text()[-2000:])
            time.sleep(0.1)
        yield url
    finally:
        terminate(proc, timeout=10)
        log.close()


def server_settings(tmp_path: Path, chroma_url: str, **overrides: object) -> Settings:
    # one collection prefix per test: the tests share the server
    return make_settings(tmp_path, chroma_url=chroma_url, collection=f"t{uuid.uuid4().hex[:10]}", **overrides)


def test_lifecycle_on_server(tmp_path: Path, chroma_url: str) -> None:
    settings = server_settings(tmp_path, chroma_url)
    run_lifecycle(settings)
    assert not (settings.index / "chroma").exists()  # nothing went to an embedded store
    assert (settings.index / "refresh.lock").exists()  # the lock stays local


def test_bad_inputs_on_server(tmp_path: Path, chroma_url: str) -> None:
    settings = server_settings(tmp_path, chroma_url)
    unreachable = f"http://127.0.0.1:{free_port()}/sivu.html"
    write_bad_inputs(settings, unreachable)
    s = refresh(settings)
    check_bad_input_summary(s.failed, unreachable)
    assert set(live(settings)) == {"metsa.txt", "latin1.txt"}
    assert s.added == 2


def test_refresh_killed_on_server(tmp_path: Path, chroma_url: str) -> None:
    settings = server_settings(tmp_path, chroma_url, chunk_chars=120)
    kill_and_recover(settings, fractions=(0.2, 0.6), n_docs=20, compare_clean=False)


def test_model_switch_on_server(tmp_path: Path, chroma_url: str) -> None:
    e5 = server_settings(tmp_path, chroma_url)
    st = e5.model_copy(update={"embed_backend": "sentence-transformers", "embed_model": ST_MODEL})
    write(e5, "kalastus.md", KALA)
    write(e5, "metsa.txt", METSA)
    refresh(e5)
    e5_key = Store.open(e5).generation_key()[1]
    with pytest.raises(ModelMismatch, match="run `assistant refresh`"):
        Assistant(st)
    s = refresh(st)
    assert any("rebuilding the whole index" in note for note in s.notes)
    total = sum(r.chunks for r in live(st).values())
    assert_summary(s, added=2, chunks_embedded=total)
    got = Store.open(st).chunks.get(include=["embeddings", "documents", "metadatas"])
    expected = embedder_from_settings(st).embed_passages(
        [embed_text(m["title"], d) for d, m in zip(got["documents"], got["metadatas"], strict=True)]
    )
    np.testing.assert_allclose(np.asarray(got["embeddings"]), expected, atol=1e-4)
    assert Store.open(st).meta()["embed_id"] == f"sentence-transformers:{ST_MODEL}"
    assert_rebuilt_with(st, e5_key)
    with pytest.raises(ModelMismatch):
        KnowledgeBase(e5)
    assert cited(st, Q_KALA) == {"kalastus.md"}


def test_readers_follow_a_refresh_done_elsewhere(tmp_path: Path, chroma_url: str) -> None:
    settings = server_settings(tmp_path, chroma_url, chunk_chars=120)
    history: dict[str, list[str]] = defaultdict(list)
    write_doc(settings, 1, 0, history)
    refresh(settings)
    kb = KnowledgeBase(settings, reload_every=0)  # an app process's knowledge base
    before = kb.current()
    assert set(before.sources) == {"doc-001.txt"}
    write_doc(settings, 1, 1, history)
    write_doc(settings, 2, 0, history)
    refresh(settings)
    after = kb.current()  # the generation changed: rebuilt without being told
    assert after.generation > before.generation
    assert set(after.sources) == {"doc-001.txt", "doc-002.txt"}
    assert not any("asiakirjan 1 versio 0" in t or "(1/0)" in t for t in after.texts)
    assert any("asiakirjan 1 versio 1" in t for t in after.texts)
    check_completed(settings, history)
