"""Builders for the step 3/5 tests: a study pointed at loopback fake servers, with scenarios on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from base_model_selector.serving.engine import RetryPolicy
from base_model_selector.study import storage
from base_model_selector.study.directory import Study, init_study
from base_model_selector.study.types import BaselineResponse, Scenario

MODEL = "qwen3:4b"
FAST_RETRY = RetryPolicy(max_retries=6, base_delay_s=0.001, max_delay_s=0.01, max_elapsed_s=30)
"""Retries without real backoff, so fault tests stay fast."""


def make_study(
    root: Path,
    hosts: list[str],
    *,
    parallel: int = 1,
    generation: dict[str, Any] | None = None,
    system_prompt: str = "You are a helpful support agent.",
    force: bool = False,
    **backend: Any,
) -> Study:
    """A study using `hosts`; with `force`, rewrite the study.yaml of an existing study (its files stay)."""
    init_study(root, domain="customer support", system_prompt=system_prompt, force=force)
    path = root / "study.yaml"
    data = yaml.safe_load(path.read_text())
    data["backend"].update(hosts=hosts, parallel=parallel, **backend)
    data["generation"].update(generation or {})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return Study.open(root)


def scenario(i: int) -> Scenario:
    return Scenario(id=f"s{i:03d}", text=f"Customer question number {i}: where is my parcel {i}?", topic="orders")


def add_scenarios(study: Study, n: int) -> list[Scenario]:
    scenarios = [scenario(i) for i in range(n)]
    storage.append_jsonl(study.paths.scenarios, scenarios)
    return scenarios


def responses(study: Study, model: str = MODEL) -> list[BaselineResponse]:
    read = storage.read_jsonl(study.paths.responses(model), BaselineResponse)
    assert not read.torn_tail
    return read.records


def answers(study: Study, model: str = MODEL) -> dict[str, str]:
    """scenario ID → response text, asserting each scenario was answered exactly once."""
    records = responses(study, model)
    ids = [r.scenario_id for r in records]
    assert len(ids) == len(set(ids)), f"scenarios answered more than once: {sorted(ids)}"
    return {r.scenario_id: r.text for r in records}
