"""Saved conversations, clean copy and the feedback box in a real browser: Playwright + Debian's Chromium against
`assistant serve` (the server of tests/system/test_ui_browser.py, with its own sources and index)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_ui_browser import BOT, CHROMIUM, QUESTION, server  # noqa: F401 - fixtures
from test_ui_browser import Server as LiveServer

from assistant.feedback import FeedbackStore

PM = "Kuka on ELMO-pilotin projektipäällikkö?"
PHONE = "Mikä hänen puhelinnumeronsa on?"
USER = '#elmo-chat [data-testid="user"]'

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class Tab:
    def __init__(self, browser: Any, url: str):  # noqa: F811 - the fixture's value
        self.url = url
        self.context = browser.new_context(locale="fi-FI", viewport={"width": 1280, "height": 900})
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.open()

    def open(self) -> None:
        self.page.goto(self.url + "/", wait_until="domcontentloaded")
        self.page.locator(QUESTION).wait_for()
        self.page.locator("#elmo-history button.label-wrap").click()  # the past conversations, opened
        self.page.locator("#elmo-history-list").wait_for()

    def ask(self, question: str) -> Any:
        self.page.locator(QUESTION).fill(question)
        self.page.locator(QUESTION).press("Enter")
        self.page.locator("#elmo-sources .elmo-turn.current .elmo-asked", has_text=question).wait_for()
        self.page.locator("#elmo-export a").wait_for()  # saved
        return self.page.locator(BOT).last

    def history(self) -> Any:
        return self.page.locator("#elmo-history-list")

    def close(self) -> None:
        assert not self.errors, self.errors
        self.context.close()


@pytest.fixture
def tab(browser: Any, server: LiveServer) -> Iterator[Tab]:  # noqa: F811
    t = Tab(browser, server.url)
    yield t
    t.close()


def test_conversation_persists_and_is_managed(tab: Tab, browser: Any, server: LiveServer) -> None:  # noqa: F811
    page = tab.page
    tab.ask(PM)
    tab.open()  # reload: the chat shows the last conversation again
    page.locator(BOT, has_text="Gitte Meriläinen").first.wait_for()
    assert page.locator(USER).count() == 1
    follow = tab.ask(PHONE)  # the restored conversation is the context of a follow-up
    assert "6854" in follow.inner_text()

    # a long answer opens at its start: its question is at the top of the chat box (or the box is at its end
    # with the question in view), where Gradio's autoscroll would show the answer's end
    tab.ask("Mitkä ovat Itä- ja Pohjois-Suomen älykkään erikoistumisen strategian painopisteet?")
    page.wait_for_timeout(300)
    geometry = page.evaluate(
        """() => { const u = [...document.querySelectorAll('#elmo-chat [data-testid="user"]')].pop();
        let box = u.parentElement;
        while (!(box.scrollHeight > box.clientHeight + 1 && getComputedStyle(box).overflowY !== 'visible'))
          box = box.parentElement;
        const b = box.getBoundingClientRect();
        return {top: u.getBoundingClientRect().top - b.top, height: b.height,
                atEnd: box.scrollTop + box.clientHeight >= box.scrollHeight - 2,
                bot: [...document.querySelectorAll('#elmo-chat [data-testid="bot"]')].pop().getBoundingClientRect().height};
        }"""
    )
    assert geometry["bot"] > 200, geometry  # a long answer, or the check proves nothing
    assert 0 <= geometry["top"] < geometry["height"] and (geometry["top"] <= 40 or geometry["atEnd"]), geometry

    # rename, then export with the cited passages; another browser gets nothing
    tab.history()
    page.locator("#elmo-title-box input, #elmo-title-box textarea").first.fill("Projektipäällikkö ja puhelin")
    page.locator("#elmo-rename").click()
    page.locator("#elmo-chat-status", has_text="Nimi tallennettu").wait_for()
    assert "Projektipäällikkö ja puhelin" in page.locator("#elmo-history-list input").input_value()
    href = page.locator("#elmo-export a").get_attribute("href")
    assert href and href.startswith("conversations/")
    exported = page.request.get(f"{tab.url}/{href}")
    assert exported.status == 200
    md = exported.text()
    assert md.startswith("# Projektipäällikkö ja puhelin") and f"## Kysymys: {PHONE}" in md and md.count("## K") == 3
    assert "> " in md and "Gitte Meriläinen" in md and "[1] Elinkeinot murroksessa" in md
    stranger = browser.new_context()
    try:
        stranger.new_page().goto(tab.url + "/")
        assert stranger.request.get(f"{tab.url}/{href}").status == 404
    finally:
        stranger.close()
    assert httpx.get(f"{tab.url}/{href}").status_code == 404  # no cookie at all

    # "Uusi keskustelu" empties the chat (the conversation stays in the list); undo brings it back once
    page.locator("#elmo-new").click()
    page.locator(BOT).first.wait_for(state="detached")
    page.locator("#elmo-undo").click()
    page.locator(BOT, has_text="6854").first.wait_for()
    assert page.locator("#elmo-undo").is_hidden()

    # delete (the trash) takes it out of the list; undo restores it, also after a reload
    page.locator("#elmo-delete").click()
    page.locator(BOT).first.wait_for(state="detached")
    page.locator("#elmo-undo").click()
    page.locator(BOT, has_text="6854").first.wait_for()
    tab.open()
    page.locator(BOT, has_text="6854").first.wait_for()
    tab.history()
    page.locator("#elmo-delete").click()
    page.locator(BOT).first.wait_for(state="detached")
    tab.open()
    page.wait_for_timeout(1500)
    assert page.locator(BOT).count() == 0  # deleted for good once not undone


def test_switch_between_conversations(tab: Tab) -> None:
    page = tab.page
    tab.ask(PM)
    page.locator("#elmo-new").click()
    page.locator(BOT).first.wait_for(state="detached")
    tab.ask("Mitkä maakunnat valittiin ELMO-pilottiin?")
    tab.history().locator("input").click()
    page.get_by_role("option", name=re.compile(re.escape(PM))).click()
    page.locator(USER, has_text=PM).wait_for()
    assert page.locator(USER).count() == 1


def test_copy_gives_plain_text_with_sources(tab: Tab) -> None:
    page = tab.page
    answer = tab.ask(PM)
    answer.hover()
    page.locator("#elmo-chat").get_by_role("button", name=re.compile("copy|kopioi", re.I)).last.click()
    page.locator("#elmo-chat-status", has_text="kopioitiin").wait_for()
    server_text = page.locator("#elmo-copy-text textarea").input_value()
    page.wait_for_function("async (t) => (await navigator.clipboard.readText()) === t", arg=server_text)
    assert "Gitte Meriläinen" in server_text and "\n\nLähteet:\n[1] Elinkeinot murroksessa" in server_text
    for internal in ("elmo-badge", "#elmo-cite", "](", "<span", "\\["):
        assert internal not in server_text


def test_feedback_box_and_over_long_question(tab: Tab, server: LiveServer) -> None:  # noqa: F811
    page = tab.page
    db = server.index / "feedback.sqlite"
    before = {r["id"] for r in FeedbackStore(db).all()}
    tab.ask(PM)
    page.get_by_role("button", name=re.compile(r"^(Tykkää|Like)$")).last.click()
    box = page.locator("#elmo-comment textarea")
    box.wait_for()
    box.fill("Hyvä vastaus.")
    page.locator("#elmo-comment-send").click()
    page.locator("#elmo-feedback-msg", has_text="Kommentti tallennettu").wait_for()
    box.wait_for(state="hidden")  # the box closes after sending

    # rated, box open, no comment sent: the next question closes the box, so no later comment lands here
    tab.ask(PHONE)
    page.get_by_role("button", name=re.compile(r"^(En tykkää|Dislike)$")).last.click()
    box.wait_for()
    tab.ask("Mitkä maakunnat valittiin ELMO-pilottiin?")
    box.wait_for(state="hidden")
    rows = [r for r in FeedbackStore(db).all() if r["id"] not in before]
    assert [(r["question"], r["rating"], r["comment"]) for r in rows] == [
        (PM, "up", "Hyvä vastaus."),
        (PHONE, "down", None),
    ]

    long = "Kuka on projektipäällikkö " + "ja " * 900  # ~2,700 characters
    page.locator(QUESTION).fill(long)
    page.locator(QUESTION).press("Enter")
    page.locator(BOT, has_text=f"liian pitkä ({len(long.strip())} merkkiä; enintään 2000)").wait_for()
    assert page.locator(QUESTION).input_value() == long  # kept whole to be shortened, not cut at 2,000
