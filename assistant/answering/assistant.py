"""Answers with verified citations.

``Assistant.ask(question, history)`` → an :class:`Answer` (the JSON of ``assistant ask --json``);
``Assistant.stream(question, history)`` yields text as it is produced, then the final verified answer.

The default answerer is extractive: it picks the sentences of the retrieved passages that answer the
question and cites them. With an LLM configured (``ASSISTANT_LLM_URL``/``_MODEL``) the generative
answerer writes the answer from the same passages; both go through the same citation verifier, and
neither runs when the evidence is too weak: then the assistant says the sources don't say.
"""

from __future__ import annotations

import html
import math
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answering.conversation import resolve_follow_up
from assistant.answering.retrieve import KnowledgeBase, Passage, Retriever, Snapshot
from assistant.answering.verify import VerifiedAnswer, verify
from assistant.config import Settings
from assistant.text import finnish, glossary
from assistant.text.contacts import disagree, distinct_records
from assistant.text.language import detect_language
from assistant.text.sentences import split_sentences

# ------------------------------------------------------------------------------------------------------
# phrasing per language
# ------------------------------------------------------------------------------------------------------

PHRASES: dict[str, dict[str, str]] = {
    "fi": {
        "empty": "Kirjoita kysymys, niin etsin vastauksen lähteistä (ELMO-pilotti, Itä- ja Pohjois-Suomen "
        "älykkään erikoistumisen strategiat ja yhteyshenkilöt).",
        "too_long": "Kysymys on liian pitkä ({n} merkkiä; enintään {limit}). Kysy lyhyemmin, niin etsin "
        "vastauksen lähteistä.",
        "refuse": "En löydä lähteistä vastausta tähän kysymykseen.",
        "refuse_missing": "Lähteissä ei mainita tätä ({missing}).",
        "covers": "Lähteet käsittelevät: {titles}.",
        "contact": "Yhteystiedot",
        "disagree": "Lähteet antavat tästä eri tiedot:",
        "name": "Nimi",
        "title": "Tehtävä",
        "phone": "Puhelin",
        "email": "Sähköposti",
        "organisation": "Organisaatio",
        "quoted": "",
        "empty_kb": "Tietopankki on tyhjä: yhtään lähdettä ei ole vielä indeksoitu (aja `assistant refresh`).",
    },
    "en": {
        "empty": "Please type a question and I will look for the answer in the sources (the ELMO pilot, the "
        "Eastern and Northern Finland smart-specialisation strategies and their contacts).",
        "too_long": "The question is too long ({n} characters; the limit is {limit}). Please ask more briefly.",
        "refuse": "I could not find an answer to this in the sources.",
        "refuse_missing": "The sources do not mention this ({missing}).",
        "covers": "The sources cover: {titles}.",
        "contact": "Contact",
        "disagree": "The sources disagree on this:",
        "name": "Name",
        "title": "Title",
        "phone": "Phone",
        "email": "E-mail",
        "organisation": "Organisation",
        "quoted": "Quoted verbatim from the Finnish sources:",
        "empty_kb": "The knowledge base is empty: no source has been indexed yet (run `assistant refresh`).",
    },
    "sv": {
        "empty": "Skriv en fråga så söker jag svaret i källorna (ELMO-piloten, Öst- och Nordfinlands "
        "strategier för smart specialisering och kontaktpersoner).",
        "too_long": "Frågan är för lång ({n} tecken; högst {limit}). Fråga kortare, tack.",
        "refuse": "Jag hittar inget svar på detta i källorna.",
        "refuse_missing": "Källorna nämner inte detta ({missing}).",
        "covers": "Källorna handlar om: {titles}.",
        "contact": "Kontakt",
        "disagree": "Källorna uppger olika saker om detta:",
        "name": "Namn",
        "title": "Titel",
        "phone": "Telefon",
        "email": "E-post",
        "organisation": "Organisation",
        "quoted": "Citerat ordagrant ur de finska källorna:",
        "empty_kb": "Kunskapsbasen är tom: inga källor har indexerats ännu (kör `assistant refresh`).",
    },
}

# Question words and verbs that say how something is asked, not what: never "missing" from the sources.
GENERIC = set(
    """
    kertoa kerro tietää tieto haluta voida olla tehdä löytyä mainita sanoa kuulua liittyä koskea tarkoittaa
    selittää lyhyesti tarkemmin asia jokin joku mikä mitä mitkä kuka ketkä kenen keneltä kenelle milloin missä
    mistä mihin miten millainen millä minkä montako kuinka paljon moni monta vuosi aika nimi nimetä luetella
    luettele antaa saada vastata hoitaa toimia olemassa kutsua kysyä kysymys lähde sivu teksti artikkeli
    käsitellä nykyään tällä hetkellä yleensä eli sekä myös vielä jo nyt tehtävä rooli asema vastuu osuus
    """.split()
)

QTYPE_PATTERNS: dict[str, re.Pattern[str]] = {
    "contact": re.compile(
        r"puhelin|numero|numeron|sähköpost|yhteystie|yhteyshenkil|tavoittaa|soittaa|soitan|phone|e-?mail|"
        r"contact|reach|call\b|telefon|kontakt|e-post|nå\b|ottaa yhteyttä|yhteyden",
        re.I,
    ),
    "who": re.compile(r"\bkuka\b|\bketkä\b|\bkenen\b|\bkeneltä\b|\bkenelle\b|\bwho\b|\bwhom\b|\bvem\b", re.I),
    "when": re.compile(
        r"\bmilloin\b|\bmihin asti\b|\bmistä lähtien\b|\bminä vuonna\b|\bmonenako\b|\bvuonna\b|\bwhen\b|"
        r"\bwhat year\b|\bwhich year\b|\bsince when\b|\bnär\b|\bvilket år\b",
        re.I,
    ),
    "define": re.compile(r"^\s*(mikä|mitä|mikä oli|what|vad)\s+(on|oli|is|was|är|var)\s+[\w -]{1,40}\??\s*$", re.I),
    "list": re.compile(
        r"\bmitkä\b|\bketkä\b|\bluettele\b|\bmitä\b.*\b(ovat|olivat)\b|\bwhich\b|\bwhat are\b|\bwhat were\b|"
        r"\blist\b|\bvilka\b|\bnämn\b",
        re.I,
    ),
}

_DEFINITION = re.compile(r"nimellä|kutsu|tarkoitta|tuttavallisesti|lyhenne|\beli\b|\bns\.", re.I)
_YEAR = re.compile(r"\b(19|20)\d{2}\b")
_DATE = re.compile(r"\b\d{1,2}\.\s?\d{1,2}\.\s?\d{4}\b|\b\d{1,2}\.\s+(tammi|helmi|maalis|huhti|touko|kesä|heinä|elo|syys|loka|marras|joulu)kuu")
_TITLE_WORD = re.compile(r"päällikkö|johtaja|asiantuntija|koordinaattori|puheenjohtaja|suunnittelija", re.I)
_ORG = re.compile(r"\b[A-ZÅÄÖ][\w-]+(n|\s) (liitto|yliopisto|kaupunki|ELY-keskus)\b")
_CAPS_NAME = re.compile(r"\b[A-ZÅÄÖ][a-zåäö]+ [A-ZÅÄÖ][a-zåäö]+(nen|la|lä|o|ö|a|ä|i)\b")


def question_types(question: str) -> set[str]:
    return {name for name, pat in QTYPE_PATTERNS.items() if pat.search(question)} or {"what"}


# Every pattern here is linear on untrusted input: disjoint classes, bounded repeats, no backreferences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_BLOCK_OPEN = re.compile(r"<(script|style)\b", re.I)
_BLOCK_CLOSE = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style")}
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")


def _drop_script_blocks(text: str) -> str:
    """``<script …>…</script>`` and ``<style …>…</style>`` removed in one forward pass (linear time)."""
    out: list[str] = []
    pos = 0
    gt = -1  # the first ">" at or after the current opener, reused while still ahead (no rescans)
    unclosed: set[str] = set()  # no closing tag after some opener → none after any later one either
    while (opener := _BLOCK_OPEN.search(text, pos)) is not None:
        name = opener.group(1).lower()
        if gt < opener.end():
            gt = text.find(">", opener.end())
        if gt < 0:
            break
        closer = None if name in unclosed else _BLOCK_CLOSE[name].search(text, gt + 1)
        if closer is None:
            unclosed.add(name)
            out.append(text[pos : opener.end()])
            pos = opener.end()
            continue
        out.append(text[pos : opener.start()] + " ")
        pos = closer.end()
    out.append(text[pos:])
    return "".join(out)


def clean_question(question: str) -> str:
    """Terminal escapes, HTML tags and control characters out, whitespace collapsed; the user's words
    otherwise untouched (the question is shown back as text, never as HTML). Linear time."""
    question = _ANSI.sub("", question)
    question = html.unescape(_TAG.sub(" ", _drop_script_blocks(question)))
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in question)
    return " ".join(kept.split())


@dataclass
class Citation:
    n: int
    source: str
    title: str
    text: str
    start: int
    end: int
    page: int | None = None
    url: str | None = None
    publisher: str | None = None
    date: str | None = None
    chunk_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("page", "url", "publisher", "date"):
            if out[key] is None:
                out.pop(key)
        return out


@dataclass
class Answer:
    question: str
    language: str
    answer: str
    refused: bool
    citations: list[Citation]
    timings_ms: dict[str, float]
    mode: str = "extractive"
    quoted_from_finnish: bool = False
    contacts: list[dict[str, Any]] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # sentences the verifier dropped
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    degraded: bool = False  # the vector store was unreachable: answered from the lexical index alone

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["citations"] = [c.to_dict() for c in self.citations]
        out["timings_ms"] = {k: round(v, 2) for k, v in self.timings_ms.items()}
        return out


# ------------------------------------------------------------------------------------------------------
# evidence
# ------------------------------------------------------------------------------------------------------


@dataclass
class Evidence:
    known: list[str]  # content terms of the question that the corpus has
    missing: list[str]  # words of the question the corpus never mentions
    idf: dict[str, float]
    # one group per question word (or glossary concept): its known alternative terms (a lemma, its compound
    # parts, its Finnish equivalents). A sentence covers a group by its best-weighted term.
    groups: list[list[str]] = field(default_factory=list)

    def add_group(self, terms: list[str]) -> None:
        group = [t for t in dict.fromkeys(terms) if t]
        if group and group not in self.groups:
            self.groups.append(group)
            self.known = list(dict.fromkeys(self.known + group))

    def coverage(self, terms: set[str]) -> float:
        total = got = 0.0
        for group in self.groups:
            weights = [self.idf.get(t, 1.0) for t in group]
            total += max(weights)
            got += max((w for t, w in zip(group, weights, strict=True) if t in terms), default=0.0)
        return got / total if total else 0.0


_NOUNISH = {"nimisana", "paikannimi", "sukunimi", "etunimi", "nimi", "lyhenne"}
_CONTACT_TERMS = {"yhteyshenkilö", "yhteystieto", "yhteystiedot", "kontaktihenkilö", "kontakti"}
_PHONE_TERMS = {"puhelin", "puhelinnumero", "numero", "puh", "gsm", "matkapuhelin", "telefon"}
_EMAIL_TERMS = {"sähköposti", "sähköpostiosoite", "posti", "osoite", "email", "e-mail", "e-post"}


def assess(question: str, language: str, snap: Snapshot) -> Evidence:
    """Which of the question's content words the knowledge base knows at all.

    A noun (or a name, or a word Voikko does not know) that no chunk contains is a *missing* concept:
    the sources cannot answer a question about it ("Oulun väkiluku", "ELMO-pilotin budjetti"). Verbs and
    adjectives only phrase the question and never count as missing. Words that ask for a phone number or
    an e-mail address are known exactly when the contacts directory has such a field.
    """
    lex = snap.lexical
    n = max(lex.size, 1)
    idf: dict[str, float] = {}
    groups: list[list[str]] = []
    missing: list[str] = []
    contact_fields = snap.contact_fields

    def weight(term: str) -> float:
        df = lex.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    for word, _, _ in finnish.words(question):
        if word.lower() in GENERIC:
            continue
        if word.isdigit():  # a year or a number: the sources either state it or they don't
            terms, nounish = [word], True
        elif language == "fi":
            terms = [t for t in finnish.terms(word) if not finnish.is_stopword(t) and t not in GENERIC]
            classes = finnish.word_classes(word)
            # adjectives and verbs only phrase the question ("kokonaiset" is also a noun to Voikko)
            nounish = not classes or (bool(classes & _NOUNISH) and "laatusana" not in classes)
        else:
            # a foreign word counts through its Finnish glossary terms, or as a name the corpus has
            terms = glossary.finnish_terms(word) or [t for t in finnish.terms(word) if t in lex.df]
            nounish = True
        if not terms:
            continue
        for t in terms:
            idf[t] = weight(t)
        term_set = set(terms)
        if term_set & _CONTACT_TERMS and "name" in contact_fields:
            continue  # "yhteyshenkilö" asks for the contacts directory, which has entries
        if term_set & _PHONE_TERMS and not term_set & _EMAIL_TERMS:
            if "phone" in contact_fields:
                groups.append([t for t in terms if t in lex.df] or ["puh"])
            else:
                missing.append(word)
            continue
        if term_set & _EMAIL_TERMS and not term_set & _PHONE_TERMS and "posti" in " ".join(terms) + word.lower():
            if "email" in contact_fields:
                groups.append([t for t in terms if t in lex.df])
            else:
                missing.append(word)
            continue
        parts = terms[1:]
        whole_known = terms[0] in lex.df or (
            language == "fi" and any(b in lex.df for b in finnish.base_forms(word))
        )
        # a compound the sources never use is known only if its head is a word of their own:
        # "maakuntajohtaja" is not "puheenjohtaja", "karjalanpiirakka" is not "Pohjois-Karjala"
        heads = finnish.compound_heads(word) if language == "fi" else frozenset()
        parts_known = (
            bool(parts)
            and sum(t in lex.df for t in parts) >= max(1, round(len(parts) * 2 / 3))
            and (not heads or bool(heads & snap.words))
        )
        if whole_known or parts_known:
            groups.append([t for t in terms if t in lex.df])
        elif nounish:
            missing.append(word)
    if language != "fi":  # multi-word glossary keys ("took part", "project manager") seen only whole
        for key_terms in glossary.concepts(question):
            have = [t for t in key_terms if t in lex.df]
            for t in have:
                idf.setdefault(t, weight(t))
            groups.append(have)
    evidence = Evidence([], list(dict.fromkeys(missing)), idf)
    for group in groups:
        evidence.add_group(group)
    return evidence


# ------------------------------------------------------------------------------------------------------
# the extractive answerer
# ------------------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    passage_rank: int
    passage: Passage
    text: str
    coverage: float
    score: float


def _type_bonus(sentence: str, qtypes: set[str]) -> float:
    bonus = 0.0
    if "contact" in qtypes and re.search(r"\d{3}.*\d{3}|@|\(at\)", sentence):
        bonus += 0.5
    if "who" in qtypes and (_TITLE_WORD.search(sentence) or _CAPS_NAME.search(sentence) or _ORG.search(sentence)):
        bonus += 0.35
    if "when" in qtypes and (_YEAR.search(sentence) or _DATE.search(sentence)):
        bonus += 0.35
    if "define" in qtypes and _DEFINITION.search(sentence):
        bonus += 0.35
    if "list" in qtypes and (sentence.count(",") >= 2 or (sentence.count(",") >= 1 and " ja " in sentence)):
        bonus += 0.25
    return bonus


def _sentence_candidates(
    passages: list[Passage], evidence: Evidence, qtypes: set[str]
) -> list[Candidate]:
    """Sentences, and pairs of adjacent sentences (an answer often spans two: "... ELMO II -hanketta.
    Hanketta on rahoittanut Pohjois-Savon liitto."), scored by the question lemmas they cover (IDF-
    weighted), the rank of their passage and what the question type asks for."""
    out = []
    seen: set[str] = set()
    for rank, p in enumerate(passages):
        spans = split_sentences(p.text)
        sentence_terms = [set(finnish.terms(p.text[s:e])) for s, e in spans]
        for i, (s, _end) in enumerate(spans):
            for j in (i, i + 1):
                if j >= len(spans):
                    continue
                text = " ".join(p.text[s : spans[j][1]].split())
                if text in seen:
                    continue
                seen.add(text)
                terms = sentence_terms[i] | sentence_terms[j]
                coverage = evidence.coverage(terms)
                score = coverage + 0.1 / (1 + rank) + 0.3 * _type_bonus(text, qtypes)
                if j > i:
                    alone = max(evidence.coverage(sentence_terms[k]) for k in (i, j))
                    if coverage - alone < 0.15:
                        continue  # the second sentence adds nothing the question asks for
                    score -= 0.1
                out.append(Candidate(rank, p, text, coverage, score))
    out.sort(key=lambda c: -c.score)
    return out


_MAX_CARDS = 2
_MAX_CONFLICTING_CARDS = 4


def _cards(
    contacts: list[tuple[dict[str, Any], Passage]],
) -> tuple[list[tuple[dict[str, Any], Passage]], bool]:
    """The contact cards to show, and whether sources disagree. Each card is one record of one passage
    (never fields merged across passages); a record another one already states in full is left out.
    Cards go round-robin by source, so one source's many records cannot push another source's out."""
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


class Assistant:
    """The answering core, loaded once: ``ask`` for a whole answer, ``stream`` for text as it comes."""

    def __init__(self, settings: Settings, kb: KnowledgeBase | None = None):
        self.settings = settings
        self.kb = kb or KnowledgeBase(settings)
        self.retriever = Retriever(self.kb)
        self._llm: Any = None

    # -- public ------------------------------------------------------------------------------------------

    def ask(self, question: str, history: list[Any] | None = None, *, mode: str = "hybrid") -> Answer:
        final: Answer | None = None
        for item in self.stream(question, history, mode=mode):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(
        self, question: str, history: list[Any] | None = None, *, mode: str = "hybrid"
    ) -> Iterator[str | Answer]:
        """Yields text deltas (generative mode only) and finally the verified :class:`Answer`."""
        t0 = time.perf_counter()
        raw = question if isinstance(question, str) else ""
        limit = self.settings.max_question_chars
        too_long = len(raw) > limit  # checked before any processing: cleaning costs time on huge input
        q = clean_question(raw[:limit] if too_long else raw)
        language = detect_language(q) if q else "fi"
        phrases = PHRASES[language]
        if too_long or len(q) > limit:
            text = phrases["too_long"].format(n=len(raw) if too_long else len(q), limit=limit)
            yield self._plain(q[:200], language, text, t0)
            return
        if not q:
            yield self._plain(q, language, phrases["empty"], t0)
            return

        follow = resolve_follow_up(q, history or [])
        t = time.perf_counter()
        retrieval = self.retriever.retrieve(
            q if not follow.context else f"{q} {follow.context}",
            language=language,
            extra_terms=follow.terms,
            mode=mode,
        )
        t_retrieve = (time.perf_counter() - t) * 1000
        snap = retrieval.snapshot
        timings = {"retrieve": t_retrieve, **{f"retrieve_{k}": v for k, v in retrieval.timings_ms.items()}}

        t = time.perf_counter()
        if not snap.sources:
            yield self._plain(q, language, phrases["empty_kb"], t0, timings)
            return
        evidence = assess(q, language, snap)
        if follow.context:
            # the earlier turn's concepts count at half weight: the new question's own words lead
            carried = assess(follow.context, language, snap)
            for group in carried.groups:
                for x in group:
                    evidence.idf.setdefault(x, 0.5 * carried.idf.get(x, 1.0))
                evidence.add_group(group)
        qtypes = question_types(q)
        passages = retrieval.passages
        retrieved = [{"id": p.id, "source": p.source, "score": round(p.score, 5)} for p in passages]

        refusal = self._refusal(evidence, passages, qtypes, language, snap)
        if refusal is not None:
            timings["answer"] = (time.perf_counter() - t) * 1000
            timings["total"] = (time.perf_counter() - t0) * 1000
            yield Answer(q, language, refusal, True, [], timings, retrieved=retrieved, degraded=retrieval.degraded)
            return

        verified = None
        mode_name = "extractive"
        contacts: list[dict[str, Any]] = []
        llm_dropped: list[str] = []
        if self.settings.llm_enabled:
            from assistant.answering.generate import generate_answer

            draft_parts: list[str] = []
            for delta in generate_answer(self, q, language, passages, history or []):
                draft_parts.append(delta)
                yield delta
            draft = "".join(draft_parts)
            if draft.strip():
                verified = verify(
                    draft, passages, language, embedder=self.kb.embedder, boilerplate={phrases["quoted"]}
                )
                mode_name = "generative"
            # an unreachable LLM or a reply with nothing verifiable: fall back to the extractive answer
            if verified is not None and not verified.text:
                llm_dropped = verified.dropped
                verified = None
        if verified is None:
            draft, contacts = self._extract(q, language, passages, evidence, qtypes, snap)
            verified = verify(draft, passages, language, boilerplate={phrases["quoted"], phrases["disagree"]})
            verified.dropped = llm_dropped + verified.dropped
            mode_name = "extractive"
        answer = self._finish(q, language, verified, passages, snap, timings, t, t0, mode_name, contacts, retrieved)
        answer.degraded = retrieval.degraded
        yield answer

    # -- internals ---------------------------------------------------------------------------------------

    def _plain(
        self, q: str, language: str, text: str, t0: float, timings: dict[str, float] | None = None
    ) -> Answer:
        timings = dict(timings or {"retrieve": 0.0})
        timings.setdefault("answer", 0.0)
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(q, language, text, True, [], timings)

    def _refusal(
        self, evidence: Evidence, passages: list[Passage], qtypes: set[str], language: str, snap: Snapshot
    ) -> str | None:
        phrases = PHRASES[language]
        if evidence.missing or not evidence.known or not passages:
            covers = phrases["covers"].format(titles="; ".join(sorted({r.title for r in snap.sources.values()})[:5]))
        if evidence.missing:
            missing = ", ".join(evidence.missing[:3])
            return f"{phrases['refuse']} {phrases['refuse_missing'].format(missing=missing)} {covers}"
        if not evidence.known or not passages:
            return f"{phrases['refuse']} {covers}"
        return None

    def _extract(
        self,
        q: str,
        language: str,
        passages: list[Passage],
        evidence: Evidence,
        qtypes: set[str],
        snap: Snapshot,
    ) -> tuple[str, list[dict[str, Any]]]:
        phrases = PHRASES[language]
        cited: list[Passage] = []

        def marker(p: Passage) -> str:
            if p not in cited:
                cited.append(p)
            return f"[{cited.index(p) + 1}]"

        lines: list[str] = []
        contacts: list[dict[str, Any]] = []
        if "contact" in qtypes or "who" in qtypes:
            contacts = self._contacts_for(passages, evidence, snap)
            cards, conflict = _cards(contacts)
            # a who-question is answered by its sentences, unless the sources disagree on who/which details
            if "contact" in qtypes or conflict:
                contacts = cards
                lines += [phrases["disagree"]] if conflict else []
                lines += [self._contact_card(contact, p, phrases, marker) for contact, p in cards]
        candidates = [c for c in _sentence_candidates(passages, evidence, qtypes) if c.coverage > 0]
        if not lines:
            limit = 3 if "list" in qtypes else 2
            best = candidates[0].score if candidates else 0.0
            chosen: list[Candidate] = []
            for c in candidates:
                if len(chosen) >= limit or c.score < 0.6 * best:
                    break
                if any(c.text in d.text or d.text in c.text for d in chosen):
                    continue
                chosen.append(c)
            body = [f"{c.text} {marker(c.passage)}" for c in chosen]
            if language != "fi" and body:
                lines.append(phrases["quoted"])
                lines += [f"> {b}" for b in body]
            else:
                lines.append(" ".join(body))
        draft = "\n\n".join(line for line in lines if line)
        # hand the verifier the passages in citation order, so [n] means cited[n-1]
        passages[:] = cited + [p for p in passages if p not in cited]
        return draft, [c for c, _ in contacts]

    def _contacts_for(
        self, passages: list[Passage], evidence: Evidence, snap: Snapshot
    ) -> list[tuple[dict[str, Any], Passage]]:
        """Contacts in the retrieved passages whose name, title or organisation the question (or the turn
        it follows up) asks about — not every card that happens to sit in a retrieved passage."""
        asked = set(evidence.known)
        found: list[tuple[dict[str, Any], Passage]] = []
        for p in passages:
            for contact in snap.contacts_by_chunk.get(p.id, []):
                about = " ".join(str(contact.get(k) or "") for k in ("name", "title", "organisation"))
                # the question names the person/title, or the contact's passage is about what it asks
                named = bool(set(finnish.terms(about)) & asked)
                if not named and evidence.coverage(set(p.terms) | set(finnish.terms(p.text))) < 0.5:
                    continue
                found.append((contact, p))
        return found

    @staticmethod
    def _contact_card(contact: dict[str, Any], p: Passage, phrases: dict[str, str], marker: Any) -> str:
        rows = [f"**{phrases['contact']}** {marker(p)}", f"- {phrases['name']}: {contact['name']}"]
        for key in ("title", "organisation", "phone", "email"):
            if contact.get(key):
                rows.append(f"- {phrases[key]}: {contact[key]}")
        return "\n".join(rows)

    def _finish(
        self,
        q: str,
        language: str,
        verified: VerifiedAnswer,
        passages: list[Passage],
        snap: Snapshot,
        timings: dict[str, float],
        t_answer: float,
        t0: float,
        mode: str,
        contacts: list[dict[str, Any]],
        retrieved: list[dict[str, Any]],
    ) -> Answer:
        phrases = PHRASES[language]
        citations = []
        for n, p in enumerate(verified.cited, start=1):
            record = snap.sources.get(p.source)
            citations.append(
                Citation(
                    n=n,
                    source=p.source,
                    title=p.title,
                    text=p.text,
                    start=p.start,
                    end=p.end,
                    page=p.page,
                    url=p.url or (record.url if record else None),
                    publisher=record.publisher if record else None,
                    date=record.date if record else None,
                    chunk_id=p.id,
                )
            )
        refused = not verified.text.strip() or not citations
        text = verified.text if not refused else phrases["refuse"]
        timings["answer"] = (time.perf_counter() - t_answer) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(
            question=q,
            language=language,
            answer=text,
            refused=refused,
            citations=citations if not refused else [],
            timings_ms=timings,
            mode=mode,
            quoted_from_finnish=(language != "fi" and not refused),
            contacts=[c for c in contacts if c.get("chunk_id") in {p.id for p in verified.cited}] if not refused else [],
            flagged=verified.dropped,
            retrieved=retrieved,
        )
