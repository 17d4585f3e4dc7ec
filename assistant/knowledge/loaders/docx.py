"""DOCX: paragraphs and table rows in document order, after the zip archive has been checked for bombs."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator

from assistant.knowledge.loaders.base import (
    DOCX_MIME,
    MAX_LOAD_SECONDS,
    MAX_TEXT_CHARS,
    Loaded,
    LoadError,
    human_size,
    short,
    too_much_text,
    too_slow,
)

# Zip-bomb limits for DOCX (which is a zip archive).
_ZIP_MAX_TOTAL = 200_000_000
_ZIP_MAX_RATIO = 100
_ZIP_RATIO_MIN_SIZE = 1_000_000  # tiny, very repetitive XML parts legitimately compress > 100x
# word/document.xml is parsed into memory whole (~5x its size); images etc. in the zip are never parsed.
_DOCX_MAX_XML = 64_000_000


def check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as e:
        raise LoadError(f"DOCX is corrupt: {short(e)}") from e
    total = 0
    for info in infos:
        total += info.file_size
        if total > _ZIP_MAX_TOTAL:
            raise LoadError("archive expands too much (zip bomb?)")
        if info.filename == "word/document.xml" and info.file_size > _DOCX_MAX_XML:
            raise LoadError(
                f"DOCX text part too large ({human_size(info.file_size)} > {human_size(_DOCX_MAX_XML)} limit)"
            )
        if info.file_size >= _ZIP_RATIO_MIN_SIZE and info.file_size > _ZIP_MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise LoadError("archive expands too much (zip bomb?)")


def _docx_blocks(container: object, depth: int = 0) -> Iterator[tuple[str, str | None]]:
    """Yield (text, style_name) blocks in document order: paragraphs and table rows."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in container.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(item, Paragraph):
            text = item.text
            if text.strip():
                style = None
                try:
                    style = item.style.name if item.style is not None else None
                except Exception:
                    style = None
                yield text.strip(), style
        elif isinstance(item, Table) and depth < 5:
            for row in item.rows:
                cells: list[str] = []
                seen: set[int] = set()
                nested: list[tuple[str, str | None]] = []
                try:
                    row_cells = row.cells
                except Exception:
                    continue
                for cell in row_cells:
                    if id(cell._tc) in seen:  # merged cells repeat the same <w:tc>
                        continue
                    seen.add(id(cell._tc))
                    cell_paras: list[str] = []
                    for sub_text, sub_style in _docx_blocks(cell, depth + 1):
                        if sub_style == "__table_row__":
                            nested.append((sub_text, sub_style))
                        else:
                            cell_paras.append(sub_text)
                    cell_text = " ".join(" ".join(cell_paras).split())
                    if cell_text:
                        cells.append(cell_text)
                if cells:
                    yield " | ".join(cells), "__table_row__"
                yield from nested


def load_docx(data: bytes, max_chars: int = MAX_TEXT_CHARS, max_seconds: float = MAX_LOAD_SECONDS) -> Loaded:
    check_zip(data)
    try:
        import docx

        deadline = time.monotonic() + max_seconds
        document = docx.Document(io.BytesIO(data))
        blocks: list[tuple[str, str | None]] = []
        chars = 0
        for block in _docx_blocks(document):
            blocks.append(block)
            chars += len(block[0]) + 2
            if chars > max_chars:
                raise too_much_text(chars, max_chars)
            if len(blocks) % 256 == 0 and time.monotonic() > deadline:
                raise too_slow(max_seconds, f"{len(blocks)} paragraphs read")
    except LoadError:
        raise
    except Exception as e:
        raise LoadError(f"DOCX is corrupt: {short(e)}") from e

    title: str | None = None
    try:
        core_title = document.core_properties.title
        if core_title and core_title.strip():
            title = " ".join(core_title.split())
    except Exception:
        title = None
    if title is None:
        for text, style in blocks:
            if style and (style.startswith("Heading") or style == "Title"):
                title = " ".join(text.split())
                break
    text = "\n\n".join(t for t, _ in blocks)
    if not text.strip():
        raise LoadError("DOCX has no text content")
    return Loaded(text=text, pages=[], title=title, kind="docx", content_type=DOCX_MIME)
