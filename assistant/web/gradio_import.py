"""Gradio without its stub writer: a second or more off every ``assistant serve`` start.

At every import, gradio's ``ComponentMeta`` calls ``create_or_modify_pyi`` for each of its ~80 component
classes: it re-reads and ``ast``-parses the component's source file to keep the installed ``.pyi`` type
stubs current (and rewrites them in site-packages when they differ) — a development aid for authors of
components, and 1–1.8 s of CPU per start on our 2 cores (cProfile, docs/benchmarks.md). Nothing at run
time reads the stubs. gradio has no switch for it, so a meta-path finder replaces the function with a
no-op right after ``gradio.component_meta`` executes, before any component class is created. Should a
gradio release rename or drop the function, this does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

TARGET = "gradio.component_meta"
HOOK = "create_or_modify_pyi"


def _no_stubs(*args: Any, **kwargs: Any) -> None:
    return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader):
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        if callable(getattr(module, HOOK, None)):
            setattr(module, HOOK, _no_stubs)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)  # type: ignore[arg-type]
        return spec


def skip_stub_writer() -> None:
    """Installs the finder once (call before gradio is first imported; later it changes nothing)."""
    module = sys.modules.get(TARGET)
    if module is not None:
        if callable(getattr(module, HOOK, None)):
            setattr(module, HOOK, _no_stubs)
        return
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
