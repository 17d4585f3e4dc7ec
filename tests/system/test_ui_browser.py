"""The web chat in a real browser: Playwright for Python driving Debian's Chromium against `assistant serve`.

Screenshots go to a temporary folder, or to ``$ASSISTANT_SCREENSHOTS`` when set; the README's pictures are
made by ``scripts/screenshots.py``. Accessibility and phone widths: ``test_accessibility.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ui_server import CHROMIUM, Server, build_index, serving

from assistant.feedback import FeedbackStore

TOKEN = "browser-test-token"
QUESTION = "#elmo-question textarea"
BOT = '#elmo-chat [data-testid="bot"]'
CITE = '#elmo-chat a[href^="#elmo-cite-"]'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]

NEW_DOC = (
    "Kajaanin innovaatiokeskus\n\n"
    "Kajaanin innovaatiokeskuksen johtajana toimii Aino Virtanen. Innovaatiokeskus avattiin vuonna 2025, ja se "
    "tukee Kainuun yrityksiä datakeskusten ja biotalouden kehittämisessä.\n"
)
HOSTILE_DOC = (
    '# <img src=x onerror="window.__pwned=3"> Turvallisuustestin muistio\n\n'
    "Turvallisuustestin muistion mukaan tarkistuskoodi on <script>window.__pwned=1</script> ja kuva "
    '<img src=x onerror="window.__pwned=2"> sekä ![seuranta](http://127.0.0.1:9/track.png) ja '
    "[linkki](javascript:window.__pwned=4) ja {{value}} ${window.__pwned=5}.\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(*build_index(tmp_path_factory.mktemp("browser")), admin_token=TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("ASSISTANT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Page:
    """A browser tab on the chat, with the page's errors and outgoing requests recorded."""

    def __init__(self, browser: Any, url: str, locale: str):
        self.context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url + "/", wait_until="domcontentloaded")
        self.page.locator(QUESTION).wait_for()

    def ask(self, question: str) -> Any:
        """Asks and waits for the whole answer (the sources panel is updated with the final answer)."""
        self.page.locator(QUESTION).fill(question)
        self.page.locator(QUESTION).press("Enter")
        self.page.locator("#elmo-sources .elmo-turn.current .elmo-asked", has_text=question).wait_for()
        return self.page.locator(BOT).last

    def close(self) -> None:
        assert not self.errors, self.errors
        self.context.close()


@pytest.fixture
def fi_page(browser: Any, server: Server) -> Iterator[Page]:
    page = Page(browser, server.url, "fi-FI")
    yield page
    page.close()


@pytest.fixture
def en_page(browser: Any, server: Server) -> Iterator[Page]:
    page = Page(browser, server.url, "en-US")
    yield page
    page.close()


# Records every distinct length of the latest answer's text while it is being written.
WATCH_STREAM = """() => {
  window.__elmoLengths = [];
  const tick = () => {
    const bots = document.querySelectorAll('#elmo-chat [data-testid="bot"]');
    const last = bots[bots.length - 1];
    if (last) {
      const n = last.innerText.length;
      if (window.__elmoLengths[window.__elmoLengths.length - 1] !== n) window.__elmoLengths.push(n);
    }
    requestAnimationFrame(tick);
  };
  tick();
}"""


def test_finnish_conversation(fi_page: Page, server: Server, shots: Path) -> None:
    page = fi_page.page
    assert page.get_by_role("tab", name="Keskustelu").is_visible()  # the browser's language
    assert page.locator("#elmo-send").inner_text() == "Kysy"
    page.evaluate(WATCH_STREAM)

    answer = fi_page.ask("Kuka on ELMO-pilotin projektipäällikkö?")
    assert "Gitte Meriläinen" in answer.inner_text()
    lengths = page.evaluate("window.__elmoLengths")
    assert len(lengths) >= 4, f"the answer was not streamed: {lengths}"
    marker = answer.locator('a[href^="#elmo-cite-"]').first
    assert marker.inner_text() == "[1]"

    marker.click()
    active = page.locator("#elmo-sources .elmo-passage.active")
    active.wait_for()
    mark = active.locator("mark")  # the cited sentences, not the whole chunk
    assert "Gitte Meriläinen" in " ".join(mark.all_inner_texts())
    assert mark.first.is_visible()
    assert active.locator(".elmo-around").first.is_visible()  # the surrounding text is shown too
    assert "Elinkeinot murroksessa" in active.locator(".elmo-title").inner_text()
    page.screenshot(path=str(shots / "passage.png"))

    follow = fi_page.ask("Mikä hänen puhelinnumeronsa on?")
    text = follow.inner_text()
    assert "Yhteystiedot" in text and "6854" in text
    assert follow.locator("strong", has_text="Yhteystiedot").count() == 1
    page.screenshot(path=str(shots / "chat-fi.png"))

    # 👍 with a comment, stored with the question, the answer and its citations
    page.get_by_role("button", name=re.compile(r"^(Tykkää|Like)$")).last.click()
    page.locator("#elmo-comment textarea").wait_for()
    page.locator("#elmo-comment textarea").fill("Selkeä yhteystieto.")
    page.locator("#elmo-comment-send").click()
    page.locator("#elmo-feedback-msg", has_text="Kommentti tallennettu").wait_for()
    rows = FeedbackStore(server.index / "feedback.sqlite").all()
    assert len(rows) == 1
    row = rows[0]
    assert row["rating"] == "up" and row["question"] == "Mikä hänen puhelinnumeronsa on?"
    assert "6854" in row["answer"] and row["citations"][0]["source"] == "elinkeinot-murroksessa.txt"
    assert row["comment"] == "Selkeä yhteystieto." and row["history"] == [
        "Kuka on ELMO-pilotin projektipäällikkö?"
    ]

    # 👎 on the first answer is a second row; clicking 👎 again takes it back
    dislike = page.get_by_role("button", name=re.compile(r"^(En tykkää|Dislike)$")).first
    dislike.click()
    page.locator("#elmo-feedback-msg", has_text="Kiitos palautteesta").wait_for()
    ratings = {r["question"]: r["rating"] for r in FeedbackStore(server.index / "feedback.sqlite").all()}
    assert ratings == {
        "Mikä hänen puhelinnumeronsa on?": "up",
        "Kuka on ELMO-pilotin projektipäällikkö?": "down",
    }
    page.get_by_role(
        "button", name=re.compile(r"^(En tykkää \(valittu\)|Dislike \(selected\))$")
    ).first.click()
    page.locator("#elmo-feedback-msg", has_text="Palaute poistettu").wait_for()
    assert [r["rating"] for r in FeedbackStore(server.index / "feedback.sqlite").all()] == ["up"]

    # a click on the earlier answer's [1] brings that answer's passage back
    page.locator(CITE).first.click()
    assert "Kuka on ELMO-pilotin" in page.locator("#elmo-sources .elmo-turn.current .elmo-asked").inner_text()

    page.locator("#elmo-new").click()
    page.locator(BOT).first.wait_for(state="detached")
    assert page.locator("#elmo-sources .elmo-passage").count() == 0


def test_english(en_page: Page, shots: Path) -> None:
    page = en_page.page
    page.get_by_role("tab", name="Chat").wait_for()  # relabelled from the browser's language after loading
    assert page.locator("#elmo-send").inner_text() == "Ask"
    answer = en_page.ask("Who is the project manager of the ELMO pilot?")
    badge = answer.locator(".elmo-badge-fi")
    assert badge.inner_text() == "Quoted from Finnish sources"
    assert "Gitte Meriläinen" in answer.inner_text() and answer.locator('a[href^="#elmo-cite-"]').count() >= 1
    page.screenshot(path=str(shots / "chat-en.png"))

    page.get_by_label("Suomi").check()  # the switch relabels the interface
    page.get_by_role("tab", name="Keskustelu").wait_for()
    assert page.locator("#elmo-send").inner_text() == "Kysy"
    assert page.locator("#elmo-sources h2").inner_text() == "Lähteet"


def test_refusal(fi_page: Page, shots: Path) -> None:
    answer = fi_page.ask("Mikä on Oulun väkiluku?")
    assert answer.locator(".elmo-badge-nothing").inner_text() == "Lähteistä ei löytynyt vastausta"
    assert "En löydä lähteistä vastausta" in answer.inner_text()
    # the closest passages are listed, each with its citation opening its card in the sources panel
    assert "Lähimmät kohdat:" in answer.inner_text()
    cited = set(answer.locator('a[href^="#elmo-cite-"]').evaluate_all("els => els.map(a => a.getAttribute('href'))"))
    cards = fi_page.page.locator("#elmo-sources .elmo-turn.current article.elmo-passage")
    shown = {"#" + i for i in cards.evaluate_all("els => els.map(e => e.id)")}
    assert cited and cited == shown, (cited, shown)
    fi_page.page.screenshot(path=str(shots / "refusal.png"))


def test_admin_upload_then_answered_and_shown_as_text(
    fi_page: Page, server: Server, shots: Path, tmp_path: Path
) -> None:
    page = fi_page.page
    new_doc = tmp_path / "kajaanin-innovaatiokeskus.txt"
    new_doc.write_text(NEW_DOC, encoding="utf-8")
    hostile = tmp_path / "turvallisuustesti.md"
    hostile.write_text(HOSTILE_DOC, encoding="utf-8")
    uploads = server.sources / "uploads"

    page.get_by_role("tab", name="Tietopankki").click()
    page.locator("#elmo-kb-table table").wait_for()
    assert "Elinkeinot murroksessa" in page.locator("#elmo-kb-table").inner_text()
    page.locator("#elmo-files input[type=file]").set_input_files([str(new_doc), str(hostile)])
    page.locator("#elmo-files", has_text="turvallisuustesti").wait_for()  # shown as "turvallisuustesti" ".md"

    out = page.locator("#elmo-admin-out")
    page.locator("#elmo-upload").click()  # no token
    out.locator("text=Anna ylläpitäjän tunnus.").wait_for()
    page.locator("#elmo-token input").fill("väärä")
    page.locator("#elmo-upload").click()
    out.locator("text=Ylläpitäjän tunnus on väärä.").wait_for()
    assert not uploads.exists() or not any(uploads.iterdir())

    page.locator("#elmo-token input").fill(TOKEN)
    page.locator("#elmo-upload").click()
    out.locator("text=Päivitys valmis").wait_for(timeout=90_000)
    assert "kajaanin-innovaatiokeskus.txt" in out.inner_text()
    table = page.locator("#elmo-kb-table")
    table.locator("text=uploads/kajaanin-innovaatiokeskus.txt").wait_for()
    assert (uploads / "kajaanin-innovaatiokeskus.txt").read_text(encoding="utf-8") == NEW_DOC
    assert "<img" in table.inner_text()  # the hostile title, shown as text
    page.screenshot(path=str(shots / "knowledge-base.png"), full_page=True)

    page.get_by_role("tab", name="Keskustelu").click()
    answer = fi_page.ask("Kuka on Kajaanin innovaatiokeskuksen johtaja?")
    assert "Aino Virtanen" in answer.inner_text()

    answer = fi_page.ask("Mikä on turvallisuustestin muistion tarkistuskoodi?")
    text = answer.inner_text()
    assert "<script>window.__pwned=1</script>" in text and 'onerror="window.__pwned=2"' in text
    assert "![seuranta](http://127.0.0.1:9/track.png)" in text and "{{value}}" in text
    answer.locator('a[href^="#elmo-cite-"]').first.click()
    active = page.locator("#elmo-sources .elmo-passage.active")
    active.wait_for()
    assert "<script>window.__pwned=1</script>" in " ".join(active.locator("mark").all_inner_texts())
    assert "<img" in active.locator(".elmo-title").inner_text()

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('#elmo-chat a[href^="javascript:"], #elmo-chat a[href*="track.png"]').count() == 0
    assert not [u for u in fi_page.requests if "track.png" in u or u.endswith("/x")]
