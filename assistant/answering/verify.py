"""The citation verifier, shared by both answerers.

Every ``[n]`` in the output points to a passage returned with the answer, and every sentence that carries
one is supported by it; unsupported sentences are dropped (and reported), out-of-range markers removed,
and the surviving citations renumbered 1..m in order of first use — so a dangling marker cannot reach the
user.

Support of a sentence by a passage:
* every number in the sentence (years, phone digits, amounts) occurs in the passage — never an invented
  number;
* and at least ``LEXICAL_SUPPORT`` of the sentence's content lemmas occur in the passage's lemmas (for
  English/Swedish sentences, their Finnish glossary terms plus names), or, when an embedding model is
  given, the cosine similarity of sentence and passage is at least ``DENSE_SUPPORT``.
The thresholds were calibrated on the golden questions and the scripted LLM replies in the tests
(see README, "Citation verification").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.text import finnish, glossary
from assistant.text.sentences import split_sentences

LEXICAL_SUPPORT = 0.6  # share of content lemmas (English/Swedish sentences)
WORD_SUPPORT = 0.7  # share of content words (Finnish sentences: a compound or a hyphenated name is one word)
DENSE_SUPPORT = 0.84  # English/Swedish sentences only: for Finnish, cosine cannot tell a changed fact

_MARKER = re.compile(r"\s?\[(\d+(?:\s*,\s*\d+)*)\]")
_NUMBER = re.compile(r"\+?\d[\d \-]*\d|\d")
_EMAIL_OR_URL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|https?://\S+|www\.\S+", re.I)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÅÄÖ][\w-]*", re.M)
# marker spellings an LLM writes instead of [n]: [ 1 ], [1; 2], [^1], 【1】, [1-2]
_ODD_MARKER = re.compile(r"[\[【]\s*\^?\s*(\d+(?:\s*[,;–-]\s*\d+)*)\s*[\]】]")
_LIST_PREFIX = re.compile(r"^(\d{1,2}[.)]\s+|[-*]\s+)")
_CARD_ROW = re.compile(r"^-\s+[^:\n]{1,40}:\s+(.+)$")
# a contact card's row for a detail that was asked but that no source gives: a statement about the sources
NOT_STATED = {"fi": "ei mainita lähteissä", "en": "not given in the sources", "sv": "anges inte i källorna"}


@dataclass
class VerifiedAnswer:
    text: str
    cited: list[Any]  # passages in citation order: [n] is cited[n-1]
    dropped: list[str] = field(default_factory=list)


def _digits(text: str) -> set[str]:
    out = set()
    for m in _NUMBER.finditer(text):
        d = re.sub(r"\D", "", m.group())
        if d.startswith("358") and len(d) > 8:
            d = "0" + d[3:]  # +358 40 … is 040 …
        out.add(d)
    return out


def _numbers_supported(sentence: str, passage: str, passage_digits: str) -> bool:
    """Short numbers (years, counts) must equal a number of the passage — "20" is not in "2018";
    phone-length digit strings may be spaced differently."""
    passage_numbers = {n for m in re.finditer(r"\d+", passage) for n in (m.group(),)} | set(passage_digits.split())
    for d in _digits(sentence):
        if len(d) >= 6:
            if d not in passage_digits:
                return False
        elif not set(re.findall(r"\d+", d)) <= passage_numbers and d not in passage_numbers:
            return False
    return True


def normalise_markers(text: str) -> str:
    """[ 1 ], [1; 2], [^1], 【1】 → [1], [1, 2]; a range [1-3] → [1, 2, 3]; stray brackets with digits out."""

    def fix(m: re.Match[str]) -> str:
        nums: list[int] = []
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            if re.fullmatch(r"\d+\s*[–-]\s*\d+", part):
                a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part))
                nums += list(range(a, min(b, a + 20) + 1))
            elif part.strip().isdigit():
                nums.append(int(part))
        return "[" + ", ".join(str(n) for n in nums) + "]" if nums else ""

    text = _ODD_MARKER.sub(fix, text)
    return re.sub(r"\[\s*\d*\s*$|\[\d+(?!\d*\s*[,;\]])", "", text)


def _content_terms(sentence: str, language: str) -> set[str]:
    terms = {t for t in finnish.terms(sentence) if not finnish.is_stopword(t) and not t.isdigit()}
    if language != "fi":
        terms = {t for t in terms if len(t) > 2} | set(glossary.finnish_terms(sentence))
    return terms


# capitalised English/Swedish words that are not names (sentence-internal "I", months, languages...)
_FOREIGN_CAPS = set(
    """i finnish finland's english swedish european eu january february march april may june july august
    september october november december monday tuesday wednesday thursday friday saturday sunday""".split()
)


def _content_words(sentence: str) -> list[list[str]]:
    """The content words of a Finnish sentence, each as its lemma followed by its compound/hyphen parts."""
    out = []
    for word, _, _ in finnish.words(sentence):
        lemmas = [t for t in finnish.terms(word) if not finnish.is_stopword(t) and not t.isdigit()]
        if lemmas:
            out.append(lemmas)
    return out


def _word_supported(lemmas: list[str], have: set[str]) -> bool:
    """The word itself is in the passage, or every part of it is ("ELMO-pilotin" by "ELMO -pilotista");
    one shared part is not enough ("klusteripolitiikka" is not "klusterikehitys")."""
    readings = [t for t in lemmas if "-" not in t] or lemmas
    return any(t in have for t in lemmas[:1] + readings[:1]) or (len(lemmas) > 1 and all(t in have for t in lemmas[1:]))


class _Support:
    def __init__(self, passages: list[Any], language: str, embedder: Any = None):
        self.passages = passages
        self.language = language
        self.embedder = embedder
        self._terms: dict[int, set[str]] = {}
        self._digits: dict[int, str] = {}
        self._vecs: np.ndarray | None = None

    def passage_terms(self, i: int) -> set[str]:
        if i not in self._terms:
            p = self.passages[i]
            self._terms[i] = set(getattr(p, "terms", None) or []) | set(finnish.terms(p.text))
        return self._terms[i]

    def passage_digits(self, i: int) -> str:
        if i not in self._digits:
            self._digits[i] = " ".join(_digits(self.passages[i].text)) + " " + re.sub(r"\D", "", self.passages[i].text)
        return self._digits[i]

    def names_supported(self, i: int, sentence: str) -> bool:
        """Every capitalised word inside the sentence (a name, a place, an organisation) is in the passage,
        by lemma or stem, hyphen parts each; for English/Swedish also through its Finnish glossary terms."""
        have = self.passage_terms(i)
        text = self.passages[i].text.lower()
        for m in _CAPITALISED.finditer(sentence):
            word = m.group().strip("-")
            if not word or word.lower() in text:
                continue
            for part in [x for x in word.split("-") if x]:
                forms = set(finnish.terms(part)) | set(finnish.terms(part, mode="snowball"))
                forms |= set(glossary.finnish_terms(part))
                if part.lower() in text or forms & have or finnish.is_stopword(part.lower()):
                    continue
                if self.language != "fi" and not glossary.finnish_terms(part) and part.lower() in _FOREIGN_CAPS:
                    continue
                return False
        return True

    def supports(self, i: int, sentence: str) -> bool:
        if not 0 <= i < len(self.passages):
            return False
        passage = self.passages[i].text
        if not _numbers_supported(sentence, passage, self.passage_digits(i)):
            return False
        for m in _EMAIL_OR_URL.finditer(sentence):  # addresses are copied, never composed
            if m.group().rstrip(".,;:").lower() not in passage.lower():
                return False
        if not self.names_supported(i, sentence):
            return False
        digits = _digits(sentence)
        have = self.passage_terms(i)
        if self.language == "fi":
            # per word, not per lemma: "ELMO-pilotin" (elmo-pilotti, elmo, pilotti) is one word of support,
            # so "ELMO-pilotin budjetti on suuri." does not pass on the name alone
            words = _content_words(sentence)
            if not words:
                return bool(digits)  # e.g. a bare phone number row
            if sum(_word_supported(w, have) for w in words) / len(words) >= WORD_SUPPORT:
                return True
            return False  # for Finnish, embedding similarity cannot tell a changed fact (calibration)
        else:
            terms = _content_terms(sentence, self.language)
            if not terms:
                return bool(digits)
            overlap = len(terms & have) / len(terms)
        if overlap >= LEXICAL_SUPPORT:
            return True
        if self.embedder is not None and self.language != "fi":
            if self._vecs is None:
                self._vecs = self.embedder.embed_passages([p.text for p in self.passages])
            q = self.embedder.embed_query(sentence)
            return float(self._vecs[i] @ q) >= DENSE_SUPPORT
        return False


def verify(
    draft: str,
    passages: list[Any],
    language: str,
    *,
    embedder: Any = None,
    boilerplate: set[str] | None = None,
) -> VerifiedAnswer:
    """Check and renumber the ``[n]`` markers of ``draft`` (1-based into ``passages``)."""
    support = _Support(passages, language, embedder)
    used: list[int] = []
    dropped: list[str] = []
    out_blocks: list[str] = []

    def renumber(indices: list[int]) -> str:
        labels = []
        for i in indices:
            if i not in used:
                used.append(i)
            labels.append(f"[{used.index(i) + 1}]")
        return " " + "".join(labels) if labels else ""

    draft = normalise_markers(draft)
    for block in re.split(r"\n\s*\n", draft.strip()):
        lines_out: list[str] = []
        block_marker: list[int] = []  # a contact card's header marker covers its rows
        for line in block.split("\n"):
            stripped = line.strip()
            if not stripped:
                continue
            if boilerplate and stripped in boilerplate:
                lines_out.append(stripped)
                continue
            row = _CARD_ROW.match(stripped)
            if row and block_marker:
                value = _MARKER.sub("", row.group(1))
                if value.strip() in NOT_STATED.values() or any(
                    support.supports(i, value) or _value_in(value, passages[i].text) for i in block_marker
                ):
                    lines_out.append(_MARKER.sub("", stripped))
                else:
                    dropped.append(stripped)
                continue
            quote = "> " if stripped.startswith(">") else ""
            body = stripped.lstrip("> ").strip()
            item = _LIST_PREFIX.match(body)  # "1. " / "- " list items are kept, their text verified
            prefix = quote + (item.group() if item else "")
            body = body[item.end() :] if item else body
            kept: list[str] = []
            for claim, markers in _claims(body):
                if claim.startswith("**") and claim.endswith("**") and markers:
                    # a card header: "**Yhteystiedot** [1]"
                    valid = [i for i in markers if 0 <= i < len(passages)]
                    if valid:
                        block_marker = valid[:1]
                        kept.append(claim + renumber(block_marker))
                    continue
                good = [i for i in dict.fromkeys(markers) if support.supports(i, claim)]
                if not good and not markers:
                    good = [i for i in range(len(passages)) if support.supports(i, claim)][:1]
                if good:
                    kept.append(claim + renumber(good))
                else:
                    dropped.append(claim)
            if kept:
                lines_out.append(prefix + " ".join(kept))
        if lines_out and any(_MARKER.search(x) or x.startswith("- ") for x in lines_out):
            out_blocks.append("\n".join(lines_out))
        elif lines_out and boilerplate and all(x in boilerplate for x in lines_out):
            out_blocks.append("\n".join(lines_out))
    text = "\n\n".join(out_blocks)
    if not _MARKER.search(text):
        text = ""
    return VerifiedAnswer(text=text, cited=[passages[i] for i in used], dropped=dropped)


def _claims(body: str) -> list[tuple[str, list[int]]]:
    """A line cut into claims: each stretch of text up to a marker group is one claim carrying those
    markers (a period written after the marker joins its claim); unmarked text is cut into sentences."""
    out: list[tuple[str, list[int]]] = []
    pos = 0
    for m in _MARKER.finditer(body):
        text = body[pos : m.start()].strip()
        pos = m.end()
        while pos < len(body) and body[pos] in ".,;:!?":
            text += body[pos]
            pos += 1
        if text:
            out.append((text, [int(n) - 1 for n in m.group(1).split(",")]))
        elif out:
            out[-1][1].extend(int(n) - 1 for n in m.group(1).split(","))
    rest = body[pos:].strip()
    if rest:
        out += [(rest[s:e], []) for s, e in split_sentences(rest)]
    return out


def _value_in(value: str, passage: str) -> bool:
    v = value.strip().lower()
    if v and v in passage.lower():
        return True
    d = _digits(value)
    return bool(d) and all(x in re.sub(r"\D", "", passage) or x in _digits(passage) for x in d)
