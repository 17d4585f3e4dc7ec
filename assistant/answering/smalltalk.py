"""Small talk: greetings, thanks and "what can you do?" get a short friendly answer, not a refusal.

An utterance is small talk when it is short and made *only* of the words of one language's greeting, thanks
and capability vocabulary (Finnish words also by their Voikko lemma, so *kiitoksia* is *kiitos*), with at
least one word that carries the intent. One content word outside the vocabulary ("Hei, kuka on ELMO-pilotin
projektipäällikkö?") makes it a real question for the answerer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from assistant.i18n import t
from assistant.schema import Answer
from assistant.text import finnish

MAX_WORDS = 8  # "Hei! Mitä sinä osaat tehdä minulle?" is 6; a longer utterance is a question

KINDS = ("thanks", "capability", "greeting")  # the reply for the strongest intent present, in this order


@dataclass(frozen=True)
class Lexicon:
    """One language's small-talk words: ``heads[kind]`` carry an intent, ``fillers`` only accompany one."""

    heads: dict[str, frozenset[str]]
    fillers: frozenset[str]

    def kind_of(self, word: str) -> str | None:
        return next((k for k in KINDS if word in self.heads[k]), None)

    def covers(self, word: str) -> bool:
        return word in self.fillers or self.kind_of(word) is not None


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LEXICONS: dict[str, Lexicon] = {
    "fi": Lexicon(
        heads={
            "greeting": _words(
                "hei heippa moi moikka moik moro morjens terve tervehdys huomenta päivää iltaa hyvää"
            ),
            "thanks": _words("kiitos kiitoksia kiitti kiittää kiitän kiitokset"),
            "capability": _words(
                "osata osaat osaatko voida voit voitko pystyä pystyt autat auttaa apu apua olet oot itsestäsi"
            ),
        },
        fillers=_words(
            "mitä mikä kuka olla sinä sä sinua sinusta itse kerro kertoa tehdä teet minua "
            "mua minulle mulle voida paljon todella tosi oikein vain vaan niin no ja sitten kanssa tästä avusta "
            "vastauksesta vastaus huomen päivä ilta hyvä kaikki tiedät tietää"
        ),
    ),
    "en": Lexicon(
        heads={
            "greeting": _words("hello hi hey greetings morning afternoon evening howdy"),
            "thanks": _words("thanks thank thx cheers"),
            "capability": _words("can help capable able you yourself"),
        },
        fillers=_words(
            "good what who are do for me much a lot very so the there your yourself about tell with this "
            "that how i and answer answers know"
        ),
    ),
    "sv": Lexicon(
        heads={
            "greeting": _words("hej hejsan hallå tjena tjenare morgon dag kväll goddag godmorgon"),
            "thanks": _words("tack tackar"),
            "capability": _words("kan hjälpa klarar du dig"),
        },
        fillers=_words("god vad vem är göra mig för så mycket tusen själv om berätta med det och svara vet"),
    ),
}


def _variants(word: str, language: str) -> set[str]:
    low = word.lower()
    return {low, *(finnish.terms(word) if language == "fi" else ())}


def _kinds(words: list[str], language: str) -> set[str] | None:
    """The intents of ``words`` in ``language``, or None when a word is not small talk in it."""
    lexicon = LEXICONS[language]
    kinds: set[str] = set()
    for word in words:
        variants = _variants(word, language)
        if not any(lexicon.covers(v) for v in variants):
            return None
        kinds.update(k for v in variants if (k := lexicon.kind_of(v)) is not None)
    return kinds


def classify(question: str, language: str) -> tuple[str, str] | None:
    """``(kind, language)`` when ``question`` is small talk (the language whose vocabulary it is, the
    detected one first), else None."""
    words = [w for w, _, _ in finnish.words(question)]
    if not words or len(words) > MAX_WORDS:
        return None
    for lang in dict.fromkeys([language, *LEXICONS]):
        if lang not in LEXICONS:
            continue
        kinds = _kinds(words, lang)
        if kinds:
            return next(k for k in KINDS if k in kinds), lang
    return None


def reply_text(kind: str, language: str) -> str:
    """The friendly reply: greeting, thanks or capability text, then example questions."""
    examples = "\n".join(f"- {q}" for q in t("smalltalk.examples", language).split("\n"))
    return f"{t(f'smalltalk.{kind}', language)}\n\n{t('smalltalk.try', language)}\n{examples}"


def answer(question: str, language: str, t0: float) -> Answer | None:
    """A small-talk :class:`Answer` (mode ``smalltalk``, no citations, not a refusal), or None when the
    question is not small talk."""
    found = classify(question, language)
    if found is None:
        return None
    kind, lang = found
    total = (time.perf_counter() - t0) * 1000
    return Answer(
        question,
        lang,
        reply_text(kind, lang),
        False,
        [],
        {"retrieve": 0.0, "answer": total, "total": total},
        mode="smalltalk",
    )
