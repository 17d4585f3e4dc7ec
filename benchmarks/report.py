"""The results as Markdown (targets, tables) and PNG plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import STAGES

# ------------------------------------------------------------------------------------------------------
# targets, report
# ------------------------------------------------------------------------------------------------------


def _get(d: Any, *path: Any) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets (2 cores, no GPU, extractive mode) against the measured figures."""
    ten = _get(results, "sizes", "10k") or {}
    rows = [
        ("warm ask p95 at 10k chunks (ms)", "<=", 100.0, _get(ten, "ask", "stages_ms", "total", "p95")),
        (
            "/api/ask p95, 4 concurrent clients, 10k (ms)",
            "<=",
            250.0,
            _get(ten, "serve", "levels", "4", "latency_ms", "p95"),
        ),
        (
            "unchanged refresh of 1,000 documents (s)",
            "<=",
            2.0,
            _get(results, "ingest", "rerefresh_median_s"),
        ),
        ("ingestion / bare model chunks/s", ">=", 0.90, _get(results, "ingest", "ratio")),
        ("cold start to /healthz, 10k (s)", "<=", 10.0, _get(ten, "serve", "cold_start_s")),
        ("serving peak RSS, 10k (MB)", "<=", 1024.0, _get(ten, "serve", "rss", "peak_mb")),
    ]
    out = []
    for name, op, goal, measured in rows:
        ok = None
        if isinstance(measured, int | float) and not math.isnan(measured):
            ok = measured <= goal if op == "<=" else measured >= goal
        out.append({"target": name, "goal": f"{op} {goal:g}", "measured": measured, "met": ok})
    return out


def _fmt(x: Any, nd: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:,.{nd}f}"
    return str(x)


def _header_lines(results: dict[str, Any]) -> list[str]:
    """The machine, the run, and the targets table."""
    m = results["machine"]
    lines = [
        f"Machine: {m['nproc']} CPU ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}; "
        f"load average at start {m['loadavg_start']}; run took {results['duration_s']:.0f} s "
        f"({'--quick' if results['quick'] else 'full'}).",
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines.append(f"| {t['target']} | {t['goal']} | {_fmt(t['measured'], 2)} | {met} |")
    return lines


def _ingest_lines(ing: dict[str, Any]) -> list[str]:
    """Pipeline vs bare model."""
    if not ing:
        return []
    return [
        "",
        f"Ingestion of {ing['documents']:,} generated documents ({ing['chunks']:,} chunks, real embeddings):",
        "",
        "| | seconds | chunks/s | CPU ms/chunk |",
        "|---|---|---|---|",
        f"| pipeline (`refresh`) | {_fmt(ing['pipeline']['seconds'], 2)} | {_fmt(ing['pipeline']['chunks_per_s'], 2)} | {_fmt(ing['pipeline']['cpu_ms_per_chunk'])} |",
        f"| bare model | {_fmt(ing['bare_model']['seconds'], 2)} | {_fmt(ing['bare_model']['chunks_per_s'], 2)} | {_fmt(ing['bare_model']['cpu_ms_per_chunk'])} |",
        "",
        f"Ratio {_fmt(ing['ratio'], 3)} (wall), {_fmt(ing['cpu_ratio'], 3)} (CPU); unchanged re-refresh "
        f"{ing['rerefresh_s']} s. Others' CPU meanwhile: bare "
        f"{_get(ing, 'cpu', 'bare_before', 'others_pct')}%/{_get(ing, 'cpu', 'bare_after', 'others_pct')}%, "
        f"pipeline {_get(ing, 'cpu', 'pipeline', 'others_pct')}%.",
    ]


def _knowledge_lines(kn: dict[str, Any]) -> list[str]:
    """The default corpus's refresh figures."""
    if not kn or "skipped" in kn:
        return []
    return [
        "",
        f"Default corpus (knowledge/): {kn['sources']} sources, {kn['chunks']} chunks; refresh {kn['refresh_s']} s "
        f"({_fmt(kn['chunks_per_s'], 1)} chunks/s); unchanged re-refresh {kn['rerefresh_s']} s.",
    ]


def _ask_table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Warm in-process ask latency per stage, one row a store."""
    lines = [
        "",
        "Warm in-process `ask` latency, ms (p50 / p95); probe: median ms of one bare query embedding just "
        "before; others' CPU: share of the machine's CPU used by other processes meanwhile:",
        "",
        "| store | chunks | vectors | embed | dense | BM25 | fusion | answer | other | total | probe | others' CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        st = r["ask"]["stages_ms"]
        cells = " | ".join(f"{_fmt(st[s]['p50'])} / {_fmt(st[s]['p95'])}" for s in STAGES)
        vec = "real" if label == "knowledge/" else r.get("vectors", "").split(" ")[0]
        others = _get(r, "ask", "cpu", "others_pct")
        lines.append(
            f"| {label} | {r.get('chunks', '–'):,} | {vec} | {cells} | {_fmt(r.get('embed_probe_ms'))} ms | "
            f"{_fmt(others, 0)}% |"
        )
    return lines


def _retriever_table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Our retrieval vs llama-index's, one row a store that has the comparison."""
    lines = [
        "",
        "Retrieval vs a plain llama-index `VectorStoreIndex` retriever (same Chroma collection, same model), "
        "latency ms p50 / p95 and hit@k:",
        "",
        "| store | questions | ours hybrid | ours dense | llama-index | ratio p50 | hit@k hybrid / dense / llama-index "
        "| hit@1 hybrid / dense / llama-index |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        c = r.get("retrievers")
        if not c:
            continue
        lat = c["latency_ms"]
        lines.append(
            f"| {label} | {c['questions']} | {_fmt(lat['hybrid']['p50'])} / {_fmt(lat['hybrid']['p95'])} | "
            f"{_fmt(lat['dense']['p50'])} / {_fmt(lat['dense']['p95'])} | "
            f"{_fmt(lat['llama_index']['p50'])} / {_fmt(lat['llama_index']['p95'])} | {_fmt(c.get('latency_ratio_p50'), 2)} | "
            f"{' / '.join(_fmt(c['hit_at_k'][x], 2) for x in ('hybrid', 'dense', 'llama_index'))} | "
            f"{' / '.join(_fmt(_get(c, 'hit_at_1', x), 2) for x in ('hybrid', 'dense', 'llama_index'))} |"
        )
    return lines


def _serving_level_cell(lv: dict[str, Any] | None) -> str:
    """One concurrency level: latency p50 / p95 and throughput (and errors, if any)."""
    if not lv:
        return "–"
    return (
        f"{_fmt(lv['latency_ms']['p50'])} / {_fmt(lv['latency_ms']['p95'])}, {_fmt(lv['throughput_rps'], 1)} req/s"
        + (f" ({lv['errors']} errors)" if lv["errors"] else "")
    )


def _serving_table(sizes: dict[str, Any]) -> list[str]:
    """`assistant serve` over loopback, one row a store size that was served."""
    serving = [(label, r["serve"]) for label, r in sizes.items() if "serve" in r]
    if not serving:
        return []
    lines = [
        "",
        "`assistant serve` over loopback: `/api/ask` latency ms p50 / p95, throughput req/s:",
        "",
        "| store | cold start to /healthz s | 1 client | 4 clients | 16 clients | peak RSS MB | others' CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, sv in serving:
        if "levels" not in sv:
            lines.append(f"| {label} | {sv.get('skipped') or sv.get('error')} | | | | |")
            continue
        cells = [_serving_level_cell(sv["levels"].get(c)) for c in ("1", "4", "16")]
        others = "/".join(_fmt(_get(lv, "cpu", "others_pct"), 0) for lv in sv["levels"].values())
        lines.append(
            f"| {label} | {_fmt(sv['cold_start_s'], 2)} | {' | '.join(cells)} | {_fmt(sv['rss']['peak_mb'])} | "
            f"{others}% |"
        )
    return lines


def _chroma_server_lines(cs: dict[str, Any] | None) -> list[str]:
    """The store on a `chroma run` server: load, warm asks, one and two serving processes."""
    if not cs or "store" not in cs:
        return []
    st = cs["ask"]["stages_ms"]
    lines = [
        "",
        f"{cs['size']} store on a `chroma run` server (HTTP): written in {cs['store']['build_s']} s, snapshot "
        f"load {cs['kb_load_s']} s; warm ask p50/p95 {st['total']['p50']}/{st['total']['p95']} ms "
        f"(dense {st['dense']['p50']}/{st['dense']['p95']} ms); Chroma server peak RSS {cs['chroma_rss']['peak_mb']} MB.",
    ]
    for key in ("one_process_4_clients", "two_processes_4_clients", "two_processes_16_clients"):
        if key in cs:
            lv = cs[key]
            lines.append(
                f"- {key.replace('_', ' ')}: p50/p95 {lv['latency_ms']['p50']}/{lv['latency_ms']['p95']} ms, "
                f"{lv['throughput_rps']} req/s (others' CPU {_get(lv, 'cpu', 'others_pct')}%)"
            )
    return lines


def summary_markdown(results: dict[str, Any]) -> str:
    """The figures as Markdown tables (what `assistant bench` prints without --json)."""
    kn = results.get("knowledge") or {}
    sizes = results.get("sizes") or {}
    rows = [("knowledge/", kn)] if kn and "ask" in kn else []
    rows += list(sizes.items())
    lines = [
        *_header_lines(results),
        *_ingest_lines(results.get("ingest") or {}),
        *_knowledge_lines(kn),
        *_ask_table(rows),
        *_retriever_table(rows),
        *_serving_table(sizes),
        *_chroma_server_lines(results.get("chroma_server")),
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------
# plots
# ------------------------------------------------------------------------------------------------------


def _save(fig: Any, out: Path, name: str, made: list[str]) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    made.append(name)


def _plot_ask_stages(plt: Any, stores: list[tuple[str, dict[str, Any]]]) -> Any:
    """Warm ask per stage: p50 stacked, p95 side by side (log scale)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    names = [lb for lb, _ in stores]
    parts = ("embed", "dense", "bm25", "fusion", "answer", "other")
    bottom = np.zeros(len(stores))
    for stage in parts:
        vals = np.array([r["ask"]["stages_ms"][stage]["p50"] for _, r in stores])
        a1.bar(names, vals, bottom=bottom, label=stage)
        bottom += vals
    a1.axhline(100, color="red", linestyle="--", linewidth=1, label="target p95 (10k)")
    a1.set_ylabel("ms")
    a1.set_title("warm ask, p50 per stage (stacked)")
    a1.legend(fontsize=8)
    x = np.arange(len(stores))
    width = 0.8 / (len(parts) + 1)
    for j, stage in enumerate((*parts, "total")):
        vals = [max(r["ask"]["stages_ms"][stage]["p95"], 0.01) for _, r in stores]
        a2.bar(x + (j - len(parts) / 2) * width, vals, width, label=stage)
    a2.axhline(100, color="red", linestyle="--", linewidth=1)
    a2.set_yscale("log")
    a2.set_xticks(x, names)
    a2.set_ylabel("ms (log)")
    a2.set_title("warm ask, p95 per stage")
    a2.legend(fontsize=7, ncol=2)
    return fig


def _plot_serve(plt: Any, served: list[tuple[str, dict[str, Any]]]) -> Any:
    """/api/ask latency and throughput against the number of concurrent clients."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for lb, sv in served:
        cs = sorted(int(c) for c in sv["levels"])
        a1.plot(cs, [sv["levels"][str(c)]["latency_ms"]["p50"] for c in cs], "o-", label=f"{lb} p50")
        a1.plot(cs, [sv["levels"][str(c)]["latency_ms"]["p95"] for c in cs], "s--", label=f"{lb} p95")
        a2.plot(cs, [sv["levels"][str(c)]["throughput_rps"] for c in cs], "o-", label=lb)
    a1.axhline(250, color="red", linestyle=":", linewidth=1, label="target p95 (4 clients)")
    for a in (a1, a2):
        a.set_xscale("log", base=2)
        a.set_xticks([1, 4, 16], ["1", "4", "16"])
        a.set_xlabel("concurrent clients")
        a.legend(fontsize=8)
    a1.set_ylabel("/api/ask latency, ms")
    a1.set_yscale("log")
    a2.set_ylabel("requests/s")
    a1.set_title("/api/ask latency over loopback")
    a2.set_title("throughput")
    return fig


def _plot_ingest(plt: Any, ing: dict[str, Any]) -> Any:
    """Chunks/s of the bare model and of the refresh pipeline."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    vals = [ing["bare_model"]["chunks_per_s"], ing["pipeline"]["chunks_per_s"]]
    ax.bar(["bare model", "refresh pipeline"], vals, color=["#888", "#1f77b4"])
    ax.axhline(0.9 * vals[0], color="red", linestyle="--", linewidth=1, label="90% of the bare model")
    ax.set_ylabel("chunks/s")
    ax.set_title(f"Ingestion, {ing['documents']:,} documents (ratio {ing['ratio']:.2f})")
    ax.legend(fontsize=8)
    return fig


def _plot_retrievers(plt: Any, rows: list[tuple[str, dict[str, Any]]]) -> Any:
    """Our retrievers vs llama-index's: latency p50 and hit@1."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    x = np.arange(len(rows))
    names = ("hybrid", "dense", "llama_index")
    for j, name in enumerate(names):
        a1.bar(x + (j - 1) * 0.27, [r["latency_ms"][name]["p50"] for _, r in rows], 0.27, label=name)
        a2.bar(x + (j - 1) * 0.27, [r.get("hit_at_1", {}).get(name, 0) for _, r in rows], 0.27, label=name)
    for a in (a1, a2):
        a.set_xticks(x, [lb for lb, _ in rows])
        a.legend(fontsize=8)
    a1.set_ylabel("retrieval latency p50, ms")
    a2.set_ylabel("hit@1 (the answer passage ranked first)")
    a2.set_ylim(0, 1.05)
    a1.set_title("ours vs llama-index VectorStoreIndex")
    a2.set_title(f"hit@1 (hit@{rows[0][1]['k']} is in the tables)")
    return fig


def write_plots(results: dict[str, Any], out: Path) -> list[str]:
    """PNG plots of the figures into ``out``; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[str] = []
    sizes = results.get("sizes") or {}
    labels = list(sizes)
    knowledge = results.get("knowledge") or {}
    stores = [("knowledge/", results["knowledge"])] if "ask" in knowledge else []
    stores += [(lb, sizes[lb]) for lb in labels]
    if stores:
        _save(_plot_ask_stages(plt, stores), out, "ask-stages.png", made)
    served = [(lb, sizes[lb]["serve"]) for lb in labels if "levels" in (sizes[lb].get("serve") or {})]
    if served:
        _save(_plot_serve(plt, served), out, "serve.png", made)
    ing = results.get("ingest")
    if ing:
        _save(_plot_ingest(plt, ing), out, "ingest.png", made)
    rows = [("knowledge/", knowledge["retrievers"])] if "retrievers" in knowledge else []
    rows += [(lb, sizes[lb]["retrievers"]) for lb in labels if "retrievers" in sizes[lb]]
    if rows:
        _save(_plot_retrievers(plt, rows), out, "retrievers.png", made)
    return made
