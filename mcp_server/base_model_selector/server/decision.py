"""Steps 7–8 over MCP: decide, write the decision document, and evaluate (steps 3–8 in one call)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from base_model_selector.decision.decide import Decision  # steps 7–8: result types the tool schemas need
from base_model_selector.decision.report import DecisionDoc
from base_model_selector.decision.samples import Outcome, SampleSet
from base_model_selector.evaluate import EvaluateResult
from base_model_selector.server.common import (
    READS,
    REPLACES,
    WRITES,
    Fit,
    Hints,
    JudgeModeArg,
    ModelArg,
    StudyArg,
    ToolDecorator,
    open_study,
    progress_reporter,
)
from base_model_selector.study.directory import DEFAULT_STUDY_DIR


def register(tool: ToolDecorator) -> None:
    @tool(
        "show_samples",
        title="Show scenarios, responses and verdicts",
        hints=READS,
        fit=Fit(items="samples", key=("scenario_id",), limit=8),
    )
    def show_samples_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        outcome: Annotated[
            Outcome | None, Field(description="passed, failed, or unjudged (answered, not yet judged)")
        ] = None,
        criterion: Annotated[str | None, Field(description="Only responses that failed this criterion")] = None,
        topic: Annotated[str | None, Field(description="Only this taxonomy topic")] = None,
        subtopic: Annotated[str | None, Field(description="Only this subtopic")] = None,
        style: Annotated[str | None, Field(description="Only this style")] = None,
        edge_case: Annotated[str | None, Field(description="Only this edge case")] = None,
        judge_error: Annotated[bool | None, Field(description="Only responses with an ERROR verdict")] = None,
        truncated: Annotated[bool | None, Field(description="Only responses cut at num_predict")] = None,
        search: Annotated[str | None, Field(max_length=200, description="Text in the scenario or response")] = None,
        detail: Annotated[bool, Field(description="Full texts and every verdict (larger result)")] = False,
    ) -> SampleSet:
        """Show scenarios with the model's responses and the judge's verdicts, filtered and paged (texts capped)."""
        from base_model_selector.decision.samples import SampleFilter, show_samples

        filters = SampleFilter(
            outcome=outcome,
            criterion=criterion,
            topic=topic,
            subtopic=subtopic,
            style=style,
            edge_case=edge_case,
            judge_error=judge_error,
            truncated=truncated,
            search=search,
        )
        s = open_study(study)
        return show_samples(s, model, filters, max_chars=None if detail else 1_200, all_verdicts=detail)

    @tool(
        "decide",
        title="Decide",
        hints=WRITES,
        fit=Fit(
            brief=(
                "failures.criteria.examples",
                "failures.criteria.recurring_phrases",
                "failures.criteria.question",
                "failures.groups",
                "judge.agreements.by_criterion",
            )
        ),
    )
    def decide_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        judge: JudgeModeArg = None,
    ) -> Decision:
        """Decide from the assessments: pass rate with its Wilson 95% interval, the band, and the failure analysis."""
        from base_model_selector.decision.decide import decide

        return decide(open_study(study), model, judge=judge)

    @tool("write_decision_doc", title="Write the decision document", hints=REPLACES)
    def write_decision_doc_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        qualitative_notes: Annotated[
            str | None,
            Field(max_length=50_000, description="What reading the responses showed (Markdown); saved to notes.md"),
        ] = None,
        failure_patterns: Annotated[
            dict[str, str] | None,
            Field(description="Criterion ID → the pattern behind its failures, e.g. {'CQ1': '...'}; saved to notes.md"),
        ] = None,
        next_steps: Annotated[
            str | None, Field(max_length=50_000, description="The team's next steps (Markdown); saved to notes.md")
        ] = None,
        path: Annotated[
            str | None, Field(description="Document path inside the study; default: docs_path in study.yaml")
        ] = None,
        html: Annotated[bool, Field(description="Also write an HTML copy next to the Markdown")] = False,
    ) -> DecisionDoc:
        """Write the decision document from the decision and your notes (never invented); its structure is checked."""
        from base_model_selector.decision.report import write_decision_doc

        return write_decision_doc(
            open_study(study),
            model,
            path=path,
            qualitative_notes=qualitative_notes,
            failure_patterns=failure_patterns,
            next_steps=next_steps,
            html=html,
        )

    @tool("evaluate", title="Evaluate steps 3–8", hints=Hints(read_only=False, open_world=True))
    async def evaluate_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        html: Annotated[bool, Field(description="Also write an HTML copy of the document")] = False,
    ) -> EvaluateResult:
        """Run steps 3–8 for a prepared study: pull, check, scenarios, baseline, assess, decide, write the document."""
        from base_model_selector.evaluate import evaluate

        return await evaluate(open_study(study), model, html=html, progress=progress_reporter(ctx))
