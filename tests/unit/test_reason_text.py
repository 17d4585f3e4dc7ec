"""The loaders' English reasons shown in the UI's language."""

from __future__ import annotations

import pytest

from assistant.i18n import LANGUAGES, MESSAGES, reason_text
from assistant.knowledge.loaders.text import BINARY
from assistant.uploads import AdminError


@pytest.mark.parametrize(
    ("reason", "fi"),
    [
        (BINARY, "se ei ole tekstitiedosto"),
        ("no text", "siinä ei ole tekstiä"),
        ("PDF is encrypted", "tiedosto on salattu"),
        ("DOCX is corrupt: Bad magic number", "tiedosto on vioittunut"),
        ("parsing took longer than 30 s", "lukeminen kesti liian kauan"),
        ("parsing needed more than 512 MB", "lukeminen vaati liikaa muistia"),
        ("file too large (60 MB > 50 MB limit)", "tiedosto tai sen teksti on liian suuri"),
        ("not an uploaded file", "se ei ole ladattu tavallinen tiedosto"),
        ("something nobody foresaw", "lukeminen epäonnistui"),
    ],
)
def test_reasons_in_finnish(reason: str, fi: str) -> None:
    assert reason_text(reason, "fi") == fi


def test_english_keeps_the_loaders_words_and_every_kind_is_in_every_language() -> None:
    assert reason_text(BINARY, "en") == BINARY
    kinds = {k for k in MESSAGES["fi"] if k.startswith("reason.")}
    for lang in LANGUAGES:
        assert kinds <= set(MESSAGES[lang]), lang


def test_admin_error_message_translates_its_reason() -> None:
    error = AdminError("unreadable", 422, name="a.txt", reason=BINARY)
    assert error.message("fi") == "a.txt: tiedostosta ei saatu tekstiä (se ei ole tekstitiedosto)."
    assert error.message("sv") == "a.txt: ingen text kunde läsas ur filen (den är inte en textfil)."
    assert BINARY in error.message("en")
