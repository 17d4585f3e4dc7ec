"""What the command line prints: citations with title and page, JSON as UTF-8, a failing batch line, and a
busy port reported before anything loads. Real index (knowledge/), real model; `serve` as a subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import citation_line, main
from assistant.config import REPO_ROOT, Settings
from assistant.schema import Citation

QUESTION = "Kuka on ELMO-pilotin projektipäällikkö?"


def kb_args(settings: Settings) -> list[str]:
    return ["--sources", str(settings.sources), "--index", str(settings.index)]


def test_plain_citations_show_title_not_offsets(kb_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, *kb_args(kb_settings)]) == 0
    out = capsys.readouterr().out
    citation = next(line for line in out.splitlines() if line.startswith("[1] "))
    assert "Elinkeinot murroksessa – Pohjois-Pohjanmaa mukana ELMO-pilotissa" in citation
    assert "merkit" not in out and "–" not in citation.split("ELMO-pilotissa", 1)[1]  # no "start–end"


def test_a_citation_line_has_the_page_and_link_when_known() -> None:
    cited = Citation(2, "raportti.pdf", "Raportti", "teksti", 1200, 1300, page=7, url="https://example.org/r.pdf")
    assert citation_line(cited, "fi") == "[2] Raportti, s. 7, https://example.org/r.pdf"
    assert citation_line(cited, "en") == "[2] Raportti, p. 7, https://example.org/r.pdf"
    local = Citation(1, "a.txt", "A", "teksti", 0, 6)
    assert citation_line(local, "fi") == "[1] A, a.txt"


def test_json_is_utf8_not_escaped(kb_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, "--json", *kb_args(kb_settings)]) == 0
    out = capsys.readouterr().out
    assert "projektipäällikkö" in out and "\\u00e4" not in out
    assert json.loads(out)["question"] == QUESTION


def test_batch_exits_1_on_an_invalid_line_and_answers_the_rest(
    kb_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "q.jsonl"
    lines = [
        json.dumps({"question": QUESTION}, ensure_ascii=False),
        "{not json",
        json.dumps({"question": 5}),
        json.dumps({"question": "Hei!", "history": []}, ensure_ascii=False),
    ]
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["ask", "--batch", str(batch), *kb_args(kb_settings)]) == 1
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [("error" in r) for r in results] == [False, True, True, False]
    assert results[1]["error"].startswith("line 2") and results[2]["error"].startswith("line 3")
    assert "Meriläinen" in results[0]["answer"] and results[3]["mode"] == "smalltalk"


def test_serve_on_a_busy_port_says_so_before_loading(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--index", str(tmp_path / "i")],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO_ROOT,
        )
        seconds = time.perf_counter() - t0
    assert done.returncode == 2, done.stderr
    assert f"port {port}" in done.stderr and "already in use" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr and "errno" not in done.stderr.lower()
    assert not (tmp_path / "i").exists()  # nothing was loaded or created
    assert seconds < 20, seconds
