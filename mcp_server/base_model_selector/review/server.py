"""Run the review page: uvicorn on 127.0.0.1 in a background thread, reachable only through the URL it prints.

The same server serves the CLI (`base-model-selector review`, which blocks until Ctrl-C) and the MCP tool
`open_review` (which returns the URL and keeps serving until the MCP server stops). A fresh random token is made
for every start and is part of the URL; the port is any free one unless given. uvicorn's own logging is off:
in the MCP server stdout is the protocol, so nothing may print there.

Contract: `ReviewServer(study, model=None, reviewer=None, port=0).start() -> ReviewInfo` (raises StudyError when
the port is taken or the server does not come up within START_TIMEOUT_S), `.stop()` (idempotent), `.running`.
"""

from __future__ import annotations

import getpass
import re
import secrets
import socket
import threading
import time
from typing import Any

from pydantic import BaseModel, Field

from base_model_selector.judging.judges import recording_judge
from base_model_selector.serving.pull import model_under_test
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import StudyError

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
_NAME = re.compile(r"[^a-z0-9._-]+")


class ReviewInfo(BaseModel):
    """Where the review page is served."""

    url: str = Field(description="Open this in a browser on this machine; it carries the access token")
    study: str
    model: str = Field(description="The model whose responses the page shows first")
    reviewer: str = Field(description="The judge identity a person's verdicts are stored under")

    def summary(self) -> str:
        return (
            f"{self.url}\nReview page for {self.study} ({self.model}); verdicts are stored as {self.reviewer}. "
            "Served on this machine only; the URL carries its access token."
        )


def reviewer_identity(name: str | None = None) -> str:
    """`human:<name>`: the given name or the login name, lower-cased and reduced to letters, digits, '.', '-'
    and '_' (the judge identity rule of judging/judges.py, which checks the result)."""
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container without /etc/passwd entry)
            name = "reviewer"
    cleaned = _NAME.sub("-", name.strip().lower().removeprefix("human:")).strip("-._")[:40]
    if not cleaned:
        raise StudyError(f"reviewer name {name!r} has no usable characters; use letters, digits, '.', '-' or '_'")
    return recording_judge(f"human:{cleaned}")


def bind_loopback(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0: a free one), or a StudyError naming the fix."""
    if not 0 <= port <= 65535:
        raise StudyError(f"port {port}: use 0 (any free port) or a port between 1 and 65535")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError as err:
        sock.close()
        raise StudyError(
            f"port {port} on {HOST} is not available ({err.strerror}); pass --port 0 for a free one"
        ) from err
    sock.setblocking(False)
    return sock


class ReviewServer:
    """One study's review page, served from a background thread until `stop()`."""

    def __init__(self, study: Study, model: str | None = None, *, reviewer: str | None = None, port: int = 0):
        from base_model_selector.review.page import page_models

        self.study = study
        self.model = model_under_test(study, model)
        self.models = [tag for tag, _ in page_models(study, self.model)]
        self.reviewer = reviewer_identity(reviewer)
        self.port = port
        self.token = secrets.token_urlsafe(24)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/{self.token}/"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def info(self) -> ReviewInfo:
        return ReviewInfo(url=self.url, study=str(self.study.root), model=self.model, reviewer=self.reviewer)

    def start(self) -> ReviewInfo:
        import uvicorn

        from base_model_selector.review.app import build_app

        if self.running:
            return self.info()
        self._sock = bind_loopback(self.port)
        self.port = self._sock.getsockname()[1]
        app = build_app(self.study, self.models, reviewer=self.reviewer, token=self.token, port=self.port)
        config = uvicorn.Config(
            app,
            log_config=None,  # stdout belongs to the MCP protocol; uvicorn's default config logs there
            access_log=False,
            log_level="warning",
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"review {self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise StudyError(f"the review page did not start on {HOST}:{self.port}; see the log on stderr")
            time.sleep(0.02)
        return self.info()

    def wait(self) -> None:
        """Block until the server stops (the CLI; Ctrl-C reaches the caller)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None
