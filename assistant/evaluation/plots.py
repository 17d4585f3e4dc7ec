"""The report's PNG plots (matplotlib, Agg): metrics per system, hybrid per area and language, latency."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

from assistant.evaluation.metrics import RETRIEVAL_METRICS


def plots(report: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG plots: metrics per system, per area and language (hybrid), latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    pngs: dict[str, bytes] = {}
    for name, draw in (("systems", _systems), ("breakdown", _breakdown), ("latency", _latency)):
        fig = draw(report)
        if fig is not None:
            pngs[name] = _png(fig)
    return pngs


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    if not fig.get_tight_layout():
        fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _systems(report: Mapping[str, Any]) -> Any:
    import matplotlib.pyplot as plt
    import numpy as np

    systems = [(n, e["figures"]) for n, e in (report.get("systems") or {}).items() if "figures" in e]
    if systems:
        groups = [
            ("retrieval", RETRIEVAL_METRICS),
            ("answers", ("fact_recall", "facts_complete", "citation_precision", "citation_recall", "refusal_accuracy", "passed")),
        ]
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
        for ax, (title, metrics) in zip(axes, groups, strict=True):
            present = [(n, f) for n, f in systems if any(f.get(m) is not None for m in metrics)]
            width = 0.8 / max(len(present), 1)
            x = np.arange(len(metrics))
            for i, (n, f) in enumerate(present):
                vals = [f.get(m) if f.get(m) is not None else 0.0 for m in metrics]
                ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=n)
            ax.set_xticks(x, metrics, rotation=20)
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{title} per system")
            ax.grid(axis="y", alpha=0.3)
        handles, labels = max((ax.get_legend_handles_labels() for ax in axes), key=lambda hl: len(hl[1]))
        if labels:
            fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        return fig
    return None


def _breakdown(report: Mapping[str, Any]) -> Any:
    import matplotlib.pyplot as plt
    import numpy as np

    hybrid = (report.get("breakdown") or {}).get("hybrid") or {}
    rows_lbl: list[str] = []
    matrix: list[list[float]] = []
    metrics = ("hit@5", "mrr", "ndcg@10", "fact_recall", "citation_precision", "refusal_accuracy", "passed")
    for dim in ("area", "language"):
        for value, figs in (hybrid.get(dim) or {}).items():
            rows_lbl.append(f"{dim}: {value} ({figs.get('items', 0)})")
            matrix.append([figs.get(m) if figs.get(m) is not None else float("nan") for m in metrics])
    if matrix:
        data = np.array(matrix, dtype=float)
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows_lbl) + 1.6))
        im = ax.imshow(np.ma.masked_invalid(data), vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        ax.set_xticks(range(len(metrics)), metrics, rotation=20)
        ax.set_yticks(range(len(rows_lbl)), rows_lbl)
        for (i, j), v in np.ndenumerate(data):
            ax.text(j, i, "n/a" if math.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_title("hybrid: per area and language")
        fig.colorbar(im, ax=ax, fraction=0.03)
        return fig
    return None


def _latency(report: Mapping[str, Any]) -> Any:
    import matplotlib.pyplot as plt

    lat: dict[str, list[float]] = {}
    for row in report.get("items", []):
        for name, res in row.get("results", {}).items():
            if "answer_ms" in res:
                lat.setdefault(f"{name} answer", []).append(res["answer_ms"])
            if "retrieval_ms" in res:
                lat.setdefault(f"{name} retrieval", []).append(res["retrieval_ms"])
    if lat:
        names = sorted(lat)
        fig, ax = plt.subplots(figsize=(10, 0.35 * len(names) + 1.5))
        ax.boxplot([lat[n] for n in names], orientation="horizontal", showfliers=True)
        ax.set_yticks(range(1, len(names) + 1), names)
        ax.set_xscale("log")
        ax.set_xlabel("milliseconds (log scale)")
        ax.set_title("latency per question")
        ax.grid(axis="x", alpha=0.3)
        return fig
    return None

