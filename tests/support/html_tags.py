"""Markup read back as the browser's parser sees it: the start tags with their attributes, and the text."""

from __future__ import annotations

import html.parser


class ParsedHtml(html.parser.HTMLParser):
    """``tags``: every start tag (self-closing ones too: the parser's default reports them as start tags)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(markup: str) -> ParsedHtml:
    parsed = ParsedHtml()
    parsed.feed(markup)
    parsed.close()
    return parsed
