"""The one upload policy, for the JSON API and the web UI alike.

At most ``MAX_UPLOAD_FILES`` files a time, each a supported type, within ``max_upload_mb``, not empty, with a
usable name and readable (parsed in the limited worker). Every file is checked before any is saved, and
one refused file refuses them all (:class:`UploadRefused` carries every reason). Checked files wait as
hidden temporary files beside their targets and are then moved in place atomically.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from assistant.config import Settings
from assistant.i18n import reason_text, t
from assistant.knowledge.loaders import SUPPORTED_SUFFIXES, LoadError, parse_file

MAX_UPLOAD_FILES = 20
UPLOAD_DIR = "uploads"
REQUEST_OVERHEAD = 65536  # multipart boundaries and headers of an API upload request, beyond its files
GRADIO_REQUEST_OVERHEAD = 1024 * 1024  # the same for Gradio's upload route (the admin tab's files)
MAX_NAME_BYTES = 200  # of an uploaded file's name in UTF-8; leaves room below the usual 255-byte limit


class AdminError(Exception):
    """An admin action refused; ``status`` for the API, ``message(lang)`` for people."""

    def __init__(self, code: str, status: int, **params: Any):
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params

    def message(self, language: str = "en") -> str:
        params = dict(self.params)
        if "reason" in params:  # a loader's English reason, in the reader's language
            params["reason"] = reason_text(params["reason"], language)
        return t(f"admin.{self.code}", language, **params)


class UploadRefused(AdminError):
    """Some files of an upload were refused, so none was saved; ``errors`` has every file's reason."""

    def __init__(self, errors: list[AdminError]):
        first = errors[0]
        super().__init__(first.code, first.status, **first.params)
        self.errors = errors


def _mb(size: int) -> str:
    return f"{size / 1048576:.1f}"


def shown_name(name: str) -> str:
    return PurePosixPath(str(name).replace("\\", "/")).name or "?"


def max_file_bytes(settings: Settings) -> int:
    return settings.max_upload_mb * 1024 * 1024


def max_request_bytes(max_upload_mb: int, overhead: int = REQUEST_OVERHEAD) -> int:
    """The largest upload request body: every file at the limit plus the multipart framing."""
    return MAX_UPLOAD_FILES * max_upload_mb * 1024 * 1024 + overhead


def check_count(count: int) -> None:
    if count <= 0:
        raise AdminError("no_files", 400)
    if count > MAX_UPLOAD_FILES:
        raise AdminError("too_many", 413, limit=MAX_UPLOAD_FILES)


def check_size(settings: Settings, name: str, size: int) -> None:
    """Refuses a file over the limit, before it is read into memory when its size is known."""
    if size > max_file_bytes(settings):
        raise AdminError("too_large", 413, name=shown_name(name), size=_mb(size), limit=settings.max_upload_mb)


def check_request(settings: Settings, length: int) -> None:
    """Refuses a whole upload request (its declared length) that cannot hold allowed files only."""
    if length > max_request_bytes(settings.max_upload_mb):
        raise AdminError("too_large", 413, name="request", size=_mb(length), limit=settings.max_upload_mb)


def safe_filename(name: str) -> str | None:
    """The file's own name only (no folders), in NFC, with unusual characters replaced; None if unusable."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if not base or base.startswith((".", "~$")):  # hidden files and Office lock files are never sources
        return None
    base = re.sub(r"[^\w.\- ()+,]", "_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip("_ -.()+,"):
        return None
    if len(base) > 120:
        stem = stem[: 119 - len(suffix) - 1]
    while len(f"{stem}.{suffix}".encode()) > MAX_NAME_BYTES:  # file systems count bytes (255), not characters
        stem = stem[:-1]
    return f"{stem}.{suffix}" if stem.strip("_ -.()+,") and len(suffix.encode()) < 32 else None


def upload_folder(settings: Settings) -> Path:
    """``<sources>/uploads``, created if needed; refused when it is a link or leads out of the sources."""
    folder = settings.sources / UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink() or not folder.resolve().is_relative_to(settings.sources.resolve()):
        raise AdminError("folder", 500)
    return folder


@dataclass
class PreparedUpload:
    name: str
    target: Path
    tmp: Path
    size: int
    replaces: bool
    title: str | None


def prepare_upload(settings: Settings, name: str, data: bytes) -> PreparedUpload:
    """Checks one uploaded file and writes it to a hidden temporary file beside its target (raises
    :class:`AdminError`); :func:`commit_uploads` then moves it in place atomically."""
    shown = shown_name(name)
    check_size(settings, name, len(data))
    if not data:
        raise AdminError("empty", 400, name=shown)
    suffix = PurePosixPath(shown).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise AdminError("type", 415, name=shown, allowed=", ".join(sorted(SUPPORTED_SUFFIXES)))
    clean = safe_filename(name)
    if clean is None:
        raise AdminError("name", 400, name=shown)
    folder = upload_folder(settings)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=suffix, dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a source file is readable like its neighbours
        # refuse what the refresh could not read, before it becomes a source; parsed in the limited worker
        loaded = parse_file(tmp, timeout_s=settings.parse_timeout_s, memory_mb=settings.parse_memory_mb)
        if not loaded.text.strip():
            raise LoadError("no text")
    except LoadError as exc:
        tmp.unlink(missing_ok=True)
        raise AdminError("unreadable", 422, name=shown, reason=exc.reason) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    target = folder / clean
    return PreparedUpload(clean, target, tmp, len(data), target.exists(), loaded.title)


def discard_uploads(prepared: Iterable[PreparedUpload]) -> None:
    for p in prepared:
        p.tmp.unlink(missing_ok=True)


def commit_uploads(settings: Settings, prepared: list[PreparedUpload]) -> list[dict[str, Any]]:
    saved = []
    for i, p in enumerate(prepared):
        try:
            os.replace(p.tmp, p.target)
        except OSError:
            discard_uploads(prepared[i:])
            raise
        saved.append(
            {
                "name": p.name,
                "source": p.target.relative_to(settings.sources).as_posix(),
                "bytes": p.size,
                "replaced": p.replaces,
            }
        )
    return saved


def save_uploads(
    settings: Settings, files: Iterable[tuple[str, bytes]], refused: list[AdminError] | None = None
) -> list[dict[str, Any]]:
    """Checks every ``(name, data)`` and saves them all, or none: raises :class:`UploadRefused` with every
    reason (including ``refused``, the files the caller's transport already turned away)."""
    errors = list(refused or [])
    prepared: list[PreparedUpload] = []
    try:
        for name, data in files:
            try:
                upload = prepare_upload(settings, name, data)
            except AdminError as exc:
                errors.append(exc)
                continue
            prepared.append(upload)
            if any(p.name == upload.name for p in prepared[:-1]):  # the later would overwrite the earlier
                errors.append(AdminError("duplicate", 400, name=shown_name(name), saved_as=upload.name))
        if errors:
            raise UploadRefused(errors)
    except BaseException:
        discard_uploads(prepared)
        raise
    return commit_uploads(settings, prepared)
