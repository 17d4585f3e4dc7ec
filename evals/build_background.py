"""Write assistant/text/background_fi.py: in how many articles of a general Finnish corpus each lemma occurs.

    PYTHONPATH=. .venv/bin/python evals/build_background.py --corpus /work/shared/datasets/squad2fi-dev/corpus

The refusal model reads a question word the sources lack against this table: a noun that general Finnish text
uses everywhere ("ero", "tulos", "puoli") more likely phrases the question than names a thing the sources lack
(docs/refusal.md). The default corpus is squad2fi-dev's 40 Wikipedia articles, unrelated to knowledge/.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from assistant.text import finnish

OUT = Path(__file__).resolve().parents[1] / "assistant" / "text" / "background_fi.py"
FRAMING_OUT = OUT.with_name("framing_fi.py")
MIN_USES = 2  # a lemma asked with once says nothing (the smoothing in background.framing does the rest)
MIN_ARTICLES = 3  # rarer lemmas say nothing about general use and only make the table long


def article_lemmas(text: str) -> set[str]:
    return {t for w, _, _ in finnish.words(text) for t in finnish.terms(w) if not t.isdigit()}


def count(corpus: Path) -> tuple[int, Counter[str]]:
    files = sorted(p for p in corpus.iterdir() if p.is_file())
    df: Counter[str] = Counter()
    for f in files:
        df.update(article_lemmas(f.read_text(encoding="utf-8")))
    return len(files), df


def question_apart(root: Path, half: str) -> tuple[int, Counter[str], Counter[str]]:
    """How often each lemma is used by a question and how often the paragraph answering it lacks the lemma:
    the fitting questions of paragraphs.json (never the dev questions `assistant eval --squad` scores), of the
    articles of ``half`` ("even"/"odd" positions in sorted file order, or "all")."""
    data = json.loads((root / "paragraphs.json").read_text(encoding="utf-8"))
    dev = {json.loads(line)["q"] for line in (root / "questions.jsonl").open(encoding="utf-8")}
    files = sorted(a["file"] for a in data["articles"])
    keep = {f for i, f in enumerate(files) if half == "all" or (i % 2 == 0) == (half == "even")}
    used: Counter[str] = Counter()
    apart: Counter[str] = Counter()
    n = 0
    for article in data["articles"]:
        if article["file"] not in keep:
            continue
        for p in article["paragraphs"]:
            own = {t for w, _, _ in finnish.words(p["text"]) for t in finnish.terms(w)}
            for q in p["questions"]:
                if q in dev:
                    continue
                n += 1
                lemmas = {ts[0] for w, _, _ in finnish.words(q) if (ts := finnish.terms(w)) and not ts[0].isdigit()}
                used.update(lemmas)
                apart.update(t for t in lemmas if t not in own)
    return n, used, apart


def write_framing(root: Path, half: str) -> None:
    n, used, apart = question_apart(root, half)
    base = sum(apart.values()) / max(sum(used.values()), 1)
    kept = {t: (used[t], apart[t]) for t in sorted(used) if used[t] >= MIN_USES}
    lines = [
        '"""How often a question word is absent from the paragraph that answers it: (questions using the lemma,\n'
        'of them whose answering paragraph lacks it), lemmas used by ≥ '
        f'{MIN_USES} questions.\n\nWritten by evals/build_background.py from the fitting questions of '
        f'{root.name}/paragraphs.json (articles: {half}); do not edit by hand.\n'
        'Counts derived from Finnish SQuAD 2.0 (TurkuNLP/squad2-fi, Apache-2.0; SQuAD CC BY-SA 4.0): '
        'only per-lemma counts, no text.\n"""\n',
        f"QUESTIONS = {n}",
        f"BASE = {base:.4f}  # the share of all question words their paragraph lacks",
        "APART: dict[str, tuple[int, int]] = {",
        *(f"    {t!r}: {c}," for t, c in kept.items()),
        "}",
    ]
    FRAMING_OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(kept)} lemmas from {n} questions ({half}) → {FRAMING_OUT}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/datasets/squad2fi-dev/corpus"))
    ap.add_argument("--questions", choices=("even", "odd", "all"), help="also write framing_fi.py from these articles' questions")
    args = ap.parse_args(argv)
    if args.questions:
        write_framing(args.corpus.parent, args.questions)
    n, df = count(args.corpus)
    kept = {t: c for t, c in sorted(df.items()) if c >= MIN_ARTICLES}
    lines = [
        '"""In how many of ARTICLES general Finnish articles each lemma occurs (lemmas in ≥ '
        f'{MIN_ARTICLES} only).\n\nWritten by evals/build_background.py from {args.corpus.name}/ '
        f'({args.corpus.parent.name}); do not edit by hand.\n'
        'Counts derived from Finnish SQuAD 2.0 (TurkuNLP/squad2-fi, Apache-2.0; SQuAD CC BY-SA 4.0): '
        'only per-lemma article counts, no text.\n"""\n',
        f"ARTICLES = {n}",
        "DF: dict[str, int] = {",
        *(f"    {t!r}: {c}," for t, c in kept.items()),
        "}",
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(kept)} lemmas of {len(df)} from {n} articles → {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
