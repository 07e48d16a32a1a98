"""The comparison table's types and how a candidate set becomes ranked rows, in memory.

`compare.build_comparison_table` writes the table; this module only shapes it: one `ComparisonRow` per candidate
with its scored columns (`ranking.py`), the models just outside the size range, the ranking notes, and fit
overrides applied (an override's stars feed the overall score and may reorder the ranking; the computed stars and
reasons stay on the row). Kept apart from the writing so the research summary and the Markdown rendering can use
the types without importing the step that writes files.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from base_model_selector.research.candidates import Candidate, CandidateSet, Excluded, short_reason
from base_model_selector.research.catalog import KnownIssue, plain_name
from base_model_selector.research.evidence import EvidenceRef
from base_model_selector.research.fit import ContextFit, FitOverride
from base_model_selector.research.profiles import tokens
from base_model_selector.research.ranking import FORMULA, TIE_BREAKS, Column, Score, default_tag, rank, score
from base_model_selector.research.search import UNTRUSTED_NOTICE, size_phrase
from base_model_selector.research.sources import is_primary, urls_in
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import utc_now


class OverrideRequest(BaseModel):
    """A disagreement with a computed rating: the stars it should have and why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    candidate: str = Field(min_length=1, description="Candidate id, name or Ollama tag from the table")
    stars: int = Field(ge=1, le=5)
    justification: str = Field(min_length=3, max_length=2000, description="Why; shown in the table")
    by: str = Field(default="agent", max_length=100, description="Who overrides: 'agent' or a person's name")

    @classmethod
    def parse(cls, text: str, by: str) -> OverrideRequest:
        """`CANDIDATE=STARS:JUSTIFICATION` (the CLI's --override), or one ConfigError saying what is wrong."""
        candidate, _, rest = text.partition("=")
        stars, _, why = rest.partition(":")
        shown = f"--override {text!r}"
        if not (candidate.strip() and stars.strip() and why.strip()):
            raise ConfigError(f"{shown}: expected CANDIDATE=STARS:JUSTIFICATION, e.g. 'qwen3-8b=4:warm in pilots'")
        if not stars.strip().isdigit() or not 1 <= int(stars) <= 5:
            raise ConfigError(f"{shown}: stars must be a whole number from 1 to 5, not {stars.strip()!r}")
        try:
            return cls(candidate=candidate, stars=int(stars), justification=why, by=by)
        except ValidationError as err:
            problem = err.errors()[0]
            field = ".".join(str(p) for p in problem["loc"])
            raise ConfigError(f"{shown}: {field}: {problem['msg']}") from None


class OverrideFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    updated_at: str = Field(default_factory=utc_now)
    overrides: dict[str, FitOverride] = Field(default_factory=dict)


class ComparisonRow(BaseModel):
    id: str
    rank: int | None = Field(default=None, description="1 = first pick; None for models just outside the range")
    model: str
    family: str = ""
    origin: str
    params: str
    params_b: float
    license: str
    commercial_use: str
    license_conditions: list[str]
    context: str
    context_tokens: int | None
    release: str
    stars: int = Field(description="Domain fit shown: the override's stars, else the computed stars")
    computed_stars: int
    fit_reasons: list[str]
    override: FitOverride | None = None
    overall: int = Field(description="The overall score: domain fit plus the column points (see `formula`)")
    columns: dict[str, Column] = Field(description="licence, base_weights, architecture, context, pull")
    evidence_fields: int = Field(description="Fields backed by a primary verified fact")
    traits: list[str] = Field(default_factory=list)
    community: str = ""
    known_issues: list[KnownIssue] = Field(default_factory=list)
    notes: str
    flags: list[str]
    ollama_tag: str | None
    ollama_tags: list[str]
    base_weights: str
    base_weights_note: str
    architecture: str
    context_fit: ContextFit | None = Field(default=None, description="None in the compact result")
    sources: list[str] = Field(description="Primary sources cited: the publisher's pages and the Ollama library")
    secondary_sources: list[str] = Field(default_factory=list, description="Other pages cited; never evidence")
    evidence: list[EvidenceRef] = Field(default_factory=list)


class ComparisonTable(BaseModel):
    """comparison.json (without `markdown`) and the result of build_comparison_table."""

    domain: str
    profile: str
    profile_title: str
    size: str
    commercial_use: bool
    catalog_as_of: str = ""
    considered: int = 0
    built_at: str = Field(default_factory=utc_now)
    formula: str = FORMULA
    tie_breaks: str = TIE_BREAKS
    rows: list[ComparisonRow]
    near_range: list[ComparisonRow] = Field(default_factory=list, description="Up to 10 % outside the size range")
    excluded: list[Excluded] = Field(default_factory=list)
    ranking_notes: list[str] = Field(default_factory=list)
    suggested_searches: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    markdown: str = Field(default="", description="The ranked table; the per-model detail is in comparison.md")
    markdown_path: str = ""
    json_path: str = ""
    notice: str = UNTRUSTED_NOTICE

    def get(self, key: str) -> ComparisonRow | None:
        """The row (in range or just outside it) with this id, name or Ollama tag."""
        low = key.strip().lower().removesuffix(":latest")
        for row in [*self.rows, *self.near_range]:
            names = {row.id, row.model.lower(), plain_name(row.model).lower()}
            names |= {t.lower().removesuffix(":latest") for t in row.ollama_tags}
            if low in names:
                return row
        return None

    def compact(self) -> ComparisonTable:
        """What an agent receives: the ranked rows without sources, flags, notes on base weights, web mentions and
        quoted reasons.

        comparison.md and comparison.json keep all of it (their paths are in the result); the ranking notes are in
        the returned Markdown.
        """

        def slim(row: ComparisonRow) -> ComparisonRow:
            reasons = [short_reason(r) for r in row.fit_reasons]
            empty: dict[str, object] = {
                "sources": [],
                "secondary_sources": [],
                "evidence": [],
                "known_issues": [],
                "flags": [],
                "base_weights_note": "",
            }
            return row.model_copy(update={"fit_reasons": reasons, "context_fit": None, **empty})

        return self.model_copy(
            update={
                "rows": [slim(r) for r in self.rows],
                "near_range": [slim(r) for r in self.near_range],
                "ranking_notes": [],
            }
        )

    def summary(self) -> str:
        """Where the full table is, then the ranked table (an agent's result keeps its top rows), then what next."""
        return (
            f"Full table with every row's detail (reasons with sources, flags, known issues, web mentions): "
            f"{self.markdown_path}; rows: {self.json_path}\n\n{self.markdown}\nNext: select_model (CLI: select)."
        )


def _params(c: Candidate) -> str:
    m = c.model
    return f"{m.params_b:g}B" + (f" ({m.active_params_b:g}B active)" if m.active_params_b else "")


def _sources(c: Candidate, *, primary: bool) -> list[str]:
    """Every URL the model's facts cite, primary ones (publisher, Ollama library) or the others."""
    urls = dict.fromkeys(u for f in c.model.facts for u in urls_in(f.source))
    return [u for u in urls if is_primary(u) == primary]


def _notes(c: Candidate, override: FitOverride | None) -> str:
    """The short Notes of a row: what needs attention, in words (the columns hold the points)."""
    m, ctx = c.model, c.context
    notes = []
    if m.commercial_use == "conditional":
        notes.append("licence conditions")
    elif m.commercial_use == "no":
        notes.append("non-commercial licence")
    if m.base_weights == "no":
        notes.append("no base weights")
    elif m.base_weights == "unknown":
        notes.append("base weights unconfirmed")
    if m.architecture != "dense":
        notes.append(f"{m.architecture}: check training stack")
    if ctx.fits_native is False:
        notes.append(f"context too short for {tokens(ctx.longest_input_tokens)}")
    elif not ctx.fits_default:
        notes.append(f"num_ctx={ctx.num_ctx}")
    if not m.ollama_tags:
        notes.append("no Ollama tag")
    if m.known_issues:
        notes.append(f"{len(m.known_issues)} known issues")
    if c.origin != "catalog":
        notes.append(c.origin)
    if override is not None:
        notes.append(f"fit overridden by {override.by or 'someone'}")
    if c.evidence:
        notes.append(f"{len(c.evidence)} web mentions")
    return "; ".join(notes) or "—"


def row_of(c: Candidate, override: FitOverride | None, s: Score, rank_: int | None) -> ComparisonRow:
    m = c.model
    return ComparisonRow(
        id=m.id,
        rank=rank_,
        model=m.name,
        family=m.family,
        origin=c.origin,
        params=_params(c),
        params_b=m.params_b,
        license=m.license,
        commercial_use=m.commercial_use,
        license_conditions=m.license_conditions,
        context=tokens(m.context_tokens) if m.context_tokens else "unknown",
        context_tokens=m.context_tokens,
        release=m.released or "unknown",
        stars=s.fit,
        computed_stars=c.fit.stars,
        fit_reasons=c.fit.reasons,
        override=override,
        overall=s.overall,
        columns={
            "licence": s.licence,
            "base_weights": s.base_weights,
            "architecture": s.architecture,
            "context": s.context,
            "pull": s.pull,
        },
        evidence_fields=s.evidence,
        traits=list(m.traits),
        community=s.community,
        known_issues=m.known_issues,
        notes=_notes(c, override),
        flags=c.flags,
        ollama_tag=default_tag(m),
        ollama_tags=m.ollama_tags,
        base_weights=m.base_weights,
        base_weights_note=m.base_weights_note,
        architecture=m.architecture,
        context_fit=c.context,
        sources=_sources(c, primary=True),
        secondary_sources=_sources(c, primary=False),
        evidence=c.evidence,
    )


def _ranked_rows(
    cands: CandidateSet, group: list[Candidate], chosen: dict[str, FitOverride], numbered: bool
) -> tuple[list[ComparisonRow], list[str]]:
    """Rows of one group, re-scored with any override's stars and ranked (overrides may reorder)."""

    def rescored(c: Candidate) -> tuple[Candidate, Score]:
        override = chosen.get(c.id)
        stars = override.stars if override else c.fit.stars
        if stars == c.score.fit:
            return c, c.score
        new = score(
            c.model,
            stars,
            c.context,
            need_commercial=cands.commercial_use,
            allow_gguf_import=cands.allow_gguf_import,
        )
        return c, new

    ordered, notes = rank(
        [rescored(c) for c in group],
        lambda pair: pair[1],
        lambda pair: plain_name(pair[0].model.name),
        allow_gguf_import=cands.allow_gguf_import,
    )
    rows = [row_of(c, chosen.get(c.id), s, i if numbered else None) for i, (c, s) in enumerate(ordered, 1)]
    return rows, notes


def table_of(cands: CandidateSet, chosen: dict[str, FitOverride] | None = None, **paths: str) -> ComparisonTable:
    """The ranked table of a candidate set (with fit overrides), in memory: nothing is written."""
    chosen = chosen or {}
    rows, ranking_notes = _ranked_rows(cands, cands.candidates, chosen, numbered=True)
    near, _ = _ranked_rows(cands, cands.near_range, chosen, numbered=False)
    notes = list(cands.notes)
    stale = sorted(set(chosen) - {c.id for c in [*cands.candidates, *cands.near_range]})
    if stale:
        notes.append(f"fit overrides kept for models no longer among the candidates: {', '.join(stale)}")
    return ComparisonTable(
        domain=cands.domain,
        profile=cands.profile,
        profile_title=cands.profile_title,
        size=size_phrase(cands.size_min_b, cands.size_max_b),
        commercial_use=cands.commercial_use,
        catalog_as_of=cands.catalog_as_of,
        considered=cands.considered,
        rows=rows,
        near_range=near,
        excluded=cands.excluded,
        ranking_notes=ranking_notes,
        suggested_searches=cands.suggested_searches,
        notes=notes,
        **paths,
    )
