"""``/metrics``: scraped from a real server after answers, a refresh and feedback; admin token only."""

from __future__ import annotations

import shutil

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.live_server import live_server

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.feedback import FeedbackStore
from assistant.web.app import create_app

TOKEN = "metrics-test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def settings(kb_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    index = tmp_path_factory.mktemp("metrics") / "index"
    shutil.copytree(kb_settings.index, index)  # a refresh and feedback write here, not in the shared index
    return kb_settings.model_copy(
        update={
            "index": index,
            "admin_token": TOKEN,
            "ask_rate_per_minute": 0,
            "allowed_hosts": ["127.0.0.1"],
        }
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_admin_token(url: str) -> None:
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{url}/metrics?token={TOKEN}").status_code == 401


def test_metrics_off_without_a_configured_token(settings: Settings, assistant: Assistant) -> None:
    no_token = settings.model_copy(update={"admin_token": None})
    with live_server(create_app(no_token, assistant, ui=False), no_token) as base:
        assert httpx.get(f"{base}/metrics", headers=ADMIN).status_code == 403


def test_scrape_after_answers_refresh_and_feedback(url: str, settings: Settings) -> None:
    with httpx.Client(base_url=url, timeout=120) as http:
        before = samples(http.get("/metrics", headers=ADMIN).text)
        answered = http.post("/api/ask", json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"}).json()
        assert answered["refused"] is False
        refused = http.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "Mikä on Oulun väkiluku?"}]},
        ).json()
        assert refused["refused"] is True
        assert http.post("/api/admin/refresh", headers=ADMIN).status_code == 200
        FeedbackStore(settings.feedback_db).add_answer("up", answered)
        r = http.get("/metrics", headers=ADMIN)
        sources = http.get("/api/sources").json()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = samples(r.text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # the library's request metrics, per route template
    assert grew("http_requests_total", handler="/api/ask", method="POST", status="2xx") == 1
    assert grew("http_requests_total", handler="/v1/chat/completions", method="POST", status="2xx") == 1
    assert grew("http_request_duration_seconds_count", handler="/api/ask", method="POST") == 1
    scrapes = value(after, "http_requests_total", handler="/metrics", method="GET", status="2xx")
    assert scrapes == 0  # the scrapes themselves are not counted
    # ours: per-stage latency of both answers, the refusal, the refresh, the feedback, the knowledge base
    for stage in ("retrieve", "answer", "total"):
        assert grew("assistant_answer_stage_seconds_count", stage=stage) == 2
    assert grew("assistant_answer_stage_seconds_sum", stage="total") > 0
    assert grew("assistant_refusals_total", language="fi") == 1
    assert grew("assistant_answers_total", mode="extractive", language="fi") == 2
    assert grew("assistant_refreshes_total", outcome="done") == 1
    assert grew("assistant_refresh_seconds_count") == 1
    assert value(after, "assistant_feedback", rating="up") == 1
    assert value(after, "assistant_feedback", rating="down") == 0
    assert value(after, "assistant_sources") == len(sources["sources"]) > 0
    assert value(after, "assistant_chunks") == sources["chunks"] > 0
    assert "Oulun" not in r.text and "Gitte" not in r.text  # no question or answer text is exported
