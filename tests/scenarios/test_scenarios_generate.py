"""generate_scenarios against the loopback Ollama: unique, tagged, cleaned, retried, resumable."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from base_model_selector.scenarios.generate import MAX_ATTEMPTS, generate_scenarios, plan_scenarios
from base_model_selector.scenarios.plan import ScenarioPlan
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import StepNotReady
from base_model_selector.study.storage import read_jsonl
from base_model_selector.study.types import Scenario
from example_studies import copy_example
from fakes import FakeOllama
from shells import run_cli

GENERATOR = "llama3.1:8b"
WORDS = (  # noqa: SIM905 - a word list reads better as text
    "invoice refund login export bank stripe crash sync reminder currency payroll owner template tax csv "
    "api key android iphone slow error duplicate vat plan trial upgrade downgrade cancel charge receipt "
    "backup code phone team role access report balance shopify zapier webhook limit pdf logo overdue "
    "client email spam bounce"
).split()


def make_study(
    root: Path, url: str, *, example: str = "customer-support", generator: str | None = GENERATOR, parallel: int = 1
) -> Study:
    """A copy of an example study pointed at the fake server."""
    copy_example(example, root)
    study_yaml = root / "study.yaml"
    text = study_yaml.read_text(encoding="utf-8")
    text = text.replace("hosts: []", f'hosts: ["{url}"]').replace("parallel: 1", f"parallel: {parallel}")
    text = text.replace("max_retries: 4", "max_retries: 1")
    if generator:
        text = text.replace("generator_model: null", f'generator_model: "{generator}"')
    study_yaml.write_text(text, encoding="utf-8")
    return Study.open(root)


def varied(request: dict[str, Any]) -> str:
    """A distinct, plausible user message per (prompt, seed): random words seeded by the request."""
    prompt = request["messages"][-1]["content"]
    seed = request.get("options", {}).get("seed")
    rng = random.Random(hashlib.sha256(f"{prompt}{seed}".encode()).hexdigest())
    return "my " + " ".join(rng.choice(WORDS) for _ in range(14)) + "?"


def scenarios_of(study: Study) -> list[Scenario]:
    return list(read_jsonl(study.paths.scenarios, Scenario).records)


def prompts(fake: FakeOllama) -> list[str]:
    return [body["messages"][-1]["content"] for body in fake.requests_to("/api/chat")]


def test_generated_scenarios_fill_every_plan_slot_once_with_their_cell_tags(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    result = asyncio.run(generate_scenarios(study, n=12))

    plan = study.read_json(study.paths.plan, ScenarioPlan)
    assert plan is not None and len(plan.slots) == 12
    scenarios = scenarios_of(study)
    assert (result.generated, result.already_done, result.failed) == (12, 0, [])
    assert len({s.id for s in scenarios}) == 12
    by_slot = {s.slot: s for s in scenarios}
    assert set(by_slot) == {p.slot for p in plan.slots}
    for slot in plan.slots:
        made = by_slot[slot.slot]
        assert (made.topic, made.subtopic, made.style, made.edge_case, made.persona) == (
            slot.topic,
            slot.subtopic,
            slot.style,
            slot.edge_case,
            slot.persona,
        )
        assert made.origin == "generated"
    attempts = read_jsonl(study.paths.scenario_attempts).records
    assert len(attempts) == 12 and all(a["outcome"] == "accepted" for a in attempts)


def test_generator_prompt_carries_the_cell_persona_edge_case_and_use_case(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    asyncio.run(generate_scenarios(study, n=12))
    plan = study.read_json(study.paths.plan, ScenarioPlan)
    assert plan is not None
    sent = prompts(fake_ollama)
    edge = next(s for s in plan.slots if s.edge_case)
    assert any(edge.edge_case in p and edge.topic in p and (edge.persona or "") in p for p in sent)
    assert all("Ledgerly" in p and "Reply with the user's message only" in p for p in sent)
    options = fake_ollama.requests_to("/api/chat")[0]["options"]
    assert options["temperature"] == 0.9 and isinstance(options["seed"], int)


def test_rerunning_a_finished_generation_makes_no_model_calls(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    asyncio.run(generate_scenarios(study, n=8))
    calls = fake_ollama.chat_count
    again = asyncio.run(generate_scenarios(study, n=8))
    assert (again.generated, again.already_done, again.model_calls) == (0, 8, 0)
    assert fake_ollama.chat_count == calls
    assert len(scenarios_of(study)) == 8


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(
            'Here is a realistic message:\n\n"why was I charged twice?"',
            "why was I charged twice?",
            id="preamble-and-quotes",
        ),
        pytest.param("User: my bank feed stopped on the 3rd", "my bank feed stopped on the 3rd", id="role-label"),
        pytest.param("```\ncan't log in since the update\n```", "can't log in since the update", id="fence"),
    ],
)
def test_generator_wrapping_is_stripped_from_the_scenario(
    tmp_path: Path, fake_ollama: FakeOllama, reply: str, expected: str
) -> None:
    fake_ollama.enqueue(reply)
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    asyncio.run(generate_scenarios(study, n=3))
    assert expected in [s.text for s in scenarios_of(study)]


def test_empty_and_refusing_replies_are_retried_with_a_new_seed(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.enqueue("", "I'm sorry, but I can't help with that.", "the export button does nothing")
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    result = asyncio.run(generate_scenarios(study, n=2))
    assert result.rejected == {"empty": 1, "refusal": 1}
    assert "the export button does nothing" in [s.text for s in scenarios_of(study)]
    seeds = [body["options"]["seed"] for body in fake_ollama.requests_to("/api/chat")[:3]]
    assert len(set(seeds)) == 3


def test_a_slot_that_only_gets_unusable_replies_is_reported_and_retried_on_the_next_run(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.responder = lambda request: ""
    study = make_study(tmp_path / "s", fake_ollama.url)
    result = asyncio.run(generate_scenarios(study, n=2))
    assert result.generated == 0 and len(result.failed) == 2
    assert "unusable" in result.failed[0].reason and result.model_calls == 2 * MAX_ATTEMPTS
    assert "Re-run generate" in result.summary()
    assert scenarios_of(study) == []

    fake_ollama.responder = varied
    retried = asyncio.run(generate_scenarios(study, n=2))
    assert (retried.generated, retried.failed) == (2, [])


def test_generate_that_cannot_fill_every_slot_exits_1_naming_each_slot_its_cell_and_why(
    tmp_path: Path, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = "I'm sorry, but I can't help with that."
    fake_ollama.responder = lambda request: refusal if "Specifically: refund request" in str(request) else ""
    study = make_study(tmp_path / "s", fake_ollama.url)
    code, out, _err = run_cli(["--study", str(study.root), "generate", "-n", "14"], capsys)
    assert code == 1
    plan = study.read_json(study.paths.plan, ScenarioPlan)
    assert plan is not None and len(plan.slots) == 14
    assert "14 planned slots could not be filled:" in out
    for slot in plan.slots:  # every one, not the first ten
        cell = " / ".join(p for p in (slot.topic, slot.subtopic, slot.style) if p)
        why = "refusal ×4" if "refund" in (slot.subtopic or "") else "empty ×4"
        assert f"{slot.slot} ({cell}" in out and f"all 4 replies were unusable ({why})" in out, slot


def test_a_near_duplicate_is_rejected_and_regenerated_with_the_duplicate_to_avoid(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    first = "Why was my card charged twice for the Growth plan this month?"
    fake_ollama.enqueue(first, "why was my card charged twice for the growth plan this month", "Stripe payouts stopped")
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    result = asyncio.run(generate_scenarios(study, n=2))
    assert result.rejected == {"duplicate": 1}
    texts = [s.text for s in scenarios_of(study)]
    assert texts == [first, "Stripe payouts stopped"]
    retry_prompt = prompts(fake_ollama)[2]
    assert "These messages already exist" in retry_prompt and first in retry_prompt


def test_generation_cancelled_part_way_resumes_with_exactly_one_scenario_per_slot(tmp_path: Path) -> None:
    with FakeOllama(parallel=2, delay=0.02, responder=varied) as fake:
        study = make_study(tmp_path / "s", fake.url, parallel=2)

        async def cancel_after_some() -> None:
            enough = asyncio.Event()

            async def progress(done: float, total: float | None, message: str) -> None:
                if done >= 4:
                    enough.set()

            task = asyncio.create_task(generate_scenarios(study, n=16, progress=progress))
            await asyncio.wait_for(enough.wait(), timeout=30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_after_some())
        partial = scenarios_of(study)
        assert 4 <= len(partial) < 16
        resumed = asyncio.run(generate_scenarios(study, n=16))

    assert resumed.already_done == len(partial) and resumed.failed == []
    scenarios = scenarios_of(study)
    plan = study.read_json(study.paths.plan, ScenarioPlan)
    assert plan is not None
    assert sorted(s.slot or "" for s in scenarios) == sorted(p.slot for p in plan.slots)
    assert len({s.id for s in scenarios}) == 16


def test_without_any_generator_model_the_error_says_how_to_choose_one(tmp_path: Path) -> None:
    study = make_study(tmp_path / "s", "http://127.0.0.1:9", generator=None)
    with pytest.raises(StepNotReady, match=r"scenarios\.generator_model"):
        asyncio.run(generate_scenarios(study, n=3))


def test_generate_replans_when_the_taxonomy_changed(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url)
    plan_scenarios(study, n=4)
    taxonomy = study.paths.taxonomy_yaml
    taxonomy.write_text(taxonomy.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    result = asyncio.run(generate_scenarios(study, n=4))
    assert any("taxonomy.yaml changed" in w for w in result.warnings)
    on_disk = json.loads(study.paths.plan.read_text(encoding="utf-8"))
    assert on_disk["taxonomy_sha256"] != ""


def test_with_no_generator_configured_the_candidate_writes_them_with_a_warning(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.responder = varied
    study = make_study(tmp_path / "s", fake_ollama.url, generator=None)
    result = asyncio.run(generate_scenarios(study, n=3, candidate=GENERATOR))
    assert result.model == GENERATOR and result.generated == 3
    assert any("writes its own test scenarios" in w for w in result.warnings)


@pytest.mark.slow
def test_generation_killed_with_sigkill_resumes_with_exactly_one_scenario_per_slot(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import threading

    calls = 0
    lock = threading.Lock()
    enough = threading.Event()

    def counting(request: dict[str, Any]) -> str:
        nonlocal calls
        with lock:
            calls += 1
            if calls >= 8:
                enough.set()
        return varied(request)

    with FakeOllama(parallel=2, delay=0.05, responder=counting) as fake:
        study = make_study(tmp_path / "s", fake.url, parallel=2)
        plan_scenarios(study, n=24)
        script = (
            "import asyncio, sys\n"
            "from base_model_selector.study.directory import Study\n"
            "from base_model_selector.scenarios.generate import generate_scenarios\n"
            "asyncio.run(generate_scenarios(Study.open(sys.argv[1])))\n"
        )
        child = subprocess.Popen([sys.executable, "-c", script, str(study.root)])
        try:
            assert enough.wait(timeout=60), "the child never reached the model server"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
        partial = scenarios_of(study)
        assert len(partial) < 24
        resumed = asyncio.run(generate_scenarios(study))

    assert resumed.failed == [] and resumed.already_done == len(partial)
    scenarios = scenarios_of(study)
    plan = study.read_json(study.paths.plan, ScenarioPlan)
    assert plan is not None
    assert sorted(s.slot or "" for s in scenarios) == sorted(p.slot for p in plan.slots)
    assert len({s.id for s in scenarios}) == 24
