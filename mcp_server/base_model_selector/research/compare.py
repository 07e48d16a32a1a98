"""Step 2a: the comparison table — every candidate side by side, with the reasons behind each star.

A person chooses the model to test from this table, so it must show what a fine-tuning decision turns on and
hand-made tables omit: whether base weights exist, the licence's conditions, the architecture's training-stack
caveats, whether the conversations fit the context, and where each fact came from. The stars are computed
(`fit.domain_fit`); a person or agent who disagrees overrides them with a justification, which is stored in
research/fit-overrides.json and shown beside the computed stars, never in place of the reasons.

The table is rendered by `templates/comparison_table.md.j2` to comparison.md, and its rows go to
comparison.json, which `select_model` reads. Text from the web or user files is escaped before rendering.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from base_model_selector.research.candidates import Candidate, CandidateSet, Excluded, read_candidates
from base_model_selector.research.catalog import plain_name
from base_model_selector.research.evidence import EvidenceRef
from base_model_selector.research.fit import ContextFit, FitOverride, stars_text
from base_model_selector.research.profiles import tokens
from base_model_selector.research.search import UNTRUSTED_NOTICE, size_phrase
from base_model_selector.study import templating
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError, StepNotReady
from base_model_selector.study.types import utc_now
from base_model_selector.study.untrusted import md_inline, md_url

TEMPLATE = "comparison_table.md.j2"
_URL = re.compile(r"https?://[^\s;,<>\"')]+")


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
    model: str
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
    notes: str
    flags: list[str]
    ollama_tag: str | None
    ollama_tags: list[str]
    base_weights: str
    base_weights_note: str
    architecture: str
    context_fit: ContextFit
    sources: list[str]
    evidence: list[EvidenceRef] = Field(default_factory=list)


class ComparisonTable(BaseModel):
    """comparison.json (without `markdown`) and the result of build_comparison_table."""

    domain: str
    profile: str
    profile_title: str
    size: str
    commercial_use: bool
    built_at: str = Field(default_factory=utc_now)
    rows: list[ComparisonRow]
    excluded: list[Excluded] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    markdown: str = ""
    markdown_path: str = ""
    json_path: str = ""
    notice: str = UNTRUSTED_NOTICE

    def get(self, key: str) -> ComparisonRow | None:
        low = key.strip().lower().removesuffix(":latest")
        for row in self.rows:
            names = {row.id, row.model.lower(), plain_name(row.model).lower()}
            names |= {t.lower().removesuffix(":latest") for t in row.ollama_tags}
            if low in names:
                return row
        return None

    def summary(self) -> str:
        return f"{self.markdown}\nWritten: {self.markdown_path} and {self.json_path}\nNext: select_model (CLI: select)."


def _code(text: str) -> str:
    """A code span; backslash escapes do not work inside one, so drop the characters that would end it."""
    return "`" + re.sub(r"[`|\n\r]", "", text) + "`"


def _params(c: Candidate) -> str:
    m = c.model
    return f"{m.params_b:g}B" + (f" ({m.active_params_b:g}B active)" if m.active_params_b else "")


def _sources(c: Candidate) -> list[str]:
    urls = [u.rstrip(".") for f in c.model.facts if f.source for u in _URL.findall(f.source)]
    return list(dict.fromkeys(urls))


def _notes(c: Candidate, override: FitOverride | None) -> str:
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
    if c.origin != "catalog":
        notes.append(c.origin)
    if override is not None:
        notes.append(f"fit overridden by {override.by or 'someone'}")
    if c.evidence:
        notes.append(f"{len(c.evidence)} web mentions")
    return "; ".join(notes) or "—"


def row_of(c: Candidate, override: FitOverride | None) -> ComparisonRow:
    m = c.model
    return ComparisonRow(
        id=m.id,
        model=m.name,
        origin=c.origin,
        params=_params(c),
        params_b=m.params_b,
        license=m.license,
        commercial_use=m.commercial_use,
        license_conditions=m.license_conditions,
        context=tokens(m.context_tokens) if m.context_tokens else "unknown",
        context_tokens=m.context_tokens,
        release=m.released or "unknown",
        stars=override.stars if override else c.fit.stars,
        computed_stars=c.fit.stars,
        fit_reasons=c.fit.reasons,
        override=override,
        notes=_notes(c, override),
        flags=c.flags,
        ollama_tag=m.ollama_tags[0] if m.ollama_tags else None,
        ollama_tags=m.ollama_tags,
        base_weights=m.base_weights,
        base_weights_note=m.base_weights_note,
        architecture=m.architecture,
        context_fit=c.context,
        sources=_sources(c),
        evidence=c.evidence,
    )


def _resolve_overrides(study: Study, cands: CandidateSet, requests: list[OverrideRequest]) -> dict[str, FitOverride]:
    path = study.paths.fit_overrides
    stored = study.read_json(path, OverrideFile) or OverrideFile()
    merged = dict(stored.overrides)
    for index, req in enumerate(requests):
        cand = cands.get(req.candidate)
        if cand is None:
            known = ", ".join(c.id for c in cands.candidates)
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
    """Render every candidate into comparison.md / comparison.json, applying recorded fit overrides."""
    cands = read_candidates(study)
    if cands is None:
        raise StepNotReady(
            f"{study.paths.candidates}: no candidates yet; run research_candidates first "
            f"(CLI: base-model-selector --study {study.root} research)"
        )
    chosen = _resolve_overrides(study, cands, overrides or [])
    rows = [row_of(c, chosen.get(c.id)) for c in cands.candidates]
    rows.sort(key=lambda r: -r.stars)  # candidates come best-first; overrides may reorder
    notes = list(cands.notes)
    stale = sorted(set(chosen) - {c.id for c in cands.candidates})
    if stale:
        notes.append(f"fit overrides kept for models no longer among the candidates: {', '.join(stale)}")
    table = ComparisonTable(
        domain=cands.domain,
        profile=cands.profile,
        profile_title=cands.profile_title,
        size=size_phrase(cands.size_min_b, cands.size_max_b),
        commercial_use=cands.commercial_use,
        rows=rows,
        excluded=cands.excluded,
        notes=notes,
        markdown_path=str(study.paths.comparison_md),
        json_path=str(study.paths.comparison_json),
    )
    markdown = render_markdown(study, table, cands)
    with study.locked("writing the comparison table"):
        study.write_json(study.paths.comparison_json, table.model_dump(mode="json", exclude={"markdown"}))
        study.write_text(study.paths.comparison_md, markdown)
    return table.model_copy(update={"markdown": markdown})


def render_markdown(study: Study, table: ComparisonTable, cands: CandidateSet) -> str:
    """comparison.md from the template; every value that came from outside is escaped first."""
    e = md_inline
    rows = []
    for r in table.rows:
        star_cell = f"{stars_text(r.stars)} {r.stars}/5"
        if r.override:
            star_cell += f" (override; computed {r.computed_stars})"
        rows.append(
            {
                "anchor": r.id,
                "cells": [
                    e(r.model),
                    r.params,
                    e(r.license),
                    r.context,
                    r.release,
                    star_cell,
                    e(r.notes),
                    _code(r.ollama_tag) if r.ollama_tag else "—",
                    r.base_weights + (f" ({e(r.base_weights_note)})" if r.base_weights_note else ""),
                    {"yes": "yes", "conditional": "with conditions", "no": "no"}[r.commercial_use],
                    " ".join(f"[{i}]({md_url(u)})" for i, u in enumerate(r.sources[:3], 1))
                    + (f" +{len(r.sources) - 3}" if len(r.sources) > 3 else ""),
                ],
                "title": e(r.model),
                "stars": star_cell,
                "reasons": [e(x) for x in r.fit_reasons],
                "override": (
                    {"stars": r.override.stars, "by": e(r.override.by or "unnamed"), "why": e(r.override.justification)}
                    if r.override
                    else None
                ),
                "flags": [e(x) for x in r.flags],
                "conditions": [e(x) for x in r.license_conditions],
                "context_note": e(r.context_fit.note),
                "sources": [md_url(u) for u in r.sources],
                "evidence": [
                    {
                        "title": e(x.title),
                        "url": md_url(x.url),
                        "date": x.retrieved_at,
                        "excerpt": e(x.excerpt),
                        "matched": e(x.matched),
                        "flags": [e(f) for f in x.flags],
                    }
                    for x in r.evidence
                ],
            }
        )
    return templating.render(
        TEMPLATE,
        study.root,
        domain=e(table.domain),
        profile_title=table.profile_title,
        profile_note=e(cands.profile_note),
        size=table.size,
        commercial_use=table.commercial_use,
        longest_input=tokens(cands.longest_input_tokens),
        catalog_as_of=cands.catalog_as_of,
        built_at=table.built_at,
        rows=rows,
        excluded=[{"name": e(x.name), "reason": e(x.reason)} for x in table.excluded],
        notes=[e(n) for n in table.notes],
        notice=table.notice,
    )


def read_table(study: Study) -> ComparisonTable | None:
    return study.read_json(study.paths.comparison_json, ComparisonTable)
