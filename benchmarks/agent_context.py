"""How much context a whole study costs an agent that works only through the MCP tools.

Claude Code moves an MCP result over 50,000 characters to a file (the agent sees only its path) and stops at
25,000 tokens, and every tool result stays in the agent's context for the rest of the session. This benchmark
runs the MCP-only agent path — empty directory → init_study, write_taxonomy, write_rubric, research, table,
select, pull, check, plan, generate, sample scenarios, baseline, judging, decide, passing samples, document —
over the in-memory client against the test suite's loopback Ollama, on each shipped example, once with the LLM
judge and once with the agent judging every item itself (next_assessment_batch / record_assessments). It
prints each tool's result size (text + structured content, in characters) and the totals.

    uv run python benchmarks/agent_context.py [--examples customer-support ...] [--n 50]

Targets: no default result over 20,000 characters; a study costs ≤ 60,000 characters with the LLM judge and
≤ 200,000 with agent judging. It exits 1 when a target is missed. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the loopback fakes and the agent session live with the tests

from mcp import Client  # noqa: E402

from agent_session import Session, run_study  # noqa: E402
from base_model_selector.server import build_server  # noqa: E402
from base_model_selector.server.results import BUDGET  # noqa: E402
from fakes import FakeOllama  # noqa: E402
from fakes.roles import study_roles  # noqa: E402
from fakes.search import FakeDDGS  # noqa: E402

EXAMPLES = ("customer-support", "empathetic-coaching", "sql-analyst")
TOTAL_TARGET = {"llm": 60_000, "agent": 200_000}
TIMEOUT_S = 900


async def session(example: str, judge: str, n: int) -> Session:
    with FakeOllama(responder=study_roles) as fake, tempfile.TemporaryDirectory() as tmp:
        async with Client(build_server(searcher=FakeDDGS("empathetic_coaching.json"))) as client:
            with_timeout = asyncio.wait_for(
                run_study(client, Path(tmp) / "study", example, fake.url, judge=judge, n=n),  # type: ignore[arg-type]
                TIMEOUT_S,
            )
            return await with_timeout


def table(results: dict[tuple[str, str], Session]) -> list[str]:
    """One row per tool: calls and largest result in each run, then the totals."""
    runs = list(results)
    tools: list[str] = []
    for s in results.values():
        for call in s.calls:
            if call.tool not in tools:
                tools.append(call.tool)
    head = "| tool | " + " | ".join(f"{ex} ({judge})" for ex, judge in runs) + " |"
    lines = [head, "|---|" + "---:|" * len(runs)]
    for tool in tools:
        cells = []
        for run in runs:
            sizes = [c.chars for c in results[run].calls if c.tool == tool]
            cells.append(
                "—"
                if not sizes
                else f"{sizes[0]:,}"
                if len(sizes) == 1
                else f"{len(sizes)}× ≤{max(sizes):,} Σ{sum(sizes):,}"
            )
        lines.append(f"| {tool} | " + " | ".join(cells) + " |")
    lines.append(
        "| **largest result** | " + " | ".join(f"{max(c.chars for c in results[r].calls):,}" for r in runs) + " |"
    )
    lines.append("| **total** | " + " | ".join(f"**{results[r].total:,}**" for r in runs) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", default=list(EXAMPLES), choices=EXAMPLES)
    parser.add_argument("--judges", nargs="+", default=["llm", "agent"], choices=["llm", "agent"])
    parser.add_argument("--n", type=int, default=50, help="scenarios per study (default 50, as the examples)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the server logs each tool call; the table is the output
    results: dict[tuple[str, str], Session] = {}
    for example in args.examples:
        for judge in args.judges:
            results[(example, judge)] = asyncio.run(session(example, judge, args.n))
    print("\n".join(table(results)))
    missed: dict[str, list[str]] = defaultdict(list)
    for (example, judge), s in results.items():
        for call in s.calls:
            if call.chars > BUDGET:
                missed[f"{example} ({judge})"].append(f"{call.tool} returned {call.chars:,} > {BUDGET:,}")
        if s.total > TOTAL_TARGET[judge]:
            missed[f"{example} ({judge})"].append(f"total {s.total:,} > {TOTAL_TARGET[judge]:,}")
    for run, problems in missed.items():
        print(f"MISSED {run}: " + "; ".join(problems))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
