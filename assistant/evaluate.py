"""Evaluation: suites of questions → retrieval and answer metrics per ablation → reports and a gate.

``assistant eval [--suite FILE...] [--report-dir DIR] [--compare REPORT] [--gate] [--no-ablations]``

* Suites are YAML files in ``evals/`` (format: ``evals/README.md``). Each item names its expected passages by
  source and a quote (so it survives re-chunking), the facts the answer must contain (each a list of accepted
  alternatives) or that it must refuse.
* Every item is run through the same retrieval and answering code the app uses, once per system:
  ``hybrid`` (the product), ``dense``, ``bm25-voikko``, ``bm25-snowball`` (ablations: retrieval *and*
  extractive answers), and ``llamaindex`` — a plain llama-index ``VectorStoreIndex`` retriever over the same
  Chroma collection and embedding model, as an outside anchor (retrieval only). With an LLM configured the
  generative answers are scored too (``hybrid+llm``), optionally with an LLM judge for faithfulness
  (``ASSISTANT_EVAL_JUDGE=1``; off by default).
* Retrieval: hit@1/3/5, MRR@10, nDCG@10 (graded gains, ideal ranking over the whole index), recall@5.
  Answers: fact recall, citation precision/recall, refusal accuracy, false refusals, dangling markers,
  citations of passages that are not in the knowledge base. Latency p50/p95 (after a warm-up).
* Reports go to ``evals/reports/<YYYYmmdd-HHMMSS>/``: ``report.json`` (all figures and every answer),
  ``report.md`` and a self-contained ``report.html`` with plots; ``--compare`` adds the change against an
  earlier report; ``--gate`` exits 1 when a figure is below ``evals/thresholds.yaml``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import math
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from assistant.config import REPO_ROOT, Settings

EVALS_DIR = REPO_ROOT / "evals"
REPORTS_DIR = EVALS_DIR / "reports"
THRESHOLDS_FILE = EVALS_DIR / "thresholds.yaml"
REPORT_FORMAT = "elmo-eval/1"

AREAS = ("elmo", "strategy-2019", "strategy-2024", "contacts", "out-of-scope", "feedback")
LANGUAGES = ("fi", "en", "sv")
KINDS = frozenset(
    {"who", "what", "when", "where", "why", "count", "list", "contact", "inflected", "follow-up", "refusal"}
)
STATUSES = ("active", "draft")

DEPTH = 10  # retrieval depth for MRR/nDCG
#: systems with their retrieval mode; ``None`` is the llama-index anchor (retrieval only)
RETRIEVAL_SYSTEMS: dict[str, str | None] = {
    "hybrid": "hybrid",
    "dense": "dense",
    "bm25-voikko": "bm25",
    "bm25-snowball": "bm25-snowball",
    "llamaindex": None,
}
SYSTEM_LABELS = {
    "hybrid": "dense + BM25 (Voikko lemmas) fused by RRF — the product",
    "dense": "dense only (multilingual-e5-small in Chroma)",
    "bm25-voikko": "BM25 over Voikko lemmas + compound parts",
    "bm25-snowball": "BM25 over Snowball stems",
    "llamaindex": "plain llama-index VectorStoreIndex retriever, same Chroma store and model (anchor)",
    "hybrid+llm": "hybrid retrieval + the generative (LLM) answerer",
}
RETRIEVAL_METRICS = ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@10", "recall@5")
ANSWER_METRICS = (
    "fact_recall",
    "facts_complete",
    "citation_precision",
    "citation_recall",
    "refusal_accuracy",
    "false_refusals",
    "false_refusal_rate",
    "dangling",
    "phantom_citations",
    "forbidden",
    "language_accuracy",
    "passed",
    "faithfulness",
)
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms", "retrieval_p50_ms", "retrieval_p95_ms")
#: figures where lower is better (for the gate's direction and the comparison's arrows)
LOWER_IS_BETTER = frozenset(
    {
        "false_refusals",
        "false_refusal_rate",
        "dangling",
        "phantom_citations",
        "forbidden",
        "refusals",  # squad-format sets
        "wrong_refusals",
        *LATENCY_METRICS,
    }
)
WARMUP_QUESTION = "Mikä on ELMO-pilotti?"
#: suites reported but left out of the gate (their figures are targets to reach, not yet a floor to keep)
UNGATED_SUITES = frozenset({"realistic", "near-miss"})


class SuiteError(ValueError):
    """A suite file that cannot be used (the message names the file and the item)."""


# ======================================================================================================
# text folding and matching
# ======================================================================================================

_QUOTES = "´’‘`ʼ′"
_DASHES = "–—‐‑−"
_FOLD_TABLE = {ord(c): "'" for c in _QUOTES} | {ord(c): "-" for c in _DASHES} | {0xA0: " ", 0x202F: " "}
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_NUMBER = re.compile(r"\+?\d[\d\s\-()]*\d|\d")
_PHONE_LIKE = re.compile(r"(\+|0)[\d\s\-()]{6,}")  # +358 … or 0…: a phone number, not a year range


def _fold_map(text: str) -> tuple[str, list[int]]:
    """``text`` folded for matching, and for each folded character its index in ``text``.

    Folding: lower case, typographic quotes (´ ’ ‘ ` ʼ) → ', dashes (– — ‐ −) → -, soft hyphens dropped,
    whitespace collapsed and stripped, and spaces around a dash between two numbers removed
    ("2022 – 2027" → "2022-2027")."""
    chars: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if ch == "\u00ad":
            continue
        ch = ch.translate(_FOLD_TABLE)
        if ch.isspace():
            if chars and chars[-1][0] != " ":
                chars.append((" ", i))
            continue
        for low in ch.lower():
            chars.append((low, i))
    while chars and chars[-1][0] == " ":
        chars.pop()
    out: list[tuple[str, int]] = []
    for k, (c, i) in enumerate(chars):
        if c == " " and out:
            prev = out[-1][0]
            nxt = chars[k + 1][0] if k + 1 < len(chars) else ""
            after = chars[k + 2][0] if k + 2 < len(chars) else ""
            after2 = chars[k + 3][0] if k + 3 < len(chars) else ""
            if prev.isdigit() and nxt == "-" and (after.isdigit() or (after == " " and after2.isdigit())):
                continue
            if prev == "-" and nxt.isdigit() and len(out) >= 2 and out[-2][0].isdigit():
                continue
        out.append((c, i))
    return "".join(c for c, _ in out), [i for _, i in out]


def fold(text: str) -> str:
    """Text folded for matching (see :func:`_fold_map`), NFC-normalised first."""
    return _fold_map(unicodedata.normalize("NFC", text))[0]


def strip_markers(text: str) -> str:
    """An answer without its citation markers and Markdown emphasis (what fact matching reads)."""
    return _MARKER.sub(" ", text).replace("**", "")


def _phone_digits(number: str) -> str:
    d = re.sub(r"\D", "", number)
    if d.startswith("358") and len(d) > 8:
        d = "0" + d[3:]  # +358 40 … is 040 …
    return d


def _numbers(text: str) -> list[str]:
    return [_phone_digits(m.group()) for m in _NUMBER.finditer(text)]


def fact_match(alternatives: Sequence[str], text: str) -> str | None:
    """The first alternative that occurs in ``text`` (folded), or None.

    Phone-like alternatives (starting with + or 0, 7+ digits) also match by digits only, so "040 6854 053"
    is found in "+358 40 6854053"."""
    folded = fold(text)
    numbers: list[str] | None = None
    for alt in alternatives:
        fa = fold(alt)
        if fa and fa in folded:
            return alt
        if _PHONE_LIKE.fullmatch(alt.strip()) and len(re.sub(r"\D", "", alt)) >= 7:
            if numbers is None:
                numbers = _numbers(text)
            want = _phone_digits(alt)
            if any(want in n for n in numbers):
                return alt
    return None


def dangling_markers(text: str, n_citations: int) -> list[int]:
    """Citation markers ``[n]`` (or ``[n, m]``) whose number is outside 1..n_citations."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for part in m.group(1).split(","):
            n = int(part)
            if not 1 <= n <= n_citations:
                out.append(n)
    return out


def locate(source_text: str, quote: str) -> tuple[int, int] | None:
    """Where ``quote`` (folded) occurs in ``source_text`` (folded), as offsets into ``source_text``."""
    folded, index = _fold_map(source_text)
    fq = fold(quote)
    at = folded.find(fq) if fq else -1
    if at < 0:
        return None
    return index[at], index[at + len(fq) - 1] + 1


# ======================================================================================================
# suites
# ======================================================================================================


@dataclass(frozen=True)
class ExpectedPassage:
    source: str
    quote: str
    grade: int = 1  # graded relevance for nDCG: 2 = the passage that answers, 1 = supporting


@dataclass
class Item:
    id: str
    question: str
    area: str
    language: str
    kind: list[str] = field(default_factory=list)
    history: list[Any] = field(default_factory=list)
    expected_passages: list[ExpectedPassage] = field(default_factory=list)
    facts: list[list[str]] = field(default_factory=list)
    must_refuse: bool = False
    forbidden: list[str] = field(default_factory=list)
    status: str = "active"
    suite: str = ""
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return not self.must_refuse

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "area": self.area,
            "language": self.language,
            "kind": list(self.kind),
            "question": self.question,
        }
        if self.history:
            out["history"] = list(self.history)
        if self.expected_passages:
            out["expected_passages"] = [
                {"source": e.source, "quote": e.quote, **({"grade": e.grade} if e.grade != 1 else {})}
                for e in self.expected_passages
            ]
        if self.facts:
            out["facts"] = [list(f) for f in self.facts]
        out["must_refuse"] = self.must_refuse
        if self.forbidden:
            out["forbidden"] = list(self.forbidden)
        if self.status != "active":
            out["status"] = self.status
        if self.note:
            out["note"] = self.note
        out.update(self.extra)
        return out


_ITEM_KEYS = {
    "id",
    "question",
    "area",
    "language",
    "kind",
    "history",
    "expected_passages",
    "facts",
    "must_refuse",
    "forbidden",
    "status",
    "note",
}


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    raise SuiteError(f"{what}: expected a string or a list of strings, got {value!r}")


def parse_item(
    raw: Mapping[str, Any], *, origin: str = "", position: int = 0, defaults: Mapping[str, Any] | None = None
) -> Item:
    """One suite item from its YAML mapping (defaults filled, everything checked)."""
    if not isinstance(raw, Mapping):
        raise SuiteError(f"{origin} item {position}: expected a mapping, got {type(raw).__name__}")
    data = {**(defaults or {}), **raw}
    question = data.get("question")
    where = f"{origin} item {data.get('id', position)}"
    if not isinstance(question, str) or not question.strip():
        raise SuiteError(f"{where}: 'question' must be a non-empty string")
    history = data.get("history") or []
    if not isinstance(history, list):
        raise SuiteError(f"{where}: 'history' must be a list of earlier questions")
    item_id = str(data.get("id") or "")
    if not item_id:
        digest = hashlib.sha1(json.dumps([question, history], ensure_ascii=False).encode()).hexdigest()[:10]
        item_id = f"{Path(origin).stem or 'item'}-{digest}"
    area = data.get("area") or "feedback"
    if area not in AREAS:
        raise SuiteError(f"{where}: unknown area {area!r} (one of {', '.join(AREAS)})")
    language = data.get("language")
    if not language:
        from assistant.text.language import detect_language

        language = detect_language(question)
    if language not in LANGUAGES:
        raise SuiteError(f"{where}: unknown language {language!r} (one of {', '.join(LANGUAGES)})")
    kind = _str_list(data.get("kind"), f"{where}: kind")
    unknown = [k for k in kind if k not in KINDS]
    if unknown:
        raise SuiteError(f"{where}: unknown kind {unknown} (known: {', '.join(sorted(KINDS))})")
    expected: list[ExpectedPassage] = []
    for j, e in enumerate(data.get("expected_passages") or []):
        if (
            not isinstance(e, Mapping)
            or not isinstance(e.get("source"), str)
            or not isinstance(e.get("quote"), str)
        ):
            raise SuiteError(f"{where}: expected_passages[{j}] needs 'source' and 'quote' strings")
        if not e["quote"].strip():
            raise SuiteError(f"{where}: expected_passages[{j}] has an empty quote")
        grade = e.get("grade", 1)
        if not isinstance(grade, int) or isinstance(grade, bool) or grade < 1:
            raise SuiteError(f"{where}: expected_passages[{j}].grade must be a positive integer")
        expected.append(ExpectedPassage(e["source"], e["quote"], grade))
    facts: list[list[str]] = []
    for j, f in enumerate(data.get("facts") or []):
        alts = [a for a in _str_list(f, f"{where}: facts[{j}]") if a.strip()]
        if not alts:
            raise SuiteError(f"{where}: facts[{j}] has no alternatives")
        facts.append(alts)
    expected_block = data.get("expected")  # feedback export: {"refuse": bool}
    review = bool(data.get("review"))  # feedback export: a disliked answer waiting for a person
    default_refuse = (
        bool(expected_block.get("refuse")) if isinstance(expected_block, Mapping) and not review else False
    )
    must_refuse = data.get("must_refuse", default_refuse)
    if not isinstance(must_refuse, bool):
        raise SuiteError(f"{where}: 'must_refuse' must be true or false")
    if must_refuse and (facts or expected):
        raise SuiteError(f"{where}: an item that must be refused has no facts or expected passages")
    status = data.get("status") or ("draft" if review else "active")
    if status not in STATUSES:
        raise SuiteError(f"{where}: unknown status {status!r} (active or draft)")
    return Item(
        id=item_id,
        question=question,
        area=area,
        language=language,
        kind=kind,
        history=list(history),
        expected_passages=expected,
        facts=facts,
        must_refuse=must_refuse,
        forbidden=[x for x in _str_list(data.get("forbidden"), f"{where}: forbidden") if x],
        status=status,
        suite=Path(origin).stem,
        note=data.get("note"),
        extra={k: v for k, v in data.items() if k not in _ITEM_KEYS and k not in (defaults or {})},
    )


def _looks_like_item(record: Mapping[str, Any]) -> bool:
    return any(k in record for k in ("facts", "expected_passages", "must_refuse", "area", "kind"))


def load_suite(path: Path | str) -> list[Item]:
    """Items of one suite file.

    Accepted: YAML with a top-level list of items, or a mapping ``{suite, defaults, items}`` (the
    ``assistant feedback export --as-suite`` output is either); and JSONL, one item or one exported
    feedback record a line (records are turned into draft items, see :func:`items_from_feedback`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read suite {path}: {exc}") from exc
    origin = str(path)
    if path.suffix == ".jsonl":
        items_raw: list[dict[str, Any]] = []
        feedback_rows: list[dict[str, Any]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{path}:{lineno}: not JSON: {exc}") from exc
            if not isinstance(rec, dict):
                raise SuiteError(f"{path}:{lineno}: expected a JSON object")
            (items_raw if _looks_like_item(rec) else feedback_rows).append(rec)
        items_raw += items_from_feedback(feedback_rows)
        return [parse_item(r, origin=origin, position=i) for i, r in enumerate(items_raw, start=1)]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from exc
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        defaults = dict(data.get("defaults") or {})
        data = data.get("items")
    if data is None:
        return []
    if not isinstance(data, list):
        raise SuiteError(f"{path}: expected a list of items (or a mapping with 'items')")
    return [parse_item(r, origin=origin, position=i, defaults=defaults) for i, r in enumerate(data, start=1)]


def default_suite_paths(root: Path = EVALS_DIR) -> list[Path]:
    """The default suite: every ``*.yaml`` in ``evals/`` except ``thresholds.yaml``."""
    return sorted(p for p in root.glob("*.yaml") if p.name != THRESHOLDS_FILE.name)


def gated_suite_paths(root: Path = EVALS_DIR) -> list[Path]:
    """The suites the gate holds to ``evals/thresholds.yaml``: the default ones except :data:`UNGATED_SUITES`."""
    return [p for p in default_suite_paths(root) if p.stem not in UNGATED_SUITES]


def load_suites(paths: Iterable[Path | str]) -> list[Item]:
    items: list[Item] = []
    seen: dict[str, str] = {}
    for path in paths:
        for item in load_suite(path):
            if item.id in seen:
                raise SuiteError(f"duplicate item id {item.id!r} (in {seen[item.id]} and {path})")
            seen[item.id] = str(path)
            items.append(item)
    return items


def items_from_feedback(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Exported feedback rows (``assistant feedback export`` JSONL) → suite items.

    The conversion is the web chat's own (:func:`assistant.feedback.suite_items`, also behind
    ``feedback export --as-suite``): a liked answer becomes a regression item expecting the passages it
    cited, a liked refusal must stay a refusal, a disliked answer is marked ``review: true`` (skipped until a
    person writes what the answer should say). Rows missing fields get neutral defaults first; ratings such
    as +1/-1, true/false or 👍/👎 are read as up/down."""
    from assistant.feedback import suite_items

    rows = []
    for n, rec in enumerate(records, start=1):
        question = str(rec.get("question") or "").strip()
        if not question:
            continue
        rating = rec.get("rating", rec.get("vote"))
        up = rating in ("up", "+1", "good", "👍", True) or (
            isinstance(rating, int | float) and not isinstance(rating, bool) and rating > 0
        )
        rows.append(
            {
                "id": rec.get("id") if rec.get("id") not in (None, "") else n,
                "question": question,
                "history": list(rec.get("history") or []),
                "language": rec.get("language"),
                "rating": "up" if up else "down",
                "refused": bool(rec.get("refused")),
                "answer": str(rec.get("answer") or ""),
                "citations": list(rec.get("citations") or []),
                "comment": rec.get("comment"),
                "created_at": rec.get("created_at") or "",
            }
        )
    return suite_items(rows)


def suite_yaml(items: Iterable[Mapping[str, Any] | Item], name: str = "feedback") -> str:
    """Suite YAML for ``items`` (dicts in the suite format or :class:`Item`), loadable by :func:`load_suite`."""
    rows = [i.to_dict() if isinstance(i, Item) else dict(i) for i in items]
    return yaml.safe_dump({"suite": name, "items": rows}, allow_unicode=True, sort_keys=False, width=110)


# ======================================================================================================
# metrics
# ======================================================================================================


def hit_at(gains: Sequence[float], k: int) -> float:
    return 1.0 if any(g > 0 for g in gains[:k]) else 0.0


def reciprocal_rank(gains: Sequence[float], k: int = DEPTH) -> float:
    for i, g in enumerate(gains[:k]):
        if g > 0:
            return 1.0 / (i + 1)
    return 0.0


def dcg(gains: Sequence[float], k: int = DEPTH) -> float:
    """Discounted cumulative gain with exponential gains: sum (2^g − 1) / log2(rank + 1)."""
    return sum((2.0**g - 1.0) / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg(gains: Sequence[float], ideal: Sequence[float], k: int = DEPTH) -> float:
    """nDCG@k of ``gains`` (in ranked order) against the best possible ranking of ``ideal`` (the gains of
    every passage in the collection)."""
    best = dcg(sorted(ideal, reverse=True), k)
    return dcg(gains, k) / best if best > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


@dataclass
class Ranked:
    """A retrieved (or cited) passage, whatever produced it."""

    id: str
    source: str
    text: str
    start: int = 0
    end: int = 0


class Matcher:
    """Decides which passages match an item's expected passages.

    A passage matches an expected passage when it is from the same source and the folded quote is contained
    in the folded passage text — or the passage text in the quote, for quotes longer than a chunk — or,
    when the quote spans a chunk boundary, when the passage holds at least half of the quote (by offsets of
    the quote located in the source's original text)."""

    def __init__(self, source_texts: Mapping[str, str]):
        self.source_texts = dict(source_texts)
        self._spans: dict[tuple[str, str], tuple[int, int] | None] = {}
        self._folded: dict[str, str] = {}

    def span(self, e: ExpectedPassage) -> tuple[int, int] | None:
        key = (e.source, e.quote)
        if key not in self._spans:
            text = self.source_texts.get(e.source)
            self._spans[key] = locate(text, e.quote) if text else None
        return self._spans[key]

    def _f(self, text: str) -> str:
        if text not in self._folded:
            self._folded[text] = fold(text)
        return self._folded[text]

    def matches(self, p: Ranked, e: ExpectedPassage) -> bool:
        if p.source != e.source:
            return False
        fq, fp = self._f(e.quote), self._f(p.text)
        if fq in fp or (len(fp) >= 20 and fp in fq):
            return True
        span = self.span(e)
        if span is None or p.end <= p.start:
            return False
        overlap = min(span[1], p.end) - max(span[0], p.start)
        return overlap > 0 and overlap >= 0.5 * (span[1] - span[0])

    def gain(self, p: Ranked, expected: Sequence[ExpectedPassage]) -> float:
        return float(max((e.grade for e in expected if self.matches(p, e)), default=0))

    def matched(self, p: Ranked, expected: Sequence[ExpectedPassage]) -> list[int]:
        return [j for j, e in enumerate(expected) if self.matches(p, e)]


def retrieval_scores(
    ranked: Sequence[Ranked], expected: Sequence[ExpectedPassage], corpus: Sequence[Ranked], matcher: Matcher
) -> dict[str, Any]:
    gains = [matcher.gain(p, expected) for p in ranked[:DEPTH]]
    ideal = [g for g in (matcher.gain(p, expected) for p in corpus) if g > 0]
    found5: set[int] = set()
    for p in ranked[:5]:
        found5.update(matcher.matched(p, expected))
    return {
        "hit@1": hit_at(gains, 1),
        "hit@3": hit_at(gains, 3),
        "hit@5": hit_at(gains, 5),
        "mrr": reciprocal_rank(gains, DEPTH),
        "ndcg@10": ndcg(gains, ideal, DEPTH),
        "recall@5": len(found5) / len(expected) if expected else None,
        "ranked": [
            {"id": p.id, "source": p.source, "gain": g} for p, g in zip(ranked[:DEPTH], gains, strict=False)
        ],
    }


def score_answer(
    item: Item, answer: Mapping[str, Any], matcher: Matcher, chunk_texts: Mapping[str, str]
) -> dict[str, Any]:
    """Scores one answer (``Answer.to_dict()``) against its item."""
    text = str(answer.get("answer") or "")
    refused = bool(answer.get("refused"))
    citations = list(answer.get("citations") or [])
    plain = strip_markers(text)
    facts = []
    for alts in item.facts:
        hit = None if refused else fact_match(alts, plain)
        facts.append({"alternatives": alts, "matched": hit})
    satisfied = [f["alternatives"] for f in facts if f["matched"] is not None]
    cited_expected: set[int] = set()
    cit_rows = []
    phantom = 0
    for c in citations:
        p = Ranked(
            str(c.get("chunk_id", "")),
            str(c.get("source", "")),
            str(c.get("text", "")),
            int(c.get("start") or 0),
            int(c.get("end") or 0),
        )
        exp = matcher.matched(p, item.expected_passages)
        cited_expected.update(exp)
        by_fact = any(fact_match(alts, p.text) for alts in satisfied)
        known = p.id in chunk_texts and fold(chunk_texts[p.id]) == fold(p.text)
        phantom += not known
        cit_rows.append(
            {
                "n": c.get("n"),
                "source": p.source,
                "chunk_id": p.id,
                "text": p.text,
                "supports": bool(exp) or by_fact,
                "matches_expected": bool(exp),
                "in_index": known,
            }
        )
    dangling = dangling_markers(text, len(citations))
    forbidden = [f for f in item.forbidden if fold(f) in fold(plain)]
    n_exp = len(item.expected_passages)
    result: dict[str, Any] = {
        "answer": text,
        "refused": refused,
        "language": answer.get("language"),
        "mode": answer.get("mode"),
        "citations": cit_rows,
        "facts": facts,
        "fact_recall": (sum(f["matched"] is not None for f in facts) / len(facts)) if facts else None,
        "citation_precision": (sum(r["supports"] for r in cit_rows) / len(cit_rows)) if cit_rows else None,
        "citation_recall": (len(cited_expected) / n_exp) if n_exp and item.answerable else None,
        "refusal_ok": (refused if item.must_refuse else None),
        "false_refusal": (refused if item.answerable else None),
        "dangling": dangling,
        "phantom_citations": phantom,
        "forbidden": forbidden,
    }
    failures: list[str] = []
    warnings: list[str] = []
    if item.must_refuse and not refused:
        failures.append("answered instead of refusing")
    if item.answerable and refused:
        failures.append("refused an answerable question")
    for f in facts:
        if f["matched"] is None and not refused:
            failures.append("missing fact: " + " | ".join(f["alternatives"]))
    if dangling:
        failures.append(f"dangling citation markers: {dangling}")
    if forbidden:
        failures.append(f"forbidden text in the answer: {forbidden}")
    if phantom:
        failures.append(f"{phantom} citation(s) of text not in the knowledge base")
    for r in cit_rows:
        if not r["supports"] and item.answerable:
            warnings.append(f"[{r['n']}] cites a passage that supports no fact ({r['chunk_id']})")
    if item.answerable and not refused:
        for j, e in enumerate(item.expected_passages):
            if j not in cited_expected:
                warnings.append(f"expected passage not cited: {e.quote[:70]}")
    if answer.get("language") and answer.get("language") != item.language:
        warnings.append(f"language detected as {answer.get('language')}, labelled {item.language}")
    result["failures"] = failures
    result["warnings"] = warnings
    result["passed"] = not failures
    return result


# ======================================================================================================
# running
# ======================================================================================================


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_index(settings: Settings, log: Callable[[str], None] = _log) -> bool:
    """Build the index from ``settings.sources`` when it is empty or missing. True when it was built."""
    from assistant.knowledge.store import Store

    store = Store.open(settings)
    if store.live_sources():
        return False
    log(
        f"the index at {settings.chroma_url or settings.index} is empty: building it from {settings.sources} ..."
    )
    from assistant.knowledge.ingest import refresh

    summary = refresh(settings, show_bar=False)
    log(summary.text())
    return True


class CachedEmbedder:
    """The configured embedder with query vectors memoised for one evaluation run.

    Each item's query is embedded once instead of once per system; ``saved_ms`` accumulates what the cache
    saved, and the timed calls add it back, so every system's latency still includes embedding the query."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.id: str = inner.id
        self.dim: int = inner.dim
        self.saved_ms = 0.0
        self._cache: dict[str, tuple[Any, float]] = {}

    def embed_passages(self, texts: list[str]) -> Any:
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> Any:
        hit = self._cache.get(text)
        if hit is not None:
            self.saved_ms += hit[1]
            return hit[0]
        t = time.perf_counter()
        vec = self.inner.embed_query(text)
        self._cache[text] = (vec, (time.perf_counter() - t) * 1000)
        return vec

    def clear(self) -> None:
        self._cache.clear()
        self.saved_ms = 0.0


def build_anchor(kb: Any, k: int = DEPTH) -> Callable[[str], list[Ranked]]:
    """A plain llama-index ``VectorStoreIndex`` retriever over our Chroma collection and embedding model."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.knowledge.embeddings import as_llama_index

    with contextlib.redirect_stdout(io.StringIO()):  # "LLM is explicitly disabled. Using MockLLM."
        LlamaSettings.llm = None
    embed_model = as_llama_index(kb.embedder)
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=kb.store.chunks), embed_model=embed_model
    )
    retriever = index.as_retriever(similarity_top_k=k)

    def run(query: str) -> list[Ranked]:
        out = []
        for n in retriever.retrieve(query):
            meta = n.node.metadata or {}
            text = n.node.get_content()
            if not text:
                raise RuntimeError(f"llama-index read node {n.node.node_id} with no text")
            out.append(
                Ranked(
                    n.node.node_id,
                    str(meta.get("source", "")),
                    text,
                    int(meta.get("start") or 0),
                    int(meta.get("end") or 0),
                )
            )
        return out

    return run


JUDGE_PROMPT = """You check an assistant's answer against the passages it was given.
Passages:
{passages}

Question: {question}
Answer: {answer}

Is every statement in the answer supported by the passages? Reply with one JSON object and nothing else:
{{"faithful": true or false, "unsupported": ["each unsupported statement", ...]}}"""


def make_judge(settings: Settings) -> Callable[[str, str, list[str]], dict[str, Any]]:
    """An LLM judge of faithfulness (the configured LLM, or ASSISTANT_EVAL_JUDGE_URL/_MODEL)."""
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model=os.environ.get("ASSISTANT_EVAL_JUDGE_MODEL") or settings.llm_model or "",
        api_base=os.environ.get("ASSISTANT_EVAL_JUDGE_URL") or settings.llm_url or "",
        api_key=settings.llm_api_key or "none",
        is_chat_model=True,
        temperature=0.0,
        timeout=settings.llm_timeout,
    )

    def judge(question: str, answer: str, passages: list[str]) -> dict[str, Any]:
        prompt = JUDGE_PROMPT.format(
            passages="\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1)),
            question=question,
            answer=answer,
        )
        return parse_judgement(str(llm.complete(prompt)))

    return judge


def parse_judgement(reply: str) -> dict[str, Any]:
    """The judge's JSON verdict; ``faithful`` None when the reply has none."""
    m = re.search(r"\{.*\}", reply, re.S)
    try:
        data = json.loads(m.group()) if m else {}
    except json.JSONDecodeError:
        data = {}
    faithful = data.get("faithful") if isinstance(data, dict) else None
    unsupported = data.get("unsupported") if isinstance(data, dict) else None
    return {
        "faithful": faithful if isinstance(faithful, bool) else None,
        "unsupported": [str(u) for u in unsupported] if isinstance(unsupported, list) else [],
        "raw": reply[:500],
    }


def _judge_enabled(args: Any = None) -> bool:
    return bool(getattr(args, "judge", False)) or os.environ.get("ASSISTANT_EVAL_JUDGE", "").lower() in {
        "1",
        "true",
        "yes",
    }


def run_evaluation(
    settings: Settings,
    items: Sequence[Item],
    *,
    ablations: bool = True,
    anchor: bool = True,
    judge: Callable[[str, str, list[str]], dict[str, Any]] | None = None,
    suites: Sequence[Path | str] = (),
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Runs every active item through every system and returns the report (a JSON-able dict)."""
    from assistant.answering.assistant import Assistant, clean_question
    from assistant.answering.conversation import resolve_follow_up
    from assistant.answering.retrieve import KnowledgeBase
    from assistant.knowledge.embeddings import embedder_from_settings
    from assistant.text.language import detect_language

    t_start = time.perf_counter()
    built = ensure_index(settings, log)
    extractive_settings = settings.model_copy(update={"llm_url": None, "llm_model": None})
    embedder = CachedEmbedder(embedder_from_settings(settings))
    kb = KnowledgeBase(extractive_settings, embedder=embedder)
    assistant = Assistant(extractive_settings, kb=kb)
    generative = Assistant(settings, kb=kb) if settings.llm_enabled else None
    snap = kb.current()
    source_texts = {s: kb.store.source_text(s) or "" for s in snap.sources}
    matcher = Matcher(source_texts)
    corpus = [
        Ranked(cid, str(m.get("source", "")), t, int(m.get("start") or 0), int(m.get("end") or 0))
        for cid, t, m in zip(snap.ids, snap.texts, snap.metas, strict=True)
    ]
    chunk_texts = dict(zip(snap.ids, snap.texts, strict=True))

    active = [i for i in items if i.status == "active"]
    skipped = [i.id for i in items if i.status != "active"]
    problems = check_suite(active, matcher, corpus)
    for p in problems:
        log(f"suite problem: {p}")

    retrieval_systems = {k: v for k, v in RETRIEVAL_SYSTEMS.items() if ablations or k == "hybrid"}
    if not anchor:
        retrieval_systems.pop("llamaindex", None)
    answer_systems = [k for k, v in retrieval_systems.items() if v is not None]
    errors: dict[str, str] = {}
    anchor_run: Callable[[str], list[Ranked]] | None = None
    if "llamaindex" in retrieval_systems:
        try:
            anchor_run = build_anchor(kb)
            anchor_run(WARMUP_QUESTION)
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            errors["llamaindex"] = f"{type(exc).__name__}: {exc}"
            log(f"llama-index anchor unavailable: {errors['llamaindex']}")
            anchor_run = None

    # warm-up: model loading and first-query costs are not latency
    for mode in {v for v in retrieval_systems.values() if v}:
        assistant.ask(WARMUP_QUESTION, [], mode=mode)
    if generative is not None:
        with contextlib.suppress(Exception):
            generative.ask(WARMUP_QUESTION, [])
    embedder.clear()

    def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
        saved, t = embedder.saved_ms, time.perf_counter()
        value = call(*args, **kwargs)
        return value, (time.perf_counter() - t) * 1000 + (embedder.saved_ms - saved)

    log(
        f"evaluating {len(active)} items × {len(retrieval_systems)} retrieval systems"
        f"{' + LLM answers' if generative else ''} ..."
    )
    rows: list[dict[str, Any]] = []
    for item in active:
        q = clean_question(item.question)
        language = detect_language(q) if q else "fi"
        follow = resolve_follow_up(q, item.history)
        query = f"{q} {follow.context}" if follow.context else q
        row: dict[str, Any] = {**item.to_dict(), "suite": item.suite, "query": query, "results": {}}
        for name, mode in retrieval_systems.items():
            res: dict[str, Any] = {}
            ranked: list[Ranked] | None = None
            if mode is not None:
                ranked, res["retrieval_ms"] = timed(
                    kb_retrieve, assistant, query, language, mode, follow.terms
                )
            elif anchor_run is not None:
                ranked, res["retrieval_ms"] = timed(anchor_run, query)
            else:
                continue
            if item.expected_passages:
                res["retrieval"] = retrieval_scores(ranked, item.expected_passages, corpus, matcher)
            else:
                res["retrieval"] = {
                    "ranked": [{"id": p.id, "source": p.source, "gain": 0.0} for p in ranked[:DEPTH]]
                }
            if mode is not None:
                got, res["answer_ms"] = timed(assistant.ask, item.question, item.history, mode=mode)
                res["answer"] = score_answer(item, got.to_dict(), matcher, chunk_texts)
                _retrieval_warning(res, item)
            row["results"][name] = res
        if generative is not None:
            res = {}
            got, res["answer_ms"] = timed(generative.ask, item.question, item.history)
            answer = got.to_dict()
            res["answer"] = score_answer(item, answer, matcher, chunk_texts)
            if judge is not None and not answer["refused"]:
                try:
                    verdict = judge(item.question, answer["answer"], [c["text"] for c in answer["citations"]])
                except Exception as exc:  # noqa: BLE001 - a judge failure is a missing figure, not a crash
                    verdict = {"faithful": None, "unsupported": [], "raw": f"judge failed: {exc}"}
                res["answer"]["judge"] = verdict
                if verdict.get("faithful") is False:
                    res["answer"]["failures"].append(
                        "judge: unfaithful " + "; ".join(verdict["unsupported"])[:200]
                    )
                    res["answer"]["passed"] = False
            row["results"]["hybrid+llm"] = res
        rows.append(row)

    systems_run = list(retrieval_systems) + (["hybrid+llm"] if generative is not None else [])
    systems: dict[str, Any] = {}
    breakdown: dict[str, Any] = {}
    for name in systems_run:
        if name in errors:
            systems[name] = {"label": SYSTEM_LABELS[name], "error": errors[name]}
            continue
        systems[name] = {
            "label": SYSTEM_LABELS[name],
            "mode": RETRIEVAL_SYSTEMS.get(name, "hybrid"),
            "answers_scored": name in answer_systems or name == "hybrid+llm",
            "figures": aggregate(rows, name),
        }
        breakdown[name] = {
            dim: {
                value: aggregate([r for r in rows if _dim_values(r, dim, value)], name)
                for value in _dim_keys(rows, dim)
            }
            for dim in ("suite", "area", "language", "kind")
        }
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "created": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "command": "assistant eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "",
        "git": _git_state(),
        "config": {
            "embedder": embedder.id,
            "top_k": settings.top_k,
            "chunk_chars": settings.chunk_chars,
            "collection": settings.collection,
            "index": settings.chroma_url or str(settings.index),
            "sources": str(settings.sources),
            "llm": settings.llm_model if settings.llm_enabled else None,
            "judge": judge is not None,
            "depth": DEPTH,
            "ablations": ablations,
        },
        "index": {"chunks": len(snap.ids), "sources": sorted(snap.sources), "built_now": built},
        "suites": [str(s) for s in suites],
        "items_total": len(items),
        "items_scored": len(active),
        "skipped_drafts": skipped,
        "problems": problems,
        "systems": systems,
        "breakdown": breakdown,
        "items": rows,
        "runtime_s": round(time.perf_counter() - t_start, 2),
    }
    return report


def kb_retrieve(assistant: Any, query: str, language: str, mode: str, extra_terms: list[str]) -> list[Ranked]:
    got = assistant.retriever.retrieve(query, language=language, k=DEPTH, mode=mode, extra_terms=extra_terms)
    return [Ranked(p.id, p.source, p.text, p.start, p.end) for p in got.passages]


def _retrieval_warning(res: dict[str, Any], item: Item) -> None:
    r = res.get("retrieval") or {}
    if item.expected_passages and r.get("hit@5") == 0.0:
        res["answer"]["warnings"].insert(0, "no expected passage in the top 5 retrieved")


def check_suite(items: Sequence[Item], matcher: Matcher, corpus: Sequence[Ranked]) -> list[str]:
    """Expected passages that cannot match anything: unknown source, or a quote not in the source."""
    problems = []
    for item in items:
        for e in item.expected_passages:
            if e.source not in matcher.source_texts:
                problems.append(f"{item.id}: source {e.source!r} is not in the knowledge base")
            elif matcher.span(e) is None:
                problems.append(f"{item.id}: quote not found in {e.source}: {e.quote[:80]!r}")
            elif not any(matcher.matches(p, e) for p in corpus):
                problems.append(f"{item.id}: no indexed passage holds the quote {e.quote[:80]!r}")
    return problems


def _dim_values(row: Mapping[str, Any], dim: str, value: str) -> bool:
    v = row.get(dim)
    return value in v if isinstance(v, list) else v == value


def _dim_keys(rows: Sequence[Mapping[str, Any]], dim: str) -> list[str]:
    keys: list[str] = []
    for r in rows:
        v = r.get(dim)
        for x in v if isinstance(v, list) else [v]:
            if x is not None and x not in keys:
                keys.append(x)
    order = {"area": AREAS, "language": LANGUAGES}.get(dim)
    return sorted(keys, key=lambda k: (order.index(k) if order and k in order else 99, k))


def aggregate(rows: Sequence[Mapping[str, Any]], system: str) -> dict[str, Any]:
    """All figures of one system over ``rows`` (None where no item qualifies)."""
    res = [(r, r["results"][system]) for r in rows if system in r.get("results", {})]
    retr = [x["retrieval"] for _, x in res if "hit@1" in (x.get("retrieval") or {})]
    out: dict[str, Any] = {"items": len(res), "items_with_passages": len(retr)}
    for m in RETRIEVAL_METRICS:
        out[m] = _mean(r.get(m) for r in retr)
    answers = [(r, x["answer"]) for r, x in res if "answer" in x]
    if answers:
        answerable = [a for r, a in answers if not r["must_refuse"]]
        with_facts = [a for r, a in answers if not r["must_refuse"] and r.get("facts")]
        refusals = [a for r, a in answers if r["must_refuse"]]
        answered = [a for a in answerable if not a["refused"] and a["citations"]]
        judged = [
            a["judge"]["faithful"] for _, a in answers if a.get("judge", {}).get("faithful") is not None
        ]
        out.update(
            {
                "answerable": len(answerable),
                "must_refuse": len(refusals),
                "fact_recall": _mean(a["fact_recall"] for a in with_facts),
                "facts_complete": _mean(float(a["fact_recall"] == 1.0) for a in with_facts),
                "citation_precision": _mean(a["citation_precision"] for a in answered),
                "citation_recall": _mean(a["citation_recall"] for a in answerable),
                "refusal_accuracy": _mean(float(a["refused"]) for a in refusals),
                "false_refusals": sum(a["refused"] for a in answerable),
                "false_refusal_rate": _mean(float(a["refused"]) for a in answerable),
                "dangling": sum(len(a["dangling"]) for _, a in answers),
                "phantom_citations": sum(a["phantom_citations"] for _, a in answers),
                "forbidden": sum(len(a["forbidden"]) for _, a in answers),
                "language_accuracy": _mean(
                    float(a["language"] == r["language"]) for r, a in answers if a["language"]
                ),
                "passed": _mean(float(a["passed"]) for _, a in answers),
                "faithfulness": _mean(float(j) for j in judged) if judged else None,
            }
        )
        lat = [x["answer_ms"] for _, x in res if "answer_ms" in x]
        out["latency_p50_ms"] = percentile(lat, 50)
        out["latency_p95_ms"] = percentile(lat, 95)
        out["latency_max_ms"] = max(lat) if lat else None
    rlat = [x["retrieval_ms"] for _, x in res if "retrieval_ms" in x]
    out["retrieval_p50_ms"] = percentile(rlat, 50)
    out["retrieval_p95_ms"] = percentile(rlat, 95)
    return out


def _git_state() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        return {"commit": commit or None, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


# ======================================================================================================
# comparison and gate
# ======================================================================================================


def figures(report: Mapping[str, Any], system: str) -> dict[str, float | None]:
    """The comparable figures of one system in a report ({} when the system was not run)."""
    entry = (report.get("systems") or {}).get(system) or {}
    figs = entry.get("figures") or {}
    keys = (*RETRIEVAL_METRICS, *ANSWER_METRICS, *LATENCY_METRICS)
    return {k: figs.get(k) for k in keys if k in figs}


def load_report(path: Path | str) -> dict[str, Any]:
    """A report from its folder or its report.json."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read report {path}: {exc}") from exc
    if not isinstance(data, dict) or "systems" not in data:
        raise ValueError(f"{path} is not an evaluation report")
    data.setdefault("_path", str(path))
    return data


def _item_status(report: Mapping[str, Any], system: str) -> dict[str, bool]:
    out = {}
    for row in report.get("items", []):
        res = row.get("results", {}).get(system, {})
        if "answer" in res:
            out[row["id"]] = bool(res["answer"]["passed"])
    return out


def compare_reports(new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """Per system and figure: old, new, delta; per item: what newly fails or passes (hybrid answers)."""
    systems: dict[str, Any] = {}
    for name in dict.fromkeys([*(new.get("systems") or {}), *(old.get("systems") or {})]):
        fn, fo = figures(new, name), figures(old, name)
        rows = {}
        for k in dict.fromkeys([*fn, *fo]):
            a, b = fo.get(k), fn.get(k)
            delta = (b - a) if isinstance(a, int | float) and isinstance(b, int | float) else None
            rows[k] = {"old": a, "new": b, "delta": delta}
        systems[name] = rows
    systems.update(_compare_squad(new, old))
    items: dict[str, Any] = {}
    for name in ("hybrid", "hybrid+llm"):
        sn, so = _item_status(new, name), _item_status(old, name)
        if not sn and not so:
            continue
        items[name] = {
            "newly_failing": sorted(i for i in sn if i in so and so[i] and not sn[i]),
            "newly_passing": sorted(i for i in sn if i in so and not so[i] and sn[i]),
            "only_in_new": sorted(set(sn) - set(so)),
            "only_in_old": sorted(set(so) - set(sn)),
        }
    return {
        "against": old.get("_path") or old.get("created"),
        "against_created": old.get("created"),
        "systems": systems,
        "items": items,
    }


def _compare_squad(new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """Squad-format figures per system, as ``squad:<system>`` rows (when both reports have a squad run)."""
    sn, so = (r.get("squad", {}).get("systems", {}) for r in (new, old))
    out: dict[str, Any] = {}
    for name in dict.fromkeys([*sn, *so]):
        fn, fo = ((x.get(name) or {}).get("figures") or {} for x in (sn, so))
        rows = {}
        for k in dict.fromkeys([*fn, *fo]):
            a, b = fo.get(k), fn.get(k)
            if k == "questions" and a == b:
                continue
            delta = (b - a) if isinstance(a, int | float) and isinstance(b, int | float) else None
            rows[k] = {"old": a, "new": b, "delta": delta}
        out[f"squad:{name}"] = rows
    return out


def load_thresholds(path: Path | str = THRESHOLDS_FILE) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of systems to min/max figures")
    return data


def gated_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report with every system's figures recomputed over the gated suites' items only."""
    rows = [r for r in report.get("items", []) if r.get("suite") not in UNGATED_SUITES]
    systems = {
        name: entry if "error" in entry else {**entry, "figures": aggregate(rows, name)}
        for name, entry in (report.get("systems") or {}).items()
    }
    return {**report, "systems": systems, "items": rows, "items_scored": len(rows)}


def check_gate(report: Mapping[str, Any], thresholds: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure below its ``min`` or above its ``max``; suite rules under the ``suite`` key
    (``min_items``, ``max_problems``). Systems listed but not run are skipped, except ``hybrid``."""
    violations: list[str] = []
    skipped: list[str] = []
    checked = 0
    suite_rules = thresholds.get("suite") or {}
    if "min_items" in suite_rules and report.get("items_scored", 0) < suite_rules["min_items"]:
        violations.append(f"suite: {report.get('items_scored', 0)} items scored < {suite_rules['min_items']}")
    if "max_problems" in suite_rules and len(report.get("problems", [])) > suite_rules["max_problems"]:
        violations.append(
            f"suite: {len(report.get('problems', []))} problems > {suite_rules['max_problems']}: "
            + "; ".join(report.get("problems", [])[:5])
        )
    for system, rules in thresholds.items():
        if system == "suite" or not isinstance(rules, Mapping):
            continue
        entry = (report.get("systems") or {}).get(system)
        if entry is None or "error" in entry:
            if system == "hybrid" or (entry is not None and "error" in entry):
                why = entry["error"] if entry else "not run"
                violations.append(f"{system}: {why}")
            else:
                skipped.append(system)
            continue
        figs = figures(report, system)
        for bound in ("min", "max"):
            for metric, limit in (rules.get(bound) or {}).items():
                checked += 1
                value = figs.get(metric)
                if value is None:
                    violations.append(f"{system} {metric}: not measured (threshold {bound} {limit})")
                elif bound == "min" and value < limit - 1e-9:
                    violations.append(f"{system} {metric} = {_fmt(value)} < {limit}")
                elif bound == "max" and value > limit + 1e-9:
                    violations.append(f"{system} {metric} = {_fmt(value)} > {limit}")
    return {
        "passed": not violations,
        "violations": violations,
        "checked": checked,
        "skipped_systems": skipped,
    }


# ======================================================================================================
# reports
# ======================================================================================================


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _changed(rows: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """Figures that changed (or appeared, or disappeared) between two reports."""
    out = []
    for k, v in rows.items():
        if v["old"] is None and v["new"] is None:
            continue
        if v["delta"] is None or abs(v["delta"]) > 1e-9:
            out.append((k, v))
    return out


def _fmt_delta(metric: str, delta: float | None) -> str:
    if delta is None:
        return "–"
    if abs(delta) < 1e-9:
        return "±0"
    arrow = "▲" if ((delta < 0) if metric in LOWER_IS_BETTER else (delta > 0)) else "▼"
    if float(delta).is_integer() or abs(delta) >= 100:
        return f"{delta:+.0f} {arrow}"
    return f"{delta:+.3f} {arrow}"


SUMMARY_GROUPS: dict[str, tuple[str, ...]] = {
    "retrieval (depth 10)": ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@10", "recall@5"),
    "answers": (
        "fact_recall",
        "facts_complete",
        "citation_precision",
        "citation_recall",
        "refusal_accuracy",
        "false_refusals",
        "dangling",
        "phantom_citations",
        "passed",
        "faithfulness",
    ),
    "latency (ms)": ("latency_p50_ms", "latency_p95_ms", "retrieval_p50_ms", "retrieval_p95_ms"),
}
SUMMARY_COLUMNS = tuple(c for cols in SUMMARY_GROUPS.values() for c in cols)


def _summary_tables(report: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) per group of figures; systems without any figure of a group are left out."""
    out = []
    for title, cols in SUMMARY_GROUPS.items():
        rows = []
        for name, f in summary_rows(report):
            if "error" in f:
                rows.append([name, *(["error"] * len(cols))])
            elif any(f.get(c) is not None for c in cols):
                rows.append([name, *(_fmt(f.get(c)) for c in cols)])
        if rows:
            out.append((title, ["system", *cols], rows))
    return out


BREAKDOWN_COLUMNS = (
    "items",
    "hit@1",
    "hit@5",
    "mrr",
    "ndcg@10",
    "fact_recall",
    "citation_precision",
    "refusal_accuracy",
    "false_refusals",
    "passed",
)


def summary_rows(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, entry in (report.get("systems") or {}).items():
        out.append((name, entry.get("figures") or {"error": entry.get("error")}))
    return out


def _short(r: Mapping[str, Any]) -> str:
    """A retrieved passage for people: source stem and chunk number (``elinkeinot-murroksessa#3*``)."""
    tail = str(r.get("id", "")).rsplit("-", 1)[-1]
    label = f"{Path(str(r.get('source', ''))).stem}#{int(tail)}" if tail.isdigit() else str(r.get("id"))
    return label + ("*" if r.get("gain") else "")


def failing_items(report: Mapping[str, Any], system: str = "hybrid") -> list[dict[str, Any]]:
    out = []
    for row in report.get("items", []):
        res = row.get("results", {}).get(system, {})
        ans = res.get("answer")
        if ans and (ans["failures"] or ans["warnings"]):
            out.append({"row": row, "result": res})
    out.sort(key=lambda x: (not x["result"]["answer"]["failures"], x["row"]["id"]))
    return out


def _plots(report: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG plots: metrics per system, per area and language (hybrid), latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pngs: dict[str, bytes] = {}

    def save(fig: Any, name: str) -> None:
        buf = io.BytesIO()
        if not fig.get_tight_layout():
            fig.tight_layout()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        pngs[name] = buf.getvalue()

    systems = [(n, e["figures"]) for n, e in (report.get("systems") or {}).items() if "figures" in e]
    if systems:
        groups = [
            ("retrieval", ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@10", "recall@5")),
            (
                "answers",
                (
                    "fact_recall",
                    "facts_complete",
                    "citation_precision",
                    "citation_recall",
                    "refusal_accuracy",
                    "passed",
                ),
            ),
        ]
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
        for ax, (title, metrics) in zip(axes, groups, strict=True):
            present = [(n, f) for n, f in systems if any(f.get(m) is not None for m in metrics)]
            width = 0.8 / max(len(present), 1)
            x = np.arange(len(metrics))
            for i, (n, f) in enumerate(present):
                vals = [f.get(m) if f.get(m) is not None else 0.0 for m in metrics]
                ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=n)
            ax.set_xticks(x, metrics, rotation=20)
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{title} per system")
            ax.grid(axis="y", alpha=0.3)
        handles, labels = max((ax.get_legend_handles_labels() for ax in axes), key=lambda hl: len(hl[1]))
        if labels:
            fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        save(fig, "systems")

    hybrid = (report.get("breakdown") or {}).get("hybrid") or {}
    rows_lbl: list[str] = []
    matrix: list[list[float]] = []
    metrics = ("hit@5", "mrr", "ndcg@10", "fact_recall", "citation_precision", "refusal_accuracy", "passed")
    for dim in ("area", "language"):
        for value, figs in (hybrid.get(dim) or {}).items():
            rows_lbl.append(f"{dim}: {value} ({figs.get('items', 0)})")
            matrix.append([figs.get(m) if figs.get(m) is not None else float("nan") for m in metrics])
    if matrix:
        data = np.array(matrix, dtype=float)
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows_lbl) + 1.6))
        im = ax.imshow(np.ma.masked_invalid(data), vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        ax.set_xticks(range(len(metrics)), metrics, rotation=20)
        ax.set_yticks(range(len(rows_lbl)), rows_lbl)
        for (i, j), v in np.ndenumerate(data):
            ax.text(j, i, "n/a" if math.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_title("hybrid: per area and language")
        fig.colorbar(im, ax=ax, fraction=0.03)
        save(fig, "breakdown")

    lat: dict[str, list[float]] = {}
    for row in report.get("items", []):
        for name, res in row.get("results", {}).items():
            if "answer_ms" in res:
                lat.setdefault(f"{name} answer", []).append(res["answer_ms"])
            if "retrieval_ms" in res:
                lat.setdefault(f"{name} retrieval", []).append(res["retrieval_ms"])
    if lat:
        names = sorted(lat)
        fig, ax = plt.subplots(figsize=(10, 0.35 * len(names) + 1.5))
        ax.boxplot([lat[n] for n in names], orientation="horizontal", showfliers=True)
        ax.set_yticks(range(1, len(names) + 1), names)
        ax.set_xscale("log")
        ax.set_xlabel("milliseconds (log scale)")
        ax.set_title("latency per question")
        ax.grid(axis="x", alpha=0.3)
        save(fig, "latency")
    return pngs


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(report: Mapping[str, Any], plots: Iterable[str] = ()) -> str:
    cfg = report.get("config", {})
    out = [
        f"# Evaluation report {report.get('id', '')}",
        "",
        f"{report.get('created', '')} · git {report.get('git', {}).get('commit')}"
        f"{' (uncommitted changes)' if report.get('git', {}).get('dirty') else ''} · "
        f"{report.get('items_scored')} items scored ({len(report.get('skipped_drafts', []))} drafts skipped) · "
        f"index {report.get('index', {}).get('chunks')} chunks · embedder {cfg.get('embedder')} · top_k "
        f"{cfg.get('top_k')} · LLM {cfg.get('llm') or 'none (extractive)'} · {report.get('runtime_s')} s",
        "",
        f"Command: `{report.get('command') or 'assistant eval'}`",
        "",
        "## Figures per system",
        "",
    ]
    for title, header, rows in _summary_tables(report):
        out += [f"**{title}**", "", _md_table(header, rows), ""]
    for name, entry in (report.get("systems") or {}).items():
        if "error" in entry:
            out += [f"**{name}** could not run: {entry['error']}", ""]
    if report.get("systems"):
        out += [
            "Systems: "
            + "; ".join(f"**{n}** — {e.get('label', '')}" for n, e in report.get("systems", {}).items()),
            "",
        ]
    if report.get("squad"):
        from assistant.squad_suite import squad_markdown

        out += squad_markdown(report["squad"])
    if report.get("problems"):
        out += ["## Suite problems", "", *[f"- {p}" for p in report["problems"]], ""]
    gate = report.get("gate")
    if gate:
        out += ["## Gate", "", "passed" if gate["passed"] else "**FAILED**", ""]
        out += [f"- {v}" for v in gate["violations"]] + [""]
    cmp_ = report.get("compare")
    if cmp_:
        out += [f"## Change against {cmp_.get('against')} ({cmp_.get('against_created')})", ""]
        for name, rows in cmp_["systems"].items():
            changed = _changed(rows)
            if not changed:
                out += [f"**{name}**: no change", ""]
                continue
            out += [
                f"**{name}**",
                "",
                _md_table(
                    ["figure", "old", "new", "change"],
                    [[k, _fmt(v["old"]), _fmt(v["new"]), _fmt_delta(k, v["delta"])] for k, v in changed],
                ),
                "",
            ]
        for name, ch in cmp_.get("items", {}).items():
            for key, ids in ch.items():
                if ids:
                    out += [f"- {name} {key.replace('_', ' ')}: {', '.join(ids)}"]
        out.append("")
    for dim in ("suite", "area", "language", "kind"):
        table = (report.get("breakdown") or {}).get("hybrid", {}).get(dim)
        if table:
            out += [
                f"## hybrid per {dim}",
                "",
                _md_table(
                    [dim, *BREAKDOWN_COLUMNS],
                    [[v, *(_fmt(f.get(c)) for c in BREAKDOWN_COLUMNS)] for v, f in table.items()],
                ),
                "",
            ]
    for p in plots:
        out += [f"![{p}](plots/{p}.png)", ""]
    out += _md_failures(report)
    return "\n".join(out) + "\n"


def _failure_matrix(report: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, list[bool | None]]]]:
    """With several answer-scored systems: each item that fails in one of them, with passed/failed/None
    (not scored) per system — shared by the Markdown and the HTML report."""
    answer_systems = [n for n, e in (report.get("systems") or {}).items() if e.get("answers_scored")]
    if len(answer_systems) < 2:
        return answer_systems, []
    matrix = []
    for row in report.get("items", []):
        marks: list[bool | None] = []
        for n in answer_systems:
            a = row["results"].get(n, {}).get("answer")
            marks.append(None if a is None else bool(a["passed"]))
        if any(m is False for m in marks):
            matrix.append((row["id"], marks))
    return answer_systems, matrix


def _md_failures(report: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    answer_systems, matrix = _failure_matrix(report)
    if matrix:
        rows = [[item_id, *("–" if m is None else ("ok" if m else "FAIL") for m in marks)] for item_id, marks in matrix]
        out += ["## Failing items per system", "", _md_table(["item", *answer_systems], rows), ""]
    for system in ("hybrid", "hybrid+llm"):
        fails = failing_items(report, system)
        if not fails:
            continue
        n_fail = sum(1 for f in fails if f["result"]["answer"]["failures"])
        out += [f"## {system}: {n_fail} failing, {len(fails) - n_fail} with warnings", ""]
        for f in fails:
            row, res = f["row"], f["result"]
            ans = res["answer"]
            status = "FAIL" if ans["failures"] else "warn"
            out += [
                f"### {status} {row['id']} ({row['area']}, {row['language']}, {', '.join(row.get('kind', []))})",
                "",
            ]
            for h in row.get("history", []):
                out.append(f"- earlier: {h if isinstance(h, str) else json.dumps(h, ensure_ascii=False)}")
            out += [f"- question: {row['question']}"]
            out += [f"- **{x}**" for x in ans["failures"]] + [f"- {x}" for x in ans["warnings"]]
            ranked = (res.get("retrieval") or {}).get("ranked", [])[:5]
            if ranked:
                out.append("- top 5 retrieved (* = expected): " + ", ".join(_short(r) for r in ranked))
            out += ["", "```text", ans["answer"].replace("```", "'''"), "```", ""]
            for c in ans["citations"]:
                mark = "supports" if c["supports"] else "supports no fact"
                out.append(
                    f"- [{c['n']}] {c['source']} {c['chunk_id']} ({mark}): {' '.join(c['text'].split())[:200]}"
                )
            out.append("")
    return out


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.85rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}.fail{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
.warn{color:#8a6d00}pre{background:#f7f7f7;padding:.6rem;white-space:pre-wrap;border-left:3px solid #ccc}
details{margin:.4rem 0 .8rem}summary{cursor:pointer}img{max-width:100%}.muted{color:#666;font-size:.85rem}
.up{color:#1b7f3b}.down{color:#b00020}
"""


def _h(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    head = "".join(f"<th>{_h(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else _h(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Mapping[str, Any], plots: Mapping[str, bytes]) -> str:
    cfg = report.get("config", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evaluation {_h(report.get('id', ''))}</title><style>{_CSS}</style></head><body>",
        f"<h1>Evaluation report {_h(report.get('id', ''))}</h1>",
        f"<p class='muted'>{_h(report.get('created', ''))} · git {_h(report.get('git', {}).get('commit'))}"
        f"{' (uncommitted changes)' if report.get('git', {}).get('dirty') else ''} · {_h(report.get('items_scored'))} "
        f"items scored · index {_h(report.get('index', {}).get('chunks'))} chunks · embedder {_h(cfg.get('embedder'))} · "
        f"top_k {_h(cfg.get('top_k'))} · LLM {_h(cfg.get('llm') or 'none (extractive)')} · {_h(report.get('runtime_s'))} s"
        f"<br>Command: <code>{_h(report.get('command') or 'assistant eval')}</code></p>",
        "<h2>Figures per system</h2>",
        *(
            f"<h3>{_h(title)}</h3>" + _html_table(header, rows)
            for title, header, rows in _summary_tables(report)
        ),
        "<ul>"
        + "".join(
            f"<li><b>{_h(n)}</b>: {_h(e.get('label', ''))}{' — <span class=fail>' + _h(e['error']) + '</span>' if 'error' in e else ''}</li>"
            for n, e in (report.get("systems") or {}).items()
        )
        + "</ul>",
    ]
    if report.get("squad"):
        from assistant.squad_suite import squad_html

        parts += squad_html(report["squad"])
    if report.get("problems"):
        parts += ["<h2>Suite problems</h2><ul>", *[f"<li>{_h(p)}</li>" for p in report["problems"]], "</ul>"]
    gate = report.get("gate")
    if gate:
        verdict = "<span class=ok>passed</span>" if gate["passed"] else "<span class=fail>FAILED</span>"
        parts += [
            f"<h2>Gate: {verdict}</h2><ul>",
            *[f"<li class=fail>{_h(v)}</li>" for v in gate["violations"]],
            "</ul>",
        ]
    cmp_ = report.get("compare")
    if cmp_:
        parts.append(f"<h2>Change against {_h(cmp_.get('against'))} ({_h(cmp_.get('against_created'))})</h2>")
        for name, rows in cmp_["systems"].items():
            changed = _changed(rows)
            if not changed:
                parts.append(f"<p><b>{_h(name)}</b>: no change</p>")
                continue
            body = []
            for k, v in changed:
                d = _fmt_delta(k, v["delta"])
                cls = "up" if "▲" in d else "down" if "▼" in d else ""
                body.append(
                    [_h(k), _h(_fmt(v["old"])), _h(_fmt(v["new"])), f"<span class='{cls}'>{_h(d)}</span>"]
                )
            parts += [
                f"<p><b>{_h(name)}</b></p>",
                _html_table(["figure", "old", "new", "change"], body, raw=True),
            ]
        for name, ch in cmp_.get("items", {}).items():
            for key, ids in ch.items():
                if ids:
                    parts.append(f"<p>{_h(name)} {_h(key.replace('_', ' '))}: {_h(', '.join(ids))}</p>")
    for name, title in (
        ("systems", "Metrics per system"),
        ("breakdown", "Per area and language"),
        ("latency", "Latency"),
    ):
        if name in plots:
            b64 = base64.b64encode(plots[name]).decode("ascii")
            parts.append(f"<h2>{_h(title)}</h2><img alt='{_h(title)}' src='data:image/png;base64,{b64}'>")
    for dim in ("suite", "area", "language", "kind"):
        table = (report.get("breakdown") or {}).get("hybrid", {}).get(dim)
        if table:
            parts += [
                f"<h2>hybrid per {_h(dim)}</h2>",
                _html_table(
                    [dim, *BREAKDOWN_COLUMNS],
                    [[v, *(_fmt(f.get(c)) for c in BREAKDOWN_COLUMNS)] for v, f in table.items()],
                ),
            ]
    parts += _html_failures(report)
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_failures(report: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    answer_systems, matrix = _failure_matrix(report)
    if matrix:
        cell = {None: "–", True: "<span class=ok>ok</span>", False: "<span class=fail>FAIL</span>"}
        rows = [[_h(item_id), *(cell[m] for m in marks)] for item_id, marks in matrix]
        parts += [
            "<h2>Failing items per system</h2>",
            _html_table(["item", *answer_systems], rows, raw=True),
        ]
    for system in ("hybrid", "hybrid+llm"):
        fails = failing_items(report, system)
        if not fails:
            continue
        n_fail = sum(1 for f in fails if f["result"]["answer"]["failures"])
        parts.append(f"<h2>{_h(system)}: {n_fail} failing, {len(fails) - n_fail} with warnings</h2>")
        for f in fails:
            row, res = f["row"], f["result"]
            ans = res["answer"]
            cls, status = ("fail", "FAIL") if ans["failures"] else ("warn", "warn")
            parts.append(
                f"<details {'open' if ans['failures'] else ''}><summary><span class={cls}>{status}</span> "
                f"<b>{_h(row['id'])}</b> ({_h(row['area'])}, {_h(row['language'])}) — {_h(row['question'])}</summary>"
            )
            for h in row.get("history", []):
                parts.append(
                    f"<div class=muted>earlier: {_h(h if isinstance(h, str) else json.dumps(h, ensure_ascii=False))}</div>"
                )
            parts.append(
                "<ul>"
                + "".join(f"<li class=fail>{_h(x)}</li>" for x in ans["failures"])
                + "".join(f"<li class=warn>{_h(x)}</li>" for x in ans["warnings"])
                + "</ul>"
            )
            ranked = (res.get("retrieval") or {}).get("ranked", [])[:5]
            if ranked:
                parts.append(
                    "<div class=muted>top 5 retrieved (* = expected): "
                    + _h(", ".join(_short(r) for r in ranked))
                    + "</div>"
                )
            parts.append(
                f"<p>Answered{' (refused)' if ans['refused'] else ''}:</p><pre>{_h(ans['answer'])}</pre>"
            )
            if ans["citations"]:
                parts.append(
                    "<ol>"
                    + "".join(
                        f"<li value='{_h(c['n'])}'><span class={'ok' if c['supports'] else 'fail'}>"
                        f"{'supports' if c['supports'] else 'supports no fact'}</span> {_h(c['source'])} "
                        f"<code>{_h(c['chunk_id'])}</code>: {_h(' '.join(c['text'].split()))}</li>"
                        for c in ans["citations"]
                    )
                    + "</ol>"
                )
            parts.append("</details>")
    return parts


def write_report(report: dict[str, Any], report_dir: Path | str = REPORTS_DIR) -> Path:
    """Writes ``<report_dir>/<YYYYmmdd-HHMMSS>/report.json|md|html`` (+ ``plots/*.png``); returns the folder."""
    base = Path(report_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = base / stamp
    n = 2
    while folder.exists():
        folder = base / f"{stamp}-{n}"
        n += 1
    folder.mkdir(parents=True)
    report["id"] = folder.name
    plots = _plots(report)
    if plots:
        (folder / "plots").mkdir()
        for name, png in plots.items():
            (folder / "plots" / f"{name}.png").write_bytes(png)
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "report.md").write_text(render_markdown(report, plots), encoding="utf-8")
    (folder / "report.html").write_text(render_html(report, plots), encoding="utf-8")
    return folder


# ======================================================================================================
# command line
# ======================================================================================================


def squad_only_report(settings: Settings) -> dict[str, Any]:
    """The report frame when only a squad-format set is scored (no suite items)."""
    return {
        "format": REPORT_FORMAT,
        "created": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "command": "assistant eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "",
        "git": _git_state(),
        "config": {"embedder": settings.embed_backend, "top_k": settings.top_k, "chunk_chars": settings.chunk_chars},
        "index": {},
        "suites": [],
        "items_total": 0,
        "items_scored": 0,
        "skipped_drafts": [],
        "problems": [],
        "systems": {},
        "breakdown": {},
        "items": [],
    }


def summary_text(report: Mapping[str, Any]) -> str:
    cols = (
        "hit@1",
        "hit@5",
        "mrr",
        "ndcg@10",
        "fact_recall",
        "citation_precision",
        "citation_recall",
        "refusal_accuracy",
        "false_refusals",
        "dangling",
        "passed",
        "latency_p50_ms",
        "latency_p95_ms",
    )
    width = max([len(n) for n, _ in summary_rows(report)] + [6])
    lines = ["system".ljust(width) + "  " + "  ".join(c.rjust(max(len(c), 6)) for c in cols)]
    for name, f in summary_rows(report):
        if "error" in f:
            lines.append(name.ljust(width) + "  error: " + str(f["error"]))
            continue
        lines.append(name.ljust(width) + "  " + "  ".join(_fmt(f.get(c)).rjust(max(len(c), 6)) for c in cols))
    return "\n".join(lines)


def compare_text(cmp_: Mapping[str, Any]) -> str:
    lines = [f"change against {cmp_.get('against')}:"]
    for name, rows in cmp_["systems"].items():
        changed = _changed(rows)
        if not changed:
            lines.append(f"  {name}: no change")
            continue
        lines.append(f"  {name}:")
        for k, v in changed:
            lines.append(
                f"    {k:<20} {_fmt(v['old']):>8} → {_fmt(v['new']):>8}  {_fmt_delta(k, v['delta'])}"
            )
    for name, ch in cmp_.get("items", {}).items():
        for key, ids in ch.items():
            if ids:
                lines.append(f"  {name} {key.replace('_', ' ')}: {', '.join(ids)}")
    return "\n".join(lines)


def run_cli(settings: Settings, args: Any) -> int:
    """``assistant eval``: 0 when done (and the gate, if asked, passed), 1 on a gate failure, 2 on bad input.

    ``--squad DIR`` scores a squad2fi-dev-format folder; alone it runs only that, with ``--suite`` both."""
    squad = None
    if getattr(args, "squad", None):
        from assistant.squad_suite import SquadError, load_squad

        try:
            squad = load_squad(args.squad, getattr(args, "limit", None))
        except (SquadError, OSError, ValueError, KeyError) as exc:
            print(f"assistant: {exc}", file=sys.stderr)
            return 2
    paths = list(args.suite or ([] if squad else default_suite_paths()))
    if not paths and squad is None:
        print(f"assistant: no suite given and none in {EVALS_DIR}", file=sys.stderr)
        return 2
    try:
        items = load_suites(paths)
    except SuiteError as exc:
        print(f"assistant: {exc}", file=sys.stderr)
        return 2
    if not items and squad is None:
        print("assistant: the suites hold no items", file=sys.stderr)
        return 2
    if squad is not None and not items and getattr(args, "gate", False):
        print("assistant: --gate checks the suites; give --suite with --squad", file=sys.stderr)
        return 2
    old = None
    if getattr(args, "compare", None):
        try:
            old = load_report(args.compare)
        except ValueError as exc:
            print(f"assistant: {exc}", file=sys.stderr)
            return 2
    thresholds = None
    if getattr(args, "gate", False):
        path = Path(os.environ.get("ASSISTANT_EVAL_THRESHOLDS") or THRESHOLDS_FILE)
        try:
            thresholds = load_thresholds(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            print(f"assistant: cannot read thresholds {path}: {exc}", file=sys.stderr)
            return 2
    judge = None
    if _judge_enabled(args):
        if settings.llm_enabled or os.environ.get("ASSISTANT_EVAL_JUDGE_URL"):
            judge = make_judge(settings)
        else:
            print(
                "assistant: the LLM judge needs an LLM (--llm-url/--llm-model); judging skipped",
                file=sys.stderr,
            )
    if items:
        report = run_evaluation(
            settings, items, ablations=not getattr(args, "no_ablations", False), judge=judge, suites=paths
        )
    else:
        report = squad_only_report(settings)
    if squad is not None:
        from assistant.squad_suite import run_squad

        report["squad"] = run_squad(settings, squad, anchor=not getattr(args, "no_ablations", False))
        if not items:
            report["index"] = {"chunks": report["squad"]["chunks"]}
            report["runtime_s"] = report["squad"]["runtime_s"]
    if old is not None:
        report["compare"] = compare_reports(report, old)
    if thresholds is not None:
        report["gate"] = check_gate(gated_view(report), thresholds)
    folder = write_report(report, getattr(args, "report_dir", None) or REPORTS_DIR)
    if items:
        print(summary_text(report))
        n_fail = len([f for f in failing_items(report) if f["result"]["answer"]["failures"]])
        print(f"\nhybrid: {n_fail} failing item(s) of {report['items_scored']}")
    if squad is not None:
        from assistant.squad_suite import squad_summary_text

        print(squad_summary_text(report["squad"]))
    print(f"report: {folder / 'report.html'}")
    if report["problems"]:
        print(f"{len(report['problems'])} suite problem(s): see the report")
    if old is not None:
        print()
        print(compare_text(report["compare"]))
    if thresholds is not None:
        gate = report["gate"]
        if gate["passed"]:
            print(f"\ngate passed ({gate['checked']} thresholds)")
        else:
            print("\ngate FAILED:")
            for v in gate["violations"]:
                print(f"  {v}")
            return 1
    return 0
