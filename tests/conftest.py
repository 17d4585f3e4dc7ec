"""Shared fixtures: every test runs isolated from the user's state; one knowledge-base index per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.config import REPO_ROOT, Settings

KNOWLEDGE = REPO_ROOT / "knowledge"

_QUIET_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "NO_PROXY": "127.0.0.1,localhost",  # local HTTP and Chroma test servers never go through a proxy
}


def _isolate(mp: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):  # e.g. the user's ASSISTANT_CHROMA_URL or ASSISTANT_LLM_URL
            mp.delenv(key)
    for key, value in _QUIET_ENV.items():
        mp.setenv(key, value)


@pytest.fixture(autouse=True)
def isolated_user_state(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ASSISTANT_SOURCES / ASSISTANT_INDEX point into a fresh temp dir (tmp_path itself stays empty)."""
    _isolate(monkeypatch)
    user = tmp_path_factory.mktemp("user")
    (user / "sources").mkdir()
    monkeypatch.setenv("ASSISTANT_SOURCES", str(user / "sources"))
    monkeypatch.setenv("ASSISTANT_INDEX", str(user / "index"))
    return user


@pytest.fixture(scope="session")
def kb_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of ONE index built from knowledge/ with the default model. Shared: do not modify it."""
    from assistant.knowledge.ingest import refresh

    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp)
        settings = Settings(
            sources=KNOWLEDGE, index=tmp_path_factory.mktemp("kb") / "index", allowed_hosts=["testserver", "127.0.0.1"]
        )
        summary = refresh(settings)
    assert not summary.failed, summary.failed
    assert summary.added > 0
    return settings
