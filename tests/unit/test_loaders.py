"""Tests for assistant.knowledge.loaders, on real files built in tmp_path and a real local HTTP server."""

from __future__ import annotations

import email.utils
import io
import random
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.documents import make_docx, make_pdf
from support.network import free_port

from assistant.knowledge.loaders import (
    SUPPORTED_SUFFIXES,
    Fetched,
    Loaded,
    LoadError,
    fetch_url,
    load_bytes,
    load_file,
)
from assistant.knowledge.loaders import html as html_loader
from assistant.knowledge.loaders.base import too_large

# --------------------------------------------------------------------------- helpers


def strategy_docx() -> bytes:
    return make_docx(
        "Pohjois-Pohjanmaan strategia painottaa osaamista.",
        "Toinen kappale: vihreä siirtymä.",
        [["Maakunta", "Väkiluku"], ["Kainuu", "70 000"]],
        "Loppukappale taulukon jälkeen.",
        heading="Älykäs erikoistuminen",
    )


# --------------------------------------------------------------------------- text / markdown


def test_supported_suffixes() -> None:
    assert {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"} == SUPPORTED_SUFFIXES


def test_txt_utf8_with_bom(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes(b"\xef\xbb\xbf" + "Älykäs erikoistuminen Oulussa.\n".encode())
    got = load_file(p)
    assert got.text == "Älykäs erikoistuminen Oulussa.\n"
    assert got.kind == "txt"
    assert got.pages == []
    assert got.title is None
    assert got.content_type == "text/plain"


def test_txt_cp1252_finnish(tmp_path: Path) -> None:
    p = tmp_path / "vanha.txt"
    p.write_bytes("Pohjois-Pohjanmaa ÄÖ – väestö ja työ “lainaus”".encode("cp1252"))
    got = load_file(p)
    assert got.text == "Pohjois-Pohjanmaa ÄÖ – väestö ja työ “lainaus”"


def test_txt_latin1_finnish(tmp_path: Path) -> None:
    # 0x81 is undefined in CP1252, so this must fall through to Latin-1 without failing.
    p = tmp_path / "latin.txt"
    p.write_bytes("Kärsämäki ja Ylivieska\x81".encode("latin-1"))
    assert load_file(p).text.startswith("Kärsämäki ja Ylivieska")


def test_txt_mostly_utf8_with_one_bad_byte_stays_utf8(tmp_path: Path) -> None:
    p = tmp_path / "mixed.txt"
    p.write_bytes("Hyvää päivää, äiti öljyä".encode() + b"\xff" + " lisää tekstiä".encode())
    text = load_file(p).text
    assert "Hyvää päivää" in text and "lisää tekstiä" in text


def test_binary_junk_named_txt(tmp_path: Path) -> None:
    p = tmp_path / "junk.txt"
    p.write_bytes(random.Random(0).randbytes(4096))
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason == "not a text file (binary content)"


def test_control_char_junk_without_nul(tmp_path: Path) -> None:
    p = tmp_path / "ctrl.txt"
    p.write_bytes(bytes(range(1, 32)) * 50 + b"abc")
    with pytest.raises(LoadError, match="binary content"):
        load_file(p)


@pytest.mark.parametrize("content", [b"", b"  \n\t \r\n"])
def test_empty_txt(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(content)
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason == "empty file"


def test_markdown_kept_verbatim(tmp_path: Path) -> None:
    src = "# Elinkeinot murroksessa\n\nTeksti **lihavoitu** ja [linkki](https://example.org).\n\n- kohta\n"
    p = tmp_path / "doc.md"
    p.write_text(src, encoding="utf-8")
    got = load_file(p)
    assert got.text == src
    assert got.kind == "md"
    assert got.title == "Elinkeinot murroksessa"
    p2 = tmp_path / "doc.MARKDOWN"
    p2.write_text("ei otsikkoa\n", encoding="utf-8")
    got2 = load_file(p2)
    assert got2.kind == "md" and got2.title is None


# --------------------------------------------------------------------------- html

PAGE = """<!DOCTYPE html>
<html lang="fi"><head><meta charset="utf-8"><title>Pohjois-Pohjanmaan S3-strategia</title>
<style>.x { color: red }</style><script>var secret = "SKRIPTI";</script></head>
<body>
<header><div class="logo">OTSAKE-LOGO</div></header>
<nav><ul><li><a href="/">NAVILINKKI Etusivu</a></li><li>NAVILINKKI Yhteystiedot</li></ul></nav>
<div class="breadcrumb">MURUPOLKU &gt; Strategia</div>
<div id="cookie-banner">EVÄSTEILMOITUS hyväksy</div>
<main>
  <h1>Älykäs erikoistuminen</h1>
  <p>Ensimmäinen kappale <b>lihavoitu</b>   sana.</p>
  <p>Toinen<br>rivi</p>
  <ul><li>Ensimmäinen kohta</li><li>Toinen kohta</li></ul>
  <table><tr><th>Maakunta</th><th>Väkiluku</th></tr><tr><td>Kainuu</td><td>70 000</td></tr></table>
  <aside>SIVUPALKKI mainos</aside>
  <div role="navigation">ROOLINAVI</div>
  <noscript>NOSCRIPT-TEKSTI</noscript>
</main>
<aside class="sidebar">SIVUPALKKI 2</aside>
<footer>ALATUNNISTE © 2024</footer>
</body></html>
"""


def test_html_main_content(tmp_path: Path) -> None:
    p = tmp_path / "sivu.html"
    p.write_text(PAGE, encoding="utf-8")
    got = load_file(p)
    assert got.kind == "html"
    assert got.title == "Pohjois-Pohjanmaan S3-strategia"
    text = got.text
    for absent in (
        "NAVILINKKI",
        "OTSAKE",
        "ALATUNNISTE",
        "SKRIPTI",
        "color: red",
        "MURUPOLKU",
        "EVÄSTEILMOITUS",
        "SIVUPALKKI",
        "ROOLINAVI",
        "NOSCRIPT",
    ):
        assert absent not in text, absent
    assert "Älykäs erikoistuminen" in text
    assert "Ensimmäinen kappale lihavoitu sana." in text
    assert "Toinen\nrivi" in text
    assert "- Ensimmäinen kohta\n\n- Toinen kohta" in text
    assert "Kainuu | 70 000" in text
    # paragraph breaks between blocks
    assert "Älykäs erikoistuminen\n\nEnsimmäinen kappale" in text


def test_html_without_main_uses_body_and_h1_title(tmp_path: Path) -> None:
    html = "<html><body><nav>VALIKKO</nav><h1>Otsikko tässä</h1><p>Leipäteksti.</p></body></html>"
    got = load_bytes(html.encode(), name="x.htm")
    assert got.title == "Otsikko tässä"
    assert got.text == "Otsikko tässä\n\nLeipäteksti."


def test_html_overeager_class_filter_falls_back(tmp_path: Path) -> None:
    html = '<html><body><div class="page has-sidebar"><p>Ainoa sisältö.</p></div></body></html>'
    assert load_bytes(html.encode(), name="x.html").text == "Ainoa sisältö."


def test_html_latin1_meta_charset() -> None:
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Hyvä päivä</p></body></html>'
    assert load_bytes(html.encode("latin-1"), name="x.html").text == "Hyvä päivä"


def test_html_no_text() -> None:
    with pytest.raises(LoadError, match="no text"):
        load_bytes(b"<html><body><script>x()</script></body></html>", name="x.html")


def test_html_deeply_nested_does_not_crash(tmp_path: Path) -> None:
    depth = 10_000
    for tag in ("div", "span", "b"):
        html = "<html><head><title>Syvä</title></head><body>" + f"<{tag}>" * depth
        html += "syvällä oleva teksti" + f"</{tag}>" * depth + "</body></html>"
        p = tmp_path / f"deep-{tag}.html"
        p.write_text(html, encoding="utf-8")
        t0 = time.monotonic()
        got = load_file(p)
        assert "syvällä oleva teksti" in got.text
        assert time.monotonic() - t0 < 10


def test_html_recursion_error_falls_back_to_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> list[object]:
        raise RecursionError

    monkeypatch.setattr(html_loader, "_html_tokens", boom)
    html = "<html><head><title>T</title><script>pahaa()</script></head><body><p>Yksi</p><p>Kaksi &amp; kolme</p></body></html>"
    got = load_bytes(html.encode(), name="x.html")
    assert got.text == "Yksi\n\nKaksi & kolme"
    assert got.title == "T"


# --------------------------------------------------------------------------- pdf


def test_pdf_three_pages(tmp_path: Path) -> None:
    p = tmp_path / "raportti.pdf"
    p.write_bytes(
        make_pdf(
            ["Sivu yksi: johdanto", "Sivu kaksi: Pohjois-Pohjanmaa", "Sivu kolme: yhteenveto"],
            title="Raportti 2019",
        )
    )
    got = load_file(p)
    assert got.kind == "pdf"
    assert got.content_type == "application/pdf"
    assert got.title == "Raportti 2019"
    assert [pg for _, _, pg in got.pages] == [1, 2, 3]
    starts_ends = [(s, e) for s, e, _ in got.pages]
    assert starts_ends == sorted(starts_ends)
    for (_, e1, _), (s2, _, _) in zip(got.pages, got.pages[1:], strict=False):
        assert got.text[e1:s2] == "\n\n"
    s, e, _ = got.pages[1]
    assert "Sivu kaksi: Pohjois-Pohjanmaa" in got.text[s:e]
    assert "Sivu kaksi" not in got.text[got.pages[0][0] : got.pages[0][1]]
    assert got.pages[-1][1] == len(got.text)


def test_pdf_printed_line_wrapping_is_undone(tmp_path: Path) -> None:
    lines = [
        "KAINUUN LIITTO                                        PÄÄTÖS 14/2025",
        "Maakuntahallitus 10.2.2025",
        "Kajaanin ammattikorkeakoulu on hakenut Euroopan aluekehitysrahaston rahoitusta",
        "Digitaalinen matkailu Kainuussa -hankkeelle. Tavoitteena on auttaa yrityksiä",
        "ottamaan käyttöön myynti- ja varauspalvelu-",
        "ja sekä yhteistä markkinointia. Linja-",
        "autoyhteydet ja linja-",
        "autot mainitaan.",
        "- ensimmäinen kohta",
        "- toinen kohta",
        "Lisätietoja antaa asiantuntija Tiina Räsänen, puh. 044 797 4477,",
        "tiina.rasanen@kainuu.fi.",
    ]
    p = tmp_path / "paatos.pdf"
    p.write_bytes(make_pdf([lines]))
    text = load_file(p).text
    # a sentence wrapped by the layout is one line again; a word hyphenated at a line end is one word
    assert "rahoitusta Digitaalinen matkailu Kainuussa -hankkeelle." in text
    assert "auttaa yrityksiä ottamaan käyttöön myynti- ja varauspalveluja sekä" in text
    assert "linja-autot mainitaan." in text  # the same vowel on both sides: the compound's own hyphen
    assert "Linja-autoyhteydet" in text
    assert "puh. 044 797 4477, tiina.rasanen@kainuu.fi." in text
    # headings, a column layout and list items keep their lines
    assert text.startswith("KAINUUN LIITTO")
    assert "PÄÄTÖS 14/2025\nMaakuntahallitus 10.2.2025\nKajaanin" in text
    assert "\n- ensimmäinen kohta\n- toinen kohta\n" in text


def test_pdf_encrypted_with_user_password(tmp_path: Path) -> None:
    p = tmp_path / "salattu.pdf"
    p.write_bytes(make_pdf(["salainen"], encrypt="salasana"))
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason == "PDF is encrypted"


def test_pdf_encrypted_with_empty_user_password_is_readable(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf(["Avoin teksti"]))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="", owner_password="omistaja", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    p = tmp_path / "owner-only.pdf"
    p.write_bytes(buf.getvalue())
    assert "Avoin teksti" in load_file(p).text


@pytest.mark.parametrize("how", ["random", "truncated", "header-only"])
def test_pdf_corrupt(tmp_path: Path, how: str) -> None:
    good = make_pdf(["Teksti"])
    data = {
        "random": random.Random(1).randbytes(3000),
        "truncated": good[: len(good) // 2],
        "header-only": b"%PDF-1.4\n%garbage\n",
    }[how]
    p = tmp_path / "rikki.pdf"
    p.write_bytes(data)
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason.startswith("PDF is corrupt")


def test_pdf_page_limit(tmp_path: Path) -> None:
    p = tmp_path / "pitka.pdf"
    p.write_bytes(make_pdf([f"sivu {i}" for i in range(5)]))
    with pytest.raises(LoadError) as ei:
        load_file(p, max_pages=3)
    assert ei.value.reason == "PDF has 5 pages (limit 3)"


def test_pdf_without_text(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    p = tmp_path / "skannattu.pdf"
    p.write_bytes(buf.getvalue())
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason == "PDF has no extractable text (scanned?)"


# --------------------------------------------------------------------------- docx


def test_docx(tmp_path: Path) -> None:
    p = tmp_path / "asiakirja.docx"
    p.write_bytes(strategy_docx())
    got = load_file(p)
    assert got.kind == "docx"
    assert got.pages == []
    assert got.title == "Älykäs erikoistuminen"
    assert got.text == (
        "Älykäs erikoistuminen\n\n"
        "Pohjois-Pohjanmaan strategia painottaa osaamista.\n\n"
        "Toinen kappale: vihreä siirtymä.\n\n"
        "Maakunta | Väkiluku\n\n"
        "Kainuu | 70 000\n\n"
        "Loppukappale taulukon jälkeen."
    )


def test_docx_core_title_wins(tmp_path: Path) -> None:
    p = tmp_path / "t.docx"
    p.write_bytes(make_docx("Teksti.", heading="Näkyvä otsikko", title="Metatietojen otsikko"))
    assert load_file(p).title == "Metatietojen otsikko"


@pytest.mark.parametrize("how", ["random", "zip-without-document", "truncated"])
def test_docx_corrupt(tmp_path: Path, how: str) -> None:
    p = tmp_path / "rikki.docx"
    if how == "random":
        p.write_bytes(random.Random(2).randbytes(2000))
    elif how == "zip-without-document":
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr("hello.txt", "not a docx")
    else:
        good = tmp_path / "good.docx"
        good.write_bytes(strategy_docx())
        data = good.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason.startswith("DOCX is corrupt")


def test_docx_zip_bomb_total_size(tmp_path: Path) -> None:
    p = tmp_path / "pommi.docx"
    t0 = time.monotonic()
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            for _ in range(300):
                fh.write(chunk)
    assert p.stat().st_size < 5_000_000
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason == "archive expands too much (zip bomb?)"
    assert time.monotonic() - t0 < 10


def test_docx_zip_bomb_ratio(tmp_path: Path) -> None:
    p = tmp_path / "pieni-pommi.docx"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"\0" * 20_000_000)
    with pytest.raises(LoadError, match="zip bomb"):
        load_file(p)


# --------------------------------------------------------------------------- generic file checks


def test_too_large_file(tmp_path: Path) -> None:
    p = tmp_path / "iso.txt"
    p.write_text("x" * 5000, encoding="utf-8")
    with pytest.raises(LoadError) as ei:
        load_file(p, max_bytes=1000)
    assert ei.value.reason == "file too large (5 kB > 1 kB limit)"


def test_too_large_message_in_mb() -> None:
    assert too_large(250_000_000, 50_000_000).reason == "file too large (250 MB > 50 MB limit)"


def test_unsupported_suffix(tmp_path: Path) -> None:
    p = tmp_path / "kuva.xyz"
    p.write_bytes(b"abc")
    with pytest.raises(LoadError) as ei:
        load_file(p)
    assert ei.value.reason == "unsupported file type .xyz"
    with pytest.raises(LoadError, match=r"unsupported file type \.xyz"):
        load_bytes(b"abc", name="kuva.xyz")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="file not found"):
        load_file(tmp_path / "ei-ole.txt")


def test_uppercase_suffix(tmp_path: Path) -> None:
    p = tmp_path / "RAPORTTI.PDF"
    p.write_bytes(make_pdf(["Isot kirjaimet"]))
    assert load_file(p).kind == "pdf"


def test_load_bytes_dispatch() -> None:
    pdf = make_pdf(["Ladattu tiedosto"])
    assert load_bytes(pdf, name="upload.pdf").kind == "pdf"
    # content type beats a misleading name; octet-stream falls back to suffix / sniffing
    assert load_bytes(pdf, name="download", content_type="application/pdf").kind == "pdf"
    assert load_bytes(pdf, name="x.pdf", content_type="application/octet-stream").kind == "pdf"
    assert load_bytes(pdf, name="noext").kind == "pdf"
    assert load_bytes(b"# Otsikko\n", name="a.md", content_type="text/plain").kind == "md"
    got = load_bytes("hyvä".encode("latin-1"), name="t", content_type="text/plain; charset=ISO-8859-1")
    assert got.text == "hyvä" and got.kind == "txt"
    assert load_bytes(b"<p>Moi</p>", name="page", content_type="text/html").text == "Moi"


# --------------------------------------------------------------------------- fetch_url


ETAG = '"v1-abc"'
LAST_MODIFIED = email.utils.formatdate(1_700_000_000, usegmt=True)
HTML_BODY = PAGE.encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # silence test output
        pass

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/sivu.html":
            if self.headers.get("If-None-Match") == ETAG:
                self.send_response(304)
                self.send_header("ETag", ETAG)
                self.end_headers()
                return
            self._send(
                200,
                HTML_BODY,
                "text/html; charset=utf-8",
                {"ETag": ETAG, "Last-Modified": LAST_MODIFIED},
            )
        elif self.path == "/raportti":
            self._send(200, make_pdf(["Verkosta ladattu PDF"]), "application/pdf")
        elif self.path == "/vanha":
            self.send_response(301)
            self.send_header("Location", "/sivu.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/iso.txt":
            self._send(200, b"a" * 10_000, "text/plain")
        else:
            self._send(404, b"not found", "text/plain")


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_fetch_html_then_304(server: str) -> None:
    first = fetch_url(f"{server}/sivu.html")
    assert isinstance(first, Fetched)
    assert not first.not_modified
    assert first.etag == ETAG
    assert first.last_modified == LAST_MODIFIED
    assert isinstance(first.loaded, Loaded)
    assert first.loaded.kind == "url"
    assert first.loaded.content_type == "text/html"
    assert first.loaded.title == "Pohjois-Pohjanmaan S3-strategia"
    assert "Ensimmäinen kappale" in first.loaded.text
    assert "NAVILINKKI" not in first.loaded.text

    again = fetch_url(f"{server}/sivu.html", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified
    assert again.loaded is None
    assert again.etag == ETAG
    assert again.last_modified == LAST_MODIFIED


def test_fetch_pdf_by_content_type_and_redirect(server: str) -> None:
    got = fetch_url(f"{server}/raportti")
    assert got.loaded is not None
    assert got.loaded.content_type == "application/pdf"
    assert got.loaded.pages and "Verkosta ladattu PDF" in got.loaded.text
    redirected = fetch_url(f"{server}/vanha")
    assert redirected.loaded is not None and "Ensimmäinen kappale" in redirected.loaded.text


def test_fetch_404(server: str) -> None:
    with pytest.raises(LoadError) as ei:
        fetch_url(f"{server}/puuttuu.html")
    assert ei.value.reason == "HTTP 404"


def test_fetch_byte_cap(server: str) -> None:
    with pytest.raises(LoadError, match="file too large"):
        fetch_url(f"{server}/iso.txt", max_bytes=1000)


def test_fetch_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    port = free_port()  # nothing listens on it
    with pytest.raises(LoadError) as ei:
        fetch_url(f"http://127.0.0.1:{port}/x.html", timeout=5)
    assert ei.value.reason.startswith("unreachable: ")


def test_fetch_bad_scheme() -> None:
    with pytest.raises(LoadError, match="unsupported URL scheme"):
        fetch_url("ftp://example.org/x.pdf")
