"""Sentence vectors from the generation's memory-mapped matrix vs from Chroma (issue 14, memory).

``python -m benchmarks.sentence_matrix --index DIR [--collection C] [--questions FILE.jsonl] [--limit N]``

Opens the index (building its artefacts when missing), asks every question twice — sentence vectors read
from the generation's matrix (what the answerer does) and from the store only — and reports whether the
answers are byte-identical, how many sentence keys the matrix lacked (read from the store instead), the
full-build cost and the process's RSS after each pass.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from assistant.config import load_settings


def _question(item: dict[str, Any]) -> str:
    return str(item.get("question") or item["q"])


def rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


def _comparable(answer: dict[str, Any]) -> str:
    answer.pop("timings_ms", None)  # everything but the clock
    return json.dumps(answer, ensure_ascii=False, sort_keys=True, default=str)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentence_matrix")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--collection", default=None)
    parser.add_argument("--questions", type=Path, default=None, help="jsonl with a 'question' (or 'q') field")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--store-first", action="store_true", help="the store pass first (RSS of each alone)")
    args = parser.parse_args(argv)

    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase, SentenceVectors
    from assistant.knowledge.store import Store

    update: dict[str, Any] = {"index": args.index, "query_cache": 0, "llm_url": None, "llm_model": None}
    if args.collection:
        update["collection"] = args.collection
    settings = load_settings().model_copy(update=update)
    out: dict[str, Any] = {"index": str(args.index), "rss_start_mb": rss_mb()}
    t = time.perf_counter()
    kb = KnowledgeBase(settings)
    out["open_s"] = round(time.perf_counter() - t, 2)
    art = kb.snapshot.artefacts
    out["artefacts"] = {k: art.meta.get(k) for k in ("reason", "incremental", "sentence_vectors", "timings_s")} if art else None
    assistant = Assistant(settings, kb)
    if args.questions:
        lines = args.questions.read_text(encoding="utf-8").splitlines()
        questions = [_question(json.loads(x)) for x in lines if x.strip()][: args.limit]
    else:
        questions = [kb.snapshot.chunk(i)[0].split(".")[0][:120] + "?" for i in range(min(args.limit, len(kb.snapshot.ids)))]

    missed = {"keys": 0, "asked": 0, "store_reads": 0}
    real = kb.sentence_vectors

    def counting(snap: Any) -> SentenceVectors:
        lookup = real(snap)

        class Counting(SentenceVectors):
            def sentence_vectors(self, keys: list[str]) -> dict[str, Any]:
                rest = self.matrix.get(keys)[1] if self.matrix is not None else keys
                missed["asked"] += len(keys)
                missed["keys"] += len(rest)
                missed["store_reads"] += bool(rest)
                return super().sentence_vectors(keys)

        return Counting(lookup.matrix, lookup.store)

    def from_store(snap: Any) -> Store:
        return kb.store

    def run(lookup: Any) -> tuple[list[str], float]:
        kb.sentence_vectors = lookup  # type: ignore[method-assign]
        t0 = time.perf_counter()
        answers = [_comparable(assistant.ask(q).to_dict()) for q in questions]
        return answers, round((time.perf_counter() - t0) * 1000 / max(len(questions), 1), 1)

    passes = [("store", from_store), ("matrix", counting)]
    if not args.store_first:
        passes.reverse()
    got = {}
    for name, lookup in passes:
        got[name], out[f"{name}_ms_per_ask"] = run(lookup)
        out[f"rss_after_{name}_mb"] = rss_mb()
    differ = [q for q, a, b in zip(questions, got["matrix"], got["store"], strict=True) if a != b]
    out.update(questions=len(questions), identical=not differ, differing=differ[:5], matrix_misses=missed,
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
