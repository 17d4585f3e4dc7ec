"""Throughput alone (issue 14): the 16-client part of ``benchmarks.scale`` on a store built once and kept.

``python -m benchmarks.throughput --work DIR [--size 10000] [--clients 16] [--unbatched] [--in-process]``

The first run writes the synthesised store, its sentence vectors and artefacts under ``DIR`` (as
``benchmarks.scale`` does); later runs reuse them, so a change to the ask path is measured in minutes.
Prints the same figures as ``scale.py``'s ``throughput`` entry (answers/s, p95, server CPU per answer,
answers identical to the serial ones). ``--in-process`` measures the same clients as threads calling
``Assistant.ask`` in this process instead of a server, and adds what the question batcher did (model calls
by batch size and by model threads, the share of the time 0/1/2 embedding workers were in a call). Before and after the clients,
the bare model's ceiling on this machine is measured (one single-threaded caller per core embedding the same
questions, ``embedding_ceiling``), and each run reports its share of it: the figure issue 14 sets at ≥ 85 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from assistant.config import load_settings
from benchmarks.corpus import eval_items, generate_document, spread
from benchmarks.measure import (
    CpuMeter,
    cpu_seconds,
    embedding_ceiling,
    loadavg,
    release_chroma,
    settings_for,
    size_label,
    summarise,
)
from benchmarks.scale import (
    CHUNKS_PER_DOC,
    TOKEN,
    _file_writer,
    _pool,
    add_sentence_vectors,
    bench_throughput,
)
from benchmarks.synthetic import build_synthetic_store


def in_process(s: Any, questions: list[str], clients: int, rounds: int = 3) -> dict[str, Any]:
    """``clients`` threads each ask every question ``rounds`` times through one in-process ``Assistant``."""
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase

    kb = KnowledgeBase(s)
    assistant = Assistant(s, kb)

    def key(q: str) -> tuple[str, list[str]]:
        answer = assistant.ask(q)
        return answer.answer, [c.chunk_id for c in answer.citations]

    serial = {q: key(q) for q in questions}
    batcher = kb.queries.batcher
    if batcher is not None:
        batcher.sizes.clear()
        batcher.threads.clear()
    in_call: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:  # how many embedding workers are in a model call, every 2 ms
        while not done.wait(0.002):
            n = getattr(batcher, "_busy", -1)
            in_call[n] = in_call.get(n, 0) + 1

    got: list[tuple[str, tuple[str, list[str]], float]] = []
    lock, barrier = threading.Lock(), threading.Barrier(clients)

    def client(ci: int) -> None:
        barrier.wait()
        for j in range(len(questions) * rounds):
            q = questions[(ci + j) % len(questions)]
            t = time.perf_counter()
            a = key(q)
            with lock:
                got.append((q, a, (time.perf_counter() - t) * 1000))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threading.Thread(target=sample, daemon=True).start()
    gather = kb.store.dense_gather
    gathered = (gather.calls, gather.items)
    cpu, meter, t0 = cpu_seconds(), CpuMeter(), time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    done.set()
    samples = max(sum(in_call.values()), 1)
    return {
        "answers": len(got),
        "throughput_rps": round(len(got) / wall, 1),
        "latency_ms": summarise([ms for _, _, ms in got]),
        "cpu_ms_per_answer": round((cpu_seconds() - cpu) * 1000 / len(got), 2),
        "cpu": meter.result(),
        "identical_to_serial": all(serial[q] == a for q, a, _ in got),
        "batches_by_size": dict(sorted(batcher.sizes.items())) if batcher else None,
        "batches_by_model_threads": dict(sorted(batcher.threads.items())) if batcher else None,
        "workers_in_a_call_share": {k: round(v / samples, 3) for k, v in sorted(in_call.items())},
        "dense_searches_per_chroma_query": round(
            (gather.items - gathered[1]) / max(gather.calls - gathered[0], 1), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pool-docs", type=int, default=120)
    parser.add_argument("--unbatched", action="store_true", help="also measure without the micro-batcher")
    parser.add_argument("--in-process", action="store_true", help="threads calling Assistant.ask, no server")
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
    out: dict[str, Any] = {"loadavg_start": loadavg()}
    from assistant.knowledge.embeddings import embedder_from_settings

    probe = embedder_from_settings(base)
    ceiling = [embedding_ceiling(probe, questions[:24], workers=os.cpu_count() or 1)]
    if args.in_process:
        out["in_process"] = in_process(s.model_copy(update={"query_cache": args.query_cache}), questions[:24],
                                       args.clients)
    else:
        out.update(bench_throughput(s, questions[:24], args.work, args.clients, log, unbatched=args.unbatched,
                                    query_cache=args.query_cache))
    ceiling.append(embedding_ceiling(probe, questions[:24], workers=os.cpu_count() or 1))
    out["embedding_ceiling"] = {"before": ceiling[0], "after": ceiling[1]}
    limit = (ceiling[0]["questions_per_s"] + ceiling[1]["questions_per_s"]) / 2
    for label in ("batched", "unbatched", "in_process"):
        if label in out:
            out[label]["share_of_embedding_ceiling"] = round(out[label]["throughput_rps"] / limit, 3)
    out["loadavg_end"] = loadavg()
    print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
