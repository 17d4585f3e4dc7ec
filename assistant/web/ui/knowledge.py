"""The "Tietopankki / Knowledge base" tab: the sources and their status; with the admin token, uploads and
a refresh with live progress. Uploads follow the one policy of :mod:`assistant.uploads`."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.i18n import language
from assistant.knowledge.loaders import SUPPORTED_SUFFIXES
from assistant.service import KnowledgeService
from assistant.uploads import MAX_UPLOAD_FILES, AdminError, UploadRefused, check_count
from assistant.web.ui.render import TEXTS, msg, render_progress, render_sources_table

log = logging.getLogger("assistant.web.ui")


def upload_paths(paths: Any, upload_dir: Path, limit_bytes: int) -> tuple[list[Path], list[AdminError]]:
    """The admin upload's files, checked before anything is read: inside Gradio's upload folder, regular
    files (no symlinks), at most ``limit_bytes`` each. Gradio checks the folder too; this does not rely on it."""
    root = upload_dir.resolve()
    ok: list[Path] = []
    refused: list[AdminError] = []
    for raw in paths if isinstance(paths, list) else []:
        path = Path(str(raw))
        name = path.name
        try:
            resolved = path.resolve(strict=True)
            info = os.lstat(path)
        except (OSError, RuntimeError):
            refused.append(AdminError("unreadable", 400, name=name, reason="not found"))
            continue
        if not resolved.is_relative_to(root) or not stat.S_ISREG(info.st_mode):
            refused.append(AdminError("unreadable", 400, name=name, reason="not an uploaded file"))
        elif info.st_size > limit_bytes:
            size = f"{info.st_size / 1048576:.1f}"
            refused.append(AdminError("too_large", 413, name=name, size=size, limit=limit_bytes // 1048576))
        else:
            ok.append(resolved)
    return ok, refused


def _refresh_line(event: dict[str, Any], lang: str) -> list[str]:
    """The finished refresh (``done``/``busy``/``error`` event) as message lines."""
    kind = event["type"]
    if kind == "done":
        s = event["summary"]
        done = TEXTS[lang]["refresh_done"].format(
            added=s["added"],
            updated=s["updated"],
            removed=s["removed"],
            unchanged=s["unchanged"],
            failed=len(s["failed"]),
            seconds=s["seconds"],
        )
        return [msg(done, ok=True), *(msg(f"{f['source']}: {f['reason']}", ok=False) for f in s["failed"])]
    if kind == "busy":
        return [msg(AdminError("busy", 409).message(lang), ok=False)]
    return [msg(TEXTS[lang]["refresh_failed"].format(message=event.get("message", "")), ok=False)]


class KnowledgeTab:
    """Built inside a ``gr.Tab``; :meth:`wire` attaches the events once the language switch exists."""

    def __init__(self, service: KnowledgeService, settings: Settings):
        self.service = service
        self.settings = settings
        self.types = ", ".join(sorted(SUPPORTED_SUFFIXES))
        self._layout(TEXTS["fi"], service.admin_enabled)

    def _layout(self, fi: dict[str, str], admin: bool) -> None:
        self.table = gr.HTML(elem_id="elmo-kb-table", js_on_load=None)
        with gr.Row():
            self.reload = gr.Button(fi["kb_reload"], size="sm", scale=0, min_width=160)
        # public users see no admin controls (they stay disabled too), nor an explanation naming settings
        with gr.Column(visible=admin, elem_id="elmo-admin"):
            self.admin_md = gr.Markdown(self.admin_note("fi"), elem_id="elmo-admin-note")
            with gr.Group():
                self.token = gr.Textbox(label=fi["token_label"], type="password", interactive=admin, elem_id="elmo-token")
                self.files = gr.File(
                    label=fi["files_label"],
                    file_count="multiple",
                    file_types=sorted(SUPPORTED_SUFFIXES),
                    interactive=admin,
                    height=150,
                    elem_id="elmo-files",
                )
            with gr.Row():
                self.upload_btn = gr.Button(fi["upload"], variant="primary", interactive=admin, elem_id="elmo-upload")
                self.refresh_btn = gr.Button(fi["refresh"], interactive=admin, elem_id="elmo-refresh")
            self.admin_out = gr.HTML(elem_id="elmo-admin-out", js_on_load=None)

    def admin_note(self, lang: str) -> str:
        if not self.service.admin_enabled:
            return ""
        text = TEXTS[lang]["admin_on"].format(types=self.types, mb=self.settings.max_upload_mb)
        return f"## {TEXTS[lang]['admin_heading']}\n{text}"

    # -- relabelling ---------------------------------------------------------------------------------------

    def labelled(self) -> list[Any]:
        return [
            self.reload,
            self.admin_md,
            self.token,
            self.files,
            self.upload_btn,
            self.refresh_btn,
            self.table,
        ]

    def relabel(self, lang: str) -> list[Any]:
        tx = TEXTS[lang]
        return [
            gr.Button(tx["kb_reload"]),
            self.admin_note(lang),
            gr.Textbox(label=tx["token_label"]),
            gr.File(label=tx["files_label"]),
            gr.Button(tx["upload"]),
            gr.Button(tx["refresh"]),
            self.show_sources(lang),
        ]

    # -- handlers ------------------------------------------------------------------------------------------

    def show_sources(self, lang_value: str) -> str:
        try:
            return render_sources_table(self.service.sources(), language(lang_value))
        except Exception as exc:  # noqa: BLE001 - shown in the tab rather than as an error popup
            log.exception("listing sources failed")
            return msg(str(exc), ok=False)

    def refresh_progress(self, lang: str, head: list[str]) -> Iterator[tuple[str, Any]]:
        yield render_progress(lang, lines=[*head, msg(TEXTS[lang]["progress_start"], ok=True)]), gr.skip()
        for event in self.service.refresh_events():
            if event["type"] == "progress":
                shown = render_progress(
                    lang, done=event["done"], total=event["total"], source=event["source"], lines=head
                )
                yield shown, gr.skip()
                continue
            table = self.show_sources(lang) if event["type"] == "done" else gr.skip()
            yield render_progress(lang, lines=[*head, *_refresh_line(event, lang)]), table

    def do_refresh(self, token_value: Any, lang_value: Any) -> Iterator[tuple[str, Any]]:
        lang = language(lang_value)
        try:
            self.service.check_admin(token_value if isinstance(token_value, str) else None)
        except AdminError as exc:
            yield msg(exc.message(lang), ok=False), gr.skip()
            return
        yield from self.refresh_progress(lang, [])

    def do_upload(self, token_value: Any, paths: Any, lang_value: Any) -> Iterator[tuple[Any, ...]]:
        lang = language(lang_value)
        tx = TEXTS[lang]
        try:
            self.service.check_admin(token_value if isinstance(token_value, str) else None)
            if not paths:
                raise AdminError("no_files", 400)
            if not isinstance(paths, list):
                raise AdminError("too_many", 413, limit=MAX_UPLOAD_FILES)
            check_count(len(paths))
        except AdminError as exc:
            yield msg(exc.message(lang), ok=False), gr.skip(), gr.skip()
            return
        limit = self.settings.max_upload_mb * 1024 * 1024
        files, turned_away = upload_paths(paths, Path(gr.utils.get_upload_folder()), limit)
        try:
            saved = self.service.upload(((p.name, p.read_bytes()) for p in files), turned_away)
        except UploadRefused as exc:
            reasons = "".join(msg(e.message(lang), ok=False) for e in exc.errors)
            lines = [msg(tx["rejected"], ok=False) + reasons, msg(tx["nothing_saved"], ok=False)]
            yield render_progress(lang, lines=lines), gr.skip(), gr.skip()
            return
        except AdminError as exc:  # e.g. the uploads folder is a link
            yield msg(exc.message(lang), ok=False), gr.skip(), gr.skip()
            return
        head = [msg(tx["saved"].format(names=", ".join(s["name"] for s in saved)), ok=True)]
        for out, table in self.refresh_progress(lang, head):
            yield out, table, None

    # -- events --------------------------------------------------------------------------------------------

    def wire(self, demo: gr.Blocks, lang: gr.Radio, tab: gr.Tab) -> None:
        for trigger in (tab.select, self.reload.click, demo.load):
            trigger(self.show_sources, inputs=[lang], outputs=[self.table], api_visibility="private")
        admin = {
            "api_visibility": "private",
            "concurrency_limit": 1,
            "concurrency_id": "admin",
            "show_progress": "hidden",
        }
        self.refresh_btn.click(
            self.do_refresh, inputs=[self.token, lang], outputs=[self.admin_out, self.table], **admin
        )
        self.upload_btn.click(
            self.do_upload,
            inputs=[self.token, self.files, lang],
            outputs=[self.admin_out, self.table, self.files],
            **admin,
        )
