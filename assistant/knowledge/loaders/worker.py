"""Parsing untrusted documents in a worker process with hard wall-clock and address-space limits."""

from __future__ import annotations

import importlib
import math
import resource
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assistant.knowledge.loaders.base import MAX_FILE_BYTES, SUFFIX_KIND, Loaded, LoadError, short
from assistant.knowledge.loaders.dispatch import load_bytes, load_file, resolve_kind

# A hostile document can make a parser run for minutes (python-docx walks vertically merged table cells in
# O(rows³)) or take gigabytes (dense XML), which in-loop budgets cannot stop. So parsing runs in a worker
# process with a hard wall-clock limit (the parent stops waiting and kills it) and an address-space limit
# (RLIMIT_AS, set in the worker); only the extracted text comes back. One worker is reused across files and
# replaced after a kill. A fresh interpreter, not a fork: a forked child would inherit the server's threads,
# locks and whole address space (which RLIMIT_AS counts). Started with subprocess and spoken to over a
# multiprocessing Connection rather than a multiprocessing 'spawn' Process, because spawn re-runs the
# parent's __main__ script in the child (a caller's script without a main guard would recurse).

_REPO_ROOT = str(Path(__file__).resolve().parents[3])
_PRELOAD = ("docx", "pypdf", "bs4", "lxml.etree")  # imported at start, not on the first document's clock
_WORKER_START_S = 60.0
_RECYCLE_PEAK = 0.9  # a worker whose peak address space came this close to the limit is replaced
_RECYCLE_RSS = 256 * 1024 * 1024  # ... as is one still holding this much (freed memory is rarely returned)
# Plain text is decoded in-process up to this size: linear work, ~1 ms per 100 kB; bigger goes to the worker.
INPROCESS_TEXT_BYTES = 1_000_000


def _proc_status(field: str) -> int:
    """A ``Vm*`` field of /proc/self/status in bytes (0 when unknown)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _out_of_memory(exc: BaseException | None, limit: int) -> bool:
    """A failure caused by the address-space limit, however the parser wrapped it."""
    while exc is not None:
        if isinstance(exc, MemoryError) or "memory allocation failed" in str(exc).lower():
            return True  # lxml reports a failed malloc as an XMLSyntaxError
        exc = exc.__cause__ or exc.__context__
    return _proc_status("VmPeak") >= _RECYCLE_PEAK * limit


def _parse_job(op: str, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int) -> tuple[str, Any]:
    fn = load_file if op == "file" else load_bytes
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any parser failure is this document's failure
        if _out_of_memory(exc, limit):
            return "memory", None
        return "error", exc.reason if isinstance(exc, LoadError) else f"{type(exc).__name__}: {short(exc)}"


def _worker_main(fd: int, memory_mb: int) -> None:
    """The parsing worker: answers (op, args, kwargs, timeout_s) jobs with (status, value, recycle) until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then stops us
    conn = Connection(fd)
    for name in _PRELOAD:
        importlib.import_module(name)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready", None, False))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        op, args, kwargs, timeout_s = job
        # the parent kills us at timeout_s; the alarm (default action: terminate) ends an orphaned worker too
        signal.alarm(math.ceil(timeout_s) + 5)
        status, value = _parse_job(op, args, kwargs, limit)
        signal.alarm(0)
        recycle = (
            status == "memory"
            or _proc_status("VmPeak") >= _RECYCLE_PEAK * limit
            or _proc_status("VmRSS") >= _RECYCLE_RSS
        )
        conn.send((status, value, recycle))
        if recycle:
            return


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class ParseWorker:
    """One long-lived parsing process with an address-space limit; each job has a wall-clock limit."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.starts = 0  # processes started so far (tests and measurements read these two)
        self.jobs = 0  # documents sent to a process
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    def run(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float) -> Loaded:
        with self._lock:
            conn = self._ensure()
            self.jobs += 1
            try:
                conn.send((op, args, kwargs, timeout_s))
                ready = conn.poll(timeout_s)
            except (OSError, EOFError):
                ready = True  # the worker is gone: recv below says how
            if not ready:
                self._stop(kill=True)
                raise LoadError(f"parsing took longer than {timeout_s:g} s")
            try:
                status, value, recycle = conn.recv()
            except (EOFError, OSError):
                code = self._stop(kill=True)
                died = _exit_description(code)
                raise LoadError(f"parsing failed: the parser process died ({died})") from None
            if recycle:
                self._stop(kill=False)
        if status == "ok":
            return value
        if status == "memory":
            raise LoadError(f"parsing needed more than {self.memory_mb} MB")
        raise LoadError(value)

    def close(self) -> None:
        with self._lock:
            self._stop(kill=False)

    def _ensure(self) -> Connection:
        if self._proc is not None and self._proc.poll() is None and self._conn is not None:
            return self._conn
        self._stop(kill=True)
        ours, theirs = socket.socketpair()
        code = f"import sys; sys.path.insert(0, {_REPO_ROOT!r}); import assistant.knowledge.loaders.worker as m; m._worker_main"
        with ours, theirs:
            proc = subprocess.Popen(
                [sys.executable, "-c", f"{code}({theirs.fileno()}, {self.memory_mb})"],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
            parent = Connection(ours.detach())
        self.starts += 1
        self._proc, self._conn = proc, parent
        try:
            if parent.poll(_WORKER_START_S) and parent.recv()[0] == "ready":
                return parent
        except (EOFError, OSError):
            pass
        code = self._stop(kill=True)
        raise LoadError(f"the document parser could not start ({_exit_description(code)})")

    def _stop(self, kill: bool) -> int | None:
        """Stop the worker (kill: at once; else ask it to finish) → its exit code."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            if not kill and proc is not None and proc.poll() is None:
                try:
                    conn.send(None)
                except OSError:
                    pass
            conn.close()
        if proc is None:
            return None
        if kill:
            proc.kill()
        try:
            return proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


_worker: ParseWorker | None = None
_worker_lock = threading.Lock()


def parse_worker(memory_mb: int) -> ParseWorker:
    """The process-wide parsing worker for this memory limit (replaced when the limit changes)."""
    global _worker
    with _worker_lock:
        if _worker is None or _worker.memory_mb != memory_mb:
            if _worker is not None:
                _worker.close()
            _worker = ParseWorker(memory_mb)
        return _worker


def _small_text_file(path: Path) -> bool:
    if SUFFIX_KIND.get(path.suffix.lower()) not in ("txt", "md"):
        return SUFFIX_KIND.get(path.suffix.lower()) is None  # unsupported: load_file refuses it at once
    try:
        return path.stat().st_size <= INPROCESS_TEXT_BYTES
    except OSError:
        return True  # load_file reports the error


def parse_file(
    path: Path, *, timeout_s: float, memory_mb: int, max_bytes: int = MAX_FILE_BYTES, max_pages: int = 2000
) -> Loaded:
    """``load_file`` with hard limits: in the parsing worker, except small plain text (decoded here)."""
    path = Path(path)
    kwargs = {"max_bytes": max_bytes, "max_pages": max_pages}
    if _small_text_file(path):
        return load_file(path, **kwargs)
    return parse_worker(memory_mb).run("file", (path,), kwargs, timeout_s)


def parse_bytes(
    data: bytes,
    *,
    name: str,
    content_type: str | None = None,
    timeout_s: float,
    memory_mb: int,
    max_pages: int = 2000,
) -> Loaded:
    """``load_bytes`` with hard limits: in the parsing worker, except small plain text (decoded here)."""
    kwargs = {"name": name, "content_type": content_type, "max_pages": max_pages}
    if len(data) <= INPROCESS_TEXT_BYTES and resolve_kind(name, content_type, data) in ("txt", "md"):
        return load_bytes(data, **kwargs)
    return parse_worker(memory_mb).run("bytes", (data,), kwargs, timeout_s)
