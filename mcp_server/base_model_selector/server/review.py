"""The review page over MCP: start it in this server's process and hand the URL to the person.

The agent cannot read the responses *for* the person at step 7; it can open the page where the person does.
Each study gets one page (asked again, the same URL comes back while it runs); every page stops when the MCP
server stops, through the server's lifespan.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from pydantic import Field

from base_model_selector.review.server import ReviewInfo
from base_model_selector.server.common import Hints, ModelArg, StudyArg, ToolDecorator, open_study
from base_model_selector.study.directory import DEFAULT_STUDY_DIR

if TYPE_CHECKING:
    from base_model_selector.review.server import ReviewServer


class ReviewPages:
    """The review pages this MCP server started, by (study, model)."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], ReviewServer] = {}
        self._lock = threading.Lock()

    def open(self, study: str, model: str | None, reviewer: str | None) -> ReviewInfo:
        from base_model_selector.review.server import ReviewServer

        opened = open_study(study)
        page = ReviewServer(opened, model, reviewer=reviewer)
        key = (str(opened.root), page.model)
        with self._lock:
            running = self._open.get(key)
            if running is not None and running.running and running.reviewer == page.reviewer:
                return running.info()
            if running is not None:
                running.stop()
            info = page.start()
            self._open[key] = page
            return info

    def stop_all(self) -> None:
        with self._lock:
            for page in self._open.values():
                page.stop()
            self._open.clear()

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            await anyio.to_thread.run_sync(self.stop_all)


def register(tool: ToolDecorator, pages: ReviewPages) -> None:
    @tool("open_review", title="Open the review page", hints=Hints(read_only=False))
    async def open_review_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        reviewer: Annotated[
            str | None,
            Field(max_length=40, description="The person's name; their verdicts are stored as human:NAME"),
        ] = None,
    ) -> ReviewInfo:
        """Open the review page on this machine and return its URL: give it to the person for step 7's review."""
        return await anyio.to_thread.run_sync(pages.open, study, model, reviewer)
