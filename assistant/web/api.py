"""The JSON API: thin routes over :class:`~assistant.service.KnowledgeService` (OpenAPI docs at ``/docs``).

* ``POST /api/ask`` — ``{"question", "history"}`` → the answer JSON of ``assistant ask --json``.
* ``POST /api/ask/stream`` — the same as NDJSON (or Server-Sent Events with ``Accept: text/event-stream``):
  ``{"type": "delta", "text"}`` events — an LLM's draft as it writes, otherwise the verified answer sentence
  by sentence — then one ``{"type": "answer", "answer": {...}}``, which replaces the deltas.
* ``GET /api/sources``, ``GET /api/contacts``, ``GET /api/passage?source=&start=&end=``,
  ``GET /api/sources/{source}/text`` (indexed sources only).
* ``POST /api/admin/upload``, ``POST /api/admin/refresh``, ``GET /api/sources/{source}/download`` (the
  original file), ``DELETE /api/admin/sources/{source}`` — ``Authorization: Bearer <ASSISTANT_ADMIN_TOKEN>``;
  403 while no token is configured, 401 on a missing or wrong one.
* ``GET /healthz`` — 200 with counts, 503 when the store cannot be reached.

Input errors are 4xx with a message: malformed JSON and wrong types 422, an empty or over-long question 422,
a history of more than ``MAX_HISTORY_ITEMS`` items 413 (the last ``HISTORY_USED`` are used).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from assistant.schema import (
    MAX_HISTORY_ITEMS,
    Answer,
    AskRequest,
    ContactsResponse,
    DeleteSourceResponse,
    HealthResponse,
    PassageResponse,
    RefreshResponse,
    SourcesResponse,
    SourceTextResponse,
    UploadResponse,
)
from assistant.service import PASSAGE_CONTEXT, KnowledgeService, RefreshFailed
from assistant.uploads import (
    MAX_UPLOAD_FILES,
    AdminError,
    check_count,
    check_request,
    check_size,
    max_file_bytes,
)

log = logging.getLogger("assistant.web.api")

# the bytes FastAPI writes for ``response_model=Answer`` (its dump_json), without re-validating our own Answer
# in a second threadpool hop first, which it does for every plain ``def`` route
_ANSWER_JSON = TypeAdapter(Answer)

_bearer = HTTPBearer(auto_error=False, description="the admin token (ASSISTANT_ADMIN_TOKEN)")

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    "required": ["files"],
                }
            }
        },
    }
}


def _question(body: AskRequest, limit: int) -> str:
    if not body.question.strip():
        raise HTTPException(422, "the question is empty: send {\"question\": \"...\"}")
    if len(body.question) > limit:
        raise HTTPException(422, f"the question is too long ({len(body.question)} characters; at most {limit})")
    return body.question


def _history(body: AskRequest) -> list[Any]:
    if len(body.history) > MAX_HISTORY_ITEMS:
        raise HTTPException(413, f"history has {len(body.history)} items; at most {MAX_HISTORY_ITEMS} are accepted")
    return [h if isinstance(h, str) else h.model_dump() for h in body.history]


def attachment(name: str) -> str:
    """A Content-Disposition that no file name can break: an ASCII ``filename`` with every other character
    replaced, and the real name percent-encoded in ``filename*`` (RFC 6266)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^A-Za-z0-9._()+, -]", "_", plain).strip(" .") or "source"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_type(path: Path) -> str:
    """The file's type; HTML is sent as bytes so that a stored page never renders on this origin."""
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return "application/octet-stream" if "html" in guessed else guessed


def _event_stream(service: KnowledgeService, question: str, history: list[Any], sse: bool) -> Iterator[str]:
    def line(event: dict[str, Any]) -> str:
        text = json.dumps(event, ensure_ascii=False)
        return f"data: {text}\n\n" if sse else text + "\n"

    try:
        for item in service.stream_sentences(question, history):
            if isinstance(item, str):
                yield line({"type": "delta", "text": item})
            else:
                yield line({"type": "answer", "answer": item.to_dict()})
    except Exception:  # noqa: BLE001 - the status line is already sent; report in-band
        log.exception("streaming answer failed")
        yield line({"type": "error", "message": "the answer failed; see the server log"})


def _refresh(service: KnowledgeService) -> dict[str, Any]:
    try:
        return service.refresh()
    except RefreshFailed as exc:
        raise HTTPException(500, str(exc)) from None


def answers_router(service: KnowledgeService) -> APIRouter:
    router = APIRouter(tags=["answers"])
    limit = service.settings.max_question_chars

    @router.post("/api/ask", response_model=Answer, responses={413: {}, 422: {}})
    def ask(body: AskRequest) -> Response:
        """Answers a question from the knowledge base, with citations (the JSON of `assistant ask --json`)."""
        answer = service.ask(_question(body, limit), _history(body))
        return Response(_ANSWER_JSON.dump_json(answer), media_type="application/json")

    @router.post(
        "/api/ask/stream",
        responses={200: {"content": {"application/x-ndjson": {}, "text/event-stream": {}}}, 413: {}, 422: {}},
    )
    def ask_stream(body: AskRequest, request: Request) -> StreamingResponse:
        """NDJSON events (SSE with `Accept: text/event-stream`): `delta` text (an LLM's draft, or the answer's
        sentences), then the final `answer`."""
        question, history = _question(body, limit), _history(body)
        sse = "text/event-stream" in request.headers.get("accept", "")
        media = "text/event-stream" if sse else "application/x-ndjson"
        events = _event_stream(service, question, history, sse)
        return StreamingResponse(events, media_type=media, headers={"Cache-Control": "no-store"})

    return router


def knowledge_router(service: KnowledgeService) -> APIRouter:
    router = APIRouter(tags=["knowledge base"])

    @router.get("/api/sources", response_model=SourcesResponse)
    def sources() -> dict[str, Any]:
        """Every source with its title, chunks, last refresh and status; the last refresh's failures."""
        return service.sources()

    @router.get("/api/contacts", response_model=ContactsResponse)
    def contacts() -> dict[str, Any]:
        """Contact people found in the sources."""
        return {"contacts": service.contacts()}

    @router.get(
        "/api/passage", response_model=PassageResponse, responses={404: {"description": "not an indexed source"}}
    )
    def passage(
        source: str = Query(..., description="a source id as in /api/sources or a citation"),
        start: int | None = Query(None, ge=0),
        end: int | None = Query(None, ge=0),
        context: int = Query(PASSAGE_CONTEXT, ge=0, le=5000),
    ) -> dict[str, Any]:
        """The original text of an indexed source: all of it, or [start, end) with `context` characters around."""
        found = service.passage(source, start, end, context)
        if found is None:
            raise HTTPException(404, "no such indexed source")
        if start is not None and end is not None and start > end:
            raise HTTPException(422, f"start ({start}) must not be greater than end ({end})")
        return found

    @router.get(
        "/api/sources/{source:path}/text",
        response_model=SourceTextResponse,
        responses={404: {"description": "not an indexed source"}},
    )
    def source_text(source: str) -> dict[str, Any]:
        """The whole original text of an indexed source (what citation offsets index), with its metadata."""
        found = service.source_text(source)
        if found is None:
            raise AdminError("no_source", 404, source=source[:200])
        return found

    return router


def service_router(service: KnowledgeService) -> APIRouter:
    router = APIRouter(tags=["service"])

    @router.get("/healthz", response_model=HealthResponse, responses={503: {"description": "store down"}})
    def healthz() -> Any:
        """200 when the store answers; 503 with the reason when it does not."""
        try:
            return service.health()
        except Exception as exc:  # noqa: BLE001 - any store failure means not healthy
            detail = f"the Chroma store cannot be reached: {exc}"
            return JSONResponse({"status": "unavailable", "detail": detail}, 503)

    return router


def admin_router(service: KnowledgeService) -> APIRouter:
    def admin(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        """Runs before the body is read: an upload without the right token is never received."""
        client = request.client.host if request.client else "?"
        service.check_admin(credentials.credentials.strip() if credentials else None, client)

    router = APIRouter(tags=["admin"], dependencies=[Depends(admin)])
    settings = service.settings

    @router.post(
        "/api/admin/upload",
        response_model=UploadResponse,
        openapi_extra=UPLOAD_DOC,
        responses={401: {}, 403: {}, 409: {}, 413: {}, 415: {}, 422: {}},
    )
    async def upload(
        request: Request, refresh: bool = Query(False, description="run a refresh after saving")
    ) -> dict[str, Any]:
        """Adds documents (multipart field `files`) under `uploads/` in the sources folder. Each must be a
        supported type (.txt .md .markdown .html .htm .pdf .docx) within the size limit and readable; all are
        checked before any is saved, and one refused file refuses them all."""
        length = request.headers.get("content-length")
        if length and length.isdigit():
            check_request(settings, int(length))
        async with request.form(max_files=MAX_UPLOAD_FILES + 1, max_fields=10) as form:  # closes the spooled parts
            files = [f for f in form.getlist("files") + form.getlist("file") if not isinstance(f, str)]
            check_count(len(files))
            for f in files:  # refused before any is read into memory
                check_size(settings, f.filename or "?", f.size or 0)
            # the parts are spooled files already received: read one at a time in the worker thread
            items = ((f.filename or "", f.file.read(max_file_bytes(settings) + 1)) for f in files)
            saved = await run_in_threadpool(service.upload, items)
        result: dict[str, Any] = {"saved": saved, "refresh": None}
        if refresh:
            result["refresh"] = (await run_in_threadpool(_refresh, service)).get("summary")
        return result

    @router.post("/api/admin/refresh", response_model=RefreshResponse, responses={401: {}, 403: {}, 409: {}})
    def refresh() -> dict[str, Any]:
        """Re-indexes new, changed and removed sources (incremental); answers when it is done."""
        done = _refresh(service)
        return {k: done[k] for k in ("summary", "sources", "chunks", "generation")}

    @router.get(
        "/api/sources/{source:path}/download",
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}}, 401: {}, 403: {}, 404: {}, 409: {}},
    )
    def download(source: str) -> FileResponse:
        """The original file of an indexed local source, as stored in the sources folder (an attachment)."""
        path = service.source_file(source)
        return FileResponse(path, media_type=download_type(path), headers={"Content-Disposition": attachment(path.name)})

    @router.delete(
        "/api/admin/sources/{source:path}",
        response_model=DeleteSourceResponse,
        responses={401: {}, 403: {}, 404: {}, 409: {}},
    )
    def delete_source(source: str) -> dict[str, Any]:
        """Deletes an indexed local source's file from the sources folder and refreshes: it leaves the answers."""
        try:
            return service.delete_source(source)
        except RefreshFailed as exc:
            raise HTTPException(500, str(exc)) from None

    return router


def api_routers(service: KnowledgeService) -> list[APIRouter]:
    return [answers_router(service), knowledge_router(service), service_router(service), admin_router(service)]
