"""The knowledge-base tab in a real browser (Playwright + Debian's Chromium against `assistant serve`): a
source's text for everyone; with the admin token, its original file to download and the source to delete;
uploads that clear refused files and give every reason in the UI language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ui_pages import SERIOUS, ask, axe, open_page, show_kb, summary
from support.ui_server import CHROMIUM, Server, build_index, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

TOKEN = "kb-tab-token"
LUMI = "lumilinna.txt"
LUMI_TEXT = (
    "Kemin Lumilinna\n\n"
    "Kemin Lumilinnan rakennusmestari on Veikko Jäälahti. Lumilinna valmistuu joka vuosi tammikuussa, ja "
    "sen seinät ovat <b>kaksi metriä</b> paksut & {kylmät}.\n"
)
LUMI_QUESTION = "Kuka on Kemin Lumilinnan rakennusmestari?"
LUMI_AGAIN = "Kuka toimii Kemin Lumilinnan rakennusmestarina?"  # another wording: a turn of its own


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    index = build_index(tmp_path_factory.mktemp("kb-admin"), extra={LUMI: LUMI_TEXT})
    with serving(*index, admin_token=TOKEN) as running:
        yield running


@pytest.fixture
def page(browser: Any, admin_server: Server) -> Iterator[Any]:
    opened = open_page(browser, admin_server.url)
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    opened.context.close()
    assert not errors, errors


def choose_source(page: Any, source: str) -> None:
    box = page.locator("#elmo-source input")
    box.click()
    box.fill(source)
    page.get_by_role("option", name=source).first.click()


def cited_files(page: Any) -> str:
    return page.locator("#elmo-sources .elmo-turn.current").inner_text()


def test_public_views_a_source_text(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    index = build_index(tmp_path_factory.mktemp("kb-public"), extra={LUMI: LUMI_TEXT})
    with serving(*index, admin_token=None) as server:
        page = open_page(browser, server.url)
        show_kb(page)
        for control in ("#elmo-token", "#elmo-download", "#elmo-delete", "#elmo-delete-yes"):
            assert not page.locator(control).is_visible(), control
        choose_source(page, LUMI)
        page.locator("#elmo-view").click()
        body = page.locator("#elmo-source-text .elmo-source-body")
        body.wait_for()
        # escaped: the document's markup is text, not HTML
        assert body.inner_text().strip() == LUMI_TEXT.strip()
        assert body.locator("b").count() == 0
        assert body.get_attribute("tabindex") == "0" and body.get_attribute("role") == "region"
        body.focus()
        assert page.evaluate("document.activeElement.classList.contains('elmo-source-body')")
        page.keyboard.press("End")  # the region scrolls from the keyboard
        serious = summary(axe(page), SERIOUS)
        assert not serious, serious
        page.context.close()


def test_admin_downloads_then_deletes_a_source(page: Any, admin_server: Server) -> None:
    ask(page, LUMI_QUESTION)
    assert LUMI in cited_files(page)

    show_kb(page)
    choose_source(page, LUMI)
    out = page.locator("#elmo-admin-out")
    page.locator("#elmo-download").click()  # no token yet
    out.locator("text=Anna ylläpitäjän tunnus.").wait_for()
    page.locator("#elmo-token input").fill(TOKEN)
    page.locator("#elmo-download").click()
    link = page.locator("#elmo-download-file a[download]").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == (admin_server.sources / LUMI).read_bytes()

    page.locator("#elmo-delete").click()
    confirm = page.locator("#elmo-delete-confirm")
    confirm.locator(f"text=Poistetaanko lähde {LUMI}").wait_for()
    assert (admin_server.sources / LUMI).exists()  # nothing happens before the confirmation
    serious = summary(axe(page), SERIOUS)  # the admin controls and the confirmation, as shown
    assert not serious, serious
    page.locator("#elmo-delete-yes").click()
    out.locator(f"text=Lähde {LUMI} poistettu").wait_for(timeout=90_000)
    confirm.wait_for(state="hidden")
    assert not (admin_server.sources / LUMI).exists()
    assert LUMI not in page.locator("#elmo-kb-table").inner_text()
    page.locator("#elmo-source input").click()
    assert page.get_by_role("option", name=LUMI).count() == 0
    page.keyboard.press("Escape")

    page.get_by_role("tab", name="Keskustelu").click()
    ask(page, LUMI_AGAIN)
    assert LUMI not in cited_files(page)


def test_refused_upload_is_cleared_and_explained_in_finnish(
    page: Any, admin_server: Server, tmp_path: Path
) -> None:
    bad = tmp_path / "rikki.txt"
    bad.write_bytes(bytes(range(256)) * 8)  # not text: refused by the loader
    good = tmp_path / "revontulikeskus.txt"
    good.write_text("Revontulikeskuksen johtaja on Aino Virtasalo. Keskus sijaitsee Sodankylässä.\n", encoding="utf-8")
    joins: list[Any] = []
    page.on("request", lambda r: joins.append(r.post_data) if "/queue/join" in r.url else None)

    show_kb(page)
    page.locator("#elmo-token input").fill(TOKEN)
    files = page.locator("#elmo-files")
    files.locator("input[type=file]").set_input_files([str(bad)])
    files.locator("text=rikki").wait_for()
    page.locator("#elmo-upload").click()
    out = page.locator("#elmo-admin-out")
    out.locator("text=Yhtään tiedostoa ei tallennettu.").wait_for(timeout=60_000)
    said = out.inner_text()
    assert "rikki.txt: tiedostosta ei saatu tekstiä (se ei ole tekstitiedosto)." in said
    assert "binary" not in said and "not a text" not in said
    files.locator("text=rikki").wait_for(state="detached")  # the refused file left the input

    files.locator("input[type=file]").set_input_files([str(good)])
    files.locator("text=revontulikeskus").wait_for()
    joins.clear()
    page.locator("#elmo-upload").click()
    out.locator("text=Päivitys valmis").wait_for(timeout=90_000)
    sent = [json.loads(j) for j in joins if j]
    names = [f["orig_name"] for j in sent for d in j["data"] if isinstance(d, list) for f in d]
    assert names == ["revontulikeskus.txt"], names
    assert "rikki" not in out.inner_text()
    uploads = admin_server.sources / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["revontulikeskus.txt"]
