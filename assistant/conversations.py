"""Saved conversations, per browser, in SQLite (``<index>/conversations.sqlite``, beside the feedback).

The server owns them: a conversation holds the questions asked through the chat and the server's own answers
(the slim answer dicts the chat keeps), never anything a client sent as history. A browser is known by an
opaque random id from an HttpOnly cookie; only its SHA-256 is stored, so a copy of the database does not let
anyone act as that browser. Everything is bounded: turns per conversation, conversations per browser and in
all, and untouched conversations expire.

Also here: the plain-text forms of an answer (what "copy" puts on the clipboard) and a conversation's
Markdown export with the cited passages — both from the stored answers, so every adapter gives the same text.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.i18n import t
from assistant.local_db import LocalDatabase

MAX_TITLE_CHARS = 80
MAX_QUESTION_CHARS = 2000
BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
TURN_KEYS = ("index", "id", "question", "lang", "answer")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    browser TEXT NOT NULL,
    title TEXT NOT NULL,
    turns TEXT NOT NULL DEFAULT '[]',
    next_index INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    hidden_at REAL
);
CREATE INDEX IF NOT EXISTS conversations_browser ON conversations (browser, updated_at);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated_at);
"""


def new_browser_id() -> str:
    return secrets.token_urlsafe(32)


def valid_browser_id(value: Any) -> str | None:
    return value if isinstance(value, str) and BROWSER_ID.match(value) else None


def _key(browser: str) -> str:
    return hashlib.sha256(browser.encode("ascii")).hexdigest()


@dataclass
class Conversation:
    id: str
    title: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    next_index: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0


def title_of(turns: list[dict[str, Any]]) -> str:
    first = next((str(turn.get("question", "")) for turn in turns), "")
    words = " ".join(first.split())
    return words if len(words) <= MAX_TITLE_CHARS else words[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def _stored_turns(turns: list[dict[str, Any]], max_turns: int) -> list[dict[str, Any]]:
    """Answered turns only (notices such as "busy" are not worth keeping), the last ``max_turns``."""
    kept = []
    for turn in turns:
        if isinstance(turn, dict) and isinstance(turn.get("answer"), dict):
            item = {k: turn[k] for k in TURN_KEYS if k in turn}
            item["question"] = str(item.get("question", ""))[:MAX_QUESTION_CHARS]
            kept.append(item)
    return kept[-max_turns:] if max_turns > 0 else []


class ConversationStore:
    """One table; a connection per call, so it is safe from any thread (Gradio runs handlers in threads)."""

    def __init__(
        self,
        path: Path | str,
        *,
        per_browser: int = 20,
        max_turns: int = 20,
        days: int = 30,
        total: int = 20_000,
    ):
        self.path = Path(path)
        self.per_browser, self.max_turns, self.days, self.total = per_browser, max_turns, days, total
        self._db = LocalDatabase(self.path, _SCHEMA)

    @classmethod
    def from_settings(cls, settings: Any) -> ConversationStore:
        return cls(
            settings.conversations_db,
            per_browser=settings.conversations_per_browser,
            max_turns=settings.conversation_max_turns,
            days=settings.conversation_days,
            total=settings.conversations_total,
        )

    def _connect(self) -> sqlite3.Connection:
        return self._db.connect()

    # -- writing -------------------------------------------------------------------------------------------

    def save(self, browser: str, conversation: str | None, turns: list[dict[str, Any]], next_index: int) -> str:
        """Stores the turns as ``conversation`` of ``browser`` (a new one when None or not that browser's);
        returns its id. Then drops what is over the caps or expired."""
        kept = _stored_turns(turns, self.max_turns)
        now = time.time()
        key = _key(browser)
        with closing(self._connect()) as conn, conn:
            if conversation is not None:
                cur = conn.execute(
                    "UPDATE conversations SET turns = ?, next_index = ?, updated_at = ?, hidden_at = NULL "
                    "WHERE id = ? AND browser = ?",
                    (json.dumps(kept, ensure_ascii=False), int(next_index), now, conversation, key),
                )
                if cur.rowcount:
                    self._prune(conn, key, now)
                    return conversation
            conversation = secrets.token_urlsafe(12)
            conn.execute(
                "INSERT INTO conversations (id, browser, title, turns, next_index, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation, key, title_of(kept), json.dumps(kept, ensure_ascii=False), int(next_index), now, now),
            )
            self._prune(conn, key, now)
        return conversation

    def _prune(self, conn: sqlite3.Connection, key: str, now: float) -> None:
        conn.execute("DELETE FROM conversations WHERE updated_at < ?", (now - self.days * 86400,))
        conn.execute(
            "DELETE FROM conversations WHERE browser = ? AND id NOT IN (SELECT id FROM conversations "
            "WHERE browser = ? ORDER BY updated_at DESC LIMIT ?)",
            (key, key, max(1, self.per_browser)),
        )
        conn.execute(
            "DELETE FROM conversations WHERE id NOT IN (SELECT id FROM conversations "
            "ORDER BY updated_at DESC LIMIT ?)",
            (max(1, self.total),),
        )

    def rename(self, browser: str, conversation: str, title: str) -> bool:
        clean = " ".join(str(title).split())[:MAX_TITLE_CHARS]
        if not clean:
            return False
        with closing(self._connect()) as conn, conn:
            return bool(
                conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND browser = ?",
                    (clean, conversation, _key(browser)),
                ).rowcount
            )

    def hide(self, browser: str, conversation: str) -> bool:
        """Removes a conversation from the browser's list, restorable by :meth:`restore` until the next
        :meth:`hide` of that browser (which deletes the earlier hidden one for good)."""
        key = _key(browser)
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM conversations WHERE browser = ? AND hidden_at IS NOT NULL", (key,))
            return bool(
                conn.execute(
                    "UPDATE conversations SET hidden_at = ? WHERE id = ? AND browser = ?",
                    (time.time(), conversation, key),
                ).rowcount
            )

    def restore(self, browser: str, conversation: str) -> bool:
        with closing(self._connect()) as conn, conn:
            return bool(
                conn.execute(
                    "UPDATE conversations SET hidden_at = NULL WHERE id = ? AND browser = ? "
                    "AND hidden_at IS NOT NULL",
                    (conversation, _key(browser)),
                ).rowcount
            )

    # -- reading -------------------------------------------------------------------------------------------

    def get(self, browser: str, conversation: Any) -> Conversation | None:
        """The browser's own visible conversation ``conversation``; None for anyone else's or an unknown id."""
        if not isinstance(conversation, str) or not CONVERSATION_ID.match(conversation):
            return None
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT * FROM conversations WHERE id = ? AND browser = ? AND hidden_at IS NULL",
                (conversation, _key(browser)),
            ).fetchone()
        return _conversation(row) if row else None

    def latest(self, browser: str) -> Conversation | None:
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT * FROM conversations WHERE browser = ? AND hidden_at IS NULL AND updated_at >= ? "
                "ORDER BY updated_at DESC LIMIT 1",
                (_key(browser), time.time() - self.days * 86400),
            ).fetchone()
        return _conversation(row) if row else None

    def listing(self, browser: str) -> list[tuple[str, str, float]]:
        """``(id, title, updated_at)`` of the browser's visible conversations, newest first."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT id, title, updated_at FROM conversations WHERE browser = ? AND hidden_at IS NULL "
                "AND updated_at >= ? ORDER BY updated_at DESC",
                (_key(browser), time.time() - self.days * 86400),
            ).fetchall()
        return [(str(r["id"]), str(r["title"]), float(r["updated_at"])) for r in rows]


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=str(row["id"]),
        title=str(row["title"]),
        turns=json.loads(row["turns"] or "[]"),
        next_index=int(row["next_index"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


# ------------------------------------------------------------------------------------------------------
# plain text and Markdown
# ------------------------------------------------------------------------------------------------------


def plain_answer(answer: dict[str, Any]) -> str:
    """The answer's text without the answerer's Markdown (bold headings, emphasis, quote marks); [n] markers kept."""
    lines = []
    for line in str(answer.get("answer", "")).split("\n"):
        line = line[2:] if line.startswith("> ") else line
        line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
        # the answerer's emphasis: a whole line ("*Tarkoititko: …?*") or a refusal's "- *title*: …"
        if line.startswith("- "):
            line = re.sub(r"^- \*(.+?)\*(?=: )", r"- \1", line)
        else:
            line = re.sub(r"^\*(.+)\*$", r"\1", line)
        lines.append(line)
    return "\n".join(lines).strip()


def source_line(citation: dict[str, Any], lang: str) -> str:
    """``[n] Title, page 3, https://…`` (the file name when there is no link)."""
    parts = [str(citation.get("title") or citation.get("source") or "")]
    if citation.get("page"):
        parts.append(f"{t('page', lang)} {citation['page']}")
    url = str(citation.get("url") or "")
    parts.append(url if url.startswith(("http://", "https://")) else str(citation.get("source") or ""))
    return f"[{citation.get('n')}] " + ", ".join(p for p in parts if p)


def copy_text(answer: dict[str, Any], lang: str) -> str:
    """What "copy" gives for an answer: its plain text, then its numbered sources."""
    text = plain_answer(answer)
    citations = answer.get("citations") or []
    if not citations:
        return text
    return text + f"\n\n{t('sources', lang)}:\n" + "\n".join(source_line(c, lang) for c in citations)


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in " ".join(text.split()).split("\n"))


def to_markdown(conversation: Conversation, lang: str) -> str:
    """The conversation as a Markdown document: each question, the answer and its cited passages."""
    when = datetime.fromtimestamp(conversation.updated_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# {conversation.title}", "", f"_{t('export_note', lang, when=when)}_", ""]
    for turn in conversation.turns:
        answer = turn.get("answer") or {}
        out += [f"## {t('question', lang)}: {turn.get('question', '')}", "", str(answer.get("answer", "")), ""]
        citations = answer.get("citations") or []
        if citations:
            out += [f"### {t('sources', lang)}", ""]
        for c in citations:
            out += [source_line(c, lang), "", _quote(str(c.get("text", ""))), ""]
    return "\n".join(out).rstrip() + "\n"
