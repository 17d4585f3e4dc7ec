"""Write assistant/text/background_fi.py: in how many articles of a general Finnish corpus each lemma occurs.

    PYTHONPATH=. .venv/bin/python evals/build_background.py --corpus /work/shared/datasets/squad2fi-dev/corpus

The refusal model reads a question word the sources lack against this table: a noun that general Finnish text
uses everywhere ("ero", "tulos", "puoli") more likely phrases the question than names a thing the sources lack
(docs/refusal.md). The default corpus is squad2fi-dev's 40 Wikipedia articles, unrelated to knowledge/.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from assistant.text import finnish

OUT = Path(__file__).resolve().parents[1] / "assistant" / "text" / "background_fi.py"
MIN_ARTICLES = 3  # rarer lemmas say nothing about general use and only make the table long


def article_lemmas(text: str) -> set[str]:
    return {t for w, _, _ in finnish.words(text) for t in finnish.terms(w) if not t.isdigit()}


def count(corpus: Path) -> tuple[int, Counter[str]]:
    files = sorted(p for p in corpus.iterdir() if p.is_file())
    df: Counter[str] = Counter()
    for f in files:
        df.update(article_lemmas(f.read_text(encoding="utf-8")))
    return len(files), df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/datasets/squad2fi-dev/corpus"))
    args = ap.parse_args(argv)
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
