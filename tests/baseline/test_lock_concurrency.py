"""In one MCP server, calls that wait for the study lock must not freeze a running baseline: the latencies it
records feed the decision document's p95, so a blocked event loop would be written down as a slow model."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from base_model_selector.server import build_server
from base_model_selector.study import storage
from base_model_selector.study.types import BaselineResponse
from baseline_fixture import MODEL, add_scenarios, make_study
from fakes import FakeOllama

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer-support"
DELAY_S = 0.05  # the fake model's time per reply
SCENARIOS = 60  # ≈ 3 s of baseline: longer than the 2 s the other calls wait for the lock


@pytest.mark.slow
def test_calls_waiting_for_the_lock_do_not_inflate_the_latencies_a_running_baseline_records(tmp_path: Path) -> None:
    with FakeOllama(delay=DELAY_S) as server:
        study = make_study(tmp_path / "s", [server.url])
        add_scenarios(study, SCENARIOS)
        shutil.copy(EXAMPLE / "taxonomy.yaml", study.root / "taxonomy.yaml")  # so plan_scenarios gets to the lock
        sink = study.paths.responses(MODEL)
        waiting: dict[str, Any] = {}

        async def flow() -> None:
            running = anyio.Event()

            async def progress(done: float, total: float | None, message: str | None) -> None:
                if done >= 3:  # three replies in: the baseline holds the lock
                    running.set()

            async with Client(build_server()) as client, anyio.create_task_group() as group:
                args = {"study": str(study.root), "model": MODEL}
                group.start_soon(functools.partial(client.call_tool, "run_baseline", args, progress_callback=progress))
                with anyio.fail_after(20):
                    await running.wait()

                async def wait_for_lock(name: str, args: dict[str, Any]) -> None:
                    waiting[name] = await client.call_tool(name, {"study": str(study.root), **args})

                group.start_soon(wait_for_lock, "check_model", {"model": MODEL})  # async tool
                group.start_soon(wait_for_lock, "plan_scenarios", {})  # sync tool (in a worker thread)

        anyio.run(flow)
        assert not server.errors
    records = storage.read_jsonl(sink, BaselineResponse).records
    assert len(records) == SCENARIOS
    assert max(r.latency_s for r in records) < 1.0, sorted(r.latency_s for r in records)[-3:]
    busy = {name: result.content[0].text for name, result in waiting.items()}  # type: ignore[union-attr]
    assert all("the study is busy (pid" in text for text in busy.values()), busy
