"""The study's own tools: create it, set its keys, and where it stands."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from base_model_selector.server.common import (
    READS,
    REPLACES,
    Hints,
    JudgeModeArg,
    ModelArg,
    StudyArg,
    ToolDecorator,
    open_study,
)
from base_model_selector.status import StudyStatus, study_status
from base_model_selector.study.config import BackendKind
from base_model_selector.study.directory import DEFAULT_STUDY_DIR, Configured, configure_study, init_study


def register(tool: ToolDecorator) -> None:
    @tool("init_study", title="Create a study", hints=Hints(read_only=False))
    def init_study_tool(
        study: StudyArg,
        domain: Annotated[
            str | None, Field(description="What the model must be good at, e.g. 'customer support' (or use example)")
        ] = None,
        example: Annotated[
            str | None,
            Field(
                description="Start from an example study (its taxonomy, rubric and prompt): customer-support, "
                "empathetic-coaching or sql-analyst"
            ),
        ] = None,
        use_case: Annotated[str | None, Field(description="What the product does and for whom")] = None,
        size_min_b: Annotated[
            float | None, Field(ge=0, description="Smallest size, billions of parameters (7)")
        ] = None,
        size_max_b: Annotated[
            float | None, Field(gt=0, description="Largest size, billions of parameters (10)")
        ] = None,
        commercial_use: Annotated[
            bool | None, Field(description="Must the licence allow commercial use? (true)")
        ] = None,
        system_prompt: Annotated[str | None, Field(description="The product's system prompt")] = None,
        max_turns: Annotated[int | None, Field(ge=1, le=1000, description="Longest conversation, in turns (1)")] = None,
        tokens_per_message: Annotated[
            int | None, Field(ge=1, le=100_000, description="Typical tokens per message (200)")
        ] = None,
        judge_mode: JudgeModeArg = None,
        judge_model: Annotated[str | None, Field(description="Judge model tag; unset: the candidate (warned)")] = None,
        backend_kind: Annotated[
            BackendKind | None,
            Field(description="Model server kind: ollama, openai, or llamacpp (a GGUF run in-process)"),
        ] = None,
        hosts: Annotated[
            list[str] | None, Field(description="Model server URLs; default $OLLAMA_HOST or 127.0.0.1:11434")
        ] = None,
        parallel: Annotated[
            int | None, Field(ge=1, le=256, description="Requests in flight per host (OLLAMA_NUM_PARALLEL) (1)")
        ] = None,
        n_scenarios: Annotated[int | None, Field(ge=1, le=2000, description="How many scenarios (50)")] = None,
        settings: Annotated[
            dict[str, Any] | None,
            Field(description="Any other study.yaml key by its dotted name, e.g. {'generation.num_ctx': 8192}"),
        ] = None,
    ) -> StudyStatus:
        """Create a study directory with a commented study.yaml (never overwrites one), then report its status."""
        init_study(
            study,
            domain=domain,
            example=example,
            use_case=use_case,
            size_min=size_min_b,
            size_max=size_max_b,
            commercial_use=commercial_use,
            system_prompt=system_prompt,
            max_turns=max_turns,
            tokens_per_message=tokens_per_message,
            judge_mode=judge_mode,
            judge_model=judge_model,
            backend_kind=backend_kind,
            hosts=hosts,
            parallel=parallel,
            n_scenarios=n_scenarios,
            settings=settings,
        )
        return study_status(open_study(study))

    @tool("configure_study", title="Set study.yaml keys", hints=REPLACES)
    def configure_study_tool(
        settings: Annotated[
            dict[str, Any],
            Field(
                min_length=1,
                description="study.yaml keys by dotted name → value, e.g. {'judge.model': 'llama3.1:8b', "
                "'backend.parallel': 4, 'scenarios.n': 30}; validated like the file, comments kept",
            ),
        ],
        study: StudyArg = DEFAULT_STUDY_DIR,
    ) -> Configured:
        """Set any study.yaml key (validated by the study schema; the file's comments are kept)."""
        return configure_study(study, settings)

    @tool("study_status", title="Study status", hints=READS)
    def study_status_tool(study: StudyArg = DEFAULT_STUDY_DIR, model: ModelArg = None) -> StudyStatus:
        """Show which of the eight steps are done, pending or stale, and the exact tool to call next."""
        return study_status(open_study(study), model)
