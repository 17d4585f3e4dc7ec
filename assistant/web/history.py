"""The browser id cookie and the conversation export route.

A browser gets an opaque random id in an HttpOnly, SameSite=Strict cookie when it loads the page; the chat
keys its saved conversations by it (:mod:`assistant.conversations`). The id only ever selects the browser's
own conversations: the export route answers 404 for any conversation another browser id holds.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.datastructures import MutableHeaders

from assistant.conversations import ConversationStore, new_browser_id, to_markdown, valid_browser_id
from assistant.i18n import language

COOKIE = "elmo_browser"
PAGE_PATHS = ("/", "")


class BrowserCookie:
    """Issues the browser id on the page itself (GET ``/``) when the request carries none (pure ASGI, so
    streamed responses pass untouched)."""

    def __init__(self, app: Any, *, max_age_days: int):
        self.app = app
        self.max_age = max_age_days * 86400

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in PAGE_PATHS:
            await self.app(scope, receive, send)
            return
        if valid_browser_id(Request(scope).cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE}={new_browser_id()}; Path=/; Max-Age={self.max_age}; HttpOnly; SameSite=Strict{secure}"

        async def with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, with_cookie)


def browser_of(request: Any) -> str | None:
    """The valid browser id of a FastAPI or Gradio request, else None (no cookie: nothing is saved)."""
    inner = getattr(request, "request", None)  # gr.Request wraps the FastAPI request
    source = inner if inner is not None else request
    try:
        cookies = source.cookies
        value = cookies.get(COOKIE) if hasattr(cookies, "get") else cookies[COOKIE]
    except (AttributeError, KeyError, TypeError):
        return None
    return valid_browser_id(value)


def add_history_routes(app: FastAPI, store: ConversationStore, *, max_age_days: int) -> None:
    """The cookie middleware and ``GET /conversations/{id}/export?lang=fi`` (Markdown, as a download).
    Must run before the UI is mounted at ``/`` (the mount would shadow the route)."""
    app.add_middleware(BrowserCookie, max_age_days=max_age_days)

    @app.get("/conversations/{conversation}/export", include_in_schema=False)
    def export(conversation: str, request: Request, lang: str = "fi") -> Response:
        browser = browser_of(request)
        found = store.get(browser, conversation) if browser else None
        if found is None:
            return PlainTextResponse("not found", 404)
        name = f"elmo-{found.id}.md"
        return Response(
            to_markdown(found, language(lang)),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )
