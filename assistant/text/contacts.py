"""Contact extraction (name, title, organisation, phone, e-mail) from Finnish/English text.

Heuristic, offline: phones via ``phonenumbers``, e-mails via a regex (also "(at)" spellings), names via
a title word before them or Voikko's etunimi/sukunimi classes near a phone/e-mail. Nothing is invented:
an organisation is only filled in when it is written in the same or the preceding sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, TypeVar

import phonenumbers
import pyvoikko

from assistant.text.finnish import is_stopword, lemma, word_classes, words
from assistant.text.sentences import split_sentences

__all__ = ["Contact", "adds_nothing", "disagree", "distinct_records", "extract_contacts", "person_key"]

T = TypeVar("T")

CONTACTS_VERSION = "2"  # bump when extract_contacts changes: a refresh then re-derives every source's contacts


@dataclass
class Contact:
    name: str
    title: str | None
    organisation: str | None
    phone: str | None  # international display, e.g. "+358 40 6854053"
    phone_raw: str | None  # as written, e.g. "040 6854 053"
    email: str | None
    start: int  # span in the given text covering the mention (title/name .. phone/e-mail)
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------------------

_UP = "A-ZÅÄÖÜÉÈÁÀÇÑØÆŠŽ"
_LO = "a-zåäöüéèáàçñøæšžß"
_NAME_TOK = rf"[{_UP}][{_LO}']+(?:-[{_UP}][{_LO}']+)?"

_FI_TITLE_SUFFIXES = (
    "päällikkö|johtaja|asiantuntija|koordinaattori|suunnittelija|sihteeri|neuvos|yhteyshenkilö|"
    "tutkija|professori|esimies|kehittäjä|asiamies|ohjaaja|vastaava|assistentti|lehtori|konsultti"
)
_EN_TITLES = (
    "project manager|project coordinator|project director|managing director|development manager|"
    "senior advisor|senior adviser|senior specialist|chief executive officer|ceo|director|coordinator|"
    "manager|specialist|advisor|adviser|officer|researcher|professor|chair|chairman|contact person"
)
_TITLE_NAME_RE = re.compile(
    rf"(?<![\w-])(?P<title>(?i:[\w-]*(?:{_FI_TITLE_SUFFIXES})|{_EN_TITLES}))"
    rf"(?:[ \t]*[,:]?|[ \t]+on)[ \t]+(?P<name>{_NAME_TOK}(?:[ \t]+{_NAME_TOK})?)"
)

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])(?P<local>[\w.+-]*\w)"
    r"(?P<at>@|[ \t]?[(\[{]\s*(?:at|ät|a|@)\s*[)\]}][ \t]?|[ \t]at[ \t])"
    r"(?P<domain>[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24})(?![\w-])"
)

# context words that make a digit run something other than a phone number
_NOT_PHONE_RE = re.compile(
    r"(?i:y-?tunnus|business id|dnro|diaarinumero|iban|tilinumero|tili|viite|viitenumero|asianumero|"
    r"fi\d{2}|bic|alv|vat)\W{0,3}\Z"
)

_NAME_CLASSES = frozenset({"etunimi", "sukunimi"})
_PROPER_CLASSES = frozenset({"etunimi", "sukunimi", "paikannimi", "nimi"})

_ORG_HEADS = (
    "liitto",
    "yliopisto",
    "ammattikorkeakoulu",
    "korkeakoulu",
    "kaupunki",
    "seutu",
    "säätiö",
    "virasto",
    "ministeriö",
    "keskus",
    "kuntayhtymä",
    "instituutti",
)
_ORG_TAGS = frozenset({"Oy", "Oyj", "Ab", "Ry", "ry", "Ltd", "Inc", "GmbH"})
_EN_ORG_RE = re.compile(
    rf"(?:(?:Regional Council|University|City|Council) of (?:[{_UP}][\w-]+ ?){{1,3}})"
    rf"|(?:(?:[{_UP}][\w-]+ ){{1,3}}(?:Regional Council|University|Council|Agency|Centre|Center))"
)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=20_000)
def _name_analyses(word: str) -> tuple[Any, ...]:
    return tuple(a for a in pyvoikko.analyse(word.lower()) if a.CLASS in _PROPER_CLASSES)


def _namelike(tok: str, *, require_known: bool = False) -> bool:
    """Could ``tok`` be part of a person's name? Unknown words pass unless ``require_known``."""
    if not tok[:1].isupper() or tok.isupper() or is_stopword(tok.lower()):
        return False
    classes = word_classes(tok)
    if classes & _NAME_CLASSES:
        return True
    return not classes and not require_known


def _name_pair(first: str, last: str) -> bool:
    """Two capitalised words in the nominative, the first a first name or the second a surname Voikko knows,
    are a person's name whatever else Voikko reads the other as: many Finnish surnames are common nouns or
    places (Lahti, Salo, Koski, Järvi), and some first names are places too (Mari)."""
    if not all(w[:1].isupper() and not w.isupper() and not is_stopword(w.lower()) for w in (first, last)):
        return False
    if word_classes(first) & {"etunimi"}:
        return _nominative(last)
    return bool(word_classes(last) & {"sukunimi"}) and _nominative(first)


@lru_cache(maxsize=20_000)
def _nominative(word: str) -> bool:
    return any(a.SIJAMUOTO == "nimento" for a in pyvoikko.analyse(word.lower()))


def _nominative_name(tok: str) -> str:
    """'Meriläiseltä' -> 'Meriläinen' when Voikko knows it only as an inflected name; else as written."""
    analyses = _name_analyses(tok)
    names = [a for a in analyses if a.CLASS in _NAME_CLASSES]
    if not names or any(a.SIJAMUOTO in (None, "nimento") for a in names):
        return tok
    return lemma(tok)


def _clean_name(tokens: list[str]) -> str:
    return " ".join(_nominative_name(t) for t in tokens)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


@dataclass
class _Name:
    name: str
    title: str | None
    start: int
    end: int
    phone: tuple[str, str, int] | None = None  # (display, raw, end)
    email: tuple[str, int] | None = None  # (address, end)


def _find_phones(text: str) -> list[tuple[int, int, str, str]]:
    out: list[tuple[int, int, str, str]] = []
    for m in phonenumbers.PhoneNumberMatcher(text, "FI"):
        if _NOT_PHONE_RE.search(text, max(0, m.start - 20), m.start):
            continue
        display = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        out.append((m.start, m.end, display, m.raw_string))
    return out


def _find_emails(text: str) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for m in _EMAIL_RE.finditer(text):
        local, at, domain = m.group("local"), m.group("at"), m.group("domain")
        if at.strip() == "at" and "." not in local and "_" not in local:
            continue  # "meet at home.fi" style prose; only accept "first.last at domain"
        out.append((m.start(), m.end(), f"{local}@{domain}".lower()))
    return out


def _title_names(text: str) -> list[_Name]:
    out: list[_Name] = []
    for m in _TITLE_NAME_RE.finditer(text):
        toks = m.group("name").split()
        pair = len(toks) > 1 and _name_pair(toks[0], toks[1])
        if not (_namelike(toks[0]) or pair):
            continue
        if len(toks) > 1 and not (_namelike(toks[1]) or pair):
            toks = toks[:1]
        name_end = m.start("name") + m.group("name").index(toks[-1]) + len(toks[-1])
        title = _cap(m.group("title").strip())
        out.append(_Name(_clean_name(toks), title, m.start(), name_end))
    return out


def _name_before(text: str, pos: int, lo: int) -> _Name | None:
    """Last pair of adjacent capitalised name words in text[lo:pos], one of them a Voikko first/last name."""
    toks = [(w, s, e) for w, s, e in words(text[lo:pos])]
    for i in range(len(toks) - 2, -1, -1):
        (w1, s1, e1), (w2, s2, e2) = toks[i], toks[i + 1]
        gap = text[lo + e1 : lo + s2]
        if gap.strip() or "\n" in gap:
            continue
        if not ((_namelike(w1) and _namelike(w2)) or _name_pair(w1, w2)):
            continue
        if not (word_classes(w1) & _NAME_CLASSES or word_classes(w2) & _NAME_CLASSES):
            continue
        return _Name(_clean_name([w1, w2]), None, lo + s1, lo + e2)
    return None


def _org_candidates(text: str, lo: int, hi: int) -> list[tuple[int, int, str]]:
    """Organisation phrases (start, end, nominative form) in text[lo:hi]."""
    seg = text[lo:hi]
    toks = words(seg)
    out: list[tuple[int, int, str]] = []
    for i, (tok, _s, e) in enumerate(toks):
        low_lemma = lemma(tok).lower()
        is_tag = tok in _ORG_TAGS
        head_ok = is_tag or any(low_lemma == h for h in _ORG_HEADS)
        if not head_ok and any(low_lemma.endswith(h) for h in _ORG_HEADS):
            # compounds count when written as a name: "Kuntaliitto", "ELY-keskus"
            head_ok = tok[:1].isupper() or bool(re.match(rf"[{_UP}]{{2,}}-", tok))
        if not head_ok:
            continue
        # capitalised modifiers directly before the head: "Pohjois-Pohjanmaan liitto", "Lapin liitto"
        j = i
        while j > 0 and i - j < 3:
            ptok, ps, pe = toks[j - 1]
            between = seg[pe : toks[j][1]]
            if between.strip() or "\n" in between or not ptok[:1].isupper():
                break
            classes = word_classes(ptok)
            # a company's name is any capitalised words before its tag ("Kokkolanseudun Kehitys Oy")
            if classes and not (classes & _PROPER_CLASSES) and not ptok.isupper() and not is_tag:
                break
            j -= 1
        mods = [t for t, _, _ in toks[j:i]]
        if not mods and (is_tag or not tok[:1].isupper()):
            continue  # a tag alone names no company
        head = tok if is_tag else _cap(lemma(tok)) if tok[:1].isupper() else lemma(tok).lower()
        out.append((lo + toks[j][1], lo + e, " ".join([*mods, head])))
    for m in _EN_ORG_RE.finditer(seg):
        out.append((lo + m.start(), lo + m.end(), m.group().strip()))
    return out


def _organisation(
    text: str, sentences: list[tuple[int, int]], start: int, end: int, others: list[tuple[int, int]]
) -> str | None:
    """Nearest organisation in the contact's sentence (not inside another contact's mention), else the
    last one in the preceding sentence, else None."""
    idx = next((k for k, (s, e) in enumerate(sentences) if s <= start < e or start < s), None)
    if idx is None:
        return None
    s, e = sentences[idx]
    same = [c for c in _org_candidates(text, s, e) if not any(os <= c[0] and c[1] <= oe for os, oe in others)]
    if same:

        def dist(c: tuple[int, int, str]) -> int:
            return max(c[0] - end, start - c[1], 0)

        return min(same, key=dist)[2]
    if idx > 0:
        ps, pe = sentences[idx - 1]
        prev = _org_candidates(text, ps, pe)
        if prev:
            return prev[-1][2]
    return None


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------

_MAX_GAP = 120


def extract_contacts(text: str) -> list[Contact]:
    """Contacts mentioned in ``text``: a name plus a phone/e-mail, or a name with a title."""
    phones = _find_phones(text)
    emails = _find_emails(text)
    names = _title_names(text)

    # name pairs without a title, near a phone/e-mail
    for pos in sorted([p[0] for p in phones] + [m[0] for m in emails]):
        lo = max(text.rfind("\n", 0, pos) + 1, pos - _MAX_GAP)
        lo = max([lo] + [n.end for n in names if n.end <= pos])  # only look after the last known name
        cand = _name_before(text, pos, lo)
        if cand and not any(cand.start < n.end and n.start < cand.end for n in names):
            names.append(cand)
    names.sort(key=lambda n: n.start)

    def owner(pos: int) -> _Name | None:
        best: _Name | None = None
        for n in names:
            if n.end <= pos and pos - n.end <= _MAX_GAP and "\n" not in text[n.end : pos]:
                best = n  # names are sorted: the last one is the nearest
        return best

    for ps, pe, display, raw in phones:
        n = owner(ps)
        if n is not None and n.phone is None:
            n.phone = (display, raw, pe)
    for es, ee, addr in emails:
        n = owner(es)
        if n is not None and n.email is None:
            n.email = (addr, ee)

    kept = [n for n in names if n.phone is not None or n.email is not None or n.title is not None]
    spans = [
        (n.start, max([n.end] + ([n.phone[2]] if n.phone else []) + ([n.email[1]] if n.email else [])))
        for n in kept
    ]
    sentences = split_sentences(text)
    out: list[Contact] = []
    seen: dict[str, Contact] = {}
    for k, n in enumerate(kept):
        start, end = spans[k]
        c = Contact(
            name=n.name,
            title=n.title,
            organisation=_organisation(text, sentences, start, end, spans[:k] + spans[k + 1 :]),
            phone=n.phone[0] if n.phone else None,
            phone_raw=n.phone[1] if n.phone else None,
            email=n.email[0] if n.email else None,
            start=start,
            end=end,
        )
        prev = seen.get(c.name)
        if prev is not None and _differing(prev, c) == ["organisation"]:
            # "… sanoo projektipäällikkö Petri Lahti." then "Lisätietoja: … Petri Lahti, Centria, puh. …": a
            # mention's organisation is only guessed from a neighbouring sentence; the reachable record states it
            for record in (prev, c):
                if record.phone is None and record.email is None:
                    record.organisation = None
        if prev is not None and not _conflicts(prev, c):
            # same person mentioned again in this text, nothing contradicting: fill in what was missing
            for f in ("title", "organisation", "phone", "phone_raw", "email"):
                if getattr(prev, f) is None and getattr(c, f) is not None:
                    setattr(prev, f, getattr(c, f))
            prev.start, prev.end = min(prev.start, c.start), max(prev.end, c.end)
            continue
        seen.setdefault(c.name, c)
        out.append(c)
    return out


def _differing(a: Contact, b: Contact) -> list[str]:
    """The details both records state, differently."""
    return [k for k in DETAILS if _norm(getattr(a, k)) and _norm(getattr(b, k)) and _norm(getattr(a, k)) != _norm(getattr(b, k))]


def _conflicts(a: Contact, b: Contact) -> bool:
    return bool(_differing(a, b))


# --------------------------------------------------------------------------------------------------
# Comparing contact records (dicts as stored, each tied to one passage by its chunk_id)
# --------------------------------------------------------------------------------------------------

DETAILS = ("title", "organisation", "phone", "email")


def _norm(value: Any) -> str:
    return " ".join(str(value).casefold().split()) if value else ""


def person_key(record: Mapping[str, Any]) -> str:
    return _norm(record.get("name"))


def adds_nothing(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same person, and every detail ``a`` states ``b`` states the same way."""
    return person_key(a) == person_key(b) and all(
        not _norm(a.get(k)) or _norm(a.get(k)) == _norm(b.get(k)) for k in DETAILS
    )


def disagree(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The two records contradict each other: the same person with a different phone, e-mail, title or
    organisation, or two different people given the same title."""
    if person_key(a) == person_key(b):
        return any(_norm(a.get(k)) and _norm(b.get(k)) and _norm(a.get(k)) != _norm(b.get(k)) for k in DETAILS)
    return bool(_norm(a.get("title"))) and _norm(a.get("title")) == _norm(b.get("title"))


def distinct_records(items: Sequence[T], record: Callable[[T], Mapping[str, Any]]) -> list[T]:
    """``items`` (in rank order) without those whose record adds nothing to another one's; a fuller
    record takes the place of the one it covers. Records are never merged: each stays tied to its
    own passage."""
    kept: list[T] = []
    for item in items:
        rec = record(item)
        if any(adds_nothing(rec, record(k)) for k in kept):
            continue
        covered = [i for i, k in enumerate(kept) if adds_nothing(record(k), rec)]
        if covered:
            kept[covered[0]] = item
            kept = [k for i, k in enumerate(kept) if i not in covered[1:]]
        else:
            kept.append(item)
    return kept
