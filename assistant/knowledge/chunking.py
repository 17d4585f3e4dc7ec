"""Sentence-aware chunks with stable ids, offsets into the original text and page numbers.

Our own splitter rather than llama-index's SentenceSplitter: that one counts tokens, not characters,
loses the Finnish abbreviations (it ends sentences after "mm.", "puh.") and cannot give offsets into the
original (pre-normalisation) text, which citations need.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass

from assistant.text.normalise import Normalised
from assistant.text.sentences import ABBREVIATIONS, split_sentences

CHUNKER_VERSION = "3"  # 2: pieces of over-long sentences trimmed, not cut after an abbreviation; 3: ``continues``


@dataclass(frozen=True)
class Chunk:
    id: str
    index: int
    text: str  # normalised text of the chunk
    start: int  # offsets into the ORIGINAL extracted text
    end: int
    page: int | None
    text_hash: str
    # the chunk goes on with the paragraph its predecessor ended in (no blank line, no page break between
    # them): retrieval joins two such neighbours when it finds both
    continues: bool = False


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def source_key_hash(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:10]


def _page_of(pages: list[tuple[int, int, int]], starts: list[int], orig_pos: int) -> int | None:
    if not pages:
        return None
    i = bisect.bisect_right(starts, orig_pos) - 1
    return pages[max(i, 0)][2]


def _cut_at(text: str, lo: int, hi: int) -> int:
    """The last space in ``text[lo:hi]``, preferring one that does not follow an abbreviation, so that
    "puh. 040 …" or "mm. Kainuu" are not torn apart; -1 when there is no space."""
    first = -1
    pos = hi
    while (cut := max(text.rfind(" ", lo, pos), text.rfind("\n", lo, pos))) >= 0:
        if first < 0:
            first = cut
        word_start = cut
        while word_start > 0 and not text[word_start - 1].isspace():
            word_start -= 1
        word = text[word_start:cut]
        if not (word.endswith(".") and word[:-1].lower() in ABBREVIATIONS):
            return cut
        pos = cut
    return first


def _pieces(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """A sentence longer than the limit is cut at word boundaries (never right after an abbreviation
    when another boundary is available)."""
    out = []
    while end - start > limit:
        cut = _cut_at(text, start + limit // 2, start + limit)
        if cut <= start:
            cut = start + limit
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():  # "mm.\n esim.": no trailing newline
            piece_end -= 1
        out.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        out.append((start, end))
    return out


def chunk(
    norm: Normalised,
    *,
    source: str,
    version: str,
    pages: list[tuple[int, int, int]] | None = None,
    max_chars: int = 420,
) -> list[Chunk]:
    """Greedy packing of whole sentences up to ``max_chars``; a new chunk at a paragraph break once the
    current one is half full, and always at a page break."""
    text = norm.text
    pages = pages or []
    page_starts = [p[0] for p in pages]
    spans: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        spans.extend(_pieces(text, s, e, max_chars))

    groups: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    current_page: int | None = None
    for s, e in spans:
        page = _page_of(pages, page_starts, norm.to_original(s, s)[0])
        if current:
            size = e - current[0][0]
            paragraph_break = "\n\n" in text[current[-1][1] : s]
            if (
                size > max_chars
                or page != current_page
                or (paragraph_break and current[-1][1] - current[0][0] >= max_chars // 2)
            ):
                groups.append(current)
                current = []
        if not current:
            current_page = page
        current.append((s, e))
    if current:
        groups.append(current)

    prefix = f"{source_key_hash(source)}-{version[:12]}"
    chunks: list[Chunk] = []
    for i, group in enumerate(groups):
        s, e = group[0][0], group[-1][1]
        body = text[s:e]
        o_start, o_end = norm.to_original(s, e)
        page = _page_of(pages, page_starts, o_start)
        continues = bool(chunks) and "\n\n" not in text[groups[i - 1][-1][1] : s] and page == chunks[-1].page
        chunks.append(
            Chunk(
                id=f"{prefix}-{i:05d}",
                index=i,
                text=body,
                start=o_start,
                end=o_end,
                page=page,
                text_hash=text_hash(body),
                continues=continues,
            )
        )
    return chunks
