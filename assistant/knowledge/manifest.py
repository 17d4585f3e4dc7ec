"""Source manifest (``sources.toml``) and source-file discovery.

The sources folder (``knowledge/``) may contain an optional ``sources.toml`` that
adds metadata to files and lists URL sources.  Files in the folder are indexed
whether or not they are listed; listing a file only adds metadata.

Format — one ``[[source]]`` table per source::

    [[source]]
    path = "elinkeinot-murroksessa.txt"     # a file relative to the sources folder, OR
    # url = "https://example.org/page.html" # a URL source fetched at refresh
    title = "Elinkeinot murroksessa"
    publisher = "Pohjois-Pohjanmaan liitto"
    language = "fi"
    date = "2019-05-01"    # publication date, only when the text states it

Rules:

* every entry has exactly one of ``path`` or ``url``;
* ``path`` is relative to the sources folder (``/`` separators; ``./`` is fine),
  must not be absolute nor escape the folder with ``..``; each path at most once;
* ``url`` must be ``http://`` or ``https://``; each URL at most once;
* ``title``, ``publisher``, ``language`` are strings; ``date`` is ``YYYY``,
  ``YYYY-MM`` or ``YYYY-MM-DD`` (a quoted string, or a bare TOML date);
* unknown keys are ignored with a logged warning.

Errors raise :class:`ManifestError` naming the file and the entry number and line.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from assistant.knowledge.loaders import SUPPORTED_SUFFIXES

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "ManifestError",
    "SourceMeta",
    "discover_files",
    "discover_sources",
    "read_manifest",
]

MANIFEST_NAME = "sources.toml"

log = logging.getLogger(__name__)

_KNOWN_KEYS = {"path", "url", "title", "publisher", "language", "date"}
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_ENTRY_RE = re.compile(r"^[ \t]*\[\[[ \t]*source[ \t]*\]\]", re.M)


class ManifestError(ValueError):
    """``sources.toml`` is invalid; the message names the file and the offending entry."""


@dataclass
class SourceMeta:
    path: str | None = None
    url: str | None = None
    title: str | None = None
    publisher: str | None = None
    language: str | None = None
    date: str | None = None

    def to_dict(self) -> dict[str, str]:
        """Fields that are set (``None`` values are omitted, e.g. for vector-store metadata)."""
        out = {
            "path": self.path,
            "url": self.url,
            "title": self.title,
            "publisher": self.publisher,
            "language": self.language,
            "date": self.date,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class Manifest:
    files: dict[str, SourceMeta] = field(default_factory=dict)  # key: posix path relative to sources dir
    urls: list[SourceMeta] = field(default_factory=list)


def _entry_lines(text: str) -> list[int]:
    """1-based line numbers of each ``[[source]]`` header, in order."""
    return [text.count("\n", 0, m.start()) + 1 for m in _ENTRY_RE.finditer(text)]


def _normalise_rel_path(raw: str) -> str | None:
    """Posix relative path, or None when it is absolute / escapes the folder / empty."""
    raw = raw.strip().replace("\\", "/")
    if not raw or raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        return None
    parts: list[str] = []
    for part in PurePosixPath(raw).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) or None


def read_manifest(sources_dir: Path) -> Manifest:
    """Read ``sources_dir/sources.toml``; a missing file gives an empty Manifest."""
    file = Path(sources_dir) / MANIFEST_NAME
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return Manifest()
    except OSError as e:
        raise ManifestError(f"{file}: cannot read: {e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{file}: not valid UTF-8 ({e.reason} at byte {e.start})") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"{file}: invalid TOML: {e}") from e

    unknown_top = set(data) - {"source"}
    if unknown_top:
        log.warning("%s: ignoring unknown top-level keys: %s", file, ", ".join(sorted(unknown_top)))
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise ManifestError(f"{file}: 'source' must be an array of tables written as [[source]]")

    lines = _entry_lines(text)
    manifest = Manifest()
    seen_urls: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        where = f"{file}: [[source]] entry #{i}"
        if i <= len(lines):
            where += f" (line {lines[i - 1]})"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: must be a table")
        meta = _parse_entry(entry, where)
        unknown = set(entry) - _KNOWN_KEYS
        if unknown:
            log.warning("%s: ignoring unknown keys: %s", where, ", ".join(sorted(unknown)))
        if meta.path is not None:
            if meta.path in manifest.files:
                raise ManifestError(f"{where}: path {meta.path!r} is listed more than once")
            manifest.files[meta.path] = meta
        else:
            assert meta.url is not None
            if meta.url in seen_urls:
                raise ManifestError(f"{where}: url {meta.url!r} is listed more than once")
            seen_urls.add(meta.url)
            manifest.urls.append(meta)
    return manifest


def _parse_entry(entry: dict[str, Any], where: str) -> SourceMeta:
    has_path = "path" in entry
    has_url = "url" in entry
    if has_path == has_url:
        which = "both" if has_path else "neither"
        raise ManifestError(f"{where}: must have exactly one of 'path' or 'url' (has {which})")

    def string(key: str) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ManifestError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
        value = value.strip()
        return value or None

    path: str | None = None
    url: str | None = None
    if has_path:
        raw_path = string("path")
        if raw_path is None:
            raise ManifestError(f"{where}: 'path' is empty")
        path = _normalise_rel_path(raw_path)
        if path is None:
            raise ManifestError(
                f"{where}: path {raw_path!r} must be relative and stay inside the sources folder"
            )
    else:
        url = string("url")
        if url is None or not re.match(r"^https?://[^\s/]+", url, re.I):
            raise ManifestError(f"{where}: url {entry.get('url')!r} must start with http:// or https://")

    date_value = entry.get("date")
    date: str | None
    if isinstance(date_value, _dt.datetime):
        date = date_value.date().isoformat()
    elif isinstance(date_value, _dt.date):
        date = date_value.isoformat()
    else:
        date = string("date")
        if date is not None and not _DATE_RE.match(date):
            raise ManifestError(f"{where}: date {date!r} must be YYYY, YYYY-MM or YYYY-MM-DD")

    return SourceMeta(
        path=path,
        url=url,
        title=string("title"),
        publisher=string("publisher"),
        language=string("language"),
        date=date,
    )


def discover_files(sources_dir: Path) -> list[Path]:
    """Every supported file under ``sources_dir`` (recursively), sorted by relative path.

    Skips hidden files and folders (``.*``), Office lock files (``~$*``), ``sources.toml``,
    broken symlinks and symlinks that resolve outside ``sources_dir``.  Symlinked folders
    are not descended into.  Returned paths are ``sources_dir / relative_path``.
    """
    return [path for _, path in discover_sources(sources_dir)]


def discover_sources(sources_dir: Path) -> list[tuple[str, Path]]:
    """``discover_files`` with each file's relative posix path: (relative path, path), sorted.

    ``os.scandir`` rather than ``os.walk`` + ``pathlib``: a directory entry knows its type without a
    ``stat`` per file, and no path is parsed twice (0.4 → 0.1 s for 10k files)."""
    root = Path(sources_dir)
    if not root.is_dir():
        return []
    root_resolved = root.resolve()
    found: list[tuple[str, str]] = []

    def walk(folder: str, prefix: str) -> None:
        try:
            listing = os.scandir(folder)
        except OSError:  # an unreadable folder is skipped, as os.walk does
            return
        with listing as entries:
            for entry in entries:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not name.startswith("."):
                        walk(entry.path, f"{prefix}{name}/")
                elif _wanted(name) and _inside(entry, root_resolved):
                    found.append((prefix + name, entry.path))

    walk(str(root), "")
    found.sort(key=lambda item: item[0])
    return [(rel, Path(path)) for rel, path in found]


def _wanted(name: str) -> bool:
    if name.startswith((".", "~$")) or name == MANIFEST_NAME:
        return False
    return os.path.splitext(name)[1].lower() in SUPPORTED_SUFFIXES


def _inside(entry: os.DirEntry[str], root_resolved: Path) -> bool:
    """A regular file, or a symlink to a file inside the sources folder."""
    if not entry.is_symlink():
        return entry.is_file(follow_symlinks=False)
    try:
        target = Path(entry.path).resolve(strict=True)
    except (OSError, RuntimeError):
        return False  # broken or looping link
    return target.is_relative_to(root_resolved) and target.is_file()
