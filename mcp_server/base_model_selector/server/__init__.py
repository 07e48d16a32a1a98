"""The MCP server: one thin tool per step over the core library.

Each tool parses its (untrusted) arguments, calls one core function and returns a pydantic model; `common.Toolbox`
registers it with a title and annotations, refuses unknown arguments, turns project errors into `ToolError`s that
name the tool to call (in mcp 2.x any other exception reaches the client only as "Error executing tool NAME"), and
shapes the result to the size budget (`results.py`). stdout is the protocol: logging goes to stderr and nothing
prints. Heavy libraries (ddgs, jinja2, the ollama client, yaml) are imported inside the tools that need them, so
the server starts fast.
"""

from __future__ import annotations

import logging
import os
import sys

from mcp.server import MCPServer

from base_model_selector import __version__
from base_model_selector.research.search import Searcher
from base_model_selector.server import decision, judging, models, research, review, scenarios, study
from base_model_selector.server.common import INSTRUCTIONS, Toolbox

__all__ = ["build_server", "main"]

log = logging.getLogger(__name__)


def build_server(*, searcher: Searcher | None = None) -> MCPServer:
    """The server with every tool. `searcher` replaces ddgs's `DDGS` for web search (a seam for tests)."""
    box = Toolbox()
    pages = review.ReviewPages()
    study.register(box.tool)  # the tools of each step, in the order of the eight steps
    research.register(box.tool, searcher=searcher)
    models.register(box.tool)
    scenarios.register(box.tool)
    judging.register(box.tool)
    decision.register(box.tool)
    review.register(box.tool, pages)
    return MCPServer(
        name="base-model-selector",
        version=__version__,
        instructions=INSTRUCTIONS,
        tools=box.tools,
        lifespan=pages.lifespan,  # the review pages it opened stop with it
    )


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
