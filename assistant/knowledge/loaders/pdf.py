"""PDF: the text of every page, with page spans so a passage can be cited by page."""

from __future__ import annotations

import io
import logging
import re
import time
import warnings
from typing import Any

from assistant.knowledge.loaders.base import (
    MAX_LOAD_SECONDS,
    MAX_TEXT_CHARS,
    Loaded,
    LoadError,
    short,
    too_much_text,
    too_slow,
)

# pypdf logs (and warns) loudly about slightly malformed but perfectly readable PDFs.
logging.getLogger("pypdf").setLevel(logging.ERROR)

log = logging.getLogger(__name__)


def _open(data: bytes, max_pages: int) -> tuple[Any, int]:
    """A reader over ``data`` (decrypted when it has no password) and its page count, or why not."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    if b"%PDF" not in data[:1024]:
        raise LoadError("PDF is corrupt: no PDF header")
    try:
        reader = PdfReader(io.BytesIO(data))
    except Exception as e:  # pypdf raises a zoo of exception types on broken input
        raise LoadError(f"PDF is corrupt: {short(e)}") from e
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")
        except DependencyError as e:
            raise LoadError("PDF is encrypted (AES; decryption support not installed)") from e
        except Exception as e:
            raise LoadError("PDF is encrypted") from e
        if ok == PasswordType.NOT_DECRYPTED:
            raise LoadError("PDF is encrypted")
    try:
        n_pages = len(reader.pages)
    except Exception as e:
        raise LoadError(f"PDF is corrupt: {short(e)}") from e
    if n_pages > max_pages:
        raise LoadError(f"PDF has {n_pages} pages (limit {max_pages})")
    if n_pages == 0:
        raise LoadError("PDF is corrupt: no pages")
    return reader, n_pages


def _title(reader: Any) -> str | None:
    try:
        meta = reader.metadata
        if meta is not None and meta.title:
            return " ".join(str(meta.title).split()) or None
    except Exception:
        pass
    return None


_TERMINAL = ".!?:;…"
_BULLET = re.compile(r"(?:[-–•*▪●]|\d{1,3}[.)])\s")
_COLUMNS = re.compile(r"\S {3,}\S")  # a layout line: "KAINUUN LIITTO        PÄÄTÖS 14/2025"
_WRAPPED = 0.7  # of the page's longest line: a line that long that ends mid-sentence was wrapped


def unwrap_lines(page: str) -> str:
    """A page's text with its printed line wrapping undone. PDF text comes line by line as printed: a
    sentence wrapped over two lines would otherwise read as two (the splitter takes a line break for a
    boundary), and a word hyphenated at a line end as two words. A line continues into the next when it
    ends mid-sentence and is long (wrapped by the layout), ends with a comma, or the next line opens in
    lower case; a line end hyphen between two lower-case letters is a break of one word ("varauspalvelu-" +
    "ja"), kept when the letters are the same vowel, as Finnish compounds write them ("linja-" + "auto").
    Headings, list items and column layouts keep their lines."""
    lines = page.split("\n")
    longest = max((len(line.strip()) for line in lines), default=0)
    out = [lines[0]]
    for line in lines[1:]:
        prev, nxt = out[-1].rstrip(), line.lstrip()
        if not prev or not nxt or prev[-1] in _TERMINAL or _BULLET.match(nxt) or _COLUMNS.search(prev):
            out.append(line)
            continue
        if prev[-1] == "-" and len(prev) > 1 and prev[-2].isalpha() and prev[-2].islower() and nxt[0].islower():
            if prev[-2] == nxt[0] and prev[-2] in "aeiouyäö":
                out[-1] = prev + nxt  # "linja-" + "auto": the compound's own hyphen
            else:
                out[-1] = prev[:-1] + nxt
            continue
        if prev[-1] == "," or nxt[0].islower() or len(prev) >= _WRAPPED * longest:
            out[-1] = f"{prev} {nxt}"
            continue
        out.append(line)
    return "\n".join(out)


def load_pdf(
    data: bytes, max_pages: int, max_chars: int = MAX_TEXT_CHARS, max_seconds: float = MAX_LOAD_SECONDS
) -> Loaded:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader, n_pages = _open(data, max_pages)
        parts: list[str] = []
        pages: list[tuple[int, int, int]] = []
        pos = 0
        failures = 0
        deadline = time.monotonic() + max_seconds
        for i in range(n_pages):
            if pos > max_chars:
                raise too_much_text(pos, max_chars)
            if time.monotonic() > deadline:
                raise too_slow(max_seconds, f"{i} of {n_pages} pages read")
            try:
                page_text = reader.pages[i].extract_text() or ""
            except Exception as e:
                failures += 1
                log.debug("pypdf could not extract page %d: %s", i + 1, e)
                continue
            page_text = unwrap_lines(page_text.strip())
            if not page_text:
                continue  # blank/scanned page: no span, no separator
            if parts:
                parts.append("\n\n")
                pos += 2
            parts.append(page_text)
            pages.append((pos, pos + len(page_text), i + 1))
            pos += len(page_text)
        if pos > max_chars:
            raise too_much_text(pos, max_chars)
        if not parts:
            if failures == n_pages:
                raise LoadError("PDF is corrupt: no page could be read")
            raise LoadError("PDF has no extractable text (scanned?)")
        title = _title(reader)
    return Loaded(text="".join(parts), pages=pages, title=title, kind="pdf", content_type="application/pdf")
