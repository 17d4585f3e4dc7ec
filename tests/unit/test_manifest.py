"""Tests for assistant.knowledge.manifest (sources.toml and discover_files)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from assistant.knowledge.manifest import Manifest, ManifestError, SourceMeta, discover_files, read_manifest

VALID = """\
# ELMO sources
[[source]]
path = "elinkeinot-murroksessa.txt"
title = "Elinkeinot murroksessa"
publisher = "Pohjois-Pohjanmaan liitto"
language = "fi"
date = "2019-05-01"

[[source]]
path = "./raportit/s3.pdf"
title = "S3-strategia"

[[source]]
url = "https://example.org/page.html"
title = "Verkkosivu"
date = 2021-03-04
"""


def write(dir_: Path, text: str) -> Path:
    p = dir_ / "sources.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_valid_manifest(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    m = read_manifest(tmp_path)
    assert isinstance(m, Manifest)
    assert set(m.files) == {"elinkeinot-murroksessa.txt", "raportit/s3.pdf"}
    meta = m.files["elinkeinot-murroksessa.txt"]
    assert meta == SourceMeta(
        path="elinkeinot-murroksessa.txt",
        url=None,
        title="Elinkeinot murroksessa",
        publisher="Pohjois-Pohjanmaan liitto",
        language="fi",
        date="2019-05-01",
    )
    assert meta.to_dict() == {
        "path": "elinkeinot-murroksessa.txt",
        "title": "Elinkeinot murroksessa",
        "publisher": "Pohjois-Pohjanmaan liitto",
        "language": "fi",
        "date": "2019-05-01",
    }
    assert m.files["raportit/s3.pdf"].publisher is None
    assert len(m.urls) == 1
    url = m.urls[0]
    assert url.url == "https://example.org/page.html"
    assert url.path is None
    assert url.date == "2021-03-04"  # bare TOML date accepted
    assert url.to_dict() == {
        "url": "https://example.org/page.html",
        "title": "Verkkosivu",
        "date": "2021-03-04",
    }


def test_missing_manifest_is_empty(tmp_path: Path) -> None:
    m = read_manifest(tmp_path)
    assert m.files == {} and m.urls == []
    assert read_manifest(tmp_path / "no-such-dir").files == {}


def test_empty_manifest(tmp_path: Path) -> None:
    write(tmp_path, "# nothing yet\n")
    m = read_manifest(tmp_path)
    assert m.files == {} and m.urls == []


def test_bad_toml(tmp_path: Path) -> None:
    p = write(tmp_path, '[[source]]\npath = "a.txt"\ntitle = "unterminated\n')
    with pytest.raises(ManifestError) as ei:
        read_manifest(tmp_path)
    msg = str(ei.value)
    assert str(p) in msg
    assert "invalid TOML" in msg
    assert "line 3" in msg


def test_both_path_and_url(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[[source]]\npath = "a.txt"\n\n[[source]]\npath = "b.txt"\nurl = "https://example.org/"\n',
    )
    with pytest.raises(ManifestError) as ei:
        read_manifest(tmp_path)
    msg = str(ei.value)
    assert str(p) in msg
    assert "entry #2" in msg
    assert "line 4" in msg
    assert "exactly one of 'path' or 'url'" in msg


def test_neither_path_nor_url(tmp_path: Path) -> None:
    write(tmp_path, '[[source]]\ntitle = "orpo"\n')
    with pytest.raises(ManifestError, match=r"entry #1 \(line 1\).*has neither"):
        read_manifest(tmp_path)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('path = "../salaisuus.txt"', "stay inside"),
        ('path = "/etc/passwd"', "stay inside"),
        ('url = "ftp://example.org/x"', "http:// or https://"),
        ('path = "a.txt"\ntitle = 5', "'title' must be a string"),
        ('path = "a.txt"\ndate = "toukokuu 2019"', "YYYY"),
    ],
)
def test_invalid_entries(tmp_path: Path, body: str, needle: str) -> None:
    write(tmp_path, f"[[source]]\n{body}\n")
    with pytest.raises(ManifestError, match=needle):
        read_manifest(tmp_path)


def test_duplicate_path(tmp_path: Path) -> None:
    write(tmp_path, '[[source]]\npath = "a.txt"\n[[source]]\npath = "./a.txt"\n')
    with pytest.raises(ManifestError, match="more than once"):
        read_manifest(tmp_path)


def test_source_not_array(tmp_path: Path) -> None:
    write(tmp_path, '[source]\npath = "a.txt"\n')
    with pytest.raises(ManifestError, match=r"\[\[source\]\]"):
        read_manifest(tmp_path)


def test_unknown_keys_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, '[[source]]\npath = "a.txt"\ntitel = "typo"\n')
    with caplog.at_level(logging.WARNING, logger="assistant.knowledge.manifest"):
        m = read_manifest(tmp_path)
    assert "a.txt" in m.files
    assert "titel" in caplog.text


def test_discover_files(tmp_path: Path) -> None:
    src = tmp_path / "knowledge"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / ".git").mkdir()
    (src / ".hidden-dir").mkdir()
    for rel in [
        "b.txt",
        "A.md",
        "sub/raportti.PDF",
        "sub/deeper/sivu.html",
        "sub/doc.docx",
        "notes.markdown",
        "old.htm",
    ]:
        (src / rel).write_bytes(b"x")
    for rel in [
        ".hidden.txt",
        ".git/config.txt",
        ".hidden-dir/x.md",
        "sources.toml",
        "kuva.png",
        "data.csv",
        "~$doc.docx",
    ]:
        (src / rel).write_bytes(b"x")

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    os.symlink(outside / "secret.txt", src / "link-out.txt")
    os.symlink(outside, src / "linked-dir")
    os.symlink(src / "b.txt", src / "sub" / "link-in.txt")
    os.symlink(src / "missing.txt", src / "broken.txt")

    found = discover_files(src)
    rels = [p.relative_to(src).as_posix() for p in found]
    assert rels == sorted(rels)
    assert set(rels) == {
        "A.md",
        "b.txt",
        "notes.markdown",
        "old.htm",
        "sub/deeper/sivu.html",
        "sub/doc.docx",
        "sub/link-in.txt",
        "sub/raportti.PDF",
    }
    assert all(p.parent == src or src in p.parents for p in found)


def test_discover_files_missing_dir(tmp_path: Path) -> None:
    assert discover_files(tmp_path / "nope") == []
