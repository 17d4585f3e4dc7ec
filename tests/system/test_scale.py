"""Scale-out: two `assistant serve` processes share one Chroma server and agree after a refresh by either.

Starts `chroma run` on a free loopback port, refreshes knowledge/ into it, starts two app processes (own
ports, own index folders, the same ASSISTANT_CHROMA_URL), asks both the same question, then adds a document
and refreshes through the first one's admin API: both answer the new fact (each polls the store's
generation once a second). The per-generation artefacts (BM25 index, rows) live in one shared folder
(ASSISTANT_ARTEFACTS): the refreshes write them, the app processes only open them. Every process is
stopped in ``finally``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from assistant.config import REPO_ROOT, Settings
from assistant.knowledge.artefacts import BUILD_LOG, root_for
from assistant.knowledge.store import Store
from benchmarks.measure import settings_for
from benchmarks.serving import chroma_server, http_client, serve_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TOKEN = "scale-test-token"
QUESTION = "Kuka on rahoittanut ELMO II -hanketta?"
NEW_DOC = (
    "# Revontulisilta-hanke\n\n"
    "Revontulisilta-hanke käynnistyi vuonna 2025 Kajaanissa ja vahvistaa vetytalouden osaamista Kainuussa. "
    "Lisätietoa antaa projektipäällikkö Aino Pesonen, puh. 040 555 1234.\n"
)
NEW_QUESTION = "Mikä on Revontulisilta-hankkeen yhteyshenkilön puhelinnumero?"


def _ask(client: Any, url: str, question: str) -> dict[str, Any]:
    resp = client.post(f"{url}/api/ask", json={"question": question, "history": []})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _digits(answer: dict[str, Any]) -> str:
    return re.sub(
        r"\D", "", answer["answer"] + " ".join(c.get("text", "") for c in answer.get("citations", []))
    )


def test_two_app_processes_share_one_chroma_server(tmp_path: Path) -> None:
    if shutil.which("chroma") is None and not (Path(sys.executable).parent / "chroma").exists():
        pytest.skip("the chroma CLI is not installed")
    sources = tmp_path / "sources"
    shutil.copytree(REPO_ROOT / "knowledge", sources)
    with ExitStack() as stack:
        _, chroma_url = stack.enter_context(chroma_server(tmp_path / "chroma", tmp_path / "chroma.log"))

        from assistant.knowledge.ingest import refresh

        shared = tmp_path / "shared-artefacts"  # ASSISTANT_ARTEFACTS: storage every app process mounts
        base = Settings(
            sources=sources, index=tmp_path / "cli-index", chroma_url=chroma_url, admin_token=TOKEN, artefacts=shared
        )
        summary = refresh(base)
        assert summary.added == 2 and not summary.failed

        apps = []
        for i in range(2):
            s = settings_for(base, tmp_path / f"index-{i}", sources, chroma_url=chroma_url, artefacts=shared)
            proc, url, _ = stack.enter_context(
                serve_process(s, tmp_path / f"serve-{i}.log", admin_token=TOKEN)
            )
            apps.append((proc, url))
        client = stack.enter_context(http_client(timeout=120.0))

        first = [_ask(client, url, QUESTION) for _, url in apps]
        assert not first[0]["refused"], first[0]
        assert "Pohjois-Savon liitto" in first[0]["answer"]
        assert first[0]["answer"] == first[1]["answer"]
        assert [c["chunk_id"] for c in first[0]["citations"]] == [
            c["chunk_id"] for c in first[1]["citations"]
        ]
        assert all("5551234" not in _digits(_ask(client, url, NEW_QUESTION)) for _, url in apps)

        # a new document, refreshed through the first process's admin API
        (sources / "revontulisilta.md").write_text(NEW_DOC, encoding="utf-8")
        denied = client.post(f"{apps[0][1]}/api/admin/refresh")
        assert denied.status_code in (401, 403)
        resp = client.post(f"{apps[0][1]}/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["summary"]["added"] == 1

        # the other process sees the store's new generation within its polling interval (1 s)
        deadline = time.monotonic() + 30
        answers: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            answers = [_ask(client, url, NEW_QUESTION) for _, url in apps]
            if all("5551234" in _digits(a) for a in answers):
                break
            time.sleep(0.5)
        assert all(not a["refused"] and "5551234" in _digits(a) for a in answers), answers
        # each generation's BM25 index and rows were written once, by the refresh that made it; the app
        # processes opened them from the shared folder and never built their own
        builds = [json.loads(line) for line in (root_for(base) / BUILD_LOG).read_text().splitlines()]
        assert [b["reason"] for b in builds] == ["refresh", "refresh"], builds
        assert builds[-1]["key"] == Store.open(base).generation_key()[1]
        assert not list((tmp_path / "index-0").glob("artefacts")) and not list((tmp_path / "index-1").glob("artefacts"))
        assert answers[0]["answer"] == answers[1]["answer"]
        # the question names the new project: only its document answers it (no other project's contact
        # shown as if the sources disagreed)
        assert {c["source"] for c in answers[0]["citations"]} == {"revontulisilta.md"}, answers[0]
        health = [client.get(f"{url}/healthz").json() for _, url in apps]
        assert health[0]["generation"] == health[1]["generation"] and health[0]["sources"] == 3
        # both processes stayed up the whole time
        assert all(proc.poll() is None for proc, _ in apps)
