"""The squad2fi-dev format as an evaluation suite: external documents and questions nobody here wrote.

A folder holds ``corpus/*.txt`` (one article a file), ``questions.jsonl`` (``id``, ``q``, ``source``,
``paragraph_index``, ``answer_spans``) and ``paragraphs.json`` (every paragraph with its character offsets in
its corpus file). ``assistant eval --squad DIR [--limit N]`` indexes the corpus once (cached under the
``--index`` folder, keyed by the corpus hash), asks every question and scores, side by side:

* ``hybrid`` answers — gold paragraph cited first / among the cited, the answer contains a gold answer span,
  refusals, wrong refusals (the gold paragraph was retrieved at rank 1, yet the answer refused);
* retrieval of ``hybrid``, a plain llama-index ``VectorStoreIndex`` (same store and model) and BM25 over
  Snowball stems — hit@1/3/5, MRR@10, the top passage contains a gold span.

A passage hits when ≥ 60 % of its characters lie inside the gold paragraph, or ≥ 60 % of the paragraph lies
inside the passage (offsets from ``paragraphs.json``; chunk offsets are into the same original file text).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.evaluate import (
    DEPTH,
    CachedEmbedder,
    Ranked,
    _fmt,
    _h,
    _html_table,
    _log,
    _md_table,
    build_anchor,
    fold,
    kb_retrieve,
    percentile,
    strip_markers,
)

HIT_SHARE = 0.6
#: spans this short ("on", "ja", "10") occur in almost any answer; they say nothing about it
MIN_SPAN_CHARS = 3
SQUAD_RETRIEVAL = ("hit@1", "hit@3", "hit@5", "mrr", "top_has_span")
SQUAD_ANSWERS = ("cited_first", "cited_any", "answer_has_span", "refusals", "wrong_refusals")
SQUAD_LATENCY = ("latency_p50_ms", "latency_p95_ms")
SQUAD_SYSTEMS = {
    "hybrid": "ours: dense + BM25 (Voikko) → extractive answer",
    "llamaindex": "plain llama-index VectorStoreIndex, same Chroma store and model",
    "bm25-snowball": "bm25s over Snowball stems, same chunks",
}


class SquadError(ValueError):
    """A folder that is not in the squad2fi-dev format (the message says what is missing)."""


@dataclass(frozen=True)
class Paragraph:
    source: str
    index: int
    start: int
    end: int
    spans: tuple[str, ...]


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    source: str
    paragraph_index: int
    spans: tuple[str, ...]


@dataclass
class SquadSet:
    root: Path
    corpus_dir: Path
    corpus_hash: str
    questions: list[SquadQuestion]
    paragraphs: dict[tuple[str, int], Paragraph]
    total_questions: int

    def gold(self, q: SquadQuestion) -> Paragraph:
        return self.paragraphs[(q.source, q.paragraph_index)]


def corpus_hash(corpus_dir: Path) -> str:
    """SHA-256 over every corpus file's name and bytes: the index cache key."""
    h = hashlib.sha256()
    for path in sorted(corpus_dir.glob("*.txt")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _spread(items: Sequence[Any], limit: int | None) -> list[Any]:
    """``limit`` items evenly spaced over ``items`` (a quick run still covers every article)."""
    if not limit or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def load_squad(root: Path | str, limit: int | None = None) -> SquadSet:
    root = Path(root)
    corpus = root / "corpus"
    missing = [p.name for p in (corpus, root / "questions.jsonl", root / "paragraphs.json") if not p.exists()]
    if missing:
        raise SquadError(f"{root} is not a squad2fi-dev folder: missing {', '.join(missing)}")
    data = json.loads((root / "paragraphs.json").read_text(encoding="utf-8"))
    paragraphs: dict[tuple[str, int], Paragraph] = {}
    for article in data.get("articles", []):
        for p in article["paragraphs"]:
            spans = tuple(s["text"] if isinstance(s, Mapping) else str(s) for s in p.get("answer_spans", []))
            paragraphs[(article["file"], int(p["index"]))] = Paragraph(
                article["file"], int(p["index"]), int(p["start"]), int(p["end"]), spans
            )
    questions = []
    for lineno, line in enumerate((root / "questions.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        q = SquadQuestion(
            str(rec["id"]), rec["q"], rec["source"], int(rec["paragraph_index"]), tuple(rec["answer_spans"])
        )
        if (q.source, q.paragraph_index) not in paragraphs:
            raise SquadError(f"questions.jsonl:{lineno}: paragraph {q.paragraph_index} of {q.source} unknown")
        questions.append(q)
    return SquadSet(root, corpus, corpus_hash(corpus), _spread(questions, limit), paragraphs, len(questions))


# ------------------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------------------


def passage_hits(source: str, start: int, end: int, gold: Paragraph) -> bool:
    """≥ 60 % of the passage inside the paragraph, or ≥ 60 % of the paragraph inside the passage."""
    if source != gold.source or end <= start:
        return False
    overlap = min(end, gold.end) - max(start, gold.start)
    return overlap > 0 and (
        overlap >= HIT_SHARE * (end - start) or overlap >= HIT_SHARE * (gold.end - gold.start)
    )


def span_in(text: str, spans: Sequence[str]) -> str | None:
    """The first gold span (≥ 3 characters) that occurs in ``text`` (folded, citation markers removed)."""
    folded = fold(strip_markers(text))
    for s in spans:
        fs = fold(s)
        if len(fs) >= MIN_SPAN_CHARS and fs in folded:
            return s
    return None


def retrieval_figures(ranked: Sequence[Ranked], q: SquadQuestion, gold: Paragraph) -> dict[str, Any]:
    hits = [passage_hits(p.source, p.start, p.end, gold) for p in ranked[:DEPTH]]
    first = next((i + 1 for i, h in enumerate(hits) if h), None)
    return {
        "hit@1": float(first == 1),
        "hit@3": float(first is not None and first <= 3),
        "hit@5": float(first is not None and first <= 5),
        "mrr": 1.0 / first if first else 0.0,
        "top_has_span": float(bool(ranked) and span_in(ranked[0].text, q.spans) is not None),
        "rank": first,
        "ranked": [
            {"id": p.id, "source": p.source, "hit": h} for p, h in zip(ranked[:DEPTH], hits, strict=False)
        ],
    }


def answer_figures(
    answer: Mapping[str, Any], q: SquadQuestion, gold: Paragraph, offsets: Mapping[str, tuple[str, int, int]]
) -> dict[str, Any]:
    """Scores one ``Answer.to_dict()``; ``offsets``: chunk id → (source, start, end) for its retrieved list."""
    refused = bool(answer.get("refused"))
    cites = sorted(answer.get("citations") or [], key=lambda c: int(c.get("n") or 0))
    hits = [
        passage_hits(str(c.get("source")), int(c.get("start") or 0), int(c.get("end") or 0), gold)
        for c in cites
    ]
    retrieved = answer.get("retrieved") or []
    top = offsets.get(str(retrieved[0]["id"])) if retrieved else None
    top_is_gold = top is not None and passage_hits(*top, gold)
    matched = None if refused else span_in(str(answer.get("answer") or ""), q.spans)
    return {
        "answer": str(answer.get("answer") or ""),
        "refused": refused,
        "cited_first": float(bool(hits) and hits[0]),
        "cited_any": float(any(hits)),
        "answer_has_span": float(matched is not None),
        "span": matched,
        "refusals": float(refused),
        "wrong_refusals": float(refused and top_is_gold),
        "citations": [
            {
                "n": c.get("n"),
                "source": c.get("source"),
                "start": c.get("start"),
                "end": c.get("end"),
                "hit": h,
            }
            for c, h in zip(cites, hits, strict=True)
        ],
    }


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def aggregate_squad(rows: Sequence[Mapping[str, Any]], system: str) -> dict[str, Any]:
    res = [r["results"][system] for r in rows if system in r["results"]]
    out: dict[str, Any] = {"questions": len(res)}
    for m in SQUAD_RETRIEVAL:
        out[m] = _mean([x["retrieval"][m] for x in res if "retrieval" in x])
    answers = [x["answer"] for x in res if "answer" in x]
    if answers:
        for m in SQUAD_ANSWERS:
            out[m] = _mean([a[m] for a in answers])
        lat = [x["answer_ms"] for x in res if "answer_ms" in x]
        out["latency_p50_ms"] = percentile(lat, 50)
        out["latency_p95_ms"] = percentile(lat, 95)
    return out


# ------------------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------------------


def squad_settings(settings: Settings, squad: SquadSet) -> Settings:
    """The squad corpus indexed in its own embedded Chroma under ``<index>/squad-<corpus hash>/``, extractive."""
    return settings.model_copy(
        update={
            "sources": squad.corpus_dir,
            "index": Path(settings.index) / f"squad-{squad.corpus_hash[:16]}",
            "chroma_url": None,
            "collection": "squad",
            "llm_url": None,
            "llm_model": None,
        }
    )


def ensure_squad_index(settings: Settings, log: Callable[[str], None] = _log) -> dict[str, Any]:
    """Refresh the cached index: a first run embeds the corpus, a re-run embeds nothing (same hashes)."""
    from assistant.knowledge.ingest import refresh

    Path(settings.index).mkdir(parents=True, exist_ok=True)
    log(f"squad index at {settings.index} ...")
    summary = refresh(settings, show_bar=False)
    log(summary.text())
    if summary.failed:
        raise SquadError(f"squad corpus failed to index: {summary.failed}")
    return summary.to_json()


def run_squad(
    settings: Settings,
    squad: SquadSet,
    *,
    anchor: bool = True,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Indexes the corpus (cached), asks every question and returns the report's ``squad`` section."""
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase
    from assistant.knowledge.embeddings import embedder_from_settings
    from assistant.text.language import detect_language

    t_start = time.perf_counter()
    s = squad_settings(settings, squad)
    refreshed = ensure_squad_index(s, log)
    embedder = CachedEmbedder(embedder_from_settings(s))
    kb = KnowledgeBase(s, embedder=embedder)
    assistant = Assistant(s, kb=kb)
    snap = kb.current()
    offsets = {
        cid: (str(m.get("source")), int(m.get("start") or 0), int(m.get("end") or 0))
        for cid, m in zip(snap.ids, snap.metas, strict=True)
    }
    runners: dict[str, Callable[[str, str], list[Ranked]]] = {
        "hybrid": lambda q, lang: kb_retrieve(assistant, q, lang, "hybrid", []),
        "bm25-snowball": lambda q, lang: kb_retrieve(assistant, q, lang, "bm25-snowball", []),
    }
    errors: dict[str, str] = {}
    if anchor:
        try:
            anchor_run = build_anchor(kb)
            runners["llamaindex"] = lambda q, lang: anchor_run(q)
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            errors["llamaindex"] = f"{type(exc).__name__}: {exc}"
    assistant.ask(squad.questions[0].question if squad.questions else "Mikä?")  # warm-up, not latency
    embedder.clear()

    log(f"squad: {len(squad.questions)} questions over {len(snap.ids)} chunks × {len(runners)} systems ...")
    rows = []
    for q in squad.questions:
        gold = squad.gold(q)
        language = detect_language(q.question)
        row: dict[str, Any] = {
            "id": q.id,
            "question": q.question,
            "source": q.source,
            "paragraph_index": q.paragraph_index,
            "language": language,
            "results": {},
        }
        t = time.perf_counter()
        got = assistant.ask(q.question).to_dict()
        answer_ms = (time.perf_counter() - t) * 1000
        for name, run in runners.items():
            ranked = run(q.question, language)
            row["results"][name] = {"retrieval": retrieval_figures(ranked, q, gold)}
        row["results"]["hybrid"]["answer"] = answer_figures(got, q, gold, offsets)
        row["results"]["hybrid"]["answer_ms"] = answer_ms
        rows.append(row)
    systems = {
        name: (
            {"label": label, "error": errors[name]}
            if name in errors
            else {"label": label, "figures": aggregate_squad(rows, name)}
        )
        for name, label in SQUAD_SYSTEMS.items()
        if name in runners or name in errors
    }
    return {
        "dataset": str(squad.root),
        "corpus_hash": squad.corpus_hash,
        "index": str(s.index),
        "chunks": len(snap.ids),
        "sources": len(snap.sources),
        "questions_total": squad.total_questions,
        "questions_scored": len(rows),
        "refresh": refreshed,
        "hit_rule": f"≥{HIT_SHARE:.0%} of the passage inside the gold paragraph or of the paragraph inside the passage",
        "min_span_chars": MIN_SPAN_CHARS,
        "systems": systems,
        "items": rows,
        "runtime_s": round(time.perf_counter() - t_start, 2),
    }


# ------------------------------------------------------------------------------------------------------
# reporting
# ------------------------------------------------------------------------------------------------------


def _pct(x: Any) -> str:
    return "–" if x is None else f"{x:.1%}"


def squad_table(section: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per system: ours (answers), then the retrieval of each system side by side."""
    header = [
        "system",
        "hit@1",
        "hit@3",
        "hit@5",
        "MRR",
        "top passage has span",
        "cited first",
        "among cited",
        "answer has span",
        "refusals",
        "wrong refusals",
        "p50 ms",
        "p95 ms",
    ]
    rows: list[list[str]] = []
    for name, entry in section.get("systems", {}).items():
        if "error" in entry:
            rows.append([name, *(["error"] * (len(header) - 1))])
            continue
        f = entry["figures"]
        if name == "hybrid":
            rows.append(
                [
                    "**ours, answers**",
                    "–",
                    "–",
                    "–",
                    "–",
                    "–",
                    _fmt(f.get("cited_first")),
                    _fmt(f.get("cited_any")),
                    _fmt(f.get("answer_has_span")),
                    _pct(f.get("refusals")),
                    _pct(f.get("wrong_refusals")),
                    _fmt(f.get("latency_p50_ms")),
                    _fmt(f.get("latency_p95_ms")),
                ]
            )
            label = "ours, retrieval only"
        else:
            label = name
        rows.append(
            [
                label,
                *(_fmt(f.get(m)) for m in ("hit@1", "hit@3", "hit@5", "mrr", "top_has_span")),
                *(["–"] * 7),
            ]
        )
    return header, rows


def _misses(section: Mapping[str, Any], limit: int = 40) -> dict[str, list[Mapping[str, Any]]]:
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
    return {
        "wrong refusals (gold passage retrieved first, answer refused)": wrong[:limit],
        "gold retrieved first, answer shows no gold span": lost[:limit],
    }


def _intro(section: Mapping[str, Any]) -> str:
    r = section.get("refresh", {})
    return (
        f"{section.get('questions_scored')} of {section.get('questions_total')} questions · "
        f"{section.get('chunks')} chunks from {section.get('sources')} articles · corpus "
        f"{str(section.get('corpus_hash'))[:12]} · index {section.get('index')} ({r.get('chunks_embedded', 0)} "
        f"chunks embedded now) · hit = {section.get('hit_rule')} · spans shorter than "
        f"{section.get('min_span_chars')} characters ignored · {section.get('runtime_s')} s"
    )


def squad_markdown(section: Mapping[str, Any]) -> list[str]:
    header, rows = squad_table(section)
    out = [
        f"## External data: {section.get('dataset')}",
        "",
        _intro(section),
        "",
        _md_table(header, rows),
        "",
    ]
    for title, items in _misses(section).items():
        if not items:
            continue
        out += [f"### {title}: {len(items)} shown", ""]
        for row in items:
            ans = row["results"]["hybrid"]["answer"]
            text = " ".join(ans["answer"].split())[:300]
            out.append(f"- `{row['id']}` {row['question']} → {text}")
        out.append("")
    return out


def squad_html(section: Mapping[str, Any]) -> list[str]:
    header, rows = squad_table(section)
    rows = [[c.replace("**", "") for c in r] for r in rows]
    parts = [
        f"<h2>External data: {_h(section.get('dataset'))}</h2>",
        f"<p class=muted>{_h(_intro(section))}</p>",
        _html_table(header, rows),
    ]
    for title, items in _misses(section).items():
        if not items:
            continue
        parts.append(f"<details><summary>{_h(title)}: {len(items)} shown</summary><ul>")
        for row in items:
            ans = row["results"]["hybrid"]["answer"]
            parts.append(
                f"<li><code>{_h(row['id'])}</code> {_h(row['question'])}<pre>{_h(ans['answer'])}</pre></li>"
            )
        parts.append("</ul></details>")
    return parts


def squad_summary_text(section: Mapping[str, Any]) -> str:
    header, rows = squad_table(section)
    lines = [f"squad ({section.get('questions_scored')} questions, {section.get('chunks')} chunks):"]
    widths = [max(len(h), *(len(r[i].replace("**", "")) for r in rows)) for i, h in enumerate(header)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        lines.append("  ".join(c.replace("**", "").rjust(w) for c, w in zip(r, widths, strict=True)))
    return "\n".join(lines)
