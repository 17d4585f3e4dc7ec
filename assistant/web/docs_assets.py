"""``/docs`` (Swagger UI) served with local assets, so the API docs work offline.

FastAPI's own pages load their scripts, styles and favicon from a CDN: blank without a network, and refused
by our CSP anyway. Here the page comes from FastAPI's ``get_swagger_ui_html`` with the Swagger UI 5 build
that the ``fastapi-offline`` package ships (Swagger UI 4, as in ``swagger-ui-bundle``, cannot render
FastAPI's OpenAPI 3.1), served under ``/docs/assets/``. ``/redoc`` redirects to ``/docs``: ReDoc 2 (also in
that package) always loads its logo from redoc.ly.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

ASSETS_PREFIX = "/docs/assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def asset_dir() -> Path:
    return Path(fastapi_offline.__file__).parent / "static"


def add_offline_docs(app: FastAPI) -> None:
    """Replaces FastAPI's CDN-based ``/docs`` and ``/redoc`` with pages whose assets this server serves."""
    docs_url, redoc_url = app.docs_url or "/docs", app.redoc_url or "/redoc"
    # FastAPI adds its docs routes in its constructor; they are swapped here so the app factory stays as is
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", None) not in {docs_url, redoc_url}
    ]
    folder = asset_dir()

    def urls(request: Request) -> tuple[str, str]:
        root = request.scope.get("root_path", "").rstrip("/")
        return root + (app.openapi_url or "/openapi.json"), root + ASSETS_PREFIX

    @app.get(docs_url, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        openapi, assets = urls(request)
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title} – API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        )

    @app.get(redoc_url, include_in_schema=False)
    def redoc() -> RedirectResponse:
        return RedirectResponse(docs_url)

    @app.get(ASSETS_PREFIX + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, "Not Found")
        headers = {"Cache-Control": "max-age=86400"}
        return FileResponse(folder / name, media_type=ASSETS[name], headers=headers)
