"""WCAG 2.1 AA and phone widths in a real browser: axe-core (the copy bundled in axe-playwright-python, no
network) on the empty chat, an answer with its passage open and the knowledge-base tab, in light and dark, at
1366 px and 375 px; keyboard and screen-reader behaviour of the citations; the public knowledge-base tab."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ui_pages import (
    ASKED,
    BOT,
    SERIOUS,
    ask,
    axe,
    open_page,
    overflow,
    show_kb,
    show_passage,
    summary,
)
from support.ui_server import CHROMIUM, Server, build_index, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

STATES = {"chat": lambda page: None, "passage": show_passage, "kb": show_kb}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_index(tmp_path_factory.mktemp("a11y"))


@pytest.fixture(scope="module")
def server(index: tuple[Path, Path]) -> Iterator[Server]:
    with serving(*index, admin_token="a11y-token") as running:
        yield running


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    scheme, width = getattr(request, "param", ("light", "desktop"))
    opened = open_page(browser, server.url, scheme=scheme, width=width)
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    opened.context.close()
    assert not errors, errors


@pytest.mark.parametrize("width", ["desktop", "mobile"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("state", list(STATES))
def test_axe_finds_no_serious_violation(
    browser: Any, server: Server, state: str, scheme: str, width: str
) -> None:
    page = open_page(browser, server.url, scheme=scheme, width=width)
    try:
        STATES[state](page)
        page.wait_for_timeout(300)  # let transitions (tab underline, panel scroll) settle
        found = summary(axe(page), SERIOUS)
        assert found == [], f"{state}/{scheme}/{width}: {found}"
        assert overflow(page) == 0, "the page scrolls sideways"
    finally:
        page.context.close()


@pytest.mark.parametrize("page", [("dark", "mobile")], indirect=True)
def test_phone_drawer_and_back_to_the_answer(page: Any) -> None:
    header = page.locator("#elmo-header").bounding_box()
    lang = page.locator("#elmo-lang").bounding_box()
    assert lang["y"] > header["y"] + 40, "the language switch sits under the title at 375 px"
    card = show_passage(page)
    marker = page.locator(BOT).last.locator('a[href^="#elmo-cite-"]').first
    panel = page.locator("#elmo-sources")
    assert panel.evaluate("e => getComputedStyle(e).position") == "fixed"  # a drawer over the chat
    assert card.locator("mark").first.is_visible()
    assert page.evaluate("document.activeElement.id") == card.get_attribute("id")
    back = page.get_by_role("button", name="← Takaisin vastaukseen")
    assert back.is_visible()
    back.click()
    assert page.evaluate("document.activeElement.getAttribute('href')") == marker.get_attribute("href")
    assert panel.evaluate("e => getComputedStyle(e).position") != "fixed"
    assert back.is_hidden()
    assert marker.is_visible()


def test_passages_by_keyboard_and_announced(page: Any) -> None:
    ask(page, ASKED)
    card = page.locator("#elmo-sources .elmo-passage").first
    assert card.get_attribute("tabindex") == "0"
    assert "active" not in (card.get_attribute("class") or "")
    card.focus()
    page.keyboard.press("Enter")
    page.locator("#elmo-sources .elmo-passage.active").wait_for()
    live = page.locator("#elmo-live")
    assert live.get_attribute("aria-live") == "polite"
    assert live.inner_text().startswith("Lähde 1 avattu: Elinkeinot murroksessa")
    context = card.locator(".elmo-context")
    assert context.get_attribute("tabindex") == "0"  # the scrollable passage is reachable too


def test_plain_text_labels_in_the_ui_language(page: Any) -> None:
    answer = ask(page, ASKED)
    marker = answer.locator('a[href^="#elmo-cite-"]').first
    assert marker.get_attribute("aria-label") == "lähde 1"
    assert page.get_by_role("link", name="lähde 1").count() >= 1
    labels = page.evaluate(
        "[...document.querySelectorAll('#elmo-chat [aria-label]')].map(e => e.getAttribute('aria-label'))"
    )
    assert not [x for x in labels if "](#" in x or "\\[" in x], labels  # no raw Markdown read aloud
    assert page.get_by_role("button", name="Kopioi viesti").count() >= 1
    assert page.get_by_role("button", name="Copy message").count() == 0
    page.get_by_role("button", name=re.compile(r"^(Tykkää|Like)$")).last.click()
    liked = page.get_by_role("button", name="Tykkää (valittu)")
    liked.wait_for()
    assert liked.get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="Liked").count() == 0


def test_html_lang_follows_the_switch(page: Any) -> None:
    assert page.evaluate("document.documentElement.lang") == "fi"
    page.get_by_label("English").check()
    page.get_by_role("tab", name="Chat").wait_for()
    page.wait_for_function("document.documentElement.lang === 'en'")
    page.get_by_label("Svenska").check()
    page.get_by_role("tab", name="Chatt").wait_for()
    page.wait_for_function("document.documentElement.lang === 'sv'")


def test_the_cited_sentence_is_highlighted_not_the_chunk(page: Any) -> None:
    card = show_passage(page, "Mitkä maakunnat valittiin ELMO-pilottiin?")
    marked = " ".join(card.locator("mark").all_inner_texts())
    assert "seitsemän maakuntaa" in marked
    # the chunk starts with the document's headings: shown, but not highlighted
    assert "Elinkeinot murroksessa" in card.locator(".elmo-context").inner_text()
    assert "Elinkeinot murroksessa" not in marked and "\n\n" not in marked


@pytest.mark.parametrize("page", [("light", "desktop")], indirect=True)
def test_kb_headings_in_order(page: Any) -> None:
    show_kb(page)
    levels = page.evaluate(
        "[...document.querySelectorAll('h1,h2,h3,h4')].filter(h => h.offsetParent).map(h => h.tagName)"
    )
    assert levels[0] == "H1" and "H3" not in levels[: levels.index("H2") + 1], levels


@pytest.fixture(scope="module")
def public_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(*build_index(tmp_path_factory.mktemp("public")), admin_token=None) as running:
        yield running


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_public_kb_has_no_admin_controls(browser: Any, public_server: Server, scheme: str) -> None:
    page = open_page(browser, public_server.url, scheme=scheme, width="mobile")
    try:
        table = show_kb(page)
        assert "Elinkeinot murroksessa" in table.inner_text()
        body = page.locator("body").inner_text()
        assert "ASSISTANT_ADMIN_TOKEN" not in body and "Ylläpito" not in body
        for control in ("#elmo-token", "#elmo-files", "#elmo-upload", "#elmo-refresh"):
            assert page.locator(control).is_hidden(), control
        assert "ASSISTANT_ADMIN_TOKEN" not in page.content()
        assert summary(axe(page), SERIOUS) == []
        assert overflow(page) == 0
    finally:
        page.context.close()


def test_example_questions_follow_the_ui_language(page: Any) -> None:
    """The example buttons are relabelled on a switch, and a click asks the server's example in that language."""
    assert page.get_by_role("button", name="Kuka on ELMO-pilotin projektipäällikkö?").count() == 1
    page.get_by_label("Svenska").check()
    example = page.get_by_role("button", name="Vem är projektledare för ELMO-piloten?")
    example.wait_for()
    assert page.get_by_role("button", name="Kuka on ELMO-pilotin projektipäällikkö?").count() == 0
    example.click()
    page.locator("#elmo-sources .elmo-turn.current .elmo-asked", has_text="Vem är projektledare").wait_for()
    assert "Meriläinen" in page.locator(BOT).last.inner_text()
