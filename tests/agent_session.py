"""An MCP-only agent running a whole study: from an empty directory to the decision document, tools only.

This is the path an agent without file tools takes (SKILL.md's eight steps), driven through an in-memory MCP
client against a loopback model server. What the agent "knows" — the domain, the system prompt, the taxonomy and
rubric it writes with the user — is taken from one of the shipped example studies and passed as tool arguments;
nothing is written to disk except by the tools. Every result is recorded (tool, characters), so the same session
is a test (tests/interfaces/test_agent_path.py) and a benchmark of how much context a study costs an agent
(benchmarks/agent_context.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from mcp import Client
from mcp.types import CallToolResult

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CANDIDATE = "gemma3:270m"  # pullable from the fake registry, not present: the agent pulls it
JUDGE = "llama3.1:8b"
MAX_BATCHES = 500
BATCH_K = 200  # the batch size SKILL.md tells an agent to ask for


@dataclass
class Call:
    tool: str
    chars: int
    text_chars: int
    is_error: bool


@dataclass
class Session:
    """What the agent saw: one `Call` per tool result, in order."""

    calls: list[Call] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)
    results: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(c.chars for c in self.calls)


def result_chars(result: CallToolResult) -> tuple[int, int]:
    """(text + compact structured JSON, text alone): what the client receives, in characters."""
    text = sum(len(getattr(block, "text", "")) for block in result.content)
    structured = result.structured_content
    extra = 0 if structured is None else len(json.dumps(structured, ensure_ascii=False, separators=(",", ":")))
    return text + extra, text


def agent_knowledge(example: str) -> dict[str, Any]:
    """What the agent learnt from the user, as tool arguments: the example's study, prompt, taxonomy, rubric."""
    root = EXAMPLES / example
    study = yaml.safe_load((root / "study.yaml").read_text(encoding="utf-8"))
    prompt = (root / study.pop("system_prompt_file")).read_text(encoding="utf-8").strip()
    init = {
        "domain": study.pop("domain"),
        "use_case": study.pop("use_case", ""),
        "size_min_b": study["size_b"]["min"],
        "size_max_b": study.pop("size_b")["max"],
        "commercial_use": study.pop("commercial_use", True),
        "system_prompt": prompt,
        "max_turns": study.pop("max_turns", 1),
        "tokens_per_message": study.pop("tokens_per_message", 200),
    }
    return {
        "init": init,
        "settings": study,  # every other key of the example, by section
        "taxonomy": yaml.safe_load((root / "taxonomy.yaml").read_text(encoding="utf-8")),
        "rubric": yaml.safe_load((root / "rubric.yaml").read_text(encoding="utf-8")),
    }


def item_ids(data: Any) -> list[str]:
    """Every item ID in a batch (`item_id` fields or `item_ids` lists), however the batch groups its items."""
    if isinstance(data, dict):
        found = [data["item_id"]] if isinstance(data.get("item_id"), str) else []
        found += [i for i in data.get("item_ids") or [] if isinstance(i, str)]
        return found + [i for k, v in data.items() if k != "item_ids" for i in item_ids(v)]
    if isinstance(data, list):
        return [i for v in data for i in item_ids(v)]
    return []


async def run_study(
    client: Client,
    study: Path,
    example: str,
    model_server: str,
    *,
    judge: Literal["llm", "agent"] = "llm",
    n: int = 50,
) -> Session:
    """Steps 1–8 over MCP for `example`'s domain, writing nothing but through the tools."""
    session = Session()
    knowledge = agent_knowledge(example)
    s = str(study)

    async def call(tool: str, **args: Any) -> dict[str, Any]:
        result = await client.call_tool(tool, {"study": s, **args})
        chars, text = result_chars(result)
        session.calls.append(Call(tool, chars, text, result.is_error))
        if result.is_error:
            raise AssertionError(f"{tool} failed: {result.content[0].text}")  # type: ignore[union-attr]
        session.last = result.structured_content or {}
        session.results.append((tool, session.last))
        return session.last

    settings = {
        **knowledge["settings"],
        "backend.hosts": [model_server],
        "backend.max_retries": 1,
        "judge.model": JUDGE,
        "judge.mode": judge,
        "scenarios.n": n,
    }
    await call("init_study", **knowledge["init"], settings=settings)
    await call("write_taxonomy", **knowledge["taxonomy"])
    await call("write_rubric", **knowledge["rubric"])
    await call("study_status")
    await call("research_candidates")
    table = await call("build_comparison_table")
    primary, backup = table["rows"][0]["id"], table["rows"][1]["id"]
    await call(
        "select_model",
        primary={"candidate": primary, "ollama_tag": CANDIDATE, "rationale": "best fit in the table"},
        backup={"candidate": backup},
    )
    await call("pull_model")
    await call("check_model")
    await call("plan_scenarios")
    await call("generate_scenarios")
    await call("show_samples", limit=10)  # the eight to ten sample scenarios shown to the user
    await call("run_baseline")
    if judge == "agent":
        context: dict[str, Any] = {}  # as SKILL.md says: the rubric comes once, then by its hash
        for _ in range(MAX_BATCHES):
            batch = await call("next_assessment_batch", k=BATCH_K, **context)
            context = {"context_hash": batch["context_hash"]} if batch.get("context_hash") else {}
            ids = item_ids(batch.get("responses", batch))
            if not ids:
                break
            verdicts = [{"item_id": i, "reasoning": "The reply meets the criterion.", "answer": "YES"} for i in ids]
            await call("record_assessments", verdicts=verdicts)
        else:
            raise AssertionError(f"agent judging did not finish in {MAX_BATCHES} batches")
        await call("assess_responses", mode="agent")
    else:
        await call("assess_responses")
    decision = await call("decide")
    await call("show_samples", outcome="passed", limit=5)  # passing responses, read with the user
    worst = [c["criterion_id"] for c in decision["failures"]["criteria"] if c.get("failures")][:1]
    patterns = {worst[0]: "Answers without reading the product facts"} if worst else {}
    await call(
        "write_decision_doc",
        qualitative_notes="Polite and on topic; guesses at facts it was not given.",
        failure_patterns=patterns,
        next_steps="Collect 200 real conversations for a targeted fine-tune.",
    )
    await call("study_status")
    return session
