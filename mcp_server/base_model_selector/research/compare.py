"""Step 2a: the comparison table — every candidate ranked, with each column's points and the reasons behind them.

A person chooses the model to test from this table, so it must show what a fine-tuning decision turns on and
hand-made tables omit: domain fit from the model's sourced traits, and in their own columns the licence, base
weights, architecture, context fit and whether Ollama can pull it, combined into one overall score whose formula
is printed above the table (`ranking.py`); community signals and known issues; models just outside the size
range; and where each fact came from. The stars are computed (`fit.domain_fit`); a person or agent who disagrees
overrides them with a justification, stored in research/fit-overrides.json and shown beside the computed stars —
the override feeds the overall score and the ranking, the computed reasons stay.

Everything goes to comparison.md (rendered by `templates/comparison_table.md.j2`) and comparison.json, which
`select_model` reads. The result handed back to an agent is compact: the ranked table without the per-model
detail sections, whose full text is in comparison.md. Text from the web or user files is escaped before rendering.
"""

from __future__ import annotations

from base_model_selector.research import comparison_md
from base_model_selector.research.candidates import CandidateSet, read_candidates
from base_model_selector.research.fit import FitOverride, stars_text
from base_model_selector.research.table import (
    ComparisonRow,
    ComparisonTable,
    OverrideFile,
    OverrideRequest,
    table_of,
)
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError, Fix, StepNotReady, cli_command

__all__ = [
    "ComparisonRow",
    "ComparisonTable",
    "OverrideRequest",
    "build_comparison_table",
    "read_table",
    "stars_text",
    "table_of",
]


def _resolve_overrides(study: Study, cands: CandidateSet, requests: list[OverrideRequest]) -> dict[str, FitOverride]:
    path = study.paths.fit_overrides
    stored = study.read_json(path, OverrideFile) or OverrideFile()
    merged = dict(stored.overrides)
    for index, req in enumerate(requests):
        cand = cands.get(req.candidate)
        if cand is None:
            known = ", ".join(c.id for c in [*cands.candidates, *cands.near_range])
            raise ConfigError(
                f"overrides[{index}]: unknown candidate {req.candidate!r}; use one of: {known} "
                "(add a new one first with research_candidates add=[...])"
            )
        merged[cand.id] = FitOverride(stars=req.stars, justification=req.justification, by=req.by)
    if requests:
        with study.locked("recording fit overrides"):
            study.write_json(path, OverrideFile(overrides=merged))
    return merged


def build_comparison_table(study: Study, overrides: list[OverrideRequest] | None = None) -> ComparisonTable:
    """Rank every candidate into comparison.md / comparison.json, applying recorded fit overrides.

    Returns the table with a compact `markdown` (the ranked tables and notes); the file has the detail too.
    """
    cands = read_candidates(study)
    if cands is None:
        raise StepNotReady(
            f"{study.paths.candidates}: no candidates yet; research them first",
            Fix("research_candidates", cli_command(study.root, "research"), {"study": str(study.root)}),
        )
    chosen = _resolve_overrides(study, cands, overrides or [])
    table = table_of(
        cands, chosen, markdown_path=str(study.paths.comparison_md), json_path=str(study.paths.comparison_json)
    )
    full = comparison_md.render(study, table, cands, detail=True)
    with study.locked("writing the comparison table"):
        study.write_json(study.paths.comparison_json, table.model_dump(mode="json", exclude={"markdown"}))
        study.write_text(study.paths.comparison_md, full)
    return table.model_copy(update={"markdown": comparison_md.render(study, table, cands, detail=False)})


def read_table(study: Study) -> ComparisonTable | None:
    return study.read_json(study.paths.comparison_json, ComparisonTable)
