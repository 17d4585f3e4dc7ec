"""Source management over HTTP: view a source's text, download its file, delete it (admin), and no way out
of the sources folder. A real uvicorn server, the real model, a real Chroma index of a small sources folder."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from support.live_server import live_server

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.knowledge.ingest import refresh
from assistant.service import local_source_path
from assistant.uploads import AdminError
from assistant.web.app import create_app

TOKEN = "source-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ODD_NAME = 'raportti "uusi"; ä.txt'
DOCS = {
    "elmo.txt": "ELMO-pilotin projektipäällikkö on Gitte Meriläinen. Pilotti alkoi vuonna 2018.\n",
    "sub/revontulet.txt": "Revontulikeskuksen johtaja on Aino Virtasalo. Keskus sijaitsee Sodankylässä.\n",
    ODD_NAME: "Tämä raportti käsittelee uusia avauksia.\n",
    "poistettava.txt": "Lumilinnan rakennusmestari on Veikko Jäälahti. Lumilinna valmistuu tammikuussa.\n",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("source-admin")
    (root / "secret.txt").write_text("salainen: ei lähde\n", encoding="utf-8")  # beside the sources, never served
    sources = root / "sources"
    for name, text in DOCS.items():
        (sources / name).parent.mkdir(parents=True, exist_ok=True)
        (sources / name).write_text(text, encoding="utf-8")
    (sources / "link.txt").symlink_to(root / "secret.txt")  # leads out: never a source
    return root


@pytest.fixture(scope="module")
def settings(folder: Path) -> Settings:
    s = Settings(
        sources=folder / "sources",
        index=folder / "index",
        admin_token=TOKEN,
        ask_rate_per_minute=0,
        allowed_hosts=["127.0.0.1"],
    )
    summary = refresh(s)
    assert summary.added == len(DOCS) and not summary.failed
    return s


def test_a_source_text_is_viewable(url: str) -> None:
    r = httpx.get(f"{url}/api/sources/sub/revontulet.txt/text")
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == DOCS["sub/revontulet.txt"] and body["length"] == len(DOCS["sub/revontulet.txt"])
    assert body["source"] == "sub/revontulet.txt" and body["title"]
    missing = httpx.get(f"{url}/api/sources/ei-ole.txt/text")
    assert missing.status_code == 404 and "ei-ole.txt" in missing.json()["detail"]


def test_download_needs_the_admin_token(url: str) -> None:
    assert httpx.get(f"{url}/api/sources/elmo.txt/download").status_code == 401
    wrong = httpx.get(f"{url}/api/sources/elmo.txt/download", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_download_is_the_stored_file_with_a_safe_name(url: str, settings: Settings) -> None:
    r = httpx.get(f"{url}/api/sources/{ODD_NAME}/download", headers=AUTH)
    assert r.status_code == 200
    assert r.content == (settings.sources / ODD_NAME).read_bytes()
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and "\n" not in disposition
    plain = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert plain and not set(plain) & set('";\\/') and plain.isascii()
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == ODD_NAME


def test_download_is_off_without_a_configured_token(settings: Settings, assistant: Assistant) -> None:
    off = settings.model_copy(update={"admin_token": None})
    with live_server(create_app(off, assistant, ui=False), off) as url:
        r = httpx.get(f"{url}/api/sources/elmo.txt/download", headers=AUTH)
    assert r.status_code == 403


TRAVERSALS = [
    "..%2Fsecret.txt",
    "%2E%2E/secret.txt",
    "sub/..%2F..%2Fsecret.txt",
    "%2Fetc%2Fpasswd",
    "%2F%2Fetc/passwd",
    "link.txt",
    "sources.toml",
    "%2E%2E",
]


@pytest.mark.parametrize("source", TRAVERSALS)
def test_no_path_leads_out_of_the_sources(url: str, folder: Path, source: str) -> None:
    for method, path in (("GET", f"/api/sources/{source}/download"), ("DELETE", f"/api/admin/sources/{source}")):
        r = httpx.request(method, f"{url}{path}", headers=AUTH)
        assert r.status_code == 404, (method, source, r.status_code, r.text[:200])
        assert "no such source" in r.json()["detail"], (method, source, r.text[:200])  # our check, not routing
        assert "salainen" not in r.text
    text = httpx.get(f"{url}/api/sources/{source}/text")
    assert text.status_code == 404 and "salainen" not in text.text
    assert (folder / "secret.txt").exists() and (folder / "sources" / "link.txt").is_symlink()


@pytest.mark.parametrize(
    "source", ["../secret.txt", "/etc/passwd", "sub/../../secret.txt", "https://example.org/a.html", ".", ""]
)
def test_a_path_outside_the_folder_is_never_a_local_source(folder: Path, source: str) -> None:
    # the second guard: even a catalogue entry with such a name would not reach a file outside
    with pytest.raises(AdminError) as refused:
        local_source_path(folder / "sources", source)
    assert refused.value.code == "not_local"


def test_a_linked_folder_leading_out_is_refused(folder: Path) -> None:
    outside = folder / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "x.txt").write_text("x", encoding="utf-8")
    link = folder / "sources" / "linked"
    link.symlink_to(outside, target_is_directory=True)
    try:
        with pytest.raises(AdminError):
            local_source_path(folder / "sources", "linked/x.txt")
    finally:
        link.unlink()


def ask(url: str, question: str) -> dict:
    r = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=60)
    assert r.status_code == 200
    return r.json()


def test_delete_removes_the_file_and_the_answers(url: str, settings: Settings) -> None:
    file = settings.sources / "poistettava.txt"
    question = "Kuka on Lumilinnan rakennusmestari?"
    before = ask(url, question)
    assert "Jäälahti" in before["answer"] and {c["source"] for c in before["citations"]} == {"poistettava.txt"}

    assert httpx.delete(f"{url}/api/admin/sources/poistettava.txt").status_code == 401
    assert file.exists()

    r = httpx.delete(f"{url}/api/admin/sources/poistettava.txt", headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["removed"] == "poistettava.txt" and body["summary"]["removed"] == 1
    assert not file.exists() and (settings.sources / "elmo.txt").exists()
    listed = {s["source"] for s in httpx.get(f"{url}/api/sources").json()["sources"]}
    assert "poistettava.txt" not in listed and "elmo.txt" in listed
    after = ask(url, question)
    assert "Jäälahti" not in after["answer"]
    assert "poistettava.txt" not in {c["source"] for c in after["citations"]}
    again = httpx.delete(f"{url}/api/admin/sources/poistettava.txt", headers=AUTH)
    assert again.status_code == 404


def test_a_source_whose_file_is_gone_cannot_be_downloaded(url: str, settings: Settings) -> None:
    file = settings.sources / "elmo.txt"
    kept = file.read_bytes()
    os.rename(file, settings.sources / ".elmo.txt.moved")  # gone from the folder, still in the catalogue
    try:
        r = httpx.get(f"{url}/api/sources/elmo.txt/download", headers=AUTH)
        assert r.status_code == 409 and "elmo.txt" in r.json()["detail"]
    finally:
        os.rename(settings.sources / ".elmo.txt.moved", file)
    assert file.read_bytes() == kept
