"""Write taxonomy.yaml from structured arguments, for an agent that has no file tools.

The file stays the person's: it is written as commented YAML they can read and edit, and it is validated by
the same loader that reads it back (`load_taxonomy`'s model and checks), so a taxonomy the tool writes always
loads. The result says what the plan would cover with the study's `scenarios.n`, the question a person asks
next ("is 50 scenarios enough for this?").
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from base_model_selector.scenarios.plan import Coverage, make_plan
from base_model_selector.scenarios.taxonomy import Taxonomy
from base_model_selector.study.directory import Study
from base_model_selector.study.yamlfile import commented_yaml, validate_yaml_text

HEADER = """\
# taxonomy.yaml — the inputs this product will meet (step 4). The scenario plan covers every topic, style and
# edge case in proportion to the weights (relative: any positive numbers). Edit freely; plan_scenarios (CLI
# `plan`) re-validates it and re-plans when it changes.
"""

SECTIONS: dict[str, str] = {
    "description": "Who the users are, in a sentence or two.",
    "topics": "What users bring: each topic with its subtopics and how real users phrase them (examples).",
    "styles": "How they write; the scenarios are spread across these.",
    "edge_cases": "Inputs that must be represented (ambiguous, very long, another language, off-topic, ...).",
    "edge_case_share": "Share of the scenarios that are edge cases.",
    "personas": "Who writes (optional): each scenario is written as one of them.",
}


class TaxonomyWritten(BaseModel):
    """What write_taxonomy wrote, and what a plan with the study's n would cover."""

    path: str
    topics: int
    subtopics: int
    styles: list[str]
    edge_cases: list[str]
    edge_case_share: float
    personas: int
    n: int = Field(description="scenarios.n in study.yaml, the plan size the coverage is for")
    coverage: Coverage
    warnings: list[str] = Field(default_factory=list)
    next_action: str

    def summary(self) -> str:
        c = self.coverage
        lines = [
            f"Wrote {self.path}: {self.topics} topics ({self.subtopics} subtopics), styles {', '.join(self.styles)}, "
            f"{len(self.edge_cases)} edge cases at {self.edge_case_share:.0%}, {self.personas} personas.",
            f"A plan of n={self.n} covers {c.cells_covered}/{c.cells_total} cells, topics {c.topics[0]}/{c.topics[1]},"
            f" edge cases {c.edge_cases[0]}/{c.edge_cases[1]}; n={c.n_to_cover_all} would cover every cell.",
        ]
        lines += [f"Warning: {w}" for w in self.warnings]
        lines.append(f"Next: {self.next_action}")
        return "\n".join(lines)


def write_taxonomy(study: Study, data: dict[str, Any]) -> TaxonomyWritten:
    """Validate `data` exactly as taxonomy.yaml is loaded, write it as commented YAML, report the coverage."""
    path = study.paths.taxonomy_yaml
    text = commented_yaml(HEADER, SECTIONS, data)
    taxonomy = validate_yaml_text(text, Taxonomy, name=str(path))
    n, seed = study.config.scenarios.n, study.config.scenarios.seed
    plan = make_plan(taxonomy, n, seed)
    with study.locked("writing taxonomy.yaml"):
        study.write_text(path, text)
    return TaxonomyWritten(
        path=str(path),
        topics=len(taxonomy.topics),
        subtopics=sum(len(t.subtopics) for t in taxonomy.topics),
        styles=[s.name for s in taxonomy.styles],
        edge_cases=[e.name for e in taxonomy.edge_cases],
        edge_case_share=taxonomy.share,
        personas=len(taxonomy.personas),
        n=n,
        coverage=plan.coverage,
        warnings=plan.warnings,
        next_action="plan the scenarios (MCP plan_scenarios, CLI `plan`), then generate or add them",
    )
