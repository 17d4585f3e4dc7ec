"""Tests for assistant.evaluation: the metrics, suites, feedback conversion, comparison, the gate — and the gate
itself: the default suite run on an index built from knowledge/ must pass evals/thresholds.yaml."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.evaluation.gate import (
    check_gate,
    compare_reports,
    gated_view,
    load_report,
    load_thresholds,
)
from assistant.evaluation.judge import make_judge, parse_judgement
from assistant.evaluation.metrics import (
    Matcher,
    Ranked,
    aggregate,
    dangling_markers,
    dcg,
    fact_match,
    fold,
    hit_at,
    locate,
    ndcg,
    percentile,
    reciprocal_rank,
    score_answer,
)
from assistant.evaluation.report import compare_text, failing_items, fmt_delta, summary_text, write_report
from assistant.evaluation.runner import run_evaluation
from assistant.evaluation.suites import (
    ExpectedPassage,
    Item,
    SuiteError,
    default_suite_paths,
    gated_suite_paths,
    items_from_feedback,
    load_suite,
    load_suites,
    suite_yaml,
)

REPO = Path(__file__).resolve().parents[2]
ELMO = "elinkeinot-murroksessa.txt"

# ------------------------------------------------------------------------------------------------------
# retrieval metrics
# ------------------------------------------------------------------------------------------------------


def test_hit_at_k_and_mrr() -> None:
    gains = [0.0, 0.0, 1.0, 0.0, 2.0]
    assert [hit_at(gains, k) for k in (1, 2, 3, 5)] == [0.0, 0.0, 1.0, 1.0]
    assert reciprocal_rank(gains) == pytest.approx(1 / 3)
    assert reciprocal_rank([0.0] * 10) == 0.0
    assert reciprocal_rank([0.0] * 10 + [1.0]) == 0.0  # beyond depth 10
    assert hit_at([], 5) == 0.0


def test_ndcg_graded_and_multiple_relevant() -> None:
    # a grade-1 passage first, the grade-2 one second; the best order is 2 then 1
    got = ndcg([1.0, 2.0, 0.0], [2.0, 1.0])
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert got == pytest.approx(expected)
    assert ndcg([2.0, 1.0, 0.0], [1.0, 2.0]) == pytest.approx(1.0)
    assert ndcg([0.0, 0.0], [1.0]) == 0.0
    assert ndcg([0.0], []) == 0.0  # nothing relevant exists: 0, not a division by zero
    # two relevant passages, one found at rank 1: partial credit
    assert 0 < ndcg([1.0, 0.0, 0.0], [1.0, 1.0]) < 1
    assert dcg([1.0] * 20, k=10) == pytest.approx(sum(1 / math.log2(i + 2) for i in range(10)))


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)


# ------------------------------------------------------------------------------------------------------
# matching
# ------------------------------------------------------------------------------------------------------


def test_fold() -> None:
    assert fold("  Älykäs\n\nERIKOISTUMINEN ") == "älykäs erikoistuminen"
    assert fold("´Regions in Industrial Transition´") == "'regions in industrial transition'"
    assert fold("2022 – 2027") == fold("2022-2027") == "2022-2027"
    # only dashes between numbers lose their spaces
    assert fold("Itä- ja Pohjois-Suomen") == "itä- ja pohjois-suomen"


def test_fact_match() -> None:
    text = "Vuonna 2024 puheenjohtajana toimii  Keski-Pohjanmaa. [1]"
    assert fact_match(["keski-pohjanmaa"], text) == "keski-pohjanmaa"
    assert fact_match(["Central Ostrobothnia", "Keski-Pohjanma"], text) == "Keski-Pohjanma"
    assert fact_match(["Lappi"], text) is None
    assert fact_match(["toimii Keski-Pohjanmaa"], text) == "toimii Keski-Pohjanmaa"  # whitespace folded
    # phone numbers also match on digits only, in any notation
    assert fact_match(["040 6854 053"], "- Puhelin: +358 40 6854053") == "040 6854 053"
    assert fact_match(["040 6854 053"], "puh. 040-6854053") == "040 6854 053"
    assert fact_match(["040 6854 053"], "puh. 040 6854 054") is None
    # a year range is not a phone number: no digits-only matching
    assert fact_match(["2019-2020"], "vuosina 2019 2020") is None
    assert fact_match(["2019-2020"], "vuosina 2019–2020") == "2019-2020"


def test_dangling_markers() -> None:
    assert dangling_markers("a [1] b [2]", 2) == []
    assert dangling_markers("a [1] b [3] c [1, 4] d [0]", 2) == [3, 4, 0]
    assert dangling_markers("no markers", 0) == []
    assert dangling_markers("[1]", 0) == [1]


def test_locate_and_matcher() -> None:
    source = "Eka lause tässä.  Toinen   lause on ´pitkä´ ja jatkuu. Kolmas lause lopuksi."
    span = locate(source, "toinen lause on 'pitkä'")
    assert span is not None and source[span[0] : span[1]] == "Toinen   lause on ´pitkä´"
    assert locate(source, "ei ole") is None
    m = Matcher({"s.txt": source})
    whole = ExpectedPassage(source="s.txt", quote="Toinen lause on ´pitkä´ ja jatkuu.")
    p1 = Ranked("c1", "s.txt", source[:40], 0, 40)  # holds most of the quote (it spans a chunk boundary)
    p2 = Ranked("c2", "s.txt", source[40:], 40, len(source))
    assert m.matches(Ranked("c", "s.txt", source, 0, len(source)), whole)
    assert not m.matches(Ranked("c", "other.txt", source, 0, len(source)), whole)
    assert m.matches(p1, whole) and not m.matches(p2, whole)
    # a passage contained in a longer quote matches too
    long_quote = ExpectedPassage(source="s.txt", quote=source)
    assert m.matches(Ranked("c3", "s.txt", "Kolmas lause lopuksi.", 0, 0), long_quote)
    graded = [ExpectedPassage(source="s.txt", quote="Eka lause", grade=2), ExpectedPassage(source="s.txt", quote="Kolmas lause", grade=1)]
    assert m.gain(p1, graded) == 2.0 and m.gain(p2, graded) == 1.0


def _item(**kw: Any) -> Item:
    base: dict[str, Any] = {"id": "t", "question": "Kuka?", "area": "contacts", "language": "fi"}
    base.update(kw)
    return Item(**base)


def _cit(n: int, cid: str, text: str, source: str = ELMO) -> dict[str, Any]:
    return {"n": n, "source": source, "chunk_id": cid, "text": text, "start": 0, "end": 0}


def test_score_answer() -> None:
    chunks = {
        "c1": "Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053",
        "c2": "Pilotti alkoi 2018.",
    }
    m = Matcher({ELMO: chunks["c1"] + " " + chunks["c2"]})
    item = _item(
        expected_passages=[ExpectedPassage(source=ELMO, quote="Projektipäällikkö Gitte Meriläinen")],
        facts=[["Gitte Meriläinen"], ["040 6854 053"]],
    )
    answer = {
        "answer": "**Yhteystiedot** [1]\n- Nimi: Gitte Meriläinen\n- Puhelin: +358 40 6854053\n\nLisäksi [2] ja [3]",
        "refused": False,
        "language": "fi",
        "citations": [_cit(1, "c1", chunks["c1"]), _cit(2, "c2", chunks["c2"])],
    }
    r = score_answer(item, answer, m, chunks)
    assert r["fact_recall"] == 1.0
    assert r["citation_precision"] == 0.5  # [2] supports no fact
    assert r["citation_recall"] == 1.0
    assert r["dangling"] == [3]
    assert not r["passed"] and any("dangling" in f for f in r["failures"])
    assert r["phantom_citations"] == 0 and r["false_refusal"] is False

    # a refusal of an answerable question: no fact counts, even if the refusal text names one
    refused = {
        "answer": "En löydä. Lähteet: Gitte Meriläinen",
        "refused": True,
        "language": "fi",
        "citations": [],
    }
    r = score_answer(item, refused, m, chunks)
    assert r["fact_recall"] == 0.0 and r["false_refusal"] is True and r["citation_recall"] == 0.0
    assert "refused an answerable question" in r["failures"]

    # must refuse: answering fails, forbidden text is caught, a citation of unknown text is a phantom
    oos = _item(must_refuse=True, forbidden=["@"])
    wrong = {"answer": "gitte@example.fi [1]", "refused": False, "language": "fi",
             "citations": [_cit(1, "zz", "keksitty teksti")]}  # fmt: skip
    r = score_answer(oos, wrong, m, chunks)
    assert r["refusal_ok"] is False and r["forbidden"] == ["@"] and r["phantom_citations"] == 1
    assert len(r["failures"]) == 3
    ok = score_answer(
        oos, {"answer": "En löydä.", "refused": True, "language": "fi", "citations": []}, m, chunks
    )
    assert ok["passed"] and ok["refusal_ok"] is True


# ------------------------------------------------------------------------------------------------------
# suites and feedback
# ------------------------------------------------------------------------------------------------------


def test_load_suite_formats(tmp_path: Path) -> None:
    listed = tmp_path / "a.yaml"
    listed.write_text(
        yaml.safe_dump(
            [
                {
                    "id": "x1",
                    "area": "elmo",
                    "language": "fi",
                    "kind": "when",
                    "question": "Milloin?",
                    "expected_passages": [{"source": ELMO, "quote": "2018", "grade": 2}],
                    "facts": ["2018", ["vuonna 2018", "2018"]],
                }
            ],
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    [item] = load_suite(listed)
    assert item.kind == ["when"] and item.facts == [["2018"], ["vuonna 2018", "2018"]]
    assert item.expected_passages[0].grade == 2 and item.suite == "a" and item.status == "active"

    mapped = tmp_path / "b.yaml"
    mapped.write_text(
        "suite: b\ndefaults: {area: out-of-scope, must_refuse: true}\nitems:\n"
        "  - {id: y1, question: 'What is the weather?'}\n  - {id: y2, question: 'Mikä on Oulun väkiluku?'}\n",
        encoding="utf-8",
    )
    items = load_suite(mapped)
    assert [i.must_refuse for i in items] == [True, True]
    assert [i.language for i in items] == ["en", "fi"]  # detected when not given
    assert "area" not in items[0].extra

    for bad, message in [
        ("- {question: Q, area: nowhere}", "unknown area"),
        ("- {question: '  '}", "question"),
        ("- {question: Q, must_refuse: true, facts: [x]}", "must be refused"),
        ("- {question: Q, kind: [guess]}", "unknown kind"),
        ("- {question: Q, language: de}", r"unknown language 'de' \(one of fi, en, sv\)"),
        ("- {question: Q, status: maybe}", r"unknown status 'maybe' \(one of active, draft\)"),
        ("- {question: Q, expected_passages: [{source: s}]}", "quote"),
        ("- {question: Q, expected_passages: [{source: s, quote: ' '}]}", "quote: must be a non-empty string"),
        ("[unclosed", "not valid YAML"),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(SuiteError, match=message):
            load_suite(path)
    with pytest.raises(SuiteError, match="duplicate"):
        load_suites([listed, listed])


def test_feedback_to_suite(tmp_path: Path) -> None:
    from assistant.feedback import FeedbackStore, suite_items

    store = FeedbackStore(tmp_path / "feedback.sqlite")
    cited = {
        "n": 1,
        "source": ELMO,
        "text": "Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053",
    }
    store.add(
        rating="up", question="Kuka on ELMO-pilotin projektipäällikkö?", answer="G. M. [1]", citations=[cited]
    )
    store.add(
        rating="up", question="Mikä on Oulun väkiluku?", answer="En löydä.", refused=True, language="fi"
    )
    store.add(
        rating="down", question="Mikä hänen numeronsa on?", answer="?", history=["Kuka?"], comment="väärin"
    )
    rows = store.all()

    # `assistant feedback export --as-suite` YAML loads: liked items are active, disliked ones wait for review
    path = tmp_path / "feedback.yaml"
    path.write_text(
        yaml.safe_dump({"items": suite_items(rows)}, allow_unicode=True, sort_keys=False), "utf-8"
    )
    items = load_suite(path)
    assert [i.status for i in items] == ["active", "active", "draft"]
    liked, refusal, disliked = items
    assert liked.area == "feedback" and not liked.must_refuse and not liked.facts
    assert (
        liked.expected_passages[0].source == ELMO and "Gitte Meriläinen" in liked.expected_passages[0].quote
    )
    assert refusal.must_refuse and not refusal.expected_passages
    assert disliked.history == ["Kuka?"] and disliked.extra["feedback"]["comment"] == "väärin"

    # the plain JSONL export loads directly, converted the same way
    jsonl = tmp_path / "feedback.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert [(i.id, i.status, i.must_refuse) for i in load_suite(jsonl)] == [
        (i.id, i.status, i.must_refuse) for i in items
    ]
    # loose records: other rating spellings, missing fields, empty questions dropped
    loose = items_from_feedback([{"question": "Q?", "vote": 1, "refused": True}, {"question": " "}])
    assert len(loose) == 1 and loose[0]["must_refuse"] is True

    # a reviewed item written back with suite_yaml is a normal item
    reviewed = dict(suite_items(rows)[2], facts=[["040 6854 053"]], area="contacts", kind=["follow-up"])
    reviewed.pop("review")
    path.write_text(suite_yaml([reviewed]), encoding="utf-8")
    [item] = load_suite(path)
    assert item.status == "active" and item.facts == [["040 6854 053"]] and not item.must_refuse


def test_default_suite_covers_the_brief() -> None:
    items = load_suites(default_suite_paths())
    assert len(items) >= 60
    assert {i.area for i in items} >= {"elmo", "strategy-2019", "strategy-2024", "contacts", "out-of-scope"}
    assert {i.language for i in items} >= {"fi", "en"}
    kinds = {k for i in items for k in i.kind}
    assert kinds >= {"who", "what", "when", "list", "contact", "inflected", "follow-up", "refusal"}
    for i in items:
        assert i.status == "active"
        assert ("follow-up" in i.kind) == bool(i.history), i.id
        assert ("refusal" in i.kind) == i.must_refuse, i.id
        assert i.must_refuse or (i.facts and i.expected_passages), i.id
    # every quote is in its source file
    texts = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "knowledge").glob("*.txt")}
    for i in items:
        for e in i.expected_passages:
            assert locate(texts[e.source], e.quote) is not None, (i.id, e.quote)
    # every fact can be met by an answer quoting the sources: one of its alternatives is in a source (a fact
    # no source holds, such as "Pohjois-Savon liito" for the source's "liitto", fails right answers too)
    corpus = "\n".join(texts.values())
    for i in items:
        for alternatives in i.facts:
            assert fact_match(alternatives, corpus) is not None, (i.id, alternatives)


# ------------------------------------------------------------------------------------------------------
# comparison and gate
# ------------------------------------------------------------------------------------------------------


def _report(hit5: float, passed: dict[str, bool], dangling: int = 0) -> dict[str, Any]:
    return {
        "created": "now",
        "items_scored": len(passed),
        "problems": [],
        "systems": {
            "hybrid": {"figures": {"hit@5": hit5, "mrr": 0.9, "dangling": dangling, "latency_p95_ms": 10.0}}
        },
        "items": [{"id": k, "results": {"hybrid": {"answer": {"passed": v}}}} for k, v in passed.items()],
    }


def test_compare_reports() -> None:
    old = _report(0.9, {"a": True, "b": False, "c": True})
    new = _report(0.95, {"a": False, "b": True, "d": True})
    c = compare_reports(new, old)
    assert c["systems"]["hybrid"]["hit@5"]["delta"] == pytest.approx(0.05)
    assert c["systems"]["hybrid"]["mrr"]["delta"] == 0.0
    assert c["items"]["hybrid"] == {
        "newly_failing": ["a"],
        "newly_passing": ["b"],
        "only_in_new": ["d"],
        "only_in_old": ["c"],
    }
    assert "hit@5" in compare_text(c) and "newly failing: a" in compare_text(c)
    assert "▲" in fmt_delta("hit@5", 0.05) and "▲" in fmt_delta("latency_p95_ms", -3.0)
    assert compare_reports(old, old)["items"]["hybrid"]["newly_failing"] == []


def test_gate() -> None:
    thresholds = {
        "suite": {"min_items": 3},
        "hybrid": {"min": {"hit@5": 0.9, "mrr": 0.95}, "max": {"dangling": 0}},
        "dense": {"min": {"hit@5": 0.5}},  # not run: skipped
    }
    gate = check_gate(_report(0.9, {"a": True, "b": True}, dangling=2), thresholds)
    assert not gate["passed"]
    assert gate["skipped_systems"] == ["dense"]
    joined = "\n".join(gate["violations"])
    assert "2 items scored < 3" in joined and "mrr = 0.900 < 0.95" in joined and "dangling = 2 > 0" in joined
    assert "hit@5" not in joined  # equal to the threshold passes
    assert check_gate(_report(0.9, {"a": True, "b": True, "c": True}), {"hybrid": {"min": {"hit@5": 0.9}}})[
        "passed"
    ]
    assert not check_gate({"systems": {}}, {"hybrid": {"min": {"hit@5": 0.1}}})["passed"]  # hybrid must run
    missing = check_gate(_report(0.9, {}), {"hybrid": {"min": {"fact_recall": 0.5}}})
    assert "not measured" in missing["violations"][0]


def test_html_report_escapes_everything(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    answer = {"answer": f"{evil} [1]", "refused": False, "language": "fi",
              "citations": [_cit(1, "c1", f"teksti {evil}")]}  # fmt: skip
    item = _item(id="x<b>", question=f"Mikä {evil}?", facts=[["puuttuu"]])
    scored = score_answer(item, answer, Matcher({}), {"c1": f"teksti {evil}"})
    row = {**item.to_dict(), "results": {"hybrid": {"answer": scored, "answer_ms": 5.0, "retrieval_ms": 1.0}}}
    report: dict[str, Any] = {
        "created": "now",
        "items_scored": 1,
        "problems": [f"quote {evil}"],
        "systems": {
            "hybrid": {"label": evil, "answers_scored": True, "figures": aggregate([row], "hybrid")}
        },
        "breakdown": {},
        "items": [row],
    }
    folder = write_report(report, tmp_path)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "missing fact: puuttuu" in page and "data:image/png;base64," in page
    assert "FAIL" in (folder / "report.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------------
# the gate on the real system: default suite, index built from knowledge/, all ablations
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(kb_settings: Any) -> dict[str, Any]:
    """The default suite with every ablation, on the session's index built from knowledge/ (conftest)."""
    settings = kb_settings.model_copy(update={"llm_url": None, "llm_model": None})
    items = load_suites(gated_suite_paths())
    return run_evaluation(
        settings, items, ablations=True, suites=gated_suite_paths(), log=lambda _m: None
    )


def test_default_suite_passes_the_gate(report: dict[str, Any]) -> None:
    gate = check_gate(report, load_thresholds())
    if not gate["passed"]:
        print(summary_text(report))
        for f in failing_items(report):
            if f["result"]["answer"]["failures"]:
                print(f["row"]["id"], f["result"]["answer"]["failures"])
    assert gate["passed"], "\n".join(gate["violations"])
    assert report["problems"] == []
    assert set(report["systems"]) == {"hybrid", "dense", "bm25-voikko", "bm25-snowball", "llamaindex"}
    assert "error" not in report["systems"]["llamaindex"], report["systems"]["llamaindex"].get("error")
    assert report["systems"]["hybrid"]["figures"]["dangling"] == 0


def test_generative_answers_and_the_judge(kb_settings: Any) -> None:
    """With an LLM configured, the generative answers are scored beside the extractive ones, and the judge's
    verdicts become the faithfulness figure (a scripted OpenAI-compatible server, tests/support/fake_llm.py)."""
    import re

    from support.fake_llm import FakeLLM, Request

    passage = re.compile(r"<<<PASSAGE (\d+)>>>\n(.*?)\n<<<END>>>", re.S)

    def reply(req: Request) -> str:
        if "You check an assistant's answer" in req.user:
            return 'Verdict: {"faithful": true, "unsupported": []}'
        for n, body in passage.findall(req.user):
            if "Gitte Meriläinen" in body:
                return f"Projektipäällikkö on Gitte Meriläinen. [{n}]"
        return "Lähteet eivät kerro tätä."

    wanted = {"con-fi-project-manager", "oos-fi-oulu-population"}
    items = [i for i in load_suites(default_suite_paths()) if i.id in wanted]
    with FakeLLM(default=reply) as llm:
        settings = kb_settings.model_copy(
            update={"llm_url": llm.url, "llm_model": "fake", "llm_timeout": 10.0}
        )
        got = run_evaluation(
            settings, items, ablations=False, anchor=False, judge=make_judge(settings), log=lambda _m: None
        )
    assert set(got["systems"]) == {"hybrid", "hybrid+llm"}
    gen = got["systems"]["hybrid+llm"]["figures"]
    assert gen["fact_recall"] == 1.0 and gen["refusal_accuracy"] == 1.0 and gen["dangling"] == 0
    assert gen["faithfulness"] == 1.0
    assert got["systems"]["hybrid"]["figures"]["fact_recall"] == 1.0  # the extractive answers still scored
    row = next(r for r in got["items"] if r["id"] == "con-fi-project-manager")
    assert row["results"]["hybrid+llm"]["answer"]["mode"] == "generative"
    assert parse_judgement("no json here")["faithful"] is None


def test_reports_are_written(report: dict[str, Any], tmp_path: Path) -> None:
    import copy

    first = write_report(copy.deepcopy(report), tmp_path)
    again = copy.deepcopy(report)
    again["compare"] = compare_reports(again, load_report(first))
    second = write_report(again, tmp_path)
    assert first != second  # same second: a suffixed folder, never overwritten
    for folder in (first, second):
        for name in ("report.json", "report.md", "report.html"):
            assert (folder / name).stat().st_size > 0
    html_text = (second / "report.html").read_text(encoding="utf-8")
    assert html_text.count("data:image/png;base64,") == 3 and "<script" not in html_text
    assert "Change against" in html_text
    loaded = load_report(second / "report.json")
    assert all(v["delta"] in (0, 0.0, None) for v in loaded["compare"]["systems"]["hybrid"].values())
    assert "## Figures per system" in (first / "report.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------------
# the realistic-phrasing suite and the squad2fi-dev format
# ------------------------------------------------------------------------------------------------------

SQUAD_SAMPLE = REPO / "tests" / "data" / "squad-sample"


def test_realistic_suite_is_broad_and_outside_the_gate() -> None:
    items = load_suite(REPO / "evals" / "realistic.yaml")
    assert len(items) >= 80
    assert {i.language for i in items} == {"fi", "en", "sv"}
    assert sum(i.must_refuse for i in items) >= 8  # near misses
    assert sum("follow-up" in i.kind for i in items) >= 8
    assert sum("contact" in i.kind for i in items) >= 15
    assert sum(len(i.question.split()) <= 2 for i in items) >= 10
    paths = gated_suite_paths()
    assert REPO / "evals" / "realistic.yaml" in default_suite_paths() and all(p.stem != "realistic" for p in paths)
    # the gate sees only the gated suites' rows
    rows = [{"suite": "realistic", "must_refuse": False, "language": "fi", "results": {"hybrid": {}}},
            {"suite": "elmo", "must_refuse": False, "language": "fi", "results": {"hybrid": {}}}]
    view = gated_view({"systems": {"hybrid": {"figures": {}}}, "items": rows})
    assert view["items_scored"] == 1 and view["systems"]["hybrid"]["figures"]["items"] == 1


def test_uploads_suite_quotes_its_own_documents() -> None:
    """evals/uploads: questions in three languages about documents an officer adds (Markdown, HTML, text),
    run with --sources; every quote and fact is in the documents as the loaders read them."""
    from assistant.knowledge.loaders import load_file

    root = REPO / "evals" / "uploads"
    items = load_suite(root / "uploads.yaml")
    assert {i.language for i in items} == {"fi", "en", "sv"} and {i.area for i in items} == {"uploads"}
    assert sum(i.must_refuse for i in items) >= 5 and sum("contact" in i.kind for i in items) >= 5
    assert all(p.parent.name == "evals" for p in default_suite_paths())  # not asked against knowledge/
    texts = {p.name: load_file(p).text for p in (root / "documents").iterdir()}
    assert {p.rsplit(".", 1)[1] for p in texts} == {"md", "html", "txt", "pdf"}
    for i in items:
        assert ("refusal" in i.kind) == i.must_refuse and ("follow-up" in i.kind) == bool(i.history), i.id
        assert i.must_refuse or (i.facts and i.expected_passages), i.id
        for e in i.expected_passages:
            assert locate(texts[e.source], e.quote) is not None, (i.id, e.quote)
        for alternatives in i.facts:
            assert fact_match(alternatives, "\n".join(texts.values())) is not None, (i.id, alternatives)


def test_squad_hit_rule_spans_and_answer_scores() -> None:
    from assistant.evaluation.metrics import answer_figures, passage_hits, span_in
    from assistant.evaluation.suites import Paragraph, SquadQuestion

    gold = Paragraph("a.txt", 0, 100, 600, ("on", "Tallahassee"))
    assert passage_hits("a.txt", 100, 400, gold)  # wholly inside
    assert passage_hits("a.txt", 0, 600, gold)  # the paragraph is 500 of its 600 characters
    assert passage_hits("a.txt", 50, 250, gold)  # 150 of 200 inside
    assert not passage_hits("a.txt", 0, 150, gold)  # 50 of 150 inside, 10 % of the paragraph
    assert not passage_hits("b.txt", 100, 400, gold)
    assert span_in("Pääkaupunki on **Tallahassee** [1].", gold.spans) == "Tallahassee"
    assert span_in("Se on iso.", gold.spans) is None  # "on" is too short to mean anything
    q = SquadQuestion("x", "Mikä on pääkaupunki?", "a.txt", 0, gold.spans)
    offsets = {"c1": ("a.txt", 120, 400), "c2": ("b.txt", 0, 300)}
    refused = {"answer": "En löydä.", "refused": True, "citations": [], "retrieved": [{"id": "c1"}]}
    got = answer_figures(refused, q, gold, offsets)
    assert got["wrong_refusals"] == 1.0 and got["refusals"] == 1.0 and got["answer_has_span"] == 0.0
    refused["retrieved"] = [{"id": "c2"}, {"id": "c1"}]
    assert answer_figures(refused, q, gold, offsets)["wrong_refusals"] == 0.0  # gold not at rank 1
    cites = [{"n": 2, "source": "a.txt", "start": 120, "end": 400}, {"n": 1, "source": "b.txt", "start": 0, "end": 300}]
    ans = {"answer": "Tallahassee [1][2]", "refused": False, "citations": cites, "retrieved": []}
    got = answer_figures(ans, q, gold, offsets)
    assert (got["cited_first"], got["cited_any"], got["answer_has_span"]) == (0.0, 1.0, 1.0)


def test_squad_sample_loads_with_true_offsets() -> None:
    from assistant.evaluation.suites import SquadError, load_squad

    squad = load_squad(SQUAD_SAMPLE)
    assert len(squad.questions) == 20 and squad.total_questions == 20
    data = json.loads((SQUAD_SAMPLE / "paragraphs.json").read_text(encoding="utf-8"))
    for article in data["articles"]:
        text = (squad.corpus_dir / article["file"]).read_text(encoding="utf-8")
        for p in article["paragraphs"]:
            assert text[p["start"] : p["end"]] == p["text"]
    assert len(load_squad(SQUAD_SAMPLE, limit=5).questions) == 5
    assert len({q.source for q in load_squad(SQUAD_SAMPLE, limit=3).questions}) > 1  # spread, not the first 3
    with pytest.raises(SquadError):
        load_squad(REPO / "evals")


def test_squad_questions_asked_in_other_words(tmp_path: Path) -> None:
    """``--squad-questions``: the set's questions in another language, by id (evals/squad2fi-dev-en.json)."""
    from assistant.cli import main
    from assistant.evaluation.suites import SquadError, load_squad

    ids = [q.id for q in load_squad(SQUAD_SAMPLE).questions][:2]
    asked = tmp_path / "en.json"
    asked.write_text(json.dumps({ids[0]: "Which state is it?", ids[1]: "When was it founded?"}), encoding="utf-8")
    squad = load_squad(SQUAD_SAMPLE, questions_file=asked)
    assert [(q.id, q.question) for q in squad.questions] == [(ids[0], "Which state is it?"), (ids[1], "When was it founded?")]
    assert squad.gold(squad.questions[0]) == load_squad(SQUAD_SAMPLE).gold(load_squad(SQUAD_SAMPLE).questions[0])
    assert squad.questions_file == str(asked)
    for bad in ({"no-such-id": "Who?"}, [ids[0]], {ids[0]: 3}):
        asked.write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(SquadError):
            load_squad(SQUAD_SAMPLE, questions_file=asked)
    args = ["eval", "--squad", str(SQUAD_SAMPLE), "--squad-questions", str(asked), "--index", str(tmp_path / "idx")]
    assert main(args) == 2  # a clear message, nothing indexed
    assert main(["eval", "--squad-questions", str(REPO / "evals" / "squad2fi-dev-en.json")]) == 2  # no set to rephrase
    assert not (tmp_path / "idx").exists()
    # the repository's translations name real dev-set questions (the dev set itself lives in ../shared)
    for name in ("squad2fi-dev-en.json", "squad2fi-dev-sv.json"):
        translated = json.loads((REPO / "evals" / name).read_text(encoding="utf-8"))
        assert len(translated) == 35 and all(k.startswith("a") and isinstance(v, str) for k, v in translated.items())


def test_questions_read_as_unanswerable_are_left_out_of_the_read_wrong_refusals(tmp_path: Path) -> None:
    """``--squad-readings``: SQuAD 2.0 mixes in unanswerable questions, unmarked; refusing one whose changed number
    or relation was read by hand is not a wrong refusal, so 'wrong refusals, read' leaves it out."""
    from assistant.cli import main
    from assistant.evaluation.metrics import answer_figures
    from assistant.evaluation.suites import SquadError, load_squad

    plain = load_squad(SQUAD_SAMPLE)
    first, second = plain.questions[:2]
    readings = tmp_path / "read.json"
    readings.write_text(json.dumps({first.id: "asks of 1996; the paragraph says 1966"}), encoding="utf-8")
    squad = load_squad(SQUAD_SAMPLE, readings_file=readings)
    assert [q.read_unanswerable for q in squad.questions[:2]] == ["asks of 1996; the paragraph says 1966", ""]
    for q in (squad.questions[0], squad.questions[1]):  # both refused with their gold passage retrieved first
        gold = squad.gold(q)
        refusal = {"answer": "En löydä …", "refused": True, "citations": [], "retrieved": [{"id": "c1"}]}
        got = answer_figures(refusal, q, gold, {"c1": (gold.source, gold.start, gold.end)})
        assert got["wrong_refusals"] == 1.0
        assert got["wrong_refusals_read"] == (0.0 if q.id == first.id else 1.0)
    for bad in ({"no-such-id": "a reason"}, [first.id], {first.id: ""}, {second.id: 3}):
        readings.write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(SquadError):
            load_squad(SQUAD_SAMPLE, readings_file=readings)
    assert main(["eval", "--squad-readings", str(REPO / "evals" / "squad2fi-dev-unanswerable.json")]) == 2
    # the repository's readings name real dev-set questions, each with the reason it was read so
    read = json.loads((REPO / "evals" / "squad2fi-dev-unanswerable.json").read_text(encoding="utf-8"))
    assert read and all(k.startswith("a") and "-q" in k and len(v) > 30 for k, v in read.items())
    dev = REPO.parent / "shared" / "datasets" / "squad2fi-dev"
    if dev.exists():  # the dev set lives outside the repository
        assert {q.id for q in load_squad(dev, readings_file=REPO / "evals" / "squad2fi-dev-unanswerable.json").questions if q.read_unanswerable} == set(read)


def test_eval_squad_flag_scores_all_systems_and_caches_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`assistant eval --squad DIR --limit N`: real model, real Chroma; the second run embeds nothing."""
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_SOURCES", str(REPO / "knowledge"))  # the default knowledge base, asked too
    args = ["eval", "--squad", str(SQUAD_SAMPLE), "--index", str(tmp_path / "idx"), "--report-dir"]
    assert main([*args, str(tmp_path / "r1")]) == 0
    assert main([*args, str(tmp_path / "r2"), "--limit", "8"]) == 0
    first = load_report(next((tmp_path / "r1").iterdir()))
    second = load_report(next((tmp_path / "r2").iterdir()))
    assert first["squad"]["refresh"]["chunks_embedded"] > 0
    assert second["squad"]["refresh"]["chunks_embedded"] == 0  # cached under --index, keyed by corpus hash
    assert second["squad"]["index"] == first["squad"]["index"]
    sq = first["squad"]
    assert sq["questions_scored"] == 20 and second["squad"]["questions_scored"] == 8
    assert set(sq["systems"]) == {"hybrid", "llamaindex", "bm25-snowball"}
    assert all("error" not in e for e in sq["systems"].values())
    hybrid = sq["systems"]["hybrid"]["figures"]
    assert hybrid["hit@5"] >= 0.8  # 0.95 measured: the gold paragraphs are found
    assert hybrid["cited_any"] >= 0.5 and hybrid["answer_has_span"] >= 0.4
    for name, entry in sq["systems"].items():
        for k, v in entry["figures"].items():
            assert v is None or k == "questions" or "ms" in k or 0.0 <= v <= 1.0, (name, k, v)
    folder = next((tmp_path / "r1").iterdir())
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "ours, answers" in md and "ours, retrieval only" in md and "bm25-snowball" in md
    assert "External data" in (folder / "report.html").read_text(encoding="utf-8")
    # the same questions against the default knowledge base (knowledge/, built into --index), which answers none
    away = sq["elsewhere"]
    assert away.get("questions") == 20 and away["index"] == str(tmp_path / "idx"), away
    assert away["refused"] >= 19, away["answered"]  # measured 20/20
    assert away["refused"] + len(away["answered"]) == 20
    assert f"refused {away['refused']}/20" in md and "Asked elsewhere" in md
    assert second["squad"]["elsewhere"]["questions"] == 8
    # with --suite too, our suites' questions are asked against the squad corpus, which answers none of them
    both = [*args, str(tmp_path / "r4"), "--limit", "2", "--suite", str(REPO / "evals" / "contacts.yaml"), "--no-ablations"]
    assert main(both) == 0
    fourth = load_report(next((tmp_path / "r4").iterdir()))
    here = fourth["squad"]["suites_here"]
    assert here["questions"] == 14 and here["refused"] >= 13, here["answered"]  # measured 14/14; all are single-turn
    assert f"refused {here['refused']}/14" in (next((tmp_path / "r4").iterdir()) / "report.md").read_text(encoding="utf-8")
    assert first["squad"]["suites_here"] is None  # no suite given
    # a default knowledge base with nothing in it is reported beside the squad figures, not fatal
    empty = tmp_path / "empty-sources"
    empty.mkdir()
    monkeypatch.setenv("ASSISTANT_SOURCES", str(empty))
    assert main([*args, str(tmp_path / "r3"), "--limit", "2", "--index", str(tmp_path / "idx-empty")]) == 0
    third = load_report(next((tmp_path / "r3").iterdir()))
    assert "holds no sources" in third["squad"]["elsewhere"]["error"]
    assert third["squad"]["questions_scored"] == 2
    # bad input: not a squad folder, or a gate with no suite to gate
    assert main(["eval", "--squad", str(tmp_path), "--index", str(tmp_path / "idx")]) == 2
    assert main(["eval", "--squad", str(SQUAD_SAMPLE), "--gate", "--index", str(tmp_path / "idx")]) == 2
