"""`assistant serve` as a real subprocess on a copy of knowledge/, for the browser tests and the screenshot
and accessibility scripts; Chromium launched the way this machine allows (Debian's, no sandbox)."""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.processes import clean_env, refresh_args, terminate

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Server:
    url: str
    sources: Path
    index: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)


def server_env(admin_token: str | None) -> dict[str, str]:
    return clean_env(PYTHONUNBUFFERED="1", **({"ASSISTANT_ADMIN_TOKEN": admin_token} if admin_token else {}))


def build_index(root: Path, extra: dict[str, str] | None = None) -> tuple[Path, Path]:
    """knowledge/ (and the ``extra`` name → text files) copied under ``root`` and indexed by its own process
    (Chroma's embedded store is not shared between live processes)."""
    sources, index = root / "sources", root / "index"
    shutil.copytree(REPO / "knowledge", sources)
    for name, text in (extra or {}).items():
        (sources / name).write_text(text, encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "assistant", *refresh_args(sources, index)],
        env=server_env(None),
        check=True,
        capture_output=True,
    )
    return sources, index


@contextmanager
def serving(sources: Path, index: Path, admin_token: str | None, timeout: float = 120) -> Iterator[Server]:
    """``assistant serve`` on a free port while the block runs."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "serve",
            "--sources",
            str(sources),
            "--index",
            str(index),
            "--port",
            "0",
        ],
        env=server_env(admin_token),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = None
    try:
        while url is None:
            match = re.search(r"(http://127\.0\.0\.1:\d+)/", lines.get(timeout=timeout))
            url = match.group(1) if match else None
    except queue.Empty:
        proc.kill()
        raise RuntimeError("the server did not start:\n" + "".join(log)) from None
    try:
        yield Server(url, sources, index, proc, log)
    finally:
        terminate(proc)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
