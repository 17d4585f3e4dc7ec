"""`POST /api/ask` writes the bytes FastAPI's own ``response_model=Answer`` serialisation writes (the route
hands FastAPI ready JSON to skip its re-validation), and the schema still names ``Answer``. A real uvicorn
server, the real model and Chroma index."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from support.live_server import live_server

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.schema import Answer
from assistant.web.app import create_app

QUESTIONS = [
    "Mitkä maakunnat valittiin ELMO-pilottiin?",  # an answer with citations
    "Mikä on Kuun pinta-ala neliökilometreinä?",  # most likely a refusal
    "Who funds the ELMO project?",  # another language
]


@pytest.fixture(scope="module")
def served(kb_settings: Settings) -> Iterator[tuple[str, Assistant]]:
    settings = kb_settings.model_copy(update={"ask_rate_per_minute": 0})
    assistant = Assistant(settings)
    with live_server(create_app(settings, assistant, ui=False), settings) as url:
        yield url, assistant


def fastapi_bytes(answer: Answer) -> bytes:
    """What FastAPI writes for a route that returns ``answer`` with ``response_model=Answer``."""
    app = FastAPI()
    app.post("/a", response_model=Answer)(lambda: answer)
    with TestClient(app) as client:
        return client.post("/a").content


@pytest.mark.parametrize("question", QUESTIONS)
def test_ask_json_is_fastapis_own(served: tuple[str, Assistant], question: str) -> None:
    url, assistant = served
    r = httpx.post(f"{url}/api/ask", json={"question": question, "history": []}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["question"] == question and body["answer"]
    again = assistant.ask(question)
    again.timings_ms = body["timings_ms"]  # the one field that differs between two asks
    assert r.content == fastapi_bytes(again)


def test_ask_schema_is_the_answer(served: tuple[str, Assistant]) -> None:
    url, _ = served
    schema = httpx.get(f"{url}/openapi.json", timeout=30).json()
    ok = schema["paths"]["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Answer"}
