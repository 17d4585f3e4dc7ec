"""Turn source files, uploads and URLs into plain text.

Every loader returns a :class:`Loaded` whose ``text`` is the extracted *original*
text: callers normalise it themselves and keep character offsets into it.  Paged
formats (PDF) also report ``pages`` spans ``(start, end, page_number)`` into that
text so a passage can be cited by page.

Anything that cannot be turned into useful text raises :class:`LoadError` with a
short, human-readable ``reason`` suitable for showing in the UI or a refresh log.

One module a format (``text``, ``html``, ``pdf``, ``docx``), ``dispatch`` picks the
format, ``worker`` runs it in an isolated process with hard limits, ``url`` fetches.
"""

from assistant.knowledge.loaders.base import (
    MAX_FILE_BYTES,
    MAX_LOAD_SECONDS,
    MAX_TEXT_CHARS,
    SUPPORTED_SUFFIXES,
    Fetched,
    Loaded,
    LoadError,
)
from assistant.knowledge.loaders.dispatch import load_bytes, load_file
from assistant.knowledge.loaders.url import fetch_url
from assistant.knowledge.loaders.worker import ParseWorker, parse_bytes, parse_file, parse_worker

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LOAD_SECONDS",
    "MAX_TEXT_CHARS",
    "SUPPORTED_SUFFIXES",
    "Fetched",
    "LoadError",
    "Loaded",
    "ParseWorker",
    "fetch_url",
    "load_bytes",
    "load_file",
    "parse_bytes",
    "parse_file",
    "parse_worker",
]
