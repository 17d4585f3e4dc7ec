"""Pure render functions of the web chat: every text from a document or a user reaches the page escaped.

Chat messages are Markdown in which all Markdown and HTML syntax of that text is escaped (only the structure
the answerer itself writes — quotes, bullets, the contact card's heading — and our [n] links are kept);
the passage panel and the source table are HTML built here with everything escaped, including the
``{`` ``$`` `` ` `` that gr.HTML's template engine would otherwise interpret. Citation markers link to
``#elmo-cite-<turn>-<n>``; ``static/citations.js`` shows that passage in the panel without a round trip.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from assistant.i18n import FALLBACK, LANGUAGES, MESSAGES, reason_text
from assistant.service import PASSAGE_CONTEXT, SourceTexts, passage_context
from assistant.text.sentences import split_sentences

MAX_TURNS = 20  # turns a session keeps (older ones leave the chat): bounds a session's memory
PANEL_TURNS = MAX_TURNS  # answers whose passages stay reachable from their [n] links

# the catalogue resolved per language (English where a language lacks a text)
TEXTS: dict[str, dict[str, str]] = {lang: {**MESSAGES[FALLBACK], **MESSAGES[lang]} for lang in LANGUAGES}


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


# the answerer's own *…* (md_text escaped it): restored as emphasis around text that stays escaped
_NOTE = re.compile(r"^\\\*(.+)\\\*$")  # a whole line in *…*: "*Tarkoititko: …?*"
_ITEM_TITLE = re.compile(r"^\\\*(.+?)\\\*(?=: )")  # a refusal's "- *title*: “…” [n]"


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
        if prefix.endswith("- "):  # a bullet's own mark is only a refusal's *title*
            body = _ITEM_TITLE.sub(r"*\1*", body, count=1)
        else:
            body = re.sub(r"^\\\*\\\*(.+?)\\\*\\\*", r"**\1**", body)  # the contact card's own heading
            body = _NOTE.sub(r"*\1*", body, count=1)
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


_MARKER = re.compile(r"\[(\d{1,3})\]")
_WORD = re.compile(r"\w+")
SENTENCE_MATCH = 0.6  # share of a source sentence's words the cited stretch of the answer must contain


def cited_stretches(answer_text: str, n: int) -> list[str]:
    """The stretches of the answer that marker [n] cites: from the previous marker (or the line start) up
    to [n]; adjacent markers ("… [1][2]") share the stretch before the first."""
    out = []
    for line in answer_text.split("\n"):
        prev, stretch = 0, ""
        for m in _MARKER.finditer(line):
            piece = line[prev : m.start()]
            stretch = piece if piece.strip() else stretch
            if int(m.group(1)) == n and stretch.strip():
                out.append(stretch)
            prev = m.end()
    return out


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def cited_sentences(answer_text: str, n: int, passage: str) -> list[tuple[int, int]]:
    """Spans in ``passage`` of the sentences the answer cites with [n]: those whose words the cited stretch
    contains (words, not characters: the answer's text is normalised, the passage is the original). Empty
    when none matches (e.g. a generated paraphrase): the caller then highlights the whole passage."""
    cited = _words(" ".join(cited_stretches(answer_text, n)))
    if not cited:
        return []
    spans = []
    for start, end in split_sentences(passage):
        words = _words(passage[start:end])
        if words and len(words & cited) / len(words) >= SENTENCE_MATCH:
            spans.append((start, end))
    return spans


def _marked(passage: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return f"<mark>{esc(passage)}</mark>"
    out, prev = [], 0
    for start, end in spans:
        out.append(f"{esc(passage[prev:start])}<mark>{esc(passage[start:end])}</mark>")
        prev = end
    out.append(esc(passage[prev:]))
    return f'<span class="elmo-chunk">{"".join(out)}</span>'


def render_card(turn: int, c: dict[str, Any], text: str | None, lang: str, answer_text: str = "") -> str:
    """A cited passage: title, what is known of the source, and the passage with the cited sentences marked
    (the whole passage when the sentences cannot be told), with surrounding text when the source is known."""
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
        passage = view.passage
        before = f'<span class="elmo-around">{esc(view.before)}</span>'
        after = f'<span class="elmo-around">{esc(view.after)}</span>'
    else:  # the source changed or went away since: the cited passage itself is all we have
        passage, before, after = c.get("text", ""), "", ""
    spans = cited_sentences(answer_text, int(c["n"]), passage) if answer_text else []
    context = before + _marked(passage, spans) + after
    n = int(c["n"])
    title = str(c.get("title", ""))
    announce = t["passage_opened"].format(n=n, title=title)
    return (
        f'<article class="elmo-passage" id="elmo-cite-{turn}-{n}" data-n="{n}" tabindex="0" '
        f'aria-labelledby="elmo-cite-{turn}-{n}-title" data-announce="{esc(announce)}">'
        f'<header><span class="elmo-n" aria-hidden="true">{n}</span>'
        f'<span class="elmo-title" id="elmo-cite-{turn}-{n}-title">'
        f'<span class="elmo-sr">{esc(t["cite_label"].format(n=n))}: </span>{esc(title)}</span></header>'
        f'<div class="elmo-meta">{" · ".join(meta)}</div>'
        f'<div class="elmo-context">{context}</div></article>'
    )


CARD_QUOTE_CHARS = 280  # a card shows at most this much of the cited sentence(s)


def _one_line(text: str, limit: int) -> str:
    # one line: a newline (or blank line) inside the card's HTML block would end it and let Markdown in
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def cited_quote(answer_text: str, c: dict[str, Any]) -> str:
    """The sentence(s) of the cited chunk that the answer quotes with [n]; the chunk's start when none can
    be told (a paraphrase)."""
    chunk = str(c.get("text", ""))
    spans = cited_sentences(answer_text, int(c["n"]), chunk)
    return _one_line(" ".join(chunk[s:e] for s, e in spans) if spans else chunk, CARD_QUOTE_CHARS)


def render_source_cards(answer: dict[str, Any], turn: int, lang: str) -> str:
    """Compact source cards under an answer, one per citation the text uses: "[n] title (page)" linking to
    the passage, and the cited sentence. One line of escaped HTML (an HTML block in the message's Markdown);
    citations.js also reads the hover preview of [n] from these cards' text."""
    t = TEXTS[lang]
    text = answer.get("answer", "")
    used = {int(m.group(1)) for m in _MARKER.finditer(text)}
    cards = []
    for c in answer.get("citations") or []:
        n = int(c["n"])
        if n not in used:
            continue
        page = f' <span class="elmo-card-page">({esc(t["page"])} {esc(_one_line(str(c["page"]), 20))})</span>' if c.get("page") else ""
        cards.append(
            f'<li class="elmo-card" data-n="{n}"><a class="elmo-card-link" href="#elmo-cite-{turn}-{n}">'
            f'<span class="elmo-card-n">[{n}]</span> '
            f'<span class="elmo-card-title">{esc(_one_line(str(c.get("title", "")), 200))}</span>{page}</a> '
            f'<span class="elmo-card-quote"><mark>{esc(cited_quote(text, c))}</mark></span></li>'
        )
    if not cards:
        return ""
    label = f"elmo-cards-{turn}"
    return (
        f'<div class="elmo-cards"><p class="elmo-cards-label" id="{label}">{esc(t["sources"])}</p>'
        f'<ol class="elmo-card-list" aria-labelledby="{label}">{"".join(cards)}</ol></div>'
    )


def render_panel(turns: list[dict[str, Any]], lang: str, texts: SourceTexts | None) -> str:
    t = TEXTS[lang]
    parts = [f'<div class="elmo-sources"><h2>{esc(t["sources"])}</h2>']
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
            parts.append(render_card(turn["index"], c, text, lang, answer.get("answer", "")))
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
    out = [f"<h2>{esc(t['kb_heading'])}</h2><p class='elmo-hint'>{esc(summary)}</p>"]
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
    # data-label: at phone widths each row is shown as a card, every cell with its column's name
    label = {
        k: f" data-label='{esc(t[k])}'" for k in ("col_kind", "col_chunks", "col_refreshed", "col_status")
    }
    for s in overview["sources"]:
        status = s["status"]
        failure = reason_text(s["failure"], lang) if s.get("failure") else ""
        reason = f"<span class='elmo-reason'>{esc(failure)}</span>" if failure else ""
        out.append(
            f"<tr data-source='{esc(s['source'])}'><td class='elmo-src'>{esc(s['title'])}"
            f"<span class='elmo-file'>{esc(s['source'])}</span></td>"
            f"<td{label['col_kind']}>{esc(s.get('kind') or '–')}</td>"
            f"<td class='num'{label['col_chunks']}>{int(s.get('chunks') or 0)}</td>"
            f"<td{label['col_refreshed']}>"
            f"{esc(_when(s.get('refreshed_at'), lang) if s.get('refreshed_at') else '–')}</td>"
            f"<td{label['col_status']}><span class='elmo-status elmo-status-{esc(status)}'>"
            f"{esc(t['status_' + status])}</span>{reason}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


VIEW_CHARS = 200_000  # of a source's text sent to the browser at once: a whole book would stall the page


def render_source_text(doc: dict[str, Any] | None, source: str, lang: str) -> str:
    """An indexed source's text (``service.source_text``), escaped, in a named, scrollable region that the
    keyboard can reach (tabindex: a scrolling box must be focusable to be scrolled without a mouse)."""
    t = TEXTS[lang]
    if doc is None:
        return msg(t["text_missing"].format(source=source), ok=False)
    text = str(doc.get("text", ""))
    title = str(doc.get("title") or source)
    meta = [t["text_meta"].format(source=source, chars=len(text))]
    if doc.get("publisher"):
        meta.append(f"{t['publisher']}: {doc['publisher']}")
    if len(text) > VIEW_CHARS:
        meta.append(t["text_cut"].format(shown=VIEW_CHARS, chars=len(text)))
    label = t["text_region"].format(title=title)
    return (
        f"<section class='elmo-source-text' aria-labelledby='elmo-source-text-title'>"
        f"<h3 id='elmo-source-text-title'>{esc(title)}</h3>"
        f"<p class='elmo-hint'>{esc(' · '.join(meta))}</p>"
        f"<div class='elmo-source-body' role='region' tabindex='0' aria-label='{esc(label)}'>"
        f"{esc(text[:VIEW_CHARS])}</div></section>"
    )


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


def msg(text: str, ok: bool) -> str:
    return f"<p class='{'elmo-msg-ok' if ok else 'elmo-msg-error'}'>{esc(text)}</p>"


def answered(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in turns or [] if t.get("answer")]


def _bot_text(turn: dict[str, Any], upto: int | None = None) -> str:
    if turn.get("answer"):
        md = render_answer(turn["answer"], turn["index"], turn["lang"], upto=upto)
        cards = render_source_cards(turn["answer"], turn["index"], turn["lang"]) if upto is None else ""
        return md + "\n\n" + cards if cards else md
    return md_text(turn.get("notice") or "…")


def turn_messages(turn: dict[str, Any], upto: int | None = None) -> list[dict[str, str]]:
    """One turn's two chat messages (its answer's first ``upto`` characters while it is being revealed)."""
    return [
        {"role": "user", "content": md_text(turn["question"])},
        {"role": "assistant", "content": _bot_text(turn, upto)},
    ]


def chat_messages(turns: list[dict[str, Any]], pending: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The Chatbot's value, built only from this session's server-side turns (never from client data)."""
    return [m for turn in [*turns, *([pending] if pending else [])] for m in turn_messages(turn, turn.get("upto"))]
