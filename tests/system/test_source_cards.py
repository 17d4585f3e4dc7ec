"""Source cards under each answer and the hover / focus / long-press preview of [n], in a real browser
(Chromium via Playwright) against `assistant serve` on a copy of knowledge/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ui_pages import ASKED, ask, open_page
from support.ui_server import CHROMIUM, Server, build_index, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

MARKER = 'a[href^="#elmo-cite-"]:not(.elmo-card-link)'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(*build_index(tmp_path_factory.mktemp("cards")), admin_token=None) as running:
        yield running


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    width = getattr(request, "param", "desktop")
    opened = open_page(browser, server.url, width=width)
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    opened.context.close()
    assert not errors, errors


def _words(text: str) -> set[str]:
    return {w.strip(".,:;()[]…").lower() for w in text.split()} - {""}


def test_cards_under_the_answer_show_title_and_cited_sentence(page: Any) -> None:
    answer = ask(page, ASKED)
    cards = answer.locator(".elmo-card")
    cards.first.wait_for()
    markers = answer.locator(MARKER)
    cited = {m.get_attribute("href") for m in markers.all()}
    links = answer.locator(".elmo-card a.elmo-card-link")
    assert {link.get_attribute("href") for link in links.all()} == cited  # one card per cited source
    assert answer.get_by_role("list", name="Lähteet").count() == 1  # a labelled list
    panel_title = page.locator("#elmo-sources .elmo-turn.current .elmo-title").first.inner_text()
    first = cards.first
    assert first.locator(".elmo-card-link").inner_text().startswith("[1] ")
    assert panel_title.split(":", 1)[-1].strip() in first.locator(".elmo-card-link").inner_text()
    quote = first.locator(".elmo-card-quote mark").inner_text()
    # the card's sentence is the one the answer quotes: the cited stretch of the answer is in it
    answer_text = answer.inner_text().split("Lähteet")[0]
    stretch = answer_text.split("[1]")[0].strip().splitlines()[-1]
    assert len(_words(stretch) & _words(quote)) >= 0.6 * len(_words(stretch)), (stretch, quote)
    # the same sentence(s) the passage viewer highlights
    marked = page.locator("#elmo-sources .elmo-turn.current .elmo-passage").first.locator("mark").all_inner_texts()
    assert " ".join(" ".join(marked).split()) == quote
    # keyboard reachable, and it opens the passage like the marker does
    first.locator(".elmo-card-link").focus()
    page.keyboard.press("Enter")
    active = page.locator("#elmo-sources .elmo-passage.active")
    active.wait_for()
    assert active.get_attribute("id") == first.locator(".elmo-card-link").get_attribute("href")[1:]


def test_hovering_a_marker_previews_the_source_and_escape_dismisses_it(page: Any) -> None:
    answer = ask(page, ASKED)
    marker = answer.locator(MARKER).first
    card = answer.locator(".elmo-card").first
    preview = page.locator("#elmo-preview")
    assert preview.is_hidden()
    marker.hover()
    preview.wait_for(state="visible")
    assert preview.get_attribute("role") == "tooltip"
    assert marker.get_attribute("aria-describedby") == "elmo-preview"
    text = preview.inner_text()
    assert card.locator(".elmo-card-link").inner_text() in text
    assert card.locator(".elmo-card-quote").inner_text() in text
    box, anchor = preview.bounding_box(), marker.bounding_box()
    assert abs(box["y"] - (anchor["y"] + anchor["height"])) < 40 or box["y"] + box["height"] <= anchor["y"]
    page.keyboard.press("Escape")
    preview.wait_for(state="hidden")
    # the click still opens the passage
    marker.click()
    page.locator("#elmo-sources .elmo-passage.active").wait_for()
    assert page.locator("#elmo-sources .elmo-passage.active").get_attribute("id") == marker.get_attribute("href")[1:]


def test_keyboard_focus_previews_too(page: Any) -> None:
    answer = ask(page, ASKED)
    marker = answer.locator(MARKER).first
    marker.focus()
    preview = page.locator("#elmo-preview")
    preview.wait_for(state="visible")
    assert answer.locator(".elmo-card-quote").first.inner_text() in preview.inner_text()
    page.keyboard.press("Escape")
    preview.wait_for(state="hidden")


@pytest.mark.parametrize("page", ["mobile"], indirect=True)
def test_long_press_previews_without_opening_and_a_tap_opens(page: Any) -> None:
    answer = ask(page, ASKED)
    marker = answer.locator(MARKER).first
    marker.scroll_into_view_if_needed()
    box = marker.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    fire = """([x, y, type]) => {
      const el = document.elementFromPoint(x, y);
      el.dispatchEvent(new PointerEvent(type, {bubbles: true, pointerType: 'touch', clientX: x, clientY: y}));
      if (type === 'pointerup') el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
    }"""
    page.evaluate(fire, [x, y, "pointerdown"])
    preview = page.locator("#elmo-preview")
    preview.wait_for(state="visible")
    page.evaluate(fire, [x, y, "pointerup"])
    page.wait_for_timeout(200)
    assert page.locator("#elmo-sources .elmo-passage.active").count() == 0  # the long press only previewed
    assert preview.is_visible()
    marker.tap()
    page.locator("#elmo-sources .elmo-passage.active").wait_for()
