"""Turn source files, uploads and URLs into plain text.

Every loader returns a :class:`Loaded` whose ``text`` is the extracted *original*
text: callers normalise it themselves and keep character offsets into it.  Paged
formats (PDF) also report ``pages`` spans ``(start, end, page_number)`` into that
text so a passage can be cited by page.

Anything that cannot be turned into useful text raises :class:`LoadError` with a
short, human-readable ``reason`` suitable for showing in the UI or a refresh log.
"""

from __future__ import annotations

import codecs
import html as html_mod
import importlib
import io
import logging
import math
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LOAD_SECONDS",
    "MAX_TEXT_CHARS",
    "SUPPORTED_SUFFIXES",
    "Fetched",
    "LoadError",
    "Loaded",
    "fetch_url",
    "load_bytes",
    "load_file",
    "parse_bytes",
    "parse_file",
]

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}

# pypdf logs (and warns) loudly about slightly malformed but perfectly readable PDFs.
logging.getLogger("pypdf").setLevel(logging.ERROR)

log = logging.getLogger(__name__)

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_SUFFIX_KIND = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
_KIND_MIME = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": DOCX_MIME,
}
_MIME_KIND = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    DOCX_MIME: "docx",
}

# Zip-bomb limits for DOCX (which is a zip archive).
_ZIP_MAX_TOTAL = 200_000_000
_ZIP_MAX_RATIO = 100
_ZIP_RATIO_MIN_SIZE = 1_000_000  # tiny, very repetitive XML parts legitimately compress > 100x
# word/document.xml is parsed into memory whole (~5x its size); images etc. in the zip are never parsed.
_DOCX_MAX_XML = 64_000_000

# Hostile-document bounds: a small file must not expand into unbounded text, memory or time. A PDF whose
# pages share one compressed content stream, or a DOCX of dense XML, is a few kB on disk and gigabytes of
# text. 5 M characters is ~2,000 pages of prose (~12,000 chunks); the time budget is checked between
# pages / paragraphs.
MAX_FILE_BYTES = 50_000_000
MAX_TEXT_CHARS = 5_000_000
MAX_LOAD_SECONDS = 120.0

_USER_AGENT = "ELMO-assistant/0.1 (+document refresh)"


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


# --------------------------------------------------------------------------- helpers


def _human_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.0f} MB" if n >= 10_000_000 else f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.0f} kB"
    return f"{n} bytes"


def _too_large(size: int, limit: int) -> LoadError:
    return LoadError(f"file too large ({_human_size(size)} > {_human_size(limit)} limit)")


def _too_much_text(chars: int, limit: int) -> LoadError:
    return LoadError(f"too much text (over {limit:,} characters; read {chars:,})".replace(",", " "))


def _too_slow(seconds: float, done: str) -> LoadError:
    return LoadError(f"took too long to read (over {seconds:g} s; {done})")


def _short(exc: BaseException, limit: int = 160) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= limit else msg[: limit - 1] + "…"


def _suffix_of(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return media or None


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.I)
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1)).name
    except LookupError:
        return None


# --------------------------------------------------------------------------- text

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BINARY = "not a text file (binary content)"


def _decode_text(data: bytes, charset: str | None = None) -> str:
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


def _load_text(data: bytes, kind: str, charset: str | None) -> Loaded:
    text = _decode_text(data, charset)
    if _looks_binary(data, text):
        raise LoadError(_BINARY)
    if not text.strip():
        raise LoadError("empty file")
    title = None
    if kind == "md":
        # trailing '#'s are stripped in Python: `(.+?)[ \t#]*$` backtracks quadratically on a long line
        m = re.search(r"^ {0,3}#{1,6}[ \t]+(.+)$", text, re.M)
        if m:
            title = m.group(1).rstrip(" \t#").strip() or None
    return Loaded(text=text, pages=[], title=title, kind=kind, content_type=_KIND_MIME[kind])


# --------------------------------------------------------------------------- html

_HTML_DROP_TAGS = frozenset(
    "script style noscript template svg nav header footer aside form iframe head "
    "button select option object embed canvas dialog".split()
)
_HTML_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo"})
_HTML_DROP_ATTR_RE = re.compile(r"(?:^|[\s_-])(?:nav|menu|breadcrumb|cookie|footer|sidebar)", re.I)
_HTML_BLOCK_TAGS = frozenset(
    "p div section article main h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr table thead tbody tfoot "
    "blockquote pre figure figcaption address hr caption details summary body center fieldset "
    "legend".split()
)
_HTML_NEVER_DROP = frozenset({"html", "body", "main", "article"})
_META_CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)

_PARA = object()  # paragraph break token
_CELL = object()  # table-cell separator token


def _decode_html(data: bytes, charset: str | None) -> str:
    if not charset:
        m = _META_CHARSET_RE.search(data[:8192])
        if m:
            try:
                charset = codecs.lookup(m.group(1).decode("ascii", "ignore")).name
            except LookupError:
                charset = None
    return _decode_text(data, charset)


def _attr_text(value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value) if value is not None else ""


def _is_dropped(tag: object, strict: bool) -> bool:
    name = getattr(tag, "name", None)
    if name in _HTML_DROP_TAGS:
        return True
    if not strict or name in _HTML_NEVER_DROP:
        return False
    attrs = getattr(tag, "attrs", None) or {}
    if str(attrs.get("role", "")).strip().lower() in _HTML_DROP_ROLES:
        return True
    if attrs.get("aria-hidden") == "true":
        return True
    for key in ("class", "id"):
        if key in attrs and _HTML_DROP_ATTR_RE.search(_attr_text(attrs[key])):
            return True
    return False


def _html_tokens(root: object, strict: bool) -> list[object]:
    """Walk the tree with an explicit stack (no recursion) and emit text/break tokens."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    skip_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    out: list[object] = []
    # stack items: (node, entering, in_pre)
    stack: list[tuple[object, bool, bool]] = [(root, True, False)]
    while stack:
        node, entering, in_pre = stack.pop()
        if isinstance(node, NavigableString):
            if isinstance(node, skip_strings):
                continue
            s = str(node)
            out.append(s if in_pre else re.sub(r"\s+", " ", s))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if not entering:
            if name in _HTML_BLOCK_TAGS:
                out.append(_PARA)
            continue
        if node is not root and _is_dropped(node, strict):
            continue
        if name == "br":
            out.append("\n")
            continue
        if name in _HTML_BLOCK_TAGS:
            out.append(_PARA)
        if name == "li":
            out.append("- ")
        elif name in ("td", "th"):
            out.append(_CELL)
        elif name == "img":
            alt = str(node.get("alt") or "").strip()
            if alt:
                out.append(f" {alt} ")
        child_pre = in_pre or name in ("pre", "textarea")
        stack.append((node, False, in_pre))
        for child in reversed(node.contents):
            stack.append((child, True, child_pre))
    return out


def _assemble(tokens: list[object]) -> str:
    blocks: list[str] = []
    cur: list[str] = []

    def flush() -> None:
        if cur:
            lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", ln).strip() for ln in "".join(cur).split("\n"))
            block = "\n".join(ln for ln in lines if ln and ln not in ("-", "|"))
            if block and block != "- ":
                blocks.append(block)
            cur.clear()

    for tok in tokens:
        if tok is _PARA:
            flush()
        elif tok is _CELL:
            if "".join(cur).strip():
                cur.append(" | ")
        else:
            cur.append(str(tok))
    flush()
    # drop list bullets that ended up without any text
    return "\n\n".join(b for b in blocks if b.strip("- |"))


def _regex_strip_html(html: str) -> str:
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    html = re.sub(
        r"(?is)<(head|script|style|noscript|template|svg|nav|header|footer|aside|form|iframe)\b.*?</\1\s*>",
        " ",
        html,
    )
    html = re.sub(r"(?i)<br\s*/?>", "\n", html)
    html = re.sub(r"(?i)</?(p|div|section|article|li|h[1-6]|tr|table|ul|ol|blockquote)\b[^>]*>", "\n\n", html)
    text = re.sub(r"(?s)<[^>]*>", " ", html)
    text = html_mod.unescape(text)
    paras = []
    for para in re.split(r"\n\s*\n", text):
        lines = [re.sub(r"[ \t\r\f\v\xa0]+", " ", ln).strip() for ln in para.split("\n")]
        para = "\n".join(ln for ln in lines if ln)
        if para:
            paras.append(para)
    return "\n\n".join(paras)


def _html_title(soup: object) -> str | None:
    find = soup.find  # type: ignore[attr-defined]
    for tag_name in ("title", "h1"):
        tag = find(tag_name)
        if tag is not None:
            title = " ".join(tag.get_text(" ").split())
            if title:
                return title
    return None


def _html_root(soup: object) -> object:
    find = soup.find  # type: ignore[attr-defined]
    main = find("main") or find(attrs={"role": "main"})
    if main is not None:
        return main
    articles = soup.find_all("article", limit=2)  # type: ignore[attr-defined]
    if len(articles) == 1:
        return articles[0]
    return find("body") or soup


def _load_html(data: bytes, charset: str | None) -> Loaded:
    html = _decode_html(data, charset)
    if "\x00" in html[:65536]:
        raise LoadError(_BINARY)
    title: str | None = None
    try:
        from bs4 import BeautifulSoup

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "lxml")
        title = _html_title(soup)
        root = _html_root(soup)
        text = _assemble(_html_tokens(root, strict=True))
        if not text:
            # class-name heuristics can be too eager (e.g. <div class="has-sidebar"> wrapping everything)
            text = _assemble(_html_tokens(root, strict=False))
    except RecursionError:
        log.warning("HTML too deeply nested for the parser; falling back to tag stripping")
        text = _regex_strip_html(html)
        if title is None:
            m = re.search(r"(?is)<title[^>]*>(.*?)</title>", html)
            title = (" ".join(m.group(1).split()) or None) if m else None
    if not text.strip():
        raise LoadError("HTML page has no text content")
    return Loaded(text=text, pages=[], title=title, kind="html", content_type="text/html")


# --------------------------------------------------------------------------- pdf


def _load_pdf(
    data: bytes, max_pages: int, max_chars: int = MAX_TEXT_CHARS, max_seconds: float = MAX_LOAD_SECONDS
) -> Loaded:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    if b"%PDF" not in data[:1024]:
        raise LoadError("PDF is corrupt: no PDF header")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(io.BytesIO(data))
        except Exception as e:  # pypdf raises a zoo of exception types on broken input
            raise LoadError(f"PDF is corrupt: {_short(e)}") from e
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
            raise LoadError(f"PDF is corrupt: {_short(e)}") from e
        if n_pages > max_pages:
            raise LoadError(f"PDF has {n_pages} pages (limit {max_pages})")
        if n_pages == 0:
            raise LoadError("PDF is corrupt: no pages")

        parts: list[str] = []
        pages: list[tuple[int, int, int]] = []
        pos = 0
        failures = 0
        deadline = time.monotonic() + max_seconds
        for i in range(n_pages):
            if pos > max_chars:
                raise _too_much_text(pos, max_chars)
            if time.monotonic() > deadline:
                raise _too_slow(max_seconds, f"{i} of {n_pages} pages read")
            try:
                page_text = reader.pages[i].extract_text() or ""
            except Exception as e:
                failures += 1
                log.debug("pypdf could not extract page %d: %s", i + 1, e)
                continue
            page_text = page_text.strip()
            if not page_text:
                continue  # blank/scanned page: no span, no separator
            if parts:
                parts.append("\n\n")
                pos += 2
            parts.append(page_text)
            pages.append((pos, pos + len(page_text), i + 1))
            pos += len(page_text)
        if pos > max_chars:
            raise _too_much_text(pos, max_chars)
        if not parts:
            if failures == n_pages:
                raise LoadError("PDF is corrupt: no page could be read")
            raise LoadError("PDF has no extractable text (scanned?)")

        title: str | None = None
        try:
            meta = reader.metadata
            if meta is not None and meta.title:
                title = " ".join(str(meta.title).split()) or None
        except Exception:
            title = None
    return Loaded(text="".join(parts), pages=pages, title=title, kind="pdf", content_type="application/pdf")


# --------------------------------------------------------------------------- docx


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as e:
        raise LoadError(f"DOCX is corrupt: {_short(e)}") from e
    total = 0
    for info in infos:
        total += info.file_size
        if total > _ZIP_MAX_TOTAL:
            raise LoadError("archive expands too much (zip bomb?)")
        if info.filename == "word/document.xml" and info.file_size > _DOCX_MAX_XML:
            raise LoadError(
                f"DOCX text part too large ({_human_size(info.file_size)} > {_human_size(_DOCX_MAX_XML)} limit)"
            )
        if info.file_size >= _ZIP_RATIO_MIN_SIZE and info.file_size > _ZIP_MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise LoadError("archive expands too much (zip bomb?)")


def _docx_blocks(container: object, depth: int = 0) -> Iterator[tuple[str, str | None]]:
    """Yield (text, style_name) blocks in document order: paragraphs and table rows."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in container.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(item, Paragraph):
            text = item.text
            if text.strip():
                style = None
                try:
                    style = item.style.name if item.style is not None else None
                except Exception:
                    style = None
                yield text.strip(), style
        elif isinstance(item, Table) and depth < 5:
            for row in item.rows:
                cells: list[str] = []
                seen: set[int] = set()
                nested: list[tuple[str, str | None]] = []
                try:
                    row_cells = row.cells
                except Exception:
                    continue
                for cell in row_cells:
                    if id(cell._tc) in seen:  # merged cells repeat the same <w:tc>
                        continue
                    seen.add(id(cell._tc))
                    cell_paras: list[str] = []
                    for sub_text, sub_style in _docx_blocks(cell, depth + 1):
                        if sub_style == "__table_row__":
                            nested.append((sub_text, sub_style))
                        else:
                            cell_paras.append(sub_text)
                    cell_text = " ".join(" ".join(cell_paras).split())
                    if cell_text:
                        cells.append(cell_text)
                if cells:
                    yield " | ".join(cells), "__table_row__"
                yield from nested


def _load_docx(data: bytes, max_chars: int = MAX_TEXT_CHARS, max_seconds: float = MAX_LOAD_SECONDS) -> Loaded:
    _check_zip(data)
    try:
        import docx

        deadline = time.monotonic() + max_seconds
        document = docx.Document(io.BytesIO(data))
        blocks: list[tuple[str, str | None]] = []
        chars = 0
        for block in _docx_blocks(document):
            blocks.append(block)
            chars += len(block[0]) + 2
            if chars > max_chars:
                raise _too_much_text(chars, max_chars)
            if len(blocks) % 256 == 0 and time.monotonic() > deadline:
                raise _too_slow(max_seconds, f"{len(blocks)} paragraphs read")
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(f"DOCX is corrupt: {_short(e)}") from e

    title: str | None = None
    try:
        core_title = document.core_properties.title
        if core_title and core_title.strip():
            title = " ".join(core_title.split())
    except Exception:
        title = None
    if title is None:
        for text, style in blocks:
            if style and (style.startswith("Heading") or style == "Title"):
                title = " ".join(text.split())
                break
    text = "\n\n".join(t for t, _ in blocks)
    if not text.strip():
        raise LoadError("DOCX has no text content")
    return Loaded(text=text, pages=[], title=title, kind="docx", content_type=DOCX_MIME)


# --------------------------------------------------------------------------- dispatch


def _sniff(data: bytes) -> str | None:
    head = data[:2048]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if "word/document.xml" in zf.namelist():
                    return "docx"
        except Exception:
            return None
        return None
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered:
        return "html"
    return None


def _resolve_kind(name: str, content_type: str | None, data: bytes) -> str:
    suffix = _suffix_of(name)
    suffix_kind = _SUFFIX_KIND.get(suffix)
    media = _media_type(content_type)
    mime_kind = _MIME_KIND.get(media) if media else None
    if mime_kind == "txt" and suffix_kind == "md":
        return "md"
    if mime_kind is not None:
        return mime_kind
    if suffix_kind is not None:
        return suffix_kind
    sniffed = _sniff(data)
    if sniffed is not None:
        return sniffed
    if suffix:
        raise LoadError(f"unsupported file type {suffix}")
    if media:
        raise LoadError(f"unsupported content type {media}")
    raise LoadError("unsupported file type (no file extension)")


def _load_kind(kind: str, data: bytes, content_type: str | None, max_pages: int) -> Loaded:
    if not data.strip():
        raise LoadError("empty file")
    if kind in ("txt", "md"):
        loaded = _load_text(data, kind, _charset(content_type))
    elif kind == "html":
        loaded = _load_html(data, _charset(content_type))
    elif kind == "pdf":
        loaded = _load_pdf(data, max_pages)
    elif kind == "docx":
        loaded = _load_docx(data)
    else:  # pragma: no cover
        raise LoadError(f"unsupported file type {kind}")
    if len(loaded.text) > MAX_TEXT_CHARS:
        raise _too_much_text(len(loaded.text), MAX_TEXT_CHARS)
    return loaded


def load_bytes(
    data: bytes,
    *,
    name: str,
    content_type: str | None = None,
    max_pages: int = 2000,
) -> Loaded:
    """Load in-memory content (uploads, fetched URLs).

    The loader is chosen from ``content_type`` when it is a recognised, specific media
    type, else from the suffix of ``name``, else by sniffing the bytes (PDF/DOCX/HTML).
    """
    kind = _resolve_kind(name, content_type, data)
    return _load_kind(kind, data, content_type, max_pages)


def load_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES, max_pages: int = 2000) -> Loaded:
    """Load a file from disk; the loader is chosen by its (case-insensitive) suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    kind = _SUFFIX_KIND.get(suffix)
    if kind is None:
        raise LoadError(
            f"unsupported file type {suffix}" if suffix else "unsupported file type (no file extension)"
        )
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise LoadError("file not found") from e
    except OSError as e:
        raise LoadError(f"cannot read file: {_short(e)}") from e
    if not path.is_file():
        raise LoadError("not a regular file")
    if st.st_size > max_bytes:
        raise _too_large(st.st_size, max_bytes)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as e:
        raise LoadError(f"cannot read file: {_short(e)}") from e
    if len(data) > max_bytes:  # grew after stat
        raise _too_large(len(data), max_bytes)
    return _load_kind(kind, data, None, max_pages)


# --------------------------------------------------------------------------- isolated parsing
# A hostile document can make a parser run for minutes (python-docx walks vertically merged table cells in
# O(rows³)) or take gigabytes (dense XML), which in-loop budgets cannot stop. So parsing runs in a worker
# process with a hard wall-clock limit (the parent stops waiting and kills it) and an address-space limit
# (RLIMIT_AS, set in the worker); only the extracted text comes back. One worker is reused across files and
# replaced after a kill. A fresh interpreter, not a fork: a forked child would inherit the server's threads,
# locks and whole address space (which RLIMIT_AS counts). Started with subprocess and spoken to over a
# multiprocessing Connection rather than a multiprocessing 'spawn' Process, because spawn re-runs the
# parent's __main__ script in the child (a caller's script without a main guard would recurse).

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
_PRELOAD = ("docx", "pypdf", "bs4", "lxml.etree")  # imported at start, not on the first document's clock
_WORKER_START_S = 60.0
_RECYCLE_PEAK = 0.9  # a worker whose peak address space came this close to the limit is replaced
_RECYCLE_RSS = 256 * 1024 * 1024  # ... as is one still holding this much (freed memory is rarely returned)
# Plain text is decoded in-process up to this size: linear work, ~1 ms per 100 kB; bigger goes to the worker.
INPROCESS_TEXT_BYTES = 1_000_000


def _proc_status(field: str) -> int:
    """A ``Vm*`` field of /proc/self/status in bytes (0 when unknown)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _out_of_memory(exc: BaseException | None, limit: int) -> bool:
    """A failure caused by the address-space limit, however the parser wrapped it."""
    while exc is not None:
        if isinstance(exc, MemoryError) or "memory allocation failed" in str(exc).lower():
            return True  # lxml reports a failed malloc as an XMLSyntaxError
        exc = exc.__cause__ or exc.__context__
    return _proc_status("VmPeak") >= _RECYCLE_PEAK * limit


def _parse_job(op: str, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int) -> tuple[str, Any]:
    fn = load_file if op == "file" else load_bytes
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any parser failure is this document's failure
        if _out_of_memory(exc, limit):
            return "memory", None
        return "error", exc.reason if isinstance(exc, LoadError) else f"{type(exc).__name__}: {_short(exc)}"


def _worker_main(fd: int, memory_mb: int) -> None:
    """The parsing worker: answers (op, args, kwargs, timeout_s) jobs with (status, value, recycle) until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then stops us
    conn = Connection(fd)
    for name in _PRELOAD:
        importlib.import_module(name)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready", None, False))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        op, args, kwargs, timeout_s = job
        # the parent kills us at timeout_s; the alarm (default action: terminate) ends an orphaned worker too
        signal.alarm(math.ceil(timeout_s) + 5)
        status, value = _parse_job(op, args, kwargs, limit)
        signal.alarm(0)
        recycle = (
            status == "memory"
            or _proc_status("VmPeak") >= _RECYCLE_PEAK * limit
            or _proc_status("VmRSS") >= _RECYCLE_RSS
        )
        conn.send((status, value, recycle))
        if recycle:
            return


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class ParseWorker:
    """One long-lived parsing process with an address-space limit; each job has a wall-clock limit."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.starts = 0  # processes started so far (tests and measurements read these two)
        self.jobs = 0  # documents sent to a process
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    def run(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float) -> Loaded:
        with self._lock:
            conn = self._ensure()
            self.jobs += 1
            try:
                conn.send((op, args, kwargs, timeout_s))
                ready = conn.poll(timeout_s)
            except (OSError, EOFError):
                ready = True  # the worker is gone: recv below says how
            if not ready:
                self._stop(kill=True)
                raise LoadError(f"parsing took longer than {timeout_s:g} s")
            try:
                status, value, recycle = conn.recv()
            except (EOFError, OSError):
                code = self._stop(kill=True)
                died = _exit_description(code)
                raise LoadError(f"parsing failed: the parser process died ({died})") from None
            if recycle:
                self._stop(kill=False)
        if status == "ok":
            return value
        if status == "memory":
            raise LoadError(f"parsing needed more than {self.memory_mb} MB")
        raise LoadError(value)

    def close(self) -> None:
        with self._lock:
            self._stop(kill=False)

    def _ensure(self) -> Connection:
        if self._proc is not None and self._proc.poll() is None and self._conn is not None:
            return self._conn
        self._stop(kill=True)
        ours, theirs = socket.socketpair()
        code = f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); import assistant.knowledge.loaders as m; m._worker_main"
        with ours, theirs:
            proc = subprocess.Popen(
                [sys.executable, "-c", f"{code}({theirs.fileno()}, {self.memory_mb})"],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
            parent = Connection(ours.detach())
        self.starts += 1
        self._proc, self._conn = proc, parent
        try:
            if parent.poll(_WORKER_START_S) and parent.recv()[0] == "ready":
                return parent
        except (EOFError, OSError):
            pass
        code = self._stop(kill=True)
        raise LoadError(f"the document parser could not start ({_exit_description(code)})")

    def _stop(self, kill: bool) -> int | None:
        """Stop the worker (kill: at once; else ask it to finish) → its exit code."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            if not kill and proc is not None and proc.poll() is None:
                try:
                    conn.send(None)
                except OSError:
                    pass
            conn.close()
        if proc is None:
            return None
        if kill:
            proc.kill()
        try:
            return proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


_worker: ParseWorker | None = None
_worker_lock = threading.Lock()


def parse_worker(memory_mb: int) -> ParseWorker:
    """The process-wide parsing worker for this memory limit (replaced when the limit changes)."""
    global _worker
    with _worker_lock:
        if _worker is None or _worker.memory_mb != memory_mb:
            if _worker is not None:
                _worker.close()
            _worker = ParseWorker(memory_mb)
        return _worker


def _small_text_file(path: Path) -> bool:
    if _SUFFIX_KIND.get(path.suffix.lower()) not in ("txt", "md"):
        return _SUFFIX_KIND.get(path.suffix.lower()) is None  # unsupported: load_file refuses it at once
    try:
        return path.stat().st_size <= INPROCESS_TEXT_BYTES
    except OSError:
        return True  # load_file reports the error


def parse_file(
    path: Path, *, timeout_s: float, memory_mb: int, max_bytes: int = MAX_FILE_BYTES, max_pages: int = 2000
) -> Loaded:
    """``load_file`` with hard limits: in the parsing worker, except small plain text (decoded here)."""
    path = Path(path)
    kwargs = {"max_bytes": max_bytes, "max_pages": max_pages}
    if _small_text_file(path):
        return load_file(path, **kwargs)
    return parse_worker(memory_mb).run("file", (path,), kwargs, timeout_s)


def parse_bytes(
    data: bytes,
    *,
    name: str,
    content_type: str | None = None,
    timeout_s: float,
    memory_mb: int,
    max_pages: int = 2000,
) -> Loaded:
    """``load_bytes`` with hard limits: in the parsing worker, except small plain text (decoded here)."""
    kwargs = {"name": name, "content_type": content_type, "max_pages": max_pages}
    if len(data) <= INPROCESS_TEXT_BYTES and _resolve_kind(name, content_type, data) in ("txt", "md"):
        return load_bytes(data, **kwargs)
    return parse_worker(memory_mb).run("bytes", (data,), kwargs, timeout_s)


# --------------------------------------------------------------------------- urls


def _url_name(url: str) -> str:
    path = unquote(urlsplit(url).path or "")
    return PurePosixPath(path).name or "index"


def fetch_url(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,
    max_bytes: int = MAX_FILE_BYTES,
    parse: Callable[..., Loaded] = load_bytes,
) -> Fetched:
    """GET ``url`` (conditional when ``etag``/``last_modified`` are given) and load it.

    Returns ``Fetched(not_modified=True, loaded=None)`` on HTTP 304.  The returned
    ``Loaded.kind`` is ``"url"``; ``Loaded.content_type`` is the served media type.
    ``parse(data, name=, content_type=)`` turns the body into text (``parse_bytes`` isolates it).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise LoadError(f"unsupported URL scheme {scheme or '(none)'}")
    headers = {"User-Agent": _USER_AGENT, "Accept": "text/html,application/pdf,text/plain,*/*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with (
            httpx.Client(follow_redirects=True, timeout=timeout, max_redirects=10) as client,
            client.stream("GET", url, headers=headers) as resp,
        ):
            new_etag = resp.headers.get("etag") or None
            new_lm = resp.headers.get("last-modified") or None
            if resp.status_code == 304:
                return Fetched(
                    loaded=None,
                    etag=new_etag or etag,
                    last_modified=new_lm or last_modified,
                    not_modified=True,
                )
            if not 200 <= resp.status_code < 300:
                raise LoadError(f"HTTP {resp.status_code}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(int(declared), max_bytes)
            buf = bytearray()
            for chunk in resp.iter_bytes():
                buf.extend(chunk)
                if len(buf) > max_bytes:
                    raise _too_large(len(buf), max_bytes)
            content_type = resp.headers.get("content-type")
            final_url = str(resp.url)
    except httpx.TooManyRedirects as e:
        raise LoadError("too many redirects") from e
    except httpx.TimeoutException as e:
        raise LoadError(f"unreachable: timed out after {timeout:g} s") from e
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
        raise LoadError(f"invalid URL: {_short(e)}") from e
    except httpx.HTTPError as e:
        raise LoadError(f"unreachable: {_short(e)}") from e
    except LoadError:
        raise
    except (OSError, ValueError) as e:  # e.g. malformed URL parts rejected by the stack
        raise LoadError(f"unreachable: {_short(e)}") from e

    loaded = parse(bytes(buf), name=_url_name(final_url), content_type=content_type)
    loaded.kind = "url"
    loaded.content_type = _media_type(content_type) or loaded.content_type
    return Fetched(loaded=loaded, etag=new_etag, last_modified=new_lm, not_modified=False)
