"""``assistant eval``: argument handling around suites → runner → gate → report.

``assistant eval [--suite FILE...] [--report-dir DIR] [--compare REPORT] [--gate] [--no-ablations]``
``[--judge] [--squad DIR [--limit N] [--squad-questions FILE] [--squad-readings FILE]]`` — 0 when done (and the gate, if asked, passed), 1 on a gate failure,
2 on bad input. Reports go to ``evals/reports/<YYYYmmdd-HHMMSS>/`` (report.json, report.md, report.html).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.config import Settings
from assistant.evaluation.gate import check_gate, compare_reports, gated_view, load_report, load_thresholds
from assistant.evaluation.report import (
    compare_text,
    failing_items,
    squad_summary_text,
    summary_text,
    write_report,
)
from assistant.evaluation.suites import (
    EVALS_DIR,
    REPORTS_DIR,
    THRESHOLDS_FILE,
    Item,
    SquadError,
    SquadSet,
    SuiteError,
    default_suite_paths,
    load_squad,
    load_suites,
)


class EvalSettings(BaseSettings):
    """The evaluation's own switches (``ASSISTANT_EVAL_*``): the gate's thresholds file and the LLM judge."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_EVAL_", extra="ignore")

    thresholds: Path = THRESHOLDS_FILE
    judge: bool = False
    judge_url: str | None = None
    judge_model: str | None = None


class InputError(ValueError):
    """Bad input: printed as ``assistant: <message>``, exit status 2."""


def squad_only_report(settings: Settings) -> dict[str, Any]:
    """The report frame when only a squad-format set is scored (no suite items)."""
    from assistant.evaluation.runner import report_frame

    return {
        **report_frame(settings),
        "config": {"embedder": settings.embed_backend, "top_k": settings.top_k, "chunk_chars": settings.chunk_chars},
        "index": {},
        "suites": [],
        "items_total": 0,
        "items_scored": 0,
        "skipped_drafts": [],
        "problems": [],
        "systems": {},
        "breakdown": {},
        "items": [],
    }


def _inputs(args: Any, env: EvalSettings) -> tuple[list[Path], list[Item], SquadSet | None, Any, Any]:
    """(suite paths, items, squad set, the report to compare with, thresholds) — or InputError."""
    squad = None
    for option in ("squad_questions", "squad_readings"):
        if getattr(args, option, None) and not getattr(args, "squad", None):
            flag = "--" + option.replace("_", "-")
            raise InputError(f"{flag} goes with a squad set: give the set with --squad DIR")
    if getattr(args, "squad", None):
        try:
            squad = load_squad(
                args.squad,
                getattr(args, "limit", None),
                getattr(args, "squad_questions", None),
                getattr(args, "squad_readings", None),
            )
        except (SquadError, OSError, ValueError, KeyError) as exc:
            raise InputError(str(exc)) from exc
    paths = list(args.suite or ([] if squad else default_suite_paths()))
    if not paths and squad is None:
        raise InputError(f"no suite given and none in {EVALS_DIR}")
    try:
        items = load_suites(paths)
    except SuiteError as exc:
        raise InputError(str(exc)) from exc
    if not items and squad is None:
        raise InputError("the suites hold no items")
    if squad is not None and not items and getattr(args, "gate", False):
        raise InputError("--gate checks the suites; give --suite with --squad")
    old = load_report(args.compare) if getattr(args, "compare", None) else None  # ValueError → InputError
    thresholds = None
    if getattr(args, "gate", False):
        try:
            thresholds = load_thresholds(env.thresholds)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read thresholds {env.thresholds}: {exc}") from exc
    return paths, items, squad, old, thresholds


def _judge(settings: Settings, args: Any, env: EvalSettings) -> Any:
    if not (getattr(args, "judge", False) or env.judge):
        return None
    if settings.llm_enabled or env.judge_url:
        from assistant.evaluation.judge import make_judge

        return make_judge(settings, env.judge_url, env.judge_model)
    print("assistant: the LLM judge needs an LLM (--llm-url/--llm-model); judging skipped", file=sys.stderr)
    return None


def _print(report: dict[str, Any], folder: Path, items: list[Item]) -> None:
    if items:
        print(summary_text(report))
        n_fail = len([f for f in failing_items(report) if f["result"]["answer"]["failures"]])
        print(f"\nhybrid: {n_fail} failing item(s) of {report['items_scored']}")
    if report.get("squad"):
        print(squad_summary_text(report["squad"]))
    print(f"report: {folder / 'report.html'}")
    if report["problems"]:
        print(f"{len(report['problems'])} suite problem(s): see the report")
    if report.get("compare"):
        print()
        print(compare_text(report["compare"]))


def run_cli(settings: Settings, args: Any) -> int:
    """``assistant eval``. ``--squad DIR`` scores a squad2fi-dev-format folder; alone it runs only that,
    with ``--suite`` both."""
    from assistant.evaluation.runner import run_evaluation, run_squad

    env = EvalSettings()
    try:
        paths, items, squad, old, thresholds = _inputs(args, env)
    except (InputError, ValueError) as exc:
        print(f"assistant: {exc}", file=sys.stderr)
        return 2
    ablations = not getattr(args, "no_ablations", False)
    if items:
        report = run_evaluation(settings, items, ablations=ablations, judge=_judge(settings, args, env), suites=paths)
    else:
        report = squad_only_report(settings)
    if squad is not None:
        report["squad"] = run_squad(settings, squad, anchor=ablations, suite_items=items)
        if not items:
            report["index"] = {"chunks": report["squad"]["chunks"]}
            report["runtime_s"] = report["squad"]["runtime_s"]
    if old is not None:
        report["compare"] = compare_reports(report, old)
    if thresholds is not None:
        report["gate"] = check_gate(gated_view(report), thresholds)
    folder = write_report(report, getattr(args, "report_dir", None) or REPORTS_DIR)
    _print(report, folder, items)
    if thresholds is None:
        return 0
    gate = report["gate"]
    if gate["passed"]:
        print(f"\ngate passed ({gate['checked']} thresholds)")
        return 0
    print("\ngate FAILED:")
    for v in gate["violations"]:
        print(f"  {v}")
    return 1
