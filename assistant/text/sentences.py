"""A Finnish-aware sentence splitter (abbreviations such as mm., puh., esim. and ordinal dates never end a sentence)."""

from __future__ import annotations

import re
from functools import lru_cache

# --------------------------------------------------------------------------------------------------
# Sentence splitting
# --------------------------------------------------------------------------------------------------

ABBREVIATIONS: frozenset[str] = frozenset(
    """
    mm esim puh ns n ks kts jne yms ym tms s dos prof klo tri ts vrt eli nk em ao oy ry milj mrd
    v huom nro n:o os mk lk ed alk yht engl ruots suom lyh
    k synt kuol lat kreik ransk saks ven esp ital kiin jap
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
# chained initials as names and acronyms write them: "George H.W. Bush", "A.I. Virtanen", "U.S. Census"
_INITIALS_RE = re.compile(r"(?:[A-ZÅÄÖ]\.)+[A-ZÅÄÖ]")
# an era after a year; it ends a sentence that says more than the date ("… noin vuonna 300 eaa. Nämä …"), not
# one that is the date alone, the adverbial opening a sentence: "Vuonna 587 eKr. Nebukadnessar II valloitti …"
ERAS: frozenset[str] = frozenset({"ekr", "jkr", "eaa", "jaa"})
_DATE_ONLY_RE = re.compile(
    r"(?:(?:noin|n\.|jo|vasta|ennen|vuonna|vuosina|vuodesta|vuoteen|viimeistään)\s+)*"
    r"\d[\d\s\u2013-]*(?:-luvulla|-luvun\s+\w+)?\s+(?:ekr|jkr|eaa|jaa)"
)
_LABEL_BEFORE_RE = re.compile(r"(?:\b[A-ZÅÄÖ]\w*|\b(?i:sivu|kohta|liite|luku|kuva|taulukko|nro|numero|no))\s+\Z")


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
    if _INITIALS_RE.fullmatch(token):
        return False
    if low in ERAS:
        start = max(last_cut, text.rfind("\n", last_cut, m.start()) + 1)
        if _DATE_ONLY_RE.fullmatch(text[start : m.start()].strip().lower()):
            return False
    if token.isdigit():
        # "1. Johdanto": a number that is the whole sentence so far is list numbering, not an end
        start = max(last_cut, text.rfind("\n", last_cut, m.start()) + 1)
        while start < m.start() and text[start].isspace():
            start += 1
        if start == m.start() - len(token):
            return False
        # one or two digits and a period is a Finnish ordinal ("5. 6. 2023", "Oulu on 5. Suomen suurin"), never
        # an end, unless a label names it: "Liite 2.", "sivu 12."
        label = _LABEL_BEFORE_RE.search(text, max(last_cut, m.start() - 40), m.start() - len(token))
        if len(token) <= 2 and not label:
            return False
    return True


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` in ``text``; trimmed; together they cover every non-space char once."""
    return list(_spans(text))


@lru_cache(maxsize=8192)  # an answer splits the same retrieved passages in three places
def _spans(text: str) -> tuple[tuple[int, int], ...]:
    if not text or text.isspace():
        return ()
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
    return tuple(spans)


# --------------------------------------------------------------------------------------------------
# Headings
# --------------------------------------------------------------------------------------------------

STATEMENT_END = ".!?…:;)\"”»"  # what a statement (not a heading) ends with


def is_heading(sentence: str, title: str = "") -> bool:
    """A title or heading line, not a statement: short, no terminal punctuation, no clause or label
    punctuation inside ("Lisätietoa: Projektipäällikkö …, puh. 040 …" is a statement) — or the document's own
    ``title`` repeated as a line (an HTML page's <h1>, a Markdown "# …"), even with a colon ("Rahoitushaku:
    kiertotalouden kehittämishankkeet 2025")."""
    text = sentence.rstrip()
    if text[-1:] not in STATEMENT_END and len(text.split()) <= 10 and not any(ch in text for ch in ",:;@"):
        return True

    def norm(line: str) -> str:
        return " ".join(line.strip().lstrip("#").split()).casefold()

    return bool(title.strip()) and norm(sentence) == norm(title)
