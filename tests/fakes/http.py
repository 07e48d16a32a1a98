"""The HTTP plumbing both fake servers share: one exchange per request, the handler, and `FakeServerBase`.

Everything is bounded: slot waits, simulated work and shutdown all time out, so a test that forgets to
release something fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from .faults import FaultSchedule, SlotPool
from .replies import Reply, ReplyLike, Responder, as_reply

_S = TypeVar("_S", bound="FakeServerBase")


class _Stopping(Exception):
    """The fake is shutting down while a request is in simulated work."""


class Exchange:
    """One HTTP request and the ways to answer it (whole, streamed in chunks, or by hanging up)."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._handler = handler
        split = urllib.parse.urlsplit(handler.path)
        self.method = handler.command
        self.path = split.path
        self.query = dict(urllib.parse.parse_qsl(split.query))
        self.headers = handler.headers
        self.raw_body = self._read_body()
        self.body: Any = None
        self.body_error: str | None = None
        if self.raw_body:
            try:
                self.body = json.loads(self.raw_body)
            except ValueError as exc:
                self.body_error = f"invalid JSON body: {exc}"
        self.started = False

    def _read_body(self) -> bytes:
        rfile = self._handler.rfile
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += rfile.read(size)
                rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return rfile.read(length) if length else b""

    def send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        self.started = True
        if self.method != "HEAD":
            handler.wfile.write(data)

    def send_json(self, status: int, obj: Any) -> None:
        self.send_bytes(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def send_text(self, status: int, text: str) -> None:
        self.send_bytes(status, text.encode(), "text/plain; charset=utf-8")

    def start_stream(self, content_type: str, status: int = 200) -> None:
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        self.started = True

    def write_chunk(self, data: bytes) -> None:
        if data:
            self._handler.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self._handler.wfile.write(b"0\r\n\r\n")

    def client_gone(self) -> bool:
        """The client closed its end of the connection (what a cancelled request looks like to a server)."""
        import select

        sock = self._handler.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def drop(self) -> None:
        """Hang up: no further bytes, no end-of-stream marker."""
        self._handler.close_connection = True
        with contextlib.suppress(OSError):
            self._handler.wfile.flush()
            self._handler.connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; avoid 40 ms delayed-ACK stalls
    server_version = "FakeModelServer/1.0"
    timeout = 30  # idle keep-alive connections end after this, so no handler thread lives forever
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _serve(self) -> None:
        fake = self.server.fake
        try:
            exchange = Exchange(self)
        except (OSError, ValueError):
            self.close_connection = True
            return
        fake._record(exchange.path, exchange.body)
        try:
            fake._handle(exchange)
        except _Stopping:
            exchange.drop()
        except OSError:
            self.close_connection = True
        except Exception as exc:
            fake._record_error(exc)
            if exchange.started:
                exchange.drop()
            else:
                exchange.send_json(500, {"error": f"fake server bug: {exc!r}"})

    do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = do_PATCH = _serve


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes live connections itself, with a bounded join
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeServerBase) -> None:
        self.fake = fake
        self._live: dict[socket.socket, threading.Thread] = {}
        self._live_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn() reverse lookup
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._live_lock:
            self._live[request] = threading.current_thread()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._live_lock:
                self._live.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.fake._record_error(exc)

    def close_live_connections(self, timeout: float) -> None:
        with self._live_lock:
            live = list(self._live.items())
        for sock, _ in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))


class FakeServerBase:
    """A threaded HTTP server on 127.0.0.1 with the controls both fakes share.

    Controls (all thread-safe, changeable while running): `parallel`, `delay`, `max_queue`,
    `slot_timeout`, `responder`, `enqueue`, `fail_next`, `fail_every`, `clear_faults`.
    Introspection: `url`, `requests`, `requests_to`, `chat_count`, `max_concurrent_seen`, `errors`.
    """

    def __init__(
        self,
        *,
        parallel: int = 1,
        delay: float = 0.0,
        max_queue: int = 512,
        slot_timeout: float = 30.0,
        responder: Responder | None = None,
        port: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._slots = SlotPool(parallel, max_queue, slot_timeout, self._stopping)
        self._faults = FaultSchedule()
        self._script: deque[Reply] = deque()
        self._requests: list[tuple[str, Any]] = []
        self._errors: list[BaseException] = []
        self._chat_count = 0
        self._disconnects = 0
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.delay = delay
        self.responder = responder
        self.token_delay = 0.0  # seconds between streamed pieces: a slow reply that keeps progressing
        self.stall_s = 10.0  # how long a "stall" fault keeps the connection open without a token

    # lifecycle ---------------------------------------------------------------------------

    def start(self: _S) -> _S:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _HTTPServer(("127.0.0.1", self._port), self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.01},  # stop() waits up to one poll
                name=f"{type(self).__name__}-serve",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        self._slots.wake_all()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_live_connections(timeout=2.0)
        if thread is not None:
            thread.join(2.0)
        self._httpd = self._thread = None

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # controls ----------------------------------------------------------------------------

    @property
    def parallel(self) -> int:
        return self._slots.parallel

    @parallel.setter
    def parallel(self, value: int) -> None:
        self._slots.parallel = value

    @property
    def max_queue(self) -> int:
        return self._slots.max_queue

    @max_queue.setter
    def max_queue(self, value: int) -> None:
        self._slots.max_queue = value

    @property
    def slot_timeout(self) -> float:
        return self._slots.timeout

    @slot_timeout.setter
    def slot_timeout(self, value: float) -> None:
        self._slots.timeout = value

    def enqueue(self, *replies: ReplyLike) -> None:
        """Script the next replies, consumed in order (before `responder`) by successful requests."""
        with self._lock:
            self._script.extend(as_reply(r) for r in replies)

    def fail_next(self, n: int, kind: str) -> None:
        """Make the next `n` inference requests fail with `kind` (see `FAULT_KINDS`)."""
        self._faults.fail_next(n, kind)

    def fail_every(self, k: int, kind: str) -> None:
        """Make every `k`-th inference request (by `chat_count`) fail with `kind`."""
        self._faults.fail_every(k, kind)

    def clear_faults(self) -> None:
        self._faults.clear()

    # introspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, Any]]:
        """Every request received so far as (path, parsed JSON body or None)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Any]:
        """Bodies of the requests received on `path`."""
        return [body for p, body in self.requests if p == path]

    @property
    def chat_count(self) -> int:
        """Inference requests that reached a known model (including the ones given a fault)."""
        with self._lock:
            return self._chat_count

    @property
    def max_concurrent_seen(self) -> int:
        """The most inference requests ever processed at the same time."""
        return self._slots.max_concurrent_seen

    @property
    def disconnects(self) -> int:
        """Streamed replies the client closed before they ended (a cancelled or timed-out request)."""
        with self._lock:
            return self._disconnects

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions inside the fake (its own bugs or a raising responder)."""
        with self._lock:
            return list(self._errors)

    # for subclasses ----------------------------------------------------------------------

    def _handle(self, exchange: Exchange) -> None:
        raise NotImplementedError

    def _record(self, path: str, body: Any) -> None:
        with self._lock:
            self._requests.append((path, body))

    def _record_error(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)

    def _begin_inference(self) -> str | None:
        """Count an inference request and return the fault it must suffer, if any."""
        with self._lock:
            self._chat_count += 1
            index = self._chat_count
        return self._faults.take(index)

    def _work(self) -> None:
        """Simulated inference time, cut short (by dropping the request) when the fake stops."""
        if self.delay > 0 and self._stopping.wait(self.delay):
            raise _Stopping

    def _note_disconnect(self) -> None:
        with self._lock:
            self._disconnects += 1

    def _stream(
        self,
        ex: Exchange,
        pieces: list[bytes],
        fault: str | None,
        ping: bytes | None = None,
        cut_when: Callable[[], bool] | None = None,
    ) -> bool:
        """Write streamed pieces, `token_delay` apart; a "stall" fault stops after half of them and stays silent
        (but for `ping` keep-alives) until the client gives up or `stall_s` passes; `cut_when()` true between two
        pieces ends the stream early (the caller closes it). Returns False when the client went away, which is
        counted in `disconnects`."""
        cut = max(1, len(pieces) // 2) if fault == "stall" else len(pieces)
        try:
            for index, piece in enumerate(pieces[:cut]):
                if index and self.token_delay > 0:
                    self._pause(self.token_delay)
                    if ex.client_gone():
                        self._note_disconnect()
                        return False
                if index and cut_when is not None and cut_when():
                    return True
                ex.write_chunk(piece)
            if fault == "stall":
                deadline = time.monotonic() + self.stall_s
                while time.monotonic() < deadline:
                    self._pause(0.02)
                    if ex.client_gone():
                        self._note_disconnect()
                        return False
                    if ping is not None:
                        ex.write_chunk(ping)
                ex.drop()
                return True
        except OSError:
            self._note_disconnect()
            return False
        return True

    def _pause(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Stopping

    def _reply_for(self, request: dict, default: Callable[[], ReplyLike]) -> Reply:
        """The next scripted reply, else the responder's, else `default()`."""
        with self._lock:
            if self._script:
                return self._script.popleft()
        responder = self.responder
        value = responder(request) if responder is not None else None
        return as_reply(default() if value is None else value)
