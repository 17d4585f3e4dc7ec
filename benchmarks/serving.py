"""`assistant serve` processes and a `chroma run` server: cold start, HTTP load, RSS."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from benchmarks.corpus import Log
from benchmarks.measure import (
    BenchConfig,
    CpuMeter,
    embed_probe,
    free_port,
    loadavg,
    peak_rss_mb,
    release_chroma,
    settings_for,
    size_label,
    summarise,
)
from benchmarks.retrieval import measure_asks
from benchmarks.synthetic import build_synthetic_store

# ---- the server ----------------------------------------------------------------------------------------


class KeepAliveClient:
    """One keep-alive HTTP/1.1 connection (standard library) that POSTs JSON: the load generator of the
    throughput runs. Its clients stand for users on other machines but share this machine's two cores with
    the server, so they should take as little of them as possible: httpx cost 1.6–1.7 ms of CPU an answer,
    this ~0.5 ms (``cpu_ms_per_answer.bench_clients`` in the runs' output)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        import http.client
        from urllib.parse import urlparse

        parsed = urlparse(url)
        self._conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=timeout)

    def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        import json

        self._conn.request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        resp = self._conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"POST {path}: HTTP {resp.status}: {body[:200]!r}")
        return json.loads(body)

    def __enter__(self) -> KeepAliveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


def http_client(timeout: float = 60.0) -> Any:
    import httpx

    return httpx.Client(timeout=timeout, trust_env=False)  # loopback only: never through a proxy


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, interval: float = 0.05
) -> float:
    """Seconds until ``url`` answers 200; raises on timeout or when ``proc`` exits first."""
    import httpx

    t0 = time.perf_counter()
    with http_client(timeout=2.0) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(interval)


@contextlib.contextmanager
def serve_process(
    settings: Settings, log_path: Path, *, admin_token: str = "bench-token", port: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str, float]]:
    """``assistant serve`` on a free loopback port; yields (process, base URL, seconds to /healthz)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_INDEX=str(settings.index),
        ASSISTANT_SOURCES=str(settings.sources),
        ASSISTANT_COLLECTION=settings.collection,
        ASSISTANT_ADMIN_TOKEN=admin_token,
        ASSISTANT_HOST="127.0.0.1",
        ASSISTANT_PORT=str(port),
        ASSISTANT_ASK_RATE_PER_MINUTE="0",  # the load comes from one address: measure capacity, not the limit
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
    )
    if settings.chroma_url:
        env["ASSISTANT_CHROMA_URL"] = settings.chroma_url
    if settings.artefacts:
        env["ASSISTANT_ARTEFACTS"] = str(settings.artefacts)
    env["ASSISTANT_QUERY_CACHE"] = str(settings.query_cache)  # benchmarks repeat questions: 0 measures the model
    env["ASSISTANT_QUERY_BATCHING"] = str(settings.query_batching).lower()
    env["ASSISTANT_EMBED_THREADS"] = str(settings.embed_threads)
    cmd = [sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(Path(__file__).parent.parent)
        )
        try:
            wait_http(f"{url}/healthz", 240.0, proc)
            yield proc, url, time.perf_counter() - t0
        finally:
            stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def load_test(urls: Sequence[str], questions: Sequence[str], clients: int, requests: int) -> dict[str, Any]:
    """``clients`` threads, each with its own connection, post ``requests`` questions in all to
    ``/api/ask`` (client i talks to ``urls[i % len(urls)]``). Latency per request and throughput."""
    per_client = max(1, math.ceil(requests / clients))
    barrier = threading.Barrier(clients)
    latencies: list[float] = []
    errors: list[str] = []
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def worker(ci: int) -> None:
        url = f"{urls[ci % len(urls)]}/api/ask"
        mine: list[float] = []
        with http_client(timeout=120.0) as client:
            barrier.wait()
            start = time.perf_counter()
            for r in range(per_client):
                q = questions[(ci * per_client + r) % len(questions)]
                t = time.perf_counter()
                try:
                    resp = client.post(url, json={"question": q, "history": []})
                    ok = resp.status_code == 200 and "answer" in resp.json()
                    err = None if ok else f"HTTP {resp.status_code}"
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    err = f"{type(exc).__name__}: {exc}"
                dt = (time.perf_counter() - t) * 1000
                if err:
                    with lock:
                        errors.append(err)
                else:
                    mine.append(dt)
            end = time.perf_counter()
        with lock:
            latencies.extend(mine)
            spans.append((start, end))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = max(e for _, e in spans) - min(s for s, _ in spans) if spans else math.nan
    return {
        "clients": clients,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "latency_ms": summarise(latencies),
        "throughput_rps": round(len(latencies) / wall, 2) if wall and wall > 0 else math.nan,
        "wall_s": round(wall, 2),
    }


def bench_serving(
    settings: Settings, questions: Sequence[str], cfg: BenchConfig, work: Path, label: str
) -> dict[str, Any]:
    release_chroma()
    out: dict[str, Any] = {"loadavg_before": loadavg()}
    with serve_process(settings, work / f"serve-{label}.log") as (proc, url, cold):
        out["cold_start_s"] = round(cold, 2)
        with http_client() as client:
            t = time.perf_counter()
            first = client.post(f"{url}/api/ask", json={"question": questions[0], "history": []})
            out["first_ask_ms"] = round((time.perf_counter() - t) * 1000, 1)
            out["first_ask_status"] = first.status_code
            out["cold_start_to_first_answer_s"] = round(cold + (time.perf_counter() - t), 2)
            for q in questions[1:6]:
                client.post(f"{url}/api/ask", json={"question": q, "history": []})
        out["rss_after_warmup_mb"] = peak_rss_mb(proc.pid)["current_mb"]
        out["levels"] = {}
        for clients in cfg.concurrency:
            requests = cfg.requests_per_level.get(clients, clients * 10)
            meter = CpuMeter([proc.pid])
            out["levels"][str(clients)] = load_test([url], questions, clients, requests)
            out["levels"][str(clients)]["cpu"] = meter.result()
        out["rss"] = peak_rss_mb(proc.pid)
    out["loadavg_after"] = loadavg()
    return out


# ---- the Chroma server ----------------------------------------------------------------------------------


def chroma_binary() -> str:
    found = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(found).exists():
        raise FileNotFoundError("the `chroma` command (from the chromadb package) is not installed")
    return found


@contextlib.contextmanager
def chroma_server(
    path: Path, log_path: Path, port: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``chroma run --path PATH --port PORT`` on loopback; yields (process, URL) once its heartbeat answers."""
    port = port or free_port()
    path.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/api/v2/heartbeat", 60.0, proc)
            yield proc, url
        finally:
            stop_process(proc)


def bench_chroma_server(
    base: Settings,
    pool: dict[str, np.ndarray],
    questions_of: Callable[[int], list[str]],
    cfg: BenchConfig,
    work: Path,
    log: Log,
) -> dict[str, Any]:
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase
    from assistant.knowledge.embeddings import embedder_from_settings

    n = cfg.chroma_server_size or 0
    out: dict[str, Any] = {"size": size_label(n)}
    with chroma_server(work / "chroma-server", work / "chroma-server.log") as (chroma, url):
        s = settings_for(base, work / "srv-index", work / "srv-sources", chroma_url=url)
        log(f"chroma server: writing the {size_label(n)} store over HTTP")
        out["store"] = build_synthetic_store(
            s, n, pool, chunks_per_doc=cfg.chunks_per_doc, seed=cfg.seed, log=log
        )
        t = time.perf_counter()
        kb = KnowledgeBase(s, embedder=embedder_from_settings(s))
        out["kb_load_s"] = round(time.perf_counter() - t, 2)
        questions = questions_of(out["store"]["sources"])
        out["embed_probe_ms"] = embed_probe(kb.embedder)
        meter = CpuMeter([chroma.pid])
        out["ask"] = measure_asks(Assistant(s, kb), questions, cfg.ask_queries, cfg.ask_warmup)
        out["ask"]["cpu"] = meter.result()
        del kb
        gc.collect()
        if cfg.serve:
            log("chroma server: one and two `assistant serve` processes sharing it")
            with contextlib.ExitStack() as stack:
                apps = []
                for i in range(2):
                    si = settings_for(base, work / f"srv-index-{i}", work / "srv-sources", chroma_url=url)
                    proc, app_url, cold = stack.enter_context(serve_process(si, work / f"serve-srv-{i}.log"))
                    apps.append((proc, app_url, cold))
                out["cold_start_s"] = [round(c, 2) for _, _, c in apps]
                with http_client() as client:
                    for _, app_url, _ in apps:
                        for q in questions[:5]:
                            client.post(f"{app_url}/api/ask", json={"question": q, "history": []})
                req = cfg.requests_per_level.get(4, 80)
                pids = [chroma.pid, *(p.pid for p, _, _ in apps)]
                runs = [
                    ("one_process_4_clients", [apps[0][1]], 4, req),
                    ("two_processes_4_clients", [a[1] for a in apps], 4, req),
                    (
                        "two_processes_16_clients",
                        [a[1] for a in apps],
                        16,
                        cfg.requests_per_level.get(16, 160),
                    ),
                ]
                for key, urls, clients, n_req in runs:
                    meter = CpuMeter(pids)
                    out[key] = load_test(urls, questions, clients, n_req)
                    out[key]["cpu"] = meter.result()
                out["app_rss"] = [peak_rss_mb(p.pid) for p, _, _ in apps]
        out["chroma_rss"] = peak_rss_mb(chroma.pid)
    return out


