"""Step 6 over MCP: assess with the LLM judge, or judge as the agent (next batch / record)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from base_model_selector.judging.agent_judge import (  # step 6: tool schema types
    AgentVerdict,
    AssessmentBatch,
    RecordResult,
)
from base_model_selector.judging.assessment import AssessResult
from base_model_selector.judging.rubric import Check, Criterion
from base_model_selector.judging.rubric_file import RubricWritten
from base_model_selector.server.common import (
    READS,
    REPLACES,
    WRITES,
    Fit,
    JudgeArg,
    JudgeModeArg,
    ModelArg,
    StudyArg,
    ToolDecorator,
    open_study,
    progress_reporter,
)
from base_model_selector.study.directory import DEFAULT_STUDY_DIR
from base_model_selector.study.types import DEFAULT_AGENT


def register(tool: ToolDecorator) -> None:
    @tool("write_rubric", title="Write the rubric", hints=REPLACES)
    def write_rubric_tool(
        categories: Annotated[
            dict[str, float], Field(min_length=1, description="Category → weight; the weights sum to 1")
        ],
        criteria: Annotated[
            list[Criterion],
            Field(
                description="YES/NO/NA questions: {id, category, question, na_invalid?, safety_gate?, "
                "fail_examples?, calibration_examples?: [{type: PASS|FAIL|BORDERLINE, context, response, reasoning}]}"
            ),
        ],
        study: StudyArg = DEFAULT_STUDY_DIR,
        checks: Annotated[
            list[Check] | None,
            Field(description="Deterministic checks: {id, type, category? or gate: true, pattern|words|text|schema}"),
        ] = None,
        pass_threshold: Annotated[float, Field(ge=0, le=1, description="Weighted score a response needs")] = 0.80,
        name: Annotated[str, Field(max_length=200, description="The rubric's title")] = "",
        description: Annotated[str, Field(max_length=4000, description="What matters most, in a sentence")] = "",
    ) -> RubricWritten:
        """Write rubric.yaml (commented, validated exactly like the file) and summarise categories, gates, checks."""
        from base_model_selector.judging.rubric_file import write_rubric

        data = {
            "name": name or None,
            "description": description or None,
            "categories": categories,
            "pass_threshold": pass_threshold,
            "criteria": [c.model_dump(mode="json", exclude_unset=True) for c in criteria],
            "checks": [k.model_dump(mode="json", by_alias=True, exclude_unset=True) for k in checks or []] or None,
        }
        return write_rubric(open_study(study), data)

    @tool(
        "assess_responses",
        title="Judge the responses",
        hints=WRITES,
        fit=Fit(brief=("outcome.agreements.by_criterion",)),
    )
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

    @tool(
        "next_assessment_batch",
        title="Get items to judge",
        hints=READS,
        fit=Fit(shrink="responses", keep=("context",)),  # a smaller batch, never a shortened rubric
    )
    def next_assessment_batch_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        k: Annotated[int, Field(ge=1, le=200, description="How many items to return (at most)")] = 10,
        judge: JudgeArg = DEFAULT_AGENT,
        context_hash: Annotated[
            str | None,
            Field(description="The context_hash of your previous batch: the rubric and instructions are left out"),
        ] = None,
    ) -> AssessmentBatch:
        """Get items you have not judged yet, grouped by response, to judge YES/NO/NA (the rubric comes once)."""
        from base_model_selector.judging.agent_judge import next_assessment_batch

        return next_assessment_batch(open_study(study), model, k, judge=judge, context_hash=context_hash)

    @tool("record_assessments", title="Record your verdicts", hints=WRITES)
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
