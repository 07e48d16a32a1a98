"""The study's own tools: create it, and where it stands."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from base_model_selector.server.common import (
    ModelArg,
    StudyArg,
    ToolDecorator,
    open_study,
)
from base_model_selector.status import StudyStatus, study_status
from base_model_selector.study.directory import DEFAULT_STUDY_DIR, init_study


def register(tool: ToolDecorator) -> None:
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
