"""Step 1: every viable candidate for the study, with its domain fit, scored columns, flags and web evidence.

The method insists research be exhaustive — every model in the size range that the licence allows, not the
familiar few — and that each claim can be traced. So the candidate set starts from the whole catalog (shipped,
plus the study's `catalog.yaml`, plus candidates the agent added with their sources), keeps each model's
sourced facts, scores it against the domain profile from its sourced traits, and ranks it by the overall score
(`ranking.py`). Nothing is dropped silently: a model the licence rules out is listed as excluded, and one up to
`NEAR_RANGE` (10 %) outside the size range is listed as "just outside the range" with its size. A catalog more
than three months old is called stale, with the searches to run (`freshness.py`). Web text is untrusted: it is
attached as quoted evidence and never changes a fact or a score.

Files: reads study.yaml, catalog.yaml, research/added-candidates.json, research/evidence.jsonl; writes
research/candidates.json (and appends search results to evidence.jsonl).
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from base_model_selector.research import catalog as catalog_mod
from base_model_selector.research.catalog import Catalog, CatalogModel, plain_name
from base_model_selector.research.evidence import EvidenceRef, mentions, read_evidence
from base_model_selector.research.fit import ContextFit, Fit, context_fit, domain_fit, stars_text
from base_model_selector.research.freshness import stale_note
from base_model_selector.research.profiles import ProfileMatch, resolve_profile
from base_model_selector.research.ranking import Score, rank, score
from base_model_selector.research.search import (
    UNTRUSTED_NOTICE,
    Progress,
    SearchReport,
    WebResult,
    WebSearch,
    clean_queries,
    size_phrase,
    templated_queries,
)
from base_model_selector.research.sources import non_primary_verified
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import utc_now

Origin = Literal["catalog", "study catalog", "added"]
NEAR_RANGE = 0.10
"""Models this share outside the size range are listed as "just outside the range", never dropped."""


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    origin: Origin
    model: CatalogModel
    fit: Fit
    context: ContextFit
    score: Score
    flags: list[str] = Field(default_factory=list, description="What a fine-tuning decision must not miss")
    evidence: list[EvidenceRef] = Field(default_factory=list)


class Excluded(BaseModel):
    id: str
    name: str
    reason: str


class CandidateSet(BaseModel):
    """research/candidates.json: the candidates of one study and how they were found."""

    model_config = ConfigDict(extra="forbid")

    domain: str
    profile: str
    profile_title: str
    profile_note: str = ""
    size_min_b: float
    size_max_b: float
    commercial_use: bool
    longest_input_tokens: int
    catalog_as_of: str
    researched_at: str = Field(default_factory=utc_now)
    considered: int = Field(default=0, description="Catalog models looked at (shipped, study catalog, added)")
    allow_gguf_import: bool = False
    candidates: list[Candidate] = Field(description="In range and allowed, ranked best first")
    near_range: list[Candidate] = Field(default_factory=list, description="Up to 10 % outside the size range")
    excluded: list[Excluded] = Field(default_factory=list)
    ranking_notes: list[str] = Field(default_factory=list, description="Every tie-break and first-row move")
    suggested_searches: list[str] = Field(default_factory=list, description="Set when the catalog is stale")
    search: SearchReport | None = None
    notes: list[str] = Field(default_factory=list)
    notice: str = UNTRUSTED_NOTICE

    def get(self, key: str) -> Candidate | None:
        low = key.strip().lower()
        for c in [*self.candidates, *self.near_range]:
            m = c.model
            names = {m.id, m.name.lower(), plain_name(m.name).lower(), *(t.lower() for t in m.ollama_tags)}
            if low in names or low.removesuffix(":latest") in names:
                return c
        return None

    def compact(self) -> CandidateSet:
        """What an agent receives: the ranking without each model's facts, web mentions and sourced reasons.

        research/candidates.json (and comparison.md once the table is built) keeps all of it; the note says so.
        """

        def slim(c: Candidate) -> Candidate:
            model = c.model.model_copy(update={"facts": [], "community": [], "known_issues": []})
            fit = c.fit.model_copy(update={"reasons": [short_reason(r) for r in c.fit.reasons]})
            return c.model_copy(update={"model": model, "fit": fit, "evidence": []})

        note = (
            "compact result: facts with sources, sourced fit reasons, known issues and web mentions are in "
            "research/candidates.json; build_comparison_table writes them to comparison.md"
        )
        return self.model_copy(
            update={
                "candidates": [slim(c) for c in self.candidates],
                "near_range": [slim(c) for c in self.near_range],
                "notes": [*self.notes, note],
            }
        )

    def summary(self) -> str:
        lines = [
            f"{len(self.candidates)} candidates for {self.domain!r} ({self.profile_title}), "
            f"{size_phrase(self.size_min_b, self.size_max_b)}"
            + (", commercial use" if self.commercial_use else "")
            + f"; catalog as of {self.catalog_as_of}."
        ]
        for i, c in enumerate(self.candidates, 1):
            lines.append(
                f"  {i}. {stars_text(c.fit.final_stars)} overall {c.score.overall} {c.model.name} "
                f"({c.model.params_b:g}B, {c.model.license})"
                + (f" — {'; '.join(c.flags[:2])}" if c.flags else "")
                + (f" — {len(c.evidence)} web mentions" if c.evidence else "")
            )
        lines += [f"  just outside the range: {c.model.name} ({c.model.params_b:g}B)" for c in self.near_range]
        lines += [f"  excluded: {e.name} — {e.reason}" for e in self.excluded]
        lines += [f"Note: {n}" for n in self.notes]
        if self.suggested_searches:
            lines.append("Search for newer releases: " + " | ".join(self.suggested_searches))
        lines.append("Next: build_comparison_table (CLI: table).")
        return "\n".join(lines)


# ---------------------------------------------------------------- the study's catalog
def study_catalog(study: Study) -> tuple[Catalog, dict[str, Origin]]:
    """The shipped catalog, overridden by the study's catalog.yaml, plus the candidates the agent added."""
    base = catalog_mod.shipped_catalog()
    models = list(base.models)
    origins: dict[str, Origin] = {m.id: "catalog" for m in models}
    for path, origin in ((study.paths.user_catalog, "study catalog"), (study.paths.added_candidates, "added")):
        if path.exists():
            entries = catalog_mod.load_user_entries(path)
            models = _merge(models, entries)
            origins.update({m.id: origin for m in entries})  # type: ignore[misc]
    return Catalog(as_of=base.as_of, models=models), origins


def _merge(models: list[CatalogModel], entries: list[CatalogModel]) -> list[CatalogModel]:
    by_id = {m.id: m for m in entries}
    merged = [by_id.pop(m.id, m) for m in models]
    return merged + [m for m in entries if m.id in by_id]


def add_candidates(study: Study, entries: list[CatalogModel]) -> list[str]:
    """Store candidates the agent found (facts with sources) in research/added-candidates.json, by id."""
    for index, entry in enumerate(entries):
        if not any(f.has_source for f in entry.facts):
            raise ConfigError(
                f"add[{index}] (id {entry.id!r}): needs at least one fact with a source, e.g. "
                "facts: [{field: license, claim: 'Apache-2.0', source: 'https://huggingface.co/<org>/<model>', "
                "status: verified}]; an unsourced candidate cannot be compared"
            )
    path = study.paths.added_candidates
    existing = catalog_mod.load_user_entries(path) if path.exists() else []
    merged = _merge(existing, entries)
    with study.locked("adding candidates"):
        study.write_json(path, {"models": [m.model_dump(mode="json") for m in merged]})
    return [m.id for m in entries]


# ---------------------------------------------------------------- assessing candidates
def _size_range(study: Study, size_min_b: float | None, size_max_b: float | None) -> tuple[float, float]:
    lo = study.config.size_b.min if size_min_b is None else size_min_b
    hi = study.config.size_b.max if size_max_b is None else size_max_b
    if lo < 0 or hi <= 0:
        raise ConfigError(f"size range {lo:g}–{hi:g}B: sizes are billions of parameters, min ≥ 0 and max > 0")
    if lo > hi:
        raise ConfigError(
            f"size range: size_min_b ({lo:g}) is larger than size_max_b ({hi:g}); swap them "
            f"(study.yaml size_b: min/max, or the tool's size_min_b/size_max_b)"
        )
    return lo, hi


def _assess(
    study: Study, catalog: Catalog, origins: dict[str, Origin], lo: float, hi: float
) -> tuple[ProfileMatch, list[Candidate], list[Candidate], list[Excluded], list[str]]:
    """Candidates (ranked), near-range models, exclusions and the ranking notes of one study."""
    cfg = study.config
    match = resolve_profile(cfg.domain)
    near_lo, near_hi = lo * (1 - NEAR_RANGE), hi * (1 + NEAR_RANGE)
    in_range = catalog.query(min_b=lo, max_b=hi)
    near = [m for m in catalog.query(min_b=near_lo, max_b=near_hi) if m not in in_range]
    allowed = [m for m in in_range if not (cfg.commercial_use and m.commercial_use == "no")]
    allowed += [m for m in catalog.models if origins.get(m.id) == "added" and m not in allowed]
    near = [m for m in near if m not in allowed]
    excluded = [Excluded(id=m.id, name=m.name, reason=_forbidden(m)) for m in in_range if m not in allowed]
    excluded += [
        Excluded(id=m.id, name=m.name, reason=f"{_outside(m, lo, hi)}, and {_forbidden(m)}")
        for m in near
        if cfg.commercial_use and m.commercial_use == "no"
    ]
    near = [m for m in near if not (cfg.commercial_use and m.commercial_use == "no")]

    def assess(m: CatalogModel) -> Candidate:
        fit = domain_fit(m, match.profile)
        ctx = context_fit(m, cfg.max_turns, cfg.tokens_per_message)
        return Candidate(
            id=m.id,
            origin=origins.get(m.id, "catalog"),
            model=m,
            fit=fit,
            context=ctx,
            score=score(
                m,
                fit.final_stars,
                ctx,
                need_commercial=cfg.commercial_use,
                allow_gguf_import=cfg.research.allow_gguf_import,
            ),
            flags=candidate_flags(m, ctx, lo, hi, cfg.commercial_use),
        )

    def ranked(models: list[CatalogModel]) -> tuple[list[Candidate], list[str]]:
        return rank(
            [assess(m) for m in models],
            lambda c: c.score,
            lambda c: plain_name(c.model.name),
            allow_gguf_import=cfg.research.allow_gguf_import,
        )

    candidates, notes = ranked(allowed)
    near_candidates, _ = ranked(near)
    return match, candidates, near_candidates, excluded, notes


def _outside(m: CatalogModel, lo: float, hi: float) -> str:
    """'14.8B is 6 % above the 7–14B range': how far outside, in words a reader can check."""
    edge, side = (lo, "below") if m.params_b < lo else (hi, "above")
    share = abs(m.params_b - edge) / edge * 100 if edge else 0.0
    return f"{m.params_b:g}B is {share:.0f} % {side} the {size_phrase(lo, hi)} range"


def short_reason(reason: str) -> str:
    """'+2 tuned for dialogue or role-play' from a sourced reason: the point without its quotation and URL."""
    return reason.split(" — ", 1)[0]


def candidate_flags(m: CatalogModel, ctx: ContextFit, lo: float, hi: float, commercial: bool) -> list[str]:
    """The facts a fine-tuning decision must not miss, as short warnings."""
    flags = []
    if m.commercial_use == "conditional":
        flags.append("licence conditions: " + ("; ".join(m.license_conditions) or m.license))
    elif m.commercial_use == "no":
        flags.append("licence forbids commercial use" + (" (the study needs it)" if commercial else ""))
    if m.base_weights == "no":
        flags.append("no base weights published" + (f" ({m.base_weights_note})" if m.base_weights_note else ""))
    elif m.base_weights == "unknown":
        flags.append("base weights not confirmed")
    if m.architecture != "dense":
        flags.append(f"{m.architecture} architecture: " + (m.architecture_note or "check training-stack support"))
    if ctx.fits_native is False or not ctx.fits_default:
        flags.append(ctx.note)
    if not m.ollama_tags:
        flags.append("no Ollama tag: import a GGUF with a Modelfile to run it")
    conflicts = sorted({f.field for f in m.facts if f.status == "conflict"})
    if conflicts:
        flags.append("sources disagree on: " + ", ".join(conflicts))
    if not lo <= m.params_b <= hi:
        near = lo * (1 - NEAR_RANGE) <= m.params_b <= hi * (1 + NEAR_RANGE)
        flags.append(("just outside the range: " if near else "outside the study's range: ") + _outside(m, lo, hi))
    loose = sorted({f.field for f in non_primary_verified(m)})
    if loose:
        flags.append("marked verified but cites non-primary sources (not counted as evidence): " + ", ".join(loose))
    if m.known_issues:
        flags.append(f"known issues: {len(m.known_issues)} (first: {m.known_issues[0].issue})")
    return flags


def attach_evidence(candidates: list[Candidate], results: list[WebResult]) -> list[Candidate]:
    """Each candidate with the web results that name it (its name or tag before its family)."""
    return [c.model_copy(update={"evidence": mentions(c.model, results)}) for c in candidates]


# ---------------------------------------------------------------- the two step-1 operations
def study_queries(study: Study, year: int) -> list[str]:
    """The issue's query templates filled from the study: size, year, domain, top families, capability."""
    catalog, origins = study_catalog(study)
    lo, hi = _size_range(study, None, None)
    match, candidates, _, _, _ = _assess(study, catalog, origins, lo, hi)
    families: dict[str, str] = {}  # one family per vendor, so each comparison query pits two vendors
    for c in candidates:
        family = plain_name(c.model.family)
        vendor = re.match(r"[a-z]*", family.lower())
        families.setdefault(vendor.group(0) if vendor else family, family)
    title = match.profile.title.lower().replace(" / ", " or ")
    capability = study.config.domain if match.profile.key == "general" else title
    return templated_queries(
        domain=study.config.domain,
        size=size_phrase(lo, hi),
        year=year,
        families=list(families.values()),
        capability=capability,
    )


async def search_web(
    study: Study,
    queries: list[str] | None = None,
    *,
    fetch_pages: int | None = None,
    web: WebSearch | None = None,
    progress: Progress | None = None,
) -> SearchReport:
    """Search the web (cached, with backoff; degrades to a note) and keep new results in evidence.jsonl."""
    web = web or WebSearch(study.config.research, study.paths.search_cache)
    wanted = clean_queries(queries) if queries else study_queries(study, web.clock().year)
    if not wanted:
        raise ConfigError("search_web: every query was empty; pass at least one non-empty query")
    report = await web.run(wanted, fetch_pages=fetch_pages, progress=progress)
    known = {r.url: r for r in read_evidence(study)[0]}
    fresh = [r for r in report.results if r.url not in known or (r.page_text and not known[r.url].page_text)]
    if fresh:
        async with study.locked_async("storing search results"):
            study.append(study.paths.evidence, fresh)
    return report


async def research_candidates(
    study: Study,
    *,
    add: list[CatalogModel] | None = None,
    search: bool = True,
    size_min_b: float | None = None,
    size_max_b: float | None = None,
    web: WebSearch | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> CandidateSet:
    """Assemble the candidate set and write research/candidates.json; searches first unless `search` is False.

    `today` (default: the current UTC date) decides whether the catalog is stale.
    """
    lo, hi = _size_range(study, size_min_b, size_max_b)
    if add:
        await asyncio.to_thread(add_candidates, study, add)  # takes the lock: never wait on the event loop
    catalog, origins = study_catalog(study)
    match, candidates, near, excluded, ranking_notes = _assess(study, catalog, origins, lo, hi)
    if not candidates:
        raise ConfigError(_nothing_matches(study, catalog, lo, hi))
    notes = [match.note] if match.note else []
    families = list(dict.fromkeys(plain_name(c.model.family) for c in candidates))
    stale, suggested = stale_note(
        catalog.as_of,
        today or datetime.now(timezone.utc).date(),
        families,
        size_phrase(lo, hi),
        study.config.domain,
    )
    if stale:
        notes.append(stale)
    report = None
    if search and study.config.research.web_search:
        web = web or WebSearch(study.config.research, study.paths.search_cache)
        queries = study_queries(study, web.clock().year)
        report = await search_web(study, queries, web=web, progress=progress)
        notes += report.notes
    elif not study.config.research.web_search:
        notes.append("web search is off (study.yaml research.web_search: false); catalog and stored evidence only")
    evidence, warnings = read_evidence(study)
    notes += warnings
    result = CandidateSet(
        domain=study.config.domain,
        profile=match.profile.key,
        profile_title=match.profile.title,
        profile_note=match.note,
        size_min_b=lo,
        size_max_b=hi,
        commercial_use=study.config.commercial_use,
        longest_input_tokens=study.config.max_turns * 2 * study.config.tokens_per_message,
        catalog_as_of=catalog.as_of,
        considered=len(catalog.models),
        allow_gguf_import=study.config.research.allow_gguf_import,
        candidates=attach_evidence(candidates, evidence),
        near_range=attach_evidence(near, evidence),
        excluded=excluded,
        ranking_notes=ranking_notes,
        suggested_searches=suggested,
        search=report,
        notes=notes,
    )
    async with study.locked_async("writing candidates"):
        study.write_json(study.paths.candidates, result)
    return result


def read_candidates(study: Study) -> CandidateSet | None:
    return study.read_json(study.paths.candidates, CandidateSet)


def _nothing_matches(study: Study, catalog: Catalog, lo: float, hi: float) -> str:
    pool = [m for m in catalog.models if not (study.config.commercial_use and m.commercial_use == "no")]
    nearest = sorted(pool, key=lambda m: min(abs(m.params_b - lo), abs(m.params_b - hi)))[:3]
    hint = ", ".join(f"{m.name} ({m.params_b:g}B)" for m in nearest)
    licence = " with a commercial-use licence" if study.config.commercial_use else ""
    return (
        f"no catalog model of {size_phrase(lo, hi)}{licence} (catalog as of {catalog.as_of}); nearest: {hint}. "
        f"Widen size_b in {study.paths.study_yaml}, or add a candidate with its sources "
        "(research_candidates add=[...], CLI: research --add FILE)"
    )


def _forbidden(m: CatalogModel) -> str:
    """Why a model is out of a commercial study: its licence's own conditions, else the licence's name."""
    return "licence forbids commercial use: " + ("; ".join(m.license_conditions) or m.license)
