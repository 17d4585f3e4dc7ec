"""HTML pages: the main content as paragraphs (navigation, scripts and page chrome dropped), and the title."""

from __future__ import annotations

import codecs
import html as html_mod
import logging
import re
import warnings

from assistant.knowledge.loaders.base import Loaded, LoadError
from assistant.knowledge.loaders.text import BINARY, decode_text

log = logging.getLogger(__name__)

_HTML_DROP_TAGS = frozenset(
    "script style noscript template svg nav header footer aside form iframe head "
    "button select option object embed canvas dialog".split()
)
_HTML_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo"})
_HTML_DROP_ATTR_RE = re.compile(r"(?:^|[\s_-])(?:nav|menu|breadcrumb|cookie|footer|sidebar)", re.I)
_HTML_BLOCK_TAGS = frozenset(
    "p div section article main h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr table thead tbody tfoot "
    "blockquote pre figure figcaption address hr caption details summary body center fieldset "
    "legend".split()
)
_HTML_NEVER_DROP = frozenset({"html", "body", "main", "article"})
_META_CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)

_PARA = object()  # paragraph break token
_CELL = object()  # table-cell separator token


def _decode_html(data: bytes, charset: str | None) -> str:
    if not charset:
        m = _META_CHARSET_RE.search(data[:8192])
        if m:
            try:
                charset = codecs.lookup(m.group(1).decode("ascii", "ignore")).name
            except LookupError:
                charset = None
    return decode_text(data, charset)


def _attr_text(value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value) if value is not None else ""


def _is_dropped(tag: object, strict: bool) -> bool:
    name = getattr(tag, "name", None)
    if name in _HTML_DROP_TAGS:
        return True
    if not strict or name in _HTML_NEVER_DROP:
        return False
    attrs = getattr(tag, "attrs", None) or {}
    if str(attrs.get("role", "")).strip().lower() in _HTML_DROP_ROLES:
        return True
    if attrs.get("aria-hidden") == "true":
        return True
    for key in ("class", "id"):
        if key in attrs and _HTML_DROP_ATTR_RE.search(_attr_text(attrs[key])):
            return True
    return False


def _html_tokens(root: object, strict: bool) -> list[object]:
    """Walk the tree with an explicit stack (no recursion) and emit text/break tokens."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    skip_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    out: list[object] = []
    # stack items: (node, entering, in_pre)
    stack: list[tuple[object, bool, bool]] = [(root, True, False)]
    while stack:
        node, entering, in_pre = stack.pop()
        if isinstance(node, NavigableString):
            if isinstance(node, skip_strings):
                continue
            s = str(node)
            out.append(s if in_pre else re.sub(r"\s+", " ", s))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if not entering:
            if name in _HTML_BLOCK_TAGS:
                out.append(_PARA)
            continue
        if node is not root and _is_dropped(node, strict):
            continue
        if name == "br":
            out.append("\n")
            continue
        if name in _HTML_BLOCK_TAGS:
            out.append(_PARA)
        if name == "li":
            out.append("- ")
        elif name in ("td", "th"):
            out.append(_CELL)
        elif name == "img":
            alt = str(node.get("alt") or "").strip()
            if alt:
                out.append(f" {alt} ")
        child_pre = in_pre or name in ("pre", "textarea")
        stack.append((node, False, in_pre))
        for child in reversed(node.contents):
            stack.append((child, True, child_pre))
    return out


def _assemble(tokens: list[object]) -> str:
    blocks: list[str] = []
    cur: list[str] = []

    def flush() -> None:
        if cur:
            lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", ln).strip() for ln in "".join(cur).split("\n"))
            block = "\n".join(ln for ln in lines if ln and ln not in ("-", "|"))
            if block and block != "- ":
                blocks.append(block)
            cur.clear()

    for tok in tokens:
        if tok is _PARA:
            flush()
        elif tok is _CELL:
            if "".join(cur).strip():
                cur.append(" | ")
        else:
            cur.append(str(tok))
    flush()
    # drop list bullets that ended up without any text
    return "\n\n".join(b for b in blocks if b.strip("- |"))


def _regex_strip_html(html: str) -> str:
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    html = re.sub(
        r"(?is)<(head|script|style|noscript|template|svg|nav|header|footer|aside|form|iframe)\b.*?</\1\s*>",
        " ",
        html,
    )
    html = re.sub(r"(?i)<br\s*/?>", "\n", html)
    html = re.sub(r"(?i)</?(p|div|section|article|li|h[1-6]|tr|table|ul|ol|blockquote)\b[^>]*>", "\n\n", html)
    text = re.sub(r"(?s)<[^>]*>", " ", html)
    text = html_mod.unescape(text)
    paras = []
    for para in re.split(r"\n\s*\n", text):
        lines = [re.sub(r"[ \t\r\f\v\xa0]+", " ", ln).strip() for ln in para.split("\n")]
        para = "\n".join(ln for ln in lines if ln)
        if para:
            paras.append(para)
    return "\n\n".join(paras)


def _html_title(soup: object) -> str | None:
    find = soup.find  # type: ignore[attr-defined]
    for tag_name in ("title", "h1"):
        tag = find(tag_name)
        if tag is not None:
            title = " ".join(tag.get_text(" ").split())
            if title:
                return title
    return None


def _html_root(soup: object) -> object:
    find = soup.find  # type: ignore[attr-defined]
    main = find("main") or find(attrs={"role": "main"})
    if main is not None:
        return main
    articles = soup.find_all("article", limit=2)  # type: ignore[attr-defined]
    if len(articles) == 1:
        return articles[0]
    return find("body") or soup


def load_html(data: bytes, charset: str | None) -> Loaded:
    html = _decode_html(data, charset)
    if "\x00" in html[:65536]:
        raise LoadError(BINARY)
    title: str | None = None
    try:
        from bs4 import BeautifulSoup

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "lxml")
        title = _html_title(soup)
        root = _html_root(soup)
        text = _assemble(_html_tokens(root, strict=True))
        if not text:
            # class-name heuristics can be too eager (e.g. <div class="has-sidebar"> wrapping everything)
            text = _assemble(_html_tokens(root, strict=False))
    except RecursionError:
        log.warning("HTML too deeply nested for the parser; falling back to tag stripping")
        text = _regex_strip_html(html)
        if title is None:
            m = re.search(r"(?is)<title[^>]*>(.*?)</title>", html)
            title = (" ".join(m.group(1).split()) or None) if m else None
    if not text.strip():
        raise LoadError("HTML page has no text content")
    return Loaded(text=text, pages=[], title=title, kind="html", content_type="text/html")
