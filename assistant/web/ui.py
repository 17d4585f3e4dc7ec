"""The web chat (Gradio 6): "Keskustelu / Chat" and "Tietopankki / Knowledge base".

Display safety: every text that comes from a document or a user reaches the page only escaped. Chat
messages are Markdown in which all Markdown and HTML syntax of that text is escaped (only the structure
the answerer itself writes — quotes, bullets, the contact card's heading — and our [n] links are kept);
the passage panel and the source table are HTML built here with everything escaped, including the
``{`` ``$`` `` ` `` that gr.HTML's template engine would otherwise interpret.

Citation markers are links to ``#elmo-cite-<turn>-<n>``; a small script (``HEAD``) turns a click on one into
showing that passage, highlighted in its surrounding text, in the sources panel — no server round trip.
"""

from __future__ import annotations

import html
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from assistant.answering.assistant import PHRASES, Answer, Assistant  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.feedback import FeedbackStore  # noqa: E402
from assistant.knowledge.loaders import SUPPORTED_SUFFIXES  # noqa: E402
from assistant.web.api import (  # noqa: E402
    ADMIN_MESSAGES,
    MAX_UPLOAD_FILES,
    PASSAGE_CONTEXT,
    AdminError,
    PreparedUpload,
    RefreshRunner,
    SourceTexts,
    check_admin,
    commit_uploads,
    discard_uploads,
    passage_context,
    prepare_upload,
    sources_overview,
)

log = logging.getLogger("assistant.web.ui")

HISTORY_USED = 20  # earlier questions handed to the answerer
MAX_TURNS = 20  # turns a session keeps (older ones leave the chat): bounds a session's memory
PANEL_TURNS = MAX_TURNS  # answers whose passages stay reachable from their [n] links
ASK_CONCURRENCY = 4  # questions answered at once (2 CPU cores); the rest wait in Gradio's queue
ASKS_PER_CLIENT = 2  # questions of one client address in progress at once; more get a "busy" notice
GRADIO_BODY_BYTES = 64 * 1024  # any Gradio request but an upload: a question is at most a few kB
CACHE_CLEANUP = (600, 3600)  # Gradio deletes its cached/uploaded files older than 1 h every 10 min
LANGUAGES = ("fi", "en")
ANSWER_KEYS = ("question", "language", "answer", "refused", "citations", "mode", "quoted_from_finnish")
STREAM_STEPS = 14  # extractive answers appear in about this many steps
STREAM_DELAY = 0.025

EXAMPLES = [
    "Kuka on ELMO-pilotin projektipäällikkö?",
    "Mitkä maakunnat valittiin ELMO-pilottiin?",
    "Mitkä ovat Itä- ja Pohjois-Suomen älykkään erikoistumisen strategian painopisteet?",
    "Who is the project manager of the ELMO pilot?",
]

TEXTS: dict[str, dict[str, str]] = {
    "fi": {
        "title": "ELMO-avustaja",
        "subtitle": "Kysy Itä- ja Pohjois-Suomen älykkään erikoistumisen työstä. Jokainen vastaus kertoo, "
        "mistä lähteestä se on.",
        "tab_chat": "Keskustelu",
        "tab_kb": "Tietopankki",
        "chat_label": "Keskustelu",
        "welcome": "### Hei!\nKysy esimerkiksi ELMO-pilotista, maakuntien yhteisestä älykkään erikoistumisen "
        "strategiasta tai yhteyshenkilöistä. Vastaukset ovat lähteistä lainattuja, ja viite **[1]** näyttää "
        "lainatun kohdan.",
        "input_label": "Kysymys",
        "input_placeholder": "Kirjoita kysymys ja paina Enter…",
        "send": "Kysy",
        "new": "Uusi keskustelu",
        "examples": "Esimerkkikysymyksiä",
        "sources": "Lähteet",
        "sources_hint": "Napsauta vastauksen viitettä, esim. [1], niin lainattu kohta näkyy tässä "
        "korostettuna tekstiyhteydessään.",
        "sources_empty": "Vastauksen lähteet näkyvät tässä.",
        "no_sources": "Tähän vastaukseen ei löytynyt lähteitä.",
        "question": "Kysymys",
        "publisher": "Julkaisija",
        "date": "Päivämäärä",
        "page": "sivu",
        "open": "Avaa lähde",
        "badge_finnish": "Lainattu suomenkielisistä lähteistä",
        "badge_nothing": "Lähteistä ei löytynyt vastausta",
        "error": "Vastaaminen epäonnistui teknisen vian takia. Yritä hetken kuluttua uudelleen.",
        "thanks": "Kiitos palautteesta! Voit halutessasi kertoa lisää.",
        "feedback_removed": "Palaute poistettu.",
        "comment_label": "Kommentti (valinnainen)",
        "comment_placeholder": "Mikä vastauksessa oli hyvää tai mikä puuttui?",
        "comment_send": "Lähetä kommentti",
        "comment_saved": "Kommentti tallennettu. Kiitos!",
        "lang_label": "Kieli",
        "kb_heading": "Tietopankin lähteet",
        "kb_summary": "{sources} lähdettä · {chunks} tekstikappaletta · päivitetty viimeksi {when}",
        "kb_never": "ei vielä",
        "kb_reload": "Päivitä näkymä",
        "col_title": "Lähde",
        "col_kind": "Tyyppi",
        "col_chunks": "Kappaleita",
        "col_refreshed": "Päivitetty",
        "col_status": "Tila",
        "status_ok": "Käytössä",
        "status_stale": "Päivitys epäonnistui – edellinen versio käytössä",
        "status_failed": "Ei indeksoitu",
        "kb_empty": "Tietopankissa ei ole vielä yhtään lähdettä.",
        "admin_heading": "Ylläpito: asiakirjojen lataus ja päivitys",
        "admin_on": "Lataa uusia asiakirjoja ({types}; enintään {mb} Mt / tiedosto) ja päivitä tietopankki. "
        "Toiminnot vaativat ylläpitäjän tunnuksen.",
        "token_label": "Ylläpitäjän tunnus",
        "files_label": "Ladattavat asiakirjat",
        "upload": "Tallenna ja päivitä tietopankki",
        "refresh": "Päivitä tietopankki",
        "progress": "Päivitetään {done}/{total}",
        "progress_start": "Päivitys alkaa…",
        "saved": "Tallennettu: {names}",
        "rejected": "Hylätty:",
        "refresh_done": "Päivitys valmis: {added} uutta, {updated} muuttunutta, {removed} poistettua, "
        "{unchanged} ennallaan, {failed} epäonnistui ({seconds:.1f} s).",
        "refresh_failed": "Päivitys epäonnistui: {message}",
        "nothing_saved": "Yhtään tiedostoa ei tallennettu.",
        "busy": "Edellinen kysymyksesi on vielä käsittelyssä. Odota hetki ja kysy sitten uudelleen.",
    },
    "en": {
        "title": "ELMO assistant",
        "subtitle": "Ask about Eastern and Northern Finland's smart-specialisation work. Every answer shows "
        "the source it comes from.",
        "tab_chat": "Chat",
        "tab_kb": "Knowledge base",
        "chat_label": "Conversation",
        "welcome": "### Hello!\nAsk about the ELMO pilot, the regions' joint smart-specialisation strategy or "
        "the contact people. Answers are quoted from the sources (mostly in Finnish); a citation such as "
        "**[1]** shows the quoted passage.",
        "input_label": "Question",
        "input_placeholder": "Type a question and press Enter…",
        "send": "Ask",
        "new": "New conversation",
        "examples": "Example questions",
        "sources": "Sources",
        "sources_hint": "Click a citation in the answer, e.g. [1], to see the quoted passage highlighted in "
        "its surrounding text.",
        "sources_empty": "The sources of an answer appear here.",
        "no_sources": "No sources were found for this answer.",
        "question": "Question",
        "publisher": "Publisher",
        "date": "Date",
        "page": "page",
        "open": "Open the source",
        "badge_finnish": "Quoted from Finnish sources",
        "badge_nothing": "Nothing found in the sources",
        "error": "The answer failed because of a technical problem. Please try again in a moment.",
        "thanks": "Thank you for the feedback! You can tell us more if you like.",
        "feedback_removed": "Feedback removed.",
        "comment_label": "Comment (optional)",
        "comment_placeholder": "What was good in the answer, or what was missing?",
        "comment_send": "Send comment",
        "comment_saved": "Comment saved. Thank you!",
        "lang_label": "Language",
        "kb_heading": "Sources in the knowledge base",
        "kb_summary": "{sources} sources · {chunks} passages · last refreshed {when}",
        "kb_never": "not yet",
        "kb_reload": "Reload the list",
        "col_title": "Source",
        "col_kind": "Type",
        "col_chunks": "Passages",
        "col_refreshed": "Refreshed",
        "col_status": "Status",
        "status_ok": "In use",
        "status_stale": "Refresh failed – the previous version is in use",
        "status_failed": "Not indexed",
        "kb_empty": "The knowledge base has no sources yet.",
        "admin_heading": "Administration: upload documents and refresh",
        "admin_on": "Upload new documents ({types}; at most {mb} MB per file) and refresh the knowledge base. "
        "These actions need the admin token.",
        "token_label": "Admin token",
        "files_label": "Documents to upload",
        "upload": "Save and refresh the knowledge base",
        "refresh": "Refresh the knowledge base",
        "progress": "Refreshing {done}/{total}",
        "progress_start": "Starting the refresh…",
        "saved": "Saved: {names}",
        "rejected": "Refused:",
        "refresh_done": "Refresh done: {added} new, {updated} changed, {removed} removed, {unchanged} unchanged, "
        "{failed} failed ({seconds:.1f} s).",
        "refresh_failed": "The refresh failed: {message}",
        "nothing_saved": "No file was saved.",
        "busy": "Your previous question is still being answered. Please wait a moment and ask again.",
    },
}

# Picks the interface language: ?lang=, then the user's earlier choice, then the browser's languages.
DETECT_LANGUAGE_JS = """
(current) => {
  try {
    const asked = new URLSearchParams(window.location.search).get('lang');
    if (asked === 'fi' || asked === 'en') return asked;
    const saved = window.localStorage.getItem('elmo-lang');
    if (saved === 'fi' || saved === 'en') return saved;
  } catch (e) {}
  const langs = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language || 'fi'];
  for (const l of langs) {
    const tag = String(l).toLowerCase();
    if (tag.startsWith('fi')) return 'fi';
    if (tag.startsWith('en')) return 'en';
    if (tag.endsWith('-fi')) return 'fi';
  }
  return 'en';
}
"""

REMEMBER_LANGUAGE_JS = (
    "(lang) => { try { window.localStorage.setItem('elmo-lang', lang); } catch (e) {} return lang; }"
)

HEAD = """
<script>
(() => {
  if (window.__elmoCitations) return;
  window.__elmoCitations = true;
  // scroll a container (not the page) so that el is visible near its top
  const reveal = (container, el, pad) => {
    if (!container || !el) return;
    const c = container.getBoundingClientRect(), e = el.getBoundingClientRect();
    container.scrollTop += (e.top - c.top) - pad;
  };
  const show = (card) => {
    const turn = card.closest('.elmo-turn');
    if (turn) {
      document.querySelectorAll('.elmo-turn.current').forEach((t) => t.classList.remove('current'));
      turn.classList.add('current');
    }
    document.querySelectorAll('.elmo-passage.active').forEach((c) => c.classList.remove('active'));
    card.classList.add('active');
    const panel = document.getElementById('elmo-sources');
    if (panel) {
      const r = panel.getBoundingClientRect();
      if (r.top > window.innerHeight || r.bottom < 0) panel.scrollIntoView({block: 'start'});  // narrow screens
      reveal(panel, card, 8);
    }
    reveal(card.querySelector('.elmo-context'), card.querySelector('mark'), 24);
  };
  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const link = target.closest('a[href^="#elmo-cite-"]');
    if (link) {
      ev.preventDefault();
      ev.stopPropagation();
      const card = document.getElementById(link.getAttribute('href').slice(1));
      if (card) show(card);
      return;
    }
    const head = target.closest('.elmo-passage > header');
    if (head) show(head.parentElement);
  }, true);
})();
</script>
"""

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto; }
#elmo-header { align-items: center; }
#elmo-title h1 { margin: 0; font-size: 1.75rem; color: #0b3c5d; letter-spacing: -.01em; }
#elmo-title p { margin: .25rem 0 0; color: var(--body-text-color-subdued); max-width: 62ch; }
#elmo-lang { flex-grow: 0 !important; min-width: 13rem !important; }
#elmo-chat a[href^="#elmo-cite-"] {
  display: inline-block; padding: 0 .35em; margin: 0 .1em; border-radius: .5em; font-size: .85em;
  font-weight: 600; text-decoration: none; background: #dbeafe; color: #1e3a8a; border: 1px solid #93c5fd;
}
#elmo-chat a[href^="#elmo-cite-"]:hover { background: #bfdbfe; }
.elmo-badge { display: inline-block; padding: .1em .6em; border-radius: 1em; font-size: .85em; font-weight: 600; }
.elmo-badge-fi { background: #e0f2fe; color: #075985; border: 1px solid #7dd3fc; }
.elmo-badge-nothing { background: #fef3c7; color: #92400e; border: 1px solid #fcd34d; }
#elmo-sources { max-height: 80vh; overflow-y: auto; position: sticky; top: .5rem; }
.elmo-sources h3 { margin: 0 0 .3rem; }
.elmo-hint { color: var(--body-text-color-subdued); font-size: .9em; margin: 0 0 .6rem; }
.elmo-turn { display: none; }
.elmo-turn.current { display: block; }
.elmo-asked { font-size: .9em; color: var(--body-text-color-subdued); margin-bottom: .5rem; }
.elmo-passage { border: 1px solid var(--border-color-primary); border-radius: .6rem; padding: .6rem .8rem;
  margin-bottom: .7rem; background: var(--background-fill-primary); }
.elmo-passage.active { border-color: #2563eb; box-shadow: 0 0 0 2px #bfdbfe; }
.elmo-passage > header { display: flex; gap: .5rem; align-items: baseline; cursor: pointer; font-weight: 600; }
.elmo-n { flex: none; min-width: 1.6em; text-align: center; border-radius: .5em; background: #dbeafe; color: #1e3a8a;
  font-size: .85em; padding: 0 .3em; }
.elmo-meta { font-size: .85em; color: var(--body-text-color-subdued); margin: .2rem 0 .4rem; }
.elmo-meta a { color: #1d4ed8; }
.elmo-context { white-space: pre-wrap; line-height: 1.5; font-size: .93em; }
.elmo-context mark { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: .2em; }
.elmo-around { display: none; color: var(--body-text-color-subdued); }
.elmo-passage.active .elmo-around { display: inline; }
.elmo-passage.active .elmo-context { max-height: 22em; overflow-y: auto; }
.elmo-examples button { font-weight: 400 !important; }
#elmo-kb-table .elmo-table { width: 100%; border-collapse: collapse; font-size: .93em; border: none !important; }
#elmo-kb-table .elmo-table th, #elmo-kb-table .elmo-table td { text-align: left; padding: .5rem .6rem;
  border: none !important; border-bottom: 1px solid var(--border-color-primary) !important; vertical-align: top; }
#elmo-kb-table .elmo-table th { background: var(--background-fill-secondary); font-weight: 600; }
#elmo-kb-table .elmo-table tr, #elmo-kb-table .elmo-table thead, #elmo-kb-table .elmo-table tbody { border: none !important; }
#elmo-kb-table .elmo-table td.num { text-align: right; }
.elmo-file { display: block; font-size: .85em; color: var(--body-text-color-subdued); word-break: break-all; }
.elmo-status { display: inline-block; border-radius: 1em; padding: 0 .6em; font-size: .85em; font-weight: 600; }
.elmo-status-ok { background: #dcfce7; color: #166534; }
.elmo-status-stale { background: #fef3c7; color: #92400e; }
.elmo-status-failed { background: #fee2e2; color: #991b1b; }
.elmo-reason { display: block; font-size: .85em; color: #991b1b; margin-top: .2rem; }
.elmo-progress progress { width: 100%; height: .8rem; }
.elmo-msg-error { color: #991b1b; }
.elmo-msg-ok { color: #166534; }
"""


# ------------------------------------------------------------------------------------------------------
# escaping and rendering
# ------------------------------------------------------------------------------------------------------


def esc(text: Any) -> str:
    """HTML-escaped, and inert in gr.HTML's template engine too."""
    out = html.escape(str(text), quote=True)
    return out.replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;").replace("`", "&#96;")


_MD_PUNCT = re.compile(r"([\\`*_\[\]~|])")
_AUTOLINK = re.compile(r"(?i)(?<=:)/(?=/)|\bwww\.")
_MD_LINE_START = re.compile(r"^(\s*)([#+=]|\d+[.)](?=\s|$)|-(?=--|\s|$))", re.M)


def md_text(text: str) -> str:
    """Plain text as Markdown that renders to exactly that text: no links, images, HTML or formatting."""
    out = _MD_PUNCT.sub(r"\\\1", text)
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _AUTOLINK.sub(lambda m: "\\/" if m.group(0) == "/" else m.group(0)[:3] + "\\.", out)  # no autolinks
    # a line must not start a heading, list or rule: "1." → "1\.", "#" → "\#"
    return _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], out)


def md_unescape(text: str) -> str:
    """Best-effort inverse of :func:`md_text`, for histories sent back by API clients."""
    out = re.sub(r"\\([\\`*_\[\]~|#+=.)/\-])", r"\1", text)
    return out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _cite_link(turn: int, n: int) -> str:
    return f"[\\[{n}\\]](#elmo-cite-{turn}-{n})"


def render_answer(answer: dict[str, Any], turn: int, lang: str, upto: int | None = None) -> str:
    """An answer as safe Markdown: badges, the text (escaped) with [n] markers linked to the panel."""
    t = TEXTS[lang]
    text = answer.get("answer", "")
    if upto is not None:
        text = text[:upto]
    known = {int(c["n"]) for c in answer.get("citations") or []}
    lines = []
    for line in text.split("\n"):
        prefix = ""
        if line.startswith("> "):
            prefix, line = "> ", line[2:]
        if line.startswith("- "):
            prefix, line = prefix + "- ", line[2:]
        body = md_text(line)
        body = re.sub(r"^\\\*\\\*(.+?)\\\*\\\*", r"**\1**", body)  # the contact card's own heading
        body = re.sub(
            r"\\\[(\d{1,3})\\\]",
            lambda m: _cite_link(turn, int(m.group(1))) if int(m.group(1)) in known else m.group(0),
            body,
        )
        lines.append(prefix + body)
    badges = []
    if answer.get("quoted_from_finnish"):
        badges.append(f'<span class="elmo-badge elmo-badge-fi">{esc(t["badge_finnish"])}</span>')
    if answer.get("refused"):
        badges.append(f'<span class="elmo-badge elmo-badge-nothing">{esc(t["badge_nothing"])}</span>')
    head = " ".join(badges) + "\n\n" if badges else ""
    return head + "\n".join(lines)


def _when(iso_time: str | None, lang: str) -> str:
    if not iso_time:
        return TEXTS[lang]["kb_never"]
    local = datetime.fromisoformat(iso_time).astimezone()
    return local.strftime("%-d.%-m.%Y klo %H.%M") if lang == "fi" else local.strftime("%Y-%m-%d %H:%M")


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    parsed = urlparse(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None


def render_card(turn: int, c: dict[str, Any], text: str | None, lang: str) -> str:
    t = TEXTS[lang]
    meta = []
    if c.get("publisher"):
        meta.append(f"{esc(t['publisher'])}: {esc(c['publisher'])}")
    if c.get("date"):
        meta.append(f"{esc(t['date'])}: {esc(c['date'])}")
    if c.get("page"):
        meta.append(f"{esc(t['page'])} {esc(c['page'])}")
    url = _safe_url(c.get("url"))
    if url:
        meta.append(
            f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(t["open"])} ↗</a>'
        )
    meta.append(f'<span class="elmo-file">{esc(c.get("source", ""))}</span>')
    if text is not None and 0 <= int(c["start"]) < int(c["end"]) <= len(text):
        view = passage_context(text, int(c["start"]), int(c["end"]), PASSAGE_CONTEXT)
        context = (
            f'<span class="elmo-around">{esc(view.before)}</span><mark>{esc(view.passage)}</mark>'
            f'<span class="elmo-around">{esc(view.after)}</span>'
        )
    else:  # the source changed or went away since: the cited passage itself is all we have
        context = f"<mark>{esc(c.get('text', ''))}</mark>"
    n = int(c["n"])
    return (
        f'<article class="elmo-passage" id="elmo-cite-{turn}-{n}" data-n="{n}">'
        f'<header><span class="elmo-n">{n}</span><span class="elmo-title">{esc(c.get("title", ""))}</span></header>'
        f'<div class="elmo-meta">{" · ".join(meta)}</div>'
        f'<div class="elmo-context">{context}</div></article>'
    )


def render_panel(turns: list[dict[str, Any]], lang: str, texts: SourceTexts | None) -> str:
    t = TEXTS[lang]
    parts = [f'<div class="elmo-sources"><h3>{esc(t["sources"])}</h3>']
    if not turns:
        parts.append(f'<p class="elmo-hint">{esc(t["sources_empty"])}</p></div>')
        return "".join(parts)
    parts.append(f'<p class="elmo-hint">{esc(t["sources_hint"])}</p>')
    shown = turns[-PANEL_TURNS:]
    for i, turn in enumerate(shown):
        current = " current" if i == len(shown) - 1 else ""
        answer = turn["answer"]
        parts.append(f'<section class="elmo-turn{current}" id="elmo-turn-{turn["index"]}">')
        parts.append(f'<div class="elmo-asked">{esc(t["question"])}: {esc(answer.get("question", ""))}</div>')
        citations = answer.get("citations") or []
        if not citations:
            parts.append(f'<p class="elmo-hint">{esc(t["no_sources"])}</p>')
        for c in citations:
            text = texts.get(c.get("source", "")) if texts else None
            parts.append(render_card(turn["index"], c, text, lang))
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def render_sources_table(overview: dict[str, Any], lang: str) -> str:
    t = TEXTS[lang]
    summary = t["kb_summary"].format(
        sources=sum(1 for s in overview["sources"] if s["status"] != "failed"),
        chunks=overview["chunks"],
        when=_when(overview.get("last_refresh"), lang),
    )
    out = [f"<h3>{esc(t['kb_heading'])}</h3><p class='elmo-hint'>{esc(summary)}</p>"]
    if not overview["sources"]:
        out.append(f"<p>{esc(t['kb_empty'])}</p>")
        return "".join(out)
    out.append(
        "<table class='elmo-table'><thead><tr>"
        + "".join(
            f"<th>{esc(t[k])}</th>"
            for k in ("col_title", "col_kind", "col_chunks", "col_refreshed", "col_status")
        )
        + "</tr></thead><tbody>"
    )
    for s in overview["sources"]:
        status = s["status"]
        reason = f"<span class='elmo-reason'>{esc(s['failure'])}</span>" if s.get("failure") else ""
        out.append(
            f"<tr data-source='{esc(s['source'])}'><td>{esc(s['title'])}<span class='elmo-file'>{esc(s['source'])}</span></td>"
            f"<td>{esc(s.get('kind') or '–')}</td><td class='num'>{int(s.get('chunks') or 0)}</td>"
            f"<td>{esc(_when(s.get('refreshed_at'), lang) if s.get('refreshed_at') else '–')}</td>"
            f"<td><span class='elmo-status elmo-status-{esc(status)}'>{esc(t['status_' + status])}</span>{reason}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def render_progress(
    lang: str, *, done: int = 0, total: int = 0, source: str = "", lines: list[str] | None = None
) -> str:
    t = TEXTS[lang]
    parts = []
    if total:
        label = t["progress"].format(done=done, total=total) + (f" · {source}" if source else "")
        parts.append(
            f"<div class='elmo-progress'><progress value='{done}' max='{total}'></progress>"
            f"<div>{esc(label)}</div></div>"
        )
    for line in lines or []:
        parts.append(line)
    return "".join(parts)


def _msg(text: str, ok: bool) -> str:
    return f"<p class='{'elmo-msg-ok' if ok else 'elmo-msg-error'}'>{esc(text)}</p>"


# ------------------------------------------------------------------------------------------------------
# the Blocks
# ------------------------------------------------------------------------------------------------------


def _ui_lang(value: Any) -> str:
    return value if isinstance(value, str) and value in LANGUAGES else "fi"


def _slim(answer: Answer) -> dict[str, Any]:
    """What a session keeps of an answer: enough to render it, show its passages and rate it."""
    full = answer.to_dict()
    return {k: full[k] for k in ANSWER_KEYS if k in full}


def earlier_questions(turns: list[dict[str, Any]], upto: int | None = None) -> list[str]:
    """The session's answered questions before turn position ``upto`` (all when None), the last HISTORY_USED."""
    done = turns if upto is None else turns[:upto]
    return [t["question"] for t in done if t.get("answer")][-HISTORY_USED:]


def _answered(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in turns or [] if t.get("answer")]


def _bot_text(turn: dict[str, Any], upto: int | None = None) -> str:
    if turn.get("answer"):
        return render_answer(turn["answer"], turn["index"], turn["lang"], upto=upto)
    return md_text(turn.get("notice") or "…")


def chat_messages(turns: list[dict[str, Any]], pending: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The Chatbot's value, built only from this session's server-side turns (never from client data)."""
    out: list[dict[str, str]] = []
    for turn in [*turns, *([pending] if pending else [])]:
        out.append({"role": "user", "content": md_text(turn["question"])})
        out.append({"role": "assistant", "content": _bot_text(turn, turn.get("upto"))})
    return out


def turn_at(turns: list[dict[str, Any]], message_index: Any) -> dict[str, Any] | None:
    """The turn whose answer is chat message ``message_index`` (a client-sent number, so checked)."""
    if isinstance(message_index, list | tuple) and message_index:
        message_index = message_index[0]
    if not isinstance(message_index, int) or isinstance(message_index, bool) or message_index % 2 != 1:
        return None
    pos = message_index // 2
    return turns[pos] if 0 <= pos < len(turns) else None


class PerClient:
    """Questions in progress per client address: Gradio's queue is first-come first-served across all
    clients, so one address flooding it would delay everyone; its extra questions get a notice instead."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}

    def acquire(self, client: str) -> bool:
        with self._lock:
            if self._running.get(client, 0) >= self.limit:
                return False
            self._running[client] = self._running.get(client, 0) + 1
            return True

    def release(self, client: str) -> None:
        with self._lock:
            left = self._running.get(client, 1) - 1
            if left > 0:
                self._running[client] = left
            else:
                self._running.pop(client, None)


def _client_address(request: gr.Request | None) -> str:
    client = getattr(request, "client", None)
    return str(getattr(client, "host", None) or "unknown")


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


def build_ui(
    assistant: Assistant,
    settings: Settings,
    *,
    runner: RefreshRunner | None = None,
    texts: SourceTexts | None = None,
    feedback: FeedbackStore | None = None,
) -> gr.Blocks:
    runner = runner or RefreshRunner(assistant)
    texts = texts or SourceTexts(assistant.kb)
    feedback = feedback or FeedbackStore(settings.feedback_db)
    admin_enabled = bool(settings.admin_token)
    types = ", ".join(sorted(SUPPORTED_SUFFIXES))
    fi = TEXTS["fi"]

    def admin_note(lang: str) -> str:
        t = TEXTS[lang]
        text = (
            t["admin_on"].format(types=types, mb=settings.max_upload_mb)
            if admin_enabled
            else ADMIN_MESSAGES["off"][lang]
        )
        return f"### {t['admin_heading']}\n{text}"

    ttl = settings.session_ttl_minutes * 60
    per_client = PerClient(ASKS_PER_CLIENT)
    with gr.Blocks(title="ELMO-avustaja", analytics_enabled=False, delete_cache=CACHE_CLEANUP) as demo:
        # Gradio keeps State values on the server, per session; the client never sends or sees them.
        # [{"index", "question", "lang", "answer": slim Answer dict | None, "notice": str | None}]
        turns = gr.State([], time_to_live=ttl)
        rated = gr.State({}, time_to_live=ttl)  # turn index -> feedback row id
        last_rating = gr.State(None, time_to_live=ttl)  # the row a comment goes to
        next_index = gr.State(0, time_to_live=ttl)  # citation anchors stay unique within a session

        with gr.Row(elem_id="elmo-header"):
            header = gr.HTML(
                f"<h1>{esc(fi['title'])}</h1><p>{esc(fi['subtitle'])}</p>",
                elem_id="elmo-title",
                scale=4,
                js_on_load=None,
            )
            lang = gr.Radio(
                choices=[("Suomi", "fi"), ("English", "en")],
                value="fi",
                label=fi["lang_label"],
                show_label=False,
                container=False,
                elem_id="elmo-lang",
                scale=1,
            )

        with gr.Tabs():
            with gr.Tab(fi["tab_chat"], id="chat") as chat_tab:
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        chatbot = gr.Chatbot(
                            label=fi["chat_label"],
                            show_label=False,
                            elem_id="elmo-chat",
                            height=480,
                            resizable=True,
                            placeholder=fi["welcome"],
                            sanitize_html=True,
                            render_markdown=True,
                            allow_tags=False,
                            latex_delimiters=[],
                            buttons=["copy"],
                            feedback_options=("Like", "Dislike"),
                        )
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(
                                label=fi["input_label"],
                                placeholder=fi["input_placeholder"],
                                show_label=False,
                                lines=1,
                                max_lines=6,
                                max_length=settings.max_question_chars,
                                scale=5,
                                elem_id="elmo-question",
                                autofocus=True,
                            )
                            send = gr.Button(
                                fi["send"], variant="primary", scale=1, min_width=90, elem_id="elmo-send"
                            )
                        with gr.Group(visible=False, elem_id="elmo-feedback") as comment_box:
                            feedback_msg = gr.Markdown(fi["thanks"], elem_id="elmo-feedback-msg")
                            comment = gr.Textbox(
                                label=fi["comment_label"],
                                placeholder=fi["comment_placeholder"],
                                lines=2,
                                max_length=2000,
                                elem_id="elmo-comment",
                            )
                            comment_send = gr.Button(
                                fi["comment_send"], size="sm", elem_id="elmo-comment-send"
                            )
                        with gr.Row():
                            new_chat = gr.Button(
                                fi["new"],
                                variant="secondary",
                                size="sm",
                                scale=0,
                                min_width=170,
                                elem_id="elmo-new",
                            )
                        examples_label = gr.Markdown(f"**{fi['examples']}**")
                        with gr.Row(elem_classes="elmo-examples"):
                            example_buttons = [gr.Button(q, size="sm") for q in EXAMPLES]
                    with gr.Column(scale=2, min_width=300):
                        panel = gr.HTML(
                            render_panel([], "fi", texts), elem_id="elmo-sources", js_on_load=None
                        )

            with gr.Tab(fi["tab_kb"], id="kb") as kb_tab:
                kb_table = gr.HTML(elem_id="elmo-kb-table", js_on_load=None)
                with gr.Row():
                    kb_reload = gr.Button(fi["kb_reload"], size="sm", scale=0, min_width=160)
                admin_md = gr.Markdown(admin_note("fi"), elem_id="elmo-admin-note")
                with gr.Group():
                    token = gr.Textbox(
                        label=fi["token_label"],
                        type="password",
                        interactive=admin_enabled,
                        elem_id="elmo-token",
                    )
                    files = gr.File(
                        label=fi["files_label"],
                        file_count="multiple",
                        file_types=sorted(SUPPORTED_SUFFIXES),
                        interactive=admin_enabled,
                        height=150,
                        elem_id="elmo-files",
                    )
                with gr.Row():
                    upload_btn = gr.Button(
                        fi["upload"], variant="primary", interactive=admin_enabled, elem_id="elmo-upload"
                    )
                    refresh_btn = gr.Button(fi["refresh"], interactive=admin_enabled, elem_id="elmo-refresh")
                admin_out = gr.HTML(elem_id="elmo-admin-out", js_on_load=None)

        # -- chat ----------------------------------------------------------------------------------------

        def respond(
            message: Any,
            lang_value: Any,
            turn_list: list[dict[str, Any]] | None,
            counter: int | None,
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            ui_lang = _ui_lang(lang_value)
            turn_list = list(turn_list or [])[-(MAX_TURNS - 1) :]
            q = message.strip() if isinstance(message, str) else ""  # capped before anything else
            if not q:
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            turn: dict[str, Any] = {"index": int(counter or 0), "question": q, "lang": ui_lang}
            counter = turn["index"] + 1
            if len(q) > settings.max_question_chars:
                turn["question"] = q[:200] + "…"
                turn["notice"] = PHRASES[ui_lang]["too_long"].format(
                    n=len(q), limit=settings.max_question_chars
                )
                turn_list.append(turn)
                yield chat_messages(turn_list), "", gr.skip(), turn_list, counter
                return
            client = _client_address(request)
            if not per_client.acquire(client):
                turn["notice"] = TEXTS[ui_lang]["busy"]
                turn_list.append(turn)
                yield chat_messages(turn_list), gr.skip(), gr.skip(), turn_list, counter
                return
            try:
                yield from _answer(q, ui_lang, turn, turn_list, counter)
            finally:
                per_client.release(client)

        def _answer(
            q: str, ui_lang: str, turn: dict[str, Any], turn_list: list[dict[str, Any]], counter: int
        ) -> Iterator[tuple[Any, ...]]:
            earlier = earlier_questions(turn_list)
            yield chat_messages(turn_list, turn), "", gr.skip(), gr.skip(), gr.skip()
            final: Answer | None = None
            draft = ""
            shown_at = 0.0
            try:
                for item in assistant.stream(q, earlier):
                    if isinstance(item, Answer):
                        final = item
                    else:  # a generative draft: shown as plain text until the verified answer replaces it
                        draft += item
                        if time.monotonic() - shown_at > 0.05:
                            shown_at = time.monotonic()
                            turn["notice"] = draft
                            yield chat_messages(turn_list, turn), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            except Exception:  # noqa: BLE001 - the user gets a sentence, the log the traceback
                log.exception("answering failed")
                turn["notice"] = TEXTS[ui_lang]["error"]
                turn_list.append(turn)
                yield chat_messages(turn_list), gr.skip(), gr.skip(), turn_list, counter
                return
            assert final is not None
            turn.update(answer=_slim(final), notice=None)
            if not draft:  # extractive: let the answer appear progressively, quickly
                words = [m.end() for m in re.finditer(r"\S+\s*", turn["answer"]["answer"])]
                step = max(1, len(words) // STREAM_STEPS)
                for end in words[step - 1 : -1 : step]:
                    turn["upto"] = end
                    yield chat_messages(turn_list, turn), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                    time.sleep(STREAM_DELAY)
                turn.pop("upto", None)
            turn_list.append(turn)
            yield (
                chat_messages(turn_list),
                "",
                render_panel(_answered(turn_list), ui_lang, texts),
                turn_list,
                counter,
            )

        chat_outputs = [chatbot, question, panel, turns, next_index]
        gr.on(
            triggers=[question.submit, send.click],
            fn=respond,
            inputs=[question, lang, turns, next_index],
            outputs=chat_outputs,
            api_name="ask",
            concurrency_limit=ASK_CONCURRENCY,
            concurrency_id="ask",
            show_progress="hidden",
        )

        def example(q: str) -> Callable[..., Iterator[tuple[Any, ...]]]:
            # the question is bound here, not taken from the button's client-sent value
            def run(
                lang_value: Any,
                turn_list: list[dict[str, Any]] | None,
                counter: int | None,
                request: gr.Request,
            ) -> Iterator[tuple[Any, ...]]:
                yield from respond(q, lang_value, turn_list, counter, request)

            return run

        for button, q in zip(example_buttons, EXAMPLES, strict=True):
            button.click(
                example(q),
                inputs=[lang, turns, next_index],
                outputs=chat_outputs,
                api_visibility="private",
                concurrency_limit=ASK_CONCURRENCY,
                concurrency_id="ask",
                show_progress="hidden",
            )

        def reset(lang_value: Any) -> tuple[Any, ...]:
            lang_value = _ui_lang(lang_value)
            return [], "", render_panel([], lang_value, texts), [], {}, None, gr.Group(visible=False), ""

        gr.on(
            triggers=[new_chat.click, chatbot.clear],
            fn=reset,
            inputs=[lang],
            outputs=[chatbot, question, panel, turns, rated, last_rating, comment_box, comment],
            api_visibility="private",
        )

        # -- feedback ------------------------------------------------------------------------------------

        def on_like(
            data: gr.LikeData, turn_list: list[dict[str, Any]], rated_map: dict[int, int], lang_value: Any
        ) -> tuple[Any, ...]:
            lang_value = _ui_lang(lang_value)
            t = TEXTS[lang_value]
            turn_list = turn_list or []
            turn = turn_at(turn_list, data.index)
            if turn is None or not turn.get("answer"):
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            rated_map = dict(rated_map or {})
            key = turn["index"]
            row = rated_map.get(key)
            rating = "up" if data.liked is True else "down" if data.liked is False else None
            if rating is None:  # the user took the rating back
                if row is not None:
                    feedback.delete(row)
                    rated_map.pop(key, None)
                return rated_map, None, gr.Group(visible=True), t["feedback_removed"], gr.skip()
            if row is None or not feedback.update(row, rating=rating):
                # what is stored is the server's own answer and the session's earlier questions
                history = earlier_questions(turn_list, turn_list.index(turn))
                row = feedback.add_answer(rating, turn["answer"], history=history, ui_language=lang_value)
                rated_map[key] = row
            return rated_map, row, gr.Group(visible=True), t["thanks"], ""

        chatbot.like(
            on_like,
            inputs=[turns, rated, lang],
            outputs=[rated, last_rating, comment_box, feedback_msg, comment],
            api_visibility="private",
        )

        def on_comment(text: Any, row: int | None, lang_value: Any) -> tuple[Any, ...]:
            t = TEXTS[_ui_lang(lang_value)]
            if row is None or not isinstance(text, str) or not text.strip():
                return gr.skip(), gr.skip()
            feedback.update(int(row), comment=text)  # row: server state; text: capped by the store
            return t["comment_saved"], ""

        gr.on(
            triggers=[comment_send.click, comment.submit],
            fn=on_comment,
            inputs=[comment, last_rating, lang],
            outputs=[feedback_msg, comment],
            api_visibility="private",
        )

        # -- knowledge base ------------------------------------------------------------------------------

        def show_sources(lang_value: str) -> str:
            try:
                return render_sources_table(sources_overview(assistant.kb), lang_value)
            except Exception as exc:  # noqa: BLE001 - shown in the tab rather than as an error popup
                log.exception("listing sources failed")
                return _msg(str(exc), ok=False)

        kb_tab.select(show_sources, inputs=[lang], outputs=[kb_table], api_visibility="private")
        kb_reload.click(show_sources, inputs=[lang], outputs=[kb_table], api_visibility="private")
        demo.load(show_sources, inputs=[lang], outputs=[kb_table], api_visibility="private")

        def refresh_progress(lang_value: str, head: list[str]) -> Iterator[tuple[str, Any]]:
            t = TEXTS[lang_value]
            yield render_progress(lang_value, lines=[*head, _msg(t["progress_start"], ok=True)]), gr.skip()
            for event in runner.events():
                kind = event["type"]
                if kind == "progress":
                    yield (
                        render_progress(
                            lang_value,
                            done=event["done"],
                            total=event["total"],
                            source=event["source"],
                            lines=head,
                        ),
                        gr.skip(),
                    )
                elif kind == "done":
                    s = event["summary"]
                    done = t["refresh_done"].format(
                        added=s["added"],
                        updated=s["updated"],
                        removed=s["removed"],
                        unchanged=s["unchanged"],
                        failed=len(s["failed"]),
                        seconds=s["seconds"],
                    )
                    failures = [_msg(f"{f['source']}: {f['reason']}", ok=False) for f in s["failed"]]
                    yield (
                        render_progress(lang_value, lines=[*head, _msg(done, ok=True), *failures]),
                        show_sources(lang_value),
                    )
                elif kind == "busy":
                    yield (
                        render_progress(
                            lang_value,
                            lines=[*head, _msg(AdminError("busy", 409).message(lang_value), ok=False)],
                        ),
                        gr.skip(),
                    )
                else:
                    message = t["refresh_failed"].format(message=event.get("message", ""))
                    yield render_progress(lang_value, lines=[*head, _msg(message, ok=False)]), gr.skip()

        def do_refresh(token_value: Any, lang_value: Any) -> Iterator[tuple[str, Any]]:
            lang_value = _ui_lang(lang_value)
            try:
                check_admin(settings, token_value if isinstance(token_value, str) else None)
            except AdminError as exc:
                yield _msg(exc.message(lang_value), ok=False), gr.skip()
                return
            yield from refresh_progress(lang_value, [])

        def do_upload(token_value: Any, paths: Any, lang_value: Any) -> Iterator[tuple[Any, ...]]:
            lang_value = _ui_lang(lang_value)
            t = TEXTS[lang_value]
            try:
                check_admin(settings, token_value if isinstance(token_value, str) else None)
                if not paths:
                    raise AdminError("no_files", 400)
                if not isinstance(paths, list) or len(paths) > MAX_UPLOAD_FILES:
                    raise AdminError("too_many", 413, limit=MAX_UPLOAD_FILES)
            except AdminError as exc:
                yield _msg(exc.message(lang_value), ok=False), gr.skip(), gr.skip()
                return
            limit = settings.max_upload_mb * 1024 * 1024
            files, errors = upload_paths(paths, Path(gr.utils.get_upload_folder()), limit)
            refused = [e.message(lang_value) for e in errors]
            prepared: list[PreparedUpload] = []
            try:
                for path in files:
                    try:
                        prepared.append(prepare_upload(settings, path.name, path.read_bytes()))
                    except AdminError as exc:
                        refused.append(exc.message(lang_value))
            except BaseException:
                discard_uploads(prepared)
                raise
            saved = commit_uploads(settings, prepared)
            head = []
            if saved:
                head.append(_msg(t["saved"].format(names=", ".join(s["name"] for s in saved)), ok=True))
            if refused:
                head.append(_msg(t["rejected"], ok=False) + "".join(_msg(r, ok=False) for r in refused))
            if not saved:
                yield (
                    render_progress(lang_value, lines=[*head, _msg(t["nothing_saved"], ok=False)]),
                    gr.skip(),
                    gr.skip(),
                )
                return
            for out, table in refresh_progress(lang_value, head):
                yield out, table, None

        refresh_btn.click(
            do_refresh,
            inputs=[token, lang],
            outputs=[admin_out, kb_table],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="admin",
            show_progress="hidden",
        )
        upload_btn.click(
            do_upload,
            inputs=[token, files, lang],
            outputs=[admin_out, kb_table, files],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="admin",
            show_progress="hidden",
        )

        # -- interface language --------------------------------------------------------------------------

        def apply_language(lang_value: Any, turn_list: list[dict[str, Any]]) -> tuple[Any, ...]:
            lang_value = _ui_lang(lang_value)
            t = TEXTS[lang_value]
            return (
                f"<h1>{esc(t['title'])}</h1><p>{esc(t['subtitle'])}</p>",
                gr.Radio(label=t["lang_label"]),
                gr.Tab(label=t["tab_chat"]),
                gr.Tab(label=t["tab_kb"]),
                gr.Chatbot(label=t["chat_label"], placeholder=t["welcome"]),
                gr.Textbox(label=t["input_label"], placeholder=t["input_placeholder"]),
                gr.Button(t["send"]),
                gr.Button(t["new"]),
                f"**{t['examples']}**",
                render_panel(_answered(turn_list), lang_value, texts),
                gr.Textbox(label=t["comment_label"], placeholder=t["comment_placeholder"]),
                gr.Button(t["comment_send"]),
                gr.Button(t["kb_reload"]),
                admin_note(lang_value),
                gr.Textbox(label=t["token_label"]),
                gr.File(label=t["files_label"]),
                gr.Button(t["upload"]),
                gr.Button(t["refresh"]),
                show_sources(lang_value),
            )

        lang.change(
            apply_language,
            inputs=[lang, turns],
            outputs=[
                header,
                lang,
                chat_tab,
                kb_tab,
                chatbot,
                question,
                send,
                new_chat,
                examples_label,
                panel,
                comment,
                comment_send,
                kb_reload,
                admin_md,
                token,
                files,
                upload_btn,
                refresh_btn,
                kb_table,
            ],
            api_visibility="private",
            show_progress="hidden",
        )
        lang.input(None, inputs=[lang], outputs=[lang], js=REMEMBER_LANGUAGE_JS, api_visibility="private")
        demo.load(None, inputs=[lang], outputs=[lang], js=DETECT_LANGUAGE_JS, api_visibility="private")
    demo.queue(max_size=settings.queue_max_size, default_concurrency_limit=1)
    demo.state_session_capacity = settings.max_sessions  # Gradio drops the least recently used sessions
    return demo


def blocked_paths(settings: Settings) -> list[str]:
    """Folders Gradio must never read a client-named file from (its own upload folder stays readable)."""
    paths = ["/proc", "/sys", "/dev", "/etc", "/root", "/home", str(settings.index), str(settings.sources)]
    if settings.admin_token_file:
        paths.append(str(settings.admin_token_file))
    return sorted({str(Path(p).resolve()) for p in paths})


def mount(app: FastAPI, demo: gr.Blocks, settings: Settings) -> FastAPI:
    """Mounts the UI at ``/`` (after the API routes, which must stay first)."""
    auth = None
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        auth = (user, password)
    app.add_middleware(GradioGuard, admin=bool(settings.admin_token), max_upload_mb=settings.max_upload_mb)
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
        css=CSS,
        head=HEAD,
        theme=gr.themes.Default(
            primary_hue="blue",
            neutral_hue="slate",
            font=[
                "system-ui",
                "-apple-system",
                "Segoe UI",
                "Roboto",
                "Helvetica Neue",
                "Arial",
                "sans-serif",
            ],
        ),
    )
    # Gradio checks client-named files (upload folder only, blocked_paths) only once `has_launched` is set,
    # which launch() does and mount_gradio_app does not.
    demo.has_launched = True
    app.state.gradio_blocks = demo
    return mounted


# ------------------------------------------------------------------------------------------------------
# HTTP guard for Gradio's routes
# ------------------------------------------------------------------------------------------------------

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
        self.upload_bytes = MAX_UPLOAD_FILES * max_upload_mb * 1024 * 1024 + 1024 * 1024

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
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(text, status)


def _without_deep_link(query: bytes) -> bytes:
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k != "deep_link"]).encode("latin-1")
