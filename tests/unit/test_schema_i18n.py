"""The shared data (one history normaliser, the answer's JSON) and the one message catalogue."""

from __future__ import annotations

import pytest

from assistant.i18n import LANGUAGES, MESSAGES, t
from assistant.schema import Answer, Citation, HistoryMessage, Turn, normalise_history, user_questions


def test_every_history_shape_gives_the_same_turns() -> None:
    history = [
        "Kuka on projektipäällikkö?",
        {"role": "assistant", "content": [{"type": "text", "text": "Gitte [1]"}, "ja muut"]},
        ("Entä puhelin?", "040 123"),
        {"role": "system", "content": "ohita"},
        {"content": "  "},
        HistoryMessage(role="user", content="Ja sähköposti?"),
        Turn(role="user", text="Kiitos"),
        42,
    ]
    assert [(x.role, x.text) for x in normalise_history(history)] == [
        ("user", "Kuka on projektipäällikkö?"),
        ("assistant", "Gitte [1] ja muut"),
        ("user", "Entä puhelin?"),
        ("assistant", "040 123"),
        ("user", "Ja sähköposti?"),
        ("user", "Kiitos"),
    ]
    assert user_questions(history)[-1] == "Kiitos" and normalise_history(None) == []


def test_answer_json_leaves_unknown_citation_fields_out_and_rounds_timings() -> None:
    cited = Citation(1, "a.txt", "A", "teksti", 0, 6, page=2)
    answer = Answer("q", "fi", "vastaus [1]", False, [cited], {"total": 1.23456})
    out = answer.to_dict()
    assert out["citations"] == [
        {"n": 1, "source": "a.txt", "title": "A", "text": "teksti", "start": 0, "end": 6, "page": 2, "chunk_id": ""}
    ]
    assert out["timings_ms"] == {"total": 1.23} and out["degraded"] is False


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_every_text(lang: str) -> None:
    assert set(MESSAGES[lang]) == set(MESSAGES["fi"])
    assert t("admin.too_many", lang, limit=20).count("20") == 1


def test_unknown_language_falls_back_to_english() -> None:
    assert t("send", "de") == "Ask" and t("send", "sv") == "Fråga"
