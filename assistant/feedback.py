"""User feedback (👍/👎 with an optional comment) in SQLite, and its export for the evaluation suites.

One row per rated answer: the question, the earlier questions of the conversation, the answer text, its
citations (JSON) and the time. ``assistant feedback export`` writes the rows as JSONL, or with
``--as-suite`` as evaluation-suite YAML: liked answers become regression items (the passages they cited
must be retrieved again, a liked refusal must stay a refusal), disliked ones are marked for review.

Comments are free text from users: they are stored and exported, never logged.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sqlite3
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.local_db import LocalDatabase

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000
QUOTE_CHARS = 80
# every stored field is capped: a row costs at most a few hundred kB whatever a caller hands in
MAX_QUESTION_CHARS = 2000
MAX_ANSWER_CHARS = 20_000
MAX_HISTORY_ITEMS = 20
MAX_CITATIONS = 30
MAX_CITATION_TEXT_CHARS = 4000
MAX_FIELD_CHARS = 500  # citation source/title/url/publisher/date/page
MAX_CODE_CHARS = 16  # language, mode, ui_language
MAX_ID_CHARS = 64  # answer_id
CITATION_KEYS = ("n", "source", "title", "text", "start", "end", "page", "url", "publisher", "date")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    question TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL DEFAULT 0,
    citations TEXT NOT NULL DEFAULT '[]',
    mode TEXT,
    comment TEXT,
    ui_language TEXT,
    answer_id TEXT
)
"""


def _add_answer_id(conn: sqlite3.Connection) -> None:
    """A database from before answer ids gets the column."""
    if "answer_id" not in {r[1] for r in conn.execute("PRAGMA table_info(feedback)")}:
        conn.execute("ALTER TABLE feedback ADD COLUMN answer_id TEXT")


class FeedbackStore:
    """A small SQLite table; a connection per call, so it is safe from any thread."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._db = LocalDatabase(self.path, _SCHEMA, migrate=_add_answer_id)

    def _connect(self) -> sqlite3.Connection:
        return self._db.connect()

    def add(
        self,
        *,
        rating: str,
        question: str,
        answer: str,
        citations: list[dict[str, Any]] | None = None,
        history: list[str] | None = None,
        language: str | None = None,
        refused: bool = False,
        mode: str | None = None,
        comment: str | None = None,
        ui_language: str | None = None,
        answer_id: str | None = None,
    ) -> int:
        """Stores one rating; returns its id (for a comment added later)."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {RATINGS}")
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "INSERT INTO feedback (created_at, rating, question, history, language, answer, refused, "
                "citations, mode, comment, ui_language, answer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    rating,
                    _cap(question, MAX_QUESTION_CHARS),
                    json.dumps(_cap_history(history), ensure_ascii=False),
                    _code(language),
                    _cap(answer, MAX_ANSWER_CHARS),
                    int(bool(refused)),
                    json.dumps(_cap_citations(citations), ensure_ascii=False),
                    _code(mode),
                    _clean_comment(comment),
                    _code(ui_language),
                    _cap(answer_id, MAX_ID_CHARS) or None,
                ),
            )
            return int(cur.lastrowid or 0)

    def add_answer(
        self,
        rating: str,
        answer: dict[str, Any],
        history: list[str] | None = None,
        comment: str | None = None,
        ui_language: str | None = None,
        answer_id: str | None = None,
    ) -> int:
        """Stores a rating of an answer given as ``Answer.to_dict()``; ``answer_id`` names the answer that
        was rated, so a comment can later be checked against it (:meth:`comment_on`)."""
        return self.add(
            rating=rating,
            question=str(answer.get("question", "")),
            answer=str(answer.get("answer", "")),
            citations=list(answer.get("citations") or []),
            history=history,
            language=answer.get("language"),
            refused=bool(answer.get("refused")),
            mode=answer.get("mode"),
            comment=comment,
            ui_language=ui_language,
            answer_id=answer_id,
        )

    def update(self, row_id: int, *, rating: str | None = None, comment: str | None = None) -> bool:
        sets, values = [], []
        if rating is not None:
            if rating not in RATINGS:
                raise ValueError(f"rating must be one of {RATINGS}")
            sets.append("rating = ?")
            values.append(rating)
        if comment is not None:
            sets.append("comment = ?")
            values.append(_clean_comment(comment))
        if not sets:
            return False
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(f"UPDATE feedback SET {', '.join(sets)} WHERE id = ?", (*values, row_id))
            return cur.rowcount > 0

    def comment_on(self, row_id: int, answer_id: str, comment: str) -> bool:
        """Sets the comment of rating ``row_id`` only if that row rates answer ``answer_id``."""
        text = _clean_comment(comment)
        if text is None or not answer_id:
            return False
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "UPDATE feedback SET comment = ? WHERE id = ? AND answer_id = ?", (text, int(row_id), answer_id)
            )
            return cur.rowcount > 0

    def delete(self, row_id: int) -> bool:
        with closing(self._connect()) as conn, conn:
            return conn.execute("DELETE FROM feedback WHERE id = ?", (row_id,)).rowcount > 0

    def counts(self) -> dict[str, int]:
        """Stored ratings per kind (``up``/``down``), for the metrics."""
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT rating, COUNT(*) FROM feedback GROUP BY rating").fetchall()
        return {rating: 0 for rating in RATINGS} | {str(r[0]): int(r[1]) for r in rows}

    def all(self) -> list[dict[str, Any]]:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT * FROM feedback ORDER BY id").fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["history"] = json.loads(item["history"] or "[]")
            item["citations"] = json.loads(item["citations"] or "[]")
            item["refused"] = bool(item["refused"])
            out.append(item)
        return out


def _clean_comment(comment: str | None) -> str | None:
    if not isinstance(comment, str):
        return None
    text = comment.strip()[:MAX_COMMENT_CHARS]
    return text or None


def _cap(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _code(value: Any) -> str | None:
    return value[:MAX_CODE_CHARS] if isinstance(value, str) and value else None


def _cap_history(history: Any) -> list[str]:
    items = history[-MAX_HISTORY_ITEMS:] if isinstance(history, list) else []
    return [_cap(h, MAX_QUESTION_CHARS) for h in items if isinstance(h, str)]


def _cap_citations(citations: Any) -> list[dict[str, Any]]:
    out = []
    for c in (citations if isinstance(citations, list) else [])[:MAX_CITATIONS]:
        if not isinstance(c, dict):
            continue
        kept: dict[str, Any] = {}
        for key, value in c.items():
            if key not in CITATION_KEYS:
                continue
            if key == "text":
                kept[key] = _cap(value, MAX_CITATION_TEXT_CHARS)
            elif isinstance(value, str):
                kept[key] = value[:MAX_FIELD_CHARS]
            elif isinstance(value, bool | int | float) or value is None:
                kept[key] = value
        out.append(kept)
    return out


# ------------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------------


def suite_items(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluation-suite items from feedback rows.

    👍 on an answer: the passages it cited are expected again (source + the first words of each passage;
    the answer's own sentences are not treated as facts). 👍 on a refusal: it must stay a refusal.
    👎: the item is marked ``review: true`` for a person to write the expected answer.
    """
    items = []
    for row in rows:
        item: dict[str, Any] = {
            "id": f"feedback-{row['id']}",
            "question": row["question"],
            "history": list(row.get("history") or []),
            "language": row.get("language") or "fi",
        }
        if row["rating"] == "up":
            if row["refused"]:
                item["expected"] = {"refuse": True}
                item["must_refuse"] = True
            else:
                passages = []
                seen = set()
                for c in row.get("citations") or []:
                    quote = " ".join(str(c.get("text", "")).split())[:QUOTE_CHARS]
                    key = (c.get("source"), quote)
                    if quote and key not in seen:
                        seen.add(key)
                        passages.append({"source": c.get("source"), "quote": quote})
                item["expected"] = {"refuse": False}
                item["expected_passages"] = passages
        else:
            item["expected"] = {"refuse": bool(row["refused"])}
            item["review"] = True
            item["answer_given"] = row["answer"]
        item["feedback"] = {
            "rating": row["rating"],
            "at": row["created_at"],
            **({"comment": row["comment"]} if row.get("comment") else {}),
        }
        items.append(item)
    return items


def export_cli(settings: Any, args: argparse.Namespace) -> int:
    """``assistant feedback export [--out FILE] [--as-suite] [--token T]``."""
    # The rows hold users' free-text comments: where an admin token is configured, exporting them needs it.
    required = settings.admin_token
    if required:
        given = getattr(args, "token", None)
        if not given:
            print(
                "assistant: ASSISTANT_ADMIN_TOKEN is set: give the admin token with --token", file=sys.stderr
            )
            return 2
        if not hmac.compare_digest(given.encode("utf-8"), required.encode("utf-8")):
            print("assistant: wrong admin token", file=sys.stderr)
            return 2
    path = settings.feedback_db
    rows = FeedbackStore(path).all() if path.exists() else []
    if getattr(args, "as_suite", False):
        import yaml

        text = (
            f"# Exported from user feedback ({path}) on {datetime.now(UTC).date().isoformat()}.\n"
            "# Liked answers: their cited passages are expected again; a liked refusal must stay one.\n"
            "# Disliked answers have review: true - write the expected answer before relying on them.\n"
        ) + yaml.safe_dump({"items": suite_items(rows)}, allow_unicode=True, sort_keys=False, width=110)
    else:
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    out = getattr(args, "out", None)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        print(f"{len(rows)} feedback rows written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
