"""Rate limits that count the right things: questions (not every Gradio event) and wrong admin tokens.

A real uvicorn server runs ``create_app`` (API + Gradio UI, the real assistant on the shared index); the UI is
driven with the browser's queue protocol and ``gradio_client``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.live_server import live_server

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.web.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:::gradio.queueing")]

TOKEN = "rate-limit-admin-token-0123456789"
Q = "Kuka on ELMO-pilotin projektipäällikkö?"


@pytest.fixture(scope="module")
def assistant(kb_settings: Settings) -> Assistant:
    return Assistant(kb_settings)


@pytest.fixture
def served(kb_settings: Settings, assistant: Assistant) -> Iterator[tuple[str, Any]]:
    """A fresh app (fresh buckets): 2 questions and 3 wrong admin tokens a minute per address."""
    settings = kb_settings.model_copy(
        update={"ask_rate_per_minute": 2, "login_rate_per_minute": 3, "admin_token": TOKEN}
    )
    app = create_app(settings, assistant)
    with live_server(app, settings) as url:
        yield url, app


def _fn_index(app: Any, name: str) -> int:
    mounted = next(r.app for r in app.routes if hasattr(getattr(r, "app", None), "get_blocks"))
    fns = mounted.get_blocks().fns
    return next(i for i, fn in fns.items() if getattr(fn.fn, "__name__", "") == name)


def _queue(url: str, fn_index: int, data: list[Any]) -> tuple[int, str]:
    """The browser's protocol: join the queue (its status), then the completed event's output as text."""
    session = os.urandom(6).hex()
    with httpx.Client(base_url=url, timeout=120) as c:
        body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None}
        r = c.post("/gradio_api/queue/join", json=body)
        if r.status_code != 200:
            return r.status_code, r.text
        with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                    return 200, json.dumps(json.loads(line[5:]).get("output"), ensure_ascii=False)
    return 200, ""


def test_ui_events_are_not_questions_and_questions_are_limited(served: tuple[str, Any]) -> None:
    from gradio_client import Client

    url, app = served
    relabel = _fn_index(app, "apply_language")
    for _ in range(5):  # language switches (like persist, rename, restore) are not questions
        status, out = _queue(url, relabel, ["en", None])
        assert status == 200 and "Ask" in out, out
    client = Client(url + "/", verbose=False)
    for _ in range(2):
        history, *_ = client.predict(Q, "fi", api_name="/ask")
        assert "Gitte Meriläinen" in history[-1]["content"][0]["text"]
    history, *_ = client.predict(Q, "fi", api_name="/ask")  # the third within the minute: a polite notice
    text = history[-1]["content"][0]["text"]
    assert "Olet kysynyt paljon lyhyessä ajassa" in text and "Gitte" not in text
    history, *_ = Client(url + "/", verbose=False).predict(Q, "en", api_name="/ask")  # per address, not session
    assert "asked many questions" in history[-1]["content"][0]["text"]
    with httpx.Client(base_url=url, timeout=30) as c:  # the public API endpoint stays limited by the shield too
        calls = [c.post("/gradio_api/call/ask", json={"data": [Q, "fi"]}).status_code for _ in range(3)]
        assert calls == [200, 200, 429]
        assert c.post("/gradio_api/queue/join", json={"data": ["fi", None], "fn_index": relabel}).status_code != 429


def test_wrong_admin_tokens_are_throttled_in_api_metrics_and_ui(served: tuple[str, Any]) -> None:
    url, app = served
    wrong = {"Authorization": "Bearer arvaus"}
    with httpx.Client(base_url=url, timeout=60) as c:
        assert c.post("/api/admin/refresh", headers=wrong).status_code == 401
        assert c.get("/metrics", headers=wrong).status_code == 401
        status, out = _queue(url, _fn_index(app, "do_refresh"), ["arvaus", "fi"])
        assert status == 200 and "Ylläpitäjän tunnus on väärä" in out, out
        # three guesses spent: every channel now answers 429, even to the right token
        r = c.post("/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
        r = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
        status, out = _queue(url, _fn_index(app, "do_refresh"), [TOKEN, "fi"])
        assert status == 200 and "Liian monta väärää tunnusta" in out, out
        assert c.get("/api/sources").status_code == 200  # nothing else is refused
