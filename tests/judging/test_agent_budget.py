"""What agent judging costs the agent: a 50-scenario × 13-criterion study in ≤ 150K characters of tool results.

Each batch once repeated the scenario, the response, the system prompt and every calibration example for every
criterion (1.6M characters for this study at k=200); now the rubric comes once, then only by hash, and each
response once with the IDs of its items. Measured over the in-memory MCP client, as an agent sees the results:
text content plus structured content. A finished study then re-decides in well under half a second.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import CallToolResult

from base_model_selector.decision.decide import decide
from base_model_selector.evaluate import evaluate
from base_model_selector.judging.rubric import load_rubric
from base_model_selector.server import build_server
from evaluate_fixture import CANDIDATE, edited, prepared_study, scripted
from fakes import FakeOllama

BUDGET = 150_000


def size(result: CallToolResult) -> int:
    text = sum(len(block.text) for block in result.content if block.type == "text")
    return text + len(json.dumps(result.structured_content or {}, ensure_ascii=False))


@pytest.mark.slow
def test_an_agent_judges_a_50_by_13_study_within_150k_characters_and_it_redecides_fast(tmp_path: Path) -> None:
    with FakeOllama(responder=scripted) as fake:
        fake.add_model(CANDIDATE)
        study = edited(
            prepared_study(tmp_path / "s", fake.url, n=50),
            ("mode: llm", "mode: agent"),
            ("agreement_sample: 0.1", "agreement_sample: 0"),
        )
        assert not asyncio.run(evaluate(study, CANDIDATE)).complete  # stops at step 6, waiting for the agent
    criteria = len(load_rubric(study.paths.rubric_yaml).criteria)
    assert criteria == 13

    async def judge() -> tuple[int, int]:
        spent = judged = 0
        context = None
        async with Client(build_server()) as client:
            while True:
                args = {"study": str(study.root), "model": CANDIDATE, "k": 200}
                batch = await client.call_tool("next_assessment_batch", args | {"context_hash": context})
                assert not batch.is_error, batch.content
                spent += size(batch)
                data = batch.structured_content
                context = data["context_hash"]
                ids = [i for r in data["responses"] for i in r["item_ids"]]
                verdicts = [{"item_id": i, "reasoning": "Meets it.", "answer": "YES"} for i in ids]
                recorded = await client.call_tool(
                    "record_assessments", {"study": str(study.root), "model": CANDIDATE, "verdicts": verdicts}
                )
                assert not recorded.is_error, recorded.content
                spent += size(recorded)
                judged += len(ids)
                if recorded.structured_content["pending"] == 0:
                    return spent, judged

    spent, judged = asyncio.run(judge())
    assert judged == 50 * criteria
    assert spent <= BUDGET, f"{spent:,} characters of tool results"
    decide(study, CANDIDATE)
    started = time.perf_counter()
    decision = decide(study, CANDIDATE)
    assert time.perf_counter() - started <= 0.5, "re-deciding a finished study"
    assert decision.pass_rate.assessed == 50
