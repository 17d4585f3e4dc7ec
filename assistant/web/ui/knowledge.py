"""The "Tietopankki / Knowledge base" tab: the sources and their status, and any source's indexed text;
with the admin token, uploads, a refresh with live progress, and a source's original file to download or
the source to delete (after a confirmation). Uploads follow the one policy of :mod:`assistant.uploads`."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.i18n import language, reason_text
from assistant.knowledge.loaders import SUPPORTED_SUFFIXES
from assistant.service import KnowledgeService, RefreshFailed
from assistant.uploads import MAX_UPLOAD_FILES, AdminError, UploadRefused, check_count, check_size
from assistant.web.ui.render import TEXTS, msg, render_progress, render_source_text, render_sources_table

log = logging.getLogger("assistant.web.ui")


def upload_paths(paths: Any, upload_dir: Path, settings: Settings) -> tuple[list[Path], list[AdminError]]:
    """The admin upload's files, checked before anything is read: inside Gradio's upload folder, regular
    files (no symlinks), each within the size limit. Gradio checks the folder too; this does not rely on it."""
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
            continue
        try:
            check_size(settings, name, info.st_size)
        except AdminError as exc:
            refused.append(exc)
            continue
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
        failed = (msg(f"{f['source']}: {reason_text(f['reason'], lang)}", ok=False) for f in s["failed"])
        return [msg(done, ok=True), *failed]
    if kind == "busy":
        return [msg(AdminError("busy", 409).message(lang), ok=False)]
    return [msg(TEXTS[lang]["refresh_failed"].format(message=event.get("message", "")), ok=False)]


def _token(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _client(request: gr.Request | None) -> str | None:
    """The client's address, whose wrong tokens are counted (service.check_admin); None when unknown."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


def _source(value: Any) -> str:
    """The chosen source; an empty string when none is chosen."""
    return value if isinstance(value, str) else ""


def download_copy(path: Path, cache: Path) -> Path:
    """A copy of a source's file in Gradio's cache under an unguessable folder: the sources folder is
    blocked for Gradio, so the file it serves is this copy; Gradio's cache clean-up deletes it later."""
    folder = cache / f"elmo-download-{secrets.token_hex(16)}"
    folder.mkdir(parents=True)
    copy = folder / path.name
    shutil.copyfile(path, copy)
    return copy


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
        with gr.Row(equal_height=True):
            self.source = gr.Dropdown(
                choices=[], value=None, label=fi["source_label"], elem_id="elmo-source", scale=4
            )
            self.view_btn = gr.Button(fi["view_text"], elem_id="elmo-view", scale=1, min_width=140)
        self.text_out = gr.HTML(elem_id="elmo-source-text", js_on_load=None)
        # public users see no admin controls (they stay disabled too), nor an explanation naming settings
        with gr.Column(visible=admin, elem_id="elmo-admin"):
            self.admin_md = gr.Markdown(self.admin_note("fi"), elem_id="elmo-admin-note")
            with gr.Group():
                self.token = gr.Textbox(
                    label=fi["token_label"], type="password", interactive=admin, elem_id="elmo-token"
                )
                self.files = gr.File(
                    label=fi["files_label"],
                    file_count="multiple",
                    file_types=sorted(SUPPORTED_SUFFIXES),
                    interactive=admin,
                    height=150,
                    elem_id="elmo-files",
                )
            with gr.Row():
                self.upload_btn = gr.Button(
                    fi["upload"], variant="primary", interactive=admin, elem_id="elmo-upload"
                )
                self.refresh_btn = gr.Button(fi["refresh"], interactive=admin, elem_id="elmo-refresh")
            with gr.Row():
                self.download_btn = gr.Button(fi["download"], interactive=admin, elem_id="elmo-download")
                self.delete_btn = gr.Button(
                    fi["delete_source"], variant="stop", interactive=admin, elem_id="elmo-delete"
                )
            self.download_file = gr.File(
                label=fi["download_label"], interactive=False, visible=False, elem_id="elmo-download-file"
            )
            with gr.Column(visible=False, elem_id="elmo-delete-confirm") as self.confirm:
                self.confirm_md = gr.HTML(js_on_load=None, elem_id="elmo-delete-question")
                with gr.Row():
                    self.yes_btn = gr.Button(fi["delete_yes"], variant="stop", elem_id="elmo-delete-yes")
                    self.no_btn = gr.Button(fi["delete_no"], elem_id="elmo-delete-no")
            # the source the confirmation names: what "yes" deletes; dropped with the session like the chat's
            self.pending = gr.State(None, time_to_live=self.settings.session_ttl_minutes * 60)
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
            self.source,
            self.view_btn,
            self.download_btn,
            self.delete_btn,
            self.download_file,
            self.yes_btn,
            self.no_btn,
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
            gr.Dropdown(label=tx["source_label"]),
            gr.Button(tx["view_text"]),
            gr.Button(tx["download"]),
            gr.Button(tx["delete_source"]),
            gr.File(label=tx["download_label"]),
            gr.Button(tx["delete_yes"]),
            gr.Button(tx["delete_no"]),
        ]

    # -- the list and a source's text (public) -------------------------------------------------------------

    def show_sources(self, lang_value: str) -> str:
        return self.listing(lang_value)[0]

    @staticmethod
    def _choices(sources: list[dict[str, Any]], value: Any) -> gr.Dropdown:
        """The indexed sources to choose from; ``value`` the one chosen after the update (None clears it)."""
        choices = [(f"{s['title']} ({s['source']})", s["source"]) for s in sources if s["status"] != "failed"]
        known = {c[1] for c in choices}
        return gr.Dropdown(choices=choices, value=value if value in known else None)

    def listing(self, lang_value: Any, chosen: Any = None) -> tuple[str, gr.Dropdown]:
        """The source table and the dropdown's choices, from one reading of the sources."""
        try:
            overview = self.service.sources()
            return render_sources_table(overview, language(lang_value)), self._choices(overview["sources"], chosen)
        except Exception as exc:  # noqa: BLE001 - shown in the tab rather than as an error popup
            log.exception("listing sources failed")
            return msg(str(exc), ok=False), gr.Dropdown(choices=[], value=None)

    def view_text(self, source_value: Any, lang_value: Any) -> str:
        lang, source = language(lang_value), _source(source_value)
        if not source:
            return msg(TEXTS[lang]["source_none"], ok=False)
        return render_source_text(self.service.source_text(source), source, lang)

    # -- refresh and upload (admin) ------------------------------------------------------------------------

    def refresh_progress(self, lang: str, head: list[str]) -> Iterator[tuple[str, Any, Any]]:
        yield (
            render_progress(lang, lines=[*head, msg(TEXTS[lang]["progress_start"], ok=True)]),
            gr.skip(),
            gr.skip(),
        )
        for event in self.service.refresh_events():
            if event["type"] == "progress":
                shown = render_progress(
                    lang, done=event["done"], total=event["total"], source=event["source"], lines=head
                )
                yield shown, gr.skip(), gr.skip()
                continue
            done = event["type"] == "done"
            table, choices = self.listing(lang) if done else (gr.skip(), gr.skip())
            yield render_progress(lang, lines=[*head, *_refresh_line(event, lang)]), table, choices

    def do_refresh(self, token_value: Any, lang_value: Any, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        lang = language(lang_value)
        try:
            self.service.check_admin(_token(token_value), _client(request))
        except AdminError as exc:
            yield msg(exc.message(lang), ok=False), gr.skip(), gr.skip()
            return
        yield from self.refresh_progress(lang, [])

    def do_upload(
        self, token_value: Any, paths: Any, lang_value: Any, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        """Saves the chosen files and refreshes. Once the files were checked, the file input is emptied
        whatever the outcome: a refused file must not go again with the next upload."""
        lang = language(lang_value)
        tx = TEXTS[lang]
        try:
            self.service.check_admin(_token(token_value), _client(request))
            if paths and not isinstance(paths, list):  # one file where a list goes: a hand-made request
                raise AdminError("too_many", 413, limit=MAX_UPLOAD_FILES)
            check_count(len(paths or []))
        except AdminError as exc:
            yield msg(exc.message(lang), ok=False), gr.skip(), gr.skip(), gr.skip()
            return
        files, turned_away = upload_paths(paths, Path(gr.utils.get_upload_folder()), self.settings)
        try:
            saved = self.service.upload(((p.name, p.read_bytes()) for p in files), turned_away)
        except UploadRefused as exc:
            reasons = "".join(msg(e.message(lang), ok=False) for e in exc.errors)
            lines = [msg(tx["rejected"], ok=False) + reasons, msg(tx["nothing_saved"], ok=False)]
            yield render_progress(lang, lines=lines), gr.skip(), gr.skip(), None
            return
        except AdminError as exc:  # e.g. the uploads folder is a link
            yield msg(exc.message(lang), ok=False), gr.skip(), gr.skip(), None
            return
        head = [msg(tx["saved"].format(names=", ".join(s["name"] for s in saved)), ok=True)]
        for out, table, choices in self.refresh_progress(lang, head):
            yield out, table, choices, None

    # -- a source's file and its deletion (admin) ----------------------------------------------------------

    def _admin_source(self, token_value: Any, source_value: Any, request: gr.Request | None) -> Path:
        """The chosen source's file once the token is right (:class:`AdminError` otherwise)."""
        self.service.check_admin(_token(token_value), _client(request))
        source = _source(source_value)
        if not source:
            raise AdminError("no_source", 404, source="–")
        return self.service.source_file(source)

    def do_download(
        self, token_value: Any, source_value: Any, lang_value: Any, request: gr.Request
    ) -> tuple[str, Any]:
        lang = language(lang_value)
        try:
            path = self._admin_source(token_value, source_value, request)
        except AdminError as exc:
            return msg(exc.message(lang), ok=False), gr.File(value=None, visible=False)
        copy = download_copy(path, Path(self.download_file.GRADIO_CACHE))
        return "", gr.File(value=str(copy), visible=True)

    def ask_delete(self, token_value: Any, source_value: Any, lang_value: Any, request: gr.Request) -> tuple[Any, ...]:
        """The confirmation step: names the source that "yes" will delete."""
        lang = language(lang_value)
        try:
            self._admin_source(token_value, source_value, request)
        except AdminError as exc:
            return msg(exc.message(lang), ok=False), gr.Column(visible=False), "", None
        question = TEXTS[lang]["delete_confirm"].format(source=source_value)
        return "", gr.Column(visible=True), msg(question, ok=False), source_value

    def do_delete(self, token_value: Any, pending: Any, lang_value: Any, request: gr.Request) -> tuple[Any, ...]:
        lang = language(lang_value)
        hide = gr.Column(visible=False)
        try:
            self._admin_source(token_value, pending, request)
            done = self.service.delete_source(pending)
        except AdminError as exc:
            return msg(exc.message(lang), ok=False), gr.skip(), gr.skip(), hide, None, gr.skip()
        except RefreshFailed as exc:
            failed = TEXTS[lang]["refresh_failed"].format(message=str(exc))
            return msg(failed, ok=False), *self.listing(lang), hide, None, ""
        said = TEXTS[lang]["deleted"].format(source=pending, sources=done["sources"])
        return msg(said, ok=True), *self.listing(lang), hide, None, ""

    def cancel_delete(self, lang_value: Any) -> tuple[Any, ...]:
        return msg(TEXTS[language(lang_value)]["delete_cancelled"], ok=True), gr.Column(visible=False), None

    # -- events --------------------------------------------------------------------------------------------

    def wire(self, demo: gr.Blocks, lang: gr.Radio, tab: gr.Tab) -> None:
        for trigger in (tab.select, self.reload.click, demo.load):
            trigger(
                self.listing,
                inputs=[lang, self.source],
                outputs=[self.table, self.source],
                api_visibility="private",
            )
        self.view_btn.click(
            self.view_text, inputs=[self.source, lang], outputs=[self.text_out], api_visibility="private"
        )
        admin = {
            "api_visibility": "private",
            "concurrency_limit": 1,
            "concurrency_id": "admin",
            "show_progress": "hidden",
        }
        self.refresh_btn.click(
            self.do_refresh,
            inputs=[self.token, lang],
            outputs=[self.admin_out, self.table, self.source],
            **admin,
        )
        self.upload_btn.click(
            self.do_upload,
            inputs=[self.token, self.files, lang],
            outputs=[self.admin_out, self.table, self.source, self.files],
            **admin,
        )
        self.download_btn.click(
            self.do_download,
            inputs=[self.token, self.source, lang],
            outputs=[self.admin_out, self.download_file],
            **admin,
        )
        self.delete_btn.click(
            self.ask_delete,
            inputs=[self.token, self.source, lang],
            outputs=[self.admin_out, self.confirm, self.confirm_md, self.pending],
            **admin,
        )
        self.yes_btn.click(
            self.do_delete,
            inputs=[self.token, self.pending, lang],
            outputs=[self.admin_out, self.table, self.source, self.confirm, self.pending, self.text_out],
            **admin,
        )
        self.no_btn.click(
            self.cancel_delete, inputs=[lang], outputs=[self.admin_out, self.confirm, self.pending], **admin
        )
