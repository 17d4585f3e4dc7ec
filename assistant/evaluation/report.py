"""Reports: one view model of a report, rendered to Markdown and HTML by the jinja2 templates beside this
module, plus the plain-text summaries ``assistant eval`` prints."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from assistant.evaluation.metrics import (
    ANSWER_METRICS,
    LATENCY_METRICS,
    LOWER_IS_BETTER,
    RETRIEVAL_METRICS,
    SQUAD_ANSWERS,
    SQUAD_RETRIEVAL,
    fmt,
    label,
)
from assistant.evaluation.suites import REPORTS_DIR

#: answer figures of the summary (the rest are in the JSON report)
SUMMARY_ANSWERS = tuple(m for m in ANSWER_METRICS if m not in {"false_refusal_rate", "forbidden", "language_accuracy"})
SUMMARY_GROUPS: dict[str, tuple[str, ...]] = {
    "retrieval (depth 10)": RETRIEVAL_METRICS,
    "answers": SUMMARY_ANSWERS,
    "latency (ms)": LATENCY_METRICS,
}
HEADLINE = ("hit@1", "hit@5", "mrr", "ndcg@10", "fact_recall", "citation_precision")  # shown in every short table
BREAKDOWN_COLUMNS = ("items", *HEADLINE, "refusal_accuracy", "false_refusals", "passed")
TEXT_COLUMNS = (*HEADLINE, "citation_recall", "refusal_accuracy", "false_refusals", "dangling", "passed", *LATENCY_METRICS[:2])
PLOT_TITLES = {"systems": "Metrics per system", "breakdown": "Per area and language", "latency": "Latency"}
SQUAD_CITED = SQUAD_ANSWERS[:3]  # shown as figures; the refusals (the rest) as shares
SQUAD_LATENCY = LATENCY_METRICS[:2]
SQUAD_HEADER = ("system", *map(label, (*SQUAD_RETRIEVAL, *SQUAD_ANSWERS, *SQUAD_LATENCY)))

# ------------------------------------------------------------------------------------------------------
# the view model
# ------------------------------------------------------------------------------------------------------


def changed(rows: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """Figures that changed (or appeared, or disappeared) between two reports."""
    out = []
    for k, v in rows.items():
        if v["old"] is None and v["new"] is None:
            continue
        if v["delta"] is None or abs(v["delta"]) > 1e-9:
            out.append((k, v))
    return out


def fmt_delta(metric: str, delta: float | None) -> str:
    if delta is None:
        return "–"
    if abs(delta) < 1e-9:
        return "±0"
    arrow = "▲" if ((delta < 0) if metric in LOWER_IS_BETTER else (delta > 0)) else "▼"
    if float(delta).is_integer() or abs(delta) >= 100:
        return f"{delta:+.0f} {arrow}"
    return f"{delta:+.3f} {arrow}"


def summary_rows(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, entry.get("figures") or {"error": entry.get("error")})
        for name, entry in (report.get("systems") or {}).items()
    ]


def summary_tables(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A table per group of figures; systems without any figure of a group are left out."""
    out = []
    for title, cols in SUMMARY_GROUPS.items():
        rows = []
        for name, f in summary_rows(report):
            if "error" in f:
                rows.append([name, *(["error"] * len(cols))])
            elif any(f.get(c) is not None for c in cols):
                rows.append([name, *(fmt(f.get(c)) for c in cols)])
        if rows:
            out.append({"title": title, "header": ["system", *cols], "rows": rows})
    return out


def _short(r: Mapping[str, Any]) -> str:
    """A retrieved passage for people: source stem and chunk number (``elinkeinot-murroksessa#3*``)."""
    tail = str(r.get("id", "")).rsplit("-", 1)[-1]
    name = f"{Path(str(r.get('source', ''))).stem}#{int(tail)}" if tail.isdigit() else str(r.get("id"))
    return name + ("*" if r.get("gain") else "")


def failing_items(report: Mapping[str, Any], system: str = "hybrid") -> list[dict[str, Any]]:
    out = []
    for row in report.get("items", []):
        res = row.get("results", {}).get(system, {})
        ans = res.get("answer")
        if ans and (ans["failures"] or ans["warnings"]):
            out.append({"row": row, "result": res})
    out.sort(key=lambda x: (not x["result"]["answer"]["failures"], x["row"]["id"]))
    return out


def _failure_matrix(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """With several answer-scored systems: each item that fails in one of them, ok/FAIL/– per system."""
    systems = [n for n, e in (report.get("systems") or {}).items() if e.get("answers_scored")]
    if len(systems) < 2:
        return None
    rows = []
    for row in report.get("items", []):
        marks = [row["results"].get(n, {}).get("answer") for n in systems]
        marks = [None if a is None else bool(a["passed"]) for a in marks]
        if any(m is False for m in marks):
            cells = ["–" if m is None else ("ok" if m else "FAIL") for m in marks]
            rows.append({"cells": [row["id"], *cells], "marks": cells})
    return {"systems": systems, "rows": rows} if rows else None


def _history_text(h: Any) -> str:
    return h if isinstance(h, str) else json.dumps(h, ensure_ascii=False)


def _failures(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for system in ("hybrid", "hybrid+llm"):
        fails = failing_items(report, system)
        if not fails:
            continue
        items = []
        for f in fails:
            row, res = f["row"], f["result"]
            ans = res["answer"]
            ranked = (res.get("retrieval") or {}).get("ranked", [])[:5]
            items.append(
                {
                    "row": row,
                    "answer": ans,
                    "failed": bool(ans["failures"]),
                    "history": [_history_text(h) for h in row.get("history", [])],
                    "top5": ", ".join(_short(r) for r in ranked),
                    "citations": [{**c, "flat": " ".join(c["text"].split())} for c in ans["citations"]],
                }
            )
        n_fail = sum(1 for i in items if i["failed"])
        out.append({"system": system, "n_fail": n_fail, "n_warn": len(items) - n_fail, "items": items})
    return out


def _compare(cmp_: Mapping[str, Any]) -> dict[str, Any]:
    systems = []
    for name, rows in cmp_["systems"].items():
        diffs = []
        for k, v in changed(rows):
            d = fmt_delta(k, v["delta"])
            cls = "up" if "▲" in d else "down" if "▼" in d else ""
            diffs.append({"cells": [k, fmt(v["old"]), fmt(v["new"]), d], "cls": cls})
        systems.append({"name": name, "rows": diffs})
    lines = [
        f"{name} {key.replace('_', ' ')}: {', '.join(ids)}"
        for name, ch in cmp_.get("items", {}).items()
        for key, ids in ch.items()
        if ids
    ]
    return {"against": cmp_.get("against"), "created": cmp_.get("against_created"), "systems": systems, "items": lines}


def _pct(x: Any) -> str:
    return "–" if x is None else f"{x:.1%}"


def squad_table(section: Mapping[str, Any]) -> list[list[str]]:
    """One row per system: ours (answers), then the retrieval of each system side by side."""
    rows: list[list[str]] = []
    for name, entry in section.get("systems", {}).items():
        if "error" in entry:
            rows.append([name, *(["error"] * (len(SQUAD_HEADER) - 1))])
            continue
        f = entry["figures"]
        if name == "hybrid":
            answers = [fmt(f.get(m)) for m in SQUAD_CITED]
            refusals = [_pct(f.get(m)) for m in SQUAD_ANSWERS[len(SQUAD_CITED) :]]
            latency = [fmt(f.get(m)) for m in SQUAD_LATENCY]
            rows.append(["ours, answers", *(["–"] * len(SQUAD_RETRIEVAL)), *answers, *refusals, *latency])
        system = "ours, retrieval only" if name == "hybrid" else name
        retrieval = [fmt(f.get(m)) for m in SQUAD_RETRIEVAL]
        rows.append([system, *retrieval, *(["–"] * (len(SQUAD_ANSWERS) + len(SQUAD_LATENCY)))])
    return rows


def _squad_misses(section: Mapping[str, Any], limit: int = 40) -> list[dict[str, Any]]:
    """Questions to read by hand: wrong refusals; gold at retrieval rank 1 but the answer lacks any span."""
    wrong, lost = [], []
    for row in section.get("items", []):
        res = row["results"].get("hybrid", {})
        ans, retr = res.get("answer"), res.get("retrieval", {})
        if not ans:
            continue
        if ans["wrong_refusals"]:
            wrong.append(row)
        elif not ans["refused"] and retr.get("hit@1") and not ans["answer_has_span"]:
            lost.append(row)
    groups = {
        "wrong refusals (gold passage retrieved first, answer refused)": wrong[:limit],
        "gold retrieved first, answer shows no gold span": lost[:limit],
    }
    return [
        {"title": title, "rows": [{**r, "answer": r["results"]["hybrid"]["answer"]["answer"]} for r in rows]}
        for title, rows in groups.items()
        if rows
    ]


def _asked_elsewhere(section: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The questions no corpus here answers, one block a direction: a line, then the ones answered anyway."""
    blocks = []
    away, here = section.get("elsewhere"), section.get("suites_here")
    if away and away.get("error"):
        line = f"Asking the same questions against the default knowledge base ({away['index']}) could not run: {away['error']}"
        blocks.append({"line": line, "where": "there", "rows": []})
    elif away and away.get("questions"):
        line = (
            f"The same {away['questions']} questions asked against the default knowledge base ({away['sources']}, "
            f"index {away['index']}), which answers none of them: refused {away['refused']}/{away['questions']} "
            f"({_pct(away['refused_share'])})."
        )
        blocks.append({"line": line, "where": "there", "rows": away.get("answered", [])})
    if here and here.get("questions"):
        line = (
            f"Our suites' {here['questions']} single-turn questions asked against this corpus, which answers none of "
            f"them: refused {here['refused']}/{here['questions']} ({_pct(here['refused_share'])})."
        )
        blocks.append({"line": line, "where": "here", "rows": here.get("answered", [])})
    return blocks


def _squad(section: Mapping[str, Any]) -> dict[str, Any]:
    r = section.get("refresh", {})
    intro = (
        f"{section.get('questions_scored')} of {section.get('questions_total')} questions · "
        f"{section.get('chunks')} chunks from {section.get('sources')} articles · corpus "
        f"{str(section.get('corpus_hash'))[:12]} · index {section.get('index')} ({r.get('chunks_embedded', 0)} "
        f"chunks embedded now) · hit = {section.get('hit_rule')} · spans shorter than "
        f"{section.get('min_span_chars')} characters ignored · {section.get('runtime_s')} s"
    )
    if section.get("questions_file"):
        intro += f" · questions asked as in {section['questions_file']}"
    return {
        "dataset": section.get("dataset"),
        "intro": intro,
        "asked": _asked_elsewhere(section),
        "header": SQUAD_HEADER,
        "rows": squad_table(section),
        "misses": _squad_misses(section),
    }


def view(report: Mapping[str, Any], plots: Mapping[str, bytes] | Iterable[str] = ()) -> dict[str, Any]:
    """Everything the templates show, computed once: the templates only lay it out."""
    hybrid = (report.get("breakdown") or {}).get("hybrid", {})
    breakdown = [
        {"dim": dim, "header": [dim, *BREAKDOWN_COLUMNS],
         "rows": [[v, *(fmt(f.get(c)) for c in BREAKDOWN_COLUMNS)] for v, f in hybrid[dim].items()]}
        for dim in ("suite", "area", "language", "kind")
        if hybrid.get(dim)
    ]
    pngs = plots if isinstance(plots, Mapping) else {}
    return {
        "report": report,
        "cfg": report.get("config", {}),
        "git": report.get("git", {}),
        "summary": summary_tables(report),
        "systems": report.get("systems") or {},
        "squad": _squad(report["squad"]) if report.get("squad") else None,
        "compare": _compare(report["compare"]) if report.get("compare") else None,
        "breakdown": breakdown,
        "plots": [
            {"name": n, "title": PLOT_TITLES.get(n, n), "b64": base64.b64encode(pngs[n]).decode("ascii") if n in pngs else ""}
            for n in plots
        ],
        "matrix": _failure_matrix(report),
        "failures": _failures(report),
    }


# ------------------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------------------


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("assistant.evaluation", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["md"] = _md_cell
    return env


_MARKDOWN = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def render_markdown(report: Mapping[str, Any], plots: Mapping[str, bytes] | Iterable[str] = ()) -> str:
    return _MARKDOWN.get_template("report.md.j2").render(view(report, plots))


def render_html(report: Mapping[str, Any], plots: Mapping[str, bytes]) -> str:
    return _HTML.get_template("report.html.j2").render(view(report, plots))


def write_report(report: dict[str, Any], report_dir: Path | str = REPORTS_DIR) -> Path:
    """Writes ``<report_dir>/<YYYYmmdd-HHMMSS>/report.json|md|html`` (+ ``plots/*.png``); returns the folder."""
    from assistant.evaluation.plots import plots as make_plots

    base = Path(report_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = base / stamp
    n = 2
    while folder.exists():
        folder = base / f"{stamp}-{n}"
        n += 1
    folder.mkdir(parents=True)
    report["id"] = folder.name
    plots = make_plots(report)
    if plots:
        (folder / "plots").mkdir()
        for name, png in plots.items():
            (folder / "plots" / f"{name}.png").write_bytes(png)
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "report.md").write_text(render_markdown(report, plots), encoding="utf-8")
    (folder / "report.html").write_text(render_html(report, plots), encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------------------
# plain text for the terminal
# ------------------------------------------------------------------------------------------------------


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]


def summary_text(report: Mapping[str, Any]) -> str:
    width = max([len(n) for n, _ in summary_rows(report)] + [6])
    lines = ["system".ljust(width) + "  " + "  ".join(c.rjust(max(len(c), 6)) for c in TEXT_COLUMNS)]
    for name, f in summary_rows(report):
        if "error" in f:
            lines.append(name.ljust(width) + "  error: " + str(f["error"]))
            continue
        lines.append(name.ljust(width) + "  " + "  ".join(fmt(f.get(c)).rjust(max(len(c), 6)) for c in TEXT_COLUMNS))
    return "\n".join(lines)


def compare_text(cmp_: Mapping[str, Any]) -> str:
    lines = [f"change against {cmp_.get('against')}:"]
    for name, rows in cmp_["systems"].items():
        diffs = changed(rows)
        if not diffs:
            lines.append(f"  {name}: no change")
            continue
        lines.append(f"  {name}:")
        for k, v in diffs:
            lines.append(f"    {k:<20} {fmt(v['old']):>8} → {fmt(v['new']):>8}  {fmt_delta(k, v['delta'])}")
    view_ = _compare(cmp_)
    lines += [f"  {line}" for line in view_["items"]]
    return "\n".join(lines)


def squad_summary_text(section: Mapping[str, Any]) -> str:
    head = f"squad ({section.get('questions_scored')} questions, {section.get('chunks')} chunks):"
    lines = [head, *_columns(list(SQUAD_HEADER), squad_table(section))]
    ours = section.get("systems", {}).get("hybrid", {}).get("figures", {})
    if ours.get("read_unanswerable"):
        lines.append(
            f"read by hand as SQuAD 2.0 unanswerables (--squad-readings): {ours['read_unanswerable']}, "
            f"refused {ours['read_unanswerable_refused']}/{ours['read_unanswerable']}"
        )
    away = section.get("elsewhere")
    if away and away.get("questions"):
        lines.append(f"asked against the default knowledge base (none answerable): refused {away['refused']}/{away['questions']}")
    here = section.get("suites_here")
    if here and here.get("questions"):
        lines.append(f"our suites' questions asked against this corpus (none answerable): refused {here['refused']}/{here['questions']}")
    return "\n".join(lines)
