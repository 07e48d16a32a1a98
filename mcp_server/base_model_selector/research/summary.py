"""The research summary: what was considered, why the primary and the backup, and why every other model was not.

The method's decision document opens with "Why considered / Why selected or rejected" for each model. Flags alone
do not say that; a reader needs a few sentences built from the facts (how many models, which score, which
column made the difference) and, for every model not chosen, the concrete reason — a lower score and the columns
it lost on, a tie lost on evidence, a licence that rules it out, a size just outside the range. Everything here
is derived from the comparison table and the selection: no opinion is added, so the summary changes when the
facts do.

    summary = research_summary(table, selection)   # selection None: the ranking's recommendation
    summary.sentences   # ['Considered 92 catalog models for ...', 'Primary: Qwen3-8B, ranked #1 ...', ...]
    summary.rows        # one per model: model, fit, why considered, outcome
"""

from __future__ import annotations

from pydantic import BaseModel

from base_model_selector.research.fit import stars_text
from base_model_selector.research.ranking import signed
from base_model_selector.research.table import ComparisonRow, ComparisonTable
from base_model_selector.study.types import SelectedModel, Selection

_COLUMN_NAMES = {
    "licence": "licence",
    "base_weights": "base weights",
    "architecture": "architecture",
    "context": "context",
    "pull": "pull",
}


class SummaryRow(BaseModel):
    model: str
    fit: str
    considered: str
    outcome: str


class ResearchSummary(BaseModel):
    sentences: list[str]
    rows: list[SummaryRow]


def breakdown(row: ComparisonRow) -> str:
    """'4★ − 1 licence = 3': the overall score's arithmetic, zero columns left out."""
    parts = [f"{row.stars}★"]
    parts += [
        f"{signed(c.points).replace('+', '+ ').replace('−', '− ')} {_COLUMN_NAMES[name]}"
        for name, c in row.columns.items()
        if c.points
    ]
    return " ".join(parts) + f" = {row.overall}"


def strengths(row: ComparisonRow) -> list[str]:
    """The positive domain-fit points, as their labels ('tuned for dialogue or role-play')."""
    return [r.split(" — ")[0][3:] for r in row.fit_reasons if r.startswith("+")]


def research_summary(table: ComparisonTable, selection: Selection | None = None) -> ResearchSummary:
    """Sentences and one row per model (candidate, just outside the range, excluded) from the table."""
    rows = table.rows
    primary = _pick(table, selection.primary if selection else None) or (rows[0] if rows else None)
    backup = _pick(table, selection.backup if selection else None)
    if backup is None and selection is None and primary is not None:
        others = [r for r in rows if r.id != primary.id]
        pullable = [r for r in others if r.columns["pull"].points == 0] or others
        backup = next((r for r in pullable if r.family != primary.family), pullable[0] if pullable else None)
    sentences = [
        f"Considered {table.considered} catalog models for '{table.domain}' ({table.profile_title} profile), "
        f"{table.size}" + (", commercial use required" if table.commercial_use else "") + f": {len(rows)} "
        f"candidates in range, {len(table.near_range)} just outside the range, {len(table.excluded)} excluded by "
        f"licence (catalog as of {table.catalog_as_of or 'unknown'}). Ranked by {table.formula}; ties by "
        f"{table.tie_breaks}."
    ]
    chosen = selection.primary if selection else None
    if primary is not None:
        sentences.append(_about("Primary" if selection else "Recommended primary", primary, chosen, rows))
        if primary.known_issues:
            sentences.append(f"Known issue to watch for {primary.model}: {primary.known_issues[0].issue}.")
    if backup is not None and primary is not None:
        family = "another family" if backup.family != primary.family else "the same family as the primary"
        label = "Backup" if selection else "Recommended backup"
        sentences.append(
            _about(label, backup, selection.backup if selection else None, rows) + f" It comes from {family}."
        )
    if selection is None and rows:
        sentences.append("Not selected yet: confirm the primary and backup with select_model.")
    summary_rows = [_row(r, primary, backup, selection, rows) for r in rows]
    summary_rows += [
        SummaryRow(
            model=_label(r),
            fit=stars_text(r.stars),
            considered=f"just outside the {table.size} range ({r.params})",
            outcome=f"Not selected: just outside the range ({r.params}); widen size_b in study.yaml to rank it",
        )
        for r in table.near_range
        if not _is(r, primary) and not _is(r, backup)
    ]
    summary_rows += [
        SummaryRow(model=e.name, fit="—", considered=f"in the {table.size} range", outcome=f"Excluded: {e.reason}")
        for e in table.excluded
    ]
    return ResearchSummary(sentences=sentences, rows=summary_rows)


def _pick(table: ComparisonTable, chosen: SelectedModel | None) -> ComparisonRow | None:
    return table.get(chosen.candidate_id) if chosen is not None else None


def _is(row: ComparisonRow, other: ComparisonRow | None) -> bool:
    return other is not None and row.id == other.id


def _label(row: ComparisonRow) -> str:
    return f"{row.model} ({row.params}, {row.license})"


def _about(label: str, row: ComparisonRow, chosen: SelectedModel | None, rows: list[ComparisonRow]) -> str:
    where = f"ranked #{row.rank} of {len(rows)}" if row.rank else f"just outside the range ({row.params})"
    good = strengths(row)
    text = (
        f"{label}: {row.model}, {where} with overall {breakdown(row)}; domain fit {row.stars}★"
        + (f" ({', '.join(good)})" if good else " (no sourced trait this domain values)")
        + "."
    )
    if "rimary" in label and row.rank and row.rank > 1 and rows:
        text += f" Chosen over #1 {rows[0].model} (overall {rows[0].overall})."
    if chosen is not None and chosen.rationale:
        text += f" Rationale: {chosen.rationale.rstrip('.')}."
    return text


def _row(
    row: ComparisonRow,
    primary: ComparisonRow | None,
    backup: ComparisonRow | None,
    selection: Selection | None,
    rows: list[ComparisonRow],
) -> SummaryRow:
    good = strengths(row)
    considered = f"#{row.rank}, overall {row.overall}" if row.rank else f"just outside the range ({row.params})"
    considered += f"; {', '.join(good)}" if good else "; no sourced trait this domain values"
    if _is(row, primary):
        why = selection.primary.rationale if selection else "first in the ranking"
        outcome = ("Selected" if selection else "Recommended primary") + f": {why}"
    elif _is(row, backup):
        why = (
            selection.backup.rationale if selection and selection.backup else "the best pullable row of another family"
        )
        outcome = ("Backup" if selection else "Recommended backup") + f": {why}"
    else:
        outcome = "Not selected: " + why_not(row, primary, rows)
    return SummaryRow(model=_label(row), fit=stars_text(row.stars), considered=considered, outcome=outcome)


def why_not(row: ComparisonRow, ref: ComparisonRow | None, rows: list[ComparisonRow]) -> str:
    """Why `row` was not chosen over `ref` (the primary), from the columns and the ranking."""
    if ref is None:
        return f"ranked #{row.rank}"
    if row.overall < ref.overall:
        lost = [f"domain fit {row.stars}★ vs {ref.stars}★"] if row.stars < ref.stars else []
        lost += [
            f"{_COLUMN_NAMES[name]}: {col.text} ({signed(col.points)})"
            for name, col in row.columns.items()
            if col.points < ref.columns[name].points
        ]
        return f"overall {row.overall} vs {ref.overall} for {ref.model}" + (f" — {'; '.join(lost)}" if lost else "")
    if row.overall == ref.overall:
        return (
            f"tied with {ref.model} on overall {row.overall}; ranked #{row.rank} of {len(rows)} by the tie-breaks "
            "(see the ranking notes)"
        )
    return f"scores higher (overall {row.overall} vs {ref.overall}) but the primary was chosen for its rationale"
