"""Runs every section and writes bench.json, summary.md and the plots."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from benchmarks.corpus import SCHEMA_VERSION, Log, eval_items, generate_document, spread
from benchmarks.measure import BenchConfig, loadavg, machine_info, release_chroma, size_label
from benchmarks.report import summary_markdown, targets, write_plots
from benchmarks.sections import bench_ingest, bench_knowledge, bench_size
from benchmarks.serving import bench_chroma_server

# ------------------------------------------------------------------------------------------------------
# entry points
# ------------------------------------------------------------------------------------------------------


def _config_record(settings: Settings, cfg: BenchConfig) -> dict[str, Any]:
    """What the run was configured with, for the results."""
    return {
        "sizes": cfg.sizes,
        "ingest_docs": cfg.ingest_docs,
        "chunks_per_doc": cfg.chunks_per_doc,
        "ask_queries": cfg.ask_queries,
        "eval_questions": cfg.eval_questions,
        "concurrency": cfg.concurrency,
        "requests_per_level": {str(k): v for k, v in cfg.requests_per_level.items()},
        "embed_backend": settings.embed_backend,
        "embed_threads": settings.embed_threads,
        "chunk_chars": settings.chunk_chars,
        "top_k": settings.top_k,
        "mode": "extractive",
        "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")},
    }


def _real_store_for(n: int, sizes: list[int], real: tuple[Settings, int]) -> tuple[Settings, int] | None:
    """The real-embedding store (settings, chunk count) stands for the size nearest its own chunk count,
    if within a factor of 2 of it."""
    chunks = real[1]
    if n != min(sizes, key=lambda s: abs(s - chunks)) or not 0.5 <= chunks / n <= 2.0:
        return None
    return real


def _bench_sizes(
    settings: Settings,
    embedder: Any,
    cfg: BenchConfig,
    tmp: Path,
    say: Log,
    real: tuple[Settings, int],
    pool: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Each store size in turn, by its label."""
    out: dict[str, Any] = {}
    for n in cfg.sizes:
        entry = bench_size(settings, embedder, n, cfg, tmp, say, _real_store_for(n, cfg.sizes, real), pool)
        entry.pop("settings")
        out[size_label(n)] = entry
        release_chroma()
    return out


def _chroma_server_figures(
    settings: Settings, pool: dict[str, np.ndarray], cfg: BenchConfig, tmp: Path, say: Log
) -> dict[str, Any]:
    """The store on a `chroma run` server; an error is reported in the figures."""

    def questions_of(n_docs: int) -> list[str]:
        real_docs = min(n_docs, cfg.ingest_docs)
        return [
            i.question
            for i in eval_items(
                [generate_document(j, seed=cfg.seed) for j in spread(real_docs, cfg.ask_queries)]
            )
        ]

    try:
        return bench_chroma_server(settings, pool, questions_of, cfg, tmp, say)
    except Exception as exc:  # noqa: BLE001 - reported in the results
        return {"error": f"{type(exc).__name__}: {exc}"}


def _server_errors(tmp: Path) -> dict[str, str]:
    """Server logs only when something went wrong in them (the figures say what)."""
    logs = {p.name: p.read_text(errors="replace") for p in sorted(tmp.glob("serve-*.log"))}
    return {k: v[-2000:] for k, v in logs.items() if "Traceback" in v or "ERROR" in v}


def run(
    settings: Settings,
    cfg: BenchConfig,
    *,
    quick: bool = False,
    log: Log | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """All the figures as one JSON-serialisable dict."""
    from assistant.knowledge.embeddings import embedder_from_settings

    t_start = time.perf_counter()
    say: Log = log or (lambda msg: None)
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "quick": quick,
        "command": "assistant bench" + (" --quick" if quick else ""),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "config": _config_record(settings, cfg),
    }
    tmp = Path(tempfile.mkdtemp(prefix="elmo-bench-", dir=workdir))
    try:
        t = time.perf_counter()
        embedder = embedder_from_settings(settings)
        results["model_load_s"] = round(time.perf_counter() - t, 3)
        if cfg.knowledge:
            results["knowledge"] = bench_knowledge(settings, embedder, cfg, tmp, say)
        ingest, ingest_settings, pool = bench_ingest(settings, embedder, cfg, tmp, say)
        results["ingest"] = ingest
        real = (ingest_settings, ingest["chunks"])
        results["sizes"] = _bench_sizes(settings, embedder, cfg, tmp, say, real, pool)
        if cfg.chroma_server_size:
            results["chroma_server"] = _chroma_server_figures(settings, pool, cfg, tmp, say)
        results["server_errors"] = _server_errors(tmp)
    finally:
        release_chroma()
        shutil.rmtree(tmp, ignore_errors=True)
    results["machine"]["loadavg_end"] = loadavg()
    results["duration_s"] = round(time.perf_counter() - t_start, 1)
    results["targets"] = targets(results)
    return results


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, np.floating | np.integer):
        return _jsonable(x.item())
    if isinstance(x, Path):
        return str(x)
    return x


def run_cli(settings: Settings, args: Any) -> int:
    quick = bool(getattr(args, "quick", False))
    cfg = BenchConfig.quick() if quick else BenchConfig.full()
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", file=sys.stderr, flush=True)

    log(f"assistant bench{' --quick' if quick else ''}: sizes {[size_label(n) for n in cfg.sizes]}")
    results = _jsonable(run(settings, cfg, quick=quick, log=log))
    out: Path | None = getattr(args, "out", None)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(
            json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        (out / "summary.md").write_text(summary_markdown(results), encoding="utf-8")
        plots = write_plots(results, out)
        log(f"wrote {out / 'bench.json'}, summary.md, {', '.join(plots)}")
    if getattr(args, "json", False):
        print(json.dumps(results, ensure_ascii=False))
    else:
        print(summary_markdown(results))
    return 0  # a missed target is reported in the figures, not an error
