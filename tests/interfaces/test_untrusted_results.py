"""A scenario full of Markdown, HTML, `javascript:` links, bidi overrides and terminal escapes, echoed by the
model, reaches the agent (MCP results) and the terminal (CLI output) without a control or bidi character."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anyio
import pytest
from mcp import Client

from base_model_selector.server import build_server
from baseline_fixture import MODEL, make_study
from fakes import FakeOllama
from shells import run_cli
from untrusted_text import ATTACK, assert_no_unsafe_characters

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer-support"
HOSTILE = {"text": ATTACK + " why was I charged twice?", "topic": "billing and subscription"}


def test_mcp_results_quote_hostile_scenarios_and_replies_without_control_or_bidi_characters(
    tmp_path: Path, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    for name in ("taxonomy.yaml", "rubric.yaml"):
        shutil.copy(EXAMPLE / name, study.root / name)
    s = str(study.root)

    async def flow() -> list[dict]:
        async with Client(build_server()) as client:
            results = [
                await client.call_tool("add_scenarios", {"study": s, "scenarios": [HOSTILE]}),
                await client.call_tool("run_baseline", {"study": s, "model": MODEL}),
                await client.call_tool("next_assessment_batch", {"study": s, "model": MODEL, "k": 5}),
                await client.call_tool("study_status", {"study": s, "model": MODEL}),
            ]
        for result in results:
            assert not result.is_error, result.content
        return [r.structured_content for r in results]

    contents = anyio.run(flow)
    assert "\u202e" in (study.root / "scenarios" / "scenarios.jsonl").read_text(encoding="utf-8"), "kept as data"
    assert "pixel.png" in json.dumps(contents[2]), "the batch quotes the scenario and the reply"
    for content in contents:
        assert_no_unsafe_characters(content)

    code, out, _err = run_cli(["--study", s, "--json", "next-batch", "--model", MODEL, "-k", "5"], capsys)
    assert code == 0 and "pixel.png" in out
    assert_no_unsafe_characters(json.loads(out))
    assert "\\u001b" not in out and "\u202e" not in out
