"""Step 2: the comparison table shows every candidate with its evidence; the selection names a primary and backup."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from base_model_selector.research.candidates import research_candidates
from base_model_selector.research.compare import ComparisonTable, OverrideRequest, build_comparison_table
from base_model_selector.research.search import WebSearch
from base_model_selector.research.selection import Choice, select_model
from base_model_selector.study.directory import Study, init_study
from base_model_selector.study.errors import ConfigError, StepNotReady
from base_model_selector.study.types import Selection
from fakes.search import FakeDDGS, RecordingSleep

COLUMNS = [
    "Rank", "Model", "Params", "Domain Fit", "Licence", "Base weights", "Architecture", "Context", "Pull",
    "Overall", "Evidence", "Community", "Release", "Sources",
]  # fmt: skip


@pytest.fixture
def study(tmp_path: Path) -> Study:
    init_study(tmp_path / "s", domain="empathetic coaching", size_min=7, size_max=10, commercial_use=True)
    s = Study.open(tmp_path / "s")
    web = WebSearch(
        s.config.research, s.paths.search_cache, searcher=FakeDDGS("empathetic_coaching.json"),
        sleep=RecordingSleep(), clock=lambda: datetime(2026, 11, 27, tzinfo=timezone.utc),
    )  # fmt: skip
    asyncio.run(research_candidates(s, web=web))
    return s


def header_cells(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    cells, in_head = [], False
    for tok in tokens:
        in_head = {"thead_open": True, "thead_close": False}.get(tok.type, in_head)
        if in_head and tok.type == "inline":
            cells.append(tok.content)
    return cells


def test_table_lists_every_candidate_with_the_columns_stars_and_reasons(study: Study) -> None:
    table = build_comparison_table(study)
    candidates = json.loads(study.paths.candidates.read_text(encoding="utf-8"))["candidates"]
    assert {r.id for r in table.rows} == {c["id"] for c in candidates}
    assert header_cells(table.markdown) == COLUMNS[:10], "the returned table keeps the scored columns"
    assert header_cells(study.paths.comparison_md.read_text(encoding="utf-8")) == COLUMNS
    tokens = MarkdownIt("commonmark").enable("table").parse(table.markdown)
    assert sum(t.type == "tr_open" for t in tokens) == len(table.rows) + 1, "one table row per candidate"
    assert table.formula in table.markdown, "the overall score's formula is shown above the table"
    full = study.paths.comparison_md.read_text(encoding="utf-8")
    for row in table.rows:
        assert row.fit_reasons and 1 <= row.stars <= 5
        assert f"### {row.model} (#{row.rank}): {'★' * row.stars}" in full, "each rating has its reasons"
        assert f"### {row.model}" not in table.markdown, "the returned table stays compact"
    stored = ComparisonTable.model_validate_json(study.paths.comparison_json.read_text(encoding="utf-8"))
    assert stored.markdown == "" and [r.id for r in stored.rows] == [r.id for r in table.rows]


def test_table_flags_licence_conditions_and_missing_base_weights(study: Study) -> None:
    table = build_comparison_table(study)
    llama = table.get("llama3.1:8b")
    distill = table.get("deepseek-r1-distill-qwen-7b")
    assert llama is not None and distill is not None
    assert llama.commercial_use == "conditional" and "licence conditions" in llama.notes
    assert distill.base_weights == "no" and "no base weights" in distill.notes
    full = study.paths.comparison_md.read_text(encoding="utf-8")
    assert "700M monthly active users cap" in full
    assert "no base weights published (a distilled fine-tune; upstream base: Qwen2.5-Math-7B)" in full
    assert "Ministral-8B-Instruct-2410: licence forbids commercial use" in table.markdown
    assert distill.columns["base_weights"].points == -1 and llama.columns["licence"].points == -1
    assert llama.sources and all(s.startswith("http") for s in llama.sources)


def test_a_fit_override_is_recorded_with_its_justification_and_shown_beside_the_computed_stars(study: Study) -> None:
    before = build_comparison_table(study).get("zephyr-7b-beta")
    assert before is not None
    request = OverrideRequest(candidate="zephyr:7b", stars=4, justification="pilot replies were warm", by="dana")
    after = build_comparison_table(study, [request]).get("zephyr-7b-beta")
    assert after is not None and after.stars == 4 and after.computed_stars == before.stars
    assert after.override is not None and after.override.justification == "pilot replies were warm"
    assert after.fit_reasons == before.fit_reasons, "the computed reasons stay"
    build_comparison_table(study)
    assert "**Override** to 4/5 by dana: pilot replies were warm" in study.paths.comparison_md.read_text("utf-8")
    assert json.loads(study.paths.fit_overrides.read_text())["overrides"]["zephyr-7b-beta"]["by"] == "dana"


def test_an_override_for_an_unknown_candidate_is_refused(study: Study) -> None:
    with pytest.raises(ConfigError, match=r"overrides\[0\]: unknown candidate 'gpt-9'"):
        build_comparison_table(study, [OverrideRequest(candidate="gpt-9", stars=5, justification="because")])
    assert not study.paths.fit_overrides.exists()


def test_web_text_in_the_table_is_escaped(study: Study) -> None:
    build_comparison_table(study)
    html = MarkdownIt("commonmark").enable("table").render(study.paths.comparison_md.read_text("utf-8"))
    assert "<script" not in html and "javascript:" not in html
    assert "Granite 3.3 8B for support desks" in html


def test_select_stores_primary_and_backup_with_rationale_strengths_and_concerns(study: Study) -> None:
    build_comparison_table(study)
    result = select_model(
        study,
        Choice(candidate="qwen3-8b", rationale="warmest in the reviews", strengths=["dialogue"]),
        Choice(candidate="Llama-3.1-8B-Instruct", concerns=["older"]),
    )
    stored = Selection.model_validate_json(study.paths.selection.read_text(encoding="utf-8"))
    assert stored == result.selection
    assert stored.primary.candidate_id == "qwen3-8b" and stored.primary.ollama_tag == "qwen3:8b"
    assert stored.primary.rationale == "warmest in the reviews" and stored.primary.strengths == ["dialogue"]
    assert stored.backup is not None and stored.backup.ollama_tag == "llama3.1:8b"
    assert stored.backup.concerns == ["older"] and "domain fit" in stored.backup.rationale
    assert stored.backup.strengths, "strengths default to the positive fit reasons"


def test_select_defaults_concerns_to_the_flags_and_notes_a_missing_tag(study: Study) -> None:
    build_comparison_table(study)
    result = select_model(study, Choice(candidate="granite-4.2-8b"), Choice(candidate="qwen3-8b"))
    concerns = result.selection.primary.concerns
    assert any(c.startswith("no base weights published") for c in concerns)
    assert result.selection.primary.ollama_tag is None and "import a GGUF" in concerns[-1]


@pytest.mark.parametrize(
    ("primary", "backup", "message"),
    [
        pytest.param("gpt-9", "qwen3-8b", "primary: 'gpt-9' is not in the comparison table", id="unknown-primary"),
        pytest.param(
            "qwen3-8b",
            "ministral-8b-instruct-2410",
            "backup: 'ministral-8b-instruct-2410' is not in",
            id="excluded-backup",
        ),
        pytest.param("qwen3-8b", "qwen3:8b", "primary and backup are both 'qwen3-8b'", id="same-model"),
        pytest.param("qwen3-8b", None, "choose a backup too", id="no-backup"),
    ],
)
def test_select_refuses_choices_outside_the_table(study: Study, primary: str, backup: str | None, message: str) -> None:
    build_comparison_table(study)
    with pytest.raises(ConfigError, match=message):
        select_model(study, Choice(candidate=primary), Choice(candidate=backup) if backup else None)
    assert not study.paths.selection.exists()


def test_select_refuses_a_malformed_ollama_tag(study: Study) -> None:
    build_comparison_table(study)
    with pytest.raises(ConfigError, match="is not a model tag"):
        select_model(study, Choice(candidate="qwen3-8b", ollama_tag="qwen3:8b; rm -rf /"), Choice(candidate="mistral"))


def test_table_and_selection_need_their_previous_step(tmp_path: Path) -> None:
    init_study(tmp_path / "empty", domain="coaching")
    empty = Study.open(tmp_path / "empty")
    with pytest.raises(StepNotReady, match="no candidates yet") as info:
        build_comparison_table(empty)
    assert "call research_candidates(" in info.value.render("mcp") and " research`" in str(info.value)
    with pytest.raises(StepNotReady, match="no comparison table yet") as info:
        select_model(empty, Choice(candidate="qwen3-8b"))
    assert "call build_comparison_table(" in info.value.render("mcp") and " table`" in str(info.value)
