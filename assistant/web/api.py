"""`assistant serve`: one FastAPI app, the JSON API under ``/api`` and the Gradio chat mounted at ``/``.

The model, the Chroma store and the BM25 snapshot are loaded once, by :class:`~assistant.answering.assistant.Assistant`,
before the server starts listening. Endpoints (OpenAPI docs at ``/docs``):

* ``POST /api/ask`` — ``{"question", "history"}`` → the answer JSON of ``assistant ask --json``.
* ``POST /api/ask/stream`` — the same as NDJSON (or Server-Sent Events with ``Accept: text/event-stream``):
  ``{"type": "delta", "text"}`` events while an LLM writes (none in extractive mode), then one
  ``{"type": "answer", "answer": {...}}``. Deltas are a draft: the verified ``answer`` replaces them.
* ``GET /api/sources``, ``GET /api/contacts``, ``GET /api/passage?source=&start=&end=`` (indexed sources only).
* ``POST /api/admin/upload``, ``POST /api/admin/refresh`` — ``Authorization: Bearer <ASSISTANT_ADMIN_TOKEN>``;
  403 while no token is configured, 401 on a missing or wrong one.
* ``GET /healthz`` — 200 with counts, 503 when the store cannot be reached.

History: at most ``MAX_HISTORY_ITEMS`` items are accepted (more → 413); the last ``HISTORY_USED`` are used.
With ``ASSISTANT_AUTH=user:password`` the UI asks for a login and the non-admin API for HTTP Basic auth.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import queue
import re
import tempfile
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fastapi import FastAPI, HTTPException, Query, Request  # noqa: E402
from fastapi.encoders import jsonable_encoder  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse, StreamingResponse  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.middleware.cors import CORSMiddleware  # noqa: E402
from starlette.middleware.trustedhost import TrustedHostMiddleware  # noqa: E402

from assistant.answering.assistant import Assistant  # noqa: E402
from assistant.answering.retrieve import KnowledgeBase  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.knowledge.loaders import SUPPORTED_SUFFIXES, LoadError, parse_file  # noqa: E402
from assistant.web.security import MAX_BODY_BYTES, MAX_UPLOAD_FILES, SecurityHeaders, Shield, bearer_token  # noqa: E402, F401

log = logging.getLogger("assistant.web.api")

MAX_HISTORY_ITEMS = 500
HISTORY_USED = 40  # items (20 question/answer turns)
UPLOAD_DIR = "uploads"
PASSAGE_CONTEXT = 600
MAX_NAME_BYTES = 200  # of an uploaded file's name in UTF-8; leaves room below the usual 255-byte limit


# ------------------------------------------------------------------------------------------------------
# request and response models (what /docs shows)
# ------------------------------------------------------------------------------------------------------


class TextBlock(BaseModel):
    type: str = "text"
    text: str = ""


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str | list[TextBlock] = ""


class AskRequest(BaseModel):
    question: str = Field(..., description="the question; an empty one gets a short how-to answer")
    history: list[str | HistoryMessage] = Field(
        default_factory=list,
        description=f"earlier turns: questions as strings, or {{role, content}} messages (Gradio/OpenAI style). "
        f"At most {MAX_HISTORY_ITEMS} items; the last {HISTORY_USED} are used.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": "Kuka on ELMO-pilotin projektipäällikkö?", "history": []},
                {
                    "question": "Mikä hänen puhelinnumeronsa on?",
                    "history": ["Kuka on ELMO-pilotin projektipäällikkö?"],
                },
            ]
        }
    )


class CitationModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int
    source: str
    title: str
    text: str = Field(..., description="the cited passage")
    start: int = Field(..., description="offset of the passage in the source's original text")
    end: int
    page: int | None = None
    url: str | None = None
    publisher: str | None = None
    date: str | None = None
    chunk_id: str = ""


class AnswerModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    question: str
    language: str
    answer: str = Field(..., description="Markdown with [n] citation markers")
    refused: bool = Field(..., description="true when the sources do not answer the question")
    citations: list[CitationModel]
    timings_ms: dict[str, float]
    mode: str
    quoted_from_finnish: bool
    contacts: list[dict[str, Any]] = Field(default_factory=list)
    flagged: list[str] = Field(default_factory=list)
    retrieved: list[dict[str, Any]] = Field(default_factory=list)


class SourceModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: str
    title: str
    kind: str | None = None
    chunks: int
    refreshed_at: str | None = Field(None, description="ISO 8601, UTC")
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    language: str | None = None
    contacts: int = 0
    status: Literal["ok", "stale", "failed"] = Field(
        ...,
        description="ok; stale = the last refresh failed and the previous version answers; failed = not indexed",
    )
    failure: str | None = None


class SourcesResponse(BaseModel):
    sources: list[SourceModel]
    failures: list[dict[str, str]]
    last_refresh: str | None
    generation: int
    chunks: int


class ContactsResponse(BaseModel):
    contacts: list[dict[str, Any]]


class HealthResponse(BaseModel):
    status: str
    sources: int
    chunks: int
    generation: int


class PassageResponse(BaseModel):
    source: str
    title: str
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    length: int
    start: int
    end: int
    before: str
    passage: str
    after: str


class UploadResponse(BaseModel):
    saved: list[dict[str, Any]]
    refresh: dict[str, Any] | None = None


class RefreshResponse(BaseModel):
    summary: dict[str, Any]
    sources: int
    chunks: int
    generation: int


# ------------------------------------------------------------------------------------------------------
# helpers shared with the UI
# ------------------------------------------------------------------------------------------------------


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(float(ts), UTC).isoformat(timespec="seconds") if ts else None


def sources_overview(kb: KnowledgeBase) -> dict[str, Any]:
    """Every live source with its status, plus sources the last refresh could not index."""
    snap = kb.current()
    meta = kb.store.meta()
    try:
        failures = [f for f in json.loads(meta.get("failures") or "[]") if isinstance(f, dict)]
    except json.JSONDecodeError:
        failures = []
    failed = {str(f.get("source")): str(f.get("reason", "")) for f in failures}
    items: list[dict[str, Any]] = []
    for source, r in sorted(snap.sources.items(), key=lambda kv: kv[1].title.lower()):
        items.append(
            {
                "source": source,
                "title": r.title,
                "kind": r.kind,
                "chunks": r.chunks,
                "refreshed_at": iso(r.refreshed_at),
                "publisher": r.publisher,
                "date": r.date,
                "url": r.url,
                "language": r.language,
                "contacts": len(r.contacts),
                "status": "stale" if source in failed else "ok",
                "failure": failed.get(source),
            }
        )
    for source, reason in failed.items():
        if source not in snap.sources:
            items.append(
                {"source": source, "title": source, "chunks": 0, "status": "failed", "failure": reason}
            )
    return {
        "sources": items,
        "failures": failures,
        "last_refresh": iso(meta.get("last_refresh")),
        "generation": snap.generation,
        "chunks": len(snap.ids),
    }


def all_contacts(kb: KnowledgeBase) -> list[dict[str, Any]]:
    out = []
    for source, r in sorted(kb.current().sources.items()):
        for contact in r.contacts:
            out.append({**contact, "source": source, "source_title": r.title})
    return out


class SourceTexts:
    """Original texts of live sources (what citations' offsets index), cached per source version."""

    def __init__(self, kb: KnowledgeBase, size: int = 32):
        self.kb = kb
        self.size = size
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: str) -> str | None:
        record = self.kb.current().sources.get(source)
        if record is None:  # only indexed sources are ever served
            return None
        key = (source, record.version)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            text = self.kb.store.source_text(source)
        except Exception:  # noqa: BLE001 - store unreachable: the panel shows the cited passage alone
            return None
        if text is None:
            return None
        with self._lock:
            self._cache[key] = text
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return text


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


# ------------------------------------------------------------------------------------------------------
# admin: token, uploads, refresh
# ------------------------------------------------------------------------------------------------------

ADMIN_MESSAGES: dict[str, dict[str, str]] = {
    "off": {
        "fi": "Ylläpitotoiminnot ovat pois käytöstä: palvelimelle ei ole asetettu ylläpitäjän tunnusta "
        "(ASSISTANT_ADMIN_TOKEN).",
        "en": "Admin actions are off: no admin token (ASSISTANT_ADMIN_TOKEN) is configured on the server.",
    },
    "missing": {
        "fi": "Anna ylläpitäjän tunnus.",
        "en": "The admin token is missing (Authorization: Bearer <token>).",
    },
    "wrong": {"fi": "Ylläpitäjän tunnus on väärä.", "en": "Wrong admin token."},
    "no_files": {"fi": "Valitse ladattavat tiedostot.", "en": "No files were sent."},
    "too_many": {
        "fi": "Liikaa tiedostoja kerralla (enintään {limit}).",
        "en": "Too many files at once (at most {limit}).",
    },
    "too_large": {
        "fi": "{name}: tiedosto on liian suuri ({size} Mt; enintään {limit} Mt).",
        "en": "{name}: the file is too large ({size} MB; the limit is {limit} MB).",
    },
    "empty": {"fi": "{name}: tiedosto on tyhjä.", "en": "{name}: the file is empty."},
    "type": {
        "fi": "{name}: tiedostotyyppiä ei tueta. Sallitut tyypit: {allowed}.",
        "en": "{name}: this file type is not supported. Allowed types: {allowed}.",
    },
    "name": {
        "fi": "{name}: tiedostonimi ei kelpaa (piilotiedostot ja pelkät erikoismerkit eivät käy).",
        "en": "{name}: unusable file name (no hidden files, not only special characters).",
    },
    "unreadable": {
        "fi": "{name}: tiedostosta ei saatu tekstiä ({reason}).",
        "en": "{name}: no text could be read from the file ({reason}).",
    },
    "folder": {
        "fi": "Latauskansio (uploads) ei ole tavallinen kansio lähdekansion sisällä; lataukset on estetty.",
        "en": "The uploads folder is not a plain folder inside the sources folder; uploads are refused.",
    },
    "busy": {
        "fi": "Tietopankin päivitys on jo käynnissä; odota, että se valmistuu.",
        "en": "A refresh is already running; wait for it to finish.",
    },
}


class AdminError(Exception):
    """An admin action refused; ``status`` for the API, ``message(lang)`` for people."""

    def __init__(self, code: str, status: int, **params: Any):
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params

    def message(self, language: str = "en") -> str:
        texts = ADMIN_MESSAGES[self.code]
        return texts.get(language, texts["en"]).format(**self.params)


def check_admin(settings: Settings, token: str | None) -> None:
    if not settings.admin_token:
        raise AdminError("off", 403)
    if not token:
        raise AdminError("missing", 401)
    if not hmac.compare_digest(token.encode("utf-8"), settings.admin_token.encode("utf-8")):
        raise AdminError("wrong", 401)


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
    shown = PurePosixPath(str(name).replace("\\", "/")).name or "?"
    limit = settings.max_upload_mb * 1024 * 1024
    if len(data) > limit:
        raise AdminError(
            "too_large", 413, name=shown, size=f"{len(data) / 1048576:.1f}", limit=settings.max_upload_mb
        )
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


def discard_uploads(prepared: list[PreparedUpload]) -> None:
    for p in prepared:
        p.tmp.unlink(missing_ok=True)


class RefreshRunner:
    """Runs a refresh in a background thread with the already loaded model and reports its progress.

    The thread finishes the refresh even if nobody listens any more (a closed browser tab); the refresh's
    own file lock keeps a second one (from here, the CLI or another process) from running at once.
    """

    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    def events(self) -> Iterator[dict[str, Any]]:
        from assistant.knowledge.ingest import RefreshBusy, Refresher

        kb = self.assistant.kb
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()

        def progress(done: int, total: int, source: str) -> None:
            events.put({"type": "progress", "done": done, "total": total, "source": source})

        def work() -> None:
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

        threading.Thread(target=work, name="assistant-refresh", daemon=True).start()
        while (event := events.get()) is not None:
            yield event


# ------------------------------------------------------------------------------------------------------
# the app
# ------------------------------------------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    return bearer_token(request.headers)


def _clean(value: Any) -> Any:
    """Lone surrogates (valid in JSON, not in UTF-8) replaced, so that every answer can be encoded."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _history(items: list[str | HistoryMessage]) -> list[Any]:
    if len(items) > MAX_HISTORY_ITEMS:
        raise HTTPException(413, f"history has {len(items)} items; at most {MAX_HISTORY_ITEMS} are accepted")
    return _clean([h if isinstance(h, str) else h.model_dump() for h in items[-HISTORY_USED:]])


def allowed_hosts(settings: Settings) -> list[str]:
    """ASSISTANT_ALLOWED_HOSTS plus the address ``serve`` binds to (unless it is a wildcard)."""
    hosts = list(settings.allowed_hosts)
    if settings.host not in ("0.0.0.0", "::", ""):
        hosts.append(settings.host.strip("[]"))
    return hosts


def create_app(settings: Settings, assistant: Assistant | None = None, *, ui: bool = True) -> FastAPI:
    """The API (+ the Gradio UI at ``/`` unless ``ui=False``). Loads the assistant unless one is given."""
    assistant = assistant or Assistant(settings)
    kb = assistant.kb
    texts = SourceTexts(kb)
    runner = RefreshRunner(assistant)

    app = FastAPI(
        title="ELMO assistant",
        version="0.1.0",
        description="Cited answers about Finland's regional smart-specialisation work (ELMO). "
        "The chat UI is at `/`.",
    )

    # outermost last: headers on every response, then the Host check, then Shield; a CORS middleware of our
    # own (no origins, no credentials) also switches off Gradio's, which reflects localhost origins
    app.add_middleware(CORSMiddleware, allow_origins=[], allow_credentials=False)
    app.add_middleware(Shield, settings=settings)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings), www_redirect=False)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the offending input, which need not even be encodable
        errors = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(_clean(errors))}, 422)

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.message("en"), "code": exc.code}, exc.status, headers=headers)

    @app.post("/api/ask", response_model=AnswerModel, tags=["answers"])
    def ask(body: AskRequest) -> JSONResponse:
        """Answers a question from the knowledge base, with citations (the JSON of `assistant ask --json`)."""
        # returned as is (the model documents it): absent optional fields stay absent, as in the CLI's JSON
        return JSONResponse(assistant.ask(_clean(body.question), _history(body.history)).to_dict())

    @app.post(
        "/api/ask/stream",
        tags=["answers"],
        responses={200: {"content": {"application/x-ndjson": {}, "text/event-stream": {}}}},
    )
    def ask_stream(body: AskRequest, request: Request) -> StreamingResponse:
        """NDJSON events (SSE with `Accept: text/event-stream`): `delta` drafts, then the final `answer`."""
        history = _history(body.history)
        sse = "text/event-stream" in request.headers.get("accept", "")

        def events() -> Iterator[str]:
            try:
                for item in assistant.stream(_clean(body.question), history):
                    if isinstance(item, str):
                        event: dict[str, Any] = {"type": "delta", "text": item}
                    else:
                        event = {"type": "answer", "answer": item.to_dict()}
                    line = json.dumps(event, ensure_ascii=False)
                    yield f"data: {line}\n\n" if sse else line + "\n"
            except Exception:  # noqa: BLE001 - the status line is already sent; report in-band
                log.exception("streaming answer failed")
                line = json.dumps({"type": "error", "message": "the answer failed; see the server log"})
                yield f"data: {line}\n\n" if sse else line + "\n"

        media = "text/event-stream" if sse else "application/x-ndjson"
        return StreamingResponse(events(), media_type=media, headers={"Cache-Control": "no-store"})

    @app.get("/api/sources", response_model=SourcesResponse, tags=["knowledge base"])
    def sources() -> dict[str, Any]:
        """Every source with its title, chunks, last refresh and status; the last refresh's failures."""
        return sources_overview(kb)

    @app.get("/api/contacts", response_model=ContactsResponse, tags=["knowledge base"])
    def contacts() -> dict[str, Any]:
        """Contact people found in the sources."""
        return {"contacts": all_contacts(kb)}

    @app.get(
        "/api/passage",
        response_model=PassageResponse,
        tags=["knowledge base"],
        responses={404: {"description": "not an indexed source"}},
    )
    def passage(
        source: str = Query(..., description="a source id as in /api/sources or a citation"),
        start: int | None = Query(None, ge=0),
        end: int | None = Query(None, ge=0),
        context: int = Query(PASSAGE_CONTEXT, ge=0, le=5000),
    ) -> dict[str, Any]:
        """The original text of an indexed source: all of it, or [start, end) with `context` characters around."""
        text = texts.get(source)
        record = kb.current().sources.get(source)
        if text is None or record is None:
            raise HTTPException(404, "no such indexed source")
        if start is None and end is None:
            view = PassageView("", text, "", 0, len(text))
        else:
            s = start or 0
            view = passage_context(text, s, end if end is not None else s, context)
        return {
            "source": source,
            "title": record.title,
            "publisher": record.publisher,
            "date": record.date,
            "url": record.url,
            "length": len(text),
            "start": view.start,
            "end": view.end,
            "before": view.before,
            "passage": view.passage,
            "after": view.after,
        }

    @app.get(
        "/healthz",
        response_model=HealthResponse,
        tags=["service"],
        responses={503: {"description": "store down"}},
    )
    def healthz() -> Any:
        """200 when the store answers; 503 with the reason when it does not."""
        try:
            kb.store.heartbeat()
            snap = kb.current()
        except Exception as exc:  # noqa: BLE001 - any store failure means not healthy
            return JSONResponse(
                {"status": "unavailable", "detail": f"the Chroma store cannot be reached: {exc}"}, 503
            )
        return {
            "status": "ok",
            "sources": len(snap.sources),
            "chunks": len(snap.ids),
            "generation": snap.generation,
        }

    upload_doc = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                        },
                        "required": ["files"],
                    }
                }
            },
        },
        "security": [{"bearer": []}],
    }

    @app.post(
        "/api/admin/upload",
        response_model=UploadResponse,
        tags=["admin"],
        openapi_extra=upload_doc,
        responses={401: {}, 403: {}, 409: {}, 413: {}, 415: {}, 422: {}},
    )
    async def upload(
        request: Request, refresh: bool = Query(False, description="run a refresh after saving")
    ) -> dict[str, Any]:
        """Adds documents (multipart field `files`) under `uploads/` in the sources folder. Each must be a
        supported type (.txt .md .markdown .html .htm .pdf .docx) within the size limit and readable; all are
        checked before any is saved."""
        check_admin(settings, _bearer(request))  # before the body is read
        limit = settings.max_upload_mb * 1024 * 1024
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_UPLOAD_FILES * limit + 65536:
            raise AdminError(
                "too_large",
                413,
                name="request",
                size=f"{int(length) / 1048576:.1f}",
                limit=settings.max_upload_mb,
            )
        form = await request.form(max_files=MAX_UPLOAD_FILES + 1, max_fields=10)
        files = [f for f in form.getlist("files") + form.getlist("file") if not isinstance(f, str)]
        if not files:
            raise AdminError("no_files", 400)
        if len(files) > MAX_UPLOAD_FILES:
            raise AdminError("too_many", 413, limit=MAX_UPLOAD_FILES)
        prepared: list[PreparedUpload] = []
        try:
            for f in files:
                if f.size is not None and f.size > limit:  # refused before it is read into memory
                    name = PurePosixPath(f.filename or "?").name
                    raise AdminError(
                        "too_large",
                        413,
                        name=name,
                        size=f"{f.size / 1048576:.1f}",
                        limit=settings.max_upload_mb,
                    )
                data = await f.read(limit + 1)
                prepared.append(await run_in_threadpool(prepare_upload, settings, f.filename or "", data))
        except BaseException:
            discard_uploads(prepared)
            raise
        saved = commit_uploads(settings, prepared)
        result: dict[str, Any] = {"saved": saved, "refresh": None}
        if refresh:
            result["refresh"] = (await run_in_threadpool(_refresh_blocking, runner)).get("summary")
        return result

    @app.post(
        "/api/admin/refresh",
        response_model=RefreshResponse,
        tags=["admin"],
        responses={401: {}, 403: {}, 409: {}},
    )
    def refresh(request: Request) -> dict[str, Any]:
        """Re-indexes new, changed and removed sources (incremental); answers when it is done."""
        check_admin(settings, _bearer(request))
        done = _refresh_blocking(runner)
        return {k: done[k] for k in ("summary", "sources", "chunks", "generation")}

    if ui:
        from assistant.web.ui import build_ui, mount

        mount(app, build_ui(assistant, settings, runner=runner, texts=texts), settings)
    return app


def _refresh_blocking(runner: RefreshRunner) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for event in runner.events():
        last = event
    if last.get("type") == "busy":
        raise AdminError("busy", 409)
    if last.get("type") != "done":
        raise HTTPException(500, last.get("message", "the refresh failed"))
    return last


def serve(settings: Settings) -> None:
    """Loads everything, then serves until interrupted; prints the address once it listens."""
    import uvicorn

    from assistant.web.security import raise_fd_limit, uvicorn_config

    raise_fd_limit()
    t0 = time.perf_counter()
    app = create_app(settings)
    loaded = time.perf_counter() - t0

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started and self.servers:
                host, port = self.servers[0].sockets[0].getsockname()[:2]
                shown = f"[{host}]" if ":" in str(host) else host
                print(
                    f"ELMO assistant: http://{shown}:{port}/  (API docs: /docs; loaded in {loaded:.1f} s)",
                    flush=True,
                )
                if settings.host not in ("127.0.0.1", "localhost", "::1"):
                    print(f"note: listening on {settings.host}, reachable from other machines", flush=True)

    Server(uvicorn_config(app, settings)).run()
