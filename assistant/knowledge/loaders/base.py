"""What every loader shares: the result types, the error with its human reasons, the limits, the kind tables."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

SUFFIX_KIND = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
KIND_MIME = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": DOCX_MIME,
}
MIME_KIND = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    DOCX_MIME: "docx",
}

# Hostile-document bounds: a small file must not expand into unbounded text, memory or time. A PDF whose
# pages share one compressed content stream, or a DOCX of dense XML, is a few kB on disk and gigabytes of
# text. 5 M characters is ~2,000 pages of prose (~12,000 chunks); the time budget is checked between
# pages / paragraphs.
MAX_FILE_BYTES = 50_000_000
MAX_TEXT_CHARS = 5_000_000
MAX_LOAD_SECONDS = 120.0


class LoadError(Exception):
    """A source could not be loaded; ``reason`` is a short human sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Loaded:
    text: str  # extracted original text (not normalised)
    pages: list[tuple[int, int, int]]  # (start, end, page_number >= 1) spans into text; [] when not paged
    title: str | None
    kind: str  # "txt" | "md" | "html" | "pdf" | "docx" | "url"
    content_type: str | None = None


@dataclass
class Fetched:
    loaded: Loaded | None  # None when not modified (HTTP 304)
    etag: str | None
    last_modified: str | None
    not_modified: bool


def human_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.0f} MB" if n >= 10_000_000 else f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.0f} kB"
    return f"{n} bytes"


def too_large(size: int, limit: int) -> LoadError:
    return LoadError(f"file too large ({human_size(size)} > {human_size(limit)} limit)")


def too_much_text(chars: int, limit: int) -> LoadError:
    return LoadError(f"too much text (over {limit:,} characters; read {chars:,})".replace(",", " "))


def too_slow(seconds: float, done: str) -> LoadError:
    return LoadError(f"took too long to read (over {seconds:g} s; {done})")


def short(exc: BaseException, limit: int = 160) -> str:
    """An exception as one line of at most ``limit`` characters, for a reason shown in the UI."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= limit else msg[: limit - 1] + "…"


def suffix_of(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return media or None


def charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.I)
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1)).name
    except LookupError:
        return None
