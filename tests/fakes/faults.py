"""How a fake server misbehaves and how busy it is: scheduled faults and bounded parallel slots."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator

from .replies import ServerBusy

FAULT_KINDS = frozenset({"http500", "503", "drop", "invalid_json", "invalid_body", "stall", "validation500", "http400"})
"""Faults an inference request can be made to suffer:

- ``http500``: HTTP 500 with the server's error body, before any work is done.
- ``503``: HTTP 503 "server busy", as when the queue is full.
- ``drop``: the connection is closed mid-stream (stream) or before any response byte (non-stream).
- ``invalid_json``: HTTP 200 whose reply *content* is truncated JSON (not valid for the schema).
- ``invalid_body``: HTTP 200 whose *body* (or a stream line) is not JSON at all.
- ``validation500``: HTTP 500 whose body is a request validation error (llama-cpp-python's answer to a field it
  cannot parse): a refused request, not a server fault.
- ``http400``: HTTP 400, the request refused (FakeOpenAI).
- ``stall``: a streamed reply that stops after half its pieces and stays silent (the connection open) until the
  client gives up; a non-streamed one just never answers within the fake's `stall_s`.
"""


class FaultSchedule:
    """Which inference requests fail, and how. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: deque[str] = deque()
        self._every: tuple[int, str] | None = None

    @staticmethod
    def _check(kind: str) -> str:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        return kind

    def fail_next(self, n: int, kind: str) -> None:
        with self._lock:
            self._next.extend([self._check(kind)] * n)

    def fail_every(self, k: int, kind: str) -> None:
        if k < 1:
            raise ValueError("k must be >= 1")
        with self._lock:
            self._every = (k, self._check(kind))

    def clear(self) -> None:
        with self._lock:
            self._next.clear()
            self._every = None

    def take(self, index: int) -> str | None:
        """The fault for the `index`-th (1-based) inference request, consuming `fail_next` entries."""
        with self._lock:
            if self._next:
                return self._next.popleft()
            if self._every and index % self._every[0] == 0:
                return self._every[1]
            return None


class SlotPool:
    """At most `parallel` holders at once; others queue (bounded by `max_queue` and `timeout`)."""

    def __init__(self, parallel: int, max_queue: int, timeout: float, stopping: threading.Event) -> None:
        self._cond = threading.Condition()
        self._parallel = max(1, parallel)
        self.max_queue = max_queue
        self.timeout = timeout
        self._stopping = stopping
        self._active = 0
        self._waiting = 0
        self._max_seen = 0

    @property
    def parallel(self) -> int:
        return self._parallel

    @parallel.setter
    def parallel(self, value: int) -> None:
        with self._cond:
            self._parallel = max(1, value)
            self._cond.notify_all()

    @property
    def active(self) -> int:
        with self._cond:
            return self._active

    @property
    def waiting(self) -> int:
        with self._cond:
            return self._waiting

    @property
    def max_concurrent_seen(self) -> int:
        with self._cond:
            return self._max_seen

    def wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._cond:
            if self._active >= self._parallel:
                if self._waiting >= self.max_queue:
                    raise ServerBusy("queue full")
                self._waiting += 1
                try:
                    deadline = time.monotonic() + self.timeout
                    while self._active >= self._parallel:
                        remaining = deadline - time.monotonic()
                        if self._stopping.is_set() or remaining <= 0:
                            raise ServerBusy("no slot became free")
                        self._cond.wait(remaining)
                finally:
                    self._waiting -= 1
            self._active += 1
            self._max_seen = max(self._max_seen, self._active)
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify()
