"""The web chat (Gradio 6): a header with the language switch and two tabs, each a class of its own —
:class:`~assistant.web.ui.chat.ChatTab` and :class:`~assistant.web.ui.knowledge.KnowledgeTab` — over the
:class:`~assistant.service.KnowledgeService`. Rendering is in :mod:`assistant.web.ui.render`; CSS and the
browser scripts are files in ``static/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from assistant.config import Settings
from assistant.conversations import ConversationStore
from assistant.i18n import LANGUAGE_NAMES, LANGUAGES, language
from assistant.service import KnowledgeService
from assistant.web.history import add_history_routes
from assistant.web.security import GradioGuard
from assistant.web.ui.chat import ASK_CONCURRENCY, ChatTab, PerClient
from assistant.web.ui.knowledge import KnowledgeTab
from assistant.web.ui.render import (
    TEXTS,
    esc,
    md_text,
    render_answer,
    render_card,
    render_panel,
    render_sources_table,
)

__all__ = [
    "ASK_CONCURRENCY",
    "PerClient",
    "build_ui",
    "esc",
    "md_text",
    "mount",
    "render_answer",
    "render_card",
    "render_panel",
    "render_sources_table",
]

STATIC = Path(__file__).parent / "static"
CACHE_CLEANUP = (600, 3600)  # Gradio deletes its cached/uploaded files older than 1 h every 10 min
REMEMBER_LANGUAGE_JS = (
    "(lang) => { try { window.localStorage.setItem('elmo-lang', lang); } catch (e) {} return lang; }"
)
# <html lang> and the labels citations.js writes follow the UI language (static/citations.js)
SET_PAGE_LANGUAGE_JS = "(lang) => (window.__elmoSetLang ? window.__elmoSetLang(lang) : lang)"
BROWSER_TEXT_KEYS = ("cite_label", "back_to_answer", "liked", "disliked")


def _header(lang: str) -> str:
    return f"<h1>{esc(TEXTS[lang]['title'])}</h1><p>{esc(TEXTS[lang]['subtitle'])}</p>"


def gradio_i18n() -> gr.I18n:
    """Gradio's own labels where its Finnish and Swedish catalogues lack them (it picks the browser's)."""
    keys = {"chatbot.copy_message": "copy_message", "chatbot.copied_message": "copied_message"}
    return gr.I18n(**{lang: {g: TEXTS[lang][k] for g, k in keys.items()} for lang in LANGUAGES})


def head_html() -> str:
    """The page head: the texts the browser scripts need, then the scripts (inline, as the page's CSP
    allows; a head_paths file holds HTML, not JS)."""
    browser_texts = {lang: {k: TEXTS[lang][k] for k in BROWSER_TEXT_KEYS} for lang in LANGUAGES}
    data = json.dumps(browser_texts, ensure_ascii=False).replace("<", "\\u003c")
    script = (STATIC / "citations.js").read_text(encoding="utf-8")
    return f"<script>window.__elmoTexts = {data};</script>\n<script>\n{script}</script>"


def theme() -> gr.themes.Base:
    """Gradio's default theme with text colours that reach 4.5:1 in light and dark (WCAG 2.1 AA)."""
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=THEME_FONTS).set(
        body_text_color_subdued="*neutral_600",
        body_text_color_subdued_dark="*neutral_300",
        block_info_text_color="*neutral_600",
        block_info_text_color_dark="*neutral_300",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white",
        button_primary_text_color_dark="white",
    )


def build_ui(service: KnowledgeService, settings: Settings) -> gr.Blocks:
    fi = TEXTS["fi"]
    ttl = settings.session_ttl_minutes * 60
    with gr.Blocks(title="ELMO-avustaja", analytics_enabled=False, delete_cache=CACHE_CLEANUP) as demo:
        with gr.Row(elem_id="elmo-header"):
            header = gr.HTML(_header("fi"), elem_id="elmo-title", scale=4, js_on_load=None)
            lang = gr.Radio(
                choices=[(LANGUAGE_NAMES[code], code) for code in LANGUAGES],
                value="fi",
                label=fi["lang_label"],
                show_label=False,
                container=False,
                elem_id="elmo-lang",
                scale=1,
            )
        with gr.Tabs(elem_id="elmo-tabs"):
            with gr.Tab(fi["tab_chat"], id="chat") as chat_tab:
                chat = ChatTab(service, settings, ttl)
            with gr.Tab(fi["tab_kb"], id="kb") as kb_tab:
                kb = KnowledgeTab(service, settings)
        chat.wire(lang, demo)
        kb.wire(demo, lang, kb_tab)

        def apply_language(lang_value: Any, turn_list: list[dict[str, Any]]) -> list[Any]:
            code = language(lang_value)
            t = TEXTS[code]
            fixed = [_header(code), gr.Radio(label=t["lang_label"]), gr.Tab(label=t["tab_chat"]), gr.Tab(label=t["tab_kb"])]
            return [*fixed, *chat.relabel(code, turn_list), *kb.relabel(code)]

        lang.change(
            apply_language,
            inputs=[lang, chat.turns],
            outputs=[header, lang, chat_tab, kb_tab, *chat.labelled(), *kb.labelled()],
            api_visibility="private",
            show_progress="hidden",
        )
        lang.input(None, inputs=[lang], outputs=[lang], js=REMEMBER_LANGUAGE_JS, api_visibility="private")
        lang.change(None, inputs=[lang], outputs=None, js=SET_PAGE_LANGUAGE_JS, api_visibility="private")
        detect = (STATIC / "detect_language.js").read_text(encoding="utf-8").strip()
        on_load = f"(current) => ({SET_PAGE_LANGUAGE_JS})(({detect})(current))"
        demo.load(None, inputs=[lang], outputs=[lang], js=on_load, api_visibility="private")
    demo.queue(max_size=settings.queue_max_size, default_concurrency_limit=1)
    demo.state_session_capacity = settings.max_sessions  # Gradio drops the least recently used sessions
    return demo


def blocked_paths(settings: Settings) -> list[str]:
    """Folders Gradio must never read a client-named file from (its own upload folder stays readable)."""
    paths = ["/proc", "/sys", "/dev", "/etc", "/root", "/home", str(settings.index), str(settings.sources)]
    if settings.admin_token_file:
        paths.append(str(settings.admin_token_file))
    return sorted({str(Path(p).resolve()) for p in paths})


THEME_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]


def mount(app: FastAPI, demo: gr.Blocks, settings: Settings, conversations: ConversationStore) -> FastAPI:
    """Mounts the UI at ``/`` (after the API routes, which must stay first), with the export route of
    ``conversations`` (the store the chat saves to)."""
    auth = None
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        auth = (user, password)
    app.add_middleware(GradioGuard, admin=bool(settings.admin_token), max_upload_mb=settings.max_upload_mb)
    add_history_routes(app, conversations, max_age_days=settings.conversation_days)
    mounted = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        auth=auth,
        auth_message="ELMO-avustaja: kirjaudu sisään / please log in",
        allowed_paths=[],
        blocked_paths=blocked_paths(settings),
        max_file_size=f"{settings.max_upload_mb}mb",
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        footer_links=["api"],
        run_history=False,
        show_error=False,
        css_paths=[STATIC / "elmo.css"],
        head=head_html(),
        theme=theme(),
        i18n=gradio_i18n(),
    )
    # Gradio checks client-named files (upload folder only, blocked_paths) only once `has_launched` is set,
    # which launch() does and mount_gradio_app does not.
    demo.has_launched = True
    app.state.gradio_blocks = demo
    return mounted
