"""A loopback stand-in for the Hugging Face Hub's file endpoints, driven by the real `huggingface_hub` client.

`hf_hub_download` asks `HEAD {endpoint}/{repo}/resolve/{revision}/{file}` for the commit, ETag and size, then GETs
the same URL (with a Range header when it resumes a partial download). This server answers exactly that, with the
Hub's error headers (`X-Error-Code: RepoNotFound`, `EntryNotFound`, `RevisionNotFound`, `GatedRepo`), and sends
bodies in small, slightly delayed chunks so a download takes long enough for progress to be seen. Point
`HF_ENDPOINT` at `url` (and `HF_HUB_CACHE` at a temporary folder). Every request is recorded in `requests`.
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serves `files[(repo, path)] = bytes` at revision `main` (or COMMIT); `gated` repos answer 403."""

    def __init__(self, *, chunk: int = 64 * 1024, delay_s: float = 0.01) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.gated: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.chunk, self.delay_s = chunk, delay_s
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, repo: str, path: str, data: bytes) -> None:
        self.files[(repo, path)] = data

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, body=False)

            def do_GET(self) -> None:
                hub._answer(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, handler: BaseHTTPRequestHandler, *, body: bool) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(handler.path).path)
        self.requests.append((handler.command, path))
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._error(handler, 404, "RepoNotFound")
        repo_id, revision, inner = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if not any(r == repo_id for r, _ in self.files):
            return self._error(handler, 404, "RepoNotFound")
        if repo_id in self.gated:
            return self._error(handler, 403, "GatedRepo")
        if revision not in ("main", COMMIT):
            return self._error(handler, 404, "RevisionNotFound")
        data = self.files.get((repo_id, inner))
        if data is None:
            return self._error(handler, 404, "EntryNotFound")
        start = 0
        ranged = handler.headers.get("Range", "")
        if ranged.startswith("bytes="):
            start = int(ranged[len("bytes=") :].split("-")[0] or 0)
        handler.send_response(206 if start else 200)
        handler.send_header("X-Repo-Commit", COMMIT)
        handler.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(len(data) - start))
        handler.end_headers()
        if not body:
            return None
        for at in range(start, len(data), self.chunk):
            handler.wfile.write(data[at : at + self.chunk])
            time.sleep(self.delay_s)
        return None

    def _error(self, handler: BaseHTTPRequestHandler, status: int, code: str) -> None:
        message = f"{code}: {handler.path}".encode()
        handler.send_response(status)
        handler.send_header("X-Error-Code", code)
        handler.send_header("X-Repo-Commit", COMMIT)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(message)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(message)
