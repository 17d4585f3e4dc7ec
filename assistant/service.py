"""One :class:`KnowledgeService` under both web adapters (the FastAPI routes and the Gradio UI).

It holds the loaded :class:`~assistant.answering.assistant.Assistant` and offers what the adapters show:
answers (whole or streamed), the sources overview, contacts, passages of source texts, uploads (one
policy: :mod:`assistant.uploads`), refreshes with progress, and the admin check.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from assistant.answering.assistant import Assistant
from assistant.answering.retrieve import KnowledgeBase
from assistant.config import Settings
from assistant.conversations import ConversationStore
from assistant.feedback import FeedbackStore
from assistant.ratelimit import TokenBucket
from assistant.schema import HISTORY_USED, Answer, SourceMeta, encodable
from assistant.text.sentences import split_sentences
from assistant.uploads import AdminError, save_uploads

log = logging.getLogger("assistant.service")

PASSAGE_CONTEXT = 600


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(float(ts), UTC).isoformat(timespec="seconds") if ts else None


# ------------------------------------------------------------------------------------------------------
# source texts and passages
# ------------------------------------------------------------------------------------------------------


class _NoText(Exception):
    """Raised inside the cache so that a missing text is not remembered (lru_cache keeps no exceptions)."""


class SourceTexts:
    """Original texts of live sources (what citations' offsets index), cached per source version."""

    def __init__(self, kb: KnowledgeBase, size: int = 32):
        self.kb = kb
        self._load = lru_cache(maxsize=size)(self._fetch)

    def _fetch(self, source: str, version: str) -> str:
        try:
            text = self.kb.store.source_text(source)
        except Exception:  # noqa: BLE001 - store unreachable: the panel shows the cited passage alone
            raise _NoText from None
        if text is None:
            raise _NoText
        return text

    def get(self, source: str) -> str | None:
        record = self.kb.current().sources.get(source)
        if record is None:  # only indexed sources are ever served
            return None
        try:
            return self._load(source, record.version)
        except _NoText:
            return None


@dataclass
class PassageView:
    before: str
    passage: str
    after: str
    start: int
    end: int


def passage_context(text: str, start: int, end: int, context: int = PASSAGE_CONTEXT) -> PassageView:
    """The passage text[start:end] with up to ``context`` characters either side, cut at word boundaries."""
    start = max(0, min(int(start), len(text)))
    end = max(start, min(int(end), len(text)))
    lo = max(0, start - context)
    hi = min(len(text), end + context)
    before, after = text[lo:start], text[end:hi]
    if lo > 0:
        cut = re.search(r"\s", before[:80])
        before = "…" + (before[cut.end() :] if cut else before)
    if hi < len(text):
        cut = max(after.rfind(" ", len(after) - 80), after.rfind("\n", len(after) - 80))
        after = (after[:cut] if cut > 0 else after) + "…"
    return PassageView(before, text[start:end], after, start, end)


_MARKERS = re.compile(r"(?:\s*\[\d+\])+")


def sentence_deltas(text: str) -> list[str]:
    """``text`` cut into consecutive pieces, one a sentence, each with the ``[n]`` markers that follow it
    and the whitespace before the next: ``"".join(sentence_deltas(t)) == t``."""
    cuts = [0]
    for _, end in split_sentences(text)[:-1]:
        marker = _MARKERS.match(text, end)
        end = marker.end() if marker else end
        while end < len(text) and text[end].isspace():
            end += 1
        if cuts[-1] < end < len(text):
            cuts.append(end)
    cuts.append(len(text))
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def local_source_path(root: Path, source: str) -> Path:
    """``root / source`` when it names a file that is inside ``root`` (no URL, no ``..``, no absolute
    path, no folder on the way that leads elsewhere); :class:`AdminError` ``not_local`` otherwise. The
    path returned may be a link inside ``root``: deleting it removes the link, never what it points to."""
    parts = PurePosixPath(source).parts
    refused = AdminError("not_local", 409, source=source[:200])
    if "://" in source or not parts or PurePosixPath(source).is_absolute() or any(p in ("..", ".") for p in parts):
        raise refused
    path = root.joinpath(*parts)
    base = root.resolve()
    if not path.parent.resolve().is_relative_to(base) or not path.resolve().is_relative_to(base):
        raise refused
    if not path.is_file():
        raise refused
    return path


# ------------------------------------------------------------------------------------------------------
# refresh
# ------------------------------------------------------------------------------------------------------


class RefreshRunner:
    """Runs a refresh in a background thread with the already loaded model and reports its progress.

    The thread finishes the refresh even if nobody listens any more (a closed browser tab); the refresh's
    own file lock keeps a second one (from here, the CLI or another process) from running at once.
    """

    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    def _work(self, events: queue.Queue[dict[str, Any] | None]) -> None:
        from assistant.knowledge.ingest import RefreshBusy, Refresher

        kb = self.assistant.kb

        def progress(done: int, total: int, source: str) -> None:
            events.put({"type": "progress", "done": done, "total": total, "source": source})

        try:
            summary = Refresher(self.assistant.settings, embedder=kb.embedder, progress=progress).run()
            snap = kb.reload()
            events.put(
                {
                    "type": "done",
                    "summary": summary.to_json(),
                    "text": summary.text(),
                    "sources": len(snap.sources),
                    "chunks": len(snap.ids),
                    "generation": snap.generation,
                }
            )
        except RefreshBusy:
            events.put({"type": "busy"})
        except Exception as exc:  # noqa: BLE001 - reported to the admin, not raised in a thread
            log.exception("refresh failed")
            events.put({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            events.put(None)

    def events(self) -> Iterator[dict[str, Any]]:
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._work, args=(events,), name="assistant-refresh", daemon=True).start()
        while (event := events.get()) is not None:
            yield event


class RefreshFailed(Exception):
    """A refresh ended with an error (not busy)."""


# ------------------------------------------------------------------------------------------------------
# the service
# ------------------------------------------------------------------------------------------------------


class KnowledgeService:
    """What the web adapters offer, over one loaded assistant. Loads the assistant unless one is given."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None):
        self.settings = settings
        self.assistant = assistant or Assistant(settings)
        self.texts = SourceTexts(self.kb)
        self.runner = RefreshRunner(self.assistant)
        # the one instance of each store, for every adapter (UI, history routes, /metrics)
        self.feedback = FeedbackStore(settings.feedback_db)
        self.conversations = ConversationStore.from_settings(settings)
        # wrong admin tokens per client address (shared with Shield's login attempts by create_app)
        self.login_bucket = TokenBucket(settings.login_rate_per_minute)

    @property
    def kb(self) -> KnowledgeBase:
        return self.assistant.kb

    # -- answers -----------------------------------------------------------------------------------------

    def ask(self, question: str, history: list[Any] | None = None) -> Answer:
        return self.assistant.ask(encodable(question), encodable(list(history or [])[-HISTORY_USED:]))

    def stream(self, question: str, history: list[Any] | None = None) -> Iterator[str | Answer]:
        """Text deltas while an LLM writes (none in extractive mode), then the verified :class:`Answer`."""
        yield from self.assistant.stream(encodable(question), encodable(list(history or [])[-HISTORY_USED:]))

    def stream_sentences(self, question: str, history: list[Any] | None = None) -> Iterator[str | Answer]:
        """Deltas in every mode, then the :class:`Answer`: an LLM's draft as it is written, otherwise the
        verified answer's sentences (together exactly its text)."""
        drafted = False
        for item in self.stream(question, history):
            if isinstance(item, str):
                drafted = True
            elif not drafted:
                yield from sentence_deltas(item.answer)
            yield item

    # -- the knowledge base ------------------------------------------------------------------------------

    def _failures(self, meta: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return [f for f in json.loads(meta.get("failures") or "[]") if isinstance(f, dict)]
        except json.JSONDecodeError:
            return []

    def sources(self) -> dict[str, Any]:
        """Every live source with its status, plus sources the last refresh could not index."""
        snap = self.kb.current()
        meta = self.kb.store.meta()
        failures = self._failures(meta)
        failed = {str(f.get("source")): str(f.get("reason", "")) for f in failures}
        items: list[dict[str, Any]] = []
        for source, r in sorted(snap.sources.items(), key=lambda kv: kv[1].title.lower()):
            items.append(
                {
                    **SourceMeta.of(source, r),
                    "chunks": r.chunks,
                    "refreshed_at": iso(r.refreshed_at),
                    "contacts": len(r.contacts),
                    "status": "stale" if source in failed else "ok",
                    "failure": failed.get(source),
                }
            )
        for source, reason in failed.items():
            if source not in snap.sources:
                items.append({"source": source, "title": source, "chunks": 0, "status": "failed", "failure": reason})
        return {
            "sources": items,
            "failures": failures,
            "last_refresh": iso(meta.get("last_refresh")),
            "generation": snap.generation,
            "chunks": len(snap.ids),
        }

    def contacts(self) -> list[dict[str, Any]]:
        out = []
        for source, r in sorted(self.kb.current().sources.items()):
            for contact in r.contacts:
                out.append({**contact, "source": source, "source_title": r.title})
        return out

    def passage(
        self, source: str, start: int | None, end: int | None, context: int = PASSAGE_CONTEXT
    ) -> dict[str, Any] | None:
        """An indexed source's text: all of it, or [start, end) with ``context`` characters around; None
        when ``source`` is not an indexed source."""
        text = self.texts.get(source)
        record = self.kb.current().sources.get(source)
        if text is None or record is None:
            return None
        if start is None and end is None:
            view = PassageView("", text, "", 0, len(text))
        else:
            s = start or 0
            view = passage_context(text, s, end if end is not None else s, context)
        return {
            **SourceMeta.of(source, record),
            "length": len(text),
            "start": view.start,
            "end": view.end,
            "before": view.before,
            "passage": view.passage,
            "after": view.after,
        }

    def source_text(self, source: str) -> dict[str, Any] | None:
        """An indexed source's whole original text with what the catalogue knows; None when not indexed."""
        record = self.kb.current().sources.get(source)
        text = self.texts.get(source)
        if record is None or text is None:
            return None
        return {**SourceMeta.of(source, record), "length": len(text), "text": text}

    def source_file(self, source: str) -> Path:
        """The file of an indexed local source inside the sources folder; :class:`AdminError` ``no_source``
        (404) for anything not indexed, ``not_local`` (409) for a URL source or a file that is gone."""
        if source not in self.kb.current().sources:
            raise AdminError("no_source", 404, source=source[:200])
        return local_source_path(self.settings.sources, source)

    def delete_source(self, source: str) -> dict[str, Any]:
        """Removes an indexed local source's file from the sources folder, then refreshes, so that it leaves
        the answers at once. :class:`AdminError` as :meth:`source_file`; ``busy`` (409) when another
        refresh runs (the file is gone already; that or the next refresh drops it)."""
        path = self.source_file(source)
        path.unlink()
        log.info("source %s deleted by the admin", source)
        done = self.refresh()
        return {"removed": source, **{k: done[k] for k in ("summary", "sources", "chunks", "generation")}}

    def health(self) -> dict[str, Any]:
        """Counts of the live knowledge base; raises when the store cannot be reached."""
        self.kb.store.heartbeat()
        snap = self.kb.current()
        return {"status": "ok", "sources": len(snap.sources), "chunks": len(snap.ids), "generation": snap.generation}

    # -- admin -------------------------------------------------------------------------------------------

    @property
    def admin_enabled(self) -> bool:
        return bool(self.settings.admin_token)

    def check_admin(self, token: str | None, client: str | None = None) -> None:
        """Raises :class:`AdminError`: 403 while no token is configured, 401 on a missing or wrong one, 429
        while ``client`` (its address, when known) has used up its guesses (login_rate_per_minute)."""
        if not self.settings.admin_token:
            raise AdminError("off", 403)
        wait = self.login_bucket.wait(client) if client is not None else 0.0
        if wait:  # even a right token waits: otherwise guessing would go on unthrottled
            raise AdminError("too_many_guesses", 429, seconds=max(1, math.ceil(wait)))
        if not token or not hmac.compare_digest(token.encode("utf-8"), self.settings.admin_token.encode("utf-8")):
            if client is not None:
                self.login_bucket.take(client)
            raise AdminError("wrong" if token else "missing", 401)

    def upload(
        self, files: Iterable[tuple[str, bytes]], refused: list[AdminError] | None = None
    ) -> list[dict[str, Any]]:
        """Saves every file or none (:func:`assistant.uploads.save_uploads`)."""
        return save_uploads(self.settings, files, refused)

    def refresh_events(self) -> Iterator[dict[str, Any]]:
        """``progress`` events, then one of ``done`` / ``busy`` / ``error``."""
        return self.runner.events()

    def refresh(self) -> dict[str, Any]:
        """Runs a refresh to its end: the ``done`` event; :class:`AdminError` ``busy`` or
        :class:`RefreshFailed`."""
        last: dict[str, Any] = {}
        for event in self.refresh_events():
            last = event
        if last.get("type") == "busy":
            raise AdminError("busy", 409)
        if last.get("type") != "done":
            raise RefreshFailed(last.get("message", "the refresh failed"))
        return last
