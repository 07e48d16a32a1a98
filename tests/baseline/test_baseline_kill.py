"""A baseline run killed (SIGKILL) or interrupted (Ctrl-C) part-way resumes; every scenario is answered once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from base_model_selector.baseline.run import run_baseline
from baseline_fixture import FAST_RETRY, MODEL, add_scenarios, answers, make_study
from fakes import FakeOllama

N = 10
K = 4  # responses on disk when the run is killed


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition another process makes true, bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize(
    ("sig", "exit_code", "said"),
    [
        pytest.param("SIGKILL", -9, None, id="sigkill"),
        pytest.param("SIGINT", 130, "interrupted; finished results are saved", id="ctrl-c"),
    ],
)
def test_a_run_stopped_part_way_resumes_and_answers_every_scenario_exactly_once(
    tmp_path: Path, sig: str, exit_code: int, said: str | None
) -> None:
    arrived = threading.Event()
    release = threading.Event()
    calls = 0
    lock = threading.Lock()

    def responder(request: dict) -> None:
        """Let K requests through; hold the next one (as a slow model would) until the run is dead.

        Returning None gives the fake's default echo reply.
        """
        nonlocal calls
        with lock:
            calls += 1
            number = calls
        if number == K + 1:
            arrived.set()
            release.wait(30)

    with FakeOllama(responder=responder, delay=0.02) as fake:
        study = make_study(tmp_path / "study", [fake.url])
        add_scenarios(study, N)
        responses = study.paths.responses(MODEL)
        log = (tmp_path / "run.log").open("w")
        child = subprocess.Popen(
            [sys.executable, "-m", "base_model_selector", "--study", str(study.root), "run", "--model", MODEL],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BMS_LOG_LEVEL": "WARNING"},
        )
        try:
            assert arrived.wait(60), f"the run never reached request {K + 1}: {(tmp_path / 'run.log').read_text()}"

            def lines_on_disk() -> int:
                return responses.read_bytes().count(b"\n") if responses.exists() else 0

            wait_for(lambda: lines_on_disk() >= K, 30, f"{K} responses on disk")
            os.kill(child.pid, getattr(signal, sig))
            assert child.wait(30) == exit_code
        finally:
            release.set()
            if child.poll() is None:
                child.kill()
                child.wait(30)
            log.close()

        if said:
            assert said in (tmp_path / "run.log").read_text()
        assert responses.read_bytes().endswith(b"\n"), "nothing half-written"
        assert len(answers(study)) == K, "the stopped run left exactly the finished responses"
        before = fake.chat_count
        summary = asyncio.run(run_baseline(study, MODEL, retry=FAST_RETRY))
        assert summary.complete and summary.already_done == K and summary.new == N - K
        assert fake.chat_count - before == N - K, "finished scenarios are not asked again"

    final = answers(study)  # asserts each scenario appears once
    assert sorted(final) == [f"s{i:03d}" for i in range(N)]
    assert all(text.startswith("Echo: Customer question") for text in final.values())
