"""Issue 10, the Gradio side: the attacks reproduced against the mounted chat, each now stopped.

A real uvicorn server runs ``create_app(settings)`` (API + Gradio UI) on a free port; the attacks use raw
httpx and the real ``gradio_client``; the deep link is opened in Debian's Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.live_server import live_server

from assistant.config import REPO_ROOT, Settings
from assistant.feedback import FeedbackStore
from assistant.web import ui
from assistant.web.ui import chat as chat_tab

TOKEN = "ui-security-test-token"
MARKER = "SALAINEN-MERKKIJONO-4711"
PM_QUESTION = "Kuka on ELMO-pilotin projektipäällikkö?"

pytestmark = pytest.mark.slow


@dataclass
class Live:
    url: str
    settings: Settings
    app: Any

    @property
    def blocks(self) -> Any:
        mounted = next(r.app for r in self.app.routes if hasattr(getattr(r, "app", None), "get_blocks"))
        return mounted.get_blocks()

    def fn_index(self, name: str) -> int:
        return next(i for i, fn in self.blocks.fns.items() if getattr(fn.fn, "__name__", "") == name)


def _serve(settings: Settings) -> Iterator[Live]:
    from assistant.web.app import create_app

    app = create_app(settings)
    with live_server(app, settings) as url:
        yield Live(url, settings, app)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Admin on, its own sources (with an unindexed secret file) and index."""
    from assistant.knowledge.ingest import refresh

    root = tmp_path_factory.mktemp("uisec")
    sources = root / "sources"
    shutil.copytree(REPO_ROOT / "knowledge", sources)
    (sources / "salaisuus.bin").write_text(MARKER, encoding="utf-8")  # not a supported type: never indexed
    settings = Settings(sources=sources, index=root / "index", admin_token=TOKEN, max_sessions=4)
    assert not refresh(settings).failed
    yield from _serve(settings)


@pytest.fixture(scope="module")
def public(kb_settings: Settings) -> Iterator[Live]:
    """Admin off (no token), on the shared read-only index."""
    yield from _serve(kb_settings.model_copy(update={"admin_token": None}))


def _call(live: Live, endpoint: str, data: list[Any], timeout: float = 30) -> str:
    """POST /gradio_api/call/<endpoint>, then the whole event stream as text (or the refusal body)."""
    with httpx.Client(base_url=live.url, timeout=timeout) as c:
        r = c.post(f"/gradio_api/call/{endpoint}", json={"data": data})
        if r.status_code != 200:
            return f"HTTP {r.status_code} {r.text}"
        event_id = r.json()["event_id"]
        return c.get(f"/gradio_api/call/{endpoint}/{event_id}").text


def _queue(live: Live, fn_index: int, data: list[Any], timeout: float = 120) -> list[dict[str, Any]]:
    """The browser's protocol (any event, also private ones): join the queue, read its messages."""
    session = os.urandom(6).hex()
    with httpx.Client(base_url=live.url, timeout=timeout) as c:
        body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None}
        r = c.post("/gradio_api/queue/join", json=body)
        assert r.status_code == 200, r.text
        messages = []
        with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    messages.append(msg)
                    if msg.get("msg") == "process_completed":
                        break
    return messages


def _file(path: str | Path) -> dict[str, Any]:
    return {"path": str(path), "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def _history_with(path: str | Path) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "file", "file": _file(path)}]}]


# ------------------------------------------------------------------------------------------------------
# the ask endpoint: text and language in, server-made chat out
# ------------------------------------------------------------------------------------------------------


def test_ask_takes_only_question_and_language(live: Live) -> None:
    from gradio_client import Client

    client = Client(live.url + "/", verbose=False)
    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/ask"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["message", "lang_value"]

    history, *_ = client.predict(PM_QUESTION, "fi", api_name="/ask")
    assert "Gitte Meriläinen" in history[-1]["content"][0]["text"]
    # the follow-up comes from the session's server-side conversation
    history, *_ = client.predict("Mikä hänen puhelinnumeronsa on?", "fi", api_name="/ask")
    assert len(history) == 4 and "6854" in history[-1]["content"][0]["text"]
    # the language may be left out (tests/test_reliability.py does): Finnish
    history, *_ = Client(live.url + "/", verbose=False).predict(PM_QUESTION, api_name="/ask")
    assert len(history) == 2 and "Gitte Meriläinen" in history[-1]["content"][0]["text"]
    # an unknown language code is refused before answering (Gradio's Radio checks its choices)
    out = _call(live, "ask", ["Mikä on Oulun väkiluku?", "<b>xx</b>"])
    assert out.startswith("event: error") and '"role"' not in out, out


@pytest.mark.parametrize("target", ["/etc/passwd", "/proc/self/environ", "index", "unindexed"])
def test_file_read_through_the_chat_is_stopped(live: Live, target: str) -> None:
    path = {
        "index": live.settings.index / "chroma" / "chroma.sqlite3",
        "unindexed": live.settings.sources / "salaisuus.bin",
    }.get(target, target)
    if not Path(path).exists():  # the Chroma file name is Chroma's: any file of the index will do
        path = next(p for p in live.settings.index.rglob("*") if p.is_file())
    cache = Path(live.blocks.GRADIO_CACHE)
    before = set(cache.rglob("*")) if cache.exists() else set()
    payloads = [
        ["hei", _history_with(path), "fi", None],  # the reproduced attack: a FileData in the chat history
        [_file(path), "fi"],  # a FileData where the question goes
        ["hei", _file(path)],  # ... or the language
    ]
    for data in payloads:
        out = _call(live, "ask", data)
        assert "/gradio_api/file=" not in out, out[:500]
        assert "root:" not in out and MARKER not in out and "SQLite" not in out, out[:500]
    # nor was the file copied into Gradio's cache, to be fetched there
    copies = [p for p in cache.rglob(Path(path).name) if p not in before] if cache.exists() else []
    assert not copies, copies
    with httpx.Client(base_url=live.url) as c:
        assert c.get(f"/gradio_api/file={path}").status_code in (403, 404)


def test_dev_zero_in_the_history_does_not_freeze_the_server(live: Live) -> None:
    results: list[str] = []
    attack = threading.Thread(
        target=lambda: results.append(_call(live, "ask", ["hei", _history_with("/dev/zero"), "fi", None], 60))
    )
    attack.start()
    time.sleep(0.3)
    with httpx.Client(base_url=live.url, timeout=5) as c:
        for _ in range(5):  # the event loop keeps answering while the attack is handled
            assert c.get("/healthz").status_code == 200
            time.sleep(0.2)
    attack.join(timeout=30)
    assert not attack.is_alive() and results and "/gradio_api/file=" not in results[0]


def test_question_size_is_capped_before_anything(live: Live) -> None:
    from gradio_client import Client

    client = Client(live.url + "/", verbose=False)
    history, *_ = client.predict("sana " * 4000, "fi", api_name="/ask")  # 20,000 characters
    assert len(history) == 2
    assert "liian pitkä (19999 merkkiä; enintään 2000)" in history[-1]["content"][0]["text"]
    assert len(history[0]["content"][0]["text"]) < 300  # the session keeps a short excerpt only
    with httpx.Client(base_url=live.url, timeout=60) as c:
        big = {"data": ["x" * 20_000_000, "fi"], "fn_index": live.fn_index("respond"), "session_hash": "big1"}
        r = c.post("/gradio_api/queue/join", content=json.dumps(big), headers={"Content-Type": "application/json"})
        assert r.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"data": ["'
            for _ in range(40):
                yield b"x" * 100_000
            yield b'", "fi"], "fn_index": 0, "session_hash": "big2"}'

        r = c.post("/gradio_api/queue/join", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413


def test_session_state_is_bounded(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio_client import Client

    monkeypatch.setattr(chat_tab, "MAX_TURNS", 3)
    client = Client(live.url + "/", verbose=False)
    for i in range(5):
        history, *_ = client.predict(f"Mikä on Oulun väkiluku vuonna {2000 + i}?", "fi", api_name="/ask")
    assert len(history) == 6  # the last 3 turns
    assert "2004" in history[-2]["content"][0]["text"] and "2001" not in json.dumps(history)

    holder = live.blocks.state_holder
    assert holder.capacity == live.settings.max_sessions == 4
    for _ in range(6):
        Client(live.url + "/", verbose=False).predict("Mikä on Oulun väkiluku?", "fi", api_name="/ask")
    assert len(holder.session_data) <= 4
    ttls = {b.time_to_live for b in live.blocks.blocks.values() if type(b).__name__ == "State"}
    assert ttls == {live.settings.session_ttl_minutes * 60}


# ------------------------------------------------------------------------------------------------------
# Gradio's routes
# ------------------------------------------------------------------------------------------------------


def _raw_post(url: str, path: str, length: int) -> int:
    """A request that only announces a huge body: the answer must come before any of it is sent."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        return int(s.recv(200).split(b" ")[1])


def test_routes_closed(live: Live, public: Live) -> None:
    with httpx.Client(base_url=public.url, timeout=10) as c:
        files = [("files", ("a.txt", b"hei", "text/plain"))] * 3
        assert c.post("/gradio_api/upload", files=files).status_code == 404  # admin off: no uploads at all
        assert c.get("/gradio_api/dev/reload").status_code == 404
        assert c.get("/gradio_api/deep_link", params={"session_hash": "x"}).status_code == 404
        assert c.get("/monitoring/summary").status_code == 404
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200
    with httpx.Client(base_url=live.url, timeout=10) as c:
        r = c.post("/gradio_api/upload", files=[("files", ("a.txt", b"hei", "text/plain"))])
        assert r.status_code == 200 and len(r.json()) == 1  # admin on: the admin tab's upload works
    assert _raw_post(live.url, "/gradio_api/upload", 1_000 * 20 * 1024 * 1024) == 413  # 1,000 × 20 MB
    assert _raw_post(public.url, "/gradio_api/upload", 1000) == 404


def test_queue_is_bounded(live: Live) -> None:
    queue = live.blocks._queue
    assert queue.max_size == live.settings.queue_max_size
    ask = live.blocks.fns[live.fn_index("respond")]
    assert ask.concurrency_limit == ui.ASK_CONCURRENCY and ask.concurrency_id == "ask"


def _skipped(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and "value" not in value


def test_answers_are_revealed_after_the_answering_slot(live: Live) -> None:
    """A page's extractive answer leaves the ask slot partly shown; the reveal (no slot, no thread: an async
    generator) shows the rest, then the panel. The "ask" API endpoint gives the whole answer at once."""
    import asyncio
    import inspect
    from types import SimpleNamespace

    ask = live.blocks.fns[live.fn_index("respond")]
    in_page = live.blocks.fns[live.fn_index("ask_in_page")]
    assert (in_page.concurrency_limit, in_page.concurrency_id) == (ui.ASK_CONCURRENCY, "ask") and in_page.api_name != "ask"
    reveal = live.blocks.fns[live.fn_index("reveal")]
    assert reveal.concurrency_limit is None and inspect.isasyncgenfunction(reveal.fn)
    tab = ask.fn.__self__

    def request(host: str) -> Any:
        return SimpleNamespace(client=SimpleNamespace(host=host))

    whole_chat, _, whole_panel, _, _, pending = list(tab.respond(PM_QUESTION, "fi", [], 0, request("api")))[-1]
    assert pending is None and "Gitte Meriläinen" in whole_chat[-1]["content"] and "elmo-passage" in whole_panel

    chat, _, panel, turns, counter, pending = list(tab.ask_in_page(PM_QUESTION, "fi", [], 0, request("page")))[-1]
    assert pending == 0 and counter == 1 and _skipped(panel)
    assert len(chat[-1]["content"]) < len(whole_chat[-1]["content"])

    steps = asyncio.run(_drain(tab.reveal(turns, pending, "fi")))
    lengths = [len(out[0][-1]["content"]) for out in steps]
    assert len(steps) >= 4 and lengths == sorted(set(lengths)), lengths
    assert all(_skipped(out[1]) for out in steps[:-1])
    assert steps[-1][0] == whole_chat and steps[-1][1] == whole_panel and steps[-1][2] is None
    # nothing to reveal (a refused question, an API session): nothing shown
    [(shown, panel, pending)] = asyncio.run(_drain(tab.reveal(turns, None, "fi")))
    assert _skipped(shown) and _skipped(panel) and pending is None


async def _drain(outputs: Any) -> list[tuple[Any, ...]]:
    return [out async for out in outputs]


def test_per_client_limit() -> None:
    limit = ui.PerClient(2)
    assert limit.acquire("a") and limit.acquire("a") and not limit.acquire("a")
    assert limit.acquire("b")
    limit.release("a")
    assert limit.acquire("a")


# ------------------------------------------------------------------------------------------------------
# admin upload: only Gradio's own uploads, capped
# ------------------------------------------------------------------------------------------------------


def _upload_result(messages: list[dict[str, Any]]) -> str:
    done = messages[-1]
    assert done.get("msg") == "process_completed", messages
    return json.dumps(done.get("output"), ensure_ascii=False)


def test_admin_upload_only_takes_uploaded_files(live: Live, tmp_path: Path) -> None:
    outside = tmp_path / "ulkopuolinen.txt"
    outside.write_text(f"Ulkopuolinen tiedosto {MARKER} ei saa päätyä tietopankkiin.", encoding="utf-8")
    uploads = live.settings.sources / "uploads"
    do_upload = live.fn_index("do_upload")

    for path in (outside, live.settings.sources / "salaisuus.bin", "/etc/hostname"):
        out = _upload_result(_queue(live, do_upload, [TOKEN, [_file(path)], "fi"]))
        assert "Päivitys valmis" not in out, out
    assert not uploads.exists() or not any(uploads.iterdir())

    with httpx.Client(base_url=live.url, timeout=30) as c:
        many = [("files", (f"d{i}.txt", b"Dokumentti.", "text/plain")) for i in range(21)]
        uploaded = c.post("/gradio_api/upload", files=many).json()
    out = _upload_result(_queue(live, do_upload, [TOKEN, [_file(p) for p in uploaded], "fi"]))
    assert "Liikaa tiedostoja" in out
    assert not uploads.exists() or not any(uploads.iterdir())

    # the real thing still works: one uploaded file → saved and indexed
    with httpx.Client(base_url=live.url, timeout=30) as c:
        doc = "Kajaanin innovaatiokeskuksen johtajana toimii Aino Virtanen."
        uploaded = c.post("/gradio_api/upload", files=[("files", ("kajaani.txt", doc.encode(), "text/plain"))])
    out = _upload_result(_queue(live, do_upload, [TOKEN, [_file(uploaded.json()[0])], "fi"]))
    assert "Päivitys valmis" in out and (uploads / "kajaani.txt").read_text(encoding="utf-8") == doc


# ------------------------------------------------------------------------------------------------------
# feedback stores the server's answer
# ------------------------------------------------------------------------------------------------------


def test_like_stores_the_server_answer(live: Live) -> None:
    from gradio_client import Client

    client = Client(live.url + "/", verbose=False)
    client.predict(PM_QUESTION, "fi", api_name="/ask")
    session = client.session_hash
    like = live.fn_index("on_like")
    before = len(FeedbackStore(live.settings.feedback_db).all())
    with httpx.Client(base_url=live.url, timeout=30) as c:
        forged = {"index": 1, "value": "väärennetty vastaus " * 2_000, "liked": True}
        body = {"data": [None, None, "fi"], "fn_index": like, "session_hash": session, "event_data": forged}
        assert c.post("/gradio_api/queue/join", json=body).status_code == 200
        with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                if "process_completed" in line:
                    break
    rows = FeedbackStore(live.settings.feedback_db).all()
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["question"] == PM_QUESTION and "Gitte Meriläinen" in row["answer"]
    assert "väärennetty" not in json.dumps(row, ensure_ascii=False)


# ------------------------------------------------------------------------------------------------------
# deep links (real browser)
# ------------------------------------------------------------------------------------------------------

PHISH = "Istuntosi on vanhentunut. Kirjaudu uudelleen"


def _plant_deep_link(live: Live, name: str) -> None:
    """A saved deep-link state with a fake assistant message, as an attacker's session would leave it."""
    import gradio as gr

    with httpx.Client(base_url=live.url) as c:
        components = c.get("/config").json()["components"]
    fake = gr.Chatbot().postprocess(
        [
            {"role": "user", "content": "Kuka on projektipäällikkö?"},
            {
                "role": "assistant",
                "content": f"{PHISH}: [elmo-kirjautuminen](http://evil.example/login) "
                "![](http://127.0.0.1:9/track.png)",
            },
        ]
    )
    chats = [comp for comp in components if comp.get("props", {}).get("elem_id") == "elmo-chat"]
    assert len(chats) == 1, "the chat component is gone from /config: the planted state would test nothing"
    chats[0]["props"]["value"] = fake.model_dump()
    folder = Path(gr.utils.get_upload_folder()) / "deep_links" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.json").write_text(json.dumps(components), encoding="utf-8")


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no Chromium at /usr/bin/chromium")
def test_deep_link_cannot_show_a_fake_answer(live: Live) -> None:
    from playwright.sync_api import sync_playwright
    from support.ui_pages import BOT, QUESTION
    from support.ui_server import CHROMIUM, CHROMIUM_ARGS

    name = "elmo-attack-" + os.urandom(4).hex()
    _plant_deep_link(live, name)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="fi-FI")
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{live.url}/?deep_link={name}", wait_until="domcontentloaded")
            page.locator(QUESTION).wait_for(timeout=90_000)
            page.wait_for_timeout(1500)
            html = page.content()
            assert PHISH not in html and "evil.example" not in html
            assert page.locator(BOT).count() == 0
            assert not [u for u in requests if "track.png" in u or "evil.example" in u]
        finally:
            browser.close()
