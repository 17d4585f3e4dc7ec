"""The extractive answerer: choose the sentences of the retrieved passages that answer, and compose them.

A candidate is a sentence, or a pair of adjacent sentences when the second adds what the question asks
for. Each is scored by a fitted linear model over a few features — how much of the question's IDF-weighted
lemma mass it covers, its cosine similarity to the question (multilingual e5 sentence vectors stored at
ingest, see knowledge/sentence_vectors.py), its passage's rank and dense score, and what the question type
asks for (a name or title, a date, a definition, a list, a phone number). The weights are fitted on
squad2fi-dev and our suites (benchmarks/fit_sentence_weights.py --realistic), not set by hand; without
stored vectors (an old index, BM25-only retrieval) the model fitted without the similarity feature is used.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyvoikko

from assistant.answering.evidence import ASKS_END, asked_types, holds_answer, question_words
from assistant.answering.retrieve import Passage, Snapshot, lexical_share
from assistant.answering.verify import NOT_STATED
from assistant.knowledge.chunking import neighbour_id
from assistant.knowledge.sentence_vectors import VectorSource, chunk_sentences, sentence_key
from assistant.text import finnish, glossary
from assistant.text.contacts import _org_candidates as organisation_mentions  # the extractor's own reading
from assistant.text.contacts import disagree, distinct_records, extract_contacts, person_key
from assistant.text.sentences import STATEMENT_END, is_heading, split_sentences

_DEFINITION = re.compile(r"nimellä|kutsu|tarkoitta|tuttavallisesti|lyhenne|\beli\b|\bns\.", re.I)
_YEAR = re.compile(r"\b(19|20)\d{2}\b")
_DATE = re.compile(
    r"\b\d{1,2}\.\s?\d{1,2}\.\s?\d{4}\b|\b\d{1,2}\.\s+(tammi|helmi|maalis|huhti|touko|kesä|heinä|elo|syys|loka"
    r"|marras|joulu)kuu"
)
_NUMBER = re.compile(r"\d")
_TITLE_WORD = re.compile(r"päällikkö|johtaja|asiantuntija|koordinaattori|puheenjohtaja|suunnittelija", re.I)
_ORG = re.compile(r"\b[A-ZÅÄÖ][\w-]+(n|\s) (liitto|yliopisto|kaupunki|ELY-keskus)\b")
_CAPS_NAME = re.compile(r"\b[A-ZÅÄÖ][a-zåäö]+ [A-ZÅÄÖ][a-zåäö]+(nen|la|lä|o|ö|a|ä|i)\b")
_PHONE_OR_MAIL = re.compile(r"\d{3}.*\d{3}|@|\(at\)")

FEATURES = (
    "coverage", "similarity", "rank", "pair", "heading", "length",
    "contact", "who", "when", "define", "list", "number", "passage_dense",
)  # fmt: skip

# A conditional logit (softmax over one question's candidates) fitted by benchmarks/fit_sentence_weights.py
# --realistic on half of squad2fi-dev (by article), half of our gated suites and half of realistic.yaml (by
# item). Fit / held-out half, the best candidate shows the answer for 0.710 / 0.640 of squad questions,
# 0.773 / 0.744 of gated items and 0.449 / 0.521 of realistic ones (the weights before, without
# ``passage_dense``: 0.705 / 0.625, 0.795 / 0.721, 0.449 / 0.458; fitted without realistic.yaml the "when"
# weight stayed at 0.13 and a Swedish "från när" item lost its year); similarity adds < 0.005 there.
# ``passage_dense`` (the passage's dense score against the best passage's) took weight from ``rank`` and
# ``coverage``; the fused score, BM25 score, lemma coverage or joining of the passage, the words a sentence
# adds to the question, a figure for "how many", a name for "where" added nothing held out (evals/README.md).
# ``WEIGHTS_NO_VECTORS``: the same fit without similarity (no sentence vectors stored, BM25-only retrieval).
WEIGHTS = {
    "coverage": 5.208, "similarity": 1.286, "rank": 1.46, "pair": -0.217, "heading": -0.574, "length": 1.437,
    "contact": -0.089, "who": 0.84, "when": 0.85, "define": 0.34, "list": 1.241, "number": -0.158,
    "passage_dense": 4.409,
}  # fmt: skip
WEIGHTS_NO_VECTORS = {
    "coverage": 5.264, "similarity": 0.0, "rank": 1.483, "pair": -0.227, "heading": -0.578, "length": 1.445,
    "contact": -0.09, "who": 0.835, "when": 0.867, "define": 0.356, "list": 1.246, "number": -0.15,
    "passage_dense": 4.467,
}  # fmt: skip
# A further sentence is shown when its utility is within this margin of the best one's. Read off the fit
# data: a candidate that shows the answer among those shown (2 at most) rose with the margin on squad
# (0.635 at ln(1/0.6) = 0.51, 0.675 at 2, 0.69 at 4, 0.693 at 6) and our suites (0.839 → 0.851 from 2 on);
# 4 is where it levels off, so an answer is one or two sentences (three for a list question).
SECOND_MARGIN = 4.0
# ... but a sentence of another passage (a further citation) only within 1.5 (at 4 the in-house citation
# precision fell from 0.85 to 0.78, gate 0.84; at 2.5 to 0.835; with 2 for every sentence squad's "answer
# has span" fell from 0.79 to 0.74). 2 until the passage_dense refit, whose weights are smaller: at 2 the
# gated citation precision fell 0.910 → 0.898, at 1.75 to 0.904; at 1.5 0.912, squad answers unchanged ...
OTHER_PASSAGE_MARGIN = 1.5
# e5 cosines of one question's sentences sit within ~0.1 of each other: a sentence 0.05 below the nearest counts
# as covering nothing of what the lemmas do not read (evals/README.md, "Documents an officer uploads": for
# questions no sentence shares a word with, Swedish squad answers showing the span 0.629 → 0.686, English
# unchanged, 0.1: 0.657; for the part of an English question the lemmas do not read, English 0.486 → 0.600)
MEANING_SPREAD = 0.05
COVERAGE_SHARE = 0.6  # or when it covers 60 % of the lemma mass the first covers (the rule before the fit)
FULL_COVERAGE = 0.99  # ... and the first leaves something uncovered


class Coverage(Protocol):
    """What sentence choice needs from the evidence assessment (answering.assistant.Evidence)."""

    known: list[str]
    groups: list[list[str]]  # one per question word: its alternative terms

    def coverage(self, terms: set[str]) -> float: ...

    def strict_coverage(self, terms: set[str], groups: list[list[str]] | None = None) -> float: ...

    def sentence_coverage(self, terms: set[str]) -> float: ...


@dataclass
class Candidate:
    passage_rank: int
    passage: Passage
    text: str
    coverage: float
    score: float
    features: dict[str, float] = field(default_factory=dict)
    sentences: tuple[str, ...] = ()  # the one or two sentences it is made of
    terms: frozenset[str] = frozenset()  # their lemmas


def type_features(sentence: str, qtypes: set[str]) -> dict[str, float]:
    """What the question type asks for, present in the sentence (0/1 each)."""
    return {
        "contact": float("contact" in qtypes and bool(_PHONE_OR_MAIL.search(sentence))),
        "who": float(
            "who" in qtypes
            and bool(_TITLE_WORD.search(sentence) or _CAPS_NAME.search(sentence) or _ORG.search(sentence))
        ),
        "when": float("when" in qtypes and bool(_YEAR.search(sentence) or _DATE.search(sentence))),
        "define": float("define" in qtypes and bool(_DEFINITION.search(sentence))),
        "list": float(
            "list" in qtypes and (sentence.count(",") >= 2 or (sentence.count(",") >= 1 and " ja " in sentence))
        ),
        "number": float(bool(_NUMBER.search(sentence))),
    }


def score(features: dict[str, float], weights: dict[str, float]) -> float:
    """The fitted model's utility: candidates of one question compare by it (softmax)."""
    return sum(weights[k] * features.get(k, 0.0) for k in FEATURES)


def sentence_similarities(
    store: VectorSource | None, passages: list[Passage], query_vector: np.ndarray | None
) -> dict[str, float] | None:
    """Cosine of the question with each stored sentence vector of the passages (None: not available)."""
    if store is None or query_vector is None:
        return None
    wanted = {sentence_key(s): s for p in passages for s in chunk_sentences(p.text)}
    try:
        vectors = store.sentence_vectors(list(wanted))
    except Exception:  # noqa: BLE001 - the store away: sentence choice falls back to lemmas
        return None
    if not vectors:
        return None
    q = np.asarray(query_vector, dtype=np.float32)
    return {wanted[k]: float(v @ q) for k, v in vectors.items()}


def passage_dense(passages: list[Passage]) -> dict[int, float]:
    """Each passage's dense similarity to the question less the best passage's (by ``id()``; ×10: e5 cosines
    sit in a narrow band). A question's words can be spread over passages that are about other things; the
    whole passage's meaning says which one is about the question. A passage the dense side did not find
    counts as the lowest found; none found (BM25-only retrieval): 0 for all."""
    dense = [p.dense for p in passages if p.dense is not None]
    top, low = (max(dense), min(dense)) if dense else (0.0, 0.0)
    return {id(p): 10 * ((p.dense if p.dense is not None else low) - top) for p in passages}


# Answer types a sentence either holds or not (a year, a name, a phone number). Not "list" or "define": two
# sentences joined gain commas and connectives without either listing or defining more (measured: with them
# two squad list answers changed, one for the worse).
_HELD_TYPES = ("who", "when", "contact")


def completes(first: str, second: str, coverages: tuple[float, float], qtypes: set[str]) -> bool:
    """Adjacent sentences of which the one covering the question lacks the answer type the other holds: "…
    valittiin vuonna 2018 alkaneeseen pilottiin. Suomeksi kutsumme pilottia nimellä ELMO-pilotti." names
    the pilot in one sentence and dates it in the other (anaphora, ellipsis: the subject is in the neighbour)."""
    if not qtypes & set(_HELD_TYPES):
        return False
    naming = first if coverages[0] >= coverages[1] else second
    own, pair = type_features(naming, qtypes), type_features(f"{first} {second}", qtypes)
    return any(pair[t] > own[t] for t in _HELD_TYPES)


def sentence_candidates(
    passages: list[Passage],
    evidence: Coverage,
    qtypes: set[str],
    similarities: dict[str, float] | None = None,
    read_share: float = 1.0,
) -> list[Candidate]:
    """Sentences, and pairs of adjacent sentences (an answer often spans two: "... ELMO II -hanketta.
    Hanketta on rahoittanut Pohjois-Savon liitto."; or one names the subject and the other holds the year,
    see ``completes``), scored by the fitted model, best first."""
    weights = WEIGHTS if similarities else WEIGHTS_NO_VECTORS
    top_sim = max(similarities.values(), default=0.0) if similarities else 0.0
    out: list[Candidate] = []
    seen: set[str] = set()
    context = passage_dense(passages)
    for rank, p in enumerate(passages):
        spans = split_sentences(p.text)
        sentences = [" ".join(p.text[s:e].split()) for s, e in spans]
        headings = [is_heading(s, p.title) for s in sentences]
        sentence_terms = [set(finnish.terms(s)) for s in sentences]
        for i in range(len(spans)):
            for j in (i, i + 1):
                if j >= len(spans):
                    continue
                text = " ".join(p.text[spans[i][0] : spans[j][1]].split())
                if text in seen:
                    continue
                seen.add(text)
                covered = sentence_terms[i] | sentence_terms[j]
                coverage = evidence.sentence_coverage(covered)
                if j > i:
                    if headings[i] or headings[j]:
                        continue  # a heading is never glued to a sentence
                    each = (evidence.sentence_coverage(sentence_terms[i]), evidence.sentence_coverage(sentence_terms[j]))
                    if coverage - max(each) < 0.15 and not completes(sentences[i], sentences[j], each, qtypes):
                        continue  # the second sentence adds nothing the question asks for: words or answer type
                sims = [similarities.get(sentences[k], top_sim - 0.1) for k in {i, j}] if similarities else [0.0]
                features = {
                    "coverage": coverage,
                    # e5 cosines sit in a narrow high band: what counts is the distance to the best sentence
                    "similarity": max(sims) - top_sim,
                    # the rank of the sentence's own chunk (a passage of joined chunks holds several): what
                    # the weights were fitted on
                    "rank": 1.0 / (1 + min(p.rank_at(spans[i][0], rank), p.rank_at(spans[j][0], rank))),
                    "pair": float(j > i),
                    "heading": float(headings[i]),
                    "length": math.log1p(len(text)) / 6,
                    **type_features(text, qtypes),
                    "passage_dense": context[id(p)],
                }
                parts = tuple(dict.fromkeys((sentences[i], sentences[j])))
                terms = frozenset(sentence_terms[i] | sentence_terms[j])
                out.append(Candidate(rank, p, text, coverage, score(features, weights), features, parts, terms))
    # Lemma coverage measures only the part of the question its lemmas read: all of a Finnish one, of an English or
    # Swedish one the words the glossary or the corpus knows (``read_share``, retrieve.lexical_share) — "funding
    # call" of "What is the deadline for the circular economy funding call?". The sentence's meaning (1 for the
    # sentence nearest the question, 0 from MEANING_SPREAD below it) covers the rest; when no sentence shares a
    # word with the question, it covers all (the fitted weights would otherwise rank by passage alone).
    lexical = read_share if any(c.coverage > 0 for c in out) else 0.0
    if similarities and lexical < 1.0:
        for c in out:
            meaning = min(1.0, max(0.0, 1.0 + c.features["similarity"] / MEANING_SPREAD))
            c.features["coverage"] = lexical * c.features["coverage"] + (1.0 - lexical) * meaning
            c.score = score(c.features, weights)
    out.sort(key=lambda c: -c.score)
    return out


def _earns_a_citation(c: Candidate, first: Candidate) -> bool:
    """A sentence of a passage not yet cited: a close call by the model, or — when the first sentence leaves
    part of the question uncovered — one covering at least COVERAGE_SHARE of what the first covers."""
    if c.score >= first.score - OTHER_PASSAGE_MARGIN:
        return True
    return first.coverage < FULL_COVERAGE and c.coverage >= COVERAGE_SHARE * first.coverage


# A comparison: asks how two things differ, or asks the same question of two things ("Kuka vetää … vanhassa
# strategiassa ja kuka uudessa?"). Its answer quotes both sides: the second sentence comes from another
# source when one is within SECOND_MARGIN, as close a call as a second sentence of the cited passage.
_DIFFERS = r"\bero(a|aa|avat|ja|t|ista)?\b|verrattuna|\bvertaa|\bdiffer|\bcompar|skillnad|skiljer|jämför"
_COMPARES = re.compile(
    _DIFFERS + r"|\bversus\b|\bvs\.?\s|"
    r"\b(?P<w>kuka|ketkä|mikä|mitkä|mitä|milloin|missä|who|what|when|which|vem|vad|när)\b[^?]{0,120}"
    r"\b(?:ja|and|och)\s+(?P=w)\b",
    re.I,
)


def compares(question: str) -> bool:
    return bool(_COMPARES.search(question))


def _other_side(chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
    """For a comparison answered from one source only: its last sentence makes way for the best sentence of
    another source within SECOND_MARGIN of the first, when there is one."""
    if not chosen or len({c.passage.source for c in chosen}) > 1:
        return chosen
    first = chosen[0]
    for c in candidates:
        if c.score < first.score - SECOND_MARGIN:
            break
        if c.passage.source != first.passage.source and not c.features.get("heading"):
            return (chosen[:-1] if len(chosen) > 1 else chosen) + [c]
    return chosen


# A question of how two things differ that names no aspect of them ("Mitä eroa on 2019 ja 2024
# strategioilla?", "How does the new strategy differ from the old one?"): its words only name the sides, so
# the sentences covering them best are the ones that name a side ("Uusi strategia on voimassa vuoden 2024
# alusta alkaen"), not what tells the sides apart. Each side is answered instead by what it concentrates on:
# its best sentence stating a focus or priorities (``glossary.FOCUS_TEXT``) — when that sentence covers every
# word of the question the side's sentence covers, other than the words naming a side (a number, new/old) — so
# a question that names an aspect ("… rahoituksessa?") keeps the sentences about that aspect. When every chosen
# sentence is from one source, the last makes way for another source's focus sentence: the other side (its
# name may be a word the sources lack, "nya strategin").
_ASKS_DIFFERENCE = re.compile(_DIFFERS, re.I)  # a comparison's words without the "who … and who" form
_SIDE_WORDS = frozenset(
    finnish.terms("uusi uuden uudessa uudesta vanha vanhan vanhassa vanhasta edellinen aiempi nykyinen entinen "
                  "new old previous former current earlier ny nya gammal gamla tidigare nuvarande")
)


def asks_difference(question: str) -> bool:
    return bool(_ASKS_DIFFERENCE.search(question))


def _what_each_side_is_about(
    groups: list[list[str]], chosen: list[Candidate], candidates: list[Candidate]
) -> list[Candidate]:
    """For a difference question (``groups``: its words' alternative terms): each chosen sentence makes way
    for its source's best focus sentence that covers the question's words it covers, side names aside."""
    asked = [
        set(g) for g in groups
        if not set(g) & _SIDE_WORDS and not any(_ASKS_DIFFERENCE.search(t) or _NUMBER.search(t) for t in g)
    ]

    def about(d: Candidate, named: list[set[str]], shown: list[Candidate]) -> bool:
        return (
            not d.features.get("heading")
            and bool(glossary.FOCUS_TEXT.search(d.text))
            and all(g & d.terms for g in named)
            and not any(d.text in e.text or e.text in d.text for e in shown)
        )

    def focus_of(pool: list[Candidate], named: list[set[str]], shown: list[Candidate]) -> Candidate | None:
        found = [d for d in pool if about(d, named, shown)]
        # a sentence that names the focus's items ("… painopisteiksi on nostettu A, B ja C") says what the side
        # concentrates on; another focus sentence may only mention it ("… painopisteet tukevat kasvualoja")
        return next((d for d in found if _ENUMERATION.search(d.text)), found[0] if found else None)

    out: list[Candidate] = []
    for c in chosen:
        named = [g for g in asked if g & c.terms]
        same = [d for d in candidates if d.passage.source == c.passage.source]
        out.append(focus_of(same, named, out) or c)
    if len(out) > 1 and len({c.passage.source for c in out}) == 1:  # one source: the other side from another
        named = [g for g in asked if g & out[0].terms]
        other = focus_of([d for d in candidates if d.passage.source != out[0].passage.source], named, out)
        out[-1] = other or out[-1]
    return out


FOCUS_DEPTH = 8


def focus_passages(snap: Snapshot | None, groups: list[list[str]], passages: list[Passage]) -> list[Passage]:
    """For a difference question: chunks stating a focus that BM25 finds for the question's words and the
    focus words together, besides the passages retrieved. The question's words name the sides, so retrieval
    brings the passages naming them; where each side states what it concentrates on may be elsewhere in its
    source (a paragraph of its own), or in a source ranked below the first one's many passages."""
    if snap is None:
        return []
    terms = list(dict.fromkeys([t for g in groups for t in g] + sorted(glossary.FOCUS_LEMMAS)))
    have = {m for p in passages for m in p.members}
    out = []
    for i, _ in snap.lexical.top(terms, FOCUS_DEPTH):
        cid = snap.ids[i]
        text, meta = snap.chunk(i)
        if cid not in have and glossary.FOCUS_TEXT.search(text):
            out.append(Passage.from_chunk(cid, text, meta))
    return out


# "A, B ja C": three or more items of one to four words each (not a relative clause: ", jotka luovat …")
_ITEM = r"(?!(?:joka|jotka|jonka|joita|jossa|which|who|som|vilka)\b)[\w-]+(?: [\w-]+){0,3}"
_ENUMERATION = re.compile(rf"(?:{_ITEM}, )+{_ITEM} (?:ja|sekä|tai|and|or|och|samt|eller) [\w-]+", re.I)


# A question of what X means (*mitä X tarkoittaa*, *mitä X:llä tarkoitetaan*, *what does X mean / stand for*,
# *vad betyder X*, *vad står X för*, *vad menas med X*): its answer leads with the sentence that defines X —
# one that names it (*kutsutaan nimellä*, *eli*, *lyhenne*, *tuttavallisesti* …), explains an abbreviation
# in an appositive ("… Change (EOCIC)"), or has X before a copula (*X on …*, *X tarkoittaa …*, *X means …*).
MEANING = re.compile(
    r"\btarkoit(taa|ti|etaan|etaanko)\b|\btarkottaa\b|\bmeinaa\b|\bmean(s|t)?\b|\bstand(s)? for\b|"
    r"\bbetyder\b|\binnebär\b|\bstår\b[^?]{1,40}\bför\b|\bmenas\b",
    re.I,
)
_MEANING_WORDS = frozenset(
    finnish.terms("tarkoittaa tarkottaa tarkoitti tarkoitetaan meinaa mitä mikä toi tuo se what does did mean "
                  "means meant stand for vad betyder innebär står för menas med")
)
_COPULA = re.compile(r"\b(on|ovat|oli|tarkoittaa|eli|is|are|means|är|betyder)\b", re.I)
_APPOSITIVE = re.compile(r"\([A-ZÅÄÖ][A-ZÅÄÖ0-9-]{1,10}\)")


def asks_meaning(question: str) -> bool:
    return bool(MEANING.search(question))


def names_only_a_term(question: str) -> bool:
    """A question that is one word ("ELMO?", "EOCIC"): what the user wants is what it is."""
    return len(finnish.words(question)) == 1


def defines(sentence: str, term: set[str]) -> bool:
    """The sentence defines the term (the lemmas of X): names it, explains it in an appositive, or holds it
    before its first copula."""
    if not term:
        return False
    if (_DEFINITION.search(sentence) or _APPOSITIVE.search(sentence)) and term & set(finnish.terms(sentence)):
        return True
    copula = _COPULA.search(sentence)
    return bool(copula) and bool(term & set(finnish.terms(sentence[: copula.start()])))


def _definition_first(question: str, chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
    """For a question of what X means: the sentence that defines X leads (``_lead_with``)."""
    term = set(finnish.terms(question)) - _MEANING_WORDS
    return _lead_with(chosen, candidates, lambda text: defines(text, term))


def asks_focus(question: str) -> bool:
    """A question of what something concentrates on: its priorities, focus, emphasis (any language)."""
    return bool(glossary.FOCUS_TEXT.search(question))


def _focus_first(chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
    """For a question of what something concentrates on: a sentence stating a focus leads (``_lead_with``), one
    naming its items first ("What are the priorities of the 2024 strategy?" — the sentence naming the year
    covers the question's other words as well, and says nothing of its priorities)."""
    return _lead_with(
        chosen, candidates, lambda text: bool(glossary.FOCUS_TEXT.search(text)), lambda text: bool(_ENUMERATION.search(text))
    )


def _lead_with(
    chosen: list[Candidate],
    candidates: list[Candidate],
    fits: Callable[[str], bool],
    best: Callable[[str], bool] | None = None,
) -> list[Candidate]:
    """When the first sentence is not of the kind the question asks for (``fits``: a definition, a focus) — or
    is, but not ``best`` of that kind (a focus named, not its items) — the best sentence that is, within
    SECOND_MARGIN of the first and covering as much of the question, leads, and the first follows."""
    if not chosen or (fits(chosen[0].text) and (best is None or best(chosen[0].text))):
        return chosen
    first = chosen[0]
    found = []
    for c in candidates:
        if c.score < first.score - SECOND_MARGIN:
            break
        if not c.features.get("heading") and c.coverage >= first.coverage - 1e-9 and fits(c.text):
            found.append(c)
    lead = next((c for c in found if best(c.text)), None) if best else None
    if lead is None and not fits(first.text) and found:
        lead = found[0]
    if lead is None or lead is first:
        return chosen
    parts = set(lead.sentences or (lead.text,))
    rest = [d for d in chosen if not parts & set(d.sentences or (d.text,))]
    return [lead] + rest[: max(len(chosen) - 1, 1)]


# A sentence opening with a pronoun that refers back ("Se on ainoa single, joka …", "Hänen äitinsä …", "Tästä
# huolimatta …") says nothing by itself: its subject is in the sentence before. Not "Sen lisäksi, että …",
# whose "sen" points forward to the että clause.
_REFERS_BACK_AT_START = re.compile(
    r"^(?:se|sen|sitä|siitä|siihen|sillä|siinä|siltä|sille|ne|niiden|niitä|niistä|niihin|niillä|niissä|hän|hänen|"
    r"häntä|hänestä|häneen|hänellä|hänet|hänelle|he|heidän|heitä|heistä|heihin|heillä|heille|heidät|tämä|tämän|"
    r"tätä|tästä|tähän|tällä|tässä|tältä|tälle|nämä|näiden|näitä|näistä|näihin|näillä|näissä)\b(?![^,]{0,30}, että)",
    re.IGNORECASE,
)
ANTECEDENT_STEPS = 2  # "Se …" after "Se …": look back one sentence more, no further (one short paragraph)


def previous_in_paragraph(snap: Snapshot, p: Passage) -> Passage | None:
    """The chunk just before passage ``p`` when ``p`` goes on with its paragraph (the chunker's ``continues``),
    read from the snapshot; None otherwise."""
    first = p.members[0] if p.members else p.id
    i, before = snap.index_of(first), neighbour_id(first, -1)
    if i is None or before is None or not snap.chunk(i)[1].get("continues"):
        return None
    j = snap.index_of(before)
    if j is None:
        return None
    text, meta = snap.chunk(j)
    return Passage.from_chunk(before, text, meta)


def with_antecedent(
    chosen: list[Candidate], previous: Callable[[Passage], Passage | None] | None = None
) -> list[Candidate]:
    """The leading sentence, when it opens by referring back, shown after the sentence before it in its passage
    — and that one after its own when it refers back too, ANTECEDENT_STEPS at most (never a heading; a sentence
    brought forward leaves any later place it had in the answer). When the sentence opens its passage, the
    passage takes in the chunk before it in the paragraph (``previous``), so that the citation holds what is
    quoted."""
    if not chosen:
        return chosen
    lead = chosen[0]
    parts = lead.sentences or (lead.text,)
    sentences = chunk_sentences(lead.passage.text)
    if parts[0] not in sentences:
        return chosen
    i = sentences.index(parts[0])
    if i == 0 and previous is not None and _REFERS_BACK_AT_START.match(parts[0]):
        earlier = previous(lead.passage)
        if earlier is not None and earlier.text.rstrip()[-1:] in STATEMENT_END:  # not a piece of a long sentence
            trial = dataclasses.replace(lead.passage)  # absorb joins on a copy first: the passage changes only if it fits
            trial.absorb(earlier)
            grown = chunk_sentences(trial.text)
            k = len(grown) - len(sentences)
            if k > 0 and grown[k] == parts[0] and not is_heading(grown[k - 1]):
                lead.passage.absorb(earlier)
                i, sentences = k, grown
    before: list[str] = []
    while len(before) < ANTECEDENT_STEPS and i > 0 and _REFERS_BACK_AT_START.match(sentences[i]):
        if is_heading(sentences[i - 1]):
            break
        i -= 1
        before.insert(0, sentences[i])
    if not before:
        return chosen
    joined = dataclasses.replace(lead, text=" ".join([*before, lead.text]), sentences=(*before, *parts))
    return [joined] + [d for d in chosen[1:] if not set(before) & set(d.sentences or (d.text,))]


def choose(candidates: list[Candidate], qtypes: set[str]) -> list[Candidate]:
    """The sentence that answers first, then up to one more (two for a list question) that the model rates
    nearly as high (closer still when it would add a citation); never a heading, never a sentence already
    shown (alone or inside a pair)."""
    limit = 3 if "list" in qtypes else 2
    chosen: list[Candidate] = []
    shown: set[str] = set()
    for c in candidates:
        if len(chosen) >= limit or (chosen and c.score < chosen[0].score - SECOND_MARGIN):
            break
        cited_already = any(c.passage is d.passage for d in chosen)
        if chosen and not cited_already and not _earns_a_citation(c, chosen[0]):
            continue  # another citation must earn its place: a closer call than more of a cited passage
        if c.features.get("heading"):
            continue
        parts = set(c.sentences or (c.text,))
        if parts & shown or any(c.text in d.text or d.text in c.text for d in chosen):
            continue  # a sentence already shown, alone or in a pair, from this or another passage
        chosen.append(c)
        shown |= parts
    return chosen


def _typed_answer_shown(question: str, chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
    """A question asking for a time, an end or an amount ("Milloin matkailuhanke päättyy?", "Paljonko
    rahoitusta hanke sai?") shows a sentence that holds one: when the chosen sentences hold none and a
    candidate the model rates within SECOND_MARGIN of the lead does (of the lead's passage, or earning a
    citation), it is shown after the lead — or instead of it, when it is a pair that includes the lead. The
    fitted weights rank by lemma cover first, and a time or an amount shares no word with the question ("Hanke
    toteutetaan 1.4.2025–31.3.2027.")."""
    kinds = asked_types(question) & {"when", "number"}
    if ASKS_END.search(question):  # when something ends, its start is no answer
        kinds = (kinds - {"when"}) | {"end"}
    if not kinds or not chosen:
        return chosen
    asked = question_words(question)

    def holds(c: Candidate) -> bool:
        return any(holds_answer(k, c.text, asked) for k in kinds)

    if any(holds(c) for c in chosen):
        return chosen
    lead = chosen[0]
    for c in candidates:
        if c.score < lead.score - SECOND_MARGIN:
            break
        if c.features.get("heading") or not holds(c):
            continue
        if c.passage is not lead.passage and not _earns_a_citation(c, lead):
            continue
        if set(lead.sentences or (lead.text,)) <= set(c.sentences or (c.text,)):
            return [c]  # the lead and the sentence after or before it that holds the answer
        if set(c.sentences or (c.text,)) & set(lead.sentences or (lead.text,)):
            continue
        return [lead, c]
    return chosen


# ------------------------------------------------------------------------------------------------------
# contact cards
# ------------------------------------------------------------------------------------------------------

_MAX_CARDS = 2
_MAX_CONFLICTING_CARDS = 4


def cards(
    contacts: list[tuple[dict[str, Any], Passage]],
) -> tuple[list[tuple[dict[str, Any], Passage]], bool]:
    """The contact cards to show, and whether sources disagree. Each card is one record of one passage
    (never fields merged across passages); a record another one already states in full is left out.
    Cards go round-robin by source, so one source's many records cannot push another source's out."""
    # a mention of a person the same source also gives a phone or e-mail for ("… sanoo projektipäällikkö Petri
    # Lahti." in one chunk, "Lisätietoja: … Petri Lahti, puh. …" in the next) adds no way to reach them
    reachable = {(person_key(c), p.source) for c, p in contacts if c.get("phone") or c.get("email")}
    contacts = [(c, p) for c, p in contacts if c.get("phone") or c.get("email") or (person_key(c), p.source) not in reachable]
    distinct = distinct_records(contacts, lambda item: item[0])
    conflict = any(
        disagree(a, b) and pa.source != pb.source
        for i, (a, pa) in enumerate(distinct)
        for b, pb in distinct[i + 1 :]
    )
    by_source: dict[str, list[tuple[dict[str, Any], Passage]]] = {}
    for item in distinct:
        by_source.setdefault(item[1].source, []).append(item)
    rounds = max((len(v) for v in by_source.values()), default=0)
    ordered = [v[k] for k in range(rounds) for v in by_source.values() if k < len(v)]
    return ordered[: _MAX_CONFLICTING_CARDS if conflict else _MAX_CARDS], conflict


_REFERS_BACK = re.compile(r"\b(hänen|häntä|hänelle|hänet|häneen|häneltä|her|his|him|hennes|hans|henne|honom)\b", re.I)


def _contact_sentence(contact: dict[str, Any], text: str) -> str:
    """The sentence of the passage that mentions the contact (its name, else its phone or e-mail)."""
    sentences = chunk_sentences(text)
    for key in ("name", "phone_raw", "email"):
        value = str(contact.get(key) or "")
        hit = next((s for s in sentences if value and value in s), None)
        if hit:
            return hit
    return text


_ASKING_FOR_CONTACT = frozenset({"lisätieto", "yhteystieto", "yhteystiedot", "yhteyshenkilö", "kontakti"})


def contacts_for(
    passages: list[Passage],
    evidence: Coverage,
    snap: Snapshot,
    similarities: dict[str, float] | None = None,
) -> list[tuple[dict[str, Any], Passage]]:
    """Contacts in the retrieved passages whose name, title or organisation the question (or the turn
    it follows up) asks about — not every card that happens to sit in a retrieved passage — ranked by how
    well the sentence that names them matches the question (its lemmas, then its meaning)."""
    asked = set(evidence.known)
    # the words that ask for a contact ("lisätietoja", "contact", "yhteystiedot") say nothing of the topic:
    # every "Lisätietoja: …" line has them, so they must not make another document's card about the question
    topic = [g for g in evidence.groups if not set(g) & _ASKING_FOR_CONTACT]
    found: list[tuple[float, int, tuple[dict[str, Any], Passage]]] = []
    for rank, p in enumerate(passages):
        # a passage of joined chunks holds its members' contacts, filed under the passage (what gets cited)
        held = [{**c, "chunk_id": p.id} for m in p.members or [p.id] for c in snap.contacts_by_chunk.get(m, [])]
        for contact in held:
            about = " ".join(str(contact.get(k) or "") for k in ("name", "title", "organisation"))
            # the question names the person/title, or the contact's passage is about what it asks
            named = bool(set(finnish.terms(about)) & asked)
            reachable = bool(contact.get("phone") or contact.get("email"))
            # the person a source gives for reaching it ("Lisätietoja: …") is tied to what the source is about
            tied = reachable and p.source == passages[0].source
            if not named and not tied and evidence.strict_coverage(set(p.terms) | set(finnish.terms(p.text)), topic) < 0.5:
                continue
            sentence = _contact_sentence(contact, p.text)
            fit = evidence.coverage(set(finnish.terms(sentence)) | set(finnish.terms(about)))
            fit += (similarities or {}).get(sentence, 0.0)
            fit += 1.0 if reachable else 0.0  # reachable people first
            found.append((-fit, rank, (contact, p)))
    found.sort(key=lambda item: item[:2])
    return [item for _, _, item in found]


def contact_card(
    contact: dict[str, Any], p: Passage, phrases: dict[str, str], marker: Callable[[Passage], str]
) -> str:
    """A card with the fields as the source writes them (the phone as published, not reformatted)."""
    rows = [f"**{phrases['contact']}** {marker(p)}", f"- {phrases['name']}: {contact['name']}"]
    for key in ("title", "organisation", "phone", "email"):
        value = contact.get("phone_raw") or contact.get("phone") if key == "phone" else contact.get(key)
        if value:
            rows.append(f"- {phrases[key]}: {value}")
    return "\n".join(rows)


# ------------------------------------------------------------------------------------------------------
# the opening line for English and Swedish questions
# ------------------------------------------------------------------------------------------------------

OPENER_LABELS: dict[str, dict[str, str]] = {
    "en": {"header": "In the sources", "date": "Date", "year": "Year", "number": "Figure", "person": "Person",
           "organisation": "Organisation", "email": "E-mail", "link": "Link"},
    "sv": {"header": "I källorna", "date": "Datum", "year": "År", "number": "Siffra", "person": "Person",
           "organisation": "Organisation", "email": "E-post", "link": "Länk"},
}  # fmt: skip
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]*\w")
_LINK = re.compile(r"https?://\S+\w|www\.\S+\w")
# a figure with its unit (a bare number says nothing without the sentence): "5 miljoonaa euroa", "40 %",
# "1,5 milj. €"; a magnitude alone ("5 miljoonaa") is no unit
_FIGURE = re.compile(
    r"(?<![\w.,])\d{1,3}(?:[ \u00a0]\d{3})*(?:,\d+)?"
    r"(?:\s?(?:milj\.|miljoonaa|miljardia|tuhatta|mrd\.))?\s?(?:%|prosenttia|euroa|€|EUR)(?!\w)"
)
_MAX_OPENER_ROWS = 4


def _instruction(sentence: str) -> bool:
    """A sentence that tells its reader what to do ("Ohita …", "Älä …", "Lähetä …"): it opens with a verb in
    the imperative. It states no fact of its own — its names and figures are what it wants done or said —
    so the opener, which restates what a sentence states, takes nothing from it (the quote shows it whole)."""
    first = next(iter(finnish.words(sentence)), None)
    if first is None or not first[0][:1].isupper():
        return False
    return any(getattr(a, "MOOD", None) == "imperative" for a in pyvoikko.analyse(first[0].lower()))


def _people(text: str) -> list[str]:
    """Person names the contact extractor finds (a name with a title, a phone or an e-mail), in base form."""
    return [c.name for c in extract_contacts(text)]


def _organisations(text: str) -> list[str]:
    """Organisation names ("Lapin liitto", "Oulun yliopisto") as the contact extractor reads them: capitalised
    modifiers and an organisation head word, the head in its base form ("Lapin liiton" → "Lapin liitto");
    a bare genitive ("Lapin") or a fragment of a longer name is no organisation."""
    return [name for _, _, name in organisation_mentions(text, 0, len(text))]


def _opener_values(text: str, qtypes: set[str]) -> list[tuple[str, str]]:
    """(kind, value) pairs of a Finnish sentence that read the same in any language, the kinds the question
    type asks for first: people and organisations by name, dates and years, figures with their unit,
    e-mail addresses and links. Nothing else: an inflected word or a fragment of a longer name is no fact."""
    if _instruction(text):
        return []
    found: list[tuple[str, str]] = []
    found += [("email", m.group()) for m in _EMAIL.finditer(text)]
    found += [("link", m.group()) for m in _LINK.finditer(text)]
    found += [("person", name) for name in _people(text)]
    found += [("organisation", name) for name in _organisations(text)]
    dates = [m.group() for m in _DATE.finditer(text)]
    found += [("date", d) for d in dates]
    found += [("year", m.group()) for m in _YEAR.finditer(text) if not any(m.group() in d for d in dates)]
    found += [("number", " ".join(m.group().split())) for m in _FIGURE.finditer(text)]
    first = {
        "when": ("date", "year"), "who": ("person", "organisation"), "list": ("organisation", "person"),
        "contact": ("email", "link", "person"),
    }  # fmt: skip
    wanted = {kind for q in qtypes for kind in first.get(q, ())}
    found.sort(key=lambda kv: kv[0] not in wanted)
    return list(dict.fromkeys(found))[:_MAX_OPENER_ROWS]


def opener(language: str, chosen: list[Candidate], qtypes: set[str], marker: Callable[[Passage], str]) -> str:
    """A card in the question's language of what the cited sentence states that needs no translation
    (people, organisations, dates, years, figures, addresses), each row from it; "" when it states none."""
    labels = OPENER_LABELS.get(language)
    if not labels or not chosen:
        return ""
    rows = _opener_values(chosen[0].text, qtypes)
    if not rows:
        return ""
    return "\n".join([f"**{labels['header']}** {marker(chosen[0].passage)}"] + [f"- {labels[k]}: {v}" for k, v in rows])


# ------------------------------------------------------------------------------------------------------
# the answer
# ------------------------------------------------------------------------------------------------------


_ASKS_EMAIL = re.compile(r"sähköpost|e-?mail|e-post|mejl|\bmail", re.I)
_ASKS_PHONE = re.compile(r"puhelin|numero|soitt|soita|phone|call\b|telefon|ring", re.I)


def paragraph_or_list(body: list[str], qtypes: set[str]) -> str:
    """One short paragraph; a bulleted list (one cited sentence an item) when a list question is answered
    by more than one sentence."""
    if "list" in qtypes and len(body) > 1:
        return "\n".join(f"- {b}" for b in body)
    return " ".join(body)


def missing_details(question: str, shown: list[dict[str, Any]]) -> list[str]:
    """The details the question asks for (e-mail, phone) that none of the shown cards has."""
    asked = [k for k, pat in (("email", _ASKS_EMAIL), ("phone", _ASKS_PHONE)) if pat.search(question)]
    return [k for k in asked if shown and not any(c.get(k) for c in shown)]


def compose(
    question: str,
    language: str,
    passages: list[Passage],
    evidence: Coverage,
    qtypes: set[str],
    snap: Snapshot,
    phrases: dict[str, str],
    similarities: dict[str, float] | None = None,
    referent: Coverage | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The draft answer (Markdown with [n] numbered in order of appearance) and the contacts shown.
    Reorders ``passages`` in place to citation order, so the verifier's [n] means passages[n-1].
    ``referent``: the assessment of the turn a follow-up refers back to; "her phone number?" asks for the
    person that turn asked about, so its words, not the new ones ("phone"), rank the contacts."""
    cited: list[Passage] = []

    def marker(p: Passage) -> str:
        if p not in cited:
            cited.append(p)
        return f"[{cited.index(p) + 1}]"

    lines: list[str] = []
    contacts: list[tuple[dict[str, Any], Passage]] = []
    if "contact" in qtypes or "who" in qtypes:
        back = bool(_REFERS_BACK.search(question))
        contacts = contacts_for(passages, referent if back and referent is not None else evidence, snap, similarities)
        shown, conflict = cards(contacts)
        if back and not conflict:
            shown = shown[:1]  # "her e-mail?": the person the conversation is about, not their neighbours
        # a who-question is answered by its sentences, unless the sources disagree on who/which details
        if "contact" in qtypes or conflict:
            contacts = shown
            lines += [phrases["disagree"]] if conflict else []
            lines += [contact_card(contact, p, phrases, marker) for contact, p in shown]
            absent = missing_details(question, [c for c, _ in shown])
            if absent and lines:  # said plainly, inside the last card (its rows are verified against its passage)
                lines[-1] += "".join(f"\n- {phrases[k]}: {NOT_STATED[language]}" for k in absent)
    if not lines:
        extra = focus_passages(snap, evidence.groups, passages) if asks_difference(question) else []
        # scored once with the extra passages after the retrieved ones: their sentences score as they would
        # alone, and only a difference question's sides are looked for among the extra ones
        read = lexical_share(question, language, snap.lexical.vocab) if snap is not None else 1.0
        pool = sentence_candidates(passages + extra, evidence, qtypes, similarities, read)
        if not similarities:
            pool = [c for c in pool if c.coverage > 0]
        retrieved = {id(p) for p in passages}
        candidates = [c for c in pool if id(c.passage) in retrieved]
        chosen = choose(candidates, qtypes)
        if compares(question):
            chosen = _other_side(chosen, candidates)
        if asks_difference(question):
            chosen = _what_each_side_is_about(evidence.groups, chosen, pool)
        if ("define" in qtypes and asks_meaning(question)) or names_only_a_term(question):
            chosen = _definition_first(question, chosen, candidates)
        if asks_focus(question) and not asks_difference(question) and not asks_meaning(question):
            chosen = _focus_first(chosen, candidates)
        chosen = _typed_answer_shown(question, chosen, candidates)
        held = {m for p in passages for m in p.members or [p.id]}

        def previous(p: Passage) -> Passage | None:  # not a chunk another passage holds: never quoted twice
            earlier = previous_in_paragraph(snap, p) if snap is not None else None
            return earlier if earlier is not None and earlier.id not in held else None

        chosen = with_antecedent(chosen, previous)
        lines.append(opener(language, chosen, qtypes, marker))
        body = [f"{c.text} {marker(c.passage)}" for c in chosen]
        if language != "fi" and body:
            lines.append(phrases["quoted"])
            lines += [f"> {b}" for b in body]
        else:
            lines.append(paragraph_or_list(body, qtypes))
    draft = "\n\n".join(line for line in lines if line)
    passages[:] = cited + [p for p in passages if p not in cited]
    return draft, [c for c, _ in contacts]
