"""``assistant`` commands run as real subprocesses: a clean environment and a served instance to talk to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from assistant.config import REPO_ROOT
from support.network import free_port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``ASSISTANT_*`` setting, offline and without telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False"})
    env.update(extra)
    return env


def refresh_args(sources: Path, index: Path, *extra: str) -> list[str]:
    """The arguments of ``assistant refresh --json`` over ``sources`` into ``index`` (after the command)."""
    return ["refresh", "--json", "--sources", str(sources), "--index", str(index), *extra]


def terminate(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL when ``proc`` has not ended within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


class ServerProcess:
    """``assistant serve --port PORT *args`` in a subprocess, its stdout and stderr in ``log``."""

    def __init__(self, *args: str, log: Path, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.cmd = [sys.executable, "-m", "assistant", "serve", "--port", str(self.port), *args]
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 240, healthy: bool = True) -> ServerProcess:
        """Start and wait until ``/healthz`` answers 200 (or 503 too, when not ``healthy``)."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.cmd, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.tail()}")
            try:
                r = httpx.get(f"{self.url}/healthz", timeout=5)
                if r.status_code == 200 or (not healthy and r.status_code == 503):
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not up after {timeout} s:\n{self.tail()}")
            time.sleep(0.3)

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Ctrl-C (a graceful shutdown), then SIGKILL after 30 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def served(server: ServerProcess, timeout: float = 240) -> Iterator[ServerProcess]:
    """``server`` started for the block, stopped after it."""
    try:
        yield server.start(timeout)
    finally:
        server.stop()
