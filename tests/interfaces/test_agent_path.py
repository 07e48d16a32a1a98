"""An MCP-only agent goes from an empty directory to the decision document, through the tools alone.

An agent without file tools (any MCP client) must be able to run a whole study: create it, write the taxonomy
and the rubric, research and select, pull, generate, run, judge, decide and document — and every result it reads
on the way must fit the client. The test writes no file itself: only the tools do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mcp import Client

from agent_session import Session, run_study
from base_model_selector.decision.document_check import check_document
from base_model_selector.server import build_server
from base_model_selector.server.results import BUDGET
from fakes import FakeOllama
from fakes.roles import study_roles
from fakes.search import FakeDDGS


def run(tmp_path: Path, judge: str, n: int) -> tuple[Session, Path]:
    study = tmp_path / "study"
    assert not study.exists()
    with FakeOllama(responder=study_roles) as fake:

        async def session() -> Session:
            async with Client(build_server(searcher=FakeDDGS("empathetic_coaching.json"))) as client:
                return await asyncio.wait_for(
                    run_study(client, study, "customer-support", fake.url, judge=judge, n=n),  # type: ignore[arg-type]
                    300,
                )

        return asyncio.run(session()), study


@pytest.mark.slow
def test_an_mcp_only_agent_reaches_the_decision_document_from_an_empty_directory(tmp_path: Path) -> None:
    session, study = run(tmp_path, "llm", n=12)
    doc = study / "docs" / "base-model-evaluation.md"
    text = doc.read_text(encoding="utf-8")
    assert check_document(text) == []
    assert "Polite and on topic" in text, "the agent's notes reached the document"
    assert {p.name for p in study.iterdir()} >= {"study.yaml", "taxonomy.yaml", "rubric.yaml", "selection.json"}
    assert all(c.chars <= BUDGET for c in session.calls), [(c.tool, c.chars) for c in session.calls]
    assert session.last["next_step"] is None


@pytest.mark.slow
def test_an_mcp_only_agent_can_judge_every_response_itself(tmp_path: Path) -> None:
    session, study = run(tmp_path, "agent", n=3)
    assert (study / "docs" / "base-model-evaluation.md").exists()
    tools = [c.tool for c in session.calls]
    assert "record_assessments" in tools and tools.count("next_assessment_batch") >= 2
    assert all(c.chars <= BUDGET for c in session.calls)
