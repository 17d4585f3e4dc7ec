"""Did you mean …? An answer to a question with a typo says which corpus word the typo was read as.

The evidence reader (:func:`assistant.answering.evidence.assess`) reads a word the corpus lacks as the nearest
corpus word (:mod:`assistant.answering.vocabulary`) and keeps those readings in ``Evidence.corrected``;
``Assistant.stream`` passes them here once per question, and they go into the answer: ``Answer.corrections``
and a first line in the user's language.
"""

from __future__ import annotations

from assistant.i18n import t
from assistant.schema import Answer


def with_corrections(answer: Answer, corrected: dict[str, str]) -> Answer:
    """``answer`` with its corrections and "Tarkoititko: …?" first, when the question had a typo."""
    if corrected:
        answer.corrections = dict(corrected)
        note = t("did_you_mean", answer.language, words=", ".join(dict.fromkeys(corrected.values())))
        answer.answer = f"*{note}*\n\n{answer.answer}"
    return answer
