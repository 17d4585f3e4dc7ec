"""Do fresh processes agree on a dense search after a refresh? (issue 14, Chroma 1.5.9 embedded)

``python -m benchmarks.dense_agreement [--chunks 3000] [--changed 300] [--processes 6] [--queries 60]
[--depth 40] [--dir DIR] [--keep] [--json]``

Builds a store through ``Store`` (synthetic unit vectors shaped like e5's: one shared direction, topic
clusters, near-duplicate chunks), refreshes some sources (new versions upserted, old ones deleted, as a
refresh does), then asks ``--processes`` fresh interpreters the same ``Store.dense`` queries. Reports how
many queries got a different list in some process, and recall against an exact search over the live chunks.

Why processes can differ: Chroma 1.x's embedded HNSW is persisted every ``sync_threshold`` (1000) records;
each process that opens the store replays the newer log records into its own in-memory graph, in parallel
and in hash-map order (rust/segment/src/local_hnsw.rs ``apply_log_chunk``), so each builds a slightly
different graph, and an approximate search with a small ``ef_search`` can miss a near neighbour in one of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
_ROOT = Path(__file__).resolve().parents[1]
_HNSW_ENV = "DENSE_AGREEMENT_HNSW"
PER_SOURCE = 10


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synth_vectors(n: int, rng: np.random.Generator, topics: int = 200) -> np.ndarray:
    """e5-like: every pair has cosine ~0.7-0.8 (shared direction), topics ~0.85, chunk pairs ~0.9."""
    common = rng.normal(size=DIM)
    centres = rng.normal(size=(topics, DIM))
    topic = rng.integers(0, topics, size=n)
    noise = rng.normal(size=(n, DIM))
    return _unit(3.2 * _unit(common)[None, :] + 1.3 * _unit(centres)[topic] + 1.1 * _unit(noise))


def _open(path: Path) -> Any:
    from assistant.knowledge import store

    if (
        _HNSW_ENV in os.environ
    ):  # an experiment: other HNSW settings than Store's (every process applies them)
        store.CHUNK_HNSW = json.loads(os.environ[_HNSW_ENV])
    return store.Store(store.make_client(None, path), "bench", path)


def _records(vectors: np.ndarray, first_source: int, version: str) -> tuple[list[str], list[str], list[dict]]:
    ids, texts, metas = [], [], []
    for i in range(len(vectors)):
        source = f"s{first_source + i // PER_SOURCE:05d}"
        ids.append(f"{source}:{version}:{i % PER_SOURCE}")
        texts.append(f"chunk {i % PER_SOURCE} of {source} {version}")
        metas.append({"source": source, "version": version, "text_hash": f"{source}{version}{i}"})
    return ids, texts, metas


def build(
    path: Path,
    chunks: int,
    changed: int,
    seed: int,
    before_refresh: Callable[[list[list[float]], dict[str, str]], None] | None = None,
) -> dict[str, Any]:
    """A store of ``chunks`` chunks, then a refresh giving ``changed`` chunks' sources a new version
    (``before_refresh`` is called with the questions and the old live versions in between)."""
    rng = np.random.default_rng(seed)
    store = _open(path)
    vectors = synth_vectors(chunks, rng)
    ids, texts, metas = _records(vectors, 0, "v1")
    # the refresh: new versions of the first sources, close to the old text (an edit), old versions deleted
    new = _unit(vectors[:changed] + 0.25 * rng.normal(size=(changed, DIM)) / np.sqrt(DIM) * 4)
    nids, ntexts, nmetas = _records(new, 0, "v2")
    live_vectors = np.concatenate([new, vectors[changed:]])
    live_ids = nids + ids[changed:]
    # questions: near refreshed chunks (where the log replay matters) and near untouched ones
    picks = np.concatenate([rng.integers(0, changed, 40), rng.integers(changed, chunks, 20)])
    queries = _unit(
        live_vectors[np.minimum(picks, len(live_vectors) - 1)] + rng.normal(size=(60, DIM)) * 0.03
    )

    store.add_chunks(ids, vectors, texts, metas)
    live = {m["source"]: "v1" for m in metas}
    if before_refresh:
        before_refresh(queries.tolist(), dict(live))
    store.add_chunks(nids, new, ntexts, nmetas)
    for source in sorted({m["source"] for m in nmetas}):
        live[source] = "v2"
        store.delete_stale_chunks(source, "v2")
    return {"live": live, "queries": queries.tolist(), "live_ids": live_ids, "live_vectors": live_vectors}


def ask(store: Any, queries: list[list[float]], live: dict[str, str], depth: int) -> dict[str, Any]:
    """What one process sees."""
    t = time.perf_counter()
    out = [[h.id for h in store.dense(np.asarray(q, dtype=np.float32), depth, live)] for q in queries]
    per_query_ms = (time.perf_counter() - t) * 1000 / max(1, len(queries))
    return {"ids": out, "ms": per_query_ms}


def _serve(path: Path, reopen: bool) -> int:
    """A long-lived process: answers a JSON line {queries, live, depth} per line from the store it opened
    first (with ``reopen``, ``Store.reopen()`` before each later request, as an app does on a new generation)."""
    store = _open(path)
    for n, line in enumerate(sys.stdin):
        if reopen and n:
            store.reopen()
        job = json.loads(line)
        print(json.dumps(ask(store, job["queries"], job["live"], job["depth"])), flush=True)
    return 0


class LongLived:
    """``count`` processes that open the store before the refresh and answer again after it."""

    def __init__(self, path: Path, count: int, reopen: bool, depth: int) -> None:
        cmd = [sys.executable, "-m", "benchmarks.dense_agreement", "--serve", str(path)] + (
            ["--reopen"] if reopen else []
        )
        self.depth = depth
        self.procs = [
            subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=_ROOT)
            for _ in range(count)
        ]

    def ask(self, queries: list[list[float]], live: dict[str, str]) -> list[dict[str, Any]]:
        line = json.dumps({"queries": queries, "live": live, "depth": self.depth}) + "\n"
        out = []
        for p in self.procs:
            assert p.stdin and p.stdout
            p.stdin.write(line)
            p.stdin.flush()
            out.append(json.loads(p.stdout.readline()))
        return out

    def close(self) -> None:
        for p in self.procs:
            if p.stdin:
                p.stdin.close()
            p.wait(timeout=60)


def _child(args: argparse.Namespace) -> int:
    job = json.loads(Path(args.child).read_text())
    print(json.dumps(ask(_open(Path(job["path"])), job["queries"], job["live"], job["depth"])))
    return 0


def run(
    chunks: int,
    changed: int,
    processes: int,
    depth: int,
    seed: int,
    where: Path,
    hnsw: dict[str, int] | None = None,
    long_lived: int = 0,
    reopen: bool = False,
) -> dict[str, Any]:
    """``processes`` fresh processes after the refresh, plus ``long_lived`` ones opened before it; every
    answer is compared with the first fresh process's."""
    if hnsw:
        os.environ[_HNSW_ENV] = json.dumps(hnsw)
    t = time.perf_counter()
    (where / "store").mkdir(parents=True, exist_ok=True)
    old = LongLived(where / "store", long_lived, reopen, depth) if long_lived else None
    try:
        built = build(where / "store", chunks, changed, seed, old.ask if old else None)
        lived = old.ask(built["queries"], built["live"]) if old else []
    finally:
        if old:
            old.close()
    build_s = time.perf_counter() - t
    job = where / "job.json"
    job.write_text(
        json.dumps(
            {"path": str(where / "store"), "queries": built["queries"], "live": built["live"], "depth": depth}
        )
    )
    answers = []
    for _ in range(processes):
        got = subprocess.run(
            [sys.executable, "-m", "benchmarks.dense_agreement", "--child", str(job)],
            capture_output=True,
            text=True,
            check=True,
            cwd=_ROOT,
        )
        answers.append(json.loads(got.stdout.strip().splitlines()[-1]))
    q = np.asarray(built["queries"], dtype=np.float32)
    exact = np.argsort(-(q @ built["live_vectors"].T), axis=1)[:, :depth]
    truth = [{built["live_ids"][j] for j in row} for row in exact]
    differ = sum(1 for i in range(len(q)) if len({tuple(a["ids"][i]) for a in answers}) > 1)
    missed = [sum(len(truth[i] - set(a["ids"][i])) for i in range(len(q))) for a in answers]
    return {
        "chunks": chunks,
        "changed": changed,
        "processes": processes,
        "queries": len(q),
        "depth": depth,
        "queries_differing_between_processes": differ,
        "exact_neighbours_missed_per_process": missed,
        "recall": round(1 - sum(missed) / (len(answers) * len(q) * depth), 5),
        "dense_ms_per_query": [round(a["ms"], 2) for a in answers],
        "build_s": round(build_s, 1),
        **(
            {
                "long_lived_queries_differing_from_fresh": [
                    sum(1 for i in range(len(q)) if a["ids"][i] != answers[0]["ids"][i]) for a in lived
                ],
                "long_lived_reopen": reopen,
            }
            if lived
            else {}
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=3000)
    p.add_argument("--changed", type=int, default=300)
    p.add_argument("--processes", type=int, default=6)
    p.add_argument("--depth", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dir", type=Path)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--hnsw", type=json.loads, help='experiment: HNSW settings to modify, e.g. {"ef_search": 200}'
    )
    p.add_argument(
        "--long-lived", type=int, default=0, help="processes that open the store before the refresh"
    )
    p.add_argument(
        "--reopen", action="store_true", help="long-lived processes reopen Chroma after the refresh"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    if args.serve:
        return _serve(args.serve, args.reopen)
    where = args.dir or Path(tempfile.mkdtemp(prefix="dense-agreement-"))
    where.mkdir(parents=True, exist_ok=True)
    try:
        result = run(
            args.chunks,
            args.changed,
            args.processes,
            args.depth,
            args.seed,
            where,
            args.hnsw,
            args.long_lived,
            args.reopen,
        )
    finally:
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
