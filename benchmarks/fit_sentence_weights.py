"""Fit the sentence-choice weights (answering/extractive.py) on squad2fi-dev and our gated suites, and
check them held out.

    .venv/bin/python -m benchmarks.fit_sentence_weights --squad ../shared/datasets/squad2fi-dev \
        --index /tmp/elmo-eval-q2 --realistic [--dump /tmp/candidates.json]

(``-m`` from the checkout: run as a file, the installed ``assistant`` package would be imported instead.)

Every candidate sentence (or pair) that the product's answer path scores (``Assistant.ask``, captured) is
one row: its features and whether it shows the answer (squad: a gold span inside the gold paragraph; our
suites: the most of the item's facts). Squad articles and suite items (with ``--realistic`` also
evals/realistic.yaml's) are split in two, each kind apart (fit / held out, so no paragraph or question is
seen by both); a conditional logit (scipy) is fitted on the fit half, with
and without the similarity feature. The figure printed is the share of questions whose best-scored
candidate shows the answer, for the hand weights in use before and for both fitted models. Paste the
printed weights into extractive.py. ``--extra a,b`` fits candidate features that sentence_candidates records
in ``Candidate.features`` but FEATURES does not yet weigh (how a new feature is measured before adoption).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from assistant.answering import extractive
from assistant.answering.assistant import Assistant
from assistant.config import load_settings
from assistant.evaluation.metrics import fact_match, passage_hits, span_in
from assistant.evaluation.runner import squad_settings
from assistant.evaluation.suites import EVALS_DIR, gated_suite_paths, load_squad, load_suites

HAND = {  # the scoring before the fit: coverage + 0.1/(1+rank) + 0.3 * type bonus (pairs − 0.1)
    "coverage": 1.0, "rank": 0.1, "pair": -0.1, "contact": 0.15, "who": 0.105, "when": 0.105,
    "define": 0.105, "list": 0.075,
}  # fmt: skip


class _Capture:
    """Records the candidates the product's own answer path scores (Assistant.ask → extractive.compose)."""

    def __init__(self) -> None:
        self.last: list[extractive.Candidate] = []
        self._original = extractive.sentence_candidates

    def __enter__(self) -> _Capture:
        def recording(*args: Any, **kwargs: Any) -> list[extractive.Candidate]:
            self.last = self._original(*args, **kwargs)
            return self.last

        extractive.sentence_candidates = recording  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        extractive.sentence_candidates = self._original  # type: ignore[assignment]

    def ask(self, assistant: Assistant, question: str, history: list[Any]) -> list[extractive.Candidate]:
        self.last = []
        assistant.ask(question, history)
        return self.last


def collect_squad(squad_dir: str, index: str) -> list[dict[str, Any]]:
    """Label: the candidate shows a gold span and lies in the gold paragraph."""
    squad = load_squad(squad_dir)
    assistant = Assistant(squad_settings(load_settings(index=index), squad))
    rows = []
    with _Capture() as capture:
        for q in squad.questions:
            gold = squad.paragraphs[(q.source, q.paragraph_index)]
            cands = capture.ask(assistant, q.question, [])
            labels = [
                int(passage_hits(c.passage.source, c.passage.start, c.passage.end, gold) and bool(span_in(c.text, q.spans)))
                for c in cands
            ]
            rows.append(_row(q.id, f"squad:{q.source}", cands, labels))
    return rows


def collect_suites(index: str, realistic: bool = False) -> list[dict[str, Any]]:
    """Our gated suites (and, with ``realistic``, evals/realistic.yaml) over knowledge/. Label: the candidate
    states the most of the item's facts (> 0)."""
    assistant = Assistant(load_settings(index=index))
    suites = [("suite", gated_suite_paths())] + ([("real", [EVALS_DIR / "realistic.yaml"])] if realistic else [])
    rows = []
    with _Capture() as capture:
        for kind, paths in suites:
            for item in load_suites(paths):
                if item.must_refuse or not item.facts or item.status != "active":
                    continue
                cands = capture.ask(assistant, item.question, item.history)
                found = [sum(fact_match(f, c.text) is not None for f in item.facts) for c in cands]
                best = max(found, default=0)
                rows.append(_row(item.id, f"{kind}:{item.id}", cands, [int(best > 0 and n == best) for n in found]))
    return rows


def _row(qid: str, group: str, cands: list[extractive.Candidate], labels: list[int]) -> dict[str, Any]:
    return {
        "id": qid,
        "article": group,
        "candidates": [{"features": c.features, "label": y} for c, y in zip(cands, labels, strict=True)],
    }


def _groups(rows: list[dict[str, Any]], names: tuple[str, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (features, labels) pair per question that has a positive candidate (others teach no ranking)."""
    out = []
    for r in rows:
        labels = np.asarray([c["label"] for c in r["candidates"]], dtype=np.float64)
        if labels.any():
            x = np.asarray([[c["features"].get(k, 0.0) for k in names] for c in r["candidates"]], dtype=np.float64)
            out.append((x, labels))
    return out


def top1(rows: list[dict[str, Any]], weights: dict[str, float]) -> float:
    """Share of questions whose best-scored candidate shows a gold span."""
    got = 0
    for r in rows:
        if r["candidates"]:
            best = max(r["candidates"], key=lambda c: sum(weights.get(k, 0.0) * v for k, v in c["features"].items()))
            got += best["label"]
    return got / max(len(rows), 1)


def fit(rows: list[dict[str, Any]], names: tuple[str, ...], l2: float = 0.001) -> dict[str, float]:
    """A conditional logit: softmax over each question's candidates, maximising the probability mass on
    the ones that show the answer. It fits the choice the answerer makes (the best of one question's
    candidates), which a pointwise classifier does not: it held out worse than the hand weights."""
    groups = _groups(rows, names)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, y in groups:
            z = x @ w
            z -= z.max()
            p = np.exp(z) / np.exp(z).sum()
            pos = (p * y).sum()
            total -= np.log(pos)
            # d(-log Σ_pos p)/dw = E_p[x] − E_{p|pos}[x]
            grad -= (p * y) @ x / pos - p @ x
        return total / len(groups) + l2 * w @ w, grad / len(groups) + 2 * l2 * w

    w = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B").x
    return {k: round(float(v), 3) for k, v in zip(names, w, strict=True)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", default="../shared/datasets/squad2fi-dev")
    ap.add_argument("--index", default="/tmp/elmo-eval-q2")
    ap.add_argument("--dump", help="write (or, when it exists, read) the candidate rows here")
    ap.add_argument("--realistic", action="store_true", help="also fit on evals/realistic.yaml (half by item)")
    ap.add_argument("--extra", default="", help="comma-separated candidate features to fit besides FEATURES")
    args = ap.parse_args()
    if args.dump and Path(args.dump).exists():
        rows = json.loads(Path(args.dump).read_text())
    else:
        rows = collect_squad(args.squad, args.index) + collect_suites(args.index, args.realistic)
        if args.dump:
            Path(args.dump).write_text(json.dumps(rows))
    # halves by article (squad) or item (our suites), each kind apart (squad: the even/odd halves of the
    # sorted articles every squad figure is reported by): no paragraph or question is in both
    fit_half: set[str] = set()
    for kind in ("squad:", "suite:", "real:"):
        groups = sorted({r["article"] for r in rows if r["article"].startswith(kind)})
        fit_half |= {g for i, g in enumerate(groups) if i % 2 == 0}
    train = [r for r in rows if r["article"] in fit_half]
    held = [r for r in rows if r["article"] not in fit_half]
    names = tuple(dict.fromkeys((*extractive.FEATURES, *filter(None, args.extra.split(",")))))
    with_vectors = fit(train, names)
    without = fit(train, tuple(k for k in names if k != "similarity"))
    print(f"questions: fit {len(train)}, held out {len(held)}")
    print("best candidate shows the answer, fit / held out (squad2fi-dev; our gated suites; realistic.yaml):")
    models = (
        ("hand weights (before)", HAND), ("in use (extractive.py)", extractive.WEIGHTS),
        ("fitted, with vectors", with_vectors), ("fitted, no vectors", without),
    )  # fmt: skip
    for name, w in models:
        parts = []
        for kind in ("squad:", "suite:", "real:"):
            a, b = ([r for r in half if r["article"].startswith(kind)] for half in (train, held))
            parts.append(f"{top1(a, w):.3f} / {top1(b, w):.3f}")
        print(f"  {name:24s} {'; '.join(parts)}")
    print("WEIGHTS =", json.dumps(with_vectors))
    print("WEIGHTS_NO_VECTORS =", json.dumps(without))


if __name__ == "__main__":
    main()
