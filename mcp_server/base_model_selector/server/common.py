"""What every tool module shares: the error boundary, the argument types, progress, and how a study is opened.

`agent_errors` is the one place where project errors become `ToolError`s, so the agent reads the full message
and the fix (in mcp 2.x any other exception reaches the client only as "Error executing tool NAME"). Add a new
error kind there, never a try/except in a tool.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Study
from base_model_selector.study.errors import BMSError

F = TypeVar("F", bound=Callable[..., Any])

INSTRUCTIONS = (
    "Decide whether an open-weight base model is good enough for a domain before fine-tuning. Work through the "
    "eight steps in order; call study_status first and follow its next_action. Every tool takes `study`, the "
    "study directory."
)

StudyArg = Annotated[
    str,
    Field(description=f"Study directory (holds study.yaml); default ./{DEFAULT_STUDY_DIR}"),
]
ModelArg = Annotated[
    str | None,
    Field(description="Model tag under test, e.g. 'qwen3:8b'; default: the primary chosen with select_model"),
]


def agent_errors(fn: F) -> F:
    """Turn the project's errors into ToolErrors whose message the agent can read and act on."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except BMSError as err:
            raise ToolError(str(err)) from err

    return wrapper  # type: ignore[return-value]


def progress_reporter(ctx: Context | None) -> Callable[[float, float | None, str], Awaitable[None]]:
    """A core-library progress callback that forwards to MCP progress notifications."""

    async def report(done: float, total: float | None, message: str) -> None:
        if ctx is not None:
            await ctx.report_progress(done, total, message)

    return report


def open_study(study: str | None) -> Study:
    return Study.open(study or os.environ.get("BMS_STUDY") or DEFAULT_STUDY_DIR)


ToolDecorator = Callable[[str | None], Callable[[F], F]]
"""`tool(name)`: registers the decorated function as an MCP tool behind `agent_errors`."""
