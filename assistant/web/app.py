"""``assistant serve``: one FastAPI app — middleware, the JSON API routers, the OpenAI-compatible routes,
metrics and offline docs, and the Gradio chat mounted at ``/`` — over one
:class:`~assistant.service.KnowledgeService`.

The model, the Chroma store and the BM25 snapshot are loaded once, before the server starts listening.
With ``ASSISTANT_AUTH=user:password`` the UI asks for a login and the non-admin API for HTTP Basic auth.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.schema import encodable
from assistant.service import KnowledgeService
from assistant.uploads import AdminError
from assistant.web.api import api_routers
from assistant.web.security import SecurityHeaders, Shield


def allowed_hosts(settings: Settings) -> list[str]:
    """ASSISTANT_ALLOWED_HOSTS plus the address ``serve`` binds to (unless it is a wildcard)."""
    hosts = list(settings.allowed_hosts)
    if settings.host not in ("0.0.0.0", "::", ""):
        hosts.append(settings.host.strip("[]"))
    return hosts


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's own handler echoes the offending input, which need not even be encodable
    errors = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(encodable(errors))}, 422)


async def _admin_error(request: Request, exc: AdminError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if exc.status == 429:
        headers = {"Retry-After": str(exc.params["seconds"])}
    return JSONResponse({"detail": exc.message("en"), "code": exc.code}, exc.status, headers=headers)


def create_app(settings: Settings, assistant: Assistant | None = None, *, ui: bool = True) -> FastAPI:
    """The API (+ the Gradio UI at ``/`` unless ``ui=False``). Loads the assistant unless one is given."""
    service = KnowledgeService(settings, assistant)
    app = FastAPI(
        title="ELMO assistant",
        version="0.1.0",
        description="Cited answers about Finland's regional smart-specialisation work (ELMO). "
        "The chat UI is at `/`.",
    )
    # outermost last: headers on every response, then the Host check, then Shield; a CORS middleware of our
    # own (no origins, no credentials) also switches off Gradio's, which reflects localhost origins
    app.add_middleware(CORSMiddleware, allow_origins=[], allow_credentials=False)
    app.add_middleware(Shield, settings=settings, login_bucket=service.login_bucket)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings), www_redirect=False)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(AdminError, _admin_error)  # type: ignore[arg-type]
    for router in api_routers(service):
        app.include_router(router)

    from assistant.web.docs_assets import add_offline_docs
    from assistant.web.metrics import add_metrics
    from assistant.web.openai_compat import add_openai_routes

    add_metrics(app, settings, service.assistant, service.runner, service.feedback, login_bucket=service.login_bucket)  # first: it wraps the answerer for every caller
    add_openai_routes(app, service.stream, max_question_chars=settings.max_question_chars)
    add_offline_docs(app)
    app.state.service = service
    if ui:
        from assistant.web.gradio_import import skip_stub_writer

        skip_stub_writer()
        from assistant.web.ui import build_ui, mount

        mount(app, build_ui(service, settings), settings, service.conversations)
    return app


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
