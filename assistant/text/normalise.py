"""Text normalisation that keeps exact offsets back into the original characters."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Normalised", "normalise"]


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


