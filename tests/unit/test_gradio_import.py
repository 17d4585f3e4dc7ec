"""gradio imported without its .pyi stub writer still builds components (in a fresh interpreter: gradio
may already be imported in this one)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from assistant.web.gradio_import import skip_stub_writer, _no_stubs
skip_stub_writer()
skip_stub_writer()  # idempotent
import gradio as gr
import gradio.component_meta as cm
assert cm.create_or_modify_pyi is _no_stubs
with gr.Blocks() as demo:
    box = gr.Textbox(label="Kysymys")
    gr.Button("Kysy").click(lambda q: q, box, box)
assert demo.config["components"], "no components"
print("ok", len(demo.config["components"]))
"""


def test_gradio_builds_components_without_the_stub_writer() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ")
