"""Steps 3 and 5 over MCP: pull and check the model, run the baseline."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from base_model_selector.baseline.run import BaselineSummary
from base_model_selector.server.common import (
    WRITES,
    Hints,
    ModelArg,
    StudyArg,
    ToolDecorator,
    open_study,
    progress_reporter,
)
from base_model_selector.serving.backends import (
    PullResult,  # steps 3 and 5: result types the tool schemas need (no client imported)
)
from base_model_selector.serving.check import CheckReport
from base_model_selector.study.directory import DEFAULT_STUDY_DIR


def register(tool: ToolDecorator) -> None:
    @tool("pull_model", title="Pull the model", hints=Hints(read_only=False, open_world=True))
    async def pull_model_tool(ctx: Context, study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> PullResult:
        """Pull the model onto every configured Ollama host (returns at once when it is already there)."""
        from base_model_selector.serving.pull import pull_model

        return await pull_model(open_study(study), model, progress=progress_reporter(ctx))

    @tool("check_model", title="Check the model's real facts", hints=WRITES)
    async def check_model_tool(study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> CheckReport:
        """Record the model's real facts and a smoke test, and list where they disagree with the catalog."""
        from base_model_selector.serving.check import check_model

        return await check_model(open_study(study), model)

    @tool("run_baseline", title="Run the baseline", hints=WRITES)
    async def run_baseline_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        pull: Annotated[bool, Field(description="Pull the model first if the server lacks it")] = False,
    ) -> BaselineSummary:
        """Answer every scenario with the model, resuming a previous run; summarise latency and failures."""
        from base_model_selector.baseline.run import run_baseline

        return await run_baseline(open_study(study), model, pull=pull, progress=progress_reporter(ctx))
