"""Can the sources answer the question? One calibrated score, not "one noun is missing".

``assess`` reads the question against the corpus vocabulary: which content words the sources have (typos
and spoken forms read as the corpus word they stand for), which they never mention. ``decide`` turns that
and the retrieval into signals — both retrievers' scores, the share of the question's IDF mass the best
passage and sentence cover, the weight and kind of what is unmatched, whether the retrievers agree — and
combines them with the logistic model in ``refusal_weights`` (fitted by ``evals/fit_refusal.py``; see
docs/refusal.md). A refusal names what is missing and shows the closest passages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Set
from dataclasses import dataclass, field

from assistant.answering import refusal_weights
from assistant.answering.retrieve import Passage, Snapshot, year_span
from assistant.answering.vocabulary import correct
from assistant.text import background, finnish, glossary
from assistant.text.sentences import is_heading, split_sentences

# Question words and verbs that say how something is asked, not what: never "missing" from the sources.
GENERIC = set(
    """
    kertoa kerro tietää tieto haluta voida olla tehdä löytyä mainita sanoa kuulua liittyä koskea tarkoittaa
    selittää lyhyesti tarkemmin asia jokin joku mikä mitä mitkä kuka ketkä kenen keneltä kenelle milloin missä
    mistä mihin miten millainen millä minkä montako kuinka paljon moni monta vuosi aika nimi nimetä luetella
    luettele antaa saada vastata hoitaa toimia olemassa kutsua kysyä kysymys lähde sivu teksti artikkeli
    käsitellä nykyään tällä hetkellä yleensä eli sekä myös vielä jo nyt tehtävä rooli asema vastuu osuus
    ero erota
    """.split()
)  # "ero": a comparison ("Mitä eroa on …?") asks how sides differ; sources state each side, seldom "the difference"

GENERAL_FROM, GENERAL_TO = 0.2, 0.6  # background shares between which a missing word's weight falls to 0
GENERAL_HEAD = 0.5  # a word in half the background articles says nothing particular after a hyphen
_ROMAN = re.compile(r"[IVX]{2,5}")  # "ELMO III": a number, as specific as a digit (one letter is a word)
_NOUNISH = {"nimisana", "paikannimi", "sukunimi", "etunimi", "nimi", "lyhenne"}
_PROPER = {"paikannimi", "sukunimi", "etunimi", "nimi"}
_CONTACT_TERMS = {"yhteyshenkilö", "yhteystieto", "yhteystiedot", "kontaktihenkilö", "kontakti"}
_PHONE_TERMS = {"puhelin", "puhelinnumero", "numero", "puh", "gsm", "matkapuhelin", "telefon"}
_EMAIL_TERMS = {"sähköposti", "sähköpostiosoite", "posti", "osoite", "email", "e-mail", "e-post"}


@dataclass
class Evidence:
    known: list[str]  # content terms of the question that the corpus has
    missing: list[str]  # words of the question the corpus never mentions
    idf: dict[str, float]
    # one group per question word (or glossary concept): its known alternative terms (a lemma, its compound
    # parts, its Finnish equivalents). A sentence covers a group by its best-weighted term.
    groups: list[list[str]] = field(default_factory=list)
    missing_idf: dict[str, float] = field(default_factory=dict)  # weight of each missing word
    specific: list[str] = field(default_factory=list)  # missing names, numbers and words nobody knows
    # years the question names that no source names or spans: it asks of a time (an edition, a term) the
    # sources do not cover, however well its other words match ("strategian 2030 painopisteet")
    unknown_years: list[str] = field(default_factory=list)
    corrected: dict[str, str] = field(default_factory=dict)  # typo / spoken form → the corpus word read
    # how general each missing word is in Finnish at large (share of background articles using it): "eroa",
    # "tuloksena", "puoleen" phrase a question; "budjetti" names a thing the sources lack
    general: dict[str, float] = field(default_factory=dict)
    # missing words that name the kind of answer right after an interrogative ("Mikä taho maksoi", "Mitä eroa
    # on"): the answer is a thing of that kind, which the sources need not call by that word
    framing: list[str] = field(default_factory=list)
    # groups whose terms are equivalents, not parts: the Finnish translations of an English or Swedish word
    # ("start" → alkaa, käynnistää). A sentence answers as fully with either (``sentence_coverage``).
    equivalents: set[tuple[str, ...]] = field(default_factory=set)

    def add_group(self, terms: list[str]) -> None:
        group = [t for t in dict.fromkeys(terms) if t]
        if group and group not in self.groups:
            self.groups.append(group)
            self.known = list(dict.fromkeys(self.known + group))

    def coverage(self, terms: set[str]) -> float:
        return self._coverage(terms, frozenset())

    def sentence_coverage(self, terms: set[str]) -> float:
        """``coverage`` for choosing the answer sentence: a group of equivalents counts whole when the sentence
        has any of them (the source's word for "start" may be the commoner *alkaa*, not *käynnistää*). The
        refusal model keeps ``coverage``, on which it was fitted."""
        return self._coverage(terms, self.equivalents)

    def _coverage(self, terms: set[str], whole: Set[tuple[str, ...]]) -> float:
        """Share of the question's groups ``terms`` cover, each by its best covered term's weight (by its
        heaviest term's for a group in ``whole``)."""
        total = got = 0.0
        for group in self.groups:
            weights = [self.idf.get(t, 1.0) for t in group]
            total += max(weights)
            if tuple(group) in whole:
                got += max(weights) if any(t in terms for t in group) else 0.0
            else:
                got += max((w for t, w in zip(group, weights, strict=True) if t in terms), default=0.0)
        return got / total if total else 0.0

    def strict_coverage(self, terms: set[str], groups: list[list[str]] | None = None) -> float:
        """Like ``coverage``, but a question word counts only by its own most specific term: a generic part of
        a compound name ("hanke" of "Revontulisilta-hanke") does not make a passage about that name. Over
        ``groups`` (some of the question's) when given; 0 when there are none."""
        total = got = 0.0
        for group in self.groups if groups is None else groups:
            weight, top = max((self.idf.get(t, 1.0), t) for t in group)
            total += weight
            got += weight if top in terms else 0.0
        return got / total if total else 0.0

    @property
    def known_mass(self) -> float:
        return sum(max(self.idf.get(t, 1.0) for t in g) for g in self.groups)

    @property
    def total_mass(self) -> float:
        return self.known_mass + sum(self.missing_idf.values())

    def share(self, terms: set[str]) -> float:
        """Share of the whole question's IDF mass — missing words included — that ``terms`` cover."""
        total = self.total_mass
        return self.coverage(terms) * self.known_mass / total if total else 0.0


class _Reader:
    """Reads one question's words against one snapshot (the state ``assess`` shares between words)."""

    def __init__(self, language: str, snap: Snapshot, asks_person: bool = False):
        self.language = language
        self.asks_person = asks_person
        self.snap = snap
        self.lex = snap.lexical
        self.n = max(self.lex.size, 1)
        self.idf: dict[str, float] = {}

    def weight(self, term: str) -> float:
        df = self.lex.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def terms(self, word: str) -> tuple[list[str], bool]:
        """The word's index terms and whether it names a thing (only such words can be missing)."""
        if word.isdigit() or _ROMAN.fullmatch(word):  # a year or a number: the sources state it or they don't
            return [word.lower()], True
        if self.language == "fi":
            terms = [t for t in finnish.terms(word) if not finnish.is_stopword(t) and t not in GENERIC]
            if terms:  # an action noun is known through its verb ("toteutus" where the sources "toteuttavat")
                terms += [v for v in finnish.derived_verbs(word) if v not in terms]
            classes = finnish.word_classes(word)
            # adjectives and verbs only phrase the question ("kokonaiset" is also a noun to Voikko), and so does
            # the verb a yes/no question opens with ("Maksaako seminaari …?" is also the noun maksa to Voikko)
            if finnish.is_question_verb(word):
                return terms, False
            return terms, not classes or (bool(classes & _NOUNISH) and "laatusana" not in classes)
        # a foreign word counts through its Finnish glossary terms, or as a name the corpus has ...
        terms = glossary.finnish_terms(word) or [t for t in finnish.terms(word) if t in self.lex.df]
        if not terms and word[:1].isupper() and finnish.word_classes(word) & _PROPER:
            # ... and a Finnish place or person name ("Helsinki", "Meriläinen") is written the same in an
            # English or Swedish question: one the corpus never mentions is missing, as in a Finnish question
            # (a Swedish exonym such as "Uleåborg" is no Finnish name: it stays unread, never missing)
            terms = finnish.terms(word)
        return terms, True

    def known(self, word: str, terms: list[str]) -> bool:
        lex = self.lex
        parts = terms[1:]
        whole = terms[0] in lex.df or (
            self.language == "fi" and any(b in lex.df for b in finnish.base_forms(word))
        )
        # a compound the sources never use is known only if its head is a word of their own:
        # "maakuntajohtaja" is not "puheenjohtaja", "karjalanpiirakka" is not "Pohjois-Karjala"; and at least ⅔
        # of its parts, rounded up: a two-part one needs its modifier too ("metsäohjelma" is not "vesistöohjelma")
        heads = finnish.compound_heads(word) if self.language == "fi" else frozenset()
        # ... or a general word after a hyphen: "ELMO-asioissa" are the matters of ELMO
        general_head = "-" in word.strip("-") and all(background.share(h) >= GENERAL_HEAD for h in heads)
        return whole or self.known_reading(word) or (
            bool(parts)
            and sum(t in lex.df for t in parts) >= max(1, math.ceil(len(parts) * 2 / 3))
            and (not heads or bool(heads & self.snap.words) or general_head)
        )

    def known_reading(self, word: str) -> bool:
        """A compound is known when one of its readings has its head and ⅔ of its parts in the sources: a second
        reading's parts ("rahoitusmahdollisuuksinen") must not outvote the first's."""
        if self.language != "fi" or "-" in word:
            return False
        df = self.lex.df
        return any(
            parts[-1] in self.snap.words and sum(p in df for p in parts) >= max(1, math.ceil(len(parts) * 2 / 3))
            for parts in finnish.reading_parts(word)
        )

    def contact_field(self, word: str, terms: list[str]) -> str | None:
        """"skip" / "group" / "missing" for a word asking for a contact field, None for any other word. A word the
        corpus itself uses ("numero" in an article) is read as a plain word when no contact has the field."""
        fields = self.snap.contact_fields
        term_set = set(terms)
        used = any(t in self.lex.df for t in terms)
        if term_set & _CONTACT_TERMS and "name" in fields:
            return "skip"  # "yhteyshenkilö" asks for the contacts directory, which has entries
        # in a question asking for a person ("Kenelle voin lähettää sähköpostia …?") the channel is the means,
        # not what is asked: the person is the answer, with whatever contact the sources give
        absent = "skip" if self.asks_person else "missing"
        if term_set & _PHONE_TERMS and not term_set & _EMAIL_TERMS:
            return "group" if "phone" in fields else (None if used else absent)
        if term_set & _EMAIL_TERMS and not term_set & _PHONE_TERMS and "posti" in " ".join(terms) + word.lower():
            return "group" if "email" in fields else (None if used else absent)
        return None


def _is_specific(word: str, first: bool, language: str) -> bool:
    """A name, a number or a word Voikko does not know: the question is about something particular."""
    if word.isdigit() or _ROMAN.fullmatch(word):
        return True
    if language != "fi":
        return word[:1].isupper() and not first
    classes = finnish.word_classes(word)
    # a lower-case word Voikko also reads as a common word ("vanhasta": vanha, or the surname Vanhanen) is that word
    name = bool(classes & _PROPER) and (word[:1].isupper() or not classes - _PROPER)
    return not classes or name or (word[:1].isupper() and not first)


# interrogative pronouns that may determine a noun ("mikä taho", "millä tavalla", "minkä raportin")
_INTERROGATIVE_DETERMINERS = frozenset(
    """mikä mitkä mitä minkä missä mistä mihin millä mille miltä minä miksi minkälainen millainen millaista
    millaisen millaiset millaisia kumpi kumman kumpaa""".split()
)
_OLLA = frozenset({"on", "ovat", "oli", "olivat", "olisi"})
_DEMONSTRATIVES = frozenset({"se", "ne", "sen", "sitä", "niitä", "niiden", "tämä", "nämä"})


def frames_answer(words: list[str], i: int) -> bool:
    """Whether word ``i`` names the kind of answer: it follows an interrogative determiner ("Mikä taho
    maksoi?", "Mitä eroa on …?") or "kuka/mikä on se …" ("kuka on se taho, joka …")."""
    before = [w.lower() for w in words[max(0, i - 3) : i]]
    if before and before[-1] in _INTERROGATIVE_DETERMINERS:
        return True
    return (
        len(before) == 3 and before[-1] in _DEMONSTRATIVES and before[-2] in _OLLA
        and before[-3] in _INTERROGATIVE_DETERMINERS | {"kuka", "ketkä"}
    )  # fmt: skip


def _named_part(word: str, snap: Snapshot) -> tuple[list[str], str]:
    """A hyphen compound's known first part's terms and its head ("ELMO-juttua" → ["elmo"], "juttua"), or
    ([], word) when the word has no hyphen or the sources do not know its first part."""
    stripped = word.strip("-")
    if "-" not in stripped:
        return [], word
    first, head = stripped.rsplit("-", 1)
    known = [t for t in finnish.terms(first) if t in snap.lexical.df]
    return (known, head) if known and head else ([], word)


def particularity(general: float) -> float:
    """How much of its IDF weight a missing word keeps: all of it when general text rarely uses it ("budjetti"),
    none when most articles do ("puoli", "asia"): the IDF of a corpus of 13 chunks cannot tell a word that
    phrases a question from one that names a thing, general use can (docs/refusal.md)."""
    return 1.0 - min(1.0, max(0.0, (general - GENERAL_FROM) / (GENERAL_TO - GENERAL_FROM)))


def _generality(word: str, terms: list[str], language: str) -> float:
    """How general the missing word's lemma is in Finnish text (background.share); 0 for a number or a name.
    A hyphen compound counts by its head ("ELMO-asioissa" by "asia")."""
    if language != "fi" or word.isdigit() or _ROMAN.fullmatch(word) or (word[:1].isupper() and finnish.word_classes(word) & _PROPER):
        return 0.0
    if "-" in word.strip("-"):
        first, rest = word.strip("-").rsplit("-", 1)
        if finnish.is_acronym(first):
            return 0.0  # an acronym the sources lack is what is missing ("ELMO-asioissa" over other documents)
        head = finnish.terms(rest)
        return background.share(head[0]) if head else 0.0
    return background.share(terms[0]) if terms else 0.0


def assess(question: str, language: str, snap: Snapshot) -> Evidence:
    """Which of the question's content words the knowledge base knows at all.

    A noun (or a name, or a word Voikko does not know) that no chunk contains, also after reading it as
    the nearest corpus word (a typo, a spoken form), is *missing*. Verbs and adjectives only phrase the
    question and never count as missing. Words that ask for a phone number or an e-mail address are known
    exactly when the contacts directory has such a field.
    """
    reader = _Reader(language, snap, "who" in asked_types(question))
    groups: list[list[str]] = []
    evidence = Evidence([], [], reader.idf)
    written = [w for w, _, _ in finnish.words(question)]
    for i, word in enumerate(written):
        word = finnish.written_form(word) or (None if word.isupper() else finnish.unclipped(word)) or word
        if word.lower() in GENERIC:
            continue
        terms, nounish = reader.terms(word)
        if not terms:
            continue
        for t in terms:
            reader.idf[t] = reader.weight(t)
        field_kind = reader.contact_field(word, terms)
        if field_kind == "skip":
            continue
        if language == "fi" and field_kind is None and set(terms) & glossary.FOCUS_LEMMAS:
            focus = [t for t in dict.fromkeys([terms[0], *sorted(glossary.FOCUS_LEMMAS)]) if t in snap.lexical.df]
            if focus:  # a focus word: the sources' own focus words answer it as fully
                groups.append(focus)
                evidence.equivalents.add(tuple(focus))
                continue
        if field_kind == "group" or (field_kind is None and reader.known(word, terms)):
            groups.append([t for t in terms if t in snap.lexical.df] or ["puh"])
            if language != "fi" and field_kind is None and glossary.finnish_terms(word):
                evidence.equivalents.add(tuple(dict.fromkeys(t for t in groups[-1] if t)))
            continue
        numeral = [t for t in finnish.numeral_terms(word) if t in snap.lexical.df] if language == "fi" else []
        if numeral:  # "ELMO kakkonen" is ELMO II
            evidence.corrected[word] = numeral[0].upper()
            for t in numeral:
                reader.idf[t] = reader.weight(t)
            groups.append(numeral)
            continue
        fixed = correct(word, snap, inside=i > 0) if field_kind is None and language == "fi" else None
        fixed_terms = reader.terms(fixed)[0] if fixed else []
        if fixed and fixed_terms and reader.known(fixed, fixed_terms):
            evidence.corrected[word] = fixed
            for t in fixed_terms:
                reader.idf[t] = reader.weight(t)
            groups.append([t for t in fixed_terms if t in snap.lexical.df])
        elif nounish or field_kind == "missing":
            named, head = _named_part(word, snap) if language == "fi" else ([], word)
            if named:  # "ELMO-juttua": ELMO is the sources'; only the head is missing, weighed as a word of its own
                groups.append(named)
                word, terms, i = head, finnish.terms(head) or [head.lower()], 1
                for t in terms:
                    reader.idf[t] = reader.weight(t)
            evidence.missing.append(word)
            if (span := year_span(word)) and span[0] == span[1] and not snap.names_year(span[0]):
                evidence.unknown_years.append(word)
            evidence.general[word] = _generality(word, terms, language)
            evidence.missing_idf[word] = reader.weight(terms[0]) * particularity(evidence.general[word])
            if language == "fi" and not _is_specific(word, i == 0, language):
                # a word questions use where their answer does not ("tulos", "tehtävä") phrases the question
                evidence.missing_idf[word] *= 1.0 - background.framing(terms[0])
            if _is_specific(word, i == 0, language):
                evidence.specific.append(word)
            elif language == "fi" and frames_answer(written, i):
                evidence.framing.append(word)
    if language != "fi":  # multi-word glossary keys ("took part", "project manager") seen only whole
        for key_terms in glossary.concepts(question):
            have = [t for t in key_terms if t in snap.lexical.df]
            for t in have:
                reader.idf.setdefault(t, reader.weight(t))
            groups.append(have)
            evidence.equivalents.add(tuple(dict.fromkeys(t for t in have if t)))
    evidence.missing = list(dict.fromkeys(evidence.missing))
    evidence.specific = list(dict.fromkeys(evidence.specific))
    for group in groups:
        evidence.add_group(group)
    return evidence


# ------------------------------------------------------------------------------------------------------
# the decision
# ------------------------------------------------------------------------------------------------------

FEATURES = refusal_weights.FEATURES
_CANDIDATES = ("type_missing", "framing_share", "number_apart", "pair_apart", "specific_apart", "foreign", "foreign_dense", "frame_share", "kind_apart", "name_apart", "type_missing_wide")
SIGNALS = (*FEATURES, *(f for f in _CANDIDATES if f not in FEATURES))  # for fitting
SENTENCE_PASSAGES = 3  # sentences are read from the top passages only: the answerer quotes from those


@dataclass(frozen=True)
class Sentence:
    share: float  # of the question's IDF mass (Evidence.share)
    text: str
    passage: int  # index of its passage in the retrieval order
    heading: bool = False  # a title or heading line: it names a topic and states nothing


def rank_sentences(evidence: Evidence, passages: list[Passage]) -> list[Sentence]:
    """The sentences of the top passages, best covering first (the first of equals first). Computed once per
    question: the signals, the answer-type check and the refusal text all read this list."""
    scored = []
    for n, p in enumerate(passages[:SENTENCE_PASSAGES]):
        for s, e in split_sentences(p.text):
            text = " ".join(p.text[s:e].split())
            scored.append(Sentence(evidence.share(set(finnish.terms(text))), text, n, is_heading(text, p.title)))
    scored.sort(key=lambda x: -x.share)  # stable: ties keep the text order
    return scored


def best_sentence(ranked: list[Sentence], passage: int) -> str:
    """The passage's sentence that covers most of the question, a statement before a heading ("" when it has
    none ranked)."""
    own = [r for r in ranked if r.passage == passage]
    return next((r.text for r in own if not r.heading), own[0].text if own else "")


# -- the answer-type check: does the best sentence hold the kind of thing the question asks for? ----------
# Near misses use only words the sources contain ("Montako työpajaa OECD järjesti?" over "useisiin OECD:n
# järjestämiin työpajoihin"): coverage cannot tell them apart, the kind of answer the sentence holds can.
# No "where": "missä" asks for a section, a part or a channel as often as for a place (squad2fi-dev).
ASKS: dict[str, re.Pattern[str]] = {
    "number": re.compile(
        r"\bmontako\b|\bmonta\b|\bkuinka (?:monta|paljon|suur|pitk|kauan|van)\w*|\bpaljonko\b|\bmonellako\b|"
        r"\bhow (?:many|much|large|big|long|old)\b|\bhur (?:många|mycket|stor|lång|gammal)\b",
        re.I,
    ),
    "when": re.compile(
        r"\bmilloin\b|\bminä vuonna\b|\bminä (?:kuukautena|päivänä|ajankohtana|vuosikymmenenä)\b|"
        r"\b(?:which|what) month\b|\bvilken månad\b|"
        r"\bmihin (?:aikaan|vuoteen|asti)\b|\bmistä lähtien\b|\bmonen(?:ne)?ko\b|"
        # "when" and "när" ask only opening the question or after a preposition: mid-question they join a
        # clause ("Why did one stay when the others had left?")
        r"^\W*(?:(?:and|but|so|och|men)\s+)?(?:when|när)\b|\b(?:from|since|until|till|från|sedan)\s+(?:when|när)\b|"
        r"\bwhat (?:year|date)\b|\bwhich year\b|\bwhat date\b|\bvilket (?:år|datum)\b",
        re.I,
    ),
    "who": re.compile(r"\bkuka\b|\bketkä\b|\bkenen\b|\bkeneltä\b|\bkenelle\b|\bkeneen\b|\bwho\b|\bwhom\b|\bvem\b", re.I),
    "link": re.compile(
        r"verkko-?osoite|nettisivu|verkkosivu|kotisivu|\bwww\b|\burl\b|web ?address|website|webbplats|hemsida|webbadress",
        re.I,
    ),
    # not "numero" alone (a chart position or an issue is a number too), nor "soittaa" alone (to play music)
    "phone": re.compile(r"puhelin|\bphone\b|telefon|\bsoitan\b|\bkenelle (?:voi \w+ |pitää |kannattaa )?soittaa\b|\bring\b", re.I),
    "email": re.compile(r"sähköpost|\bs-?posti|\be-?mail\b|\be-?post(?:en)?\b|\bmejl", re.I),
}
# A question asking when something ends: its end, not its start, answers ("Milloin vetyhanke loppuu?" over
# "käynnistyi maaliskuussa 2025"). For sentence choice only (extractive): it is no kind of ``ASKS``, as the
# answer-type check the refusal model was fitted with reads any time as an answer to "when", and reading only
# ends there refused answerable questions whose end date shares no word with them ("Milloin vetyhanke päättyy?").
ASKS_END = re.compile(
    r"\bpäätty\w*|\bloppu(?:u|i|vat|ivat|nut)\b|\bmihin (?:vuoteen |päivään )?(?:asti|saakka)\b|"
    r"\buntil when\b|\bwhen\b[^?]{0,80}\b(?:end|ends|ended|finish\w*|expire\w*|close[sd]?)\b|"
    r"\btill när\b|\b(?:slutar|slutade|upphör|upphörde)\b",
    re.I,
)
_MONTH = r"(?:tammi|helmi|maalis|huhti|touko|kesä|heinä|elo|syys|loka|marras|joulu)kuu"
HOLDS: dict[str, re.Pattern[str]] = {
    # a count or an amount: a digit that is not only a year (a number written in words: holds_answer)
    "number": re.compile(r"(?<!\d)(?!(?:19|20)\d\d(?!\d))\d"),
    "when": re.compile(
        rf"\b(?:1[0-9]|20)\d\d\b|\d-luvu|(?<=vuonna )\d{{1,4}}\b|\b\d{{1,4}}(?=\s?(?:eKr|jKr|eaa|jaa)\b)|\b\d{{1,2}}\.\s?\d{{1,2}}\.|{_MONTH}|\b(?:kevä|kesä|syksy|talve)\w*|"
        r"vuosisada|\b(?:maanantai|tiistai|keskiviikko|torstai|perjantai|lauantai|sunnuntai)\w*",
        re.I,
    ),
    # a name, a title or an organisation: a capitalised word after the first one, or a title word
    "who": re.compile(
        r"(?<=\S )[A-ZÅÄÖ][\w-]+|päällikkö|johtaja|asiantuntija|koordinaattori|puheenjohtaja|liitto|yliopisto|"
        r"ministeriö|komissio|keskus|yhdistys|säätiö|yhtiö|\bOy\b|ryhmä",
    ),
    # an end: the second time of a range ("1.3.2025–28.2.2027", "2019-2023"); else a time beside an end word
    # (holds_answer)
    "end": re.compile(
        r"(?:\d{1,2}\.\s?\d{1,2}\.\s?)?(?:1\d{3}|20\d{2})?\s?[-–]\s?(?:\d{1,2}\.\s?\d{1,2}\.\s?)?(?:1\d{3}|20\d{2})\b"
    ),
    "link": re.compile(r"https?://|www\.|\.(?:fi|com|eu|org|net|se)\b", re.I),
    "phone": re.compile(r"(?:\+\d{3}|\b0\d{1,2})[\s-]?\d{2,4}[\s-]?\d{2,4}"),
    "email": re.compile(r"[\w.+-]+(?:@|\s?\(at\)\s?)[\w-]+\.\w"),
}
_DAY_MONTH = re.compile(r"\b\d{1,2}\.\s?\d{1,2}\.(?:\s?\d{4})?")
_END_WORD = re.compile(
    r"\basti\b|\bsaakka\b|\bmennessä\b|\bpäätty\w*|\bloppu\w*|\buntil\b|\bend(?:s|ed)?\b|"
    r"\btill\b|\bslut\w*|\bupphör\w*",
    re.I,
)
# a phone number as Finnish sources write it ("040 6854 053", "+358 50 441 9087"): no count or amount
_PHONE_NUMBER = re.compile(r"(?<![\d,.])(?:\+358\s?|0)\d{1,3}(?:[\s-]?\d{2,4}){2,3}(?!\d|,\d)")
TYPE_SENTENCES = 3  # the near-best sentences that may hold the answer
# A count is answered only by a number: a Finnish "how many" question whose near-best sentences hold none is
# refused whatever the score ("Montako työpajaa OECD järjesti?" over "useisiin OECD:n järjestämiin
# työpajoihin"). Not amounts, durations or times: "kuinka kauan", "milloin" have answers in words too, and
# refusing those cost answerable questions (docs/refusal.md).
COUNT = re.compile(r"\bmontako\b|\bkuinka monta\b|\bmonellako\b", re.I)
# A place asked for by its kind: "Missä kaupungissa …?", "Mihin maihin …?" is answered only by a place's name,
# refused whatever the score when no near-best sentence names one (not "missä" alone: it asks for a section, a
# part or a channel as often as for a place)
PLACE = re.compile(
    r"\b(?:missä|mihin|mistä|mille|millä|miltä|minkä|mikä|mitkä|mitä)\s+(?:\w+\s+)?"
    r"(?:kaupun\w*|maa(?:ssa|han|sta|lle|n|ta|t|ihin|issa|ista|ita)\b|valtio\w*|kunna\w*|kuntaan\b|"
    r"paikkakun\w*|osavaltio\w*|maanosa\w*)",
    re.I,
)


def place_missing(question: str, ranked: list[Sentence]) -> bool:
    """A question asking for a place by its kind ("Missä kaupungissa OECD:n työpajat pidettiin?") whose
    near-best sentences name no place it does not itself name."""
    if not PLACE.search(question):
        return False
    sentences = near_best(ranked)
    asked = question_words(question)
    return bool(sentences) and not any(holds_place(s, asked) for s in sentences)


def near_best(ranked: list[Sentence], n: int = TYPE_SENTENCES, near: float = 0.8) -> list[str]:
    """The statements that may hold the answer: the first ``n`` with ≥ ``near`` × the best share (none when no
    sentence shares a word with the question: "near-best" would be the first in text order). A title covers
    the question's words and holds no answer."""
    statements = [r for r in ranked if not r.heading]
    if not statements or statements[0].share <= 0.0:
        return []
    best = statements[0].share
    return [r.text for r in statements[:n] if r.share >= near * best]


def holds_place(sentence: str, asked: set[str]) -> bool:
    """The sentence names a place the question does not: a word Voikko knows as a place name, or a capitalised
    one it does not know (a foreign place)."""
    for w, _, _ in finnish.words(sentence):
        if not w[:1].isupper() or w.lower() in asked or set(finnish.terms(w)) & asked or finnish.is_acronym(w):
            continue
        classes = finnish.word_classes(w)
        if "paikannimi" in classes or not classes:
            return True
    return False


def asked_types(question: str) -> set[str]:
    """The kinds of answer the question asks for (a number, a date, a person, a web address)."""
    return {kind for kind, pat in ASKS.items() if pat.search(question)}


def question_words(question: str) -> set[str]:
    """The question's words as written (lower case) and their lemmas."""
    words = {w.lower() for w, _, _ in finnish.words(question)}
    return words | set(finnish.terms(question))


def holds_answer(kind: str, sentence: str, asked: set[str]) -> bool:
    """The sentence holds a thing of this kind that the question does not itself name: a year the question
    already gives does not answer "when", the organisation it asks about does not answer "who"."""
    if kind == "number":  # the day and month of a date are not a count, nor is a phone number
        sentence = _PHONE_NUMBER.sub(" ", _DAY_MONTH.sub(" ", sentence))
        # a count written in words, inflected as the sentence needs (kolmessa, kahdeksastatoista, sadoille)
        words = (w for w, _, _ in finnish.words(sentence) if finnish.cardinal_numeral(w))
        if any(w.lower() not in asked and not set(finnish.terms(w)) & asked for w in words):
            return True
    if kind == "who" and _opens_with_a_name(sentence, asked):
        return True
    if kind == "end" and _END_WORD.search(sentence) and holds_answer("when", sentence, asked):
        return True
    for m in HOLDS[kind].finditer(sentence):
        start = sentence.rfind(" ", 0, m.start()) + 1
        end = sentence.find(" ", m.end())
        word = sentence[start : end if end >= 0 else len(sentence)].strip(".,;:!?()\"”'")
        if word and word.lower() not in asked and not set(finnish.terms(word)) & asked:
            return True
    return False


def _opens_with_a_name(sentence: str, asked: set[str]) -> bool:
    """The sentence's first word is a name the question does not give: "Konfutseismi kannatti …", "Burke
    kirjoitti …". HOLDS' capitals skip the first word (every sentence opens with one), so a who-question
    answered by its subject looked unanswered. A name as `_is_specific` reads a sentence's first word: Voikko's
    proper-noun classes, or a word Voikko does not know (a foreign name in a Finnish text)."""
    words = finnish.words(sentence)
    if not words:
        return False
    first = words[0][0]
    if not first[:1].isupper() or first.lower() in asked or set(finnish.terms(first)) & asked:
        return False
    return _is_specific(first, True, "fi")


def type_missing(question: str, ranked: list[Sentence], n: int = TYPE_SENTENCES, near: float = 0.8) -> float:
    """1.0 when the question asks for a kind of answer that none of the near-best sentences (the first ``n``
    with ≥ ``near`` × the best share) holds (as something the question does not already name)."""
    kinds = asked_types(question)
    sentences = near_best(ranked, n, near) if kinds else []
    if not sentences:
        return 0.0
    asked = question_words(question)
    return 0.0 if any(holds_answer(k, s, asked) for k in kinds for s in sentences) else 1.0


def specific_apart(question: str, evidence: Evidence, ranked: list[Sentence], language: str) -> float:
    """Share of the question's names and numbers that the corpus has but the best sentence lacks: the
    sources speak of the thing, but not where they state what is asked ("… vuonna 2022" over a sentence
    about 2019–2020)."""
    if not ranked:
        return 0.0
    best_terms = set(finnish.terms(ranked[0].text)) | {w.lower() for w, _, _ in finnish.words(ranked[0].text)}
    named = _specific_words(question, evidence, language)
    if not named:
        return 0.0
    apart = [w for w in named if w.lower() not in best_terms and not set(finnish.terms(w)) & best_terms]
    return len(apart) / len(named)


def _specific_words(question: str, evidence: Evidence, language: str) -> list[str]:
    """The question's names and numbers that the corpus has."""
    return [
        w for i, (w, _, _) in enumerate(finnish.words(question))
        if w not in evidence.missing and _is_specific(w, i == 0, language) and len(w) > 1
    ]  # fmt: skip


def _named(question: str, evidence: Evidence, language: str) -> list[str]:
    """The question's names and numbers that the corpus has (question words and stop words aside)."""
    return [
        w for i, (w, _, _) in enumerate(finnish.words(question))
        if w not in evidence.missing and len(w) > 1 and w.lower() not in GENERIC
        and not finnish.is_stopword(w.lower()) and _is_specific(w, i == 0, language)
    ]  # fmt: skip


def name_apart(question: str, evidence: Evidence, passages: list[Passage], language: str) -> float:
    """Share of the question's names that the passage covering most of the question lacks: every word is in
    the sources, but the priorities are IP-Suomi's, not the region's the question names."""
    if language != "fi" or not passages:
        return 0.0
    named = _named(question, evidence, language)
    if not named:
        return 0.0
    best = max(passages, key=lambda p: evidence.share(set(p.terms) or set(finnish.terms(p.text))))
    words = set(best.terms or finnish.terms(best.text)) | {w.lower() for w, _, _ in finnish.words(best.text)}
    apart = [w for w in named if w.lower() not in words and not set(finnish.terms(w)) & words]
    return len(apart) / len(named)


def number_apart(question: str, evidence: Evidence, ranked: list[Sentence], n: int = TYPE_SENTENCES, near: float = 0.8) -> float:
    """1.0 when a number the question names (a year, "III") is in the sources but in none of the near-best
    sentences: the sources tell of the thing, but for another year ("puheenjohtajamaakunta … 2027" over the
    sentence naming 2024's)."""
    numbers = {
        w.lower() for w, _, _ in finnish.words(question)
        if (w.isdigit() and len(w) > 1 or _ROMAN.fullmatch(w)) and w not in evidence.missing
    }  # fmt: skip
    if not numbers or not ranked:
        return 0.0
    best = ranked[0].share
    seen = {w.lower() for r in ranked[:n] if r.share >= near * best for w, _, _ in finnish.words(r.text)}
    seen |= {p for w in seen if "-" in w or "–" in w for p in re.split(r"[-–]", w)}
    return 0.0 if numbers <= seen else 1.0


_YEAR_RANGE = re.compile(r"(?<!\d)(1\d{3}|20\d{2})\s*[-–—]\s*(1\d{3}|20\d{2})(?!\d)")
_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)")


# a figure as written in a question or a passage: digits, groups of three split by a space ("21 407"), a decimal
# part; not inside a dotted reference ("I.ii.229") or a date ("14.3."), not an ordinal ("10. vuosisadalla") or a
# decade ("800-luvulla", "the 1760s", "1760-talet")
# (a full stop ends a figure only at a sentence's end: "10. vuosisadalla" is an ordinal, "14.3." a date)
_NOT_A_FIGURE = r"(?!\d|\.\d|\.\s*[a-zåäö]|-luvu|-tal|'?s\b)"


def _figure_pattern(before: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?<![{before}.,:/])\d{{1,3}}(?:[ \u00a0]\d{{3}})+(?:[,.]\d+)?{_NOT_A_FIGURE}"
        rf"|(?<![{before}.,:/])\d+(?:[,.]\d+)?{_NOT_A_FIGURE}"
    )


_FIGURE = _figure_pattern(r"\w")
# in a passage a figure may be glued to the word before it by machine translation ("ja8,491,079")
_PASSAGE_FIGURE = _figure_pattern(r"\d")


def _figure(written: str) -> str:
    """A figure as compared: digit groups joined, a decimal point read as the Finnish comma ("2.5" is 2,5)."""
    return re.sub(r"[ \u00a0]", "", written).replace(".", ",")


def _states_figure(text: str, figure: str) -> bool:
    """Whether the text names the figure: a year alone, in a date ("31.3.2027") or inside a range ("2022 –
    2027"); any other figure as itself ("21 704" does not state 21 407)."""
    if (span := year_span(figure)) and "," not in figure:
        year = span[0]
        if any(int(a) <= year <= int(b) for a, b in _YEAR_RANGE.findall(text)):
            return True
        return any(int(y) == year for y in _YEAR.findall(text))
    return any(_figure(m.group()) == figure for m in _PASSAGE_FIGURE.finditer(text))


def figures_apart(question: str, evidence: Evidence, passages: list[Passage], language: str = "fi") -> list[str]:
    """The figures the question names — years, counts, amounts of two digits or more — that no passage states
    beside another of its words (in the sentence naming the figure or the one before or after it in its
    paragraph: "Jo vuonna 1910 alkoi muodostua ryhmä … He tapasivat … Fauconnierin ateljeessa"): the sources
    tell of the thing, but not with that figure. SQuAD 2.0's changed numbers ("24. heinäkuuta 1943" over
    "… 1934", "21 407 perhettä" over "21 704 perhettä", "229 matkustajaa" over "150 matkustajaa") and our near
    misses ("Mikä maakunta toimii puheenjohtajamaakuntana vuonna 2027?" over 2024's chair). An English or
    Swedish question shares few words with the Finnish sources: for it the figure only has to be in a passage.
    Years no source names at all are ``Evidence.unknown_years``."""
    written = {
        f: m.group() for m in _FIGURE.finditer(_PHONE_NUMBER.sub(" ", question))  # a phone number is looked up whole
        if len(f := _figure(m.group())) > 1 and f not in evidence.unknown_years
    }  # fmt: skip
    figures = list(written)
    if not figures or not passages:
        return []
    others = [set(g) for g in evidence.groups if not any(t[:1].isdigit() for t in g)]
    if language == "fi" and not others:  # "Mitä tapahtui vuonna 2019?": nothing to state it beside
        return []

    def cover(terms: set[str]) -> float:
        return sum(max(evidence.idf.get(t, 1.0) for t in g) for g in others if g & terms)

    said = dict.fromkeys(figures, -1.0)  # the most of the other words said beside each figure; -1: never named
    for p in passages:
        spans = split_sentences(p.text)
        for i, (s, e) in enumerate(spans):
            named = [f for f in said if _states_figure(p.text[s:e], f)]
            if not named:
                continue
            lo = i - 1 if i > 0 and "\n\n" not in p.text[spans[i - 1][1] : s] else i
            hi = i + 1 if i + 1 < len(spans) and "\n\n" not in p.text[e : spans[i + 1][0]] else i
            value = cover(set(finnish.terms(p.text[spans[lo][0] : spans[hi][1]])))
            for f in named:
                said[f] = max(said[f], value)
    floor = -1.0 if language != "fi" else 0.0
    return [written[f] for f, value in said.items() if value <= floor]


def pair_apart(question: str, evidence: Evidence, ranked: list[Sentence], language: str) -> float:
    """Share of the (named thing, other question word) pairs that no sentence of the top passages states
    together: the sources name the thing and use the word, but never say the one of the other ("OECD" and
    "raportti" in sentences of their own)."""
    named = {t for w in _named(question, evidence, language) for t in finnish.terms(w)[:1]}
    names = [g for g in evidence.groups if g[0] in named]
    others = [g for g in evidence.groups if g[0] not in named]
    if not names or not others or not ranked:
        return 0.0
    sentences = [set(finnish.terms(r.text)) for r in ranked]
    pairs = [(a, b) for a in names for b in others]
    apart = sum(not any(set(a) & t and set(b) & t for t in sentences) for a, b in pairs)
    return apart / len(pairs)


def kind_apart(question: str, evidence: Evidence, ranked: list[Sentence], passages: list[Passage], language: str) -> float:
    """1.0 when a Finnish question asks for a kind of answer about named things (names, numbers the corpus
    has) and no top passage both names them all and holds an answer of that kind: the sources give a phone
    number, but not in the passage about the organisation asked for."""
    kinds = asked_types(question)
    if language != "fi" or not kinds or not ranked:
        return 0.0
    named = _specific_words(question, evidence, language)
    if not named:
        return 0.0
    asked = question_words(question)
    for n, p in enumerate(passages[:SENTENCE_PASSAGES]):
        words = set(p.terms or finnish.terms(p.text)) | {w.lower() for w, _, _ in finnish.words(p.text)}
        if not all(w.lower() in words or set(finnish.terms(w)) & words for w in named):
            continue
        if any(r.passage == n and holds_answer(k, r.text, asked) for r in ranked for k in kinds):
            return 0.0
    return 1.0


def assess_turn(question: str, language: str, snap: Snapshot, context: str | None = None) -> Evidence:
    """``assess`` of a question, with the concepts of the turn it follows up (``context``) at half weight: the
    new question's own words lead."""
    evidence = assess(question, language, snap)
    if context:
        carried = assess(context, language, snap)
        for group in carried.groups:
            for x in group:
                evidence.idf.setdefault(x, 0.5 * carried.idf.get(x, 1.0))
            evidence.add_group(group)
        evidence.equivalents |= carried.equivalents
    return evidence


def signals(
    evidence: Evidence,
    passages: list[Passage],
    question: str = "",
    language: str = "fi",
    embedder: str = refusal_weights.EMBEDDER,
    ranked: list[Sentence] | None = None,
    candidates: bool = False,
) -> dict[str, float | None]:
    """The refusal model's inputs; None where a retriever did not run (that signal takes its mean).

    For an English or Swedish question the lexical cover of its words says little (the corpus is Finnish and
    the glossary small): the glossary's cover may raise those signals above their mean, never lower them —
    the multilingual dense similarity carries the decision. ``ranked``: ``rank_sentences`` of the passages,
    when the caller has it already; ``candidates``: also the signals tried but not fitted (for fitting)."""
    if ranked is None:
        ranked = rank_sentences(evidence, passages)
    dense = [p.dense for p in passages if p.dense is not None]
    lexical = [p.lexical for p in passages if p.lexical is not None]
    by_dense = max(passages, key=lambda p: p.dense if p.dense is not None else -1.0, default=None)
    by_lexical = max(passages, key=lambda p: p.lexical if p.lexical is not None else -1.0, default=None)
    total = evidence.total_mass or 1.0
    specific = sum(evidence.missing_idf.get(w, 0.0) for w in evidence.specific)
    foreign = language != "fi"
    # cosine similarities live on a scale of their own per model (e5 ≈ 0.83, MiniLM ≈ 0.63): the fitted dense
    # weight holds only for the model it was fitted with
    comparable = embedder == refusal_weights.EMBEDDER
    values: dict[str, float | None] = {
        "dense_top": max(dense) if dense and comparable else None,
        "bm25_top": math.log1p(max(lexical)) if lexical else None,
        "passage_cover": max((evidence.share(set(p.terms) or set(finnish.terms(p.text))) for p in passages), default=0.0),
        "sentence_cover": max(ranked[0].share, 0.0) if ranked else 0.0,
        "missing_share": sum(evidence.missing_idf.values()) / total,
        "frame_share": sum(w * evidence.general.get(m, 0.0) for m, w in evidence.missing_idf.items()) / total,
        "framing_share": sum(evidence.missing_idf.get(w, 0.0) for w in evidence.framing) / total,
        "specific_share": specific / total,
        "agree": float(bool(dense) and bool(lexical) and by_dense is by_lexical),
        "type_missing": type_missing(question, ranked),
        "foreign": float(foreign),
        "foreign_dense": None,
    }
    if candidates or {"type_missing_wide", "specific_apart", "kind_apart", "name_apart", "number_apart", "pair_apart"} & set(FEATURES):
        # signals tried when fitting (docs/refusal.md); computed only when asked for or fitted
        values |= {
            "type_missing_wide": type_missing(question, ranked, 5, 0.6),
            "number_apart": number_apart(question, evidence, ranked),
            "pair_apart": pair_apart(question, evidence, ranked, language),
            "specific_apart": specific_apart(question, evidence, ranked, language),
            "kind_apart": kind_apart(question, evidence, ranked, passages, language),
            "name_apart": name_apart(question, evidence, passages, language),
        }
    if foreign:
        means = dict(zip(FEATURES, refusal_weights.MEAN, strict=True))
        for name in ("passage_cover", "sentence_cover"):
            if name in means:
                values[name] = max(float(values[name] or 0.0), means[name])
        values["foreign_dense"] = values["dense_top"]
    return values


def score(values: dict[str, float | None]) -> float:
    """P(the sources answer the question) under the fitted logistic model."""
    z = refusal_weights.INTERCEPT
    for name, mean, scale, coef in zip(
        FEATURES, refusal_weights.MEAN, refusal_weights.SCALE, refusal_weights.COEF, strict=True
    ):
        value = values.get(name)
        z += coef * (((mean if value is None else value) - mean) / scale)
    return 1.0 / (1.0 + math.exp(-z))


@dataclass
class Decision:
    refuse: bool
    score: float  # P(answerable); refuse below refusal_weights.THRESHOLD
    signals: dict[str, float | None]
    closest: list[Passage]  # what to show when refusing: the nearest passages, best first
    # refused whatever the score: no passage, no word of the question in the corpus, a year the sources do not
    # cover, a figure they state only apart from the question, a count or a place no near-best sentence holds
    hard: bool = False
    sentences: list[Sentence] = field(default_factory=list)  # rank_sentences of the passages
    figures_apart: list[str] = field(default_factory=list)  # figures the question names that no passage states with it


CLOSEST = 3


def decide(
    evidence: Evidence,
    passages: list[Passage],
    threshold: float | None = None,
    question: str = "",
    language: str = "fi",
    embedder: str = refusal_weights.EMBEDDER,
    candidates: bool = False,
    joined: list[Passage] | None = None,
) -> Decision:
    """Refuse when nothing of a Finnish question is in the sources, when it names a year they do not cover or a
    figure no passage states beside its other words, when a Finnish question asks how many or asks for a place
    by its kind and no near-best sentence holds a count or a place, or when the fitted score is below the
    operating point (an English or Swedish question may share no word with the Finnish corpus). ``joined``: the
    passages with their found neighbours joined (a figure's sentence may end the chunk before the one about the
    question's subject)."""
    ranked = rank_sentences(evidence, passages)
    values = signals(evidence, passages, question, language, embedder, ranked, candidates)
    p = score(values) if passages else 0.0
    cut = refusal_weights.THRESHOLD if threshold is None else threshold
    apart = figures_apart(question, evidence, passages + (joined or []), language)
    # a count or a place asked for by its kind that no near-best sentence holds
    unheld = language == "fi" and (
        (values["type_missing"] == 1.0 and bool(COUNT.search(question))) or place_missing(question, ranked)
    )
    hard = (
        not passages
        or (language == "fi" and not evidence.known)
        or bool(evidence.unknown_years)
        or bool(apart)
        or unheld
    )
    return Decision(hard or p < cut, p, values, passages[:CLOSEST], hard, ranked, apart)


def refusal_text(evidence: Evidence, decision: Decision, phrases: dict[str, str]) -> str:
    """The refusal in the question's language: what the sources lack, then the closest passages as
    ``- *title*: "best sentence" [n]`` (n = the refusal's citation number)."""
    lines = [phrases["refuse"]]
    figures = decision.figures_apart
    # a group of a figure the sources lack ("407" of "21 407") is said as the figure, not as a missing word
    missing = [w for w in evidence.missing if not any(w in f.split() for f in figures)]
    if missing:
        lines[0] += " " + phrases["refuse_missing"].format(missing=", ".join(missing[:3]))
    if figures:
        years = all(year_span(f) for f in figures)
        key, field_name = ("refuse_year", "years") if years else ("refuse_figure", "figures")
        lines[0] += " " + phrases[key].format(**{field_name: ", ".join(figures)})
    if decision.closest:
        lines.append(phrases["closest"])
        ranked = decision.sentences or rank_sentences(evidence, decision.closest)
        for n, p in enumerate(decision.closest, start=1):
            sentence = best_sentence(ranked, n - 1) or " ".join(p.text.split())
            if len(sentence) > 160:
                sentence = sentence[:157].rsplit(" ", 1)[0] + " …"
            lines.append(f"- *{p.title}*: “{sentence}” [{n}]")
    return "\n".join(lines[:1] + ([""] if len(lines) > 1 else []) + lines[1:])
