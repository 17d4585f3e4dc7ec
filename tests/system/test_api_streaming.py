"""`/api/ask/stream` streams sentence deltas in every mode, and the answer API's input errors are 4xx with a
message. A real uvicorn server (tests/support/live_server.py), the real model and Chroma index; the
generative mode against the scripted OpenAI-compatible server (tests/support/fake_llm.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.fake_llm import FakeLLM
from support.live_server import live_server

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.text.sentences import split_sentences
from assistant.web.app import create_app

QUESTION = "Mitkä maakunnat valittiin ELMO-pilottiin?"


def _settings(kb_settings: Settings, **extra: Any) -> Settings:
    return kb_settings.model_copy(update={"ask_rate_per_minute": 0, **extra})


@pytest.fixture(scope="module")
def base(kb_settings: Settings) -> Iterator[str]:
    settings = _settings(kb_settings)
    with live_server(create_app(settings, Assistant(settings), ui=False), settings) as url:
        yield url


def ndjson_events(base: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    with httpx.stream("POST", f"{base}/api/ask/stream", json=body, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        for line in r.iter_lines():
            if line.strip():
                events.append(json.loads(line))
    return events


def sse_events(base: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    headers = {"Accept": "text/event-stream"}
    with httpx.stream("POST", f"{base}/api/ask/stream", json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode("utf-8")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert all(b.startswith("data: ") for b in blocks)
    return [json.loads(b.removeprefix("data: ")) for b in blocks]


def deltas_and_answer(events: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    assert [e["type"] for e in events[:-1]] == ["delta"] * (len(events) - 1)
    assert events[-1]["type"] == "answer"
    return [e["text"] for e in events[:-1]], events[-1]["answer"]


@pytest.mark.parametrize("read", [ndjson_events, sse_events], ids=["ndjson", "sse"])
def test_extractive_answer_streams_its_sentences_before_the_answer(base: str, read: Any) -> None:
    deltas, answer = deltas_and_answer(read(base, {"question": QUESTION}))
    assert answer["mode"] == "extractive" and not answer["refused"]
    text = answer["answer"]
    sentences = [(s, e) for s, e in split_sentences(text) if not re.fullmatch(r"[\[\]\d\s]+", text[s:e])]
    assert len(deltas) == len(sentences) >= 1, deltas  # sentence by sentence, markers with their sentence
    assert "".join(deltas) == answer["answer"]
    assert deltas[0].rstrip().endswith("[1]")  # a sentence's citation marker travels with it


def test_small_talk_streams_too(base: str) -> None:
    deltas, answer = deltas_and_answer(ndjson_events(base, {"question": "Mitä osaat?"}))
    assert answer["mode"] == "smalltalk" and answer["citations"] == []
    assert len(deltas) >= 2 and "".join(deltas) == answer["answer"]


def test_a_refusal_streams_too(base: str) -> None:
    deltas, answer = deltas_and_answer(ndjson_events(base, {"question": "Mikä on Marsin pääkaupunki?"}))
    assert answer["refused"] is True and "".join(deltas) == answer["answer"]
    assert len(deltas) >= 2 and deltas[0].startswith("En löydä")  # the refusal, then each closest passage


def test_generative_mode_streams_the_llm_draft(kb_settings: Settings) -> None:
    reply = "Pilottiin valittiin Itä- ja Pohjois-Suomen seitsemän maakuntaa. [1]"
    with FakeLLM(default=reply) as llm:
        settings = _settings(kb_settings, llm_url=llm.url, llm_model="fake")
        with live_server(create_app(settings, Assistant(settings), ui=False), settings) as url:
            deltas, answer = deltas_and_answer(ndjson_events(url, {"question": QUESTION}))
    assert answer["mode"] == "generative"
    assert len(deltas) >= 3 and "".join(deltas).strip() == reply  # the draft as it was written


# ------------------------------------------------------------------------------------------------------
# input errors: 4xx with a message, on both answer routes
# ------------------------------------------------------------------------------------------------------

BAD_BODIES: list[tuple[str, bytes, int, str]] = [
    ("bad JSON", b'{"question": "Kuka', 422, "JSON decode error"),
    ("not an object", b'["Kuka?"]', 422, "valid dictionary"),
    ("no question", b'{"history": []}', 422, "Field required"),
    ("question a number", b'{"question": 5}', 422, "valid string"),
    ("empty question", b'{"question": "   "}', 422, "the question is empty"),
    ("over-long question", json.dumps({"question": "sana " * 500}).encode(), 422, "the question is too long"),
    ("history of numbers", b'{"question": "Kuka?", "history": [1, 2]}', 422, "valid string"),
    ("history a string", b'{"question": "Kuka?", "history": "Kuka?"}', 422, "valid list"),
    ("history too long", json.dumps({"question": "Kuka?", "history": ["x"] * 501}).encode(), 413, "at most 500"),
]


@pytest.mark.parametrize("route", ["/api/ask", "/api/ask/stream"])
@pytest.mark.parametrize(("name", "body", "status", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_input_errors_are_4xx_with_a_message(
    base: str, route: str, name: str, body: bytes, status: int, message: str
) -> None:
    r = httpx.post(f"{base}{route}", content=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == status, (name, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    assert message in json.dumps(r.json()["detail"]), r.text[:300]
