"""Runs systems over suites: every item through the assistant once per system, scored by metrics.py.

Systems: ``hybrid`` (the product), ``dense``, ``bm25-voikko``, ``bm25-snowball`` (ablations: retrieval *and*
extractive answers), and ``llamaindex`` — a plain llama-index ``VectorStoreIndex`` retriever over the same
Chroma collection and embedding model, as an outside anchor (retrieval only). With an LLM configured the
generative answers are scored too (``hybrid+llm``), optionally with an LLM judge (judge.py).

Each item is retrieved ONCE per system, by the assistant itself: :class:`RecordingRetriever` takes the
assistant's own call (its own question cleaning, language detection and follow-up resolution), retrieves
:data:`DEPTH` passages for the retrieval metrics and hands the assistant its usual top_k of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answering.assistant import Assistant
from assistant.answering.retrieve import JOIN, KnowledgeBase, Retrieval, Retriever
from assistant.config import REPO_ROOT, Settings
from assistant.evaluation.metrics import (
    DEPTH,
    HIT_SHARE,
    MIN_SPAN_CHARS,
    Matcher,
    Ranked,
    aggregate,
    aggregate_squad,
    answer_figures,
    retrieval_figures,
    retrieval_scores,
    score_answer,
)
from assistant.evaluation.suites import AREAS, LANGUAGES, Item, Paragraph, SquadError, SquadQuestion, SquadSet
from assistant.knowledge.embeddings import embedder_from_settings

REPORT_FORMAT = "elmo-eval/1"
WARMUP_QUESTION = "Mikä on ELMO-pilotti?"
#: systems with their retrieval mode; ``None`` is the llama-index anchor (retrieval only)
RETRIEVAL_SYSTEMS: dict[str, str | None] = {
    "hybrid": "hybrid",
    "dense": "dense",
    "bm25-voikko": "bm25",
    "bm25-snowball": "bm25-snowball",
    "llamaindex": None,
}
SYSTEM_LABELS = {
    "hybrid": "dense + BM25 (Voikko lemmas) fused by RRF — the product",
    "dense": "dense only (multilingual-e5-small in Chroma)",
    "bm25-voikko": "BM25 over Voikko lemmas + compound parts",
    "bm25-snowball": "BM25 over Snowball stems",
    "llamaindex": "plain llama-index VectorStoreIndex retriever, same Chroma store and model (anchor)",
    "hybrid+llm": "hybrid retrieval + the generative (LLM) answerer",
}
Judge = Callable[[str, str, list[str]], dict[str, Any]]


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_index(settings: Settings, log: Callable[[str], None] = log_stderr) -> bool:
    """Build the index from ``settings.sources`` when it is empty or missing. True when it was built."""
    from assistant.knowledge.ingest import refresh
    from assistant.knowledge.store import Store

    if Store.open(settings).live_sources():
        return False
    log(f"the index at {settings.chroma_url or settings.index} is empty: building it from {settings.sources} ...")
    log(refresh(settings, show_bar=False).text())
    return True


class CachedEmbedder:
    """The configured embedder with query vectors memoised for one evaluation run.

    Each item's query is embedded once instead of once per system; ``saved_ms`` accumulates what the cache
    saved, and the timed calls add it back, so every system's latency still includes embedding the query."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.id: str = inner.id
        self.dim: int = inner.dim
        self.saved_ms = 0.0
        self._cache: dict[str, tuple[Any, float]] = {}

    def embed_passages(self, texts: list[str]) -> Any:
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> Any:
        hit = self._cache.get(text)
        if hit is not None:
            self.saved_ms += hit[1]
            return hit[0]
        t = time.perf_counter()
        vec = self.inner.embed_query(text)
        self._cache[text] = (vec, (time.perf_counter() - t) * 1000)
        return vec

    def clear(self) -> None:
        self._cache.clear()
        self.saved_ms = 0.0


def _saved_ms(kb: KnowledgeBase) -> float:
    return float(getattr(kb.embedder, "saved_ms", 0.0))


class RecordingRetriever(Retriever):
    """The assistant's retriever, recording what it retrieved: one retrieval serves metrics and answer."""

    def __init__(self, kb: KnowledgeBase, depth: int = DEPTH):
        super().__init__(kb)
        self.depth = depth
        self.last: Retrieval | None = None
        self.last_ms = 0.0

    def retrieve(
        self,
        query: str,
        *,
        language: str = "fi",
        k: int | None = None,
        mode: str = "hybrid",
        extra_terms: list[str] | None = None,
    ) -> Retrieval:
        k = k or self.kb.settings.top_k
        saved, t = _saved_ms(self.kb), time.perf_counter()
        got = super().retrieve(query, language=language, k=max(k, self.depth), mode=mode, extra_terms=extra_terms)
        self.last_ms = (time.perf_counter() - t) * 1000 + _saved_ms(self.kb) - saved
        self.last = got
        return dataclasses.replace(got, passages=got.passages[:k], chunks=got.chunks[:k])

    def ranked(self) -> list[Ranked]:
        """The last retrieval, :data:`DEPTH` deep, as metric inputs (empty when the assistant did not retrieve)."""
        passages = self.last.passages if self.last is not None else []
        return [Ranked(p.id, p.source, p.text, p.start, p.end) for p in passages]


def recording_assistant(settings: Settings, kb: KnowledgeBase) -> tuple[Assistant, RecordingRetriever]:
    assistant = Assistant(settings, kb=kb)
    recorder = RecordingRetriever(kb)
    assistant.retriever = recorder
    return assistant, recorder


def build_anchor(kb: Any, k: int = DEPTH) -> Callable[[str], list[Ranked]]:
    """A plain llama-index ``VectorStoreIndex`` retriever over our Chroma collection and embedding model."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.knowledge.embeddings import as_llama_index

    with contextlib.redirect_stdout(io.StringIO()):  # "LLM is explicitly disabled. Using MockLLM."
        LlamaSettings.llm = None
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=kb.store.chunks), embed_model=as_llama_index(kb.embedder)
    )
    retriever = index.as_retriever(similarity_top_k=k)

    def run(query: str) -> list[Ranked]:
        out = []
        for n in retriever.retrieve(query):
            meta = n.node.metadata or {}
            text = n.node.get_content()
            if not text:
                raise RuntimeError(f"llama-index read node {n.node.node_id} with no text")
            start, end = int(meta.get("start") or 0), int(meta.get("end") or 0)
            out.append(Ranked(n.node.node_id, str(meta.get("source", "")), text, start, end))
        return out

    return run


def kb_retrieve(assistant: Any, query: str, language: str, mode: str, extra_terms: list[str]) -> list[Ranked]:
    """A retrieval-only system (no answer to share the retrieval with): the assistant's retriever at DEPTH."""
    got = assistant.retriever.retrieve(query, language=language, k=DEPTH, mode=mode, extra_terms=extra_terms)
    return [Ranked(p.id, p.source, p.text, p.start, p.end) for p in got.passages]


@dataclass
class Run:
    """Everything one evaluation run scores items against."""

    settings: Settings
    kb: KnowledgeBase
    embedder: CachedEmbedder
    assistant: Assistant
    recorder: RecordingRetriever
    generative: Assistant | None
    generative_recorder: RecordingRetriever | None
    matcher: Matcher
    corpus: list[Ranked]
    chunk_texts: Mapping[str, str]
    systems: dict[str, str | None]
    anchor: Callable[[str], list[Ranked]] | None = None
    judge: Judge | None = None

    def timed(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
        saved, t = self.embedder.saved_ms, time.perf_counter()
        value = call(*args, **kwargs)
        return value, (time.perf_counter() - t) * 1000 + (self.embedder.saved_ms - saved)


class ChunkTexts(Mapping[str, str]):
    """Chunk id → text, where a passage of joined neighbours (retrieve.JOIN in its id) reads as its chunks'
    texts joined: a citation of it is no phantom."""

    def __init__(self, texts: dict[str, str]):
        self._texts = texts

    def __getitem__(self, cid: str) -> str:
        return " ".join(self._texts[part] for part in cid.split(JOIN))

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and all(part in self._texts for part in cid.split(JOIN))

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


def open_run(settings: Settings, systems: dict[str, str | None], judge: Judge | None) -> Run:
    extractive_settings = settings.model_copy(update={"llm_url": None, "llm_model": None})
    embedder = CachedEmbedder(embedder_from_settings(settings))
    kb = KnowledgeBase(extractive_settings, embedder=embedder)
    assistant, recorder = recording_assistant(extractive_settings, kb)
    generative, gen_recorder = recording_assistant(settings, kb) if settings.llm_enabled else (None, None)
    snap = kb.current()
    corpus = [
        Ranked(cid, str(m.get("source", "")), t, int(m.get("start") or 0), int(m.get("end") or 0))
        for cid, t, m in zip(snap.ids, snap.texts, snap.metas, strict=True)
    ]
    return Run(
        settings=settings,
        kb=kb,
        embedder=embedder,
        assistant=assistant,
        recorder=recorder,
        generative=generative,
        generative_recorder=gen_recorder,
        matcher=Matcher({s: kb.store.source_text(s) or "" for s in snap.sources}),
        corpus=corpus,
        chunk_texts=ChunkTexts(dict(zip(snap.ids, snap.texts, strict=True))),
        systems=systems,
        judge=judge,
    )


def _warm_up(run: Run) -> None:
    """Model loading and first-query costs are not latency."""
    for mode in {v for v in run.systems.values() if v}:
        run.assistant.ask(WARMUP_QUESTION, [], mode=mode)
    if run.generative is not None:
        with contextlib.suppress(Exception):
            run.generative.ask(WARMUP_QUESTION, [])
    run.embedder.clear()


def _retrieval(ranked: Sequence[Ranked], item: Item, run: Run) -> dict[str, Any]:
    if item.expected_passages:
        return retrieval_scores(ranked, item.expected_passages, run.corpus, run.matcher)
    return {"ranked": [{"id": p.id, "source": p.source, "gain": 0.0} for p in ranked[:DEPTH]]}


def score_item(run: Run, item: Item) -> dict[str, Any]:
    """One item through every system: one retrieval and one answer per answering system."""
    row: dict[str, Any] = {**item.to_dict(), "suite": item.suite, "query": item.question, "results": {}}
    for name, mode in run.systems.items():
        res: dict[str, Any] = {}
        if mode is not None:
            run.recorder.last = None
            got, res["answer_ms"] = run.timed(run.assistant.ask, item.question, item.history, mode=mode)
            if run.recorder.last is not None:
                row["query"] = run.recorder.last.query  # the assistant's own prepared query
            res["retrieval_ms"] = run.recorder.last_ms
            res["retrieval"] = _retrieval(run.recorder.ranked(), item, run)
            res["answer"] = score_answer(item, got.to_dict(), run.matcher, run.chunk_texts)
            if item.expected_passages and res["retrieval"].get("hit@5") == 0.0:
                res["answer"]["warnings"].insert(0, "no expected passage in the top 5 retrieved")
        elif run.anchor is not None:
            ranked, res["retrieval_ms"] = run.timed(run.anchor, row["query"])
            res["retrieval"] = _retrieval(ranked, item, run)
        else:
            continue
        row["results"][name] = {k: res[k] for k in ("retrieval_ms", "retrieval", "answer_ms", "answer") if k in res}
    if run.generative is not None:
        row["results"]["hybrid+llm"] = _score_generative(run, item)
    return row


def _score_generative(run: Run, item: Item) -> dict[str, Any]:
    assert run.generative is not None
    res: dict[str, Any] = {}
    got, res["answer_ms"] = run.timed(run.generative.ask, item.question, item.history)
    answer = got.to_dict()
    res["answer"] = score_answer(item, answer, run.matcher, run.chunk_texts)
    if run.judge is None or answer["refused"]:
        return res
    try:
        verdict = run.judge(item.question, answer["answer"], [c["text"] for c in answer["citations"]])
    except Exception as exc:  # noqa: BLE001 - a judge failure is a missing figure, not a crash
        verdict = {"faithful": None, "unsupported": [], "raw": f"judge failed: {exc}"}
    res["answer"]["judge"] = verdict
    if verdict.get("faithful") is False:
        res["answer"]["failures"].append("judge: unfaithful " + "; ".join(verdict["unsupported"])[:200])
        res["answer"]["passed"] = False
    return res


def check_suite(items: Sequence[Item], matcher: Matcher, corpus: Sequence[Ranked]) -> list[str]:
    """Expected passages that cannot match anything: unknown source, or a quote not in the source."""
    problems = []
    for item in items:
        for e in item.expected_passages:
            if e.source not in matcher.source_texts:
                problems.append(f"{item.id}: source {e.source!r} is not in the knowledge base")
            elif matcher.span(e) is None:
                problems.append(f"{item.id}: quote not found in {e.source}: {e.quote[:80]!r}")
            elif not any(matcher.matches(p, e) for p in corpus):
                problems.append(f"{item.id}: no indexed passage holds the quote {e.quote[:80]!r}")
    return problems


def _dim_values(row: Mapping[str, Any], dim: str, value: str) -> bool:
    v = row.get(dim)
    return value in v if isinstance(v, list) else v == value


def _dim_keys(rows: Sequence[Mapping[str, Any]], dim: str) -> list[str]:
    keys: list[str] = []
    for r in rows:
        v = r.get(dim)
        for x in v if isinstance(v, list) else [v]:
            if x is not None and x not in keys:
                keys.append(x)
    order = {"area": AREAS, "language": LANGUAGES}.get(dim)
    return sorted(keys, key=lambda k: (order.index(k) if order and k in order else 99, k))


def summarise_systems(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], errors: Mapping[str, str], answering: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(systems, breakdown): every system's figures over all rows, and per suite/area/language/kind."""
    systems: dict[str, Any] = {}
    breakdown: dict[str, Any] = {}
    for name in names:
        if name in errors:
            systems[name] = {"label": SYSTEM_LABELS[name], "error": errors[name]}
            continue
        systems[name] = {
            "label": SYSTEM_LABELS[name],
            "mode": RETRIEVAL_SYSTEMS.get(name, "hybrid"),
            "answers_scored": name in answering or name == "hybrid+llm",
            "figures": aggregate(rows, name),
        }
        breakdown[name] = {
            dim: {
                value: aggregate([r for r in rows if _dim_values(r, dim, value)], name)
                for value in _dim_keys(rows, dim)
            }
            for dim in ("suite", "area", "language", "kind")
        }
    return systems, breakdown


def git_state() -> dict[str, Any]:
    try:
        run = [["git", "rev-parse", "--short", "HEAD"], ["git", "status", "--porcelain"]]
        commit, dirty = (
            subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
            for cmd in run
        )
        return {"commit": commit or None, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def report_frame(settings: Settings) -> dict[str, Any]:
    """The fields every report starts with (when, which command, which commit)."""
    return {
        "format": REPORT_FORMAT,
        "created": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "command": "assistant eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "",
        "git": git_state(),
    }


def _open_anchor(run: Run, log: Callable[[str], None]) -> str | None:
    """Sets ``run.anchor``; returns the error when llama-index cannot serve it."""
    try:
        run.anchor = build_anchor(run.kb)
        run.anchor(WARMUP_QUESTION)
        return None
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        run.anchor = None
        log(f"llama-index anchor unavailable: {type(exc).__name__}: {exc}")
        return f"{type(exc).__name__}: {exc}"


def run_evaluation(
    settings: Settings,
    items: Sequence[Item],
    *,
    ablations: bool = True,
    anchor: bool = True,
    judge: Judge | None = None,
    suites: Sequence[Path | str] = (),
    log: Callable[[str], None] = log_stderr,
) -> dict[str, Any]:
    """Runs every active item through every system and returns the report (a JSON-able dict)."""
    t_start = time.perf_counter()
    built = ensure_index(settings, log)
    systems = {k: v for k, v in RETRIEVAL_SYSTEMS.items() if (ablations or k == "hybrid")}
    if not anchor:
        systems.pop("llamaindex", None)
    run = open_run(settings, systems, judge)
    active = [i for i in items if i.status == "active"]
    problems = check_suite(active, run.matcher, run.corpus)
    for p in problems:
        log(f"suite problem: {p}")
    errors: dict[str, str] = {}
    if "llamaindex" in systems and (error := _open_anchor(run, log)):
        errors["llamaindex"] = error
    _warm_up(run)
    log(f"evaluating {len(active)} items × {len(systems)} retrieval systems{' + LLM answers' if run.generative else ''} ...")
    rows = [score_item(run, item) for item in active]
    names = list(systems) + (["hybrid+llm"] if run.generative is not None else [])
    answering = [k for k, v in systems.items() if v is not None]
    systems_out, breakdown = summarise_systems(rows, names, errors, answering)
    snap = run.kb.current()
    return {
        **report_frame(settings),
        "config": {
            "embedder": run.embedder.id,
            "top_k": settings.top_k,
            "chunk_chars": settings.chunk_chars,
            "collection": settings.collection,
            "index": settings.chroma_url or str(settings.index),
            "sources": str(settings.sources),
            "llm": settings.llm_model if settings.llm_enabled else None,
            "judge": judge is not None,
            "depth": DEPTH,
            "ablations": ablations,
        },
        "index": {"chunks": len(snap.ids), "sources": sorted(snap.sources), "built_now": built},
        "suites": [str(s) for s in suites],
        "items_total": len(items),
        "items_scored": len(active),
        "skipped_drafts": [i.id for i in items if i.status != "active"],
        "problems": problems,
        "systems": systems_out,
        "breakdown": breakdown,
        "items": rows,
        "runtime_s": round(time.perf_counter() - t_start, 2),
    }


# ------------------------------------------------------------------------------------------------------
# the squad2fi-dev format
# ------------------------------------------------------------------------------------------------------

SQUAD_SYSTEMS = {
    "hybrid": "ours: dense + BM25 (Voikko) → extractive answer",
    "llamaindex": "plain llama-index VectorStoreIndex, same Chroma store and model",
    "bm25-snowball": "bm25s over Snowball stems, same chunks",
}


def squad_settings(settings: Settings, squad: SquadSet) -> Settings:
    """The squad corpus indexed in its own embedded Chroma under ``<index>/squad-<corpus hash>/``, extractive."""
    return settings.model_copy(
        update={
            "sources": squad.corpus_dir,
            "index": Path(settings.index) / f"squad-{squad.corpus_hash[:16]}",
            "chroma_url": None,
            "collection": "squad",
            "llm_url": None,
            "llm_model": None,
        }
    )


def ensure_squad_index(settings: Settings, log: Callable[[str], None] = log_stderr) -> dict[str, Any]:
    """Refresh the cached index: a first run embeds the corpus, a re-run embeds nothing (same hashes)."""
    from assistant.knowledge.ingest import refresh

    Path(settings.index).mkdir(parents=True, exist_ok=True)
    log(f"squad index at {settings.index} ...")
    summary = refresh(settings, show_bar=False)
    log(summary.text())
    if summary.failed:
        raise SquadError(f"squad corpus failed to index: {summary.failed}")
    return summary.to_json()


def _squad_row(
    q: SquadQuestion,
    gold: Paragraph,
    assistant: Assistant,
    recorder: RecordingRetriever,
    others: Mapping[str, Callable[[str, str], list[Ranked]]],
    offsets: Mapping[str, tuple[str, int, int]],
) -> dict[str, Any]:
    from assistant.text.language import detect_language

    language = detect_language(q.question)
    row: dict[str, Any] = {
        "id": q.id,
        "question": q.question,
        "source": q.source,
        "paragraph_index": q.paragraph_index,
        "language": language,
        "results": {},
    }
    t = time.perf_counter()
    got = assistant.ask(q.question).to_dict()
    answer_ms = (time.perf_counter() - t) * 1000
    row["results"]["hybrid"] = {"retrieval": retrieval_figures(recorder.ranked(), q, gold)}
    for name, retrieve in others.items():
        row["results"][name] = {"retrieval": retrieval_figures(retrieve(q.question, language), q, gold)}
    row["results"]["hybrid"]["answer"] = answer_figures(got, q, gold, offsets)
    row["results"]["hybrid"]["answer_ms"] = answer_ms
    return row


ELSEWHERE_SHOWN = 40  # answered questions listed in the report


def ask_elsewhere(settings: Settings, squad: SquadSet, log: Callable[[str], None] = log_stderr) -> dict[str, Any]:
    """The set's questions asked against the default knowledge base (``settings``' own index, built from its
    sources when empty), which answers none of them: how many are refused, and what the others were answered
    with. The unanswerable counterpart of the squad run, in whatever language ``--squad-questions`` asks.
    A knowledge base that cannot be opened or holds nothing is reported, not fatal: the squad figures stand."""
    from assistant.knowledge.store import Store

    where = {"index": str(settings.chroma_url or settings.index), "sources": str(settings.sources)}
    try:
        # ensure_index builds only an empty index: one it built from no sources is still empty
        if ensure_index(settings, log) and not Store.open(settings).live_sources():
            return {**where, "error": "the knowledge base holds no sources"}
    except Exception as exc:  # noqa: BLE001 - reported beside the squad figures
        return {**where, "error": f"{type(exc).__name__}: {exc}"}
    assistant = Assistant(settings.model_copy(update={"llm_url": None, "llm_model": None}))
    log(f"squad: the {len(squad.questions)} questions against {where['index']} ...")
    return {**where, **refusal_tally(assistant, [(q.id, q.question) for q in squad.questions])}


def ask_suites_here(assistant: Assistant, items: Sequence[Item]) -> dict[str, Any]:
    """The other direction: our suites' single-turn questions asked against the squad corpus, which answers
    none of them (an officer's question about documents the knowledge base does not hold)."""
    return refusal_tally(assistant, [(i.id, i.question) for i in items if not i.history])


def refusal_tally(assistant: Assistant, questions: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Questions ``assistant``'s sources do not answer, asked: how many it refuses, and the others' answers."""
    answered = []
    for qid, question in questions:
        got = assistant.ask(question)
        if not got.refused:
            first = got.citations[0].source if got.citations else None
            answered.append({"id": qid, "question": question, "answer": got.answer, "source": first})
    n = len(questions)
    return {
        "questions": n,
        "refused": n - len(answered),
        "refused_share": (n - len(answered)) / n if n else None,
        "answered": answered[:ELSEWHERE_SHOWN],
    }


def run_squad(
    settings: Settings,
    squad: SquadSet,
    *,
    anchor: bool = True,
    suite_items: Sequence[Item] = (),
    log: Callable[[str], None] = log_stderr,
) -> dict[str, Any]:
    """Indexes the corpus (cached), asks every question and returns the report's ``squad`` section."""
    t_start = time.perf_counter()
    s = squad_settings(settings, squad)
    refreshed = ensure_squad_index(s, log)
    embedder = CachedEmbedder(embedder_from_settings(s))
    kb = KnowledgeBase(s, embedder=embedder)
    assistant, recorder = recording_assistant(s, kb)
    snap = kb.current()
    offsets = {
        cid: (str(m.get("source")), int(m.get("start") or 0), int(m.get("end") or 0))
        for cid, m in zip(snap.ids, snap.metas, strict=True)
    }
    others: dict[str, Callable[[str, str], list[Ranked]]] = {
        "bm25-snowball": lambda q, lang: kb_retrieve(assistant, q, lang, "bm25-snowball", []),
    }
    errors: dict[str, str] = {}
    if anchor:
        try:
            anchor_run = build_anchor(kb)
            others["llamaindex"] = lambda q, lang: anchor_run(q)
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            errors["llamaindex"] = f"{type(exc).__name__}: {exc}"
    assistant.ask(squad.questions[0].question if squad.questions else "Mikä?")  # warm-up, not latency
    embedder.clear()
    log(f"squad: {len(squad.questions)} questions over {len(snap.ids)} chunks × {len(others) + 1} systems ...")
    rows = [_squad_row(q, squad.gold(q), assistant, recorder, others, offsets) for q in squad.questions]
    suites_here = ask_suites_here(assistant, suite_items) if suite_items else None
    systems = {
        name: (
            {"label": label, "error": errors[name]}
            if name in errors
            else {"label": label, "figures": aggregate_squad(rows, name)}
        )
        for name, label in SQUAD_SYSTEMS.items()
        if name == "hybrid" or name in others or name in errors
    }
    return {
        "dataset": str(squad.root),
        "questions_file": squad.questions_file,
        "corpus_hash": squad.corpus_hash,
        "index": str(s.index),
        "chunks": len(snap.ids),
        "sources": len(snap.sources),
        "questions_total": squad.total_questions,
        "questions_scored": len(rows),
        "refresh": refreshed,
        "hit_rule": f"≥{HIT_SHARE:.0%} of the passage inside the gold paragraph or of the paragraph inside the passage",
        "min_span_chars": MIN_SPAN_CHARS,
        "systems": systems,
        "items": rows,
        "elsewhere": ask_elsewhere(settings, squad, log),
        "suites_here": suites_here,
        "runtime_s": round(time.perf_counter() - t_start, 2),
    }
