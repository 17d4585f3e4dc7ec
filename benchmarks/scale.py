"""Scale (issue 14): per-generation artefacts at 10k and 100k chunks, and a 1M projection.

``python -m benchmarks.scale [--sizes 10000,100000] [--throughput-size 10000] [--out DIR] [--json]``
``python -m benchmarks.scale --sizes 100000 --work DIR --refresh-only --rounds 5``

``--work DIR`` keeps each size's store (``DIR/index-100k``, ``DIR/sources-100k``, the layout of
``benchmarks.throughput``): the first run writes it, later runs reuse it and skip the build figures.
``--refresh-only`` then measures only the one-source refresh, ``--rounds`` times on one server (each round
appends a fact of its own to the same source, so each embeds its new chunk and sentences).

Per size: a synthesised store (benchmarks/synthetic.py; the source files are written too, with the raw
hashes a refresh computes, so a real refresh sees them unchanged), the full artefact build (what the first
process finds missing), opening them, disk, warm in-process asks (question cache off: the model is
measured), ``assistant serve`` cold start to ``/healthz``, first answer, RSS, and one changed source
refreshed through the admin API until the server answers the new fact. At one size: 16 concurrent clients
with and without the question micro-batcher, every answer compared with the serial answer. The 1M
projection extends the 10k→100k per-chunk slope of each cost.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings, load_settings
from benchmarks.corpus import GenDoc, eval_items, generate_document, spread
from benchmarks.measure import (
    CpuMeter,
    _proc_cpu_s,
    cpu_seconds,
    loadavg,
    peak_rss_mb,
    release_chroma,
    settings_for,
    size_label,
    summarise,
)
from benchmarks.retrieval import measure_asks
from benchmarks.serving import KeepAliveClient, http_client, serve_process
from benchmarks.synthetic import build_synthetic_store

TOKEN = "scale-bench-token"
CHUNKS_PER_DOC = 10
NEW_QUESTION = "Mikä on Ilona Scaleniuksen puhelinnumero?"
CHANGED_DOC = 3  # the generated document a refresh round changes


def new_fact(round_: int) -> tuple[str, str]:
    """The fact a refresh round appends, and the phone number's digits the answer must then hold."""
    phone = f"040 999 {42 + round_:04d}"
    return f"Uusi yhteyshenkilö on Ilona Scalenius, puh. {phone}.", phone.replace(" ", "")


NEW_FACT = new_fact(0)[0]


def _du_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def _pool(embedder: Any, n_docs: int, chunk_chars: int, seed: int) -> dict[str, np.ndarray]:
    """Real vectors of the lead chunks of the first ``n_docs`` documents (the answerable questions)."""
    from assistant.knowledge.chunking import text_hash
    from benchmarks.corpus import embed_texts_of

    texts = embed_texts_of([generate_document(i, chunks=1, seed=seed) for i in range(n_docs)], chunk_chars)
    vectors = embedder.embed_passages(texts)
    return {text_hash(t): v for t, v in zip(texts, vectors, strict=True)}


def _file_writer(settings: Settings) -> Any:
    """Writes each generated document's file and returns the raw hash a refresh computes for it."""
    from assistant.knowledge import ingest

    config_hash = ingest.Refresher(settings, embedder=object()).config_hash  # type: ignore[arg-type]

    def write(d: GenDoc) -> str:
        path = settings.sources / d.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(d.text, encoding="utf-8")
        return ingest._hash(ingest._file_sha256(path), ingest._meta_json(None), config_hash)

    return write


def add_sentence_vectors(s: Settings, pool: dict[str, np.ndarray], seed: int = 0) -> dict[str, Any]:
    """Synthesised vectors for every sentence of the store's chunks (what a refresh embeds at ingest), so
    that the answerer reads stored sentence vectors as it does after a real refresh."""
    from assistant.knowledge.sentence_vectors import SCHEME, chunk_sentences, sentence_key
    from assistant.knowledge.store import Store
    from benchmarks.corpus import synth_vectors

    t = time.perf_counter()
    store = Store.open(s)
    keys = sorted({sentence_key(x) for _, text, _ in store.live_chunks(
        {src: r.version for src, r in store.live_sources().items()}) for x in chunk_sentences(text)})
    rng = np.random.default_rng(seed)
    matrix = np.vstack(list(pool.values()))
    for i in range(0, len(keys), 5000):
        part = keys[i : i + 5000]
        store.add_sentence_vectors(part, synth_vectors(matrix, len(part), rng))
    store.write_meta(sentence_scheme=SCHEME)
    return {"sentences": len(keys), "write_s": round(time.perf_counter() - t, 1)}


def _post(client: Any, url: str, question: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = client.post(f"{url}/api/ask", json={"question": question, "history": []}, headers=headers or {})
    resp.raise_for_status()
    return _answer_of(resp.json())


def _answer_of(body: dict[str, Any]) -> dict[str, Any]:
    """What two answers must share to be the same answer: the text and the cited chunks, in order."""
    return {"answer": body["answer"], "citations": [c.get("chunk_id") for c in body.get("citations", [])]}


def concurrent_answers(url: str, questions: list[str], clients: int, rounds: int) -> dict[str, Any]:
    """``clients`` threads each ask every question ``rounds`` times (own order); answers and latencies."""
    latencies: list[float] = []
    got: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)
    spans: list[tuple[float, float]] = []

    def worker(ci: int) -> None:
        order = [questions[(ci + j) % len(questions)] for j in range(len(questions) * rounds)]
        with KeepAliveClient(url, timeout=120.0) as client:
            barrier.wait()
            start = time.perf_counter()
            for q in order:
                t = time.perf_counter()
                a = _answer_of(client.post_json("/api/ask", {"question": q, "history": []}))
                with lock:
                    latencies.append((time.perf_counter() - t) * 1000)
                    got.append((q, a))
            with lock:
                spans.append((start, time.perf_counter()))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = max(e for _, e in spans) - min(s for s, _ in spans)
    return {"latency_ms": summarise(latencies), "throughput_rps": round(len(got) / wall, 1), "answers": got}


def bench_throughput(s: Settings, questions: list[str], work: Path, clients: int, log: Any,
                     unbatched: bool = True, query_cache: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"clients": clients, "questions": len(questions)}
    serial: dict[str, dict[str, Any]] = {}
    for batching in (True, False) if unbatched else (True,):
        label = "batched" if batching else "unbatched"
        release_chroma()
        sb = s.model_copy(update={"query_batching": batching, "query_cache": query_cache})
        with serve_process(sb, work / f"serve-throughput-{label}.log", admin_token=TOKEN) as (proc, url, _):
            with http_client(timeout=120.0) as client:
                for q in questions:  # warm-up, and the serial answers the concurrent ones must equal
                    a = _post(client, url, q)
                    serial.setdefault(q, a)
                t, server_cpu = time.perf_counter(), _proc_cpu_s(proc.pid)
                for q in questions:
                    _post(client, url, q)
                out[f"serial_{label}_rps"] = round(len(questions) / (time.perf_counter() - t), 1)
                out[f"serial_{label}_server_cpu_ms"] = round((_proc_cpu_s(proc.pid) - server_cpu) * 1000 / len(questions), 1)
            log(f"  {clients} clients, {label}")
            server_cpu, client_cpu, meter = _proc_cpu_s(proc.pid), cpu_seconds(), CpuMeter([proc.pid])
            res = concurrent_answers(url, questions, clients, rounds=3)
            answers = res.pop("answers")
            # where the 2 cores went: the server, this benchmark's own clients, everyone else
            res["cpu_ms_per_answer"] = {
                "server": round((_proc_cpu_s(proc.pid) - server_cpu) * 1000 / len(answers), 1),
                "bench_clients": round((cpu_seconds() - client_cpu) * 1000 / len(answers), 1),
            }
            res["cpu"] = meter.result()
            res["identical_to_serial"] = all(serial[q] == a for q, a in answers)
            differ = [(q, serial[q], a) for q, a in answers if serial[q] != a]
            res["differing"] = {"count": len(differ), "questions": sorted({q for q, _, _ in differ}),
                                "first": [{"serial": x, "concurrent": y} for _, x, y in differ[:2]]}
            res["answers"] = len(answers)
            res["rss_mb"] = peak_rss_mb(proc.pid)
            out[label] = res
    return out


def bench_scale_size(base: Settings, embedder: Any, n: int, pool: Callable[[], dict[str, np.ndarray]], pool_docs: int,
                     work: Path, log: Any, seed: int = 0) -> dict[str, Any]:
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase, Snapshot
    from assistant.knowledge import artefacts
    from assistant.knowledge.store import Store

    label = size_label(n)
    out: dict[str, Any] = {"chunks_target": n, "loadavg_start": loadavg()}
    s, written = prepare_store(base, n, pool, work, log, seed)
    out.update(written or {})
    store = Store.open(s)
    generation, key = store.generation_key()
    root = artefacts.root_for(s)
    log(f"{label}: full artefact build")
    t = time.perf_counter()
    if written is None:  # a kept store: its folder exists; a full build into a scratch folder is the figure
        scratch = work / f"full-build-{label}"
        built = artefacts.build(store, scratch, key, generation, previous=None, reason="benchmark")
        out["artefacts_full_build_s"] = round(time.perf_counter() - t, 2)
        shutil.rmtree(scratch, ignore_errors=True)
        artefacts.open_or_build(store, root, key, generation)
    else:
        built = artefacts.open_or_build(store, root, key, generation)
        out["artefacts_full_build_s"] = round(time.perf_counter() - t, 2)
    out["artefacts_build_timings_s"] = built.meta["timings_s"]
    out["artefacts_disk_mb"] = _du_mb(root / key)
    out["chroma_disk_mb"] = _du_mb(s.index / "chroma")
    t = time.perf_counter()
    snap = Snapshot.of(artefacts.Artefacts(root / key))
    out["artefacts_open_s"] = round(time.perf_counter() - t, 3)
    out["chunks"] = len(snap.ids)
    out["sources"] = len(snap.sources)
    del snap

    questions = _questions(pool_docs, seed)
    log(f"{label}: warm in-process asks")
    kb = KnowledgeBase(s, embedder=embedder)
    out["ask"] = measure_asks(Assistant(s, kb), questions, 60, 5)
    del kb
    release_chroma()

    log(f"{label}: assistant serve: cold start, RSS, one changed source refreshed end to end")
    with serve_process(s, work / f"serve-{label}.log", admin_token=TOKEN) as (proc, url, cold):
        out["serve_cold_start_s"] = round(cold, 2)
        with http_client(timeout=300.0) as client:
            t = time.perf_counter()
            _post(client, url, questions[0])
            out["serve_first_answer_ms"] = round((time.perf_counter() - t) * 1000, 1)
            lat = []
            for q in questions[1:41]:
                t = time.perf_counter()
                _post(client, url, q)
                lat.append((time.perf_counter() - t) * 1000)
            out["serve_ask_ms"] = summarise(lat)
            out["serve_rss_mb"] = peak_rss_mb(proc.pid)
            out["refresh_one_source"] = refresh_round(client, url, proc.pid, s, seed, 0)
            out["serve_rss_after_refresh_mb"] = peak_rss_mb(proc.pid)
    out["artefacts_incremental_build"] = out["refresh_one_source"].pop("artefacts_build")
    out["settings"] = s
    out["questions"] = questions
    out["loadavg_end"] = loadavg()
    return out


def refresh_round(client: Any, url: str, pid: int, s: Settings, seed: int, round_: int) -> dict[str, Any]:
    """One changed source refreshed through the admin API of the server ``pid``, until it answers the new
    fact: wall time, the server's CPU time, and the artefact build's own record."""
    from assistant.knowledge import artefacts
    from assistant.knowledge.store import Store

    doc = generate_document(CHANGED_DOC, chunks=CHUNKS_PER_DOC, seed=seed)
    fact, digits = new_fact(round_)
    (s.sources / doc.source).write_text(doc.text + "\n\n" + fact + "\n", encoding="utf-8")
    cpu, load = _proc_cpu_s(pid), loadavg()
    t = time.perf_counter()
    resp = client.post(f"{url}/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"})
    refreshed = time.perf_counter() - t
    refresh_cpu = _proc_cpu_s(pid) - cpu
    answered = digits in "".join(ch for ch in _post(client, url, NEW_QUESTION)["answer"] if ch.isdigit())
    end_to_end = time.perf_counter() - t
    log_file = artefacts.root_for(s) / artefacts.BUILD_LOG
    phases = json.loads(str(Store.open(s).meta().get("last_refresh_phases") or "{}"))  # the refresh's own split
    return {
        "status": resp.status_code,
        "summary": resp.json().get("summary"),
        "refresh_s": round(refreshed, 2),
        "end_to_end_s": round(end_to_end, 2),
        "server_cpu_s": round(_proc_cpu_s(pid) - cpu, 2),
        "refresh_server_cpu_s": round(refresh_cpu, 2),
        "new_fact_answered": answered,
        "loadavg": load,
        "artefacts_build": json.loads(log_file.read_text().splitlines()[-1]),
        "phases": phases,
    }


def bench_refresh(s: Settings, questions: list[str], work: Path, rounds: int, log: Any,
                  seed: int = 0) -> dict[str, Any]:
    """The scale run's last step alone, ``rounds`` times: a fresh server answers 10 questions, then one
    changed source is refreshed (the target's figure: the server's first refresh) and then another (a
    server that has refreshed before: Chroma's sentence index is loaded)."""
    out: dict[str, Any] = {"loadavg_start": loadavg(), "rounds": []}
    counter = work / "refresh-rounds"  # every round's fact is new to the store (its sentence too)
    for _ in range(rounds):
        release_chroma()
        with serve_process(s, work / "serve-refresh.log", admin_token=TOKEN) as (proc, url, cold):
            with http_client(timeout=300.0) as client:
                for q in questions[:10]:  # warm-up: the HNSW graph, the rows and sentence matrix pages
                    _post(client, url, q)
                pair = []
                for _ in range(2):
                    r = int(counter.read_text()) if counter.exists() else 1  # 0: the full run's round
                    counter.write_text(f"{r + 1}\n")
                    pair.append(refresh_round(client, url, proc.pid, s, seed, r))
        first, second = pair
        log(f"  refresh {first['refresh_s']} s (end to end {first['end_to_end_s']} s, server CPU "
            f"{first['refresh_server_cpu_s']} s), again {second['refresh_s']} s; load {first['loadavg'][0]}")
        if first["phases"]:
            log("    phases (wall/CPU s): " + ", ".join(f"{k} {v['wall']}/{v['cpu']}" for k, v in first["phases"].items()))
        out["rounds"].append({"serve_cold_start_s": round(cold, 2), "first": first, "second": second})
    for which in ("first", "second"):
        for name in ("refresh_s", "end_to_end_s", "refresh_server_cpu_s"):
            values = [r[which][name] for r in out["rounds"]]
            out[f"{which}_{name}"] = {"min": min(values), "median": float(np.median(values)), "max": max(values)}
    out["loadavg_end"] = loadavg()
    return out


def prepare_store(base: Settings, n: int, pool: Callable[[], dict[str, np.ndarray]], work: Path, log: Any,
                  seed: int = 0) -> tuple[Settings, dict[str, Any] | None]:
    """The settings of size ``n``'s store under ``work``, and the figures of writing it (None: an earlier
    run with this ``work`` wrote it). ``pool()``: the real vectors (embedded only when a store is written)."""
    label = size_label(n)
    s = settings_for(base, work / f"index-{label}", work / f"sources-{label}", query_cache=0, admin_token=TOKEN)
    marker = work / f"built-{label}"
    if marker.exists():
        log(f"{label}: reusing the store in {work}")
        return s, None
    s.sources.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    log(f"{label}: writing a synthesised store of {n:,} chunks (+ its source files)")
    out["store"] = build_synthetic_store(
        s, n, pool(), chunks_per_doc=CHUNKS_PER_DOC, seed=seed, log=log, raw_hash=_file_writer(s)
    )
    out["sentence_vectors"] = add_sentence_vectors(s, pool(), seed)
    marker.write_text("ok\n")
    return s, out


def _published_artefacts(s: Settings) -> None:
    """The store's current artefacts, built here when missing (not by the server at its start)."""
    from assistant.knowledge import artefacts
    from assistant.knowledge.store import Store

    store = Store.open(s)
    generation, key = store.generation_key()
    artefacts.open_or_build(store, artefacts.root_for(s), key, generation)
    del store
    release_chroma()


def _questions(pool_docs: int, seed: int = 0) -> list[str]:
    return [i.question for i in eval_items([generate_document(i, seed=seed) for i in spread(pool_docs, 40)])]


def project(sizes: dict[str, dict[str, Any]], target: int = 1_000_000) -> dict[str, Any]:
    """Each cost extended along its per-chunk slope between the two measured sizes."""
    pts = sorted(sizes.values(), key=lambda e: e["chunks"])
    if len(pts) < 2:
        return {}
    a, b = pts[0], pts[-1]
    metrics = {
        "artefacts_full_build_s": lambda e: e["artefacts_full_build_s"],
        "artefacts_incremental_build_s": lambda e: e["artefacts_incremental_build"]["timings_s"]["total"],
        "artefacts_open_s": lambda e: e["artefacts_open_s"],
        "artefacts_disk_mb": lambda e: e["artefacts_disk_mb"],
        "chroma_disk_mb": lambda e: e["chroma_disk_mb"],
        "serve_cold_start_s": lambda e: e["serve_cold_start_s"],
        "serve_rss_mb": lambda e: e["serve_rss_after_refresh_mb"]["peak_mb"],
        "store_write_s": lambda e: e["store"]["build_s"],
    }
    out: dict[str, Any] = {"chunks": target, "from": [a["chunks"], b["chunks"]]}
    for name, get in metrics.items():
        try:
            slope = (get(b) - get(a)) / (b["chunks"] - a["chunks"])
            out[name] = {"per_1k_chunks": round(slope * 1000, 4), "projected": round(get(b) + slope * (target - b["chunks"]), 1)}
        except (KeyError, TypeError):
            continue
    return out


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--throughput-size", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pool-docs", type=int, default=120)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--work", type=Path, help="keep each size's store here and reuse it in later runs")
    parser.add_argument("--refresh-only", action="store_true",
                        help="only the one-source refresh, on the stores of --work (written when missing)")
    parser.add_argument("--rounds", type=int, default=3, help="refreshes with --refresh-only")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", file=sys.stderr, flush=True)

    from assistant.knowledge.embeddings import embedder_from_settings

    base = load_settings()
    embedder = embedder_from_settings(base)
    results: dict[str, Any] = {"command": "python -m benchmarks.scale " + " ".join(argv or sys.argv[1:]),
                               "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "sizes": {}}
    work = args.work or Path(tempfile.mkdtemp(prefix="elmo-scale-"))
    work.mkdir(parents=True, exist_ok=True)

    @functools.cache
    def pool() -> dict[str, np.ndarray]:
        log(f"embedding the lead chunks of {args.pool_docs} documents (the real-vector pool)")
        return _pool(embedder, args.pool_docs, base.chunk_chars, 0)

    for n in [int(x) for x in args.sizes.split(",")]:
        if args.refresh_only:
            s, _ = prepare_store(base, n, pool, work, log)
            _published_artefacts(s)
            log(f"{size_label(n)}: {args.rounds} one-source refreshes")
            results["sizes"][size_label(n)] = bench_refresh(s, _questions(args.pool_docs), work, args.rounds, log)
            continue
        entry = bench_scale_size(base, embedder, n, pool, args.pool_docs, work, log)
        s, questions = entry.pop("settings"), entry.pop("questions")
        if n == args.throughput_size:
            log(f"{size_label(n)}: throughput, {args.clients} clients, with and without the micro-batcher")
            entry["throughput"] = bench_throughput(s, questions[:24], work, args.clients, log)
        results["sizes"][size_label(n)] = entry
        release_chroma()
    if not args.refresh_only:
        results["projection_1m"] = project(results["sizes"])
    results["duration_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(results, ensure_ascii=False, indent=1, default=str)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "scale.json").write_text(text + "\n", encoding="utf-8")
    print(text if args.json else json.dumps(results, ensure_ascii=False, default=str)[:20000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
