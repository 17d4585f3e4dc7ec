"""The README's pictures of the web chat, light and dark, desktop (1366 px) and phone (375 px), taken from a
real server on a copy of knowledge/ with Debian's Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.ui_pages import ASKED, ask, open_page, show_kb, show_passage  # noqa: E402
from support.ui_server import build_index, chromium, serving  # noqa: E402

REFUSED = "Mikä on Oulun väkiluku?"
ENGLISH = "Who is the project manager of the ELMO pilot?"


def take(browser: Any, url: str, out: Path) -> list[Path]:
    shots: list[Path] = []

    def snap(page: Any, name: str, full: bool = False) -> None:
        page.wait_for_timeout(400)
        shots.append(out / f"{name}.png")
        page.screenshot(path=str(shots[-1]), full_page=full)
        page.context.close()

    for scheme, suffix in (("light", ""), ("dark", "-dark")):
        page = open_page(browser, url, scheme=scheme)
        show_passage(page, ASKED)
        snap(page, f"passage{suffix}")
        page = open_page(browser, url, scheme=scheme, width="mobile")
        ask(page, ASKED)
        page.locator('#elmo-chat a[href^="#elmo-cite-"]').last.scroll_into_view_if_needed()
        snap(page, f"mobile{suffix}")
        page = open_page(browser, url, scheme=scheme, width="mobile")
        show_passage(page, ASKED)
        snap(page, f"mobile-passage{suffix}")
        page = open_page(browser, url, scheme=scheme)
        show_kb(page)
        snap(page, f"knowledge-base{suffix}", full=True)
    page = open_page(browser, url, locale="en-US")
    page.get_by_role("tab", name="Chat").wait_for()
    show_passage(page, ENGLISH)
    snap(page, "chat-en")
    page = open_page(browser, url)
    ask(page, REFUSED)
    snap(page, "refusal")
    return shots


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sources, index = build_index(Path(tmp))
        with serving(sources, index, "screenshot-token") as server, chromium() as browser:
            for path in take(browser, server.url, args.out):
                print(path)


if __name__ == "__main__":
    main()
