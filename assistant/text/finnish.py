"""Finnish lemmatisation for lexical search and sentence scoring (pyvoikko + Snowball fallback).

pyvoikko only analyses lower-case input, so every word is lower-cased before analysis; results are
cached per distinct word (pyvoikko itself manages ~5k words/s).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

import pyvoikko
import Stemmer

__all__ = ["STOPWORDS", "MODES", "is_stopword", "words", "terms", "word_classes", "lemma"]

MODES = ("none", "snowball", "voikko")
TERMS_VERSION = "4"  # bump when terms() changes: a refresh then re-derives every chunk's terms (vectors are reused)

_FI_STOP = """
ja tai sekä eli että kun jos mutta vaan myös kuin koska vaikka jotta ei olla on ovat oli olivat ollut
olisi se ne sen niiden sitä siitä siihen siinä sillä joka jotka jonka joiden jota joita tämä nämä
tämän tätä tuo nuo hän he me minä sinä te itse vain jo nyt niin sitten
kuka ketkä kenen kenelle keitä mikä mitkä mitä minkä missä mistä mihin milloin miksi miten kuinka
millainen kumpi paljonko montako onko ovatko oliko
"""
_EN_STOP = """
a an the of and or in on at to for from by with is are was were be been being its this that these
those there as do does did has have had i you he she we they me my our your their
who whom whose what which when where why how can could would should will about tell please
"""
_SV_STOP = """
och är var vara en ett att det den de som av för på med till i om har hade inte jag vi du han hon
vem vad vilka vilken vilket när hur varför finns kan eller så från vid hos sig sin också
"""
STOPWORDS: frozenset[str] = frozenset((_FI_STOP + _EN_STOP + _SV_STOP).split())


def is_stopword(lemma: str) -> bool:
    """True for function words and interrogatives (fi/en/sv), given a lemma or lower-case word."""
    return lemma.lower() in STOPWORDS


# A letter or digit, then letters, digits and combining marks (decomposed "pa\u0308a\u0308" is one word, not
# "pa", "a", ...: \w does not match combining marks), with internal hyphens/colons.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_CH = rf"(?:[^\W_]|[{_MARKS}])"
_WORD_RE = re.compile(rf"[^\W_]{_CH}*(?:[-:]{_CH}+)*")


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def words(text: str) -> list[tuple[str, int, int]]:
    """Word tokens with spans: letters (åäö…), digits, internal hyphens/colons ("ELMO:n", "IP-alueen")."""
    return [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]


# --------------------------------------------------------------------------------------------------
# Snowball
# --------------------------------------------------------------------------------------------------

_stemmer = Stemmer.Stemmer("finnish")
_stem_lock = threading.Lock()  # PyStemmer objects are not thread-safe


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    with _stem_lock:
        return str(_stemmer.stemWord(word))


# --------------------------------------------------------------------------------------------------
# Voikko
# --------------------------------------------------------------------------------------------------

_PROPER = ("etunimi", "sukunimi", "paikannimi", "nimi")


def _clean(base: str) -> str:
    """Drop Voikko boundary marks: "keski--pohjanmaa" -> "keski-pohjanmaa", "pohjan=maa" -> "pohjanmaa"."""
    base = base.replace("=", "")
    while "--" in base:
        base = base.replace("--", "-")
    return base.strip("-")


@lru_cache(maxsize=200_000)
def _analyse(word: str) -> tuple[Any, ...]:
    """pyvoikko analyses of a lower-case word (cached)."""
    return tuple(pyvoikko.analyse(word))


def _compound_terms(analysis: Any) -> list[str]:
    """Compound parts of one analysis plus contiguous sub-compounds (maakuntaliitto -> maakunta, kuntaliitto)."""
    parts = analysis.COMPOUND_PARTS or []
    if len(parts) < 2:
        return []
    bases = [_clean(p.BASEFORM).lower() for p in parts]
    forms = [p.FORM.replace("=", "").lower() for p in parts]
    out = [b for b in bases if len(b) > 1]
    n = len(parts)
    if 3 <= n <= 6:
        for i in range(n):
            for j in range(i + 2, n + 1):
                # skip the whole word and spans across a hyphen (hyphen parts are indexed separately)
                if (i, j) == (0, n) or any(f.endswith("-") for f in forms[i : j - 1]):
                    continue
                # inner parts as written, last one in base form
                out.append("".join(forms[i : j - 1]) + bases[j - 1])
    return out


def _voikko_lemmas(word: str) -> list[str]:
    """Distinct cleaned lower-case base forms of ``word`` (lower-case input), Voikko order."""
    out: list[str] = []
    for a in _analyse(word):
        b = _clean(a.BASEFORM).lower()
        if b and b not in out:
            out.append(b)
    return out


def _simple_terms(word: str) -> list[str]:
    """Terms for a lower-case word without hyphens/colons."""
    if word.isdigit():
        return [word]
    analyses = _analyse(word)
    if not analyses:
        return [_stem(word)]
    out: list[str] = []
    for a in analyses:
        b = _clean(a.BASEFORM).lower()
        if b:
            out.append(b)
            if a.CLASS == "laatusana":
                out.extend(_participle_verb(b))
                out.extend(_passive_participle_verb(a))
        out.extend(_compound_terms(a))
    return out


_ACTIVE_PARTICIPLE = re.compile(r"(.+?)(nut|nyt|lut|lyt|rut|ryt|sut|syt)$")


@lru_cache(maxsize=50_000)
def _participle_verb(base: str) -> tuple[str, ...]:
    """The verb of an active past participle: Voikko lemmatises "rahoittanut" to the adjective
    "rahoittanut", so "Kuka rahoitti ...?" (rahoittaa) would miss "Hanketta on rahoittanut ...".
    The guessed infinitive is kept only when Voikko confirms it is a verb."""
    m = _ACTIVE_PARTICIPLE.match(base)
    if not m:
        return ()
    stem, ending = m.groups()
    back = any(v in stem for v in "aou")
    a = "a" if back else "ä"
    guesses = {
        "n": [stem + a, stem + "n" + a] if stem[-1] in "aeiouyäö" else [stem + "n" + a],
        "l": [stem + "l" + a],
        "r": [stem + "r" + a],
        "s": [stem + "t" + a],
    }[ending[0]]
    if stem[-1] in "aeiouyäö" and ending[0] == "n" and stem[-1] in "ie":
        guesses.insert(0, stem + a)
    for guess in guesses:
        if any(x.CLASS == "teonsana" and _clean(x.BASEFORM).lower() == guess for x in _analyse(guess)):
            return (guess,)
    return ()


_VERB_ANALYSIS = re.compile(r"^\[Lt\]\[Xp\]([^\[]+)\[X\]")  # Voikko's FSTOUTPUT of a form of a verb


def _passive_participle_verb(analysis: Any) -> list[str]:
    """The verb of a passive past participle: Voikko lemmatises "laadittu" to the adjective "laadittu", so
    "Kuka laati …?" (laatia) would miss "Strategia on laadittu …" (also *julkaistu*, *nostettu*, *valittu*).
    Voikko's own analysis names the verb."""
    if getattr(analysis, "PARTICIPLE", None) != "past_passive":
        return []
    m = _VERB_ANALYSIS.match(getattr(analysis, "FSTOUTPUT", None) or "")
    return [_clean(m.group(1)).lower()] if m else []


def _best_part_lemma(part: str) -> str:
    if part.isdigit():
        return part
    lem = _voikko_lemmas(part)
    return lem[0] if lem else part


@lru_cache(maxsize=200_000)
def _word_terms(word: str) -> tuple[str, ...]:
    """Deduplicated, stop-word-filtered index terms for one lower-case word."""
    if word in STOPWORDS:
        return ()
    if ":" in word:  # "elmo:n", "oecd:n" -> stem before the colon
        head = word.split(":", 1)[0]
        return _word_terms(head) if head else ()
    raw: list[str]
    if "-" in word:
        parts = [p for p in word.split("-") if p]
        whole = [] if any(p.isdigit() for p in parts) else _voikko_lemmas(word)
        if not whole:
            whole = ["-".join(_best_part_lemma(p) for p in parts)]
        raw = list(whole)
        for a in _analyse(word):
            raw.extend(_compound_terms(a))
        for p in parts:
            if p in raw and not _analyse(p):
                continue  # already a Voikko compound part ("keski"); its Snowball stem would be noise
            raw.extend(_word_terms(p))
    else:
        raw = _simple_terms(word)
    seen: dict[str, None] = {}
    for t in raw:
        if t and t not in STOPWORDS:
            seen.setdefault(t, None)
    return tuple(seen)


def terms(text: str, mode: str = "voikko") -> list[str]:
    """Index terms of ``text`` (term frequency kept across words, duplicates within a word removed).

    mode "none": lower-cased words; "snowball": Finnish Snowball stems; "voikko": Voikko base forms
    plus compound parts and hyphen parts, Snowball stems for unknown words. Stop words are dropped.
    """
    found = _WORD_RE.findall(_nfc(text))
    out: list[str] = []
    if mode == "voikko":
        for w in found:
            out.extend(_word_terms(w.lower()))
    elif mode == "snowball":
        for w in found:
            lw = w.lower()
            if lw not in STOPWORDS:
                out.append(lw if lw.isdigit() else _stem(lw))
    elif mode == "none":
        for w in found:
            lw = w.lower()
            if lw not in STOPWORDS:
                out.append(lw)
    else:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    return out


def _strip_colon(word: str) -> str:
    return word.split(":", 1)[0] if ":" in word else word


@lru_cache(maxsize=50_000)
def _word_classes(word: str) -> frozenset[str]:
    w = _strip_colon(word)
    return frozenset(a.CLASS for cand in {w, w.lower()} for a in _analyse(cand) if a.CLASS)


def word_classes(word: str) -> set[str]:
    """Voikko CLASS values of ``word`` (e.g. {"sukunimi"}); tries it as written and lower-cased."""
    return set(_word_classes(_nfc(word)))


def is_acronym(word: str) -> bool:
    """All capitals, two letters or more ("ELMO", "EAKR", "RIS3"): a name, written alike in every form."""
    return len(word) > 1 and word.isupper()


def _match_case(written: str, base: str) -> str:
    if is_acronym(written):
        return base.upper()
    if written[:1].isupper():
        return base[:1].upper() + base[1:]
    return base


@lru_cache(maxsize=50_000)
def lemma(word: str) -> str:
    """Best single base form for display/heuristics ("Meriläiseltä" -> "Meriläinen", "liiton" -> "liitto").

    Capitalised input prefers proper-name analyses; case of the input is kept for the first letter
    (and all-caps stays all-caps: "ELMO:n" -> "ELMO"). Unknown words come back unchanged.
    """
    w = _strip_colon(word)
    if not w:
        return word
    low = w.lower()
    analyses = list(_analyse(low))
    if not analyses and "-" in w:
        head, _, tail = w.rpartition("-")
        return f"{head}-{lemma(tail)}" if tail else w
    if not analyses:
        return w
    capital = w[0].isupper()
    analyses.sort(key=lambda a: (a.CLASS in _PROPER) != capital)  # stable: keep Voikko order otherwise
    base = _clean(analyses[0].BASEFORM)
    if not base:
        return w
    if is_acronym(w):
        return base.upper()
    if capital:
        # keep the input's capitalisation of hyphen parts ("Pohjois-Pohjanmaan" -> "Pohjois-Pohjanmaa")
        in_parts = w.split("-")
        out_parts = base.split("-")
        if len(in_parts) == len(out_parts):
            out_parts = [_match_case(i, o) for i, o in zip(in_parts, out_parts, strict=True)]
            return "-".join(out_parts)
        return base[:1].upper() + base[1:]
    return base


@lru_cache(maxsize=50_000)
def compound_heads(word: str) -> frozenset[str]:
    """Base forms of a compound's last part, one per reading ("maakuntajohtaja" → {"johtaja"};
    "innovaatiokeskusta" → {"keskusta", "keskus"}); empty if no reading is a compound."""
    heads = set()
    for a in _analyse(word.lower()):
        parts = a.COMPOUND_PARTS or []
        if len(parts) >= 2 and (head := _clean(parts[-1].BASEFORM).lower()):
            heads.add(head)
    return frozenset(heads)


@lru_cache(maxsize=50_000)
def is_question_verb(word: str) -> bool:
    """A finite verb with the question clitic -ko/-kö ("Maksaako", "Kuuluuko", "Voiko"): the verb of a yes/no
    question, whatever noun Voikko also reads in it (maksa "liver", kuu + luu "moon bone")."""
    return any(
        a.CLASS == "teonsana" and a.FOCUS == "ko" and a.MOOD in ("indicative", "conditional", "potential")
        for a in _analyse(word.lower())
    )


def base_forms(word: str) -> list[str]:
    """Every whole-word base form Voikko gives (one per reading), no compound parts."""
    return _voikko_lemmas(word.lower())


def word_lemmas(text: str) -> set[str]:
    """The whole-word lemmas of a text (no compound parts): what the text says as words of their own."""
    out: set[str] = set()
    for word, _, _ in words(text):
        found = _word_terms(word.lower())
        if found:
            out.add(found[0])
    return out


# Spoken Finnish: the everyday contractions of pronouns, "olla" and a few very common words. Voikko
# analyses none of them, and most are too short for edit distance to recover safely ("mä" is one edit
# from "mm", "uus" from "uut").
SPOKEN_FORMS: dict[str, str] = {
    "mä": "minä", "mää": "minä", "sä": "sinä", "toi": "tuo", "tää": "tämä", "noi": "nuo", "nää": "nämä",
    "mun": "minun", "sun": "sinun", "mulle": "minulle", "sulle": "sinulle", "multa": "minulta",
    "onks": "onko", "oliks": "oliko", "ooks": "oletko", "oon": "olen", "ollu": "ollut",
    "uus": "uusi", "mites": "miten", "miks": "miksi", "mitäs": "mitä", "kukas": "kuka", "missäs": "missä",
    "paljo": "paljon", "tarttee": "tarvitsee", "pitäis": "pitäisi", "vois": "voisi", "olis": "olisi",
    "tarkottaa": "tarkoittaa", "tarkotus": "tarkoitus", "ite": "itse", "kattoo": "katsoo", "semmonen": "sellainen",
}


def written_form(word: str) -> str | None:
    """The written form of a spoken contraction ("uus" → "uusi"), or None when ``word`` is not one."""
    written = SPOKEN_FORMS.get(word.lower())
    return written if written is not None and written != word.lower() else None


# Spoken Finnish drops the final vowel of a case ending ("mist" = "mistä", "täst" = "tästä", "kotonas"):
# a word Voikko does not know that ends like a clipped case ending is read as the form with its vowel back.
_CLIPPED_ENDINGS = ("st", "ss", "ll", "lt", "ks")
_BACK_VOWELS = set("aou")


def unclipped(word: str) -> str | None:
    """The written form of a spoken word whose case ending lost its final vowel ("mist" → "mistä"), or None."""
    low = word.lower()
    if len(low) < 3 or not low.isalpha() or not low.endswith(_CLIPPED_ENDINGS) or _analyse(low):
        return None
    vowel = "a" if set(low) & _BACK_VOWELS else "ä"
    full = low + ("i" if low.endswith("ks") else vowel)
    return full if _analyse(full) else None


# The everyday nouns for the numerals ("ELMO kakkonen" = ELMO II, "vitonen" = five): a sequel, a version or a
# phase is named with them in speech; the sources write the numeral.
NUMERAL_NOUNS = {
    "ykkönen": 1, "kakkonen": 2, "kolmonen": 3, "nelonen": 4, "vitonen": 5,
    "kutonen": 6, "kuutonen": 6, "seiska": 7, "seitsemäinen": 7, "kasi": 8, "kasikko": 8, "ysi": 9, "kymppi": 10,
}  # fmt: skip
_ROMAN = ("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")


def numeral_terms(word: str) -> list[str]:
    """The numeral a spoken numeral noun stands for, as the index writes it (Roman and digits); [] otherwise."""
    for lem in _voikko_lemmas(word.lower()):
        if (n := NUMERAL_NOUNS.get(lem)) is not None:
            return [_ROMAN[n], str(n)]
    return []


@lru_cache(maxsize=50_000)
def _cardinal(word: str) -> bool:
    analyses = _analyse(word)
    if any(a.CLASS == "seikkasana" for a in analyses):  # "yhdessä" (together) reads as an adverb first
        return False
    # an ordinal's base form ends in -s or -inen (kolmas, sadas, ensimmäinen, toinen); a cardinal's never
    return any(a.CLASS == "lukusana" and not re.search(r"(?:s|inen)$", _clean(a.BASEFORM).lower()) for a in analyses)


def cardinal_numeral(word: str) -> bool:
    """A cardinal number written in words, in any inflection (kolme, kolmessa, kahdeksastatoista, sadoille,
    tuhansia): Voikko's word class ``lukusana`` without the ordinals (kolmas, ensimmäinen) and Roman numerals."""
    w = _nfc(word).lower()  # not a Roman numeral: "Pius XII", "ELMO II" name one thing, they count nothing
    return bool(w) and w.isalpha() and not re.fullmatch(r"[ivxlcdm]+", w) and _cardinal(w)


_DERIVED = re.compile(r"^(?:\[Bh\])?\[Lt\]\[Xp\]([^\[]+)\[X\].*\[Ln\]")


def derived_verbs(word: str) -> list[str]:
    """The verbs a noun is derived from ("toteutus" ← "toteuttaa", "sponsorointi" ← "sponsoroida"): the action
    noun names what the verb does, so a text using the verb speaks of it. Compounds are left out."""
    out: list[str] = []
    for a in _analyse(_strip_colon(word).lower()):
        fst = a.FSTOUTPUT or ""
        if a.CLASS == "nimisana" and "[Bc]" not in fst and (m := _DERIVED.match(fst)):
            verb = _clean(m.group(1)).lower()
            if verb and verb not in out:
                out.append(verb)
    return out


def reading_parts(word: str) -> list[list[str]]:
    """The compound parts of each reading of ``word`` (base forms), one list per compound reading."""
    out = []
    for a in _analyse(_strip_colon(word).lower()):
        parts = [_clean(p.BASEFORM).lower() for p in a.COMPOUND_PARTS or []]
        if len(parts) >= 2 and parts not in out:
            out.append(parts)
    return out
