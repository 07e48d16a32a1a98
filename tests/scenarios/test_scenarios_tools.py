"""Step 4 through the shells: MCP tools plan_scenarios / generate_scenarios / add_scenarios and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from test_scenarios_generate import make_study, varied
from typer.testing import CliRunner

from base_model_selector.cli import app
from base_model_selector.server import build_server
from base_model_selector.study.storage import read_jsonl
from fakes import FakeOllama
from shells import call_tool


@pytest.mark.anyio
async def test_plan_scenarios_tool_reports_coverage_and_can_return_the_slots(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    result = await call_tool("plan_scenarios", {"study": str(study.root), "n": 50, "include_slots": True})
    assert not result.is_error
    data = result.structured_content
    assert data["coverage"]["topics"] == [8, 8] and data["edge_case_n"] == 10
    assert len(data["slots"]) == 50 and "Next: generate_scenarios" in data["text"]
    assert data["page"]["next_offset"] is None, "50 slots fit the budget in one page"
    assert study.paths.plan.exists()


@pytest.mark.anyio
@pytest.mark.parametrize("n", [0, 100000])
async def test_plan_scenarios_tool_refuses_a_bad_n(tmp_path: Path, n: int) -> None:
    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    result = await call_tool("plan_scenarios", {"study": str(study.root), "n": n})
    assert result.is_error


@pytest.mark.anyio
async def test_plan_scenarios_tool_reports_a_broken_taxonomy_by_key_and_line(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    study.paths.taxonomy_yaml.write_text("topics:\n  - name: a\n    weight: -2\n", encoding="utf-8")
    result = await call_tool("plan_scenarios", {"study": str(study.root)})
    assert result.is_error and "topics.0.weight (line 3)" in result.content[0].text


@pytest.mark.anyio
async def test_generate_scenarios_tool_writes_the_plan_with_progress(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(build_server()) as client:
        result = await client.call_tool(
            "generate_scenarios", {"study": str(study.root), "n": 6}, progress_callback=on_progress
        )
    assert not result.is_error, result.content
    assert result.structured_content["generated"] == 6
    assert seen and max(seen) == 6
    assert len(read_jsonl(study.paths.scenarios).records) == 6


@pytest.mark.anyio
async def test_add_scenarios_tool_adds_and_rejects_duplicates(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    items = [
        {"text": "where do I find my VAT receipt?", "topic": "billing and subscription"},
        {"text": "Where do I find my VAT receipt", "topic": "billing and subscription"},
    ]
    result = await call_tool("add_scenarios", {"study": str(study.root), "scenarios": items})
    assert not result.is_error
    assert len(result.structured_content["added"]) == 1
    assert result.structured_content["rejected"][0]["reason"] == "near-duplicate"


@pytest.mark.anyio
async def test_add_scenarios_tool_refuses_a_path_outside_the_study(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    result = await call_tool("add_scenarios", {"study": str(study.root), "path": "/etc/passwd"})
    assert result.is_error and "outside the study" in result.content[0].text


@pytest.mark.anyio
async def test_add_scenarios_tool_reads_a_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    work = tmp_path / "project"
    work.mkdir()
    (work / "real.csv").write_text("text,topic\nthe reminder emails go out twice,invoicing\n", encoding="utf-8")
    monkeypatch.chdir(work)
    result = await call_tool("add_scenarios", {"study": str(study.root), "path": "real.csv"})
    assert not result.is_error, result.content
    assert len(result.structured_content["added"]) == 1


def test_cli_add_scenarios_reads_a_file_named_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`add-scenarios real.csv` in the directory holding real.csv: the person named the file, it is read."""
    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "real.csv").write_text("text,topic\nthe reminder emails go out twice,invoicing\n", encoding="utf-8")
    monkeypatch.chdir(work)
    added = CliRunner().invoke(app, ["--study", str(study.root), "add-scenarios", "real.csv"])
    assert added.exit_code == 0, added.output
    assert "Added 1 scenarios" in added.output


def test_cli_plan_generate_and_add_scenarios(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    runner = CliRunner()

    planned = runner.invoke(app, ["--study", str(study.root), "plan", "-n", "5"])
    assert planned.exit_code == 0, planned.output
    assert "Plan: 5 scenarios" in planned.output

    generated = runner.invoke(app, ["--study", str(study.root), "--json", "generate"])
    assert generated.exit_code == 0, generated.output
    assert json.loads(generated.output)["generated"] == 5

    extra = study.root / "real.csv"
    extra.write_text("text,topic\nthe reminder emails go out twice,invoicing\n", encoding="utf-8")
    added = runner.invoke(app, ["--study", str(study.root), "add-scenarios", str(extra)])
    assert added.exit_code == 0, added.output
    assert "Added 1 scenarios" in added.output
    assert len(read_jsonl(study.paths.scenarios).records) == 6


def test_cli_plan_with_bad_n_exits_2_with_the_fix(tmp_path: Path) -> None:
    from base_model_selector.cli import main

    study = make_study(tmp_path / "s", "http://127.0.0.1:9")
    with pytest.raises(SystemExit) as exit_info:
        main(["--study", str(study.root), "plan", "-n", "0"])
    assert exit_info.value.code == 2


def test_cli_generate_exits_1_when_slots_stay_empty(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = lambda request: "I'm sorry, but I can't help with that."
    study = make_study(tmp_path / "s", fake_ollama.url)
    result = CliRunner().invoke(app, ["--study", str(study.root), "generate", "-n", "2"])
    assert result.exit_code == 1
    assert "2 failed" in result.output and "Re-run generate" in result.output
