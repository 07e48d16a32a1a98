"""Drive the two thin shells, the CLI and the MCP server, the same way from every test file.

Tests reach the core through its shells as a person (the CLI) or an agent (an in-memory MCP client) would.
The few lines that do that were copied from file to file; they live here once, so a change in how the CLI
exits or how the MCP client is opened is made in one place.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from base_model_selector.cli import main
from base_model_selector.server import build_server


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process: its exit code (0 when it returns normally), stdout and stderr."""
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


async def call_tool(name: str, args: dict[str, Any]) -> CallToolResult:
    """Call one tool of a fresh server through an in-memory MCP client, as an agent would."""
    async with Client(build_server()) as client:
        return await client.call_tool(name, args)


def run_tool(name: str, args: dict[str, Any]) -> CallToolResult:
    """`call_tool` from a synchronous test, on its own event loop."""
    return asyncio.run(call_tool(name, args))
