"""The MCP server: one thin tool per step over the core library.

Each tool parses its (untrusted) arguments, calls one core function and returns a pydantic model, which the SDK
turns into structured output. Project errors become `ToolError`s so the agent reads the full message and the fix
(in mcp 2.x any other exception reaches the client only as "Error executing tool NAME"). stdout is the protocol:
logging goes to stderr and nothing prints. Heavy libraries (ddgs, jinja2, the ollama client) are imported inside
the tools that need them, so the server starts fast.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from . import __version__
from .errors import BMSError
from .status import StudyStatus, study_status
from .study import DEFAULT_STUDY_DIR, Study, init_study

log = logging.getLogger(__name__)

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


def build_server() -> MCPServer:
    server = MCPServer(
        name="base-model-selector",
        version=__version__,
        instructions=INSTRUCTIONS,
    )

    def tool(name: str | None = None) -> Callable[[F], F]:
        def register(fn: F) -> F:
            server.add_tool(agent_errors(fn), name=name or fn.__name__, description=inspect.getdoc(fn))
            return fn

        return register

    # ------------------------------------------------------------ study
    @tool("init_study")
    def init_study_tool(
        study: StudyArg,
        domain: Annotated[str, Field(description="What the model must be good at, e.g. 'customer support'")],
        use_case: Annotated[str, Field(description="What the product does and for whom")] = "",
        size_min_b: Annotated[float, Field(ge=0, description="Smallest size, billions of parameters")] = 7,
        size_max_b: Annotated[float, Field(gt=0, description="Largest size, billions of parameters")] = 10,
        commercial_use: Annotated[bool, Field(description="Must the licence allow commercial use?")] = True,
        system_prompt: Annotated[str, Field(description="The product's system prompt")] = "",
    ) -> StudyStatus:
        """Create a study directory with a commented study.yaml (never overwrites one), then report its status."""
        init_study(
            study,
            domain=domain,
            use_case=use_case,
            size_min=size_min_b,
            size_max=size_max_b,
            commercial_use=commercial_use,
            system_prompt=system_prompt,
        )
        return study_status(open_study(study))

    @tool("study_status")
    def study_status_tool(study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> StudyStatus:
        """Show which of the eight steps are done, pending or stale, and the exact tool to call next."""
        return study_status(open_study(study), model)

    return server


def main() -> None:
    """Console script `base-model-selector-mcp`: serve MCP over stdio, logging to stderr."""
    logging.basicConfig(
        level=os.environ.get("BMS_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    build_server().run("stdio")


if __name__ == "__main__":
    main()
