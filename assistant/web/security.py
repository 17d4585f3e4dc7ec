"""HTTP-side protections in front of the API and the Gradio UI (SECURITY.md, issue 10).

Plain ASGI (not ``BaseHTTPMiddleware``), so Gradio's streams and websockets pass through untouched:

* :class:`SecurityHeaders` — CSP (one the Gradio UI works under), frame-ancestors 'none', nosniff, referrer.
* :class:`Shield` — monitoring/dev routes hidden, per-client rate limits, requests in progress capped,
  body size capped while streaming (chunked bodies included), slow bodies timed out, Basic auth on the API.
* :class:`GradioGuard` — Gradio routes the app does not use closed, Gradio request bodies capped.
* :func:`uvicorn_config` — keep-alive and header-read timeouts, header size cap, listen backlog.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse

from assistant.config import Settings
from assistant.ratelimit import TokenBucket
from assistant.uploads import GRADIO_REQUEST_OVERHEAD, max_request_bytes

Scope = dict[str, Any]

MAX_BODY_BYTES = 1_000_000  # every request body but uploads
BODY_TIMEOUT_S = 30.0  # longest wait for the next piece of a request body
HEADER_TIMEOUT_S = 10.0  # a connection must deliver a request's headers within this
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024
BACKLOG = 2048

UPLOAD_PATHS = ("/api/admin/upload", "/gradio_api/upload")
# not /gradio_api/queue/join: every UI event goes through it; the chat limits its questions itself (ChatTab)
ASK_PATHS = ("/api/ask", "/api/ask/stream", "/v1/chat/completions", "/gradio_api/call/ask", "/gradio_api/run/ask")
HIDDEN_PREFIXES = ("/monitoring", "/gradio_api/monitoring", "/gradio_api/dev/")

# Gradio needs inline styles (Svelte, theme), inline scripts (the head script) and eval (it runs event
# `js=` handlers with new Function), data:/blob: images and fonts, and fetch/SSE/websockets to its own
# origin only. What the policy still stops: loading or sending anything to another origin (scripts, images,
# fetch/beacons: no exfiltration, no remote images), framing (clickjacking), <base>/<object>, foreign forms.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "media-src 'self' blob: data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response (an app's own value of a header wins)."""

    def __init__(self, app: Any):
        self.app = app
        self.extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.extra if k not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyError(HTTPException):
    """An HTTPException, so that FastAPI passes it on instead of turning it into a 400 "parsing error"."""

    def __init__(self, status: int, detail: str):
        super().__init__(status, detail, headers={"Connection": "close"})


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status, headers=headers)


def bearer_token(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def basic_ok(headers: Headers, expected: str) -> bool:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(given, expected.encode("utf-8"))


def _is_admin(settings: Settings, headers: Headers) -> bool:
    token = bearer_token(headers)
    return bool(settings.admin_token and token) and hmac.compare_digest(
        str(token).encode("utf-8"), str(settings.admin_token).encode("utf-8")
    )


def body_limit(settings: Settings, path: str) -> int:
    if path in UPLOAD_PATHS:
        return max_request_bytes(settings.max_upload_mb)
    return MAX_BODY_BYTES


class Shield:
    """Everything per request that the libraries do not do for us (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        settings: Settings,
        body_timeout: float | None = None,
        login_bucket: TokenBucket | None = None,
    ):
        self.app = app
        self.settings = settings
        self.body_timeout = BODY_TIMEOUT_S if body_timeout is None else body_timeout
        self.ask_bucket = TokenBucket(settings.ask_rate_per_minute)
        # shared with the admin-token checks (KnowledgeService.login_bucket): one guess budget per address
        self.login_bucket = login_bucket or TokenBucket(settings.login_rate_per_minute)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if self.in_flight >= self.settings.max_concurrent_requests > 0:
            await _json(503, "the server is busy; try again shortly", {"Retry-After": "1"})(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        """A response that refuses the request before the app sees it, or None."""
        path = re.sub(r"/{2,}", "/", scope.get("path", "")).rstrip("/") or "/"  # as the router would see it
        method: str = scope.get("method", "GET")
        headers = Headers(scope=scope)
        if path.startswith(HIDDEN_PREFIXES) and not _is_admin(self.settings, headers):
            return _json(404, "Not Found")
        client = (scope.get("client") or ("?", 0))[0]
        if method == "POST" and path in ASK_PATHS:
            wait = self.ask_bucket.take(client)
            if wait:
                return _too_many(wait, "questions", self.settings.ask_rate_per_minute)
        if method == "POST" and path == "/login":
            wait = self.login_bucket.take(client)
            if wait:
                return _too_many(wait, "login attempts", self.settings.login_rate_per_minute)
        length = headers.get("content-length", "")
        limit = body_limit(self.settings, path)
        if length.isdigit() and int(length) > limit:
            return _json(413, f"request body over {limit} bytes")
        if self.settings.auth and path.startswith(("/api/", "/v1/")) and not path.startswith("/api/admin/"):
            wait = self.login_bucket.wait(client)
            if wait:
                return _too_many(wait, "login attempts", self.settings.login_rate_per_minute)
            if not basic_ok(headers, self.settings.auth):
                self.login_bucket.take(client)
                return _json(401, "login required", {"WWW-Authenticate": "Basic"})
        return None

    async def _guarded(self, scope: Scope, receive: Any, send: Any) -> None:
        limit = body_limit(self.settings, scope.get("path", ""))
        seen = 0
        body_done = False
        started = False

        async def counted() -> Any:  # a chunked body has no Content-Length: count what arrives
            nonlocal seen, body_done
            if body_done:  # after the body only a disconnect can come: wait for it as long as it takes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise _BodyError(408, f"the request body did not arrive within {self.body_timeout:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > limit:
                    raise _BodyError(413, f"request body over {limit} bytes")
            return message

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _BodyError as exc:
            if started:
                raise
            await _json(exc.status_code, exc.detail, exc.headers)(scope, receive, send)


def _too_many(wait: float, what: str, per_minute: int) -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    return _json(
        429,
        f"too many {what} from your address (at most {per_minute} a minute); try again in {seconds} s",
        {"Retry-After": str(seconds)},
    )


# ------------------------------------------------------------------------------------------------------
# uvicorn
# ------------------------------------------------------------------------------------------------------


def _header_deadline_protocol(timeout: float) -> type:
    """uvicorn's h11 protocol plus a header-read deadline: uvicorn times out idle keep-alive connections
    only after a response, so a socket that never (or slowly) sends its headers would be held forever."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._waiting_for_headers():
                self._arm()
            super().data_received(data)
            if not self._waiting_for_headers():
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _waiting_for_headers(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(timeout, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if self._waiting_for_headers() and not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadlineProtocol


FD_RESERVE = 512  # descriptors kept for the app's own files


def raise_fd_limit() -> None:
    """Soft file-descriptor limit up to the hard one (as nginx's worker_rlimit_nofile): more sockets fit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1 << 16), hard))


def connection_ceiling() -> int:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(64, soft - FD_RESERVE)


def uvicorn_config(app: Any, settings: Settings, *, header_timeout: float = HEADER_TIMEOUT_S, **kw: Any) -> Any:
    """The uvicorn configuration ``serve`` uses (also used by the tests, on port 0)."""
    import uvicorn

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "access_log": False,
        "http": _header_deadline_protocol(header_timeout),
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "backlog": BACKLOG,
        # uvicorn counts open connections, idle ones included, so max_concurrent_requests here would let a few
        # dozen idle sockets refuse everyone: requests in progress are capped by Shield; this only keeps
        # connections from exhausting the file descriptors the app itself needs (Chroma, uploads)
        "limit_concurrency": connection_ceiling(),
        "timeout_graceful_shutdown": 5,
    }
    options.update(kw)
    return uvicorn.Config(app, **options)


# ------------------------------------------------------------------------------------------------------
# HTTP guard for Gradio's routes
# ------------------------------------------------------------------------------------------------------

GRADIO_BODY_BYTES = 64 * 1024  # any Gradio request but an upload: a question is at most a few kB
CLOSED_ROUTES = ("/gradio_api/dev/reload", "/gradio_api/deep_link", "/monitoring", "/gradio_api/monitoring")
UPLOAD_ROUTES = ("/gradio_api/upload", "/gradio_api/upload_progress")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


class GradioGuard:
    """Closes Gradio routes the app does not use (dev reload, deep links, monitoring; uploads unless admin
    is on), drops the ``deep_link`` query parameter, and caps request bodies before Gradio reads them.
    Gradio has no switch for these on a mounted app. Plain ASGI, so streams pass through untouched."""

    def __init__(self, app: Any, *, admin: bool, max_upload_mb: int):
        self.app = app
        self.admin = admin
        self.upload_bytes = max_request_bytes(max_upload_mb, GRADIO_REQUEST_OVERHEAD)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = re.sub(r"/{2,}", "/", scope.get("path", "")).rstrip("/") or "/"
        if path.startswith("/api/"):  # the JSON API has its own guard
            await self.app(scope, receive, send)
            return
        if _under(path, CLOSED_ROUTES) or (_under(path, UPLOAD_ROUTES) and not self.admin):
            await _plain(404, "Not Found")(scope, receive, send)
            return
        if b"deep_link" in scope.get("query_string", b""):
            scope = dict(scope, query_string=_without_deep_link(scope["query_string"]))
        limit = self.upload_bytes if _under(path, UPLOAD_ROUTES) else GRADIO_BODY_BYTES
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _plain(413, f"request body over {limit} bytes")(scope, receive, send)
            return
        await self._capped(scope, receive, send, limit)

    async def _capped(self, scope: Any, receive: Any, send: Any, limit: int) -> None:
        seen = 0
        started = refused = False

        async def counted() -> Any:  # a chunked body has no Content-Length: count what arrives
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # answer 413 here: the app would turn an exception into a 400
                    if not started:
                        await _plain(413, f"request body over {limit} bytes")(scope, receive, send)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Any) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)


def _plain(status: int, text: str) -> Any:
    return PlainTextResponse(text, status)


def _without_deep_link(query: bytes) -> bytes:
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k != "deep_link"]).encode("latin-1")
