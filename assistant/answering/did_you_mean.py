"""Did you mean …? An answer to a question with a typo says which corpus word the typo was read as.

The evidence reader (:func:`assistant.answering.evidence.assess`) already reads a word the corpus lacks as
the nearest corpus word (:mod:`assistant.answering.vocabulary`); this reads the question the same way and
puts those readings into the answer: ``Answer.corrections`` and a first line in the user's language.
"""

from __future__ import annotations

from assistant.answering.evidence import assess
from assistant.answering.retrieve import Snapshot
from assistant.i18n import t
from assistant.schema import Answer

UNREAD_MODES = {"smalltalk"}  # answers that never read the question against the corpus


def corrections(question: str, language: str, snap: Snapshot) -> dict[str, str]:
    """``{written word: corpus word}`` for the typos in ``question`` that the answerer read as another word."""
    if not question.strip() or not snap.sources:
        return {}
    return dict(assess(question, language, snap).corrected)


def with_corrections(answer: Answer, snap: Snapshot) -> Answer:
    """``answer`` with its corrections and "Tarkoititko: …?" first, when the question had a typo."""
    if answer.mode in UNREAD_MODES or not answer.timings_ms.get("retrieve"):  # not answered from the corpus
        return answer
    found = corrections(answer.question, answer.language, snap)
    if found:
        answer.corrections = found
        note = t("did_you_mean", answer.language, words=", ".join(dict.fromkeys(found.values())))
        answer.answer = f"*{note}*\n\n{answer.answer}"
    return answer
