"""Input errors of the JSON API are 4xx with a message that says what is wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.web.app import create_app

SOURCE = "elinkeinot-murroksessa.txt"


@pytest.fixture(scope="module")
def client(kb_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(kb_settings, Assistant(kb_settings), ui=False)) as c:
        yield c


def test_passage_start_after_end_is_422(client: TestClient) -> None:
    r = client.get("/api/passage", params={"source": SOURCE, "start": 50, "end": 10})
    assert r.status_code == 422
    assert r.json()["detail"] == "start (50) must not be greater than end (10)"
    ok = client.get("/api/passage", params={"source": SOURCE, "start": 10, "end": 50})
    assert ok.status_code == 200 and len(ok.json()["passage"]) == 40
