"""``GET /metrics`` in the Prometheus text format.

HTTP requests, sizes and latency histograms per route come from ``prometheus-fastapi-instrumentator``;
ours are answer latency per stage (``retrieve``/``answer``/``total`` of ``Answer.timings_ms``), answers by
mode and language, refusals, refreshes by outcome with their duration, stored feedback per rating and the
knowledge base's size (sources, chunks, generation; read when scraped).

Access: ``/metrics`` needs the admin token (``Authorization: Bearer …``; Prometheus:
``authorization: {credentials_file: …}``): 403 while no token is configured, 401 on a missing or wrong one.
The figures hold nothing secret (no questions, no comments), but traffic and the size of the knowledge base
are the operator's business, and behind a reverse proxy every client looks like loopback, so "loopback only"
would not keep them in. Each app has its own registry (no process-global state).
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator

from assistant.config import Settings
from assistant.feedback import FeedbackStore
from assistant.schema import Answer
from assistant.web.security import TokenBucket, bearer_token

STAGES = ("retrieve", "answer", "total")
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
REFRESH_BUCKETS = (0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class AssistantMetrics:
    """Our own metrics, in ``registry``."""

    def __init__(self, registry: CollectorRegistry):
        self.stage_seconds = Histogram(
            "assistant_answer_stage_seconds",
            "Time per answering stage (retrieve, answer, total)",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.answers = Counter("assistant_answers", "Answers given", ["mode", "language"], registry=registry)
        self.refusals = Counter(
            "assistant_refusals", "Answers where the sources did not answer", ["language"], registry=registry
        )
        self.refreshes = Counter(
            "assistant_refreshes",
            "Knowledge-base refreshes run by this server",
            ["outcome"],
            registry=registry,
        )
        self.refresh_seconds = Histogram(
            "assistant_refresh_seconds", "Duration of refreshes", buckets=REFRESH_BUCKETS, registry=registry
        )

    def observe_answer(self, answer: Answer) -> None:
        for stage in STAGES:
            if stage in answer.timings_ms:
                self.stage_seconds.labels(stage).observe(answer.timings_ms[stage] / 1000)
        self.answers.labels(answer.mode, answer.language).inc()
        if answer.refused:
            self.refusals.labels(answer.language).inc()

    def observe_refresh(self, outcome: str, seconds: float) -> None:
        self.refreshes.labels(outcome).inc()
        if outcome == "done":
            self.refresh_seconds.observe(seconds)


class KnowledgeCollector(Collector):
    """State read when scraped: the knowledge base's size and the stored feedback."""

    def __init__(self, kb: Any, feedback: FeedbackStore):
        self.kb = kb
        self.feedback = feedback

    def collect(self) -> Iterable[Metric]:
        snap = self.kb.current()
        for name, doc, value in (
            ("assistant_sources", "Indexed sources", len(snap.sources)),
            ("assistant_chunks", "Indexed chunks", len(snap.ids)),
            (
                "assistant_kb_generation",
                "Knowledge-base generation (grows with each refresh)",
                snap.generation,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=value)
        ratings = GaugeMetricFamily("assistant_feedback", "Stored feedback per rating", labels=["rating"])
        for rating, count in self.feedback.counts().items():
            ratings.add_metric([rating], count)
        yield ratings


def watch_stream(
    stream: Callable[..., Iterator[Any]], metrics: AssistantMetrics
) -> Callable[..., Iterator[Any]]:
    """``stream`` that also records each final :class:`Answer`."""

    def watched(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for item in stream(*args, **kwargs):
            if isinstance(item, Answer):
                metrics.observe_answer(item)
            yield item

    return watched


def watch_refreshes(
    events: Callable[[], Iterator[dict[str, Any]]], metrics: AssistantMetrics
) -> Callable[[], Iterator[dict[str, Any]]]:
    """``RefreshRunner.events`` that also records how each refresh ended."""

    def watched() -> Iterator[dict[str, Any]]:
        t0 = time.perf_counter()
        outcome = "abandoned"  # nobody read the events to the end
        try:
            for event in events():
                if event.get("type") in ("done", "busy", "error"):
                    outcome = event["type"]
                yield event
        finally:
            metrics.observe_refresh(outcome, time.perf_counter() - t0)

    return watched


def admin_only(settings: Settings, guesses: TokenBucket | None = None) -> Callable[[Request], None]:
    """The /metrics check; each wrong token spends one of the client address's ``guesses`` (429 when none)."""
    guesses = guesses or TokenBucket(settings.login_rate_per_minute)

    def check(request: Request) -> None:
        if not settings.admin_token:
            raise HTTPException(403, "metrics are off: no admin token (ASSISTANT_ADMIN_TOKEN) is configured")
        client = request.client.host if request.client else "?"
        wait = guesses.wait(client)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise HTTPException(429, f"too many wrong admin tokens; try again in {seconds} s", {"Retry-After": str(seconds)})
        token = bearer_token(request.headers) or ""
        if not hmac.compare_digest(token.encode("utf-8"), settings.admin_token.encode("utf-8")):
            guesses.take(client)
            raise HTTPException(401, "the admin token is missing or wrong", {"WWW-Authenticate": "Bearer"})

    return check


def add_metrics(
    app: FastAPI,
    settings: Settings,
    assistant: Any,
    runner: Any | None = None,
    feedback: FeedbackStore | None = None,
    login_bucket: TokenBucket | None = None,
) -> AssistantMetrics:
    """Instruments ``app``, serves ``/metrics`` (admin token) and records ``assistant``'s answers and
    ``runner``'s refreshes. Call before any mount at ``/`` (a later route would be shadowed)."""
    registry = CollectorRegistry()
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, endpoint="/metrics", tags=["service"], dependencies=[Depends(admin_only(settings, login_bucket))]
    )
    metrics = AssistantMetrics(registry)
    registry.register(KnowledgeCollector(assistant.kb, feedback or FeedbackStore(settings.feedback_db)))
    # wrapped on the instances: every caller (API, OpenAI endpoint, UI) goes through them
    assistant.stream = watch_stream(assistant.stream, metrics)
    if runner is not None:
        runner.events = watch_refreshes(runner.events, metrics)
    return metrics
