"""The shipped example studies are complete and valid: what the README's main command runs on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from base_model_selector.judging.checks import run_check
from base_model_selector.judging.rubric import load_rubric
from base_model_selector.scenarios.taxonomy import load_taxonomy
from base_model_selector.study.directory import Study
from base_model_selector.study.types import Answer
from smollm2 import SMOLLM2

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["empathetic-coaching", "customer-support", "sql-analyst"]


def test_the_three_examples_are_shipped() -> None:
    assert set(NAMES) <= {p.name for p in EXAMPLES.iterdir() if p.is_dir()}


@pytest.mark.parametrize("name", NAMES)
def test_example_study_loads_with_its_system_prompt_and_keeps_the_document_inside(name: str) -> None:
    study = Study.open(EXAMPLES / name)
    assert study.config.system_prompt_file == "system_prompt.md"
    assert len(study.system_prompt().split()) > 200
    assert study.docs_path().is_relative_to(study.root)


@pytest.mark.parametrize("name", NAMES)
def test_example_taxonomy_is_rich_enough(name: str) -> None:
    tax = load_taxonomy(EXAMPLES / name / "taxonomy.yaml")
    assert 6 <= len(tax.topics) <= 8
    assert all(t.subtopics for t in tax.topics)
    names = {e.name.split()[0] for e in tax.edge_cases}
    assert {"ambiguous", "very", "non-English", "off-topic"} <= names
    assert tax.share > 0 and len(tax.personas) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_example_rubric_loads_with_gates_calibration_and_checks(name: str) -> None:
    rubric = load_rubric(EXAMPLES / name / "rubric.yaml")
    assert 8 <= len(rubric.criteria) <= 14
    assert any(c.safety_gate for c in rubric.criteria)
    assert any(c.na_invalid for c in rubric.criteria)
    assert all(c.fail_examples for c in rubric.criteria)
    types = {e.type for c in rubric.criteria for e in c.calibration_examples}
    assert types == {"PASS", "FAIL", "BORDERLINE"}
    assert rubric.checks and rubric.pass_threshold == 0.80


@pytest.mark.parametrize("name", NAMES)
def test_calibration_passes_meet_the_deterministic_checks(name: str) -> None:
    """A PASS example that a check would fail would teach the judge the wrong thing."""
    rubric = load_rubric(EXAMPLES / name / "rubric.yaml")
    passes = [e.response for c in rubric.criteria for e in c.calibration_examples if e.type == "PASS"]
    for check in rubric.checks:
        if check.id == "FENCE1":  # the SQL fence check does not apply to refusals and prose answers
            continue
        for response in passes:
            assert run_check(check, response)[0] is Answer.YES, (check.id, response[:60])


def test_sql_example_gate_catches_a_delete_inside_a_sql_block_but_not_in_prose() -> None:
    rubric = load_rubric(EXAMPLES / "sql-analyst" / "rubric.yaml")
    gate = next(c for c in rubric.checks if c.id == "DML1")
    assert run_check(gate, "```sql\nDELETE FROM analytics.customers WHERE is_test;\n```")[0] is Answer.NO
    assert run_check(gate, "I can't run DELETE FROM for you.\n```sql\nSELECT 1;\n```")[0] is Answer.YES


def test_the_wheel_ships_every_person_written_file_of_every_example_and_nothing_else() -> None:
    """`init --example NAME` must work after pip or `uv tool install`, where there is no clone."""
    tomllib = pytest.importorskip("tomllib")
    from base_model_selector.study.examples import PERSON_FILES

    config = tomllib.loads((EXAMPLES.parent / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    expected = {
        f"examples/{d.name}/{f}" for d in EXAMPLES.iterdir() if d.is_dir() for f in PERSON_FILES if (d / f).is_file()
    }
    assert {k for k in shipped if k.startswith("examples/")} == expected
    assert all(shipped[k] == f"base_model_selector/{k}" for k in expected)


def test_the_quickstart_is_a_small_demonstration_that_needs_no_server() -> None:
    study = Study.open(EXAMPLES / "quickstart")
    cfg = study.config
    assert cfg.demonstration, "its document must say that a 135M model shows the pipeline, not a verdict"
    assert (cfg.backend.kind, cfg.backend.model) == ("llamacpp", SMOLLM2)
    assert cfg.scenarios.n == 12 and cfg.judge.batched and not cfg.research.web_search
    assert study.docs_path().is_relative_to(study.root)
    rubric = load_rubric(EXAMPLES / "quickstart" / "rubric.yaml")
    assert 3 <= len(rubric.criteria) <= 4 and any(c.safety_gate for c in rubric.criteria)
    assert len(load_taxonomy(EXAMPLES / "quickstart" / "taxonomy.yaml").topics) <= 4


@pytest.mark.skipif(shutil.which("git") is None or not (EXAMPLES.parent / ".git").exists(), reason="not a git clone")
@pytest.mark.parametrize("written", ["runs/m/responses.jsonl", "scenarios/scenarios.jsonl", "docs/x.md", ".study.lock"])
def test_what_running_the_readme_command_writes_is_ignored_by_git(written: str) -> None:
    path = f"examples/quickstart/{written}"
    result = subprocess.run(["git", "check-ignore", "-q", path], cwd=EXAMPLES.parent, check=False)
    assert result.returncode == 0, f"{path} would leave the clone dirty"
