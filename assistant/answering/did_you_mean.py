"""Did you mean …? An answer to a question with a typo says which corpus word the typo was read as.

The evidence reader (:func:`assistant.answering.evidence.assess`) reads a word the corpus lacks as the nearest
corpus word (:mod:`assistant.answering.vocabulary`) and keeps those readings in ``Evidence.corrected``;
``Assistant.stream`` passes them here once per question, and they go into the answer: ``Answer.corrections``
and a first line in the user's language.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from assistant.i18n import t
from assistant.schema import Answer


def as_written(corrected: dict[str, str], texts: Iterable[str]) -> dict[str, str]:
    """The readings as the sources write them inside a sentence, most often (the vocabulary is lower case:
    *avicenna* is shown as *Avicenna*, *icrisat* as *ICRISAT*, while *Strategian* opening a sentence stays
    *strategian*); a reading the texts do not write as a word inside a sentence is kept as it is."""
    texts = list(texts)
    out: dict[str, str] = {}
    for word, reading in corrected.items():
        pattern = re.compile(rf"(?<!\w){re.escape(reading)}(?!\w)", re.IGNORECASE)
        forms = Counter(
            m.group()
            for text in texts
            for m in pattern.finditer(text)
            if text[: m.start()].rstrip()[-1:] not in ("", ".", "!", "?")
        )
        out[word] = forms.most_common(1)[0][0] if forms else reading
    return out


# Finnish case endings (and -kin/-han), after a colon or a linking i for an acronym ("ICRISATin", "EU:n"):
# "Centrian" is Centria's, not a typo of it
_CASE_ENDING = re.compile(
    r":?i?(?:n|a|ä|ta|tä|ssa|ssä|sta|stä|lla|llä|lta|ltä|lle|ksi|na|nä|han|hin|seen|kin|ne|t)", re.IGNORECASE
)


def inflected(word: str, reading: str) -> bool:
    """``word`` is ``reading`` with a case ending: a name Voikko does not know, inflected — the sources'
    word read as written, not a typo to point out."""
    return word.lower().startswith(reading.lower()) and bool(_CASE_ENDING.fullmatch(word[len(reading) :]))


def with_corrections(answer: Answer, corrected: dict[str, str]) -> Answer:
    """``answer`` with its corrections and "Tarkoititko: …?" first, when the question had a typo (not when a
    word was only an inflected form of the sources' word)."""
    if corrected:
        answer.corrections = dict(corrected)
        typos = [reading for word, reading in corrected.items() if not inflected(word, reading)]
        if typos:
            note = t("did_you_mean", answer.language, words=", ".join(dict.fromkeys(typos)))
            answer.answer = f"*{note}*\n\n{answer.answer}"
    return answer
