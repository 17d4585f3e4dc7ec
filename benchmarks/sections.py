"""The benchmark sections: the default corpus, ingestion, and each store size."""

from __future__ import annotations

import gc
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from benchmarks.corpus import (
    KNOWLEDGE_EVAL,
    Log,
    embed_texts_of,
    eval_items,
    generate_document,
    spread,
    write_corpus,
)
from benchmarks.measure import (
    BenchConfig,
    CpuMeter,
    cpu_seconds,
    embed_probe,
    loadavg,
    settings_for,
    size_label,
)
from benchmarks.retrieval import compare_retrievers, measure_asks
from benchmarks.serving import bench_serving
from benchmarks.synthetic import build_synthetic_store

# ------------------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------------------


def bench_knowledge(base: Settings, embedder: Any, cfg: BenchConfig, work: Path, log: Log) -> dict[str, Any]:
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase
    from assistant.knowledge.ingest import Refresher

    if not base.sources.is_dir():
        return {"skipped": f"no sources folder at {base.sources}"}
    s = settings_for(base, work / "knowledge-index", base.sources)
    log(f"knowledge: refreshing {base.sources}")
    summary = Refresher(s, embedder=embedder).run()
    rerefresh = [Refresher(s, embedder=embedder).run().seconds for _ in range(cfg.rerefresh_repeats)]
    kb = KnowledgeBase(s, embedder=embedder)
    out: dict[str, Any] = {
        "sources": summary.added,
        "chunks": kb.store.count_chunks(),
        "refresh_s": round(summary.seconds, 3),
        "chunks_per_s": round(summary.chunks_embedded / summary.seconds, 2) if summary.seconds else math.nan,
        "rerefresh_s": [round(x, 3) for x in rerefresh],
        "rerefresh_median_s": round(float(np.median(rerefresh)), 3) if rerefresh else math.nan,
    }
    log("knowledge: warm asks and the retriever comparison")
    items = KNOWLEDGE_EVAL[: cfg.eval_questions]
    out["embed_probe_ms"] = embed_probe(embedder)
    meter = CpuMeter()
    out["ask"] = measure_asks(Assistant(s, kb), [i.question for i in items], cfg.ask_queries, cfg.ask_warmup)
    out["ask"]["cpu"] = meter.result()
    out["retrievers"] = compare_retrievers(kb, items, s.top_k)
    return out


def _bare_embed(embedder: Any, texts: list[str], batch: int) -> tuple[float, float, np.ndarray]:
    """The bare model on ``texts`` in refresh-sized batches: wall seconds, CPU seconds, the vectors."""
    t, c = time.perf_counter(), cpu_seconds()
    vecs = [embedder.embed_passages(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    return (
        time.perf_counter() - t,
        cpu_seconds() - c,
        np.vstack(vecs) if vecs else np.zeros((0, embedder.dim)),
    )


def _throughput(wall: float, cpu: float, chunks: int) -> dict[str, float]:
    return {
        "seconds": round(wall, 2),
        "chunks_per_s": round(chunks / wall if wall else math.nan, 2),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_chunk": round(cpu / max(chunks, 1) * 1000, 2),
    }


def _ingest_ratios(pipe: tuple[float, float, int], bare: tuple[float, float, int]) -> dict[str, float]:
    """Pipeline over bare model: chunks/s (wall) and chunks per CPU second; each side (wall, cpu, chunks)."""
    (pipe_wall, pipe_cpu, n), (bare_wall, bare_cpu, m) = pipe, bare
    pipe_cps = n / pipe_wall if pipe_wall else math.nan
    bare_cps = m / bare_wall if bare_wall else math.nan
    return {
        "ratio": round(pipe_cps / bare_cps, 3) if bare_cps else math.nan,
        "cpu_ratio": round((bare_cpu / max(m, 1)) / (pipe_cpu / max(n, 1)), 3) if pipe_cpu else math.nan,
    }


def _stored_text_hashes(s: Settings) -> list[str]:
    """The text hashes of the live chunks of the store at ``s``."""
    from assistant.knowledge.store import Store

    store = Store.open(s)
    live = {k: r.version for k, r in store.live_sources().items()}
    hashes = [m["text_hash"] for _, _, m in store.live_chunks(live)]
    del store
    return hashes


def bench_ingest(
    base: Settings, embedder: Any, cfg: BenchConfig, work: Path, log: Log
) -> tuple[dict[str, Any], Settings, dict[str, np.ndarray]]:
    """Pipeline vs bare model on the same texts; returns the figures, the store's settings and the real
    vectors by embedded-text hash (the pool the synthesised stores draw from)."""
    from assistant.knowledge.chunking import text_hash
    from assistant.knowledge.ingest import Refresher

    docs = [generate_document(i, chunks=1, seed=cfg.seed) for i in range(cfg.ingest_docs)]
    src = work / "ingest-sources"
    write_corpus(src, docs)
    s = settings_for(base, work / "ingest-index", src)
    texts = embed_texts_of(docs, s.chunk_chars)
    batch = max(1, s.embed_batch)
    embedder.embed_passages(["lämmittely: ELMO-pilotti ja maakuntien strategia"] * 4)  # warm the model

    # bare model on half the texts before and half after the pipeline: drift in the machine's load
    # (other engineers' tests) then hits both sides alike
    first, second = texts[0::2], texts[1::2]
    probe = embed_probe(embedder)
    log(f"ingest: bare model on {len(first)} of {len(texts)} chunks")
    meter_bare = CpuMeter()
    w1, c1, v1 = _bare_embed(embedder, first, batch)
    cpu_bare1 = meter_bare.result()
    log(f"ingest: refreshing {len(docs)} generated documents")
    load0 = loadavg()
    meter_pipe = CpuMeter()
    t, c = time.perf_counter(), cpu_seconds()
    summary = Refresher(s, embedder=embedder).run()
    pipe_wall, pipe_cpu = time.perf_counter() - t, cpu_seconds() - c
    cpu_pipe = meter_pipe.result()
    log(f"ingest: bare model on the other {len(second)} chunks")
    meter_bare = CpuMeter()
    w2, c2, v2 = _bare_embed(embedder, second, batch)
    cpu_bare2 = meter_bare.result()
    pool = {text_hash(x): v for x, v in zip(first + second, np.vstack([v1, v2]), strict=True)}

    stored = _stored_text_hashes(s)
    log("ingest: unchanged re-refreshes")
    rerefresh = [Refresher(s, embedder=embedder).run().seconds for _ in range(cfg.rerefresh_repeats)]
    n = summary.chunks_embedded
    out = {
        "documents": len(docs),
        "chunks": len(stored),
        "chunks_embedded": n,
        "same_texts": sorted(text_hash(x) for x in texts) == sorted(stored),
        "failed": len(summary.failed),
        "pipeline": _throughput(pipe_wall, pipe_cpu, n),
        "bare_model": _throughput(w1 + w2, c1 + c2, len(texts)),
        **_ingest_ratios((pipe_wall, pipe_cpu, n), (w1 + w2, c1 + c2, len(texts))),
        "rerefresh_s": [round(x, 3) for x in rerefresh],
        "rerefresh_median_s": round(float(np.median(rerefresh)), 3) if rerefresh else math.nan,
        "loadavg": [load0, loadavg()],
        "embed_probe_ms": probe,
        "cpu": {"bare_before": cpu_bare1, "pipeline": cpu_pipe, "bare_after": cpu_bare2},
    }
    return out, s, pool


def bench_size(
    base: Settings,
    embedder: Any,
    n: int,
    cfg: BenchConfig,
    work: Path,
    log: Log,
    real_store: tuple[Settings, int] | None,
    pool: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One store size: build (or reuse the real one), warm asks, retriever comparison, serving."""
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase

    label = size_label(n)
    out: dict[str, Any] = {"target_chunks": n, "loadavg_start": loadavg()}
    if real_store is not None:
        s, _ = real_store
        out["vectors"] = "real"
        docs_n = cfg.ingest_docs
    else:
        s = settings_for(base, work / f"index-{label}", work / f"sources-{label}")
        s.sources.mkdir(parents=True, exist_ok=True)
        log(f"{label}: writing a synthesised store of {n:,} chunks")
        out["store"] = build_synthetic_store(
            s, n, pool, chunks_per_doc=cfg.chunks_per_doc, seed=cfg.seed, log=log
        )
        out["vectors"] = "synthesised (real for the lead chunks of the first documents)"
        docs_n = out["store"]["sources"]
    t = time.perf_counter()
    kb = KnowledgeBase(s, embedder=embedder)
    out["kb_load_s"] = round(time.perf_counter() - t, 2)
    out["chunks"] = len(kb.snapshot.ids)
    out["sources"] = len(kb.snapshot.sources)
    # questions whose answer chunk has a real vector: lead chunks of documents below the pool's size
    real_docs = min(docs_n, cfg.ingest_docs)
    items = eval_items(
        [
            generate_document(i, seed=cfg.seed)
            for i in spread(real_docs, max(cfg.eval_questions, cfg.ask_queries))
        ]
    )
    questions = [i.question for i in items]
    log(f"{label}: {cfg.ask_queries} warm asks on {out['chunks']:,} chunks")
    out["embed_probe_ms"] = embed_probe(embedder)
    meter = CpuMeter()
    out["ask"] = measure_asks(Assistant(s, kb), questions, cfg.ask_queries, cfg.ask_warmup)
    out["ask"]["cpu"] = meter.result()
    log(f"{label}: our retrieval vs llama-index VectorStoreIndex")
    out["retrievers"] = compare_retrievers(kb, items[: cfg.eval_questions], s.top_k)
    del kb
    gc.collect()
    if cfg.serve:
        log(f"{label}: `assistant serve`: cold start, /api/ask with {cfg.concurrency} clients")
        try:
            out["serve"] = bench_serving(s, questions, cfg, work, label)
        except Exception as exc:  # noqa: BLE001 - the rest of the figures still count
            out["serve"] = {"error": f"{type(exc).__name__}: {exc}"}
    out["loadavg_end"] = loadavg()
    out["settings"] = s
    return out
