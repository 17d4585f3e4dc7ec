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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
PER_SOURCE = 10


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synth_vectors(n: int, rng: np.random.Generator, topics: int = 200) -> np.ndarray:
    """e5-like: every pair has cosine ~0.7-0.8 (shared direction), topics ~0.85, chunk pairs ~0.9."""
    common = rng.normal(size=DIM)
    centres = rng.normal(size=(topics, DIM))
    topic = rng.integers(0, topics, size=n)
    noise = rng.normal(size=(n, DIM))
    return _unit(
        3.2 * _unit(common)[None, :] + 1.3 * _unit(centres)[topic] + 1.1 * _unit(noise)
    )


def _open(path: Path) -> Any:
    from assistant.knowledge.store import Store, make_client

    return Store(make_client(None, path), "bench")


def _records(vectors: np.ndarray, first_source: int, version: str) -> tuple[list[str], list[str], list[dict]]:
    ids, texts, metas = [], [], []
    for i in range(len(vectors)):
        source = f"s{first_source + i // PER_SOURCE:05d}"
        ids.append(f"{source}:{version}:{i % PER_SOURCE}")
        texts.append(f"chunk {i % PER_SOURCE} of {source} {version}")
        metas.append({"source": source, "version": version, "text_hash": f"{source}{version}{i}"})
    return ids, texts, metas


def build(path: Path, chunks: int, changed: int, seed: int, hnsw: dict[str, int] | None = None) -> dict[str, Any]:
    """A store of ``chunks`` chunks, then a refresh giving ``changed`` chunks' sources a new version."""
    rng = np.random.default_rng(seed)
    store = _open(path)
    if hnsw:  # an experiment: other HNSW settings than Store's
        store.chunks.modify(configuration={"hnsw": hnsw})
        store = _open(path)
    vectors = synth_vectors(chunks, rng)
    ids, texts, metas = _records(vectors, 0, "v1")
    store.add_chunks(ids, vectors, texts, metas)
    live = {m["source"]: "v1" for m in metas}
    # the refresh: new versions of the first sources, close to the old text (an edit), old versions deleted
    new = _unit(vectors[:changed] + 0.25 * rng.normal(size=(changed, DIM)) / np.sqrt(DIM) * 4)
    nids, ntexts, nmetas = _records(new, 0, "v2")
    store.add_chunks(nids, new, ntexts, nmetas)
    for source in sorted({m["source"] for m in nmetas}):
        live[source] = "v2"
        store.delete_stale_chunks(source, "v2")
    live_vectors = np.concatenate([new, vectors[changed:]])
    live_ids = nids + ids[changed:]
    # questions: near refreshed chunks (where the log replay matters) and near untouched ones
    picks = np.concatenate([rng.integers(0, changed, 40), rng.integers(changed, chunks, 20)])
    queries = _unit(live_vectors[np.minimum(picks, len(live_vectors) - 1)] + rng.normal(size=(60, DIM)) * 0.03)
    return {"live": live, "queries": queries.tolist(), "live_ids": live_ids, "live_vectors": live_vectors}


def ask(path: Path, queries: list[list[float]], live: dict[str, str], depth: int) -> dict[str, Any]:
    """What one fresh process sees (run in a subprocess)."""
    store = _open(path)
    t = time.perf_counter()
    out = [[h.id for h in store.dense(np.asarray(q, dtype=np.float32), depth, live)] for q in queries]
    per_query_ms = (time.perf_counter() - t) * 1000 / max(1, len(queries))
    return {"ids": out, "ms": per_query_ms}


def _child(args: argparse.Namespace) -> int:
    job = json.loads(Path(args.child).read_text())
    print(json.dumps(ask(Path(job["path"]), job["queries"], job["live"], job["depth"])))
    return 0


def run(chunks: int, changed: int, processes: int, depth: int, seed: int, where: Path,
        hnsw: dict[str, int] | None = None) -> dict[str, Any]:
    t = time.perf_counter()
    built = build(where / "store", chunks, changed, seed, hnsw)
    build_s = time.perf_counter() - t
    job = where / "job.json"
    job.write_text(json.dumps({"path": str(where / "store"), "queries": built["queries"],
                               "live": built["live"], "depth": depth}))
    answers = []
    for _ in range(processes):
        got = subprocess.run([sys.executable, "-m", "benchmarks.dense_agreement", "--child", str(job)],
                             capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
        answers.append(json.loads(got.stdout.strip().splitlines()[-1]))
    q = np.asarray(built["queries"], dtype=np.float32)
    exact = np.argsort(-(q @ built["live_vectors"].T), axis=1)[:, :depth]
    truth = [{built["live_ids"][j] for j in row} for row in exact]
    differ = sum(1 for i in range(len(q)) if len({tuple(a["ids"][i]) for a in answers}) > 1)
    missed = [sum(len(truth[i] - set(a["ids"][i])) for i in range(len(q))) for a in answers]
    return {
        "chunks": chunks, "changed": changed, "processes": processes, "queries": len(q), "depth": depth,
        "queries_differing_between_processes": differ,
        "exact_neighbours_missed_per_process": missed,
        "recall": round(1 - sum(missed) / (len(answers) * len(q) * depth), 5),
        "dense_ms_per_query": [round(a["ms"], 2) for a in answers],
        "build_s": round(build_s, 1),
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
    p.add_argument("--hnsw", type=json.loads, help='experiment: HNSW settings to modify, e.g. {"ef_search": 200}')
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    where = args.dir or Path(tempfile.mkdtemp(prefix="dense-agreement-"))
    where.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.chunks, args.changed, args.processes, args.depth, args.seed, where, args.hnsw)
    finally:
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
