"""RSS of one ``assistant serve`` process on an existing synthetic store, and one changed source refreshed
through the admin API (issue 14, memory). The serving half of ``benchmarks.scale`` without writing a store.

``python -m benchmarks.serve_memory --index DIR --sources DIR [--questions 40] [--out FILE]``

The store is one ``benchmarks.scale`` wrote (``<work>/index-100k`` + ``sources-100k``; copy both first:
the refresh changes them). Reports RSS after start, after the first answer and after each answer batch,
the refresh-of-one-source time, and the load average around it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from assistant.config import load_settings
from benchmarks.corpus import eval_items, generate_document, spread
from benchmarks.measure import loadavg, peak_rss_mb, settings_for
from benchmarks.scale import CHUNKS_PER_DOC, NEW_FACT, NEW_QUESTION, TOKEN, _post
from benchmarks.serving import http_client, serve_process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_memory")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--pool-docs", type=int, default=120)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--refresh", action="store_true", help="also refresh one changed source (the store's"
                        " raw hashes must match this code's config, or every source is re-read)")
    args = parser.parse_args(argv)
    s = settings_for(load_settings(), args.index, args.sources, query_cache=0, admin_token=TOKEN)
    items = eval_items([generate_document(i, seed=0) for i in spread(args.pool_docs, args.questions)])
    questions = [i.question for i in items]
    out: dict[str, Any] = {"index": str(args.index), "loadavg_start": loadavg()}
    with serve_process(s, args.index.parent / f"serve-memory-{int(time.time())}.log", admin_token=TOKEN) as (proc, url, cold):
        out["cold_start_s"] = round(cold, 2)
        out["rss_started"] = peak_rss_mb(proc.pid)
        with http_client(timeout=300.0) as client:
            _post(client, url, questions[0])
            out["rss_first_answer"] = peak_rss_mb(proc.pid)
            out["rss_parts_first_answer_mb"] = _rss_parts(proc.pid)
            t = time.perf_counter()
            for q in questions[1:]:
                _post(client, url, q)
            out["ask_ms_mean"] = round((time.perf_counter() - t) * 1000 / max(len(questions) - 1, 1), 1)
            out["rss_after_answers"] = peak_rss_mb(proc.pid)
            out["rss_parts_after_answers_mb"] = _rss_parts(proc.pid)
            if not args.refresh:
                return _report(out, args.out)
            changed = s.sources / generate_document(3, chunks=CHUNKS_PER_DOC, seed=0).source
            changed.write_text(changed.read_text(encoding="utf-8") + "\n\n" + NEW_FACT + "\n", encoding="utf-8")
            out["loadavg_before_refresh"] = loadavg()
            t = time.perf_counter()
            resp = client.post(f"{url}/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"})
            refreshed = time.perf_counter() - t
            answer = _post(client, url, NEW_QUESTION)["answer"]
            out["refresh_one_source"] = {
                "status": resp.status_code,
                "refresh_s": round(refreshed, 2),
                "end_to_end_s": round(time.perf_counter() - t, 2),
                "new_fact_answered": "0409990042" in "".join(ch for ch in answer if ch.isdigit()),
                "summary": resp.json().get("summary"),
            }
            for q in questions[1:]:
                _post(client, url, q)
            out["rss_after_refresh_and_answers"] = peak_rss_mb(proc.pid)
    builds = (Path(s.index) / "artefacts" / s.collection / "builds.log").read_text().splitlines()
    out["last_build"] = json.loads(builds[-1])
    return _report(out, args.out)


def _rss_parts(pid: int) -> dict[str, float]:
    """RssAnon (the process's own heap) and RssFile (mapped files: shared with every process mapping them)."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
        rows = dict(line.split(":", 1) for line in fh if line.startswith(("RssAnon", "RssFile", "RssShmem")))
    return {k: round(int(v.split()[0]) / 1024, 1) for k, v in rows.items()}


def _report(out: dict[str, Any], path: Path | None) -> int:
    out["loadavg_end"] = loadavg()
    text = json.dumps(out, ensure_ascii=False, indent=1, default=str)
    if path:
        path.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
