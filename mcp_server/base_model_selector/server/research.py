"""Steps 1–2 over MCP: web search, research candidates, the comparison table, select."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from base_model_selector.research.candidates import CandidateSet
from base_model_selector.research.catalog import CatalogModel  # steps 1–2: types the tool schemas need at registration
from base_model_selector.research.compare import ComparisonTable, OverrideRequest
from base_model_selector.research.search import Searcher, SearchReport
from base_model_selector.research.selection import Choice, SelectionResult
from base_model_selector.server.common import (
    REPLACES,
    WRITES,
    Fit,
    Hints,
    StudyArg,
    ToolDecorator,
    open_study,
    progress_reporter,
)
from base_model_selector.server.results import DetailArg, ItemIdArg
from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Study


def register(tool: ToolDecorator, *, searcher: Searcher | None = None) -> None:
    def web_search(s: Study) -> Any:
        from base_model_selector.research.search import WebSearch

        return WebSearch(s.config.research, s.paths.search_cache, searcher=searcher)

    @tool(
        "search_web",
        title="Search the web for candidate models",
        hints=Hints(read_only=False, open_world=True),
        fit=Fit(items="results", key=("url",), brief=("results.page_text",)),
    )
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

    @tool(
        "research_candidates",
        title="Research candidate models",
        hints=Hints(read_only=False, open_world=True),
        fit=Fit(
            items="candidates",
            key=("id", "model.name"),
            brief=(
                "candidates.model.facts",
                "candidates.evidence",
                "candidates.fit.reasons",
                "candidates.context.note",
                "candidates.model.gguf",
                "candidates.model.architecture_note",
                "candidates.model.base_weights_note",
                "near_range",  # named in the summary; in full with detail=true
                "ranking_notes",
                "search.results",
            ),
            limit=5,
        ),
    )
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
        detail: DetailArg = False,
        id: ItemIdArg = None,
    ) -> CandidateSet:
        """List every viable candidate for the study with domain fit, context fit, flags and web evidence."""
        from base_model_selector.research.candidates import research_candidates

        s = open_study(study)
        result = await research_candidates(
            s,
            add=add,
            search=search,
            size_min_b=size_min_b,
            size_max_b=size_max_b,
            web=web_search(s),
            progress=progress_reporter(ctx),
        )
        return result if detail or id else result.compact()

    @tool(
        "build_comparison_table",
        title="Build the comparison table",
        hints=WRITES,
        fit=Fit(
            items="rows",
            key=("id", "model", "ollama_tag"),
            brief=("markdown", "rows.evidence", "rows.sources", "near_range"),
            limit=5,
        ),
    )
    def build_comparison_table_tool(
        study: StudyArg = DEFAULT_STUDY_DIR,
        overrides: Annotated[
            list[OverrideRequest] | None,
            Field(description="Domain-fit ratings to override, each with stars and a justification (recorded)"),
        ] = None,
        detail: DetailArg = False,
        id: ItemIdArg = None,
    ) -> ComparisonTable:
        """Build the comparison table of all candidates (Markdown and rows), applying recorded fit overrides."""
        from base_model_selector.research.compare import build_comparison_table

        table = build_comparison_table(open_study(study), overrides)
        return table if detail or id else table.compact()

    @tool("select_model", title="Select the primary and backup models", hints=REPLACES)
    def select_model_tool(
        primary: Annotated[Choice, Field(description="The model to test first, from the comparison table")],
        backup: Annotated[Choice | None, Field(description="The model to test if the primary fails")] = None,
        study: StudyArg = DEFAULT_STUDY_DIR,
    ) -> SelectionResult:
        """Record the primary and backup models with rationale, expected strengths and concerns."""
        from base_model_selector.research.selection import select_model

        return select_model(open_study(study), primary, backup)
