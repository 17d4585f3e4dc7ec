"""``/docs`` works offline: the page references only this server, its assets load, and Chromium renders the
API under our CSP with every request to another origin blocked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from support.live_server import live_server

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.web.app import create_app
from assistant.web.security import CSP

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def url(kb_settings: Settings) -> Iterator[str]:
    settings = kb_settings.model_copy(update={"allowed_hosts": ["127.0.0.1"]})
    # with the UI: the chat mounted at / must not shadow /docs and its assets
    with live_server(create_app(settings, Assistant(settings), ui=True), settings) as base:
        yield base


REFERENCE = re.compile(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'""")


def referenced_urls(html: str) -> list[str]:
    """The page's src/href attributes and the schema URL given to Swagger UI."""
    return [a or b for a, b in REFERENCE.findall(html)]


def test_docs_reference_only_this_server(url: str) -> None:
    with httpx.Client(base_url=url) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}", page.text, re.I), "an external URL"
        refs = referenced_urls(page.text)
        assert len(refs) == 4  # stylesheet, favicon, script, the OpenAPI schema
        for ref in refs:
            assert not urlsplit(ref).netloc and ref.startswith("/")
            r = http.get(ref)
            assert r.status_code == 200 and len(r.content) > 100, ref
        assert http.get("/openapi.json").json()["openapi"].startswith("3.1")  # what the bundled UI must read


def test_only_the_listed_assets_are_served(url: str) -> None:
    with httpx.Client(base_url=url) as http:
        js = http.get("/docs/assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert http.get("/docs/assets/core.py").status_code == 404
        assert http.get("/docs/assets/..%2F__init__.py").status_code == 404
        redoc = http.get("/redoc", follow_redirects=False)  # ReDoc would load its logo from a CDN
        assert redoc.status_code == 307 and redoc.headers["location"] == "/docs"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
def test_chromium_renders_docs_without_network(url: str) -> None:
    from playwright.sync_api import sync_playwright

    foreign: list[str] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def gate(route: object) -> None:
                request_url = route.request.url  # type: ignore[attr-defined]
                if request_url.startswith(url) or request_url.startswith("data:"):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    foreign.append(request_url)
                    route.abort()  # type: ignore[attr-defined]

            page.route("**/*", gate)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{url}/redoc", wait_until="domcontentloaded")  # redirected to /docs
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "ELMO assistant" in page.inner_text(".swagger-ui .info .title")
            page.wait_for_function(  # Swagger UI breaks paths with zero-width spaces
                "document.body.innerText.replace(/\\u200b/g, '').includes('/v1/chat/completions')",
                timeout=10_000,
            )
            assert page.locator(".opblock").count() >= 8  # the operations are listed
            assert page.url == f"{url}/docs"
        finally:
            browser.close()
    assert foreign == [], f"requests to other origins: {foreign}"
    assert problems == [], problems  # no CSP violation, no script error
