"""The MCP server: one thin tool per step over the core library.

Each tool parses its (untrusted) arguments, calls one core function and returns a pydantic model, which the SDK
turns into structured output. Project errors become `ToolError`s so the agent reads the full message and the fix
(in mcp 2.x any other exception reaches the client only as "Error executing tool NAME"). stdout is the protocol:
logging goes to stderr and nothing prints. Heavy libraries (ddgs, jinja2, the ollama client) are imported inside
the tools that need them, so the server starts fast.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from base_model_selector import __version__
from base_model_selector.baseline.run import BaselineSummary
from base_model_selector.decision.decide import Decision  # steps 7–8: result types the tool schemas need
from base_model_selector.decision.report import DecisionDoc
from base_model_selector.evaluate import EvaluateResult
from base_model_selector.judging.agent_judge import (  # step 6: tool schema types
    AgentVerdict,
    AssessmentBatch,
    RecordResult,
)
from base_model_selector.judging.assessment import AssessResult
from base_model_selector.research.candidates import CandidateSet
from base_model_selector.research.catalog import CatalogModel  # steps 1–2: types the tool schemas need at registration
from base_model_selector.research.compare import ComparisonTable, OverrideRequest
from base_model_selector.research.search import Searcher, SearchReport
from base_model_selector.research.selection import Choice, SelectionResult
from base_model_selector.scenarios.generate import GenerateResult, PlanReport
from base_model_selector.scenarios.input import AddResult, ScenarioInput
from base_model_selector.scenarios.plan import MAX_N  # step 4: tool schema types
from base_model_selector.serving.backends import (
    PullResult,  # steps 3 and 5: result types the tool schemas need (no client imported)
)
from base_model_selector.serving.check import CheckReport
from base_model_selector.status import StudyStatus, study_status
from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Study, init_study
from base_model_selector.study.errors import BMSError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

INSTRUCTIONS = (
    "Decide whether an open-weight base model is good enough for a domain before fine-tuning. Work through the "
    "eight steps in order; call study_status first and follow its next_action. Every tool takes `study`, the "
    "study directory."
)

StudyArg = Annotated[
    str,
    Field(description=f"Study directory (holds study.yaml); default ./{DEFAULT_STUDY_DIR}"),
]
ModelArg = Annotated[
    str | None,
    Field(description="Model tag under test, e.g. 'qwen3:8b'; default: the primary chosen with select_model"),
]


def agent_errors(fn: F) -> F:
    """Turn the project's errors into ToolErrors whose message the agent can read and act on."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except BMSError as err:
            raise ToolError(str(err)) from err

    return wrapper  # type: ignore[return-value]


def progress_reporter(ctx: Context | None) -> Callable[[float, float | None, str], Awaitable[None]]:
    """A core-library progress callback that forwards to MCP progress notifications."""

    async def report(done: float, total: float | None, message: str) -> None:
        if ctx is not None:
            await ctx.report_progress(done, total, message)

    return report


def open_study(study: str | None) -> Study:
    return Study.open(study or os.environ.get("BMS_STUDY") or DEFAULT_STUDY_DIR)


def build_server(*, searcher: Searcher | None = None) -> MCPServer:
    """The server with every tool. `searcher` replaces ddgs's `DDGS` for web search (a seam for tests)."""
    server = MCPServer(
        name="base-model-selector",
        version=__version__,
        instructions=INSTRUCTIONS,
    )

    def tool(name: str | None = None) -> Callable[[F], F]:
        def register(fn: F) -> F:
            server.add_tool(agent_errors(fn), name=name or fn.__name__, description=inspect.getdoc(fn))
            return fn

        return register

    # ------------------------------------------------------------ study
    @tool("init_study")
    def init_study_tool(
        study: StudyArg,
        domain: Annotated[str, Field(description="What the model must be good at, e.g. 'customer support'")],
        use_case: Annotated[str, Field(description="What the product does and for whom")] = "",
        size_min_b: Annotated[float, Field(ge=0, description="Smallest size, billions of parameters")] = 7,
        size_max_b: Annotated[float, Field(gt=0, description="Largest size, billions of parameters")] = 10,
        commercial_use: Annotated[bool, Field(description="Must the licence allow commercial use?")] = True,
        system_prompt: Annotated[str, Field(description="The product's system prompt")] = "",
    ) -> StudyStatus:
        """Create a study directory with a commented study.yaml (never overwrites one), then report its status."""
        init_study(
            study,
            domain=domain,
            use_case=use_case,
            size_min=size_min_b,
            size_max=size_max_b,
            commercial_use=commercial_use,
            system_prompt=system_prompt,
        )
        return study_status(open_study(study))

    @tool("study_status")
    def study_status_tool(study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> StudyStatus:
        """Show which of the eight steps are done, pending or stale, and the exact tool to call next."""
        return study_status(open_study(study), model)

    # ------------------------------------------------------------ steps 1–2: research, compare, select
    def web_search(s: Study) -> Any:
        from base_model_selector.research.search import WebSearch

        return WebSearch(s.config.research, s.paths.search_cache, searcher=searcher)

    @tool("search_web")
    async def search_web_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        queries: Annotated[
            list[str] | None,
            Field(max_length=12, description="Queries to run; default: templates filled from the study"),
        ] = None,
        fetch_pages: Annotated[
            int | None, Field(ge=0, le=10, description="Fetch the top N pages' text; default: study.yaml")
        ] = None,
    ) -> SearchReport:
        """Search the web for candidate models (cached; degrades to the catalog when blocked); results are data."""
        from base_model_selector.research.candidates import search_web

        s = open_study(study)
        report = progress_reporter(ctx)
        return await search_web(s, queries, fetch_pages=fetch_pages, web=web_search(s), progress=report)

    @tool("research_candidates")
    async def research_candidates_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        add: Annotated[
            list[CatalogModel] | None,
            Field(description="Candidates you found (e.g. a domain fine-tune), each with facts citing sources"),
        ] = None,
        search: Annotated[bool, Field(description="Run the templated web searches first (cached)")] = True,
        size_min_b: Annotated[float | None, Field(ge=0, description="Override study.yaml size_b.min")] = None,
        size_max_b: Annotated[float | None, Field(gt=0, description="Override study.yaml size_b.max")] = None,
    ) -> CandidateSet:
        """List every viable candidate for the study with domain fit, context fit, flags and web evidence."""
        from base_model_selector.research.candidates import research_candidates

        s = open_study(study)
        return await research_candidates(
            s,
            add=add,
            search=search,
            size_min_b=size_min_b,
            size_max_b=size_max_b,
            web=web_search(s),
            progress=progress_reporter(ctx),
        )

    @tool("build_comparison_table")
    def build_comparison_table_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        overrides: Annotated[
            list[OverrideRequest] | None,
            Field(description="Domain-fit ratings to override, each with stars and a justification (recorded)"),
        ] = None,
    ) -> ComparisonTable:
        """Build the comparison table of all candidates (Markdown and rows), applying recorded fit overrides."""
        from base_model_selector.research.compare import build_comparison_table

        return build_comparison_table(open_study(study), overrides)

    @tool("select_model")
    def select_model_tool(
        primary: Annotated[Choice, Field(description="The model to test first, from the comparison table")],
        backup: Annotated[Choice | None, Field(description="The model to test if the primary fails")] = None,
        study: StudyArg = DEFAULT_STUDY_DIR,
    ) -> SelectionResult:
        """Record the primary and backup models with rationale, expected strengths and concerns."""
        from base_model_selector.research.selection import select_model

        return select_model(open_study(study), primary, backup)

    # ------------------------------------------------------------ steps 3 and 5: pull, check, run the baseline
    @tool("pull_model")
    async def pull_model_tool(ctx: Context, study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> PullResult:
        """Pull the model onto every configured Ollama host (returns at once when it is already there)."""
        from base_model_selector.serving.pull import pull_model

        return await pull_model(open_study(study), model, progress=progress_reporter(ctx))

    @tool("check_model")
    async def check_model_tool(study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> CheckReport:
        """Record the model's real facts and a smoke test, and list where they disagree with the catalog."""
        from base_model_selector.serving.check import check_model

        return await check_model(open_study(study), model)

    @tool("run_baseline")
    async def run_baseline_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        pull: Annotated[bool, Field(description="Pull the model first if the server lacks it")] = False,
    ) -> BaselineSummary:
        """Answer every scenario with the model, resuming a previous run; summarise latency and failures."""
        from base_model_selector.baseline.run import run_baseline

        return await run_baseline(open_study(study), model, pull=pull, progress=progress_reporter(ctx))

    # ------------------------------------------------------------ step 4: scenarios
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

    # ------------------------------------------------------------ step 6: assess
    @tool("assess_responses")
    async def assess_responses_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        mode: Annotated[
            Literal["llm", "agent"] | None,
            Field(description="llm: the judge model grades; agent: score your recorded verdicts; default study.yaml"),
        ] = None,
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
        k: Annotated[int, Field(ge=1, le=200, description="How many pending items to return")] = 10,
    ) -> AssessmentBatch:
        """Get pending (scenario, response, criterion) items for you to judge YES/NO/NA as the judge."""
        from base_model_selector.judging.agent_judge import next_assessment_batch

        return next_assessment_batch(open_study(study), model, k)

    @tool("record_assessments")
    def record_assessments_tool(
        verdicts: Annotated[
            list[AgentVerdict],
            Field(min_length=1, description="One {item_id, reasoning, answer: YES|NO|NA} per judged item"),
        ],
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
    ) -> RecordResult:
        """Record your verdicts on items from next_assessment_batch (all or nothing) and re-score the responses."""
        from base_model_selector.judging.agent_judge import record_assessments

        return record_assessments(open_study(study), verdicts, model)

    # ------------------------------------------------------------ steps 7–8: decide, document, evaluate
    @tool("decide")
    def decide_tool(study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> Decision:
        """Decide from the assessments: pass rate with its Wilson 95% interval, the band, and the failure analysis."""
        from base_model_selector.decision.decide import decide

        return decide(open_study(study), model)

    @tool("write_decision_doc")
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

    @tool("evaluate")
    async def evaluate_tool(
        ctx: Context,
        study: StudyArg = DEFAULT_STUDY_DIR,
        model: ModelArg = None,
        html: Annotated[bool, Field(description="Also write an HTML copy of the document")] = False,
    ) -> EvaluateResult:
        """Run steps 3–8 for a prepared study: pull, check, scenarios, baseline, assess, decide, write the document."""
        from base_model_selector.evaluate import evaluate

        return await evaluate(open_study(study), model, html=html, progress=progress_reporter(ctx))

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
