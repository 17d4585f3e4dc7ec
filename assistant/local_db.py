"""A small SQLite file in the index folder, created on first use (feedback, saved conversations)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path


class LocalDatabase:
    """A connection per call, so it is safe from any thread; the schema is applied once per process."""

    def __init__(self, path: Path | str, schema: str, migrate: Callable[[sqlite3.Connection], None] | None = None):
        self.path = Path(path)
        self._schema = schema
        self._migrate = migrate
        self._init_lock = threading.Lock()
        self._ready = False

    def connect(self) -> sqlite3.Connection:
        if not self._ready:
            with self._init_lock:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with closing(sqlite3.connect(self.path, timeout=10)) as conn, conn:
                        conn.execute("PRAGMA journal_mode=WAL")
                        conn.executescript(self._schema)
                        if self._migrate is not None:
                            self._migrate(conn)
                    self._ready = True
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn
