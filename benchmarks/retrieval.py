"""In-process measurements: warm ask latency per stage, our retrieval against a plain llama-index retriever."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from benchmarks.corpus import STAGE_KEYS, STAGES, EvalItem
from benchmarks.measure import summarise

# ------------------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------------------


def measure_asks(assistant: Any, questions: Sequence[str], n: int, warmup: int) -> dict[str, Any]:
    """Warm in-process ``ask`` latency, split into stages (ms)."""
    for q in list(questions)[: max(warmup, 0)]:
        assistant.ask(q)
    rows: dict[str, list[float]] = {s: [] for s in STAGES}
    retrieve: list[float] = []  # the answers issue's split: retrieve (embed..fusion) vs answer
    wall: list[float] = []
    refused = 0
    for i in range(n):
        t = time.perf_counter()
        answer = assistant.ask(questions[i % len(questions)])
        wall.append((time.perf_counter() - t) * 1000)
        refused += bool(answer.refused)
        tm = answer.timings_ms
        parts = {s: float(tm.get(k, 0.0)) for s, k in STAGE_KEYS.items()}
        parts["answer"] = float(tm.get("answer", 0.0))
        parts["total"] = float(tm.get("total", 0.0))
        parts["other"] = max(
            0.0, parts["total"] - sum(parts[s] for s in ("embed", "dense", "bm25", "fusion", "answer"))
        )
        for s in STAGES:
            rows[s].append(parts[s])
        retrieve.append(float(tm.get("retrieve", 0.0)))
    return {
        "n": n,
        "refused": refused,
        "stages_ms": {**{s: summarise(v) for s, v in rows.items()}, "retrieve": summarise(retrieve)},
        "wall_ms": summarise(wall),
    }


def _rank(passages: Sequence[tuple[str, str]], item: EvalItem) -> int | None:
    """1-based rank of the first passage from the expected source containing the expected text."""
    for i, (src, text) in enumerate(passages, start=1):
        if src == item.source and item.expect in text:
            return i
    return None


def llama_retriever(kb: Any, k: int) -> Any:
    """A plain llama-index ``VectorStoreIndex`` retriever over our Chroma collection and model."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.knowledge.embeddings import as_llama_index

    embed_model = as_llama_index(kb.embedder)
    LlamaSettings.llm = MockLLM()  # never asks for OpenAI (STACK.md)
    LlamaSettings.embed_model = embed_model
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=kb.store.chunks), embed_model=embed_model
    )
    return index.as_retriever(similarity_top_k=k)


def compare_retrievers(kb: Any, items: Sequence[EvalItem], k: int) -> dict[str, Any]:
    """Our hybrid (and dense-only) retrieval against llama-index's VectorStoreIndex retriever: latency
    per query (embedding included in both) and hit@k (the answer passage among the top k)."""
    from assistant.answering.retrieve import Retriever
    from assistant.text.language import detect_language

    ours = Retriever(kb)
    theirs = llama_retriever(kb, k)
    if items:  # warm both (first-call imports, caches)
        ours.retrieve(items[0].question, k=k)
        theirs.retrieve(items[0].question)
    names = ("hybrid", "dense", "llama_index")
    lat: dict[str, list[float]] = {name: [] for name in names}
    ranks: dict[str, list[int | None]] = {name: [] for name in names}
    for item in items:
        language = detect_language(item.question)
        for mode in ("hybrid", "dense"):
            t = time.perf_counter()
            r = ours.retrieve(item.question, language=language, k=k, mode=mode)
            lat[mode].append((time.perf_counter() - t) * 1000)
            ranks[mode].append(_rank([(p.source, p.text) for p in r.passages], item))
        t = time.perf_counter()
        nodes = theirs.retrieve(item.question)
        lat["llama_index"].append((time.perf_counter() - t) * 1000)
        ranks["llama_index"].append(
            _rank([(n.node.metadata.get("source", ""), n.node.get_content()) for n in nodes], item)
        )
    n = max(len(items), 1)

    def share(rs: Sequence[int | None], depth: int) -> float:
        return round(sum(1 for r in rs if r is not None and r <= depth) / max(len(rs), 1), 3)

    out: dict[str, Any] = {
        "k": k,
        "questions": len(items),
        "latency_ms": {name: summarise(v) for name, v in lat.items()},
        "hit_at_k": {name: share(rs, k) for name, rs in ranks.items()},
        "hit_at_1": {name: share(rs, 1) for name, rs in ranks.items()},
        "mrr": {name: round(sum(1 / r for r in rs if r) / n, 3) for name, rs in ranks.items()},
        "hit_at_1_by_kind": {
            kind: {
                name: share([r for r, it in zip(rs, items, strict=True) if it.kind == kind], 1)
                for name, rs in ranks.items()
            }
            for kind in sorted({it.kind for it in items})
        },
    }
    li = out["latency_ms"]["llama_index"]
    if items and li["p50"] > 0:
        out["latency_ratio_p50"] = round(out["latency_ms"]["hybrid"]["p50"] / li["p50"], 2)
        out["latency_ratio_p95"] = round(out["latency_ms"]["hybrid"]["p95"] / li["p95"], 2)
        out["dense_latency_ratio_p50"] = round(out["latency_ms"]["dense"]["p50"] / li["p50"], 2)
    return out


