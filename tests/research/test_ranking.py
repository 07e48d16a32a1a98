"""The ranking: scored columns, the shown formula, explicit tie-breaks, a pullable first row, models near the
range, the research summary and a catalog that says when it is stale."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from base_model_selector.research.candidates import CandidateSet, research_candidates
from base_model_selector.research.catalog import load_catalog
from base_model_selector.research.compare import build_comparison_table
from base_model_selector.research.fit import context_fit
from base_model_selector.research.freshness import stale_note
from base_model_selector.research.ranking import FORMULA, Column, Score, rank, score
from base_model_selector.research.selection import Choice, select_model
from base_model_selector.research.summary import research_summary
from base_model_selector.study.directory import Study, init_study
from catalog_entries import synthetic_model
from example_studies import copy_example

TODAY = date(2026, 12, 2)


def research(study: Study, **kwargs: object) -> CandidateSet:
    return asyncio.run(research_candidates(study, search=False, today=TODAY, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "options", "column", "points", "text"),
    [
        pytest.param({}, {}, "licence", 0, "Apache-2.0", id="permissive"),
        pytest.param(
            {"commercial_use": "conditional", "license_conditions": ["700M MAU cap"]},
            {"need_commercial": True},
            "licence",
            -1,
            "Apache-2.0: conditions",
            id="conditions-commercial",
        ),
        pytest.param(
            {"commercial_use": "conditional", "license_conditions": ["attribution"]},
            {"need_commercial": False},
            "licence",
            0,
            "Apache-2.0: conditions (commercial use not needed)",
            id="conditions-research",
        ),
        pytest.param({"base_weights": "no"}, {}, "base_weights", -1, "none published", id="no-base"),
        pytest.param({"base_weights": "unknown"}, {}, "base_weights", 0, "not confirmed", id="base-unknown"),
        pytest.param({"architecture": "moe"}, {}, "architecture", -1, "mixture of experts", id="moe"),
        pytest.param({"architecture": "hybrid"}, {}, "architecture", -1, "hybrid", id="hybrid"),
        pytest.param(
            {"architecture": "hybrid", "active_params_b": 1.0},
            {},
            "architecture",
            -2,
            "hybrid mixture of experts",
            id="hybrid-moe",
        ),
        pytest.param({"context_tokens": 4096}, {}, "context", -2, "too short: needs 8,000 tokens", id="short"),
        pytest.param({"context_tokens": None}, {}, "context", 0, "native context unknown", id="ctx-unknown"),
        pytest.param({}, {}, "pull", 0, "tag confirmed on the Ollama library", id="confirmed-tag"),
        pytest.param(
            {"ollama_tags_verified": []}, {}, "pull", 0, "tag not confirmed on the Ollama library", id="listed-tag"
        ),
        pytest.param(
            {"ollama_tags": [], "ollama_tags_verified": []}, {}, "pull", -1, "no tag: needs a GGUF import", id="none"
        ),
        pytest.param(
            {"ollama_tags": [], "ollama_tags_verified": []},
            {"allow_gguf_import": True},
            "pull",
            0,
            "no tag: GGUF import (allowed)",
            id="gguf-allowed",
        ),
    ],
)
def test_each_column_has_its_own_points_and_the_overall_adds_them(
    changes: dict[str, object], options: dict[str, bool], column: str, points: int, text: str
) -> None:
    model = synthetic_model(**changes)
    s = score(model, 3, context_fit(model, 20, 200), need_commercial=options.get("need_commercial", True),
              allow_gguf_import=options.get("allow_gguf_import", False))  # fmt: skip
    col = getattr(s, column)
    assert (col.points, col.text) == (points, text)
    assert s.overall == 3 + points
    assert s.fit == 3, "licence, base weights, architecture, context and pull never change the stars"


def scored(name: str, overall: int, *, evidence: int = 5, pull: int = 2, released: str = "2025-01", issues: int = 0):
    zero = Column(points=0, text="")
    s = Score(fit=overall, licence=zero, base_weights=zero, architecture=zero, context=zero,
              pull=Column(points=0 if pull else -1, text=""), overall=overall, evidence=evidence, pull_level=pull,
              released=released, known_issues=issues)  # fmt: skip
    return name, s


EVIDENCE = "more fields backed by primary sources (9 vs 3)"
PULL = "confirmed Ollama tag vs unconfirmed Ollama tag"


@pytest.mark.parametrize(
    ("a", "b", "because"),
    [
        pytest.param(scored("A", 4, evidence=9), scored("B", 4, evidence=3), EVIDENCE, id="evidence"),
        pytest.param(scored("A", 4, pull=2), scored("B", 4, pull=1), PULL, id="pull"),
        pytest.param(
            scored("A", 4, released="2026-04"),
            scored("B", 4, released="2025-04"),
            "newer release (2026-04 vs 2025-04)",
            id="recency",
        ),
        pytest.param(scored("A", 4, issues=0), scored("B", 4, issues=3), "fewer known issues (0 vs 3)", id="community"),
    ],
)
def test_ties_are_broken_by_evidence_then_pullability_then_recency_then_community_and_said_so(
    a: tuple[str, Score], b: tuple[str, Score], because: str
) -> None:
    ordered, notes = rank([b, a], lambda x: x[1], lambda x: x[0])
    assert [name for name, _ in ordered] == ["A", "B"]
    assert notes == [f"A above B (both overall 4): {because}"]


def test_the_first_row_is_pullable_unless_the_study_allows_a_gguf_import() -> None:
    items = [scored("NoTag", 5, pull=0), scored("Tagged", 4, pull=1)]
    ordered, notes = rank(items, lambda x: x[1], lambda x: x[0])
    assert [name for name, _ in ordered] == ["Tagged", "NoTag"]
    assert notes[0].startswith("NoTag scores highest (overall 5) but has no Ollama tag; Tagged (overall 4) is listed")
    assert "research.allow_gguf_import: true" in notes[0]
    ordered, notes = rank(items, lambda x: x[1], lambda x: x[0], allow_gguf_import=True)
    assert [name for name, _ in ordered] == ["NoTag", "Tagged"] and notes == []


def test_the_table_shows_the_formula_and_every_row_adds_up(tmp_path: Path) -> None:
    study = Study.open(copy_example("empathetic-coaching", tmp_path / "coaching"))
    research(study)
    table = build_comparison_table(study)
    assert FORMULA in table.markdown
    for row in table.rows:
        assert row.overall == row.stars + sum(c.points for c in row.columns.values()), row.id
    assert table.rows[0].ollama_tag, "the first pick can be pulled"
    assert [r.rank for r in table.rows] == list(range(1, len(table.rows) + 1))


def test_models_just_outside_the_range_are_listed_with_their_size_never_dropped(tmp_path: Path) -> None:
    study = Study.open(copy_example("sql-analyst", tmp_path / "sql"))  # 7-14B, commercial use
    result = research(study)
    near = {c.id: c for c in result.near_range}
    assert {"phi-4", "qwen3-14b"} <= set(near)
    assert "just outside the range: 14.8B is 6 % above the 7-14B range" in near["qwen3-14b"].flags
    assert "just outside the range: 14.7B is 5 % above the 7-14B range" in near["phi-4"].flags
    listed = {c.id for c in result.candidates} | set(near) | {e.id for e in result.excluded}
    for m in load_catalog().query(min_b=7 * 0.9, max_b=14 * 1.1):
        assert m.id in listed, f"{m.id} ({m.params_b}B) was dropped silently"
    table = build_comparison_table(study)
    assert "## Just outside the range" in table.markdown and "| — | Qwen3-14B | 14.8B |" in table.markdown
    chosen = select_model(study, Choice(candidate="qwen3:14b"), Choice(candidate="qwen2.5-coder-7b-instruct"))
    assert any(c.startswith("just outside the range") for c in chosen.selection.primary.concerns)


def test_a_coding_study_of_1_to_4b_puts_code_trained_models_first(tmp_path: Path) -> None:
    init_study(tmp_path / "code", domain="coding assistant", size_min=1, size_max=4, commercial_use=True)
    study = Study.open(tmp_path / "code")
    result = research(study)
    assert result.profile == "coding"
    for cand in result.candidates[:3]:
        assert "code" in cand.model.traits, cand.id
        assert any(r.startswith("+3 trained for code — trait code: ") and "(http" in r for r in cand.fit.reasons)
    assert "qwen2.5-coder-3b-instruct" in {e.id for e in result.excluded}, "research licence: not commercial"


def test_the_research_summary_says_why_the_primary_the_backup_and_why_not_every_other(tmp_path: Path) -> None:
    study = Study.open(copy_example("sql-analyst", tmp_path / "sql"))
    research(study)
    table = build_comparison_table(study)
    chosen = select_model(study, Choice(candidate=table.rows[0].id, rationale="best SQL fit"),
                          Choice(candidate=table.rows[1].id))  # fmt: skip
    summary = research_summary(table, chosen.selection)
    first, second = table.rows[0], table.rows[1]
    assert summary.sentences[0].startswith(f"Considered {table.considered} catalog models for 'SQL data analysis'")
    primary = f"Primary: {first.model}, ranked #1 of {len(table.rows)} with overall"
    assert any(s.startswith(primary) and s.endswith("Rationale: best SQL fit.") for s in summary.sentences)
    assert any(s.startswith(f"Backup: {second.model}, ranked #2") for s in summary.sentences)
    outcomes = {r.model.split(" (")[0]: r.outcome for r in summary.rows}
    assert len(summary.rows) == len(table.rows) + len(table.near_range) + len(table.excluded)
    for row in table.rows[2:]:
        outcome = next(r.outcome for r in summary.rows if r.model.startswith(row.model + " ("))
        assert outcome.startswith("Not selected: "), outcome
        assert f"overall {row.overall}" in outcome, outcome
    assert any(o.startswith("Not selected: just outside the range (14.8B)") for o in outcomes.values())
    assert any(o.startswith("Excluded: licence forbids commercial use") for o in outcomes.values())


@pytest.mark.parametrize(
    ("today", "stale"),
    [
        pytest.param(date(2027, 3, 31), False, id="three-months-is-not-stale"),
        pytest.param(date(2027, 4, 1), True, id="four-months-is-stale"),
    ],
)
def test_a_catalog_more_than_three_months_old_says_so_and_names_the_searches(today: date, stale: bool) -> None:
    note, searches = stale_note("2026-12", today, ["Qwen3", "Granite 4.1"], "7-10B", "empathetic coaching")
    assert bool(note) == stale and bool(searches) == stale
    if stale:
        assert note.startswith("The catalog is from 2026-12, 4 months before today (2027-04-01)")
        assert "Qwen3 new model release 2027" in searches and "new open-weight LLM release April 2027" in searches


def test_research_on_a_stale_catalog_tells_the_agent_what_to_search(tmp_path: Path) -> None:
    study = Study.open(copy_example("customer-support", tmp_path / "support"))
    result = asyncio.run(research_candidates(study, search=False, today=date(2027, 6, 1)))
    assert any(n.startswith("The catalog is from 2026-12, 6 months before today") for n in result.notes)
    assert result.suggested_searches and "Search for newer releases: " in result.summary()
    assert not research(study).suggested_searches, "fresh on the day it was curated"


def test_a_non_commercial_model_without_listed_conditions_is_excluded_naming_its_licence(tmp_path) -> None:
    from base_model_selector.research.candidates import _forbidden
    from base_model_selector.research.catalog import shipped_catalog

    aya = shipped_catalog().get("aya-expanse-8b")
    assert aya is not None and aya.commercial_use == "no" and not aya.license_conditions
    assert _forbidden(aya) == f"licence forbids commercial use: {aya.license}"
