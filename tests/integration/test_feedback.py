"""Feedback storage (SQLite) and `assistant feedback export` (JSONL and evaluation-suite YAML)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.cli import main
from assistant.feedback import FeedbackStore, suite_items

ANSWER: dict[str, Any] = {
    "question": "Kuka on ELMO-pilotin projektipäällikkö?",
    "language": "fi",
    "answer": "Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053 [1]",
    "refused": False,
    "mode": "extractive",
    "citations": [
        {
            "n": 1,
            "source": "elinkeinot-murroksessa.txt",
            "title": "Elinkeinot murroksessa",
            "text": "Pohjois-Pohjanmaan osalta ELMO:n koordinaatio sisältyy vuosina 2019-2020 hankkeeseen\n\n"
            "Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053",
            "start": 1838,
            "end": 2065,
        }
    ],
}
REFUSAL: dict[str, Any] = {
    "question": "Mikä on Oulun väkiluku?",
    "language": "fi",
    "answer": "En löydä lähteistä vastausta tähän kysymykseen.",
    "refused": True,
    "citations": [],
}


def test_add_update_delete(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "sub" / "feedback.sqlite")
    row = store.add_answer("up", ANSWER, history=["aiempi kysymys"], ui_language="fi")
    rows = store.all()
    assert len(rows) == 1
    got = rows[0]
    assert got["id"] == row and got["rating"] == "up" and got["question"] == ANSWER["question"]
    assert got["answer"] == ANSWER["answer"] and got["citations"] == ANSWER["citations"]
    assert got["history"] == ["aiempi kysymys"] and got["refused"] is False and got["created_at"]
    assert store.update(row, comment="  Hyvä vastaus!  ") and store.all()[0]["comment"] == "Hyvä vastaus!"
    assert store.update(row, rating="down") and store.all()[0]["rating"] == "down"
    assert not store.update(row + 99, rating="up")
    with pytest.raises(ValueError):
        store.add(rating="meh", question="q", answer="a")
    assert store.delete(row) and store.all() == []


def test_concurrent_writers(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    threads = [
        threading.Thread(target=lambda: [store.add_answer("up", ANSWER) for _ in range(10)]) for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.all()) == 50


def test_comment_is_capped(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    row = store.add_answer("down", ANSWER, comment="x" * 10_000)
    assert len(store.all()[0]["comment"]) == 2000
    store.update(row, comment="   ")
    assert store.all()[0]["comment"] is None


def test_suite_items(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    store.add_answer("up", ANSWER)
    store.add_answer("up", REFUSAL)
    store.add_answer("down", ANSWER, comment="väärä henkilö")
    liked, refusal, disliked = suite_items(store.all())
    assert liked["expected"] == {"refuse": False}
    quote = liked["expected_passages"][0]
    assert quote["source"] == "elinkeinot-murroksessa.txt"
    assert quote["quote"].startswith("Pohjois-Pohjanmaan osalta") and len(quote["quote"]) == 80
    assert "\n" not in quote["quote"]
    assert refusal["must_refuse"] is True and refusal["expected"] == {"refuse": True}
    assert disliked["review"] is True and disliked["feedback"]["comment"] == "väärä henkilö"
    assert "expected_passages" not in disliked
    assert {i["id"] for i in (liked, refusal, disliked)} == {"feedback-1", "feedback-2", "feedback-3"}


def _cli(tmp_path: Path, *args: str) -> int:
    return main(
        ["feedback", "--sources", str(tmp_path / "src"), "--index", str(tmp_path / "idx"), "export", *args]
    )


def test_export_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ASSISTANT_ADMIN_TOKEN", raising=False)
    store = FeedbackStore(tmp_path / "idx" / "feedback.sqlite")
    store.add_answer("up", ANSWER, comment="Hyvä!")
    store.add_answer("down", REFUSAL)

    assert _cli(tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["rating"] for line in lines] == ["up", "down"]

    out = tmp_path / "suite" / "feedback.yaml"
    assert _cli(tmp_path, "--as-suite", "--out", str(out)) == 0
    suite = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert [i["id"] for i in suite["items"]] == ["feedback-1", "feedback-2"]
    assert suite["items"][0]["question"] == ANSWER["question"]
    assert "Gitte" not in out.read_text().split("items:")[0]  # the header says what the file is, no data


def test_export_needs_the_token_when_one_is_set(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    FeedbackStore(tmp_path / "idx" / "feedback.sqlite").add_answer("up", ANSWER, comment="salainen kommentti")
    monkeypatch.setenv("ASSISTANT_ADMIN_TOKEN", "oikea")
    caplog.set_level(logging.DEBUG)
    assert _cli(tmp_path) == 2
    assert "--token" in capsys.readouterr().err
    assert _cli(tmp_path, "--token", "väärä") == 2
    assert "wrong admin token" in capsys.readouterr().err
    assert _cli(tmp_path, "--token", "oikea") == 0
    assert "salainen kommentti" in capsys.readouterr().out
    assert "salainen kommentti" not in caplog.text


def test_export_without_any_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ASSISTANT_ADMIN_TOKEN", raising=False)
    assert _cli(tmp_path, "--as-suite") == 0
    assert yaml.safe_load(capsys.readouterr().out) == {"items": []}
    assert not (tmp_path / "idx" / "feedback.sqlite").exists()


def test_every_field_is_capped(tmp_path: Path) -> None:
    from assistant import feedback as fb

    store = FeedbackStore(tmp_path / "feedback.sqlite")
    huge = "x" * 1_000_000
    citation = {"n": 1, "source": huge, "text": huge, "start": 0, "end": 5, "extra": huge}
    answer = {"question": huge, "answer": huge, "language": huge, "mode": huge, "citations": [citation] * 500}
    row = store.add_answer("up", answer, history=[huge] * 1000, comment=huge, ui_language=huge)
    got = next(r for r in store.all() if r["id"] == row)
    assert len(got["question"]) == fb.MAX_QUESTION_CHARS and len(got["answer"]) == fb.MAX_ANSWER_CHARS
    assert len(got["history"]) == fb.MAX_HISTORY_ITEMS
    assert all(len(h) == fb.MAX_QUESTION_CHARS for h in got["history"])
    assert len(got["citations"]) == fb.MAX_CITATIONS and "extra" not in got["citations"][0]
    assert len(got["citations"][0]["text"]) == fb.MAX_CITATION_TEXT_CHARS
    assert len(got["citations"][0]["source"]) == fb.MAX_FIELD_CHARS
    assert len(got["comment"]) == fb.MAX_COMMENT_CHARS and len(got["language"]) == fb.MAX_CODE_CHARS
    assert (tmp_path / "feedback.sqlite").stat().st_size < 1_000_000
