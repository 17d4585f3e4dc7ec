"""Golden questions over the default corpus (knowledge/), extractive mode (no LLM configured).

Who, what, when, lists, contacts, inflected forms, follow-ups, English and Swedish, out-of-scope refusals
and awkward input. Every answer, whatever the question, is also checked for sound citations: each [n] is
in 1..len(citations) and used, each citation is a live chunk of its source, and its ``start``/``end``
index the source's original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from assistant.answering.assistant import Answer, Assistant
from assistant.answering.retrieve import JOIN
from assistant.config import Settings
from assistant.text.normalise import normalise

MARKER = re.compile(r"\[(\d+)\]")
SEVEN = [
    "Etelä-Savo",
    "Kainuu",
    "Keski-Pohjanmaa",
    "Lappi",
    "Pohjois-Karjala",
    "Pohjois-Pohjanmaa",
    "Pohjois-Savo",
]
PRIORITIES = ["puhtaat ratkaisut", "digitalisaation hyödyntäminen", "kestävä palvelutuotanto"]
PHONE = ("+358 40 6854053", "040 6854 053")
REFUSAL_START = {
    "fi": "En löydä lähteistä vastausta",
    "en": "I could not find an answer",
    "sv": "Jag hittar inget svar",
}


@pytest.fixture(scope="module")
def assistant(kb_settings: Settings) -> Assistant:
    assert not kb_settings.llm_enabled
    return Assistant(kb_settings)


# ------------------------------------------------------------------------------------------------------
# invariants of every answer
# ------------------------------------------------------------------------------------------------------


def _flat(text: str) -> str:
    return " ".join(normalise(text).text.split())


def check_answer(assistant: Assistant, answer: Answer) -> None:
    assert isinstance(answer, Answer)
    for key in ("retrieve", "answer", "total"):
        assert key in answer.timings_ms, answer.timings_ms
        assert answer.timings_ms[key] >= 0
    assert "Traceback" not in answer.answer
    found = [int(n) for n in MARKER.findall(answer.answer)]
    assert all(1 <= n <= len(answer.citations) for n in found), (answer.answer, len(answer.citations))
    assert set(found) == set(range(1, len(answer.citations) + 1)), answer.answer
    assert not re.search(r"[\[\]]", MARKER.sub("", answer.answer)), f"stray bracket: {answer.answer!r}"
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    if answer.refused:
        assert answer.contacts == []  # its citations (the closest passages) are checked like any others
    snap = assistant.kb.current()
    for c in answer.citations:
        # real, live chunks of the cited source: one, or found neighbours of one paragraph joined
        # (retrieve.join_neighbours), cited under their ids joined in text order
        parts = [snap.chunk(pos) for pos in (snap.index_of(cid) for cid in c.chunk_id.split(JOIN)) if pos is not None]
        assert len(parts) == len(c.chunk_id.split(JOIN)), f"citation {c.n} is no live chunk: {c.chunk_id}"
        assert _flat(" ".join(text for text, _ in parts)) == _flat(c.text)
        assert all(meta["source"] == c.source for _, meta in parts)
        assert c.source in snap.sources and c.title == snap.sources[c.source].title
        # ... whose offsets index the source's original text
        original = assistant.kb.store.source_text(c.source)
        assert original is not None
        assert 0 <= c.start < c.end <= len(original)
        assert _flat(original[c.start : c.end]) == _flat(c.text), (original[c.start : c.end], c.text)
    # a contact shown with the answer is one the answer cites
    cited_chunks = {c.chunk_id for c in answer.citations}
    for contact in answer.contacts:
        assert contact.get("chunk_id") in cited_chunks, (contact, answer.answer)


def ask(assistant: Assistant, question: str, history: list[Any] | None = None) -> Answer:
    answer = assistant.ask(question, history)
    check_answer(assistant, answer)
    return answer


# ------------------------------------------------------------------------------------------------------
# golden questions
# ------------------------------------------------------------------------------------------------------


@dataclass
class Golden:
    id: str
    question: str
    language: str = "fi"
    all_of: list[str] = field(default_factory=list)  # every one in the answer
    any_of: list[str] = field(default_factory=list)  # at least one in the answer
    history: list[Any] | None = None
    quoted: bool = False  # an English/Swedish answer quoting the Finnish sources


GOLDEN = [
    # who
    Golden("who", "Kuka on ELMO-pilotin projektipäällikkö?", all_of=["Gitte Meriläinen"]),
    Golden("who-report", "Kuka kirjoitti raportin klusterikehityksestä?", all_of=["EOCIC"]),
    Golden("who-funded", "Kuka rahoitti ELMO II -hanketta?", all_of=["Pohjois-Savon liitto"]),
    # inflected forms
    Golden("inflected-keneltä", "Keneltä saa lisätietoa ELMO-pilotista?", all_of=["Gitte Meriläinen"]),
    Golden(
        "inflected-projektipäälliköltä",
        "Miten ELMO-pilotin projektipäälliköltä saa lisätietoa?",
        all_of=["Meriläinen"],
        any_of=list(PHONE),
    ),
    Golden("inflected-maakuntien", "Mitkä ovat maakuntien yhteiset painopisteet?", all_of=PRIORITIES),
    Golden(
        "inflected-keski-pohjanmaalla",
        "Mitä Keski-Pohjanmaalla tehdään vuonna 2024?",
        all_of=["puheenjohtaja"],
    ),
    Golden(
        "inflected-keski-pohjanmaalla-tehtävä",
        "Mikä tehtävä Keski-Pohjanmaalla on vuonna 2024?",
        all_of=["puheenjohtaja", "Keski-Pohjanmaa"],
    ),
    Golden("inflected-lapin-liiton", "Mitä Lapin liiton vetämä hanke tekee?", all_of=["toimeenpano", "EAKR"]),
    # lists
    Golden("list-regions", "Mitkä maakunnat valittiin ELMO-pilottiin?", all_of=SEVEN),
    Golden(
        "list-countries",
        "Mitkä muut alueet valittiin pilottiin?",
        all_of=["Hauts-de-France", "Piemonte", "Wallonia"],
    ),
    # when
    Golden("when-strategy", "Milloin uusi strategia tulee voimaan?", all_of=["2024"]),
    Golden("when-pilot", "Minä vuonna ELMO-pilotti alkoi?", all_of=["2018"]),
    # what
    Golden("what-priorities", "Mitkä ovat strategian painopisteet?", all_of=PRIORITIES),
    Golden(
        "what-elmo",
        "Mikä on ELMO-pilotti?",
        any_of=["Elinkeinot murroksessa", "Regions in Industrial Transition"],
    ),
    # contacts
    Golden(
        "contact-phone",
        "Mikä on Gitte Meriläisen puhelinnumero?",
        all_of=["Gitte Meriläinen"],
        any_of=list(PHONE),
    ),
    Golden("contact-phone-title", "Mikä on projektipäällikön puhelinnumero?", any_of=list(PHONE)),
    # follow-ups
    Golden(
        "follow-up-phone",
        "Mikä hänen puhelinnumeronsa on?",
        history=["Kuka on ELMO-pilotin projektipäällikkö?"],
        any_of=list(PHONE),
    ),
    Golden(
        "follow-up-messages",
        "Mikä hänen puhelinnumeronsa on?",
        history=[
            {"role": "user", "content": "Kuka on ELMO-pilotin projektipäällikkö?"},
            {"role": "assistant", "content": "Lisätietoa: Projektipäällikkö Gitte Meriläinen [1]"},
        ],
        any_of=list(PHONE),
    ),
    Golden(
        "follow-up-when",
        "Milloin se tulee voimaan?",
        history=["Mitkä ovat strategian painopisteet?"],
        all_of=["2024"],
    ),
    Golden(
        "follow-up-en",
        "What is her phone number?",
        language="en",
        history=["Who is the project manager of the ELMO pilot?"],
        any_of=list(PHONE),
    ),
    # English and Swedish
    Golden("en-who", "Who is the project manager of the ELMO pilot?", "en", ["Meriläinen"], quoted=True),
    Golden("en-regions", "Which regions took part in the ELMO pilot?", "en", SEVEN, quoted=True),
    Golden("en-when", "When did the ELMO pilot start?", "en", ["2018"], quoted=True),
    Golden("en-priorities", "What are the priorities of the new strategy?", "en", PRIORITIES, quoted=True),
    Golden(
        "en-phone", "What is the phone number of Gitte Meriläinen?", "en", ["Gitte Meriläinen"], list(PHONE)
    ),
    Golden("sv-who", "Vem är projektledare för ELMO-piloten?", "sv", ["Meriläinen"], quoted=True),
    Golden("sv-regions", "Vilka landskap deltog i ELMO-piloten?", "sv", SEVEN, quoted=True),
]


# (en-when was a known defect — the 2018 pilot sentence sat in a lower-ranked chunk than the 2019 strategy
# sentence — until found neighbours of one paragraph were joined into one passage.)
_KNOWN: dict[str, str] = {}


@pytest.mark.parametrize(
    "g",
    [
        pytest.param(g, marks=pytest.mark.xfail(reason=_KNOWN[g.id], strict=True)) if g.id in _KNOWN else g
        for g in GOLDEN
    ],
    ids=[g.id for g in GOLDEN],
)
def test_golden(assistant: Assistant, g: Golden) -> None:
    answer = ask(assistant, g.question, g.history)
    assert not answer.refused, answer.answer
    assert answer.language == g.language
    assert answer.mode == "extractive"
    assert answer.citations
    for needle in g.all_of:
        assert needle in answer.answer, f"{needle!r} missing from {answer.answer!r}"
    if g.any_of:
        assert any(x in answer.answer for x in g.any_of), f"none of {g.any_of} in {answer.answer!r}"
    if g.quoted:
        assert answer.quoted_from_finnish
    assert answer.quoted_from_finnish == (g.language != "fi")


def test_contact_card(assistant: Assistant) -> None:
    answer = ask(assistant, "Mikä on Gitte Meriläisen puhelinnumero?")
    [contact] = [c for c in answer.contacts if c["name"] == "Gitte Meriläinen"]
    assert contact["phone"] == "+358 40 6854053" and contact["title"] == "Projektipäällikkö"
    assert not contact.get("email")  # the sources give none: never invented
    assert "Puhelin: 040 6854 053" in answer.answer  # as the source writes it (issue 12)
    assert answer.citations[0].source == "elinkeinot-murroksessa.txt"
    assert "040 6854 053" in answer.citations[0].text


def test_stream_without_llm_yields_only_the_answer(assistant: Assistant) -> None:
    items = list(assistant.stream("Kuka on ELMO-pilotin projektipäällikkö?"))
    assert len(items) == 1 and isinstance(items[0], Answer)


def test_answer_json_shape(assistant: Assistant) -> None:
    d = ask(assistant, "Kuka on ELMO-pilotin projektipäällikkö?").to_dict()
    assert {"question", "language", "answer", "refused", "citations", "timings_ms", "mode"} <= set(d)
    c = d["citations"][0]
    assert {"n", "source", "title", "text", "start", "end", "chunk_id"} <= set(c)
    assert "page" not in c  # plain text has no pages: omitted, not null


# ------------------------------------------------------------------------------------------------------
# refusals
# ------------------------------------------------------------------------------------------------------

OUT_OF_SCOPE = [
    ("population", "Mikä on Oulun väkiluku?", "fi"),
    ("budget-en", "What was the ELMO budget?", "en"),
    ("budget-fi", "Mikä oli ELMO-pilotin budjetti?", "fi"),
    ("email", "Mikä on Gitte Meriläisen sähköpostiosoite?", "fi"),
    ("email-en", "What is Gitte Meriläinen's e-mail address?", "en"),
    ("weather", "Millainen sää on huomenna Helsingissä?", "fi"),
    ("weather-en", "What will the weather be like in Helsinki tomorrow?", "en"),
    ("population-sv", "Hur många invånare har Uleåborg?", "sv"),
]


@pytest.mark.parametrize(
    ("question", "language"), [(q, lang) for _, q, lang in OUT_OF_SCOPE], ids=[i for i, _, _ in OUT_OF_SCOPE]
)
def test_out_of_scope_is_refused(assistant: Assistant, question: str, language: str) -> None:
    answer = ask(assistant, question)
    assert answer.refused, answer.answer
    assert answer.language == language
    assert answer.answer.startswith(REFUSAL_START[language]), answer.answer
    assert answer.contacts == []
    # never an invented name, number, date or address (the closest passages below it are quoted verbatim)
    said = answer.answer.split("\n")[0]
    assert "@" not in answer.answer
    assert not re.search(r"\d", said), said
    assert "Meriläinen" not in said or "Meriläinen" in question


@pytest.mark.parametrize(
    ("question", "language", "channel"),
    [
        ("och hennes mejl?", "sv", "mejl"),
        ("och hennes e-post?", "sv", "e-post"),
        ("and her email?", "en", "email"),
        ("and her mail address?", "en", "mail"),
        ("entä hänen sähköpostinsa?", "fi", "sähköpostinsa"),
    ],
)
def test_a_follow_up_for_an_email_the_sources_do_not_give_says_so(
    assistant: Assistant, question: str, language: str, channel: str
) -> None:
    """The e-mail channel however it is written: the sources publish the project manager's phone only."""
    history = {"fi": "Kuka on ELMO-pilotin projektipäällikkö?", "en": "Who is the project manager of the ELMO pilot?",
               "sv": "Vem är projektledare för ELMO-piloten?"}[language]
    answer = assistant.ask(question, history=[history])
    assert answer.refused and answer.answer.startswith(REFUSAL_START[language]), answer.answer
    assert f"({channel})" in answer.answer.split("\n")[0], answer.answer


@pytest.mark.parametrize(
    ("question", "history"),
    [
        ("Miten tavoitan hänet?", "Kuka on ELMO-pilotin projektipäällikkö?"),
        ("Hur når jag henne?", "Vem är projektledare för ELMO-piloten?"),
        ("How do I reach her?", "Who is the project manager of the ELMO pilot?"),
    ],
)
def test_asking_how_to_reach_the_person_gives_her_card(assistant: Assistant, question: str, history: str) -> None:
    """To reach a person is to contact them, in any inflection (tavoitan, når) and language."""
    answer = assistant.ask(question, history=[history])
    assert not answer.refused, answer.answer
    assert [c["name"] for c in answer.contacts] == ["Gitte Meriläinen"], answer.answer
    assert any(p in answer.answer for p in PHONE), answer.answer


def test_refusal_points_to_what_the_sources_cover(assistant: Assistant) -> None:
    answer = ask(assistant, "Mikä on Oulun väkiluku?")
    assert "Lähimmät kohdat:" in answer.answer and answer.citations  # the nearest passages, cited
    assert answer.citations[0].title in answer.answer


# ------------------------------------------------------------------------------------------------------
# awkward input
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t  \r\n", "\x00\x07"])
def test_empty_question(assistant: Assistant, question: str) -> None:
    answer = ask(assistant, question)
    assert answer.refused and answer.citations == []
    assert answer.answer.startswith("Kirjoita kysymys")


def test_very_long_question_is_declined_politely(assistant: Assistant) -> None:
    question = ("Kuka on ELMO-pilotin projektipäällikkö? " * 600)[:20_000]
    assert len(question) == 20_000
    answer = ask(assistant, question)
    assert answer.refused and answer.citations == []
    assert "liian pitkä" in answer.answer and str(assistant.settings.max_question_chars) in answer.answer
    assert len(answer.question) <= 200  # not echoed back whole
    assert answer.timings_ms["total"] < 5_000


def test_control_characters_are_ignored(assistant: Assistant) -> None:
    answer = ask(assistant, "Kuka on ELMO-pilotin\x00 projektipäällikkö?\x07\u200b\r\n")
    assert not answer.refused and "Gitte Meriläinen" in answer.answer


def test_terminal_escape_sequence_is_ignored(assistant: Assistant) -> None:
    answer = ask(assistant, "\x1b[1mKuka on ELMO-pilotin projektipäällikkö?\x1b[0m")
    assert not answer.refused, answer.answer
    assert "Gitte Meriläinen" in answer.answer


def test_html_formatting_in_the_question(assistant: Assistant) -> None:
    answer = ask(assistant, "<b>Kuka</b> on <i>ELMO-pilotin</i> projektipäällikkö?")
    assert not answer.refused, answer.answer
    assert "Gitte Meriläinen" in answer.answer


def test_html_script_in_the_question_is_not_echoed(assistant: Assistant) -> None:
    answer = ask(assistant, "<script>alert('x')</script> Kuka on ELMO-pilotin projektipäällikkö?")
    assert "<script" not in answer.answer and "</" not in answer.answer


@pytest.mark.parametrize(
    "history",
    [
        None,
        [],
        ["", "   "],
        [{"role": "assistant", "content": "Hei!"}],
        [("Kuka on ELMO-pilotin projektipäällikkö?", "Gitte Meriläinen [1]")],
        [{"role": "user", "content": [{"type": "text", "text": "Kuka on ELMO-pilotin projektipäällikkö?"}]}],
    ],
    ids=["none", "empty", "blank-strings", "assistant-only", "pairs", "content-blocks"],
)
def test_history_shapes(assistant: Assistant, history: list[Any] | None) -> None:
    answer = ask(assistant, "Milloin uusi strategia tulee voimaan?", history)
    assert not answer.refused and "2024" in answer.answer


def test_same_question_same_answer(assistant: Assistant) -> None:
    a = ask(assistant, "Mitkä ovat strategian painopisteet?")
    b = ask(assistant, "Mitkä ovat strategian painopisteet?")
    assert a.answer == b.answer and [c.chunk_id for c in a.citations] == [c.chunk_id for c in b.citations]
