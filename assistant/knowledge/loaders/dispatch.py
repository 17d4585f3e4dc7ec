"""Choosing the loader for a file or for bytes (by suffix, media type or content) and running it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from assistant.knowledge.loaders.base import (
    MAX_FILE_BYTES,
    MAX_TEXT_CHARS,
    MIME_KIND,
    SUFFIX_KIND,
    Loaded,
    LoadError,
    charset_of,
    media_type,
    short,
    suffix_of,
    too_large,
    too_much_text,
)
from assistant.knowledge.loaders.docx import load_docx
from assistant.knowledge.loaders.html import load_html
from assistant.knowledge.loaders.pdf import load_pdf
from assistant.knowledge.loaders.text import load_text


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


def resolve_kind(name: str, content_type: str | None, data: bytes) -> str:
    suffix = suffix_of(name)
    suffix_kind = SUFFIX_KIND.get(suffix)
    media = media_type(content_type)
    mime_kind = MIME_KIND.get(media) if media else None
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
        loaded = load_text(data, kind, charset_of(content_type))
    elif kind == "html":
        loaded = load_html(data, charset_of(content_type))
    elif kind == "pdf":
        loaded = load_pdf(data, max_pages)
    elif kind == "docx":
        loaded = load_docx(data)
    else:  # pragma: no cover
        raise LoadError(f"unsupported file type {kind}")
    if len(loaded.text) > MAX_TEXT_CHARS:
        raise too_much_text(len(loaded.text), MAX_TEXT_CHARS)
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
    kind = resolve_kind(name, content_type, data)
    return _load_kind(kind, data, content_type, max_pages)


def load_file(path: Path, *, max_bytes: int = MAX_FILE_BYTES, max_pages: int = 2000) -> Loaded:
    """Load a file from disk; the loader is chosen by its (case-insensitive) suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    kind = SUFFIX_KIND.get(suffix)
    if kind is None:
        raise LoadError(
            f"unsupported file type {suffix}" if suffix else "unsupported file type (no file extension)"
        )
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise LoadError("file not found") from e
    except OSError as e:
        raise LoadError(f"cannot read file: {short(e)}") from e
    if not path.is_file():
        raise LoadError("not a regular file")
    if st.st_size > max_bytes:
        raise too_large(st.st_size, max_bytes)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as e:
        raise LoadError(f"cannot read file: {short(e)}") from e
    if len(data) > max_bytes:  # grew after stat
        raise too_large(len(data), max_bytes)
    return _load_kind(kind, data, None, max_pages)
