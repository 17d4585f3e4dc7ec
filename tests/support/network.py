"""Ports and addresses for tests that start real servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (the OS picks it: bind to port 0).

    For a server started in another process, which must be told its port; a server in this process binds
    port 0 itself (``support.live_server``). Nothing listens on it after the call, so it also serves as an
    unreachable address.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
