"""The README's step-6 commands, run as written and in order after an LLM-judged run, never change that decision.

Following them once turned "6/12 passed → Fine-tune" into "1/1 passed = 100% → Likely sufficient": 20 agent
verdicts replaced the LLM judge's summary. The commands are read from the README itself, so the test follows
the docs a person follows.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from assess_fixture import CANDIDATE, make_study, scripted_judge
from base_model_selector.decision.decide import decide
from base_model_selector.study.types import SelectedModel, Selection
from fakes import FakeOllama
from shells import run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def step6_commands() -> list[list[str]]:
    section = README.read_text(encoding="utf-8").split("<!-- section:step-6 -->")[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README step 6 has no command block"
    commands = [shlex.split(line.split("  #")[0]) for line in block.group(1).splitlines() if line.strip()]
    return [c[2:] if c[:2] == ["uv", "run"] else c for c in commands]  # as written in a clone: `uv run ...`


def test_the_readme_step6_commands_after_an_llm_run_never_change_its_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = step6_commands()
    assert [c[3:5] if c[3] == "--json" else c[3:4] for c in commands] == [
        ["assess"],
        ["assess"],
        ["--json", "next-batch"],
        ["record"],
    ], "the README's step-6 sequence changed: update this test with it"
    with FakeOllama(responder=scripted_judge, parallel=2) as fake:
        study = make_study(tmp_path / "base-model-eval", fake.url)
        selection = Selection(primary=SelectedModel(candidate_id="qwen3-4b", name="Qwen3 4B", ollama_tag=CANDIDATE))
        study.write_json(study.paths.selection, selection)
        decisions = []
        batch: dict = {}
        for command in commands:
            args = [str(study.root) if a == "base-model-eval" else CANDIDATE if a == "qwen3:8b" else a for a in command]
            if "record" in args:
                # The worst case: the agent disagrees with the LLM judge on every item it judged.
                flipped = [
                    {"item_id": i, "reasoning": "I disagree.", "answer": "NO" if j % 2 else "YES"}
                    for j, i in enumerate(i for r in batch["responses"] for i in r["item_ids"])
                ]
                (tmp_path / "verdicts.json").write_text(json.dumps(flipped), encoding="utf-8")
                args = [str(tmp_path / a) if a == "verdicts.json" else a for a in args]
            code, out, err = run_cli(args[1:], capsys)
            assert code == 0, (args, out, err)
            if "next-batch" in args:
                batch = json.loads(out)
                assert batch["role"] == "comparison" and batch["batch"] == 20
            decisions.append(decide(study, CANDIDATE))
    first = decisions[0]
    for later in decisions[1:]:
        assert (later.pass_rate, later.verdict) == (first.pass_rate, first.verdict)
    agreements = {a.judge_b.split(" ")[0] for a in decisions[-1].judge.agreements}
    assert "agent:default" in agreements, "the agent's verdicts are reported as a comparison"
    assert decisions[-1].judge.judge.startswith("llm:") and decisions[-1].judge.verdicts == first.judge.verdicts
