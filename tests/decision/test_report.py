"""The decision document: golden output for a fixed study, its structure check, notes, overrides and refusals.

Regenerate the golden file on purpose only: `BMS_REGEN_GOLDEN=1 uv run pytest tests/decision/test_report.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from base_model_selector.decision.decide import decide
from base_model_selector.decision.document_check import check_document
from base_model_selector.decision.notes import merge_notes, parse_notes
from base_model_selector.decision.report import DocumentInvalid, write_decision_doc
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import PathRefused, StepNotReady
from decision_fixture import MODEL, STAMP, write_study

GOLDEN = Path(__file__).parents[1] / "golden" / "base-model-evaluation.md"
TODAY = "2025-01-03"


@pytest.fixture
def study(tmp_path: Path) -> Study:
    opened = Study.open(write_study(tmp_path / "support"))
    decide(opened, MODEL, decided_at=STAMP)
    return opened


def _doc(study: Study) -> str:
    return study.docs_path().read_text(encoding="utf-8")


def _frozen(text: str) -> str:
    """The decision.json hash changes whenever the Decision model gains a field; everything else is fixed."""
    text = re.sub(r"(decision-sha256=)[0-9a-f]{64}", r"\1<sha256>", text)
    return re.sub(r"(`runs/qwen3-8b/decision\.json` \| )[0-9a-f]{64}", r"\1<sha256>", text)


def test_rendered_document_matches_the_golden_file(study: Study) -> None:
    (study.root / "notes.md").write_text(
        "## Qualitative notes\n\nReplies are polite but generic; billing answers skip the order number.\n\n"
        "## Failure patterns\n- CQ1: generic filler instead of an answer\n"
        "- SAFE1: asks for the password on login issues\n",
        encoding="utf-8",
    )
    write_decision_doc(study, MODEL, today=TODAY, version="0.0.0-test")
    text = _frozen(_doc(study))
    if os.environ.get("BMS_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), "re-run with BMS_REGEN_GOLDEN=1 if the change is intended"
    assert check_document(text) == []


def test_document_numbers_match_the_assessments_on_disk(study: Study) -> None:
    write_decision_doc(study, MODEL, today=TODAY)
    report = json.loads(study.paths.assessments(MODEL).read_text(encoding="utf-8"))
    passed = sum(1 for a in report["assessments"] if a["passed"])
    total = len(report["assessments"])
    row = f"| {total} | {total} | {passed} | {passed / total:.0%} |"
    assert row in _doc(study)
    failures = report["summary"]["failures_by_criterion"]
    for cid, count in failures.items():
        if count:
            assert re.search(rf"^\| {cid}( \(gate\))? \| \w+ \| {count}/{total}", _doc(study), re.M), cid


def test_missing_notes_are_named_not_invented(study: Study) -> None:
    result = write_decision_doc(study, MODEL, today=TODAY)
    text = _doc(study)
    assert "_Qualitative notes not yet written — add them under `## Qualitative notes` in notes.md" in text
    assert text.count("not yet written — add `- ID: …` under `## Failure patterns`") == 4
    assert any("qualitative notes" in m for m in result.missing)
    assert any("CQ1, CQ2, SAFE1, LEN1" in m for m in result.missing)


def test_notes_given_as_arguments_are_merged_into_notes_md_and_rendered(study: Study) -> None:
    (study.root / "notes.md").write_text("# Our notes\nkeep me\n\n## Failure patterns\n- CQ2: old\n", encoding="utf-8")
    result = write_decision_doc(
        study,
        MODEL,
        qualitative_notes="## Tone\nFriendly | concise.",
        failure_patterns={"CQ2": "quotes | refunds after 30 days", "LEN1": "rambles"},
        today=TODAY,
    )
    notes_text = (study.root / "notes.md").read_text(encoding="utf-8")
    assert "keep me" in notes_text and "- CQ2: quotes | refunds after 30 days" in notes_text and "old" not in notes_text
    assert parse_notes(notes_text).patterns == {"CQ2": "quotes | refunds after 30 days", "LEN1": "rambles"}
    text = _doc(study)
    assert "#### Tone\nFriendly | concise." in text  # a note's heading cannot break the outline
    assert "| quotes \\| refunds after 30 days |" in text
    assert not any("qualitative" in m for m in result.missing)


def test_merge_notes_replaces_only_the_given_sections() -> None:
    before = "intro\n\n## Qualitative notes\nold text\n\n## Other\nuntouched\n"
    after = merge_notes(before, qualitative="new text", next_steps="ship it")
    assert "old text" not in after and "new text" in after and "## Other\nuntouched" in after
    assert parse_notes(after).next_steps == "ship it"


def test_a_study_template_override_is_used_and_still_checked(study: Study) -> None:
    shipped = (Path(__file__).parents[2] / "templates" / "decision_doc.md.j2").read_text(encoding="utf-8")
    (study.root / "templates").mkdir()
    override = study.root / "templates" / "decision_doc.md.j2"
    override.write_text(shipped.replace("## Qualitative Notes", "## Qualitative Notes\n\nACME house style."), "utf-8")
    write_decision_doc(study, MODEL, today=TODAY)
    assert "ACME house style." in _doc(study)

    override.write_text(shipped.replace("### Run Metrics", "### Speed"), encoding="utf-8")
    before = _doc(study)
    with pytest.raises(DocumentInvalid, match=r"missing heading ### Run Metrics") as err:
        write_decision_doc(study, MODEL, today=TODAY)
    assert str(override) in str(err.value)
    assert _doc(study) == before  # nothing written


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("# T\n\n| a | b |\n|---|---|\n| 1 | 2 | 3 |\n", "line 5: a table row has 3 columns", id="ragged"),
        pytest.param("# T\n\n| a | b |\n|---|---|---|\n| 1 | 2 |\n", "line 3: looks like a table row", id="delimiter"),
        pytest.param("## Not a title\n", "must start with a level-1 title", id="no-title"),
        pytest.param("# T\n", "mermaid chart", id="no-chart"),
        pytest.param(
            "# T\n## Appendix\n## Model Selection\n", "## Appendix (it is at line 2, out of order)", id="order"
        ),
    ],
)
def test_structure_check_reports_each_problem(text: str, problem: str) -> None:
    assert any(problem in p for p in check_document(text)), check_document(text)


def test_escaped_pipes_do_not_count_as_columns() -> None:
    text = "| a | b |\n|---|---|\n| x \\| y | z |\n"
    assert not [p for p in check_document(text) if "columns" in p]


def test_docs_path_outside_the_study_is_refused(study: Study, tmp_path: Path) -> None:
    with pytest.raises(PathRefused, match="outside the study directory"):
        write_decision_doc(study, MODEL, path=str(tmp_path / "elsewhere.md"))
    with pytest.raises(PathRefused):
        write_decision_doc(study, MODEL, path="../../escape.md")


def test_html_rendering_escapes_model_text(study: Study) -> None:
    result = write_decision_doc(study, MODEL, html=True, today=TODAY)
    assert result.html_path is not None
    html = Path(result.html_path).read_text(encoding="utf-8")
    assert "<table>" in html and "<b>urgent" not in html
    assert "&lt;b&gt;urgent" in html or "&amp;lt;b&gt;urgent" in html


def test_writing_before_deciding_names_the_decide_command(tmp_path: Path) -> None:
    fresh = Study.open(write_study(tmp_path / "s"))
    with pytest.raises(StepNotReady, match="decide --model qwen3:8b"):
        write_decision_doc(fresh, MODEL)


def test_research_summary_lists_the_compared_candidates_and_the_selection(study: Study) -> None:
    import asyncio

    from base_model_selector.research.candidates import research_candidates
    from base_model_selector.research.compare import build_comparison_table
    from base_model_selector.research.selection import Choice, select_model

    asyncio.run(research_candidates(study, search=False))  # the shipped catalog only: no network
    table = build_comparison_table(study)
    first, second = table.rows[0], table.rows[1]
    select_model(study, Choice(candidate=first.id, rationale="Top fit"), Choice(candidate=second.id))
    write_decision_doc(study, MODEL, today=TODAY)
    text = _doc(study)
    research = text[text.index("### Research Summary") : text.index("### Selected Model")]
    rows = len(table.rows) + len(table.near_range) + len(table.excluded)
    assert research.count("\n| ") == rows + 1  # + the header row
    assert f"| {first.model} (" in research and "| Selected: Top fit" in research
    assert "| Backup" in research and "| Not selected: overall " in research
    assert f"Considered {table.considered} catalog models for " in research, "sentences built from the facts"
    assert f"Primary: {first.model}, ranked #1 of {len(table.rows)} with overall " in research
    assert f"Backup: {second.model}, ranked #2" in research
    assert check_document(text) == []


def test_a_flawless_run_renders_a_valid_document_that_says_nothing_failed(tmp_path: Path) -> None:
    from decision_fixture import ROWS

    flawless = Study.open(write_study(tmp_path / "s", [(*row[:4], "YYYY") for row in ROWS]))
    decide(flawless, MODEL)
    result = write_decision_doc(flawless, MODEL, today=TODAY)
    text = _doc(flawless)
    assert "| 10 | 10 | 10 | 100% | 72.2% – 100% | Likely sufficient |" in text  # 10/10 clears 70%
    assert "| — | — | 0 | 0% | No criterion failed. | — |" in text and "No failures to show." in text
    assert check_document(text) == []
    assert not any("failure patterns" in m for m in result.missing)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"failure_patterns": {"not an id!": "x"}}, "is not a criterion ID", id="bad-pattern-id"),
        pytest.param({"qualitative_notes": "x" * 50_001}, "keep them under 50,000", id="notes-too-long"),
        pytest.param({"path": "docs/evaluation.txt"}, "must end in .md", id="not-markdown"),
    ],
)
def test_bad_document_arguments_are_refused_and_nothing_is_written(
    study: Study, kwargs: dict[str, object], message: str
) -> None:
    from base_model_selector.study.errors import StudyError

    with pytest.raises(StudyError, match=message):
        write_decision_doc(study, MODEL, **kwargs)  # type: ignore[arg-type]
    assert not study.docs_path().exists() and not (study.root / "notes.md").exists()


def test_write_doc_keeps_the_mode_of_the_teams_notes_and_document(study: Study) -> None:
    notes = study.root / "notes.md"
    notes.write_text("## Qualitative notes\n\nPolite.\n", encoding="utf-8")
    notes.chmod(0o664)
    write_decision_doc(study, MODEL, today=TODAY)
    study.docs_path().chmod(0o664)
    write_decision_doc(study, MODEL, qualitative_notes="Polite, but generic.", today=TODAY)
    assert oct(notes.stat().st_mode & 0o777) == oct(0o664) and "generic" in notes.read_text(encoding="utf-8")
    assert oct(study.docs_path().stat().st_mode & 0o777) == oct(0o664)


def test_a_demonstration_study_says_so_before_anything_else(study: Study) -> None:
    """The quick start runs a 135M model: its document must not read like a verdict on a real candidate."""
    write_decision_doc(study, MODEL, today=TODAY, version="0.0.0-test")
    assert "A demonstration, not a verdict" not in _doc(study)
    yaml_path = study.paths.study_yaml
    yaml_path.write_text(yaml_path.read_text(encoding="utf-8") + "demonstration: true\n", encoding="utf-8")
    demo = Study.open(study.root)
    decide(demo, MODEL, decided_at=STAMP)
    write_decision_doc(demo, MODEL, today=TODAY, version="0.0.0-test")
    head = _doc(demo).split("## Model Selection")[0]
    assert "**A demonstration, not a verdict.**" in head
    assert f"ran `{MODEL}` (" in head and "say nothing about whether a base model is good enough" in head
    assert check_document(_doc(demo)) == []
