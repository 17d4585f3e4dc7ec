"""How general a Finnish lemma is: the share of a general corpus's articles that use it (background_fi)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from assistant.text import background_fi, framing_fi

_without: ContextVar[frozenset[str]] = ContextVar("background_without", default=frozenset())


def share(lemma: str) -> float:
    """Share of the background articles that use ``lemma`` (0 for lemmas in fewer than 3)."""
    left_out = _without.get()
    df = background_fi.DF.get(lemma, 0) - (1 if left_out and lemma in left_out else 0)
    return max(df, 0) / (background_fi.ARTICLES - (1 if left_out else 0))


@contextmanager
def without(article_lemmas: set[str]) -> Iterator[None]:
    """Read the table as if one article (given by its lemmas) were not in it: a question written about that
    article must not find its own topic words "general" (evals/fit_refusal.py)."""
    token = _without.set(frozenset(article_lemmas))
    try:
        yield
    finally:
        _without.reset(token)


FRAMING_PRIOR = 2.0  # questions' worth of the base rate a lemma's own count is smoothed with


def framing(lemma: str) -> float:
    """How much a question word phrases the question rather than names what the answer speaks of, 0..1: the
    share of questions using ``lemma`` whose answering paragraph lacks it (framing_fi, smoothed towards the
    base rate), scaled so that the base rate is 0 and "always absent" is 1 (docs/refusal.md)."""
    used, apart = framing_fi.APART.get(lemma, (0, 0))
    rate = (apart + FRAMING_PRIOR * framing_fi.BASE) / (used + FRAMING_PRIOR)
    return max(0.0, (rate - framing_fi.BASE) / (1.0 - framing_fi.BASE))
