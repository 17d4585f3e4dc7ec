"""Plain text and Markdown: decoding whatever encoding the bytes are in, refusing binary content."""

from __future__ import annotations

import codecs
import re

from assistant.knowledge.loaders.base import KIND_MIME, Loaded, LoadError

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
BINARY = "not a text file (binary content)"


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Decode text bytes: BOM → declared charset → UTF-8 → CP1252 → Latin-1. Never fails."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if charset:
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mostly-valid UTF-8 with a few broken bytes: keep UTF-8 rather than mojibake everything.
    loose = data.decode("utf-8", errors="replace")
    bad = loose.count("\ufffd")
    good = sum(1 for ch in loose if ord(ch) > 127) - bad
    if good > 0 and bad * 10 <= good:
        return loose
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _looks_binary(data: bytes, text: str) -> bool:
    sample = data[:65536]
    if b"\x00" in sample and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    head = text[:65536]
    if not head:
        return False
    controls = len(_CONTROL_RE.findall(head)) + head.count("\ufffd")
    return controls / len(head) > 0.05


def load_text(data: bytes, kind: str, charset: str | None) -> Loaded:
    text = decode_text(data, charset)
    if _looks_binary(data, text):
        raise LoadError(BINARY)
    if not text.strip():
        raise LoadError("empty file")
    title = None
    if kind == "md":
        # trailing '#'s are stripped in Python: `(.+?)[ \t#]*$` backtracks quadratically on a long line
        m = re.search(r"^ {0,3}#{1,6}[ \t]+(.+)$", text, re.M)
        if m:
            title = m.group(1).rstrip(" \t#").strip() or None
    return Loaded(text=text, pages=[], title=title, kind=kind, content_type=KIND_MIME[kind])
