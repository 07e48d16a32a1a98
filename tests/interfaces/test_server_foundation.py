"""The MCP shell: tools are listed, errors reach the agent with their fix, and the stdio entry point works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from base_model_selector.server import build_server
from base_model_selector.study.directory import init_study
from shells import run_tool

FIXED_TOOLS = {
    "study_status",
    "search_web",
    "research_candidates",
    "build_comparison_table",
    "select_model",
    "pull_model",
    "check_model",
    "plan_scenarios",
    "generate_scenarios",
    "add_scenarios",
    "run_baseline",
    "assess_responses",
    "next_assessment_batch",
    "record_assessments",
    "decide",
    "write_decision_doc",
    "evaluate",
}


def test_study_status_lists_eight_steps_with_research_next(tmp_path: Path) -> None:
    init_study(tmp_path / "s", domain="customer support")
    result = run_tool("study_status", {"study": str(tmp_path / "s")})
    assert not result.is_error
    data = result.structured_content
    assert [s["number"] for s in data["steps"]] == list(range(1, 9))
    assert data["next_step"] == 1
    assert "research_candidates" in data["next_action"]


def test_project_errors_reach_the_agent_with_their_fix_not_a_generic_message(tmp_path: Path) -> None:
    result = run_tool("study_status", {"study": str(tmp_path / "missing")})
    assert result.is_error
    text = result.content[0].text
    assert "study.yaml: not found" in text
    assert "call init_study(" in text, "over MCP the fix names the tool to call"


def test_init_study_tool_creates_a_study_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = run_tool("init_study", {"study": str(tmp_path / "s"), "domain": "coding help"})
    assert not first.is_error
    again = run_tool("init_study", {"study": str(tmp_path / "s"), "domain": "other"})
    assert again.is_error and "already exists" in again.content[0].text


def test_every_fixed_tool_name_is_served() -> None:
    async def names() -> set[str]:
        async with Client(build_server()) as client:
            return {t.name for t in (await client.list_tools()).tools}

    served = anyio.run(names)
    assert served >= FIXED_TOOLS, f"missing: {sorted(FIXED_TOOLS - served)}"
    assert served - FIXED_TOOLS == {
        "init_study",
        "configure_study",
        "write_taxonomy",
        "write_rubric",
        "show_samples",
        "open_review",
    }


def test_stdio_server_lists_tools_and_answers_study_status(tmp_path: Path) -> None:
    init_study(tmp_path / "s", domain="customer support")

    async def run() -> tuple[set[str], dict]:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-c", "from base_model_selector.server import main; main()"],
            env={**os.environ, "BMS_LOG_LEVEL": "WARNING"},
        )
        with anyio.fail_after(60):
            async with Client(params) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                result = await client.call_tool("study_status", {"study": str(tmp_path / "s")})
                return tools, result.structured_content

    tools, status = anyio.run(run)
    assert "study_status" in tools
    assert status["next_step"] == 1


def test_server_import_adds_little_to_mcp_import_time() -> None:
    """Our modules must stay light at start-up: heavy libraries are imported inside the tools."""
    heavy = ("ollama", "ddgs", "jinja2", "rich", "typer", "yaml", "httpx")
    code = f"import sys, base_model_selector.server; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", f"heavy modules imported at server start-up: {out.stdout}"
