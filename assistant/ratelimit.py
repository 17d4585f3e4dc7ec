"""Per-key token buckets (questions and login/admin-token guesses per client address)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class TokenBucket:
    """Per-key token buckets: ``rate`` tokens a minute, bursts up to ``rate``. Written here because no
    rate-limit library is installed and this is 30 lines; keys are bounded (oldest dropped)."""

    def __init__(self, per_minute: int, max_keys: int = 10_000):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _level(self, key: str, now: float) -> float:
        tokens, stamp = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - stamp) * self.rate)

    def take(self, key: str) -> float:
        """0 when a token was taken; otherwise the seconds until one is available (nothing taken)."""
        if self.capacity <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens = self._level(key, now)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1, now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return 0.0

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0 = it has one now); takes nothing."""
        if self.capacity <= 0:
            return 0.0
        with self._lock:
            tokens = self._level(key, time.monotonic())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate
