"""A FastAPI app served by a real uvicorn server (the production configuration) on a free port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from assistant.config import Settings
from assistant.web.security import uvicorn_config


@contextmanager
def live_server(app: Any, settings: Settings, **config: Any) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` while the block runs; the port is picked by the OS (port 0).

    ``config`` overrides the production uvicorn options (``uvicorn_config``), e.g. ``header_timeout``.
    """
    import uvicorn

    server = uvicorn.Server(uvicorn_config(app, settings, **{"host": "127.0.0.1", "port": 0, **config}))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True  # a client may leave an event stream open (gradio_client does)
        thread.join(timeout=15)
