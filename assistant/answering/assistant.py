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
import re
import time
import unicodedata
from collections.abc import Generator, Iterator
from typing import Any

from assistant.answering import extractive, smalltalk
from assistant.answering.conversation import FollowUp, resolve_follow_up
from assistant.answering.did_you_mean import as_written, with_corrections
from assistant.answering.evidence import Evidence, assess, assess_turn, decide, refusal_text
from assistant.answering.retrieve import KnowledgeBase, Passage, Retrieval, Retriever, Snapshot
from assistant.answering.verify import VerifiedAnswer, verify
from assistant.config import Settings
from assistant.schema import Answer, Citation
from assistant.text import finnish
from assistant.text.language import detect_language

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
        "refuse_year": "Lähteet eivät kerro tätä vuodelta {years}.",
        "refuse_figure": "Lähteet eivät mainitse lukua {figures} tässä yhteydessä.",
        "covers": "Lähteet käsittelevät: {titles}.",
        "closest": "Lähimmät kohdat:",
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
        "refuse_year": "The sources do not say this for {years}.",
        "refuse_figure": "The sources do not give the figure {figures} in this connection.",
        "covers": "The sources cover: {titles}.",
        "closest": "Closest passages:",
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
        "refuse_year": "Källorna säger inte detta för år {years}.",
        "refuse_figure": "Källorna nämner inte talet {figures} i det här sammanhanget.",
        "covers": "Källorna handlar om: {titles}.",
        "closest": "Närmaste avsnitt:",
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

QTYPE_PATTERNS: dict[str, re.Pattern[str]] = {
    "contact": re.compile(
        r"puhelin|numero|numeron|sähköpost|yhteystie|yhteyshenkil|soittaa|soitan|phone|e-?mail|"
        # "call" as a verb ("Who should I call?", "call her"), not the noun of a funding call ("the call",
        # "call for proposals")
        r"contact|reach|(?:\b(?:i|we|you|to|can|could|should|shall|do|may|might|would|must)\s+call\b|^\W*call\b(?!\s+for\b)|"
        r"\bcall\s+(?:me|him|her|them|someone|somebody|anyone)\b)|telefon|kontakt|e-post|\bnå[rs]?\b|ottaa yhteyttä|yhteyden|"
        r"\byhteyttä|kääntyä|puoleen|keneltä kysy|in touch|get hold|who (?:do|should|can) i ask|\bring\w*\b|"
        r"vänd[ae]? mig|vem (?:kan|ska) jag fråga",
        re.I,
    ),
    "who": re.compile(r"\bkuka\b|\bketkä\b|\bkenen\b|\bkeneltä\b|\bkenelle\b|\bwho\b|\bwhom\b|\bvem\b", re.I),
    "when": re.compile(
        r"\bmilloin\b|\bmihin asti\b|\bmistä lähtien\b|\bminä vuonna\b|\bmonenako\b|\bvuonna\b|\bwhen\b|"
        r"\bwhat year\b|\bwhich year\b|\bsince when\b|\bnär\b|\bvilket år\b|"
        # a deadline is a date
        r"\bdeadline|\bmääräai\w*|\btakara\w*|\bsista (?:dag|ansökningsdag)\w*|\btidsfrist\w*",
        re.I,
    ),
    # "what is X" and every way of asking what X means (extractive.MEANING: those answers lead with the
    # sentence that defines X)
    "define": re.compile(
        r"^\s*(?:(?:mikä|mitä|mikä oli|what|vad)\s+(?:on|oli|is|was|är|var)\s+[\w -]{1,40}"
        r"|mikä\s+(?:se\s+)?[\w-]{1,30}\s+on"
        r"|mitä\s+[\w:.' -]{1,40}?\s+(?:tarkoittaa|tarkottaa|tarkoitti|tarkoitetaan|meinaa)"
        r"|mitä\s+(?:tarkoittaa|tarkottaa|tarkoitetaan)\s+[\w:.' -]{1,40}"
        r"|what\s+(?:does|do|did)\s+[\w' -]{1,40}\s+(?:mean|stand\s+for)|what\s+is\s+meant\s+by\s+[\w' -]{1,40}"
        r"|vad\s+(?:betyder|innebär|står)\s+[\w -]{1,40}?(?:\s+för)?|vad\s+menas\s+med\s+[\w -]{1,40}"
        r")\s*[?.!]?\s*$",
        re.I,
    ),
    "list": re.compile(
        r"\bmitkä\b|\bketkä\b|\bluettele\b|\bmitä\b.*\b(ovat|olivat)\b|\bwhich\b|\bwhat are\b|\bwhat were\b|"
        r"\blist\b|\bvilka\b|\bnämn\b",
        re.I,
    ),
}



# Finnish verbs of reaching a person, read by lemma in any inflection: "Miten tavoitan hänet?", "tavoitetaan",
# never the noun "tavoite" (goal) a spelling pattern would also catch
CONTACT_VERBS = frozenset({"tavoittaa"})


def question_types(question: str) -> set[str]:
    types = {name for name, pat in QTYPE_PATTERNS.items() if pat.search(question)}
    if "contact" not in types and CONTACT_VERBS & set(finnish.terms(question)):
        types.add("contact")
    return types or {"what"}


# Every pattern here is linear on untrusted input: disjoint classes, bounded repeats, no backreferences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_BLOCK_OPEN = re.compile(r"<(script|style)\b", re.I)
_BLOCK_CLOSE = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style")}
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")


def corrected_question(question: str, corrected: dict[str, str]) -> str:
    """The question with each typo or spoken word replaced by the corpus word it was read as ("elmo kakkosen"
    → "elmo II"): what retrieval should look for (the dense model does not know "kakkonen" is II)."""
    for word, fixed in corrected.items():
        question = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", fixed, question)
    return question


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


# ------------------------------------------------------------------------------------------------------
# the extractive answerer
# ------------------------------------------------------------------------------------------------------


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
        q, language, early = self._screen(question, t0)
        if early is not None:
            yield early
            return
        phrases = PHRASES[language]
        follow = resolve_follow_up(q, history or [])
        retrieval, timings = self._retrieve(q, language, follow, mode)
        snap = retrieval.snapshot

        t = time.perf_counter()
        if not snap.sources:
            yield self._plain(q, language, phrases["empty_kb"], t0, timings)
            return
        evidence = assess_turn(q, language, snap, follow.context)
        if evidence.corrected:  # look again for what the words were read as
            retrieval, timings = self._retrieve(corrected_question(q, evidence.corrected), language, follow, mode)
            evidence.corrected = as_written(evidence.corrected, (p.text for p in retrieval.passages))
        qtypes = question_types(q)
        passages = retrieval.passages
        chunks = retrieval.chunks or passages  # the refusal model was fitted on chunks, not joined passages
        retrieved = [{"id": p.id, "source": p.source, "score": round(p.score, 5)} for p in chunks]

        decision = decide(
            evidence, chunks, question=q, language=language, embedder=self.kb.embedder.id, joined=passages
        )
        if decision.refuse:
            text = refusal_text(evidence, decision, phrases)
            cited = self._citations(decision.closest, snap)
            timings["answer"] = (time.perf_counter() - t) * 1000
            timings["total"] = (time.perf_counter() - t0) * 1000
            refusal = Answer(q, language, text, True, cited, timings, retrieved=retrieved, degraded=retrieval.degraded)
            yield with_corrections(refusal, evidence.corrected)
            return

        verified, llm_dropped = None, []
        if self.settings.llm_enabled:
            verified, llm_dropped = yield from self._generative(q, language, passages, history or [])
        mode_name, contacts = "generative", []
        if verified is None:
            # who a "her phone number?" is about: the turn it follows up, read on its own
            asks_person = bool(follow.context and qtypes & {"contact", "who"})
            referent = assess(follow.context, detect_language(follow.context), snap) if asks_person else None
            draft, contacts = self._extract(q, language, passages, evidence, qtypes, snap, retrieval.query_vector, referent)
            verified = verify(draft, passages, language, boilerplate={phrases["quoted"], phrases["disagree"]})
            verified.dropped = llm_dropped + verified.dropped
            mode_name = "extractive"
        answer = self._finish(q, language, verified, passages, snap, timings, t, t0, mode_name, contacts, retrieved)
        answer.degraded = retrieval.degraded
        yield with_corrections(answer, evidence.corrected)  # after verification: the note is no claim to verify

    # -- the steps of a turn -----------------------------------------------------------------------------

    def _screen(self, question: str, t0: float) -> tuple[str, str, Answer | None]:
        """The cleaned question, its language, and the whole answer when the question needs no retrieval
        (too long, empty, small talk)."""
        raw = question if isinstance(question, str) else ""
        limit = self.settings.max_question_chars
        too_long = len(raw) > limit  # checked before any processing: cleaning costs time on huge input
        q = clean_question(raw[:limit] if too_long else raw)
        language = detect_language(q) if q else "fi"
        phrases = PHRASES[language]
        if too_long or len(q) > limit:
            text = phrases["too_long"].format(n=len(raw) if too_long else len(q), limit=limit)
            return q, language, self._plain(q[:200], language, text, t0)
        if not q:
            return q, language, self._plain(q, language, phrases["empty"], t0)
        # greetings, thanks, "what can you do?"
        return q, language, smalltalk.answer(q, language, t0)

    def _retrieve(self, q: str, language: str, follow: FollowUp, mode: str) -> tuple[Retrieval, dict[str, float]]:
        """The passages for the question (with a follow-up's context) and the retrieval timings in ms."""
        t = time.perf_counter()
        retrieval = self.retriever.retrieve(
            q if not follow.context else f"{q} {follow.context}",
            language=language,
            extra_terms=follow.terms,
            mode=mode,
        )
        t_retrieve = (time.perf_counter() - t) * 1000
        timings = {"retrieve": t_retrieve, **{f"retrieve_{k}": v for k, v in retrieval.timings_ms.items()}}
        return retrieval, timings

    def _generative(
        self, q: str, language: str, passages: list[Passage], history: list[Any]
    ) -> Generator[str, None, tuple[VerifiedAnswer | None, list[str]]]:
        """Streams the LLM's draft; returns it verified, or None and what the verifier dropped when there is
        nothing to keep (an unreachable LLM or a reply with nothing verifiable: the extractive answer then)."""
        from assistant.answering.generate import generate_answer

        draft_parts: list[str] = []
        for delta in generate_answer(self, q, language, passages, history):
            draft_parts.append(delta)
            yield delta
        draft = "".join(draft_parts)
        if not draft.strip():
            return None, []
        boilerplate = {PHRASES[language]["quoted"]}
        verified = verify(draft, passages, language, embedder=self.kb.embedder, boilerplate=boilerplate)
        if not verified.text:
            return None, verified.dropped
        return verified, []

    # -- internals ---------------------------------------------------------------------------------------

    def _plain(
        self, q: str, language: str, text: str, t0: float, timings: dict[str, float] | None = None
    ) -> Answer:
        timings = dict(timings or {"retrieve": 0.0})
        timings.setdefault("answer", 0.0)
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(q, language, text, True, [], timings)

    @staticmethod
    def _citations(passages: list[Passage], snap: Snapshot) -> list[Citation]:
        """Citations 1..n of ``passages``, with what the catalogue knows of each source."""
        citations = []
        for n, p in enumerate(passages, start=1):
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
        return citations

    def _extract(
        self,
        q: str,
        language: str,
        passages: list[Passage],
        evidence: Evidence,
        qtypes: set[str],
        snap: Snapshot,
        query_vector: Any = None,
        referent: Evidence | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        similarities = extractive.sentence_similarities(self.kb.sentence_vectors(snap), passages, query_vector)
        phrases = PHRASES[language]
        return extractive.compose(q, language, passages, evidence, qtypes, snap, phrases, similarities, referent)

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
        citations = self._citations(verified.cited, snap)
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
