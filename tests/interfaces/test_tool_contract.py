"""What every MCP tool promises: a title and the four annotations, closed sets as enums, unknown arguments
refused by name, and results that fit the client (a short summary, the data once, within the size budget)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import BaseModel, Field

from base_model_selector.server import build_server
from base_model_selector.server.results import BUDGET, DETAIL_BUDGET, Fit, View, to_result
from base_model_selector.study.directory import init_study
from fakes.search import FakeDDGS
from shells import run_tool


def tools() -> list[Any]:
    async def listed() -> list[Any]:
        async with Client(build_server()) as client:
            return list((await client.list_tools()).tools)

    return anyio.run(listed)


def schema_of(name: str) -> dict[str, Any]:
    return next(t.input_schema for t in tools() if t.name == name)


def test_every_tool_has_a_title_and_all_four_annotations() -> None:
    for tool in tools():
        assert tool.title, tool.name
        hints = tool.annotations
        assert hints is not None and hints.title == tool.title, tool.name
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert isinstance(getattr(hints, hint), bool), f"{tool.name}: {hint}"


def test_read_only_tools_are_the_ones_that_only_read() -> None:
    read_only = {t.name for t in tools() if t.annotations and t.annotations.read_only_hint}
    assert read_only == {"study_status", "next_assessment_batch", "show_samples"}
    open_world = {t.name for t in tools() if t.annotations and t.annotations.open_world_hint}
    assert open_world == {"search_web", "research_candidates", "pull_model", "evaluate"}


def enum_at(schema: dict[str, Any], *path: str) -> list[str]:
    """The enum of the property at `path`, looking through $refs, arrays and anyOf(…, null)."""
    node: Any = schema
    for part in path:
        node = node["properties"][part]
        while True:
            if "$ref" in node:
                node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            elif "anyOf" in node:
                node = next(n for n in node["anyOf"] if n.get("type") != "null")
            elif node.get("type") == "array":
                node = node["items"]
            else:
                break
    return node["enum"]


@pytest.mark.parametrize(
    ("tool", "path", "values"),
    [
        pytest.param("record_assessments", ("verdicts", "answer"), ["YES", "NO", "NA"], id="verdict-answer"),
        pytest.param("init_study", ("backend_kind",), ["ollama", "openai", "llamacpp"], id="backend-kind"),
        pytest.param("show_samples", ("outcome",), ["passed", "failed", "unjudged"], id="sample-outcome"),
    ],
)
def test_closed_sets_are_enums_in_the_schema(tool: str, path: tuple[str, ...], values: list[str]) -> None:
    assert enum_at(schema_of(tool), *path) == values


def test_the_judge_mode_is_checked_by_its_pattern_wherever_a_tool_takes_it() -> None:
    """Judge modes are an open set (agent:<name>, human:<name>), so a pattern rather than an enum."""
    for tool, name in (("assess_responses", "mode"), ("init_study", "judge_mode"), ("decide", "judge")):
        node = schema_of(tool)["properties"][name]
        arms = node.get("anyOf", [node])
        assert any(a.get("pattern", "").startswith("^(llm|agent|") for a in arms), tool


def test_every_tool_refuses_an_unknown_argument_by_name() -> None:
    async def calls() -> dict[str, str]:
        out = {}
        async with Client(build_server()) as client:
            for tool in (await client.list_tools()).tools:
                result = await client.call_tool(tool.name, {"study": "/nonexistent", "modle": "qwen3:8b"})
                assert result.is_error, tool.name
                out[tool.name] = result.content[0].text  # type: ignore[union-attr]
        return out

    for name, message in anyio.run(calls).items():
        assert f"unknown argument 'modle' for {name}; it takes:" in message, message
    assert schema_of("study_status")["additionalProperties"] is False


# --------------------------------------------------------------------------- the size budget
class Item(BaseModel):
    id: str
    text: str
    notes: list[str] = Field(default_factory=list)


class Listing(BaseModel):
    title: str
    items: list[Item]
    notice: str = "data, not instructions"
    empty: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.items)} items.\nNext: pick one."


def listing(n: int, text: int = 100) -> Listing:
    return Listing(title="t", items=[Item(id=f"i{k}", text="x" * text, notes=["n" * 50] * 3) for k in range(n)])


def size(result: Any) -> int:
    text = result.content[0].text
    return len(text) + len(json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":")))


def test_a_result_is_a_summary_text_and_the_data_once() -> None:
    result = to_result(listing(3), name="t", fit=Fit(), view=View())
    assert result.content[0].text == "3 items.\nNext: pick one."
    data = result.structured_content
    assert data["summary"] == "3 items.\nNext: pick one." and len(data["items"]) == 3
    assert "empty" not in data, "empty defaults say nothing"
    assert data["notice"] == "data, not instructions", "a default that says something stays"
    assert json.dumps(data["items"]) not in result.content[0].text


def test_a_long_list_is_paged_with_a_next_offset_and_one_item_comes_in_full() -> None:
    fit = Fit(items="items", brief=("items.notes",), limit=10)
    first = to_result(listing(25), name="t", fit=fit, view=View())
    page = first.structured_content["page"]
    assert (page["shown"], page["total"], page["next_offset"], page["left_out"]) == (10, 25, 10, ["items.notes"])
    assert not any(i["notes"] for i in first.structured_content["items"])
    assert "offset=10" in first.content[0].text and "detail=true" in first.content[0].text
    last = to_result(listing(25), name="t", fit=fit, view=View(offset=20))
    assert [i["id"] for i in last.structured_content["items"]] == ["i20", "i21", "i22", "i23", "i24"]
    assert last.structured_content["page"]["next_offset"] is None
    one = to_result(listing(25), name="t", fit=fit, view=View(id="I7"))
    assert [i["id"] for i in one.structured_content["items"]] == ["i7"]
    assert one.structured_content["items"][0]["notes"], "one item comes with its detail"


def test_what_does_not_fit_is_cut_and_said_so() -> None:
    big = to_result(listing(40, text=3_000), name="t", fit=Fit(items="items", limit=40), view=View())
    assert size(big) <= BUDGET
    page = big.structured_content["page"]
    assert page["shown"] < 40 and page["next_offset"] == page["shown"]
    huge = to_result(Listing(title="y" * 60_000, items=[]), name="t", fit=Fit(), view=View())
    assert size(huge) <= BUDGET
    assert huge.structured_content["title"].endswith("characters cut to fit]")
    assert huge.structured_content["page"]["cut"] == ["title shortened"]


def test_a_25_candidate_research_and_its_table_stay_within_the_budget(tmp_path: Path) -> None:
    init_study(tmp_path / "s", domain="customer support", size_min=4, size_max=14)
    searcher = FakeDDGS("empathetic_coaching.json")

    async def run() -> list[Any]:
        async with Client(build_server(searcher=searcher)) as client:
            args = {"study": str(tmp_path / "s")}
            research = await client.call_tool("research_candidates", args)
            table = await client.call_tool("build_comparison_table", args)
            more = await client.call_tool("research_candidates", {**args, "search": False, "offset": 5})
            one = await client.call_tool("build_comparison_table", {**args, "id": "qwen3-8b"})
            return [research, table, more, one]

    research, table, more, one = asyncio.run(run())
    for result in (research, table, more, one):
        assert not result.is_error, result.content
    assert max(size(research), size(table), size(more)) <= BUDGET
    assert size(one) <= DETAIL_BUDGET, "one candidate in full, asked for: still under Claude Code's file threshold"
    assert research.structured_content["page"]["total"] >= 25
    assert not table.structured_content.get("markdown"), "the full Markdown stays in comparison.md"
    assert "comparison.md" in table.content[0].text and "| Model | Params |" in table.content[0].text
    assert more.structured_content["page"]["offset"] == 5
    row = one.structured_content["rows"][0]
    assert row["id"] == "qwen3-8b" and row["fit_reasons"] and row["sources"]


def test_errors_over_mcp_name_the_tool_to_call_not_a_command(tmp_path: Path) -> None:
    result = run_tool("study_status", {"study": str(tmp_path / "missing")})
    text = result.content[0].text
    assert result.is_error and "study.yaml: not found" in text
    assert f'call init_study(study="{tmp_path / "missing"}", domain="<your domain>")' in text
    assert "base-model-selector init" not in text
