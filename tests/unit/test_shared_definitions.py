"""What several adapters share is defined once: the upload limits, a source's catalogue fields, the
evaluation's metric names. Each test fails when a second copy drifts from the one definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.evaluation import metrics, report
from assistant.knowledge.store import SourceRecord
from assistant.schema import PassageResponse, SourceMeta, SourceModel, SourceTextResponse
from assistant.uploads import (
    GRADIO_REQUEST_OVERHEAD,
    MAX_UPLOAD_FILES,
    AdminError,
    check_request,
    check_size,
    max_file_bytes,
    max_request_bytes,
)
from assistant.web.security import GradioGuard, body_limit
from assistant.web.ui.knowledge import upload_paths

MB = 1024 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(sources=tmp_path / "sources", index=tmp_path / "index", max_upload_mb=1)


def test_upload_limits_have_one_source(settings: Settings, tmp_path: Path) -> None:
    assert max_file_bytes(settings) == MB
    check_size(settings, "a.txt", MB)  # at the limit: fine
    with pytest.raises(AdminError) as refused:
        check_size(settings, "kansio/a.txt", MB + 1)
    assert refused.value.code == "too_large" and refused.value.params == {"name": "a.txt", "size": "1.0", "limit": 1}
    # the API's whole request, and Shield's body cap for the upload routes, from the same figure
    assert max_request_bytes(1) == MAX_UPLOAD_FILES * MB + 65536
    assert body_limit(settings, "/api/admin/upload") == max_request_bytes(1)
    assert GradioGuard(None, admin=True, max_upload_mb=1).upload_bytes == max_request_bytes(1, GRADIO_REQUEST_OVERHEAD)
    check_request(settings, max_request_bytes(1))
    with pytest.raises(AdminError, match="too_large"):
        check_request(settings, max_request_bytes(1) + 1)
    # the web UI's check of Gradio's upload files gives the same refusal as the API's
    uploads = tmp_path / "gradio"
    uploads.mkdir()
    (uploads / "iso.txt").write_bytes(b"x" * (MB + 1))
    (uploads / "pieni.txt").write_bytes(b"x")
    ok, turned_away = upload_paths([str(uploads / "iso.txt"), str(uploads / "pieni.txt")], uploads, settings)
    assert [p.name for p in ok] == ["pieni.txt"]
    [error] = turned_away
    assert (error.code, error.status, error.params) == ("too_large", 413, {"name": "iso.txt", "size": "1.0", "limit": 1})


def test_source_responses_share_the_catalogue_fields() -> None:
    record = SourceRecord(
        source="a.txt", version="v", raw_hash="h", title="Otsikko", kind="txt", chunks=3, refreshed_at=0.0,
        publisher="Liitto", language="fi", date="2024", url=None,
    )  # fmt: skip
    meta = SourceMeta.of("a.txt", record)
    assert meta == {
        "source": "a.txt", "title": "Otsikko", "kind": "txt", "publisher": "Liitto", "date": "2024", "url": None,
        "language": "fi",
    }  # fmt: skip
    for model in (SourceModel, PassageResponse, SourceTextResponse):
        assert issubclass(model, SourceMeta) and set(SourceMeta.model_fields) <= set(model.model_fields)
    PassageResponse(**meta, length=10, start=0, end=5, before="", passage="Teksti", after="")


def test_report_columns_are_defined_metrics() -> None:
    defined = {*metrics.RETRIEVAL_METRICS, *metrics.ANSWER_METRICS, *metrics.LATENCY_METRICS, "items"}
    columns = {*report.BREAKDOWN_COLUMNS, *report.TEXT_COLUMNS, *(c for g in report.SUMMARY_GROUPS.values() for c in g)}
    assert columns <= defined, columns - defined
    assert report.SUMMARY_GROUPS["retrieval (depth 10)"] == metrics.RETRIEVAL_METRICS
    # the squad table: a header per figure, labelled where the key is not readable
    assert len(report.SQUAD_HEADER) == 1 + len(metrics.SQUAD_RETRIEVAL) + len(metrics.SQUAD_ANSWERS) + 2
    assert report.SQUAD_HEADER[4:6] == ("MRR", "top passage has span")
    row = report.squad_table({"systems": {"bm25": {"figures": {"hit@1": 0.5, "mrr": 0.25}}}})[0]
    assert len(row) == len(report.SQUAD_HEADER) and row[:2] == ["bm25", "0.500"] and row[4] == "0.250"
