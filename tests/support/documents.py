"""Real documents for the tests, built in memory: PDF (reportlab, or a hand-written hostile one) and DOCX."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Sequence

Page = str | Sequence[str]  # a page's text: one line, or its lines
Table = Sequence[Sequence[str]]  # rows of cell texts
Rewrite = Callable[[zipfile.ZipFile, zipfile.ZipInfo, bytes], None]


def make_pdf(
    pages: int | Sequence[Page], *, title: str | None = None, encrypt: str | None = None, content: bytes = b""
) -> bytes:
    """A PDF of ``pages``: each page's text (a string or its lines) drawn with reportlab, an empty list
    an empty page; ``title`` sets the metadata title, ``encrypt`` a user password.

    Given a page count instead, a minimal hand-written PDF whose pages all share ONE compressed content
    stream ``content`` and a base font: a tiny file for thousands of pages, or gigabytes of text once
    extracted (reportlab cannot share a stream between pages).
    """
    if isinstance(pages, int):
        assert title is None and encrypt is None, "a shared-stream PDF has no title or password"
        return _shared_stream_pdf(pages, content)
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt=encrypt)
    if title:
        c.setTitle(title)
    for page in pages:
        y = 760
        for line in [page] if isinstance(page, str) else page:
            c.drawString(72, y, line)
            y -= 16
        c.showPage()
    c.save()
    return buf.getvalue()


def _shared_stream_pdf(n_pages: int, content: bytes) -> bytes:
    stream = zlib.compress(content, 9)
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(n_pages))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n_pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    objs += [page] * n_pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def make_docx(*blocks: str | Table, heading: str | None = None, title: str | None = None) -> bytes:
    """A DOCX (python-docx): an optional level-1 ``heading``, then ``blocks`` in order — a string is a
    paragraph, a sequence of rows a table; ``title`` sets the core-properties title."""
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    if heading is not None:
        document.add_heading(heading, level=1)
    for block in blocks:
        if isinstance(block, str):
            document.add_paragraph(block)
            continue
        table = document.add_table(rows=len(block), cols=max(len(row) for row in block))
        for r, row in enumerate(block):
            for c, text in enumerate(row):
                table.cell(r, c).text = text
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def rebuild_docx(part: str, rewrite: Rewrite, base: bytes | None = None) -> bytes:
    """``base`` (a one-paragraph DOCX by default) with the zip member ``part`` written by
    ``rewrite(zipfile, info, data)`` instead of copied: hostile or hand-made XML in a valid package."""
    src = zipfile.ZipFile(io.BytesIO(base if base is not None else make_docx("Kelvollinen kappale.")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == part:
                rewrite(z, info, data)
            else:
                z.writestr(info, data)
    return out.getvalue()


def docx_with_body(body: str) -> bytes:
    """A valid DOCX with ``body`` (WordprocessingML) put first in its document body."""

    def put_first(z: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes) -> None:
        z.writestr(info, data.replace(b"<w:body>", b"<w:body>" + body.encode(), 1))

    return rebuild_docx("word/document.xml", put_first, base=make_docx())
