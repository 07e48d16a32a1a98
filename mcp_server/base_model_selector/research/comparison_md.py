"""comparison.md: the ranked table, the models just outside the range, and the reasons behind every point.

Rendered through `templates/comparison_table.md.j2` (copy it to `<study>/templates/` to change it). Every value
that came from outside (catalog text, user files, web pages) is escaped here, before the template sees it.
`detail=False` gives the compact form an agent receives (the tables, the formula and the notes); the file has the
per-model sections too: fit reasons with their sources, flags, licence conditions, known issues, web mentions.
"""

from __future__ import annotations

from base_model_selector.research.candidates import CandidateSet
from base_model_selector.research.fit import stars_text
from base_model_selector.research.profiles import tokens
from base_model_selector.research.ranking import signed
from base_model_selector.research.summary import breakdown, research_summary
from base_model_selector.research.table import ComparisonRow, ComparisonTable
from base_model_selector.study import templating
from base_model_selector.study.directory import Study
from base_model_selector.study.untrusted import md_code, md_inline, md_url

TEMPLATE = "comparison_table.md.j2"
HEADER = [
    "Rank", "Model", "Params", "Domain Fit", "Licence", "Base weights", "Architecture", "Context", "Pull",
    "Overall", "Evidence", "Community", "Release", "Sources",
]  # fmt: skip
COMPACT = 10
"""The compact table (what an agent receives) keeps the first ten columns; the file has all of them."""


def _col(row: ComparisonRow, name: str) -> str:
    col = row.columns[name]
    return md_inline(col.text) + (f" ({signed(col.points)})" if col.points else "")


def _cells(row: ComparisonRow) -> list[str]:
    e = md_inline
    star = f"{stars_text(row.stars)} {row.stars}/5"
    if row.override:
        star += f" (override; computed {row.computed_stars})"
    pull = row.columns["pull"]
    return [
        str(row.rank) if row.rank else "—",
        e(row.model),
        row.params,
        star,
        _col(row, "licence"),
        _col(row, "base_weights"),
        _col(row, "architecture"),
        _col(row, "context"),
        (f"{md_code(row.ollama_tag, table=True)}: " if row.ollama_tag else "")
        + md_inline(pull.text)
        + (f" ({signed(pull.points)})" if pull.points else ""),
        f"**{row.overall}**",
        f"{row.evidence_fields} verified",
        e(row.community),
        row.release,
        " ".join(f"[{i}]({md_url(u)})" for i, u in enumerate(row.sources[:3], 1))
        + (f" +{len(row.sources) - 3}" if len(row.sources) > 3 else ""),
    ]


def _detail(row: ComparisonRow) -> dict[str, object]:
    e = md_inline
    return {
        "title": e(row.model) + (f" (#{row.rank})" if row.rank else " (just outside the range)"),
        "stars": f"{stars_text(row.stars)} {row.stars}/5",
        "breakdown": breakdown(row),
        "reasons": [e(x) for x in row.fit_reasons],
        "override": (
            {"stars": row.override.stars, "by": e(row.override.by or "unnamed"), "why": e(row.override.justification)}
            if row.override
            else None
        ),
        "traits": ", ".join(row.traits) or "none sourced",
        "flags": [e(x) for x in row.flags],
        "conditions": [e(x) for x in row.license_conditions],
        "issues": [{"text": e(k.issue), "url": md_url(k.source)} for k in row.known_issues],
        "community": e(row.community),
        "context_note": e(row.context_fit.note if row.context_fit else row.columns["context"].text),
        "sources": [md_url(u) for u in row.sources],
        "secondary": [md_url(u) for u in row.secondary_sources],
        "evidence": [
            {
                "title": e(x.title),
                "url": md_url(x.url),
                "date": x.retrieved_at,
                "excerpt": e(x.excerpt),
                "matched": e(x.matched),
                "flags": [e(f) for f in x.flags],
            }
            for x in row.evidence
        ],
    }


def render(study: Study, table: ComparisonTable, cands: CandidateSet, *, detail: bool) -> str:
    """comparison.md (detail=True) or the compact table an agent receives (detail=False)."""
    e = md_inline
    summary = research_summary(table)
    return templating.render(
        TEMPLATE,
        study.root,
        detail=detail,
        domain=e(table.domain),
        profile_title=table.profile_title,
        profile_note=e(cands.profile_note),
        size=table.size,
        commercial_use=table.commercial_use,
        longest_input=tokens(cands.longest_input_tokens),
        catalog_as_of=table.catalog_as_of,
        built_at=table.built_at,
        formula=table.formula,
        tie_breaks=table.tie_breaks,
        summary=[e(s) for s in summary.sentences],
        header=HEADER if detail else HEADER[:COMPACT],
        rows=[_cells(r) if detail else _cells(r)[:COMPACT] for r in table.rows],
        near=[_cells(r) if detail else _cells(r)[:COMPACT] for r in table.near_range],
        details=[_detail(r) for r in [*table.rows, *table.near_range]] if detail else [],
        ranking_notes=[e(n) for n in table.ranking_notes],
        excluded=[{"name": e(x.name), "reason": e(x.reason)} for x in table.excluded],
        searches=[e(q) for q in table.suggested_searches],
        notes=[e(n) for n in table.notes],
        notice=table.notice,
    )
