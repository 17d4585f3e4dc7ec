"""The source cards under an answer (render_source_cards): one per cited source, the sentence the answer
quotes, everything escaped and on one line of HTML."""

from __future__ import annotations

from support.html_tags import parse_html

from assistant.web.ui.render import chat_messages, cited_quote, render_source_cards

CHUNK = (
    "ELMO-pilotti alkoi vuonna 2019.\n\nProjektipäällikkönä toimii Gitte Meriläinen. "
    "Hankkeen rahoittaa Euroopan aluekehitysrahasto."
)
ANSWER = {
    "answer": "Projektipäällikkönä toimii Gitte Meriläinen [1]. Pilotti alkoi 2019 [2].",
    "citations": [
        {"n": 1, "title": "Elinkeinot murroksessa", "text": CHUNK, "page": 3, "start": 0, "end": len(CHUNK)},
        {"n": 2, "title": "Toinen lähde", "text": "ELMO-pilotti alkoi vuonna 2019.", "start": 0, "end": 31},
        {"n": 3, "title": "Ei viitattu", "text": "Muuta tekstiä.", "start": 0, "end": 14},
    ],
}


def test_a_card_per_cited_source_with_title_page_and_the_quoted_sentence() -> None:
    cards = render_source_cards(ANSWER, 4, "fi")
    parsed = parse_html(cards)
    hrefs = [a["href"] for tag, a in parsed.tags if tag == "a"]
    assert hrefs == ["#elmo-cite-4-1", "#elmo-cite-4-2"]  # [3] is not cited in the text: no card
    assert '<p class="elmo-cards-label" id="elmo-cards-4">Lähteet</p>' in cards
    assert 'aria-labelledby="elmo-cards-4"' in cards
    text = "".join(parsed.text)
    assert "[1] Elinkeinot murroksessa (sivu 3)" in text
    assert "<mark>Projektipäällikkönä toimii Gitte Meriläinen.</mark>" in cards
    assert "Euroopan aluekehitysrahasto" not in text  # only the quoted sentence, not the whole chunk
    assert '<span class="elmo-card-title">Toinen lähde</span></a>' in cards  # no page known: none shown
    assert "\n" not in cards


def test_english_labels_and_the_paraphrase_fallback() -> None:
    answer = {**ANSWER, "answer": "The pilot is managed by someone [1]."}
    cards = render_source_cards(answer, 0, "en")
    assert ">Sources</p>" in cards and "(page 3)" in cards
    # no sentence of the chunk matches a paraphrase: the chunk's start, on one line
    assert cited_quote(answer["answer"], ANSWER["citations"][0]) == " ".join(CHUNK.split())


def test_hostile_text_is_escaped_and_inert() -> None:
    evil = '<img src=x onerror=alert(1)>\n\n[x](javascript:alert(2)) {{v}} ${x} `c`'
    answer = {
        "answer": f"{evil} [1]",
        "citations": [{"n": 1, "title": evil, "text": evil, "page": evil, "start": 0, "end": len(evil)}],
    }
    cards = render_source_cards(answer, 0, "fi")
    parsed = parse_html(cards)
    assert {tag for tag, _ in parsed.tags} <= {"div", "p", "ol", "li", "a", "span", "mark"}
    for _, attrs in parsed.tags:
        assert not any(k.startswith("on") for k in attrs)
        assert attrs.get("href", "#elmo-cite-").startswith("#elmo-cite-")
    assert "\n" not in cards  # a blank line would end the HTML block and let Markdown in
    for ch in "{}$`":
        assert ch not in cards


def test_cards_appear_only_when_the_answer_is_complete() -> None:
    turn = {"index": 2, "question": "Kuka?", "lang": "fi", "answer": ANSWER}
    done = chat_messages([turn])[1]["content"]
    assert done.endswith("</div>") and "\n\n<div class=\"elmo-cards\">" in done
    writing = chat_messages([], {**turn, "upto": 20})[1]["content"]
    assert "elmo-cards" not in writing
    refused = {**turn, "answer": {"answer": "En löydä.", "refused": True, "citations": []}}
    assert "elmo-cards" not in chat_messages([refused])[1]["content"]
