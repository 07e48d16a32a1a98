"""Steps 1–2 through the two shells: the in-memory MCP client and the CLI, for the study of the issue's done-when."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client

from base_model_selector.research.catalog import load_catalog
from base_model_selector.research.search import UNAVAILABLE_NOTE
from base_model_selector.server import build_server
from base_model_selector.study.directory import init_study
from base_model_selector.study.types import Selection
from fakes.search import FakeDDGS, load_fixture
from shells import run_cli


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    """The done-when study: empathetic coaching, 7–10B, commercial use; no backoff delay, so blocks are fast."""
    root = tmp_path / "coaching"
    init_study(root, domain="empathetic coaching", size_min=7, size_max=10, commercial_use=True)
    yaml = root / "study.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("backoff_s: 2.0", "backoff_s: 0"), encoding="utf-8")
    return root


def matching_ids() -> set[str]:
    return {m.id for m in load_catalog().query(min_b=7, max_b=10, commercial=True)}


# ---------------------------------------------------------------- MCP
def test_mcp_research_table_and_select_for_empathetic_coaching(study_dir: Path) -> None:
    fake = FakeDDGS("empathetic_coaching.json")

    async def flow() -> tuple[dict, dict, dict, str]:
        async with Client(build_server(searcher=fake)) as client:
            research = await client.call_tool("research_candidates", {"study": str(study_dir)})
            pages = [research.structured_content]
            while pages[-1]["page"]["next_offset"] is not None:  # an agent pages through a long list
                more = await client.call_tool(
                    "research_candidates",
                    {"study": str(study_dir), "search": False, "offset": pages[-1]["page"]["next_offset"]},
                )
                pages.append(more.structured_content)
            research.structured_content["candidates"] = [c for p in pages for c in p["candidates"]]
            table = await client.call_tool("build_comparison_table", {"study": str(study_dir)})
            rows = [table.structured_content]
            while rows[-1]["page"]["next_offset"] is not None:
                more = await client.call_tool(
                    "build_comparison_table", {"study": str(study_dir), "offset": rows[-1]["page"]["next_offset"]}
                )
                rows.append(more.structured_content)
            table.structured_content["rows"] = [r for p in rows for r in p["rows"]]
            chosen = await client.call_tool(
                "select_model",
                {
                    "study": str(study_dir),
                    "primary": {"candidate": "qwen3-8b", "rationale": "warm dialogue, Apache-2.0, base weights"},
                    "backup": {"candidate": "mistral:7b", "concerns": ["older model"]},
                },
            )
            for result in (research, table, chosen):
                assert not result.is_error, result.content
            text = table.content[0].text  # type: ignore[union-attr]
            return research.structured_content, table.structured_content, chosen.structured_content, text

    research, table, chosen, table_text = anyio.run(flow)
    assert {c["id"] for c in research["candidates"]} == matching_ids()
    assert fake.calls, "the templated queries went through the injected searcher"
    rows = {r["id"]: r for r in table["rows"]}
    assert set(rows) == matching_ids()
    assert all(r["fit_reasons"] and 1 <= r["stars"] <= 5 for r in rows.values())
    assert (
        rows["llama-3.1-8b-instruct"]["license_conditions"]
        and "licence conditions" in rows["llama-3.1-8b-instruct"]["notes"]
    )
    assert rows["deepseek-r1-0528-qwen3-8b"]["base_weights"] == "no"
    header = "| Rank | Model | Params | Domain Fit | Licence | Base weights | Architecture |"
    assert header in table_text and "comparison.md" in table_text, "the path and the top rows of the table"
    selection = Selection.model_validate_json((study_dir / "selection.json").read_text(encoding="utf-8"))
    assert selection.primary.ollama_tag == "qwen3:8b" and selection.backup is not None
    assert selection.backup.ollama_tag == "mistral" and selection.backup.concerns == ["older model"]
    assert chosen["selection"]["primary"]["candidate_id"] == "qwen3-8b"


def test_mcp_search_web_degrades_to_a_note_when_blocked(study_dir: Path) -> None:
    script = load_fixture("blocked.json")["scripts"]["always_blocked"]
    fake = FakeDDGS("empathetic_coaching.json", script=script)

    async def call() -> object:
        async with Client(build_server(searcher=fake)) as client:
            return await client.call_tool("search_web", {"study": str(study_dir), "queries": ["a", "b"]})

    result = anyio.run(call)
    assert not result.is_error
    report = result.structured_content
    assert report["available"] is False and report["notes"][0].startswith(UNAVAILABLE_NOTE)
    assert [q["status"] for q in report["queries"]] == ["unavailable", "skipped"]


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        pytest.param(
            "select_model",
            {"primary": {"candidate": "gpt-9"}, "backup": {"candidate": "qwen3-8b"}},
            "'gpt-9' is not in the comparison table",
            id="unknown-candidate",
        ),
        pytest.param(
            "research_candidates",
            {"search": False, "size_min_b": 10, "size_max_b": 7},
            "swap them",
            id="inverted-size-range",
        ),
        pytest.param(
            "research_candidates",
            {
                "search": False,
                "add": [
                    {
                        "id": "x-1",
                        "family": "X",
                        "name": "X",
                        "params_b": 8,
                        "architecture": "dense",
                        "license": "MIT",
                        "commercial_use": "yes",
                    }
                ],
            },
            "needs at least one fact with a source",
            id="unsourced-addition",
        ),
    ],
)
def test_mcp_bad_input_is_an_error_the_agent_can_act_on(study_dir: Path, tool: str, args: dict, message: str) -> None:
    async def call() -> object:
        async with Client(build_server(searcher=FakeDDGS({}))) as client:
            await client.call_tool("research_candidates", {"study": str(study_dir), "search": False})
            await client.call_tool("build_comparison_table", {"study": str(study_dir)})
            return await client.call_tool(tool, {"study": str(study_dir), **args})

    result = anyio.run(call)
    assert result.is_error and message in result.content[0].text


# ---------------------------------------------------------------- CLI
def test_cli_research_table_select_for_empathetic_coaching(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = ["--study", str(study_dir)]
    code, out, err = run_cli([*s, "research", "--no-search"], capsys)
    assert code == 0, err
    assert f"{len(matching_ids())} candidates for 'empathetic coaching'" in out
    code, out, err = run_cli([*s, "table", "--override", "zephyr:7b=4:warm in our pilot", "--by", "dana"], capsys)
    assert code == 0, err
    assert "| Rank | Model | Params |" in out and "(override; computed" in out
    code, out, err = run_cli([*s, "select", "qwen3-8b", "mistral:7b", "--rationale", "warmest"], capsys)
    assert code == 0, err
    assert "Primary: Qwen3-8B (qwen3:8b) — warmest" in out
    selection = json.loads((study_dir / "selection.json").read_text(encoding="utf-8"))
    assert selection["backup"]["ollama_tag"] == "mistral"
    code, out, _ = run_cli([*s, "--json", "status"], capsys)
    steps = {step["number"]: step["state"] for step in json.loads(out)["steps"]}
    assert steps[1] == "done" and steps[2] == "done"


def test_cli_research_adds_candidates_from_a_file(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = study_dir / "found.yaml"
    extra.write_text(
        "models:\n"
        "  - {id: coachlm-8b, family: CoachLM, name: CoachLM-8B, params_b: 8, architecture: dense,\n"
        "     license: Apache-2.0, commercial_use: 'yes', focus: [chat], ollama_tags: ['coachlm:8b'],\n"
        "     facts: [{field: license, claim: Apache-2.0, source: 'https://huggingface.co/x/CoachLM-8B',\n"
        "              status: verified}]}\n",
        encoding="utf-8",
    )
    code, out, err = run_cli(["--study", str(study_dir), "research", "--no-search", "--add", str(extra)], capsys)
    assert code == 0, err
    assert "CoachLM-8B" in out


def test_cli_search_with_web_search_off_makes_no_request(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yaml = study_dir / "study.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("web_search: true", "web_search: false"), encoding="utf-8")
    code, out, err = run_cli(["--study", str(study_dir), "search", "best coaching model"], capsys)
    assert code == 0, err
    assert "[skipped] best coaching model" in out and "web_search: false" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["select", "gpt-9", "qwen3-8b"], "'gpt-9' is not in the comparison table", id="unknown"),
        pytest.param(["research", "--no-search", "--size-min", "12", "--size-max", "9"], "swap them", id="inverted"),
        pytest.param(["table", "--override", "qwen3-8b=five"], "CANDIDATE=STARS:JUSTIFICATION", id="bad-override"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_code_2(
    study_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    s = ["--study", str(study_dir)]
    run_cli([*s, "research", "--no-search"], capsys)
    run_cli([*s, "table"], capsys)
    code, _, err = run_cli([*s, *args], capsys)
    assert code == 2 and message in err
