"""Load and faults (issue item 4). Every test runs real processes on 127.0.0.1 and is marked ``slow``.

* load: N clients ask the golden questions for D seconds; zero errors, every answer identical to the one
  given serially (a thread-safety check), latency p50/p95/p99 recorded;
* a refresh running while users ask: every answer comes from ONE version of a source that is edited and
  refreshed over and over (its retrieved passages and citations never mix versions);
* ``kill -9`` of a refresh at random points (seeded): every source is at its old or its new version with
  all of its chunks, none is lost, and the next refresh makes catalogue == files;
* ``kill -9`` of the server while a refresh it runs is in flight: it restarts healthy and answers;
* a Chroma server going away: ``/healthz`` 503 with the reason, ``/api/ask`` a clear error, the UI a
  sentence; recovery when Chroma comes back on the same port and path;
* disk full (a tmpfs, root only): the refresh stops with a clear message, the old store keeps serving.

Sizes (environment): ``ELMO_LOAD_CLIENTS`` (8), ``ELMO_LOAD_SECONDS`` (10), ``ELMO_REFRESH_SECONDS`` (20),
``ELMO_KILL_TRIALS`` (8; docs/reliability.md's command sets 20), ``ELMO_SERVER_KILL_TRIALS`` (3),
``ELMO_SEED`` (20261123). With ``ELMO_RELIABILITY_OUT=FILE`` each test appends its figures as one JSON
line (docs/reliability.md).
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from support import processes
from support.network import free_port
from support.processes import ServerProcess, served

from assistant.config import REPO_ROOT

pytestmark = pytest.mark.slow

KNOWLEDGE = REPO_ROOT / "knowledge"
PY = sys.executable
TOKEN = "reliability-admin-token"
SEED = int(os.environ.get("ELMO_SEED", "20261123"))

GOLDEN: dict[str, str] = {  # question → a phrase its answer must contain
    "Kuka on ELMO-pilotin projektipäällikkö?": "Meriläinen",
    "Milloin ELMO-pilotti alkoi?": "2018",
    "Kuka rahoitti ELMO II -hanketta?": "Pohjois-Savon liitto",
    "Mitkä ovat strategian painopisteet?": "puhtaat ratkaisut",
    "Kuka toimii puheenjohtajana vuonna 2024?": "Keski-Pohjanmaa",
    "Mikä on Gitte Meriläisen puhelinnumero?": "6854",
    "Mikä on Oulun väkiluku?": "",  # a refusal
    "Who is the project manager of the ELMO pilot?": "Meriläinen",
}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def record(name: str, figures: dict[str, Any]) -> None:
    line = json.dumps({"test": name, "at": time.strftime("%Y-%m-%d %H:%M:%S"), **figures}, ensure_ascii=False)
    print(f"\nFIGURES {line}")
    out = os.environ.get("ELMO_RELIABILITY_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def clean_env(**extra: str) -> dict[str, str]:
    # load from one address measures capacity, not the rate limit
    return processes.clean_env(ASSISTANT_ASK_RATE_PER_MINUTE="0", **extra)


def copy_knowledge(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in KNOWLEDGE.iterdir():
        if f.is_file():
            shutil.copyfile(f, dest / f.name)
    return dest


def cli(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env=clean_env(**env),
    )


def refresh_cli(sources: Path, index: Path, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return cli("refresh", "--json", "--sources", str(sources), "--index", str(index), *extra, **env)


def ask_cli(
    sources: Path, index: Path, question: str = "Kuka on ELMO-pilotin projektipäällikkö?"
) -> subprocess.CompletedProcess[str]:
    """``assistant ask --json`` in a new process (``subprocess.CompletedProcess``)."""
    return cli("ask", "--json", "--sources", str(sources), "--index", str(index), question)


class Server(ServerProcess):
    """``assistant serve`` on these sources and index, with the admin token, its output in a log file."""

    def __init__(
        self, sources: Path, index: Path, log: Path, *extra: str, port: int | None = None, **env: str
    ):
        args = ("--sources", str(sources), "--index", str(index), *extra)
        super().__init__(*args, log=log, env=clean_env(ASSISTANT_ADMIN_TOKEN=TOKEN, **env), port=port)


@contextmanager
def serving(*args: Any, **kw: Any) -> Iterator[ServerProcess]:
    with served(Server(*args, **kw)) as server:
        yield server


def ask(client: httpx.Client, question: str, history: list[Any] | None = None) -> dict[str, Any]:
    r = client.post("/api/ask", json={"question": question, "history": history or []})
    r.raise_for_status()
    return r.json()


def check_golden(client: httpx.Client) -> None:
    for q, phrase in GOLDEN.items():
        body = ask(client, q)
        if phrase:
            assert phrase in body["answer"], (q, body["answer"])
        else:
            assert body["refused"], (q, body["answer"])


# the store's state as a fresh process sees it: what the kill-9 trials verify
_INSPECT = r"""
import json, sys
from pathlib import Path
from assistant.config import Settings
from assistant.knowledge.store import Store
st = Store.open(Settings(sources=Path(sys.argv[1]), index=Path(sys.argv[2])))
live = st.live_sources()
counts = {}
for cid, meta in st._iter_chunk_meta():
    key = meta.get("source") + "\0" + meta.get("version")
    counts[key] = counts.get(key, 0) + 1
print(json.dumps({
    "meta": {k: v for k, v in st.meta().items() if k in ("clean", "generation", "embed_id")},
    "live": {s: {"version": r.version, "chunks": r.chunks, "have": counts.get(s + "\0" + r.version, 0),
                 "text": st.source_text(s)} for s, r in live.items()},
    "total_chunks": st.count_chunks(),
}, ensure_ascii=False))
"""


def inspect_store(sources: Path, index: Path) -> dict[str, Any]:
    r = subprocess.run(
        [PY, "-c", _INSPECT, str(sources), str(index)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env=clean_env(),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


# ======================================================================================================
# load
# ======================================================================================================


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("reliability")
    sources = copy_knowledge(root / "sources")
    r = refresh_cli(sources, root / "index")
    assert r.returncode == 0, r.stderr
    return sources, root / "index"


def run_load(url: str, clients: int, seconds: float, expected: dict[str, str]) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    wrong: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    questions = list(expected)

    def client(i: int) -> None:
        rnd = random.Random(SEED + i)
        with httpx.Client(base_url=url, timeout=120) as c:
            while time.monotonic() < stop_at:
                q = rnd.choice(questions)
                t0 = time.perf_counter()
                try:
                    r = c.post("/api/ask", json={"question": q, "history": []})
                    dt = time.perf_counter() - t0
                    ok = r.status_code == 200
                    body = r.json() if ok else {}
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    if not ok:
                        errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                    else:
                        latencies.append(dt)
                        if body.get("answer") != expected[q]:
                            wrong.append(f"{q!r}: {body.get('answer', '')[:120]!r}")

    load_before = os.getloadavg()[0]
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "wrong_answers": len(wrong),
        "throughput_rps": round(len(latencies) / wall, 2),
        "p50_ms": round(float(np.percentile(latencies, 50)) * 1000),
        "p95_ms": round(float(np.percentile(latencies, 95)) * 1000),
        "p99_ms": round(float(np.percentile(latencies, 99)) * 1000),
        "max_ms": round(max(latencies, default=0) * 1000),
        "mean_ms": round(statistics.fmean(latencies) * 1000) if latencies else None,
        "loadavg_before": round(load_before, 1),
        "loadavg_after": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "error_samples": errors[:5],
        "wrong_samples": wrong[:5],
    }


@pytest.mark.timeout(1800)
def test_load_on_loopback(built: tuple[Path, Path], tmp_path: Path) -> None:
    sources, index = built
    clients = env_int("ELMO_LOAD_CLIENTS", 8)
    seconds = env_int("ELMO_LOAD_SECONDS", 10)
    with (
        serving(sources, index, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.url, timeout=120) as c,
    ):
        check_golden(c)
        expected = {q: ask(c, q)["answer"] for q in GOLDEN}  # serial answers: the reference
        figures = run_load(server.url, clients, seconds, expected)
        assert c.get("/healthz").status_code == 200
    record("load", figures)
    assert figures["errors"] == 0, figures["error_samples"]
    assert figures["wrong_answers"] == 0, figures["wrong_samples"]
    assert figures["requests"] >= clients  # every client got answers


# ======================================================================================================
# a refresh while users ask
# ======================================================================================================

VERSION_DOC = "versiokoe.txt"
MARKS = ("ALFA", "BEETA", "GAMMA", "DELTA")
VERSION_Q = [
    "Mihin julkaisuun versiokokeen vaiheet kuuluvat?",
    "Mikä julkaisu versiokokeen kolmannessa vaiheessa on?",
    "Luettele versiokokeen vaiheiden julkaisut.",
]


def version_text(mark: str, rev: int) -> str:
    paras = []
    for i in range(12):
        paras.append(
            f"Versiokokeen vaihe {i + 1} kuuluu julkaisuun {mark}. Julkaisun {mark} vaihe {i + 1} "
            f"käsittelee aihetta numero {i + 1} (muokkaus {rev}). Vaiheen {i + 1} julkaisu on {mark}."
        )
    return "Versiokoe\n\n" + "\n\n".join(paras) + "\n"


def chunk_version(chunk_id: str) -> str:
    return chunk_id.split("-")[1]


@pytest.mark.timeout(1800)
def test_answers_come_from_one_consistent_store_during_refreshes(tmp_path: Path) -> None:
    sources = copy_knowledge(tmp_path / "sources")
    (sources / VERSION_DOC).write_text(version_text(MARKS[0], 0), encoding="utf-8")
    index = tmp_path / "index"
    assert refresh_cli(sources, index).returncode == 0
    seconds = env_int("ELMO_REFRESH_SECONDS", 20)
    clients = env_int("ELMO_REFRESH_CLIENTS", 4)
    answers: list[dict[str, Any]] = []
    errors: list[str] = []
    refreshes: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    with serving(sources, index, tmp_path / "server.log") as server:

        def asker(i: int) -> None:
            rnd = random.Random(SEED + i)
            with httpx.Client(base_url=server.url, timeout=120) as c:
                while not stop.is_set():
                    q = rnd.choice(VERSION_Q + list(GOLDEN)[:2])
                    try:
                        body = ask(c, q)
                    except Exception as exc:  # noqa: BLE001
                        with lock:
                            errors.append(f"{type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        answers.append(body)

        def refresher() -> None:
            rev = 0
            with httpx.Client(
                base_url=server.url, timeout=300, headers={"Authorization": f"Bearer {TOKEN}"}
            ) as c:
                while not stop.is_set():
                    rev += 1
                    (sources / VERSION_DOC).write_text(
                        version_text(MARKS[rev % len(MARKS)], rev), encoding="utf-8"
                    )
                    t0 = time.perf_counter()
                    r = c.post("/api/admin/refresh")
                    if r.status_code != 200:
                        with lock:
                            errors.append(f"refresh HTTP {r.status_code}: {r.text[:200]}")
                        continue
                    assert r.json()["summary"]["updated"] == 1, r.json()
                    refreshes.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=asker, args=(i,)) for i in range(clients)]
        threads.append(threading.Thread(target=refresher))
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join(timeout=600)

    mixed = []
    cited_versions: set[str] = set()
    for body in answers:
        versions = {chunk_version(r["id"]) for r in body.get("retrieved", []) if r["source"] == VERSION_DOC}
        marks = {m for c in body["citations"] if c["source"] == VERSION_DOC for m in MARKS if m in c["text"]}
        cited = {chunk_version(c["chunk_id"]) for c in body["citations"] if c["source"] == VERSION_DOC}
        cited_versions |= cited
        if len(versions) > 1 or len(marks) > 1 or len(cited) > 1 or not cited <= versions | cited:
            mixed.append({"question": body["question"], "versions": sorted(versions), "marks": sorted(marks)})
        for m in MARKS:  # an answer's text speaks of one version only
            if m in body["answer"]:
                assert not any(o in body["answer"] for o in MARKS if o != m), body["answer"]
    figures = {
        "seconds": seconds,
        "ask_clients": clients,
        "answers": len(answers),
        "refreshes": len(refreshes),
        "refresh_p50_s": round(float(np.percentile(refreshes, 50)), 2) if refreshes else None,
        "versions_cited": len(cited_versions),
        "mixed_answers": len(mixed),
        "errors": len(errors),
        "error_samples": errors[:5],
    }
    record("refresh_while_asking", figures)
    assert not errors, errors[:5]
    assert not mixed, mixed[:5]
    assert len(refreshes) >= 2 and len(cited_versions) >= 2, figures  # the test really crossed versions


# ======================================================================================================
# kill -9 of a refresh at random points
# ======================================================================================================


def generated_doc(k: int, rev: int) -> str:
    rnd = random.Random(k * 1000 + rev)
    words = "maakunta strategia hanke kehitys alue yhteistyö osaaminen innovaatio rahoitus kunta yritys tutkimus".split()
    paras = []
    for j in range(20):
        sents = [
            f"Asiakirjan {k} kappaleen {j} lause {i} (versio {rev}): "
            + " ".join(rnd.choice(words) for _ in range(10))
            + "."
            for i in range(4)
        ]
        paras.append(" ".join(sents))
    return f"Koeasiakirja {k}\n\n" + "\n\n".join(paras) + "\n"


def files_now(sources: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sources.glob("*.txt")}


def mutate(sources: Path, rnd: random.Random, revs: dict[int, int], next_k: list[int]) -> None:
    """Edit two documents, delete one, add one (the golden corpus is never touched)."""
    docs = sorted(revs)
    for k in rnd.sample(docs, min(2, len(docs))):
        revs[k] += 1
        (sources / f"koe-{k}.txt").write_text(generated_doc(k, revs[k]), encoding="utf-8")
    if len(docs) > 3:
        k = rnd.choice(docs)
        (sources / f"koe-{k}.txt").unlink()
        del revs[k]
    k = next_k[0]
    next_k[0] += 1
    revs[k] = 0
    (sources / f"koe-{k}.txt").write_text(generated_doc(k, 0), encoding="utf-8")


def assert_consistent(state: dict[str, Any], before: dict[str, str], after: dict[str, str]) -> dict[str, int]:
    """Every live source at its old or its new text with all of its chunks; nothing present on both sides lost."""
    live = state["live"]
    outcome = {"old": 0, "new": 0}
    for source, rec in live.items():
        assert rec["have"] == rec["chunks"] > 0, (source, rec["have"], rec["chunks"])
        assert rec["text"] in (before.get(source), after.get(source)), (
            f"{source}: neither its old nor its new text"
        )
        if source in after and rec["text"] == after[source] and before.get(source) != after[source]:
            outcome["new"] += 1
        elif before.get(source) != after.get(source):
            outcome["old"] += 1
    for source in set(before) & set(after):
        assert source in live, f"{source} was lost"
    for source in set(live) - set(before) - set(after):
        raise AssertionError(f"{source} is live but is no file")
    return outcome


def _store_stamp(index: Path) -> int:
    """Changes whenever the embedded Chroma writes (its SQLite file or a segment)."""
    chroma = index / "chroma"
    stamp = 0
    for entry in [chroma, *chroma.iterdir()] if chroma.exists() else []:
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        stamp += st.st_mtime_ns + st.st_size
    return stamp


def refresh_timed(sources: Path, index: Path) -> tuple[subprocess.Popen[bytes], float | None]:
    """A refresh subprocess, returned once it starts writing the store (None: it finished first)."""
    before = _store_stamp(index)
    proc = subprocess.Popen(
        [PY, "-m", "assistant", "refresh", "--json", "--sources", str(sources), "--index", str(index)],
        cwd=REPO_ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and _store_stamp(index) == before and time.monotonic() < deadline:
        time.sleep(0.005)
    return proc, (time.monotonic() if proc.poll() is None else None)


@pytest.mark.timeout(3600)
def test_kill_9_of_a_refresh_at_random_points_loses_nothing(tmp_path: Path) -> None:
    """Each trial edits two documents, deletes one and adds one (~100 chunks to embed and write), starts
    a refresh and kills it -9 at a uniformly random moment of its writing phase (from its first write to
    the store until the time a whole refresh takes)."""
    trials = env_int("ELMO_KILL_TRIALS", 8)
    rnd = random.Random(SEED)
    sources = copy_knowledge(tmp_path / "sources")
    index = tmp_path / "index"
    revs = {k: 0 for k in range(6)}
    next_k = [6]
    for k in revs:
        (sources / f"koe-{k}.txt").write_text(generated_doc(k, 0), encoding="utf-8")
    assert refresh_cli(sources, index).returncode == 0
    # how long the writing phase of one trial's refresh lasts
    mutate(sources, rnd, revs, next_k)
    proc, first_write = refresh_timed(sources, index)
    assert proc.wait(timeout=600) == 0 and first_write is not None
    window = time.monotonic() - first_write
    results = []
    for trial in range(trials):
        before = files_now(sources)
        mutate(sources, rnd, revs, next_k)
        after = files_now(sources)
        delay = rnd.uniform(0, window * 1.1)
        proc, first_write = refresh_timed(sources, index)
        if first_write is not None:
            time.sleep(max(0.0, first_write + delay - time.monotonic()))
        finished_first = proc.poll() is not None
        if not finished_first:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        state = inspect_store(sources, index)
        outcome = assert_consistent(state, before, after)
        # the next refresh repairs everything: catalogue == files, no leftovers
        r = refresh_cli(sources, index)
        assert r.returncode == 0, r.stderr[-2000:]
        state = inspect_store(sources, index)
        assert set(state["live"]) == set(after), set(state["live"]) ^ set(after)
        for source, rec in state["live"].items():
            assert rec["text"] == after[source] and rec["have"] == rec["chunks"]
        assert state["total_chunks"] == sum(rec["chunks"] for rec in state["live"].values()), (
            "leftover chunks"
        )
        assert state["meta"]["clean"] is True
        results.append(
            {
                "trial": trial,
                "kill_after_first_write_s": round(delay, 2),
                "finished_before_kill": finished_first,
                "sources_left_old": outcome["old"],
                "sources_already_new": outcome["new"],
            }
        )
    r = ask_cli(sources, index)
    assert r.returncode == 0 and "Meriläinen" in json.loads(r.stdout)["answer"]
    killed = [x for x in results if not x["finished_before_kill"]]
    record(
        "kill9_refresh",
        {
            "trials": trials,
            "seed": SEED,
            "write_window_s": round(window, 2),
            "killed_mid_refresh": len(killed),
            "killed_between_commits": sum(
                1 for x in killed if x["sources_left_old"] and x["sources_already_new"]
            ),
            "killed_before_first_commit": sum(1 for x in killed if not x["sources_already_new"]),
            "sources_lost": 0,
            "data_lost": 0,
            "trials_detail": results,
        },
    )
    assert len(killed) >= trials // 2, results  # most kills really landed inside a refresh


# ======================================================================================================
# kill -9 of the server (with a refresh in flight)
# ======================================================================================================


def _ask_loop(url: str, stop: threading.Event, statuses: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        while not stop.is_set():
            try:
                r = c.post("/api/ask", json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"})
            except httpx.HTTPError:
                return  # the server was killed
            statuses.append(r.status_code)


def _admin_refresh(url: str) -> None:
    try:
        httpx.post(f"{url}/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300)
    except httpx.HTTPError:
        pass


@pytest.mark.timeout(3600)
def test_kill_9_of_the_server_then_restart_serves_correctly(tmp_path: Path) -> None:
    trials = env_int("ELMO_SERVER_KILL_TRIALS", 3)
    rnd = random.Random(SEED + 1)
    sources = copy_knowledge(tmp_path / "sources")
    index = tmp_path / "index"
    revs = {k: 0 for k in range(4)}
    next_k = [4]
    for k in revs:
        (sources / f"koe-{k}.txt").write_text(generated_doc(k, 0), encoding="utf-8")
    assert refresh_cli(sources, index).returncode == 0
    port = free_port()
    results = []
    for trial in range(trials):
        before = files_now(sources)
        server = Server(sources, index, tmp_path / f"server-{trial}.log", port=port).start()
        mutate(sources, rnd, revs, next_k)
        after = files_now(sources)
        stop = threading.Event()
        statuses: list[int] = []
        threads = [
            threading.Thread(target=_ask_loop, args=(server.url, stop, statuses)),
            threading.Thread(target=_admin_refresh, args=(server.url,)),
        ]
        for t in threads:
            t.start()
        delay = rnd.uniform(0.5, 8.0)
        time.sleep(delay)
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert all(s == 200 for s in statuses), statuses
        state = inspect_store(sources, index)
        assert_consistent(state, before, after)
        server = Server(sources, index, tmp_path / f"server-{trial}b.log", port=port).start()
        try:
            with httpx.Client(base_url=server.url, timeout=120) as c:
                assert c.get("/healthz").json()["status"] == "ok"
                check_golden(c)
                r = c.post("/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"})
                assert r.status_code == 200, r.text
                listed = {
                    s["source"] for s in c.get("/api/sources").json()["sources"] if s["status"] != "failed"
                }
                assert listed == set(after), listed ^ set(after)
                check_golden(c)
        finally:
            server.stop()
        results.append(
            {"trial": trial, "kill_after_s": round(delay, 2), "answers_before_kill": len(statuses)}
        )
    record(
        "kill9_server",
        {
            "trials": trials,
            "seed": SEED + 1,
            "sources_lost": 0,
            "restarts_healthy": trials,
            "detail": results,
        },
    )


# ======================================================================================================
# the Chroma server goes away and comes back
# ======================================================================================================


def start_chroma(path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    chroma = Path(PY).with_name("chroma")
    if not chroma.exists():
        pytest.skip("no `chroma` command in the venv")
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "chroma did not start"
        time.sleep(0.3)


def ui_answer(url: str, question: str) -> str:
    from gradio_client import Client

    client = Client(url + "/", verbose=False)
    result = client.predict(question, api_name="/ask")
    history = result[0]
    content = history[-1]["content"]
    return content[0]["text"] if isinstance(content, list) else str(content)


@pytest.mark.timeout(1800)
def test_chroma_server_unreachable_then_back(tmp_path: Path) -> None:
    sources = copy_knowledge(tmp_path / "sources")
    chroma_port = free_port()
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    chroma = start_chroma(tmp_path / "chroma", chroma_port, tmp_path / "chroma.log")
    figures: dict[str, Any] = {}
    try:
        r = refresh_cli(sources, tmp_path / "index", "--chroma-url", chroma_url)
        assert r.returncode == 0, r.stderr
        with serving(
            sources, tmp_path / "index", tmp_path / "server.log", "--chroma-url", chroma_url
        ) as server:
            c = httpx.Client(base_url=server.url, timeout=60)
            check_golden(c)
            chroma.send_signal(signal.SIGKILL)
            chroma.wait()
            t0 = time.perf_counter()
            r = c.get("/healthz")
            figures["healthz_down_ms"] = round((time.perf_counter() - t0) * 1000)
            assert r.status_code == 503, r.text
            detail = r.json()["detail"]
            assert "Chroma" in detail and "reached" in detail, detail
            figures["healthz_down"] = detail[:200]
            t0 = time.perf_counter()
            r = c.post("/api/ask", json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"})
            figures["ask_down_status"] = r.status_code
            figures["ask_down_ms"] = round((time.perf_counter() - t0) * 1000)
            figures["ask_down_body"] = r.text[:200]
            if r.status_code == 200:
                figures["ask_down_degraded"] = r.json().get("degraded")
                assert "Meriläinen" in r.json()["answer"] and r.json().get("degraded") is True, r.text[:500]
            try:
                figures["ui_down"] = ui_answer(server.url, "Kuka on ELMO-pilotin projektipäällikkö?")[:2000]
            except Exception as exc:  # noqa: BLE001 - recorded; judged after the recovery checks
                figures["ui_down"] = f"UI ERROR {type(exc).__name__}: {exc}"[:300]
            r2 = refresh_cli(sources, tmp_path / "index", "--chroma-url", chroma_url, timeout=300)
            figures["refresh_down_exit"] = r2.returncode
            figures["refresh_down_message"] = (
                r2.stderr.strip().splitlines()[-1][:300] if r2.stderr.strip() else ""
            )
            # the same Chroma, same port and path, back again
            chroma = start_chroma(tmp_path / "chroma", chroma_port, tmp_path / "chroma.log")
            deadline = time.monotonic() + 60
            while c.get("/healthz").status_code != 200:
                assert time.monotonic() < deadline, "no recovery after Chroma came back"
                time.sleep(0.5)
            check_golden(c)
            figures["recovered"] = True
            c.close()
    finally:
        if chroma.poll() is None:
            chroma.send_signal(signal.SIGKILL)
            chroma.wait()
    record("chroma_unreachable", figures)
    assert figures["refresh_down_exit"] == 2 and "assistant:" in figures["refresh_down_message"], figures
    assert figures["ask_down_status"] in (503, 200), figures
    assert not figures["ui_down"].startswith("UI ERROR"), figures["ui_down"]
    ok = ("Meriläinen", "teknisen vian", "technical problem")
    assert any(x in figures["ui_down"] for x in ok), figures["ui_down"]


# ======================================================================================================
# disk full
# ======================================================================================================


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, leave: int) -> Path:
    """Grow a filler file until only ``leave`` bytes are free (other writers may take space meanwhile)."""
    filler = path / "filler.bin"
    with open(filler, "ab") as fh:
        for _ in range(400):
            want = shutil.disk_usage(path).free - leave
            if want < 64 * 1024:
                break
            try:
                os.posix_fallocate(fh.fileno(), os.fstat(fh.fileno()).st_size, want)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                leave = max(0, leave) + 64 * 1024 if leave else 0  # someone else wrote: try again smaller
                continue
            if leave:
                break
    return filler


def big_docs(sources: Path, n: int = 8) -> None:
    rnd = random.Random(3)
    words = "maakunta strategia hanke kehitys alue yhteistyö osaaminen innovaatio rahoitus kunta yritys tutkimus".split()
    for k in range(n):
        sents = [
            f"Asiakirjan {k} kohta {i}: " + " ".join(rnd.choice(words) for _ in range(14)) + "."
            for i in range(120)
        ]
        (sources / f"iso-{k}.txt").write_text(
            "\n\n".join(" ".join(sents[j : j + 4]) for j in range(0, 120, 4)), encoding="utf-8"
        )


@pytest.mark.timeout(1800)
def test_disk_full_during_refresh_keeps_the_old_store_serving(tmp_path: Path) -> None:
    from assistant.knowledge.ingest import MIN_FREE_BYTES

    sources = copy_knowledge(tmp_path / "sources")
    figures: dict[str, Any] = {}
    with tmpfs(tmp_path / "mnt", "100m") as mnt:
        index = mnt / "index"
        assert refresh_cli(sources, index).returncode == 0
        big_docs(sources)
        with (
            serving(sources, index, tmp_path / "server.log") as server,
            httpx.Client(base_url=server.url, timeout=120) as c,
        ):
            check_golden(c)
            # 1. the disk is (nearly) full before the refresh: it refuses to write, clearly
            filler = fill(mnt, leave=MIN_FREE_BYTES // 2)
            r = refresh_cli(sources, index)
            figures["preflight_exit"] = r.returncode
            figures["preflight_message"] = r.stderr.strip().splitlines()[-1][:300]
            assert r.returncode == 2 and "not enough free disk space" in r.stderr, r.stderr[-2000:]
            r = c.post("/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"})
            figures["preflight_api_status"] = r.status_code
            assert r.status_code >= 400 and "disk space" in r.text, r.text
            check_golden(c)  # the running server
            r = ask_cli(sources, index)
            assert r.returncode == 0 and "Meriläinen" in r.stdout, r.stderr[-2000:]  # and a new process
            filler.unlink()

            # 2. the disk fills up WHILE the refresh writes (another process takes the space)
            filler = fill(mnt, leave=MIN_FREE_BYTES + 3_000_000)
            proc = subprocess.Popen(
                [PY, "-m", "assistant", "refresh", "--sources", str(sources), "--index", str(index)],
                cwd=REPO_ROOT,
                env=clean_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            sqlite = index / "chroma" / "chroma.sqlite3"
            start_size = sqlite.stat().st_size
            deadline = time.monotonic() + 600
            while (
                proc.poll() is None
                and sqlite.stat().st_size < start_size + 50_000
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            filled_during = proc.poll() is None
            fill(mnt, leave=0)
            out, err = proc.communicate(timeout=600)
            figures["during_filled_mid_refresh"] = filled_during
            figures["during_exit"] = proc.returncode
            figures["during_message"] = err.strip().splitlines()[-1][:400] if err.strip() else ""
            assert proc.returncode == 2, err[-3000:]
            assert "assistant:" in figures["during_message"] and "Traceback" not in err, err[-3000:]
            check_golden(c)  # the running server still answers from the old store
            figures["running_server_serves_while_full"] = True
            r = ask_cli(sources, index)
            figures["new_process_while_full_exit"] = r.returncode
            filler.unlink()

            # 3. space again: everything recovers and the refresh completes
            r = ask_cli(sources, index)
            assert r.returncode == 0 and "Meriläinen" in r.stdout, r.stderr[-2000:]
            r = refresh_cli(sources, index)
            assert r.returncode == 0, r.stderr[-2000:]
            state = inspect_store(sources, index)
            assert set(state["live"]) == set(files_now(sources))
            assert state["total_chunks"] == sum(x["chunks"] for x in state["live"].values())
            r = c.post("/api/admin/refresh", headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200
            check_golden(c)
            figures["recovered"] = True
    record("disk_full", figures)
