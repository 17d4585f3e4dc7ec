"""Access control and data exposure (issue item 3; SECURITY.md states the model these tests hold).

* admin actions (upload, refresh, feedback export) need the admin token, compared in constant time;
* uploads cannot write outside ``<sources>/uploads`` (traversal in names, absolute paths, backslashes,
  NUL, a symlinked target, a symlinked uploads folder);
* symlinks in the sources folder that leave it are never indexed, never served;
* the passage viewer serves indexed sources only;
* no secret (admin token, LLM API key, login password) reaches the logs;
* the server binds to loopback by default; ``ASSISTANT_AUTH`` puts a login in front of the UI and API;
* text from documents and users reaches the page only escaped (the UI's rendering helpers).

Tests marked ``xfail(strict=True)`` are defects found here in files owned by others; the reason says the
diagnosis and the fix, and the mark goes when the fix lands.
"""

from __future__ import annotations

import ast
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from support.html_tags import parse_html
from support.processes import ServerProcess, clean_env, served

from assistant.answering.assistant import Assistant
from assistant.config import REPO_ROOT, Settings
from assistant.knowledge.ingest import refresh
from assistant.knowledge.manifest import discover_files

KNOWLEDGE = REPO_ROOT / "knowledge"
TOKEN = "s3cret-admin-token-ELMO-7f3a9c"
API_KEY = "sk-secret-llm-key-0d1e2f3a4b"
PASSWORD = "Salasana-9x8y7z"
DOC = "Kunnan kokous pidetään tiistaina kello kymmenen valtuustosalissa.".encode()


# ------------------------------------------------------------------------------------------------------
# fixtures: a private index (uploads and refreshes change it), one Assistant, apps per configuration
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    root = tmp_path_factory.mktemp("security")
    sources = root / "sources"
    sources.mkdir()
    for f in KNOWLEDGE.iterdir():
        shutil.copyfile(f, sources / f.name)
    outside = root / "outside"
    outside.mkdir()
    (outside / "salaisuus.txt").write_text(
        "Salainen henkilöstömuistio: palkat ja terveystiedot.\n", encoding="utf-8"
    )
    (outside / "kansio").mkdir()
    (outside / "kansio" / "toinen.txt").write_text("Toinen salainen muistio.\n", encoding="utf-8")
    # symlinks that leave the sources folder: a file and a folder
    os.symlink(outside / "salaisuus.txt", sources / "salaisuus.txt")
    os.symlink(outside / "kansio", sources / "linkattu-kansio")
    # and one that stays inside: allowed
    os.symlink(sources / "elinkeinot-murroksessa.txt", sources / "sisainen-linkki.txt")
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            mp.delenv(key)
        settings = Settings(sources=sources, index=root / "index", allowed_hosts=["testserver", "127.0.0.1"])
    summary = refresh(settings)
    assert not summary.failed, summary.failed
    return settings, outside


@pytest.fixture(scope="module")
def assistant(base: tuple[Settings, Path]) -> Assistant:
    return Assistant(base[0])


def make_client(settings: Settings, assistant: Assistant, ui: bool = False, **update: Any) -> TestClient:
    from assistant.web.app import create_app

    return TestClient(
        create_app(settings.model_copy(update=update), assistant, ui=ui), raise_server_exceptions=False
    )


@pytest.fixture(scope="module")
def admin(base: tuple[Settings, Path], assistant: Assistant) -> Iterator[TestClient]:
    # many wrong tokens on purpose: the guess throttle (tested in test_ui_rate_limits.py) is set out of the way
    with make_client(base[0], assistant, admin_token=TOKEN, login_rate_per_minute=100_000) as c:
        yield c


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}".encode()}  # bytes: non-ASCII tokens are sent as UTF-8


def upload(
    client: TestClient, name: str, data: bytes = DOC, token: str | None = TOKEN, **kw: Any
) -> httpx.Response:
    headers = bearer(token) if token is not None else {}
    return client.post(
        "/api/admin/upload", headers=headers, files={"files": (name, data, "text/plain")}, **kw
    )


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


# ======================================================================================================
# the admin token
# ======================================================================================================


def test_admin_actions_are_off_without_a_configured_token(
    base: tuple[Settings, Path], assistant: Assistant
) -> None:
    for configured in (None, ""):
        with make_client(base[0], assistant, admin_token=configured) as c:
            for token in (None, "", "anything", TOKEN):
                r = upload(c, "x.txt", token=token)
                assert r.status_code == 403, (configured, token, r.status_code)
                r = c.post("/api/admin/refresh", headers=bearer(token) if token else {})
                assert r.status_code == 403
                assert "ASSISTANT_ADMIN_TOKEN" in r.json()["detail"]


WRONG_TOKENS = [
    None,
    "",
    "x",
    TOKEN[:-1],
    TOKEN + "x",
    TOKEN.upper(),
    " " + TOKEN[1:],
    TOKEN.replace("a", "а"),  # Cyrillic а
    TOKEN * 2,
    "a" * 10_000,
]


@pytest.mark.parametrize("token", WRONG_TOKENS, ids=lambda t: "none" if t is None else f"{len(t)}ch")
def test_wrong_or_missing_token_is_401_and_nothing_changes(
    admin: TestClient, base: tuple[Settings, Path], token: str | None
) -> None:
    before = files_under(base[0].sources)
    r = upload(admin, "ei-saa-tallentua.txt", token=token)
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers.get("www-authenticate") == "Bearer"
    r = admin.post("/api/admin/refresh", headers=bearer(token) if token else {})
    assert r.status_code == 401
    assert files_under(base[0].sources) == before


def test_token_only_in_the_authorization_bearer_header(admin: TestClient) -> None:
    """Not as a query parameter (it would end up in proxy logs), a cookie, Basic auth or another scheme."""
    cases: list[dict[str, Any]] = [
        {"params": {"token": TOKEN}},
        {"params": {"access_token": TOKEN}},
        {"cookies": {"token": TOKEN}},
        {"headers": {"Authorization": "Basic " + base64.b64encode(f"admin:{TOKEN}".encode()).decode()}},
        {"headers": {"Authorization": f"Token {TOKEN}"}},
        {"headers": {"Authorization": TOKEN}},
        {"headers": {"X-Admin-Token": TOKEN}},
    ]
    for kw in cases:
        admin.cookies.clear()
        cookies = kw.pop("cookies", None)
        if cookies:
            admin.cookies.update(cookies)
        r = admin.post("/api/admin/refresh", **kw)
        assert r.status_code == 401, (kw, r.status_code)
    admin.cookies.clear()


def test_right_token_works_in_any_scheme_case(admin: TestClient) -> None:
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = admin.post("/api/admin/refresh", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert r.status_code == 200, (scheme, r.text)
        assert r.json()["summary"]["failed"] == []


def test_tokens_and_passwords_are_compared_in_constant_time() -> None:
    """Code review as a test: every comparison with the admin token or the login goes through
    hmac.compare_digest, never ==/!=/in/startswith (which return early at the first differing byte)."""
    secret_names = re.compile(r"token|auth|password|secret|expected|required|given", re.I)
    offenders = []
    package = REPO_ROOT / "assistant"
    modules = ["service.py", "uploads.py", "feedback.py", "cli.py"]
    modules += [p.relative_to(package).as_posix() for p in sorted((package / "web").rglob("*.py"))]
    for module in modules:
        path = package / module
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(
                isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn) for op in node.ops
            ):
                operands = [node.left, *node.comparators]
                names = [ast.unparse(o) for o in operands]
                if any(secret_names.search(n) for n in names) and not any(
                    n in ("None", "''", '""') or n.startswith(("'", '"')) for n in names
                ):
                    offenders.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in ("startswith", "endswith") and secret_names.search(
                    ast.unparse(node.func.value)
                ):
                    offenders.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, offenders
    service = (package / "service.py").read_text(encoding="utf-8")
    shield = (package / "web" / "security.py").read_text(encoding="utf-8")
    assert service.count("hmac.compare_digest(") >= 1  # the admin token
    assert shield.count("hmac.compare_digest(") >= 2  # the admin token (hidden routes) and the Basic login
    assert "hmac.compare_digest(" in (REPO_ROOT / "assistant" / "feedback.py").read_text(encoding="utf-8")


def test_feedback_export_needs_the_token_when_one_is_configured(tmp_path: Path) -> None:
    from assistant.feedback import FeedbackStore

    index = tmp_path / "index"
    store = FeedbackStore(index / "feedback.sqlite")
    store.add_answer(
        "up",
        {"question": "Kuka?", "answer": "Vastaus [1]", "citations": [], "refused": False, "language": "fi"},
        history=[],
        comment="henkilökohtainen kommentti",
    )
    env = clean_env() | {"ASSISTANT_INDEX": str(index), "ASSISTANT_ADMIN_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "assistant", "feedback", "export"]
    for extra, ok in (
        ([], False),
        (["--token", "väärä"], False),
        (["--token", TOKEN[:-1]], False),
        (["--token", TOKEN], True),
    ):
        r = subprocess.run(cmd + extra, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120)
        assert (r.returncode == 0) == ok, (extra, r.returncode, r.stderr)
        if not ok:
            assert "kommentti" not in r.stdout and "token" in r.stderr
        assert TOKEN not in r.stderr


# ======================================================================================================
# uploads: never outside <sources>/uploads
# ======================================================================================================

HOSTILE_NAMES = [
    "../../etc/elmo-x.txt",
    "../../../../../../tmp/elmo-x.txt",
    "/etc/elmo-x.txt",
    "/tmp/elmo-x.txt",
    "..\\..\\elmo-x.txt",
    "C:\\Windows\\elmo-x.txt",
    "\\\\server\\share\\elmo-x.txt",
    "uploads/../../elmo-x.txt",
    "./../elmo-x.txt",
    "%2e%2e%2felmo-x.txt",
    "..%2felmo-x.txt",
    "elmo\x00-x.txt",
    "elmo-x.txt\x00.pdf",
    "a\nb.txt",
    "a\r\nContent-Type: text/html\r\n.txt",
    "<script>alert(1)</script>.txt",
    "ELMO-X.TXT",
    "x.txt/.",
    "x.txt\\",
    "a" * 1000 + ".txt",
    "\u202etxt.exe",
    "....txt",
    ".hidden.txt",
    "..",
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n[:30]))
def test_upload_names_cannot_escape_the_uploads_folder(
    admin: TestClient, base: tuple[Settings, Path], tmp_path: Path, name: str
) -> None:
    settings = base[0]
    root = settings.sources.parent
    before = files_under(root)
    r = upload(admin, name)
    assert r.status_code in (200, 400, 415, 422), (r.status_code, r.text)
    after = files_under(root)
    new = after - before
    if r.status_code == 200:
        saved = r.json()["saved"][0]
        assert saved["source"].startswith("uploads/")
        rel = saved["source"].removeprefix("uploads/")
        assert "/" not in rel and "\\" not in rel and ".." not in rel.split(".")[:1] and "\x00" not in rel
        assert len(rel) <= 120
        target = (settings.sources / saved["source"]).resolve()
        assert target.is_relative_to((settings.sources / "uploads").resolve())
    # whatever happened, nothing appeared outside <sources>/uploads (and no hidden temp file stayed)
    assert all(p.startswith("sources/uploads/") and not Path(p).name.startswith(".") for p in new), new
    assert not Path("/etc/elmo-x.txt").exists() and not Path("/tmp/elmo-x.txt").exists()


def test_upload_over_a_symlink_replaces_the_link_not_its_target(
    admin: TestClient, base: tuple[Settings, Path]
) -> None:
    settings, outside = base
    victim = outside / "victim.txt"
    victim.write_text("alkuperäinen", encoding="utf-8")
    folder = settings.sources / "uploads"
    folder.mkdir(exist_ok=True)
    link = folder / "victim.txt"
    link.unlink(missing_ok=True)
    os.symlink(victim, link)
    r = upload(admin, "victim.txt")
    assert r.status_code == 200, r.text
    assert victim.read_text(encoding="utf-8") == "alkuperäinen"
    assert not link.is_symlink() and link.read_bytes() == DOC
    link.unlink()


def test_upload_into_a_symlinked_uploads_folder_is_refused(
    admin: TestClient, base: tuple[Settings, Path]
) -> None:
    settings, outside = base
    folder = settings.sources / "uploads"
    moved = settings.sources.parent / "uploads-moved"
    if folder.exists() and not folder.is_symlink():
        folder.rename(moved)
    target = outside / "pako"
    target.mkdir(exist_ok=True)
    os.symlink(target, folder)
    try:
        r = upload(admin, "pako.txt")
        assert list(target.iterdir()) == [], "an upload was written outside the sources folder"
        assert r.status_code >= 400
    finally:
        os.unlink(folder)
        if moved.exists():
            moved.rename(folder)


def test_upload_limits(base: tuple[Settings, Path], assistant: Assistant) -> None:
    with make_client(base[0], assistant, admin_token=TOKEN, max_upload_mb=1) as c:
        r = upload(c, "iso.txt", b"a " * 600_000)
        assert r.status_code == 413
        r = c.post(
            "/api/admin/upload",
            headers=bearer(TOKEN),
            files=[("files", (f"f{i}.txt", DOC, "text/plain")) for i in range(21)],
        )
        assert r.status_code == 413
        for name, data, status in [
            ("ohjelma.exe", b"MZ\x90\x00", 415),
            ("kuva.png", b"\x89PNG\r\n", 415),
            ("tyhja.txt", b"", 400),
            ("roska.pdf", b"%PDF-1.4 roskaa", 422),
            ("binaari.txt", os.urandom(4000), 422),
        ]:
            r = upload(c, name, data)
            assert r.status_code == status, (name, r.status_code, r.text)
        # refused uploads leave no temporary files behind
        assert not [p for p in (base[0].sources / "uploads").glob(".upload-*")]


def test_upload_body_is_not_read_without_the_token(admin: TestClient) -> None:
    """The token is checked before the multipart body is parsed (a 50 MB body costs nothing)."""
    big = b"x" * 50_000_000
    t0 = time.perf_counter()
    r = admin.post(
        "/api/admin/upload",
        headers={"Authorization": "Bearer wrong", "Content-Type": "multipart/form-data; boundary=zz"},
        content=big,
    )
    assert r.status_code == 401
    assert time.perf_counter() - t0 < 10


def test_ask_body_cap_holds_for_chunked_bodies(admin: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(30):
            yield b"a" * 100_000
        yield b'", "history": []}'

    r = admin.post("/api/ask", content=body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


# ======================================================================================================
# symlinks in the sources folder and the passage viewer
# ======================================================================================================


def test_symlinks_leaving_the_sources_folder_are_never_indexed(
    base: tuple[Settings, Path], assistant: Assistant
) -> None:
    settings, _ = base
    found = {p.relative_to(settings.sources).as_posix() for p in discover_files(settings.sources)}
    assert "salaisuus.txt" not in found and not any(f.startswith("linkattu-kansio/") for f in found)
    assert "sisainen-linkki.txt" in found  # a link that stays inside is a normal source
    live = assistant.kb.current().sources
    assert "salaisuus.txt" not in live and not any(s.startswith("linkattu-kansio") for s in live)
    for q in ("Mitä henkilöstömuistiossa sanotaan palkoista?", "salainen muistio terveystiedot"):
        ans = assistant.ask(q)
        assert "Salainen" not in ans.answer and "palkat" not in ans.answer


def test_a_link_created_after_indexing_is_not_served(
    admin: TestClient, base: tuple[Settings, Path], assistant: Assistant
) -> None:
    """Race: an indexed source replaced by a symlink to a secret. The viewer serves the stored text of the
    indexed version, never reads the file system; the next refresh drops the link."""
    settings, outside = base
    src = settings.sources / "vaihdettava.txt"
    src.write_text("Vaihdettavan tiedoston julkinen sisältö kokouksista.\n", encoding="utf-8")
    r = admin.post("/api/admin/refresh", headers=bearer(TOKEN))
    assert r.status_code == 200, r.text
    src.unlink()
    os.symlink(outside / "salaisuus.txt", src)
    r = admin.get("/api/passage", params={"source": "vaihdettava.txt"})
    assert r.status_code == 200 and "Salainen" not in r.text
    r = admin.post("/api/admin/refresh", headers=bearer(TOKEN))
    assert r.status_code == 200
    assert admin.get("/api/passage", params={"source": "vaihdettava.txt"}).status_code == 404
    src.unlink()
    admin.post("/api/admin/refresh", headers=bearer(TOKEN))


VIEWER_TRICKS = [
    "salaisuus.txt",
    "linkattu-kansio/toinen.txt",
    "../outside/salaisuus.txt",
    "../../../../etc/passwd",
    "/etc/passwd",
    "%2e%2e/outside/salaisuus.txt",
    "..%2F..%2Fetc%2Fpasswd",
    "sources.toml",
    "__meta__",
    "./elinkeinot-murroksessa.txt",
    "elinkeinot-murroksessa.txt/",
    "ELINKEINOT-MURROKSESSA.TXT",
    "elinkeinot-murroksessa.txt\x00.pdf",
    "file:///etc/passwd",
    "http://127.0.0.1:1/",
    "",
    " ",
]


@pytest.mark.parametrize("source", VIEWER_TRICKS, ids=repr)
def test_passage_viewer_serves_only_indexed_sources(admin: TestClient, source: str) -> None:
    r = admin.get("/api/passage", params={"source": source})
    assert r.status_code in (404, 422), (source, r.status_code, r.text[:200])
    assert "Salainen" not in r.text and "root:" not in r.text


def test_passage_viewer_serves_an_indexed_source(admin: TestClient) -> None:
    r = admin.get("/api/passage", params={"source": "elinkeinot-murroksessa.txt", "start": 0, "end": 20})
    assert r.status_code == 200 and r.json()["passage"]
    # out-of-range offsets are clamped, not errors or leaks
    r = admin.get(
        "/api/passage", params={"source": "elinkeinot-murroksessa.txt", "start": 10**9, "end": 10**12}
    )
    assert r.status_code == 200 and r.json()["passage"] == ""
    r = admin.get("/api/passage", params={"source": "elinkeinot-murroksessa.txt", "start": -5})
    assert r.status_code == 422


# ======================================================================================================
# the login (ASSISTANT_AUTH) and the default bind
# ======================================================================================================


def test_login_protects_the_ui_and_the_api(base: tuple[Settings, Path], assistant: Assistant) -> None:
    pytest.importorskip("gradio")
    with make_client(base[0], assistant, ui=True, auth=f"anna:{PASSWORD}", admin_token=TOKEN) as c:
        for path in ("/config", "/gradio_api/info"):
            assert c.get(path).status_code == 401, path
        assert c.post("/gradio_api/upload", files={"files": ("x.txt", b"x")}).status_code == 401
        for method, path in (("get", "/api/sources"), ("get", "/api/contacts"), ("post", "/api/ask")):
            r = getattr(c, method)(path, **({"json": {"question": "Kuka?"}} if method == "post" else {}))
            assert r.status_code == 401, path
            assert r.headers.get("www-authenticate") == "Basic"
        good = "Basic " + base64.b64encode(f"anna:{PASSWORD}".encode()).decode()
        bad = "Basic " + base64.b64encode(f"anna:{PASSWORD}x".encode()).decode()
        assert c.get("/api/sources", headers={"Authorization": bad}).status_code == 401
        assert c.get("/api/sources", headers={"Authorization": "Basic !!notbase64"}).status_code == 401
        assert c.get("/api/sources", headers={"Authorization": good}).status_code == 200
        # the UI login form
        assert c.post("/login", data={"username": "anna", "password": "väärä"}).status_code in (400, 401)
        assert c.get("/config").status_code == 401
        assert c.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 200
        assert c.get("/config").status_code == 200
        # health stays open for monitoring; admin actions still need the token on top of the login
        assert c.get("/healthz").status_code == 200
        assert c.post("/api/admin/refresh", headers={"Authorization": good}).status_code == 401


def test_default_bind_is_loopback() -> None:
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            mp.delenv(key)
        s = Settings()
    assert s.host == "127.0.0.1"


def test_secrets_are_not_in_settings_repr() -> None:
    s = Settings(admin_token=TOKEN, llm_api_key=API_KEY, auth=f"anna:{PASSWORD}")
    for text in (repr(s), str(s)):
        assert TOKEN not in text and API_KEY not in text and PASSWORD not in text


def _local_non_loopback_ip() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it picks the outgoing interface
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_live_server_binds_loopback_and_keeps_secrets_out_of_logs(
    base: tuple[Settings, Path], tmp_path: Path
) -> None:
    """A real `assistant serve -v` with an admin token, an LLM API key and a login configured; every admin
    path exercised (wrong token, right token, upload, refresh, a failing refresh), the LLM failing and
    answering; then the whole stdout+stderr is searched for the secrets."""
    from support.fake_llm import Fail, FakeLLM

    settings, _ = base
    root = tmp_path / "live"
    shutil.copytree(settings.sources, root / "sources", symlinks=True)
    log_path = tmp_path / "server.log"
    with FakeLLM(default="Gitte Meriläinen on projektipäällikkö. [1]") as llm:
        llm.script(Fail(500, "upstream overloaded"), Fail(401, "invalid api key"))
        env = clean_env(
            ASSISTANT_ADMIN_TOKEN=TOKEN,
            ASSISTANT_LLM_URL=llm.url,
            ASSISTANT_LLM_MODEL="fake",
            ASSISTANT_LLM_API_KEY=API_KEY,
            ASSISTANT_LLM_TIMEOUT="5",
            ASSISTANT_AUTH=f"anna:{PASSWORD}",
        )
        folders = ("--sources", str(root / "sources"), "--index", str(root / "index"))
        subprocess.run(
            [sys.executable, "-m", "assistant", "refresh", *folders],
            env=clean_env(),
            cwd=REPO_ROOT,
            capture_output=True,
            timeout=300,
            check=False,
        )
        with served(ServerProcess("-v", *folders, log=log_path, env=env), timeout=180) as server:
            base_url, port = server.url, server.port
            login = ("anna", PASSWORD)
            with httpx.Client(base_url=base_url, timeout=120) as c:
                assert c.post("/api/admin/refresh", headers=bearer(TOKEN + "x")).status_code == 401
                assert c.post("/api/admin/refresh", headers=bearer(TOKEN[:5])).status_code == 401
                r = c.post(
                    "/api/admin/upload",
                    headers=bearer(TOKEN),
                    files={"files": ("uusi.txt", DOC, "text/plain")},
                )
                assert r.status_code == 200, r.text
                r = c.post(
                    "/api/admin/upload?refresh=true",
                    headers=bearer(TOKEN),
                    files={"files": ("rikki.pdf", b"%PDF-1.4 x", "application/pdf")},
                )
                assert r.status_code == 422
                assert c.post("/api/admin/refresh", headers=bearer(TOKEN)).status_code == 200
                for _ in range(3):  # LLM: 500, then 401 (the client's retry), then answers
                    r = c.post(
                        "/api/ask", auth=login, json={"question": "Kuka on ELMO-pilotin projektipäällikkö?"}
                    )
                    assert r.status_code == 200
                r = c.post("/api/ask", auth=("anna", "väärä"), json={"question": "Kuka?"})
                assert r.status_code == 401
                c.post("/login", data={"username": "anna", "password": PASSWORD})
            assert any(
                req.headers.get("Authorization", req.headers.get("authorization", "")) == f"Bearer {API_KEY}"
                for req in llm.chat_requests
            ), "the LLM key was not configured: the log check would prove nothing"
            # the default bind: loopback only
            ip = _local_non_loopback_ip()
            if ip:
                with pytest.raises(httpx.ConnectError):
                    httpx.get(f"http://{ip}:{port}/healthz", timeout=3)
    logs = log_path.read_text(errors="replace")
    assert "127.0.0.1" in logs and "0.0.0.0" not in logs
    for secret in (
        TOKEN,
        API_KEY,
        PASSWORD,
        TOKEN[:12],
        base64.b64encode(f"anna:{PASSWORD}".encode()).decode(),
    ):
        assert secret not in logs, f"a secret is in the server log:\n{logs[-3000:]}"


def test_secrets_not_logged_in_process(
    base: tuple[Settings, Path], assistant: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    """The same in-process with every logger at DEBUG: wrong tokens, a failing refresh, an LLM error."""
    import logging

    caplog.set_level(logging.DEBUG)
    with make_client(base[0], assistant, admin_token=TOKEN, llm_api_key=API_KEY) as c:
        upload(c, "x.txt", token=TOKEN + "-wrong")
        c.post("/api/admin/refresh", headers=bearer("väärä " + TOKEN[:8]))
        c.post("/api/admin/refresh", headers=bearer(TOKEN))
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert TOKEN not in text and API_KEY not in text


# ======================================================================================================
# display: document and user text is escaped everywhere in the UI
# ======================================================================================================

HOSTILE_TEXTS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">klikkaa</a>',
    "[klikkaa](javascript:alert(1))",
    "![kuva](javascript:alert(2))",
    "![kuva](https://evil.example/track.png)",
    "<https://evil.example>",
    "https://evil.example/phish www.evil.example",
    "<iframe src=https://evil.example></iframe>",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    "**lihava** _kursiivi_ `koodi` ~~yliviivattu~~",
    "# Otsikko\n1. lista\n- lista\n> lainaus\n---\n| a | b |\n|---|---|",
    "&lt;script&gt; &amp;amp; &#x3C;b&#x3E;",
    "{{7*7}} ${alert(1)} `backtick` {x}",
    "\\[1\\] [1] [999]",
    "<!-- kommentti --> <![CDATA[x]]>",
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
]


def assert_inert(markup: str, allowed_tags: set[str]) -> None:
    parsed = parse_html(markup)
    for tag, attrs in parsed.tags:
        assert tag in allowed_tags, (tag, markup[:300])
        for key, value in attrs.items():
            assert not key.startswith("on"), (key, markup[:300])
            if key in ("href", "src"):
                assert value is None or value.startswith(("#", "http://", "https://")), (value, markup[:300])
                assert not (value or "").startswith(("https://evil", "http://evil")) or key == "href", value


def render_markdown(md: str) -> str:
    """A CommonMark renderer with raw HTML and linkify ON: the harshest reading of the Markdown."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").render(md)


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=repr)
def test_md_text_renders_to_exactly_the_text(text: str) -> None:
    from assistant.web.ui import md_text

    for line in text.split("\n"):
        rendered = render_markdown(md_text(line))
        assert_inert(rendered, {"p"})
        shown = "".join(parse_html(rendered).text).strip()
        assert shown == line.strip(), (line, md_text(line), rendered)


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=repr)
def test_the_answerers_emphasis_renders_with_its_text_escaped(text: str) -> None:
    """"*Tarkoititko: …?*" and a refusal's "- *title*: “…” [n]" show as emphasis, not as asterisks."""
    from assistant.i18n import t
    from assistant.web.ui import render_answer

    title = " ".join(text.split())
    note = t("did_you_mean", "fi", words=title)
    answer = {
        "answer": f"*{note}*\n\nEn löydä lähteistä vastausta.\n\nLähimmät kohdat:\n- *{title}*: “{title}” [1]",
        "refused": True,
        "citations": [{"n": 1}],
    }
    rendered = render_markdown(render_answer(answer, turn=0, lang="fi"))
    assert_inert(rendered, {"p", "span", "a", "em", "ul", "li", "br"})
    emphasised = re.findall(r"<em>(.*?)</em>", rendered, re.S)
    shown = ["".join(parse_html(e).text) for e in emphasised]
    assert shown == [note, title], rendered


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=repr)
def test_answers_sources_and_panels_are_escaped(text: str) -> None:
    from assistant.web.ui import esc, render_answer, render_card, render_panel, render_sources_table

    answer = {
        "question": text,
        "answer": f"{text} [1]\n\n> {text} [1]\n\n**Yhteystiedot** [1]\n- Nimi: {text}",
        "refused": False,
        "quoted_from_finnish": True,
        "citations": [
            {
                "n": 1,
                "source": f"uploads/{text}.txt",
                "title": text,
                "text": text,
                "start": 0,
                "end": len(text),
                "publisher": text,
                "date": text,
                "url": "javascript:alert(1)",
            }
        ],
    }
    md = render_answer(answer, turn=0, lang="fi")
    assert_inert(render_markdown(md), {"p", "span", "a", "strong", "blockquote", "ul", "li", "br"})
    for tag, attrs in parse_html(render_markdown(md)).tags:
        if tag == "a":
            assert (attrs.get("href") or "").startswith("#elmo-cite-"), attrs
    card = render_card(0, answer["citations"][0], f"xx {text} yy", "fi")
    assert_inert(card, {"article", "header", "span", "div", "mark"})  # the javascript: url is not linked
    panel = render_panel([{"index": 0, "answer": answer}], "fi", None)
    assert_inert(panel, {"div", "h2", "p", "section", "article", "header", "span", "mark"})
    overview = {
        "sources": [
            {"source": text, "title": text, "kind": text, "chunks": 1, "status": "failed", "failure": text}
        ],
        "chunks": 1,
        "last_refresh": None,
    }
    assert_inert(
        render_sources_table(overview, "fi"), {"h2", "p", "table", "thead", "tbody", "tr", "th", "td", "span"}
    )
    for ch in "{}$`<>\"'":
        assert ch not in esc(text)
