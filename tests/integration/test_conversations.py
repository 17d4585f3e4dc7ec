"""Saved conversations (real SQLite in tmp_path), their plain-text and Markdown forms, the browser cookie and
the export route (a real uvicorn server), and comments tied to the rated answer."""

from __future__ import annotations

import copy
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support.live_server import live_server

from assistant.config import Settings
from assistant.conversations import (
    ConversationStore,
    copy_text,
    new_browser_id,
    to_markdown,
)
from assistant.feedback import FeedbackStore
from assistant.web.history import COOKIE, add_history_routes

ANSWER: dict[str, Any] = {
    "question": "Kuka on ELMO-pilotin projektipäällikkö?",
    "language": "fi",
    "answer": "> **Yhteystiedot**\n> Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053 [1]\n\nLisäksi [2].",
    "refused": False,
    "mode": "extractive",
    "citations": [
        {
            "n": 1,
            "source": "elinkeinot-murroksessa.txt",
            "title": "Elinkeinot murroksessa",
            "text": "Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053",
            "start": 10,
            "end": 70,
        },
        {
            "n": 2,
            "source": "strategia.pdf",
            "title": "Älykkään erikoistumisen strategia",
            "text": "Strategian painopisteet ovat biotalous ja teknologiateollisuus.",
            "start": 0,
            "end": 60,
            "page": 3,
            "url": "https://example.fi/strategia.pdf",
        },
    ],
}


def turn(i: int, question: str | None = None) -> dict[str, Any]:
    answer = copy.deepcopy(ANSWER)
    answer["question"] = question or f"Kysymys {i}?"
    return {"index": i, "id": f"answer-{i}", "question": answer["question"], "lang": "fi", "answer": answer}


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(tmp_path / "conversations.sqlite", per_browser=3, max_turns=4, days=30)


def test_saved_and_read_back_by_its_browser_only(store: ConversationStore, tmp_path: Path) -> None:
    me, other = new_browser_id(), new_browser_id()
    notice = {"index": 1, "question": "x" * 10, "lang": "fi", "notice": "busy"}
    cid = store.save(me, None, [turn(0, "Kuka on ELMO-pilotin projektipäällikkö?"), notice], 2)
    found = store.get(me, cid)
    assert found is not None and found.title == "Kuka on ELMO-pilotin projektipäällikkö?"
    assert [t["question"] for t in found.turns] == ["Kuka on ELMO-pilotin projektipäällikkö?"]  # no notices
    assert found.turns[0]["answer"]["citations"][1]["page"] == 3 and found.next_index == 2
    assert store.latest(me).id == cid  # type: ignore[union-attr]

    # another browser sees nothing of it, cannot rename, hide or overwrite it
    assert store.get(other, cid) is None and store.latest(other) is None and store.listing(other) == []
    assert not store.rename(other, cid, "kaapattu") and not store.hide(other, cid)
    assert store.save(other, cid, [turn(5)], 6) != cid
    assert store.get(me, cid).title == "Kuka on ELMO-pilotin projektipäällikkö?"  # type: ignore[union-attr]
    # only a hash of the browser id is stored
    raw = (tmp_path / "conversations.sqlite").read_bytes()
    assert me.encode() not in raw and other.encode() not in raw


def test_caps_and_expiry(store: ConversationStore) -> None:
    me = new_browser_id()
    cid = store.save(me, None, [turn(i) for i in range(7)], 7)
    assert [t["index"] for t in store.get(me, cid).turns] == [3, 4, 5, 6]  # type: ignore[union-attr]
    ids = [cid] + [store.save(me, None, [turn(0, f"Toinen {i}?")], 1) for i in range(3)]
    listed = [c for c, _, _ in store.listing(me)]
    assert listed == ids[:0:-1] and store.get(me, ids[0]) is None  # the oldest went
    assert store.rename(me, ids[1], "  Oma   nimi ") and store.get(me, ids[1]).title == "Oma nimi"  # type: ignore[union-attr]
    assert not store.rename(me, ids[1], "   ")

    expiring = ConversationStore(store.path, per_browser=3, max_turns=4, days=0)
    time.sleep(0.01)
    assert expiring.latest(me) is None and expiring.listing(me) == []
    expiring.save(new_browser_id(), None, [turn(0)], 1)  # any write removes the expired ones
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 1


def test_hidden_conversation_restores_once(store: ConversationStore) -> None:
    me = new_browser_id()
    first = store.save(me, None, [turn(0, "Ensimmäinen?")], 1)
    second = store.save(me, None, [turn(0, "Toinen?")], 1)
    assert store.hide(me, first)
    assert store.get(me, first) is None and [c for c, _, _ in store.listing(me)] == [second]
    assert store.restore(me, first) and store.get(me, first) is not None
    assert not store.restore(me, first)  # once
    store.hide(me, first)
    store.hide(me, second)  # a second clear deletes the first one for good
    assert not store.restore(me, first) and store.restore(me, second)


def test_copy_text_is_plain_with_numbered_sources() -> None:
    text = copy_text(ANSWER, "fi")
    assert text.startswith("Yhteystiedot\nProjektipäällikkö Gitte Meriläinen, puh. 040 6854 053 [1]")
    for internal in ("**", "> ", "<", "#elmo-cite", "](", "elmo-badge"):
        assert internal not in text
    assert text.endswith(
        "Lähteet:\n[1] Elinkeinot murroksessa, elinkeinot-murroksessa.txt\n"
        "[2] Älykkään erikoistumisen strategia, sivu 3, https://example.fi/strategia.pdf"
    )
    assert "Sources:\n[1] Elinkeinot murroksessa" in copy_text(ANSWER, "en")


def test_copy_text_drops_the_answerers_emphasis_only() -> None:
    refusal = {
        "answer": "*Tarkoititko: kalatalous?*\n\nEn löydä lähteistä vastausta tähän kysymykseen.\n\n"
        "Lähimmät kohdat:\n- *Kalatalous 2*3*: “Hinta on 2*3 euroa.” [1]"
    }
    assert copy_text(refusal, "fi") == (
        "Tarkoititko: kalatalous?\n\nEn löydä lähteistä vastausta tähän kysymykseen.\n\n"
        "Lähimmät kohdat:\n- Kalatalous 2*3: “Hinta on 2*3 euroa.” [1]"
    )


def test_markdown_export_has_the_cited_passages(store: ConversationStore) -> None:
    me = new_browser_id()
    cid = store.save(me, None, [turn(0, "Kuka on ELMO-pilotin projektipäällikkö?"), turn(1, "Entä strategia?")], 2)
    md = to_markdown(store.get(me, cid), "fi")  # type: ignore[arg-type]
    assert md.startswith("# Kuka on ELMO-pilotin projektipäällikkö?\n")
    assert md.count("## Kysymys: ") == 2 and "## Kysymys: Entä strategia?" in md
    assert "> Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053" in md
    assert "[2] Älykkään erikoistumisen strategia, sivu 3, https://example.fi/strategia.pdf" in md


def test_cookie_and_export_route_are_scoped_to_the_browser(store: ConversationStore) -> None:
    app = FastAPI()
    add_history_routes(app, store, max_age_days=30)

    @app.get("/")
    def page() -> dict[str, str]:
        return {"page": "chat"}

    with live_server(app, Settings()) as url:
        with httpx.Client(base_url=url) as first:
            r = first.get("/")
            cookie = r.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
            browser = first.cookies[COOKIE]
            assert "set-cookie" not in first.get("/").headers  # issued once
            cid = store.save(browser, None, [turn(0, "Kuka on ELMO-pilotin projektipäällikkö?")], 1)
            r = first.get(f"/conversations/{cid}/export", params={"lang": "en"})
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
            assert "attachment" in r.headers["content-disposition"]
            assert "## Question: Kuka on ELMO-pilotin projektipäällikkö?" in r.text and "Gitte Meriläinen" in r.text
        with httpx.Client(base_url=url) as second:
            second.get("/")
            assert second.cookies[COOKIE] != browser
            r = second.get(f"/conversations/{cid}/export")
            assert r.status_code == 404 and "Gitte" not in r.text
        with httpx.Client(base_url=url) as nobody:
            assert nobody.get(f"/conversations/{cid}/export").status_code == 404
            nobody.cookies.set(COOKIE, "forged")
            assert nobody.get(f"/conversations/{cid}/export").status_code == 404
            # an API path never gets the cookie
            assert "set-cookie" not in nobody.get("/conversations/x/export").headers


def test_a_comment_goes_only_to_the_answer_it_was_opened_for(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    first = store.add_answer("up", ANSWER, answer_id="answer-1")
    second = store.add_answer("down", ANSWER, answer_id="answer-2")
    assert not store.comment_on(first, "answer-2", "kuuluu toiselle")
    assert store.comment_on(second, "answer-2", "  Puuttui puhelinnumero. ")
    assert not store.comment_on(second, "", "ei tunnistetta") and not store.comment_on(second, "answer-2", "   ")
    rows = {r["id"]: r for r in store.all()}
    assert rows[first]["comment"] is None and rows[second]["comment"] == "Puuttui puhelinnumero."
    assert rows[second]["answer_id"] == "answer-2"


def test_feedback_database_from_before_answer_ids_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, rating TEXT "
            "NOT NULL, question TEXT NOT NULL, history TEXT NOT NULL DEFAULT '[]', language TEXT, answer TEXT NOT "
            "NULL, refused INTEGER NOT NULL DEFAULT 0, citations TEXT NOT NULL DEFAULT '[]', mode TEXT, comment "
            "TEXT, ui_language TEXT)"
        )
        conn.execute("INSERT INTO feedback (created_at, rating, question, answer) VALUES ('x', 'up', 'q', 'a')")
    store = FeedbackStore(path)
    row = store.add_answer("up", ANSWER, answer_id="answer-9")
    assert store.comment_on(row, "answer-9", "toimii") and len(store.all()) == 2
