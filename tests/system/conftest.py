"""Fixtures several system-test modules share: the module's assistant (over that module's own ``settings``
fixture), its API served live without the UI, and one Chromium per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.live_server import live_server
from support.ui_server import chromium

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.web.app import create_app


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Assistant:
    return Assistant(settings)


@pytest.fixture(scope="module")
def url(settings: Settings, assistant: Assistant) -> Iterator[str]:
    """The API (no UI) on a live server, over the module's ``settings`` and ``assistant``."""
    with live_server(create_app(settings, assistant, ui=False), settings) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b
