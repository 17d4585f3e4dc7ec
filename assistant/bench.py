"""``assistant bench``: a thin entry to the benchmarks, which live beside the package in ``benchmarks/``
(a source checkout; they are not in the wheel): ``make bench`` or ``python -m benchmarks``."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from assistant.config import REPO_ROOT, Settings


def run_cli(settings: Settings, args: Any) -> int:
    if (REPO_ROOT / "benchmarks" / "__init__.py").is_file() and str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))  # the console script's path holds only the installed package
    try:
        bench = importlib.import_module("benchmarks.run")
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks":
            raise
        print(
            "assistant: the benchmarks are not installed with the package; run `make bench` or "
            "`python -m benchmarks` in a source checkout (benchmarks/ beside assistant/)",
            file=sys.stderr,
        )
        return 2
    return int(bench.run_cli(settings, args))
