"""Machinery shared by the fake model servers: HTTP plumbing, slots, faults, scripted replies, schemas.

The tool under test talks to real model servers (Ollama and OpenAI-compatible ones such as vLLM,
llama.cpp server or LM Studio) over HTTP. Tests need stand-ins that speak the same wire protocol,
so the real client libraries can be pointed at them, and that can be told to misbehave the way
real servers do: refuse when busy, die mid-stream, answer with broken JSON. Both fakes build on
`FakeServerBase` below; only the endpoint shapes differ between them.

Everything here is bounded: slot waits, simulated work and shutdown all time out, so a test
that forgets to release something fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

FAULT_KINDS = frozenset({"http500", "503", "drop", "invalid_json", "invalid_body"})
"""Faults an inference request can be made to suffer:

- ``http500``: HTTP 500 with the server's error body, before any work is done.
- ``503``: HTTP 503 "server busy", as when the queue is full.
- ``drop``: the connection is closed mid-stream (stream) or before any response byte (non-stream).
- ``invalid_json``: HTTP 200 whose reply *content* is truncated JSON (not valid for the schema).
- ``invalid_body``: HTTP 200 whose *body* (or a stream line) is not JSON at all.
"""

_S = TypeVar("_S", bound="FakeServerBase")
_UNITS = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_BYTES_PER_PARAM = {"Q4_0": 0.56, "Q4_K_M": 0.6, "Q5_K_M": 0.71, "Q6_K": 0.82, "Q8_0": 1.06}


@dataclass(frozen=True)
class ModelSpec:
    """What a fake server knows about one model; every field has a plausible default.

    `digest` (64 hex chars) defaults to the sha256 of the model name and `size` (bytes) to an
    estimate from the parameter count and quantization; use `resolved_digest` / `resolved_size`.
    `model_info` holds extra keys merged into Ollama's `/api/show` `model_info`.
    """

    family: str = "llama"
    arch: str | None = None
    parameter_size: str = "8.0B"
    quantization: str = "Q4_K_M"
    context_length: int = 8192
    license: str = "Apache License 2.0"
    capabilities: tuple[str, ...] = ("completion",)
    digest: str | None = None
    size: int | None = None
    template: str = "{{ .System }}\n{{ .Prompt }}"
    parameters: str = 'stop "<|end|>"\ntemperature 0.7'
    model_info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return self.arch or self.family

    @property
    def parameter_count(self) -> int:
        """Parameters as an integer, parsed from `parameter_size` ("8.0B" -> 8_000_000_000)."""
        match = re.fullmatch(r"\s*([0-9.]+)\s*([KMBT]?)\s*", self.parameter_size.upper())
        if not match:
            return 0
        return int(float(match.group(1)) * _UNITS.get(match.group(2), 1))

    def resolved_digest(self, name: str) -> str:
        return self.digest or hashlib.sha256(name.encode()).hexdigest()

    def resolved_size(self) -> int:
        if self.size is not None:
            return self.size
        return int(self.parameter_count * _BYTES_PER_PARAM.get(self.quantization.upper(), 2.0)) or 1


@dataclass(frozen=True)
class Reply:
    """A scripted model reply. `content` may be text or a JSON-able value (serialised for you).

    `tool_calls` items are ``{"name": str, "arguments": dict}``.
    """

    content: Any = ""
    thinking: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] | None = None


ReplyLike = str | dict | list | Reply
Responder = Callable[[dict], ReplyLike | None]


def as_reply(value: ReplyLike) -> Reply:
    """Normalise whatever a script or responder returned into a `Reply` with text content."""
    if not isinstance(value, Reply):
        value = Reply(content=value)
    if not isinstance(value.content, str):
        value = Reply(content=json.dumps(value.content), thinking=value.thinking, tool_calls=value.tool_calls)
    return value


class ServerBusy(Exception):
    """No slot became free (queue full, slot wait timed out, or the server is stopping)."""


class _Stopping(Exception):
    """The fake is shutting down while a request is in simulated work."""


# --------------------------------------------------------------------------- text helpers


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def count_tokens(text: str) -> int:
    """Approximate a token count by whitespace-separated words."""
    return len(text.split())


def truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    """Cut `text` after `limit` whitespace-separated tokens, keeping the original spacing.

    Returns the (possibly cut) text and whether it was cut. A limit of None or below zero means
    no limit, as Ollama's ``num_predict: -1`` does.
    """
    if limit is None or limit < 0:
        return text, False
    matches = list(re.finditer(r"\S+", text))
    if len(matches) <= limit:
        return text, False
    if limit == 0:
        return "", True
    return text[: matches[limit - 1].end()], True


def stream_pieces(text: str) -> list[str]:
    """Split text into stream deltas (a word with its trailing space); they concatenate back to it."""
    return re.findall(r"\s+(?=\S)|\S+\s*", text) or ([text] if text else [])


def first_words(text: str, n: int = 20) -> str:
    return " ".join(text.split()[:n])


def message_text(content: Any) -> str:
    """Text of a chat message content: a string, or OpenAI's list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def last_user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def prompt_tokens(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(count_tokens(message_text(m.get("content"))) for m in messages if isinstance(m, dict))


def echo_text(messages: Any) -> str:
    """The default reply: deterministic and derived from the last user message."""
    return f"Echo: {first_words(last_user_text(messages))}".rstrip()


def truncated_json(text: str) -> str:
    """A prefix of a JSON document that is guaranteed not to parse."""
    cut = text[: max(1, len(text) // 2)]
    with contextlib.suppress(ValueError):
        json.loads(cut)
        cut = text + "{"
    return cut


# --------------------------------------------------------------------------- JSON schema instances


def _resolve_ref(ref: str, root: Any) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if part:
            node = node[urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")]
    return node


def _merge_all_of(schema: dict, root: Any) -> dict:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for sub in schema["allOf"]:
        if isinstance(sub, dict) and "$ref" in sub:
            sub = {**_resolve_ref(sub["$ref"], root), **{k: v for k, v in sub.items() if k != "$ref"}}
        if not isinstance(sub, dict):
            continue
        for key, value in sub.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _number(schema: dict, integer: bool, salt: int) -> int | float:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    exlo, exhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(exlo, bool):  # draft 4 spelling
        exlo, lo = (lo if exlo else None), (None if exlo else lo)
    if isinstance(exhi, bool):
        exhi, hi = (hi if exhi else None), (None if exhi else hi)
    step = 1 if integer else 0.5
    low = lo if lo is not None else (exlo + step if exlo is not None else None)
    high = hi if hi is not None else (exhi - step if exhi is not None else None)
    if integer:
        low = math.ceil(low) if low is not None else None
        high = math.floor(high) if high is not None else None
    if low is None:
        value: float = min(0, high) if high is not None else 0
    else:
        value = low
    value += salt
    if high is not None and value > high:
        value = high
    if (multiple := schema.get("multipleOf")) and value % multiple:
        value = math.ceil(value / multiple) * multiple
    return int(value) if integer or float(value).is_integer() else value


_STRING_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: dict, name: str, salt: int) -> str:
    if schema.get("format") in _STRING_FORMATS:
        return _STRING_FORMATS[schema["format"]]
    text = (name or "text") + (f"-{salt}" if salt else "")
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text


def schema_instance(schema: Any, root: Any = None, *, name: str = "", salt: int = 0, _depth: int = 0) -> Any:
    """Build a small document valid for a JSON schema (the subset structured outputs use).

    Objects get their required properties, enums their first value, `const` its value, `anyOf` /
    `oneOf` their first non-null branch, arrays `minItems` elements; `$ref` into `$defs` /
    `definitions` and `allOf` are resolved. Strings are derived from the property name.
    """
    root = schema if root is None else root
    if _depth > 64:
        raise ValueError("schema recursion too deep for a minimal instance")
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        target = _resolve_ref(schema["$ref"], root)
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema_instance(merged, root, name=name, salt=salt, _depth=_depth + 1)
    if "const" in schema:
        return schema["const"]
    if enum := schema.get("enum"):
        return enum[salt % len(enum)]  # the first value; array elements cycle to stay unique
    if "allOf" in schema:
        return schema_instance(_merge_all_of(schema, root), root, name=name, salt=salt, _depth=_depth + 1)
    for key in ("anyOf", "oneOf"):
        if options := schema.get(key):
            non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            chosen = (non_null or options)[0]
            rest = {k: v for k, v in schema.items() if k != key}
            chosen = {**rest, **chosen} if isinstance(chosen, dict) else chosen
            return schema_instance(chosen, root, name=name, salt=salt, _depth=_depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None:
        if "properties" in schema or "required" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            kind = "string"
    if kind == "object":
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        return {
            key: schema_instance(props.get(key, extra), root, name=key, _depth=_depth + 1)
            for key in schema.get("required", [])
        }
    if kind == "array":
        prefix = schema.get("prefixItems") or []
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        out = [schema_instance(p, root, name=name, salt=i, _depth=_depth + 1) for i, p in enumerate(prefix)]
        for i in range(len(out), int(schema.get("minItems", 0))):
            out.append(schema_instance(items, root, name=name, salt=i, _depth=_depth + 1))
        return out
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer", salt)
    if kind == "boolean":
        return salt % 2 == 1
    if kind == "null":
        return None
    return _string(schema, name, salt)


# --------------------------------------------------------------------------- faults and slots


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


# --------------------------------------------------------------------------- HTTP plumbing


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
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.delay = delay
        self.responder = responder

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
