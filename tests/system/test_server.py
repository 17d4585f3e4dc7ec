"""The JSON API (FastAPI test client and a real socket), the Gradio chat endpoint through gradio_client,
admin uploads/refresh, and the display-safety helpers of the UI."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from filelock import FileLock
from support.live_server import live_server

from assistant.answering.assistant import Assistant
from assistant.config import Settings, load_settings
from assistant.knowledge.ingest import refresh
from assistant.service import KnowledgeService, passage_context
from assistant.uploads import safe_filename
from assistant.web.app import create_app
from assistant.web.ui import md_text, render_answer, render_panel, render_sources_table
from assistant.web.ui.knowledge import KnowledgeTab

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")  # pandas deprecations inside Gradio

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
TOKEN = "test-admin-token-123"
NEW_DOC = (
    "Kajaanin innovaatiokeskus\n\n"
    "Kajaanin innovaatiokeskuksen johtajana toimii Aino Virtanen. Innovaatiokeskus avattiin vuonna 2025, ja se "
    "tukee Kainuun yrityksiä datakeskusten ja biotalouden kehittämisessä.\n"
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("server")
    shutil.copytree(KNOWLEDGE, root / "sources")
    with pytest.MonkeyPatch.context() as mp:  # none of the developer's ASSISTANT_* settings (an LLM, a login)
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            mp.delenv(key)
        s = load_settings(
            sources=root / "sources",
            index=root / "index",
            admin_token=TOKEN,
            max_upload_mb=1,
            allowed_hosts=["testserver", "127.0.0.1", "localhost"],  # TestClient's Host
            ask_rate_per_minute=0,
        )
    refresh(s)
    return s


@pytest.fixture(scope="module")
def client(settings: Settings, assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(settings, assistant)) as c:
        yield c


def _no_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


# ------------------------------------------------------------------------------------------------------
# answers
# ------------------------------------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["sources"] >= 2 and body["chunks"] > 0
    assert isinstance(body["generation"], int)


def test_ask_returns_the_cli_json(client: TestClient, assistant: Assistant) -> None:
    q = "Kuka on ELMO-pilotin projektipäällikkö?"
    r = client.post("/api/ask", json={"question": q, "history": []})
    assert r.status_code == 200
    body = r.json()
    assert _no_timings(body) == _no_timings(assistant.ask(q, []).to_dict())
    assert "Gitte Meriläinen" in body["answer"] and "[1]" in body["answer"]
    assert body["citations"][0]["source"] == "elinkeinot-murroksessa.txt"
    assert body["refused"] is False and body["language"] == "fi"


@pytest.mark.parametrize(
    "history",
    [
        ["Kuka on ELMO-pilotin projektipäällikkö?"],
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Kuka on ELMO-pilotin projektipäällikkö?"}],
            },
            {"role": "assistant", "content": "Gitte Meriläinen [1]"},
        ],
    ],
    ids=["strings", "gradio-messages"],
)
def test_follow_up_uses_history(client: TestClient, history: list[Any]) -> None:
    r = client.post("/api/ask", json={"question": "Mikä hänen puhelinnumeronsa on?", "history": history})
    assert r.status_code == 200
    body = r.json()
    assert "6854" in body["answer"], body["answer"]
    assert body["contacts"] and body["contacts"][0]["name"] == "Gitte Meriläinen"


def test_english_question_is_quoted_from_finnish(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "Who is the project manager of the ELMO pilot?"}).json()
    assert body["language"] == "en" and body["quoted_from_finnish"] is True
    assert "Gitte Meriläinen" in body["answer"]


def test_refusal(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "Mikä on Oulun väkiluku?"}).json()
    assert body["refused"] is True and "En löydä lähteistä vastausta" in body["answer"]
    # the closest passages are listed with their citations, each one cited in the text
    assert "Lähimmät kohdat:" in body["answer"] and body["citations"], body["answer"]
    for c in body["citations"]:
        assert f"[{c['n']}]" in body["answer"] and c["title"] in body["answer"]
    assert [c["chunk_id"] for c in body["citations"]] == [r["id"] for r in body["retrieved"][: len(body["citations"])]]


def test_ask_validation(client: TestClient, settings: Settings) -> None:
    assert client.post("/api/ask", json={"question": 5}).status_code == 422
    assert client.post("/api/ask", json={}).status_code == 422
    assert client.post("/api/ask", json={"question": "x", "history": [{"role": "robot"}]}).status_code == 422
    r = client.post("/api/ask", json={"question": "Kuka?", "history": ["kysymys"] * 501})
    assert r.status_code == 413 and "500" in r.json()["detail"]
    r = client.post("/api/ask", content=b'{"question": "' + b"a" * 1_100_000 + b'"}')
    assert r.status_code == 413
    empty = client.post("/api/ask", json={"question": "  "})
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    long = client.post("/api/ask", json={"question": "sana " * settings.max_question_chars})
    assert long.status_code == 422 and str(settings.max_question_chars) in long.json()["detail"]


def test_history_is_trimmed_not_refused(client: TestClient) -> None:
    history = ["Mitkä maakunnat valittiin ELMO-pilottiin?"] * 300 + [
        "Kuka on ELMO-pilotin projektipäällikkö?"
    ]
    r = client.post("/api/ask", json={"question": "Mikä hänen puhelinnumeronsa on?", "history": history})
    assert r.status_code == 200 and "6854" in r.json()["answer"]


def test_stream_ndjson(client: TestClient) -> None:
    with client.stream(
        "POST", "/api/ask/stream", json={"question": "Mitkä maakunnat valittiin ELMO-pilottiin?"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in r.iter_lines() if line.strip()]
    assert events[-1]["type"] == "answer"
    assert all(e["type"] == "delta" for e in events[:-1])
    answer = events[-1]["answer"]
    assert "Kainuu" in answer["answer"] and answer["citations"]


def test_stream_sse(client: TestClient) -> None:
    r = client.post(
        "/api/ask/stream",
        json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"},
        headers={"Accept": "text/event-stream"},
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    data = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert data[-1]["type"] == "answer" and "[1]" in data[-1]["answer"]["answer"]


# ------------------------------------------------------------------------------------------------------
# knowledge base
# ------------------------------------------------------------------------------------------------------


def test_sources_and_contacts(client: TestClient) -> None:
    body = client.get("/api/sources").json()
    by_source = {s["source"]: s for s in body["sources"]}
    record = by_source["elinkeinot-murroksessa.txt"]
    assert record["title"].startswith("Elinkeinot murroksessa") and record["chunks"] > 0
    assert record["status"] == "ok" and record["refreshed_at"].endswith("+00:00")
    assert body["failures"] == [] and body["last_refresh"] and body["chunks"] > 0
    contacts = client.get("/api/contacts").json()["contacts"]
    assert any(c["name"] == "Gitte Meriläinen" and "6854" in c["phone"] for c in contacts)
    assert all(c["source_title"] for c in contacts)


def test_passage_of_a_citation(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"}).json()
    c = answer["citations"][0]
    r = client.get("/api/passage", params={"source": c["source"], "start": c["start"], "end": c["end"]})
    assert r.status_code == 200
    body = r.json()
    assert "Gitte Meriläinen" in body["passage"] and body["before"] and body["title"] == c["title"]
    assert len(body["before"]) <= 602
    whole = client.get("/api/passage", params={"source": c["source"]}).json()
    assert whole["passage"][c["start"] : c["end"]] == body["passage"] and whole["length"] == len(
        whole["passage"]
    )


@pytest.mark.parametrize(
    "source",
    ["../../etc/passwd", "/etc/passwd", "sources.toml", "__meta__", "nonexistent.txt", "knowledge/x.txt"],
)
def test_passage_only_for_indexed_sources(client: TestClient, source: str) -> None:
    assert client.get("/api/passage", params={"source": source}).status_code == 404


def test_passage_context_cuts_at_words() -> None:
    text = " ".join(f"sana{i}" for i in range(400))
    start = text.index("sana200")
    view = passage_context(text, start, start + len("sana200"), 100)
    assert view.passage == "sana200"
    assert view.before.startswith("…sana") and view.after.endswith("…")
    assert len(view.before) <= 101 and len(view.after) <= 101
    assert passage_context("abc", 5, 2).passage == ""


# ------------------------------------------------------------------------------------------------------
# admin
# ------------------------------------------------------------------------------------------------------


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_admin_off_without_a_configured_token(settings: Settings, assistant: Assistant) -> None:
    off = settings.model_copy(update={"admin_token": None})
    with TestClient(create_app(off, assistant, ui=False)) as c:
        r = c.post("/api/admin/refresh", headers=_auth())
        assert r.status_code == 403 and "off" in r.json()["detail"]
        r = c.post("/api/admin/upload", headers=_auth(), files={"files": ("a.txt", b"teksti")})
        assert r.status_code == 403


def test_ui_admin_controls_off_without_a_token(settings: Settings, assistant: Assistant) -> None:
    off = settings.model_copy(update={"admin_token": None})
    with TestClient(create_app(off, assistant)) as c:
        components = c.get("/config").json()["components"]
    by_id = {comp["props"].get("elem_id"): comp["props"] for comp in components}
    for elem_id in ("elmo-token", "elmo-files", "elmo-upload", "elmo-refresh"):
        assert by_id[elem_id]["interactive"] is False, elem_id
    assert by_id["elmo-admin"]["visible"] is False and by_id["elmo-admin-note"]["value"] == ""
    with TestClient(create_app(settings, assistant)) as c:
        on = {comp["props"].get("elem_id"): comp["props"] for comp in c.get("/config").json()["components"]}
    assert on["elmo-upload"]["interactive"] is True


def test_admin_needs_the_right_token(client: TestClient, settings: Settings) -> None:
    for headers in ({}, _auth("wrong"), {"Authorization": f"Basic {TOKEN}"}, _auth(TOKEN + "x")):
        r = client.post("/api/admin/upload", headers=headers, files={"files": ("a.txt", b"teksti")})
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
        assert client.post("/api/admin/refresh", headers=headers).status_code == 401
    assert not (settings.sources / "uploads" / "a.txt").exists()


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("ohjelma.exe", b"MZ...", 415),
        ("sources.toml", b"[[source]]", 415),
        ("kuva.png", b"\x89PNG", 415),
        ("noextension", b"teksti", 415),
        (".piilo.txt", b"teksti", 400),
        ("tyhja.txt", b"", 400),
        ("rikki.pdf", b"%PDF-1.4 not really a pdf", 422),
        ("iso.txt", b"a" * (1024 * 1024 + 1), 413),
    ],
)
def test_upload_refused(client: TestClient, settings: Settings, name: str, data: bytes, status: int) -> None:
    before = sorted(p.name for p in settings.sources.rglob("*") if p.is_file())
    r = client.post("/api/admin/upload", headers=_auth(), files={"files": (name, data)})
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert sorted(p.name for p in settings.sources.rglob("*") if p.is_file()) == before  # nothing written


def test_upload_refuses_all_when_one_is_bad(client: TestClient, settings: Settings) -> None:
    files = [("files", ("hyva.txt", b"Hyva teksti.")), ("files", ("paha.exe", b"MZ"))]
    assert client.post("/api/admin/upload", headers=_auth(), files=files).status_code == 415
    assert not (settings.sources / "uploads" / "hyva.txt").exists()


def test_upload_refuses_two_files_saved_under_one_name(client: TestClient, settings: Settings) -> None:
    before = sorted(p.name for p in settings.sources.rglob("*") if p.is_file())
    files = [
        ("files", ("a/kaksoset.txt", b"Ensimmainen teksti.")),
        ("files", ("b/kaksoset.txt", b"Toinen teksti.")),
    ]
    r = client.post("/api/admin/upload", headers=_auth(), files=files)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "duplicate" and "kaksoset.txt" in r.json()["detail"]
    assert sorted(p.name for p in settings.sources.rglob("*") if p.is_file()) == before  # nothing written


def test_safe_filename() -> None:
    assert safe_filename("../../etc/cron.d/evil.txt") == "evil.txt"
    assert safe_filename("C:\\Users\\x\\muistio.md") == "muistio.md"
    assert safe_filename("Tärkeä muistio (2).txt") == "Tärkeä muistio (2).txt"
    assert safe_filename("a<b>|c.txt") == "a_b__c.txt"
    assert safe_filename(".bashrc.txt") is None
    assert safe_filename("...txt") is None
    assert len(safe_filename("x" * 300 + ".txt") or "") <= 120


def test_upload_then_refresh_then_answered(client: TestClient, settings: Settings) -> None:
    r = client.post(
        "/api/admin/upload?refresh=true",
        headers=_auth(),
        files={"files": ("../kajaanin-innovaatiokeskus.txt", NEW_DOC.encode())},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["saved"][0]["source"] == "uploads/kajaanin-innovaatiokeskus.txt"
    assert body["refresh"]["added"] == 1 and body["refresh"]["failed"] == []
    assert (settings.sources / "uploads" / "kajaanin-innovaatiokeskus.txt").read_text() == NEW_DOC
    answer = client.post(
        "/api/ask", json={"question": "Kuka on Kajaanin innovaatiokeskuksen johtaja?"}
    ).json()
    assert "Aino Virtanen" in answer["answer"]
    assert answer["citations"][0]["source"] == "uploads/kajaanin-innovaatiokeskus.txt"
    sources = {s["source"] for s in client.get("/api/sources").json()["sources"]}
    assert "uploads/kajaanin-innovaatiokeskus.txt" in sources

    r = client.post("/api/admin/refresh", headers=_auth())
    assert r.status_code == 200
    summary = r.json()["summary"]
    assert summary["added"] == 0 and summary["unchanged"] >= 3


def test_refresh_busy(client: TestClient, settings: Settings) -> None:
    with FileLock(str(settings.index / "refresh.lock")):
        r = client.post("/api/admin/refresh", headers=_auth())
    assert r.status_code == 409 and "already running" in r.json()["detail"]


def test_healthz_503_when_the_store_is_down(
    client: TestClient, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(assistant.kb.store, "heartbeat", down)
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable" and "connection refused" in r.json()["detail"]


def test_basic_auth_when_configured(settings: Settings, assistant: Assistant) -> None:
    locked = settings.model_copy(update={"auth": "elmo:salasana"})
    with TestClient(create_app(locked, assistant, ui=False)) as c:
        assert c.post("/api/ask", json={"question": "Kuka?"}).status_code == 401
        good = {"Authorization": "Basic " + base64.b64encode(b"elmo:salasana").decode()}
        bad = {"Authorization": "Basic " + base64.b64encode(b"elmo:vaara").decode()}
        assert c.post("/api/ask", json={"question": "Kuka?"}, headers=bad).status_code == 401
        assert c.post("/api/ask", json={"question": "Kuka?"}, headers=good).status_code == 200
        assert c.get("/healthz").status_code == 200


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/ask", "/api/ask/stream", "/api/sources", "/api/contacts", "/api/passage", "/healthz"):
        assert path in paths
    assert "multipart/form-data" in paths["/api/admin/upload"]["post"]["requestBody"]["content"]


# ------------------------------------------------------------------------------------------------------
# over a real socket, and the Gradio endpoint through gradio_client
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_url(settings: Settings, assistant: Assistant) -> Iterator[str]:
    with live_server(create_app(settings, assistant), settings) as url:
        yield url


def test_real_socket(live_url: str) -> None:
    with httpx.Client(base_url=live_url, timeout=30) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        body = http.post("/api/ask", json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"}).json()
        assert "Gitte Meriläinen" in body["answer"]
        with http.stream("POST", "/api/ask/stream", json={"question": "Mikä on Oulun väkiluku?"}) as r:
            events = [json.loads(line) for line in r.iter_lines() if line.strip()]
        assert events[-1]["type"] == "answer" and events[-1]["answer"]["refused"] is True
        page = http.get("/")
        assert page.status_code == 200 and "gradio" in page.text.lower()


def test_gradio_client_calls_the_chat(live_url: str) -> None:
    from gradio_client import Client

    client = Client(live_url + "/", verbose=False)
    assert "/ask" in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    history, textbox, panel = client.predict("Kuka on ELMO-pilotin projektipäällikkö?", api_name="/ask")
    answer = history[-1]
    text = answer["content"][0]["text"] if isinstance(answer["content"], list) else answer["content"]
    assert answer["role"] == "assistant" and "Gitte Meriläinen" in text
    assert "(#elmo-cite-0-1)" in text and textbox == ""
    assert 'id="elmo-cite-0-1"' in panel and "<mark>" in panel

    # a follow-up: the client sends only text; the server remembers the session's earlier question
    history2, _, _ = client.predict("Mikä hänen puhelinnumeronsa on?", "fi", api_name="/ask")
    last = history2[-1]["content"]
    assert len(history2) == 4
    assert "6854" in (last[0]["text"] if isinstance(last, list) else last)


# ------------------------------------------------------------------------------------------------------
# display safety of what the UI renders
# ------------------------------------------------------------------------------------------------------

HOSTILE = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2"> ![t](http://evil.example/t.png) '
    "[klikkaa](javascript:alert(1)) {{value}} ${alert(1)} `koodi` **lihava** https://evil.example/x"
)


def test_md_text_neutralises_markdown_and_html() -> None:
    out = md_text(HOSTILE)
    assert "<" not in out and ">" not in out
    assert "](" not in out.replace("\\](", "")  # no link or image syntax survives
    assert "http://" not in out and "https://" not in out  # no autolinks either
    assert md_text("1. kohta\n# otsikko") == "1\\. kohta\n\\# otsikko"


def test_render_answer_keeps_only_our_structure() -> None:
    answer = {
        "answer": f"**Yhteystiedot** [1]\n- Nimi: {HOSTILE}\n\n> lainaus [2] [7]",
        "citations": [{"n": 1}, {"n": 2}],
        "quoted_from_finnish": True,
        "refused": False,
    }
    md = render_answer(answer, 5, "fi")
    assert md.startswith('<span class="elmo-badge elmo-badge-fi">')
    assert "**Yhteystiedot** [\\[1\\]](#elmo-cite-5-1)" in md
    assert "\n- Nimi: " in md and "\n> lainaus [\\[2\\]](#elmo-cite-5-2) \\[7\\]" in md
    body = md.split("\n", 2)[-1]
    assert "<script" not in body and "<img" not in body
    assert not re.search(r"(?<!\\)\]\(", body.replace("](#elmo-cite-5-", ""))  # no other link or image


def test_kb_tab_listing_reads_the_sources_once(settings: Settings, assistant: Assistant) -> None:
    import gradio as gr

    service = KnowledgeService(settings, assistant)
    reads: list[dict[str, Any]] = []
    read = service.sources
    service.sources = lambda: reads.append(read()) or reads[-1]  # type: ignore[method-assign]
    with gr.Blocks():
        tab = KnowledgeTab(service, settings)
    table, dropdown = tab.listing("fi", "elinkeinot-murroksessa.txt")
    assert len(reads) == 1
    assert "elinkeinot-murroksessa.txt" in table and dropdown.value == "elinkeinot-murroksessa.txt"
    assert [c[1] for c in dropdown.choices] == [s["source"] for s in reads[0]["sources"]]


def test_chat_hands_the_last_questions_used_to_the_answerer() -> None:
    from assistant.web.ui import chat

    assert not hasattr(chat, "HISTORY_USED")  # schema.HISTORY_USED (API items) is another limit
    turns = [{"question": f"q{i}", "answer": {"answer": "a"}} for i in range(chat.QUESTIONS_USED + 5)]
    turns.insert(3, {"question": "unanswered", "answer": None})
    assert chat.earlier_questions(turns) == [f"q{i}" for i in range(5, chat.QUESTIONS_USED + 5)]


def test_render_panel_and_table_escape_everything() -> None:
    citation = {
        "n": 1,
        "source": "uploads/x.md",
        "title": HOSTILE,
        "text": HOSTILE,
        "start": 10,
        "end": 10 + len(HOSTILE),
        "publisher": HOSTILE,
        "url": "javascript:alert(1)",
    }
    turns = [{"index": 1, "question": HOSTILE, "answer": {"question": HOSTILE, "citations": [citation]}}]
    panel = render_panel(turns, "fi", None)
    table = render_sources_table(
        {
            "sources": [
                {"source": HOSTILE, "title": HOSTILE, "chunks": 1, "status": "failed", "failure": HOSTILE}
            ],
            "chunks": 1,
            "last_refresh": None,
        },
        "en",
    )
    for out in (panel, table):
        assert "<script" not in out and "<img" not in out and "{{" not in out and "${" not in out
        assert 'href="javascript' not in out and 'onerror="' not in out
    assert "href=" not in panel  # a javascript: URL is never linked
    assert "<mark>" in panel and "&lt;script&gt;" in panel


def test_render_panel_shows_what_is_known() -> None:
    text = "Alku. " * 200 + "Lainattu kohta on tässä." + " Loppu." * 200
    start = text.index("Lainattu")
    citation = {
        "n": 2,
        "source": "raportti.pdf",
        "title": "Raportti",
        "text": "Lainattu kohta on tässä.",
        "start": start,
        "end": start + len("Lainattu kohta on tässä."),
        "page": 7,
        "publisher": "Pohjois-Savon liitto",
        "date": "2024-01-15",
        "url": "https://example.fi/raportti.pdf",
    }

    class Texts:
        def get(self, source: str) -> str | None:
            return text if source == "raportti.pdf" else None

    panel = render_panel(
        [{"index": 3, "question": "q", "answer": {"question": "q", "citations": [citation]}}], "fi", Texts()
    )  # type: ignore[arg-type]
    assert 'id="elmo-cite-3-2"' in panel and "<mark>Lainattu kohta on tässä.</mark>" in panel
    for shown in (
        "Raportti",
        "Pohjois-Savon liitto",
        "2024-01-15",
        "sivu 7",
        'href="https://example.fi/raportti.pdf"',
    ):
        assert shown in panel, shown
    assert 'rel="noopener noreferrer nofollow"' in panel
    around = re.findall(r'<span class="elmo-around">(.*?)</span>', panel, re.S)
    assert len(around) == 2 and all(0 < len(a) <= 602 for a in around)


# ------------------------------------------------------------------------------------------------------
# with an LLM: deltas stream first, the verified answer replaces them
# ------------------------------------------------------------------------------------------------------


def test_stream_with_an_llm(settings: Settings, assistant: Assistant) -> None:
    from support.fake_llm import FakeLLM

    with FakeLLM(default="ELMO-pilotin projektipäällikkö on Gitte Meriläinen [1].", delay=0.01) as llm:
        generative = settings.model_copy(update={"llm_url": llm.url, "llm_model": "fake"})
        with TestClient(create_app(generative, Assistant(generative, kb=assistant.kb), ui=False)) as c:
            r = c.post("/api/ask/stream", json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"})
    events = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) > 1 and "Gitte" in "".join(deltas)
    final = events[-1]
    assert final["type"] == "answer" and final["answer"]["mode"] == "generative"
    assert "Gitte Meriläinen" in final["answer"]["answer"] and final["answer"]["citations"]


def test_chat_shows_the_llm_draft_then_the_verified_answer(settings: Settings, assistant: Assistant) -> None:
    from gradio_client import Client
    from support.fake_llm import FakeLLM

    draft = "ELMO-pilotin projektipäällikkö on <b>Gitte Meriläinen</b>, puh. 040 6854 053 [1]."
    with FakeLLM(default=draft, delay=0.02) as llm:
        generative = settings.model_copy(update={"llm_url": llm.url, "llm_model": "fake"})
        with live_server(create_app(generative, Assistant(generative, kb=assistant.kb)), generative) as url:
            job = Client(url + "/", verbose=False).submit(
                "Kuka on ELMO-pilotin projektipäällikkö?", api_name="/ask"
            )
            final = job.result(timeout=60)
            seen = [out[0][-1]["content"][0]["text"] for out in job.outputs() if out[0]]
    drafts = [t for t in seen if "(#elmo-cite-" not in t and t != "…"]
    assert any("&lt;b&gt;Gitte" in d for d in drafts)  # the draft is shown as escaped plain text
    text = final[0][-1]["content"][0]["text"]
    assert "Gitte Meriläinen" in text and "(#elmo-cite-0-1)" in text and "<b>" not in text


def test_openapi_shows_the_answer_model_the_routes_return(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ask = spec["paths"]["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ask["$ref"].endswith("/Answer")
    assert "degraded" in spec["components"]["schemas"]["Answer"]["properties"]
    assert spec["paths"]["/api/admin/refresh"]["post"]["security"]  # the bearer dependency, documented
