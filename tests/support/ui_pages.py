"""The web chat's states that the accessibility tests, the axe audit and the README screenshots visit:
the empty chat, an answer with its cited passage open, and the knowledge-base tab — in a light or dark
colour scheme, at desktop or phone width."""

from __future__ import annotations

from typing import Any

QUESTION = "#elmo-question textarea"
BOT = '#elmo-chat [data-testid="bot"]'
CITE = '#elmo-chat a[href^="#elmo-cite-"]'
ASKED = "Kuka on ELMO-pilotin projektipäällikkö?"
WIDTHS = {"desktop": (1366, 900), "mobile": (375, 812)}
SERIOUS = ("serious", "critical")


def open_page(
    browser: Any, url: str, *, scheme: str = "light", width: str = "desktop", locale: str = "fi-FI"
) -> Any:
    w, h = WIDTHS[width]
    context = browser.new_context(
        locale=locale,
        color_scheme=scheme,
        viewport={"width": w, "height": h},
        has_touch=width == "mobile",  # not is_mobile: Chromium would widen the layout viewport to the content
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url + "/", wait_until="domcontentloaded")
    page.locator(QUESTION).wait_for()
    page.locator("#elmo-title h1").wait_for()
    return page


def ask(page: Any, question: str) -> Any:
    """Asks and waits for the whole answer (the sources panel is updated with the final answer)."""
    page.locator(QUESTION).fill(question)
    page.locator(QUESTION).press("Enter")
    page.locator("#elmo-sources .elmo-turn.current .elmo-asked", has_text=question).wait_for()
    return page.locator(BOT).last


def show_passage(page: Any, question: str = ASKED) -> Any:
    """An answer with its first citation opened; returns the open passage card."""
    answer = ask(page, question)
    answer.locator('a[href^="#elmo-cite-"]').first.click()
    card = page.locator("#elmo-sources .elmo-passage.active")
    card.wait_for()
    return card


def show_kb(page: Any) -> Any:
    page.get_by_role("tab").nth(1).click()
    page.locator("#elmo-kb-table table").wait_for()
    page.wait_for_timeout(400)  # the tab fades in: colours measured mid-fade are not the page's
    return page.locator("#elmo-kb-table")


def overflow(page: Any) -> int:
    """How many pixels the page scrolls sideways (0 when it does not)."""
    return int(page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the bundled axe.min.js: no network)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


def summary(violations: list[dict[str, Any]], impacts: tuple[str, ...] = ()) -> list[str]:
    """``rule (impact) ×nodes: first target`` lines, only the given impacts when any are given."""
    return [
        f"{v['id']} ({v['impact']}) ×{len(v['nodes'])}: "
        + ", ".join(str(n["target"][-1]) for n in v["nodes"][:6])
        for v in violations
        if not impacts or v["impact"] in impacts
    ]
