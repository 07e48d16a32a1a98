"""The MCP server: one thin tool per step over the core library.

Each tool parses its (untrusted) arguments, calls one core function and returns a pydantic model, which the SDK
turns into structured output. Project errors become `ToolError`s so the agent reads the full message and the fix
(in mcp 2.x any other exception reaches the client only as "Error executing tool NAME"). stdout is the protocol:
logging goes to stderr and nothing prints. Heavy libraries (ddgs, jinja2, the ollama client) are imported inside
the tools that need them, so the server starts fast.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Callable

from mcp.server import MCPServer

from base_model_selector import __version__
from base_model_selector.research.search import Searcher
from base_model_selector.server import decision, judging, models, research, review, scenarios, study
from base_model_selector.server.common import INSTRUCTIONS, F, agent_errors

__all__ = ["build_server", "main"]

log = logging.getLogger(__name__)


def build_server(*, searcher: Searcher | None = None) -> MCPServer:
    """The server with every tool. `searcher` replaces ddgs's `DDGS` for web search (a seam for tests)."""
    pages = review.ReviewPages()
    server = MCPServer(
        name="base-model-selector",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=pages.lifespan,  # the review pages it opened stop with it
    )

    def tool(name: str | None = None) -> Callable[[F], F]:
        def register(fn: F) -> F:
            server.add_tool(agent_errors(fn), name=name or fn.__name__, description=inspect.getdoc(fn))
            return fn

        return register

    study.register(tool)  # the tools of each step, in the order of the eight steps
    research.register(tool, searcher=searcher)
    models.register(tool)
    scenarios.register(tool)
    judging.register(tool)
    decision.register(tool)
    review.register(tool, pages)
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
