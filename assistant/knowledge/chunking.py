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

CHUNKER_VERSION = "8"  # 2: pieces of over-long sentences trimmed, not cut after an abbreviation; 3: ``continues``;
# 4: a long paragraph is split evenly and its last chunk does not run into the next paragraph; 5: a sentence
# up to LONG_SENTENCE chunks long stays whole, a longer one is cut into even pieces; 6: the sentence splitter
# knows life-date and language abbreviations ("(k. 1169)", "(lat. …)"); a refresh embeds only the new sentences;
# 7: chained initials ("George H.W. Bush") and a date alone before an era ("Vuonna 587 eKr. Nebukadnessar …") end none;
# 8: a PDF page's printed line wrapping is undone before chunking (loaders.pdf.unwrap_lines)

# A sentence is cut only past this many chunks' worth of characters: a cut sentence is shown cut in an answer
# ("… kuten Axe, Brue, Cary, [1]") and its tail may be one word in a chunk of its own. 52 of squad2fi-dev's
# 4,372 sentences are longer than 420 characters, none longer than 840; e5 reads ~1,000 characters.
LONG_SENTENCE = 2


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


def chunk_id(prefix: str, index: int) -> str:
    """A chunk's id: its source and version (``prefix``) and its index among that version's chunks."""
    return f"{prefix}-{index:05d}"


def neighbour_id(cid: str, step: int) -> str | None:
    """The id of the chunk ``step`` places from chunk ``cid`` in the same source version; None before the first."""
    prefix, _, number = cid.rpartition("-")
    index = int(number) + step if number.isdigit() else -1
    return chunk_id(prefix, index) if index >= 0 else None


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
    """A sentence longer than the limit is cut into pieces as even as the word boundaries allow (never right
    after an abbreviation when another boundary is available)."""
    out = []
    while end - start > limit:
        parts = -(-(end - start) // limit)
        target = -(-(end - start) // parts)
        cut = _cut_at(text, start + target // 2, start + target)
        if cut <= start:
            cut = start + target
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


def _balanced(spans: list[tuple[int, int]], limit: int) -> list[list[tuple[int, int]]]:
    """One paragraph's sentences in the fewest chunks of at most ``limit`` characters, as even as they can be
    (the smallest as large as possible): greedy packing would leave a short tail ("… palvelutuotanto"),
    too little text to be found by itself. Greedy for a very long run of sentences (a PDF page with no
    blank line), where the exact split would cost too much."""
    greedy: list[list[tuple[int, int]]] = [[]]
    for s, e in spans:
        if greedy[-1] and e - greedy[-1][0][0] > limit:
            greedy.append([])
        greedy[-1].append((s, e))
    n, k = len(greedy), len(spans)
    if n == 1 or k > 400:
        return greedy

    def size(i: int, j: int) -> int:  # spans[i:j] as one chunk
        return spans[j - 1][1] - spans[i][0]

    # best[g][j]: the largest smallest-chunk size splitting spans[:j] into g chunks (-1: impossible)
    best = [[-1] * (k + 1) for _ in range(n + 1)]
    cut = [[0] * (k + 1) for _ in range(n + 1)]
    best[0][0] = limit + 1
    for g in range(1, n + 1):
        for j in range(g, k + 1):
            for i in range(j - 1, g - 2, -1):  # the last chunk spans[i:j], longest last: stop past the limit
                if size(i, j) > limit and j - i > 1:  # a long sentence alone may pass the limit
                    break
                if best[g - 1][i] < 0:
                    continue
                value = min(best[g - 1][i], size(i, j))
                if value >= best[g][j]:  # a tie goes to the earliest cut
                    best[g][j], cut[g][j] = value, i
    if best[n][k] < 0:
        return greedy
    out: list[list[tuple[int, int]]] = []
    j = k
    for g in range(n, 0, -1):
        i = cut[g][j]
        out.append(spans[i:j])
        j = i
    return out[::-1]


def chunk(
    norm: Normalised,
    *,
    source: str,
    version: str,
    pages: list[tuple[int, int, int]] | None = None,
    max_chars: int = 420,
) -> list[Chunk]:
    """Whole sentences, up to ``max_chars`` a chunk (a longer sentence, up to LONG_SENTENCE × ``max_chars``, is a
    chunk of its own; a longer one still is cut into even pieces). A paragraph longer than that is split evenly
    (``_balanced``) and its last chunk never runs into the next paragraph, so that a passage is one
    paragraph's text; short paragraphs (a heading, a one-line note) share a chunk with the next paragraph
    (its first chunk) while they stay under half full and it fits. Always a new chunk at a page break."""
    text = norm.text
    pages = pages or []
    page_starts = [p[0] for p in pages]
    spans: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        spans.extend(_pieces(text, s, e, LONG_SENTENCE * max_chars))

    # paragraphs: runs of sentences with no blank line and no page break between them
    paragraphs: list[tuple[int | None, list[tuple[int, int]]]] = []
    for s, e in spans:
        page = _page_of(pages, page_starts, norm.to_original(s, s)[0])
        if not paragraphs or page != paragraphs[-1][0] or "\n\n" in text[paragraphs[-1][1][-1][1] : s]:
            paragraphs.append((page, []))
        paragraphs[-1][1].append((s, e))

    groups: list[list[tuple[int, int]]] = []
    short = False  # the last group is short paragraphs only, under half full: the next paragraph may join it
    last_page: int | None = None
    for page, para in paragraphs:
        parts = _balanced(para, max_chars)
        whole = len(parts) == 1
        if short and page == last_page and parts[0][-1][1] - groups[-1][0][0] <= max_chars:
            groups[-1].extend(parts.pop(0))
        groups.extend(parts)
        short = whole and groups[-1][-1][1] - groups[-1][0][0] < max_chars // 2
        last_page = page

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
                id=chunk_id(prefix, i),
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
