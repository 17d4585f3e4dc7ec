"""Throughput alone (issue 14): the 16-client part of ``benchmarks.scale`` on a store built once and kept.

``python -m benchmarks.throughput --work DIR [--size 10000] [--clients 16] [--unbatched]``

The first run writes the synthesised store, its sentence vectors and artefacts under ``DIR`` (as
``benchmarks.scale`` does); later runs reuse them, so a change to the ask path is measured in minutes.
Prints the same figures as ``scale.py``'s ``throughput`` entry (answers/s, p95, server CPU per answer,
answers identical to the serial ones) plus the batcher's batch-size histogram from the server's log.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from assistant.config import load_settings
from benchmarks.corpus import eval_items, generate_document, spread
from benchmarks.measure import loadavg, release_chroma, settings_for, size_label
from benchmarks.scale import (
    CHUNKS_PER_DOC,
    TOKEN,
    _file_writer,
    _pool,
    add_sentence_vectors,
    bench_throughput,
)
from benchmarks.synthetic import build_synthetic_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pool-docs", type=int, default=120)
    parser.add_argument("--unbatched", action="store_true", help="also measure without the micro-batcher")
    parser.add_argument("--query-cache", type=int, default=0,
                        help="question vectors cached by the server (> 0: what an answer costs without the model)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", file=sys.stderr, flush=True)

    base = load_settings()
    label = size_label(args.size)
    s = settings_for(base, args.work / f"index-{label}", args.work / f"sources-{label}", query_cache=0,
                     admin_token=TOKEN)
    if not (args.work / f"built-{label}").exists():
        from assistant.knowledge import artefacts
        from assistant.knowledge.embeddings import embedder_from_settings
        from assistant.knowledge.store import Store

        log(f"{label}: writing the synthesised store once")
        pool = _pool(embedder_from_settings(base), args.pool_docs, base.chunk_chars, 0)
        s.sources.mkdir(parents=True, exist_ok=True)
        build_synthetic_store(s, args.size, pool, chunks_per_doc=CHUNKS_PER_DOC, seed=0, log=log,
                              raw_hash=_file_writer(s))
        add_sentence_vectors(s, pool, 0)
        store = Store.open(s)
        generation, key = store.generation_key()
        artefacts.open_or_build(store, artefacts.root_for(s), key, generation)
        release_chroma()
        (args.work / f"built-{label}").write_text("ok\n")
    questions = [i.question for i in eval_items([generate_document(i, seed=0) for i in spread(args.pool_docs, 40)])]
    out = {"loadavg_start": loadavg()}
    out.update(bench_throughput(s, questions[:24], args.work, args.clients, log, unbatched=args.unbatched,
                                query_cache=args.query_cache))
    out["loadavg_end"] = loadavg()
    print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
