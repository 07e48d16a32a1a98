"""Step 6 over MCP: assess with the LLM judge, or judge as the agent (next batch / record)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from base_model_selector.judging.agent_judge import (  # step 6: tool schema types
    AgentVerdict,
    AssessmentBatch,
    RecordResult,
)
from base_model_selector.judging.assessment import AssessResult
from base_model_selector.server.common import (
    ModelArg,
    StudyArg,
    ToolDecorator,
    open_study,
    progress_reporter,
)
from base_model_selector.study.config import JUDGE_MODE_PATTERN
from base_model_selector.study.directory import DEFAULT_STUDY_DIR
from base_model_selector.study.types import DEFAULT_AGENT

JudgeModeArg = Annotated[
    str | None,
    Field(
        pattern=JUDGE_MODE_PATTERN,
        description="The judge the decision rests on: llm (the judge model), agent (= agent:default: your recorded "
        "verdicts), agent:<name> or human:<name>; default judge.mode in study.yaml",
    ),
]
JudgeArg = Annotated[
    str,
    Field(
        description="Who judges: agent:<name> (you; default agent:default) or human:<name> (a person, whose verdict "
        "overrides the primary judge on that item)"
    ),
]


def register(tool: ToolDecorator) -> None:
    @tool("assess_responses")
    async def assess_responses_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        mode: JudgeModeArg = None,
        batched: Annotated[
            bool | None, Field(description="Judge all criteria of a response in one call; default study.yaml")
        ] = None,
        rejudge_errors: Annotated[bool, Field(description="Judge again the verdicts that were ERROR")] = False,
        agreement: Annotated[
            bool | None,
            Field(description="Re-judge a random sample; report agreement and Cohen's kappa (default study.yaml)"),
        ] = None,
        agreement_sample: Annotated[
            float | None, Field(gt=0, le=1, description="Share to re-judge; default 0.1, at least 5 verdicts")
        ] = None,
    ) -> AssessResult:
        """Judge every baseline response against rubric.yaml, apply the pass rule, and write the assessments."""
        from base_model_selector.judging.assessment import assess_responses

        return await assess_responses(
            open_study(study),
            model,
            mode=mode,
            batched=batched,
            rejudge_errors=rejudge_errors,
            agreement=agreement,
            agreement_sample=agreement_sample,
            progress=progress_reporter(ctx),
        )

    @tool("next_assessment_batch")
    def next_assessment_batch_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        k: Annotated[int, Field(ge=1, le=200, description="How many items to return (at most)")] = 10,
        judge: JudgeArg = DEFAULT_AGENT,
        context_hash: Annotated[
            str | None,
            Field(description="The context_hash of your previous batch: the rubric and instructions are left out"),
        ] = None,
    ) -> Annotated[CallToolResult, AssessmentBatch]:
        """Get items you have not judged yet, grouped by response, to judge YES/NO/NA (the rubric comes once)."""
        from base_model_selector.judging.agent_judge import next_assessment_batch

        batch = next_assessment_batch(open_study(study), model, k, judge=judge, context_hash=context_hash)
        # The batch once as compact text (what a text-only client shows the agent), once as structured data.
        return CallToolResult(
            content=[TextContent(type="text", text=batch.summary())], structured_content=batch.model_dump(mode="json")
        )

    @tool("record_assessments")
    def record_assessments_tool(
        verdicts: Annotated[
            list[AgentVerdict],
            Field(min_length=1, description="One {item_id, reasoning, answer: YES|NO|NA} per judged item"),
        ],
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        judge: JudgeArg = DEFAULT_AGENT,
    ) -> RecordResult:
        """Record verdicts on items from next_assessment_batch (all or nothing) and re-score the responses."""
        from base_model_selector.judging.agent_judge import record_assessments

        return record_assessments(open_study(study), verdicts, model, judge=judge)
