"""Text normalisation with exact offsets, a Finnish-aware sentence splitter and language detection."""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = ["Normalised", "normalise", "split_sentences", "detect_language"]


# --------------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalised:
    """Normalised text plus a map back to the original string.

    ``offsets[i]`` is the index in the original string of normalised character ``i``;
    ``len(offsets) == len(text) + 1`` and the last entry is ``len(original)``.
    """

    text: str
    offsets: list[int]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span ``[start, end)`` of the normalised text to a span of the original string."""
        n = len(self.text)
        if not (0 <= start <= end <= n):
            raise ValueError(f"span ({start}, {end}) outside 0..{n}")
        if start == end:
            return self.offsets[start], self.offsets[start]
        return self.offsets[start], self.offsets[end]


_SPACES = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_REMOVE = "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"
_CONTROLS = "".join(
    chr(c) for c in [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0)]
)
_NEWLINES = "\x0b\x0c\x85\u2028"

_CHAR_MAP: dict[str, str] = {}
_CHAR_MAP.update(dict.fromkeys(_SPACES, " "))
_CHAR_MAP.update(dict.fromkeys(_REMOVE, ""))
_CHAR_MAP.update(dict.fromkeys(_CONTROLS, ""))
_CHAR_MAP.update(dict.fromkeys(_NEWLINES, "\n"))
_CHAR_MAP.update(dict.fromkeys("\u00b4`\u2018\u2019\u201a\u2032", "'"))
_CHAR_MAP.update(dict.fromkeys("\u201c\u201d\u201e\u2033", '"'))
_CHAR_MAP["\u2029"] = "\n\n"  # paragraph separator
_CHAR_MAP["\r"] = "\n"

# Everything that stage A must touch; "\r\n" first so it becomes a single "\n".
_SPECIAL_RE = re.compile("\r\n|[" + re.escape("".join(k for k in _CHAR_MAP if k != "\r") + "\r") + "]")
# Stage B: whitespace runs with a newline, runs of 2+ spaces, or a lone trailing space.
_WS_RE = re.compile(r"[ \n]*\n[ \n]*| {2,}| \Z")


def _nfc_clusters(raw: str) -> tuple[str, list[int]]:
    """NFC per cluster (base char + following combining marks); every output char maps to the cluster start.

    Only used when ``raw`` is not already NFC (rare), so a plain Python loop is fine.
    """
    out: list[str] = []
    offs: list[int] = []
    n = len(raw)
    i = 0
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(raw[j]):
            j += 1
        piece = unicodedata.normalize("NFC", raw[i:j])
        out.append(piece)
        offs.extend([i] * len(piece))
        i = j
    return "".join(out), offs


def _stage_a(raw: str) -> tuple[str, list[int]]:
    """Character-level mapping (spaces, quotes, removals, newlines) with offsets into ``raw``."""
    parts: list[str] = []
    offs: list[int] = []
    pos = 0
    for m in _SPECIAL_RE.finditer(raw):
        s = m.start()
        if s > pos:
            parts.append(raw[pos:s])
            offs.extend(range(pos, s))
        tok = m.group()
        if tok == "\r\n":
            parts.append("\n")
            offs.append(s + 1)
        else:
            rep = _CHAR_MAP[tok]
            if rep:
                parts.append(rep)
                offs.extend([s] * len(rep))
        pos = m.end()
    if pos < len(raw):
        parts.append(raw[pos:])
        offs.extend(range(pos, len(raw)))
    return "".join(parts), offs


def _stage_b(text: str, offs: list[int]) -> tuple[str, list[int]]:
    """Whitespace layout: collapse spaces, strip trailing spaces, keep at most one blank line."""
    parts: list[str] = []
    out_offs: list[int] = []
    pos = 0
    n = len(text)
    for m in _WS_RE.finditer(text):
        s, e = m.span()
        if s > pos:
            parts.append(text[pos:s])
            out_offs.extend(offs[pos:s])
        run = m.group()
        if "\n" in run:
            first = run.index("\n")
            k = run.count("\n", first)
            parts.append("\n" if k == 1 else "\n\n")
            out_offs.append(offs[s + first])
            if k > 1:
                out_offs.append(offs[s + run.index("\n", first + 1)])
            last = run.rindex("\n")
            if last < len(run) - 1 and e < n:  # indentation of the next line -> one space
                parts.append(" ")
                out_offs.append(offs[s + last + 1])
        elif e < n:  # inner run of spaces -> one space (a trailing run at the very end is dropped)
            parts.append(" ")
            out_offs.append(offs[s])
        pos = e
    if pos < n:
        parts.append(text[pos:])
        out_offs.extend(offs[pos:])
    return "".join(parts), out_offs


def normalise(raw: str) -> Normalised:
    """Normalise ``raw`` for indexing/display and keep an exact offset map back to it.

    Unicode spaces -> " "; soft hyphens, zero-width and control characters removed; typographic
    single/double quotes -> ' / "; NFC; CRLF/CR -> LF; runs of spaces/tabs -> one space; trailing
    spaces stripped per line; whitespace-only lines emptied; 3+ newlines -> 2.
    """
    if unicodedata.is_normalized("NFC", raw):
        text, offs = _stage_a(raw)
    else:
        composed, cmap = _nfc_clusters(raw)
        text, offs = _stage_a(composed)
        offs = [cmap[o] for o in offs]
    text, offs = _stage_b(text, offs)
    offs.append(len(raw))
    return Normalised(text, offs)


# --------------------------------------------------------------------------------------------------
# Sentence splitting
# --------------------------------------------------------------------------------------------------

ABBREVIATIONS: frozenset[str] = frozenset(
    """
    mm esim puh ns n ks kts jne yms ym tms s dos prof klo tri ts vrt eli nk em ao oy ry milj mrd
    v huom nro n:o os mk lk ed alk yht engl ruots suom lyh
    e.g i.e etc dr mr mrs ms vs no p pp st jr sr inc ltd approx cf fig al
    t.ex bl.a m.m o.s.v s.k dvs
    """.split()
)

_END_RE = re.compile(
    r"""[.!?\u2026]+["'\u201d\u2019\u00bb)\]]*(?=\s+["'\u201c\u201d\u2018\u00ab\u00bb(\[\d\w])"""
)
_TOKEN_BEFORE_RE = re.compile(r"[\w.:]*\Z")
_PARA_RE = re.compile(r"\n[^\S\n]*\n")
_NUMBERED_RE = re.compile(r"(?:\d+[.)]|[-\u2013\u2014\u2022*\u25aa\u25cf])\s")
_TERMINAL = ".!?\u2026:;"


def _is_real_end(text: str, m: re.Match[str], last_cut: int) -> bool:
    punct = m.group()
    after = m.end()
    # next visible character decides: uppercase letter, digit, quote or bracket (lowercase -> no split)
    j = after
    n = len(text)
    while j < n and text[j].isspace():
        j += 1
    if j >= n:
        return False
    nxt = text[j]
    if nxt.isalpha() and not nxt.isupper():
        return False
    if punct[0] != ".":
        return True
    tok = _TOKEN_BEFORE_RE.search(text, max(last_cut, m.start() - 40), m.start())
    token = tok.group() if tok else ""
    low = token.lower().rstrip(".")
    if low in ABBREVIATIONS:
        return False
    if len(token) == 1 and token.isupper():  # initial: "A. Virtanen"
        return False
    if token.isdigit():
        # "1. Johdanto": a number that is the whole sentence so far is list numbering, not an end
        start = max(last_cut, text.rfind("\n", last_cut, m.start()) + 1)
        while start < m.start() and text[start].isspace():
            start += 1
        if start == m.start() - len(token):
            return False
        # ordinal before a digit ("5. 6. 2023") is a date
        if nxt.isdigit() and len(token) <= 2:
            return False
    return True


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` in ``text``; trimmed; together they cover every non-space char once."""
    if not text or text.isspace():
        return []
    cuts: set[int] = set()
    # 1. paragraph breaks
    for m in _PARA_RE.finditer(text):
        cuts.add(m.start())
    # 2. single newlines after heading-like lines
    line_start = 0
    n = len(text)
    nl = text.find("\n")
    while nl != -1:
        line = text[line_start:nl].strip()
        nxt_start = nl + 1
        rest = text[nxt_start : nxt_start + 200].lstrip()
        if line and rest:
            if _NUMBERED_RE.match(rest):
                cuts.add(nl)
            elif line[-1] not in _TERMINAL and line[-1] not in ",-\u2013" and len(line) < 80:
                first = rest[0]
                if not (first.isalpha() and first.islower()):
                    cuts.add(nl)
            elif line[-1] in ":;" and len(line) < 80:
                cuts.add(nl)
        line_start = nxt_start
        nl = text.find("\n", nxt_start)
    # 3. sentence-final punctuation
    last_cut = 0
    for m in _END_RE.finditer(text):
        if _is_real_end(text, m, last_cut):
            cuts.add(m.end())
            last_cut = m.end()

    spans: list[tuple[int, int]] = []
    prev = 0
    for c in [*sorted(cuts), n]:
        s, e = prev, c
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))
        prev = c
    return spans


# --------------------------------------------------------------------------------------------------
# Language detection
# --------------------------------------------------------------------------------------------------

_LANGS = ("fi", "en", "sv")
_identifier: Any = None
_identifier_lock = threading.Lock()

# Unambiguous function words / interrogatives: a prior for very short questions.
_KEYWORDS: dict[str, frozenset[str]] = {
    "fi": frozenset(
        "kuka kenen kenelle keneltä keitä ketkä mikä mitä mitkä minkä missä mistä mihin milloin miksi miten "
        "kuinka millainen millä onko ovatko oliko voiko saako paljonko montako ja on ovat oli ei myös "
        "yhteystiedot hanke hankkeen".split()
    ),
    "en": frozenset(
        "who whom whose what which when where why how is are was were does do did the of and there "
        "can could should about tell".split()
    ),
    "sv": frozenset(
        "vem vems vad vilka vilken vilket när var varför hur är och det finns kan jag om berätta "
        "också ett".split()
    ),
}
_WORD_RE = re.compile(r"[^\W\d_]+")


def _get_identifier() -> Any:
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages(list(_LANGS))
                _identifier = ident
    return _identifier


def detect_language(text: str) -> str:
    """Return "fi", "en" or "sv" for ``text`` (Finnish when there is nothing to go on)."""
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if not words:
        return "fi"
    probs = dict(_get_identifier().rank(text))
    scores = {lang: float(probs.get(lang, 0.0)) for lang in _LANGS}
    if len(words) <= 8:
        for lang in _LANGS:
            hits = sum(1 for w in set(words) if w in _KEYWORDS[lang])
            scores[lang] *= 5.0**hits
    return max(_LANGS, key=lambda lang: scores[lang])
