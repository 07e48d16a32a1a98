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

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from base_model_selector.study import untrusted
from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Study
from base_model_selector.study.errors import project_error

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
    """Turn the project's errors into ToolErrors whose message the agent can read and act on.

    Every string in a result is cleaned of control and bidi characters (`untrusted.clean_data`): results quote
    scenarios, model replies, judge reasoning and web text, which must reach the agent as inert data.
    Operating-system and input errors an agent can cause (an unwritable study, a NUL byte in a path) are mapped
    to the same one-line messages as in the CLI (`errors.project_error`). A synchronous tool runs in a worker
    thread, so its file work and any wait for the study lock never block the event loop that a concurrent
    baseline or judging run is timing requests on.
    """

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if inspect.iscoroutinefunction(fn):
                result = await fn(*args, **kwargs)
            else:
                result = await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
            return untrusted.clean_data(result)
        except Exception as err:
            mapped = project_error(err)
            if mapped is None:
                raise
            raise ToolError(str(mapped)) from err

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
