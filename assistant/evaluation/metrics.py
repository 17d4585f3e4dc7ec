"""Evaluation metrics: text folding and fact matching, hit@k, MRR, nDCG, answer scoring (fact recall,
citation precision, refusals), the squad overlap rule, aggregation, and the repo's one percentile helper."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.evaluation.suites import ExpectedPassage, Item, Paragraph, SquadQuestion

DEPTH = 10  # retrieval depth for MRR/nDCG
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
        "wrong_refusals_read",
        *LATENCY_METRICS,
    }
)
#: the squad overlap rule: a passage hits when this share of it lies in the gold paragraph, or vice versa
HIT_SHARE = 0.6
#: spans this short ("on", "ja", "10") occur in almost any answer; they say nothing about it
MIN_SPAN_CHARS = 3
SQUAD_RETRIEVAL = ("hit@1", "hit@3", "hit@5", "mrr", "top_has_span")
SQUAD_ANSWERS = ("cited_first", "cited_any", "answer_has_span", "refusals", "wrong_refusals", "wrong_refusals_read")
#: how reports name a figure where its key is not readable as it is
LABELS = {
    "mrr": "MRR",
    "top_has_span": "top passage has span",
    "cited_first": "cited first",
    "cited_any": "among cited",
    "answer_has_span": "answer has span",
    "wrong_refusals": "wrong refusals",
    "wrong_refusals_read": "wrong refusals, read",
    "latency_p50_ms": "p50 ms",
    "latency_p95_ms": "p95 ms",
}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)

# ------------------------------------------------------------------------------------------------------
# text folding and matching
# ------------------------------------------------------------------------------------------------------

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


# ------------------------------------------------------------------------------------------------------
# retrieval
# ------------------------------------------------------------------------------------------------------


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
        # a refusal cites the closest passages it lists, not support for a claim: no precision/recall for it
        "citation_precision": (sum(r["supports"] for r in cit_rows) / len(cit_rows))
        if cit_rows and not refused
        else None,
        "citation_recall": (0.0 if refused else len(cited_expected) / n_exp) if n_exp and item.answerable else None,
        "refusal_ok": (refused if item.must_refuse else None),
        "false_refusal": (refused if item.answerable else None),
        "dangling": dangling,
        "phantom_citations": phantom,
        "forbidden": forbidden,
    }
    result["failures"], result["warnings"] = _verdict(item, answer, result, cited_expected)
    result["passed"] = not result["failures"]
    return result


def _verdict(
    item: Item, answer: Mapping[str, Any], result: Mapping[str, Any], cited_expected: set[int]
) -> tuple[list[str], list[str]]:
    """(failures, warnings) of one scored answer: a failure fails the item, a warning is for reading."""
    refused, facts, dangling = result["refused"], result["facts"], result["dangling"]
    forbidden, phantom, cit_rows = result["forbidden"], result["phantom_citations"], result["citations"]
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
    return failures, warnings



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



# ------------------------------------------------------------------------------------------------------
# the squad2fi-dev format
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
        # the closest passages a refusal lists are not an answer's citations
        "cited_first": float(not refused and bool(hits) and hits[0]),
        "cited_any": float(not refused and any(hits)),
        "answer_has_span": float(matched is not None),
        "span": matched,
        "refusals": float(refused),
        "wrong_refusals": float(refused and top_is_gold),
        # the same, less the questions read by hand as SQuAD 2.0 unanswerables (``--squad-readings``)
        "wrong_refusals_read": float(refused and top_is_gold and not q.read_unanswerable),
        "read_unanswerable": bool(q.read_unanswerable),
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



def aggregate_squad(rows: Sequence[Mapping[str, Any]], system: str) -> dict[str, Any]:
    res = [r["results"][system] for r in rows if system in r["results"]]
    out: dict[str, Any] = {"questions": len(res)}
    for m in SQUAD_RETRIEVAL:
        out[m] = _mean([x["retrieval"][m] for x in res if "retrieval" in x])
    answers = [x["answer"] for x in res if "answer" in x]
    if answers:
        for m in SQUAD_ANSWERS:
            out[m] = _mean([a[m] for a in answers])
        read = [a for a in answers if a.get("read_unanswerable")]
        if read:  # the questions read by hand as unanswerable, and how many of them were refused
            out["read_unanswerable"] = len(read)
            out["read_unanswerable_refused"] = sum(bool(a["refused"]) for a in read)
        lat = [x["answer_ms"] for x in res if "answer_ms" in x]
        out["latency_p50_ms"] = percentile(lat, 50)
        out["latency_p95_ms"] = percentile(lat, 95)
    return out



def fmt(value: Any, digits: int = 3) -> str:
    """A figure as reports write it: 3 decimals below 100, none above; – for not measured."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
