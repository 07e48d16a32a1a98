"""Step 4 over MCP: plan, generate and add scenarios."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from base_model_selector.scenarios.generate import GenerateResult, PlanReport
from base_model_selector.scenarios.input import AddResult, ScenarioInput
from base_model_selector.scenarios.plan import MAX_N  # step 4: tool schema types
from base_model_selector.scenarios.taxonomy import EdgeCase, Persona, Style, Topic
from base_model_selector.scenarios.taxonomy_file import TaxonomyWritten
from base_model_selector.server.common import (
    REPLACES,
    WRITES,
    Fit,
    StudyArg,
    ToolDecorator,
    open_study,
    progress_reporter,
    readable_file,
)
from base_model_selector.study.directory import DEFAULT_STUDY_DIR


def register(tool: ToolDecorator) -> None:
    @tool("write_taxonomy", title="Write the input taxonomy", hints=REPLACES)
    def write_taxonomy_tool(
        topics: Annotated[
            list[Topic],
            Field(
                min_length=1,
                description="What users bring: {name, weight?, description?, subtopics: [{name, weight?, "
                "examples: [how users phrase it]}]}",
            ),
        ],
        study: StudyArg = DEFAULT_STUDY_DIR,
        description: Annotated[str, Field(max_length=4000, description="Who the users are")] = "",
        styles: Annotated[
            list[Style] | None,
            Field(description="How they write, {name, weight?, description?}; default terse, conversational, detailed"),
        ] = None,
        edge_cases: Annotated[
            list[EdgeCase] | None,
            Field(description="Inputs that must be represented: {name, weight?, examples?, topics?, styles?}"),
        ] = None,
        edge_case_share: Annotated[
            float | None, Field(ge=0, le=0.9, description="Share of scenarios that are edge cases (0.2)")
        ] = None,
        personas: Annotated[
            list[Persona] | None, Field(description="Who writes: {name, weight?, description?}")
        ] = None,
    ) -> TaxonomyWritten:
        """Write taxonomy.yaml (commented, validated like the file) and report what a plan would cover."""
        from base_model_selector.scenarios.taxonomy_file import write_taxonomy

        def dumped(items: list[Any] | None) -> list[dict[str, Any]] | None:
            return None if items is None else [i.model_dump(mode="json", exclude_unset=True) for i in items]

        data = {
            "description": description or None,
            "topics": dumped(topics),
            "styles": dumped(styles),
            "edge_cases": dumped(edge_cases),
            "edge_case_share": edge_case_share,
            "personas": dumped(personas),
        }
        return write_taxonomy(open_study(study), data)

    @tool(
        "plan_scenarios",
        title="Plan the scenarios",
        hints=WRITES,
        fit=Fit(items="slots", key=("slot",), limit=50),
    )
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

    @tool("generate_scenarios", title="Generate the scenarios", hints=WRITES)
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

    @tool("add_scenarios", title="Add your own scenarios", hints=WRITES)
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
            str | None,
            Field(description="Or a JSONL, JSON, CSV or YAML file of them, in the study or the working directory"),
        ] = None,
    ) -> AddResult:
        """Add scenarios you wrote or collected (real user messages are best); near-duplicates are rejected."""
        from base_model_selector.scenarios.input import add_scenarios

        s = open_study(study)
        return add_scenarios(s, scenarios, readable_file(s, path) if path is not None else None)
