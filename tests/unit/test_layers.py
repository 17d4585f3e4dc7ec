"""The layering holds: `lint-imports` checks the contract in pyproject.toml (dependencies point one way)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_layers_contract_is_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    got = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-1000:]
    assert "1 kept, 0 broken" in got.stdout


def test_benchmarks_are_not_in_the_wheel() -> None:
    import tomllib

    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["assistant", "assistant.*"]
    assert (REPO / "benchmarks" / "__init__.py").is_file() and not (REPO / "assistant" / "benchmarks").exists()
