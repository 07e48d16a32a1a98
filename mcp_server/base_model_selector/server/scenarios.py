"""Step 4 over MCP: plan, generate and add scenarios."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from base_model_selector.scenarios.generate import GenerateResult, PlanReport
from base_model_selector.scenarios.input import AddResult, ScenarioInput
from base_model_selector.scenarios.plan import MAX_N  # step 4: tool schema types
from base_model_selector.server.common import (
    StudyArg,
    ToolDecorator,
    open_study,
    progress_reporter,
)
from base_model_selector.study.directory import DEFAULT_STUDY_DIR


def register(tool: ToolDecorator) -> None:
    @tool("plan_scenarios")
    def plan_scenarios_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        n: Annotated[
            int | None, Field(ge=1, le=MAX_N, description="How many scenarios; default scenarios.n (50)")
        ] = None,
        seed: Annotated[int | None, Field(description="Plan seed; default scenarios.seed in study.yaml")] = None,
        include_slots: Annotated[
            bool, Field(description="Return every slot, to write the scenarios yourself with add_scenarios")
        ] = False,
    ) -> PlanReport:
        """Plan n scenarios across taxonomy.yaml's topics, styles and edge cases; report coverage and warnings."""
        from base_model_selector.scenarios.generate import plan_report

        return plan_report(open_study(study), n, seed, include_slots=include_slots)

    @tool("generate_scenarios")
    async def generate_scenarios_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        n: Annotated[
            int | None, Field(ge=1, le=MAX_N, description="How many scenarios; default: the current plan's")
        ] = None,
        model: Annotated[
            str | None,
            Field(
                description="Generator model tag; default scenarios.generator_model, else judge.model, else candidate"
            ),
        ] = None,
    ) -> GenerateResult:
        """Write the opening user message of every planned scenario with a generator model (resumable)."""
        from base_model_selector.scenarios.generate import generate_scenarios

        return await generate_scenarios(open_study(study), n=n, model=model, progress=progress_reporter(ctx))

    @tool("add_scenarios")
    def add_scenarios_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        scenarios: Annotated[
            list[ScenarioInput] | None,
            Field(
                max_length=2000,
                description="Opening user messages, each {text, topic, subtopic?, style?, edge_case?, persona?} "
                "or {text, slot} for a slot from plan_scenarios",
            ),
        ] = None,
        path: Annotated[
            str | None, Field(description="Or a JSONL, JSON, CSV or YAML file of them, inside the study")
        ] = None,
    ) -> AddResult:
        """Add scenarios you wrote or collected (real user messages are best); near-duplicates are rejected."""
        from base_model_selector.scenarios.input import add_scenarios

        return add_scenarios(open_study(study), scenarios, path)
