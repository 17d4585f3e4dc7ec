"""Comparison of two reports and the gate: every figure against ``evals/thresholds.yaml``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from assistant.evaluation.metrics import ANSWER_METRICS, LATENCY_METRICS, RETRIEVAL_METRICS, aggregate, fmt
from assistant.evaluation.suites import THRESHOLDS_FILE, UNGATED_SUITES


def figures(report: Mapping[str, Any], system: str) -> dict[str, float | None]:
    """The comparable figures of one system in a report ({} when the system was not run)."""
    entry = (report.get("systems") or {}).get(system) or {}
    figs = entry.get("figures") or {}
    keys = (*RETRIEVAL_METRICS, *ANSWER_METRICS, *LATENCY_METRICS)
    return {k: figs.get(k) for k in keys if k in figs}


def load_report(path: Path | str) -> dict[str, Any]:
    """A report from its folder or its report.json."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read report {path}: {exc}") from exc
    if not isinstance(data, dict) or "systems" not in data:
        raise ValueError(f"{path} is not an evaluation report")
    data.setdefault("_path", str(path))
    return data


def _item_status(report: Mapping[str, Any], system: str) -> dict[str, bool]:
    out = {}
    for row in report.get("items", []):
        res = row.get("results", {}).get(system, {})
        if "answer" in res:
            out[row["id"]] = bool(res["answer"]["passed"])
    return out


def compare_reports(new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """Per system and figure: old, new, delta; per item: what newly fails or passes (hybrid answers)."""
    systems: dict[str, Any] = {}
    for name in dict.fromkeys([*(new.get("systems") or {}), *(old.get("systems") or {})]):
        fn, fo = figures(new, name), figures(old, name)
        rows = {}
        for k in dict.fromkeys([*fn, *fo]):
            a, b = fo.get(k), fn.get(k)
            delta = (b - a) if isinstance(a, int | float) and isinstance(b, int | float) else None
            rows[k] = {"old": a, "new": b, "delta": delta}
        systems[name] = rows
    systems.update(_compare_squad(new, old))
    items: dict[str, Any] = {}
    for name in ("hybrid", "hybrid+llm"):
        sn, so = _item_status(new, name), _item_status(old, name)
        if not sn and not so:
            continue
        items[name] = {
            "newly_failing": sorted(i for i in sn if i in so and so[i] and not sn[i]),
            "newly_passing": sorted(i for i in sn if i in so and not so[i] and sn[i]),
            "only_in_new": sorted(set(sn) - set(so)),
            "only_in_old": sorted(set(so) - set(sn)),
        }
    return {
        "against": old.get("_path") or old.get("created"),
        "against_created": old.get("created"),
        "systems": systems,
        "items": items,
    }


def _compare_squad(new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """Squad-format figures per system, as ``squad:<system>`` rows (when both reports have a squad run)."""
    sn, so = (r.get("squad", {}).get("systems", {}) for r in (new, old))
    out: dict[str, Any] = {}
    for name in dict.fromkeys([*sn, *so]):
        fn, fo = ((x.get(name) or {}).get("figures") or {} for x in (sn, so))
        rows = {}
        for k in dict.fromkeys([*fn, *fo]):
            a, b = fo.get(k), fn.get(k)
            if k == "questions" and a == b:
                continue
            delta = (b - a) if isinstance(a, int | float) and isinstance(b, int | float) else None
            rows[k] = {"old": a, "new": b, "delta": delta}
        out[f"squad:{name}"] = rows
    return out


def load_thresholds(path: Path | str = THRESHOLDS_FILE) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of systems to min/max figures")
    return data


def gated_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report with every system's figures recomputed over the gated suites' items only."""
    rows = [r for r in report.get("items", []) if r.get("suite") not in UNGATED_SUITES]
    systems = {
        name: entry if "error" in entry else {**entry, "figures": aggregate(rows, name)}
        for name, entry in (report.get("systems") or {}).items()
    }
    return {**report, "systems": systems, "items": rows, "items_scored": len(rows)}


def check_gate(report: Mapping[str, Any], thresholds: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure below its ``min`` or above its ``max``; suite rules under the ``suite`` key
    (``min_items``, ``max_problems``). Systems listed but not run are skipped, except ``hybrid``."""
    violations: list[str] = []
    skipped: list[str] = []
    checked = 0
    suite_rules = thresholds.get("suite") or {}
    if "min_items" in suite_rules and report.get("items_scored", 0) < suite_rules["min_items"]:
        violations.append(f"suite: {report.get('items_scored', 0)} items scored < {suite_rules['min_items']}")
    if "max_problems" in suite_rules and len(report.get("problems", [])) > suite_rules["max_problems"]:
        violations.append(
            f"suite: {len(report.get('problems', []))} problems > {suite_rules['max_problems']}: "
            + "; ".join(report.get("problems", [])[:5])
        )
    for system, rules in thresholds.items():
        if system == "suite" or not isinstance(rules, Mapping):
            continue
        entry = (report.get("systems") or {}).get(system)
        if entry is None or "error" in entry:
            if system == "hybrid" or (entry is not None and "error" in entry):
                why = entry["error"] if entry else "not run"
                violations.append(f"{system}: {why}")
            else:
                skipped.append(system)
            continue
        figs = figures(report, system)
        for bound in ("min", "max"):
            for metric, limit in (rules.get(bound) or {}).items():
                checked += 1
                value = figs.get(metric)
                if value is None:
                    violations.append(f"{system} {metric}: not measured (threshold {bound} {limit})")
                elif bound == "min" and value < limit - 1e-9:
                    violations.append(f"{system} {metric} = {fmt(value)} < {limit}")
                elif bound == "max" and value > limit + 1e-9:
                    violations.append(f"{system} {metric} = {fmt(value)} > {limit}")
    return {
        "passed": not violations,
        "violations": violations,
        "checked": checked,
        "skipped_systems": skipped,
    }

