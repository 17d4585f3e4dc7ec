"""Runs axe-core on the web chat's states (empty chat, an open passage, the knowledge-base tab) in light
and dark, at 1366 px and 375 px, and prints the violations by rule and impact and the sideways overflow.

    .venv/bin/python scripts/axe_audit.py [--public] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.ui_pages import axe, open_page, overflow, show_kb, show_passage, summary  # noqa: E402
from support.ui_server import build_index, chromium, serving  # noqa: E402

STATES = {"chat": lambda page: None, "passage": show_passage, "kb": show_kb}


def audit(url: str) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    with chromium() as browser:
        for scheme in ("light", "dark"):
            for width in ("desktop", "mobile"):
                for name, go in STATES.items():
                    page = open_page(browser, url, scheme=scheme, width=width)
                    go(page)
                    page.wait_for_timeout(300)
                    key = f"{name}/{scheme}/{width}"
                    results[key] = {"violations": summary(axe(page)), "overflow_px": overflow(page)}
                    page.context.close()
                    print(key, json.dumps(results[key], ensure_ascii=False), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--public", action="store_true", help="no admin token (the public KB tab)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sources, index = build_index(Path(tmp))
        with serving(sources, index, None if args.public else "audit-token") as server:
            results = audit(server.url)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
