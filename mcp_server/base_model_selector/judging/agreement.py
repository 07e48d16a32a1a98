"""Judge agreement: re-judge a random sample of verdicts and measure how often the two judgings agree.

A pass rate is only as trustworthy as the judge behind it. Re-judging a seeded random sample (default 10%, at
least 5) with a second judge, or with the same judge sampled at a non-zero temperature, and reporting percent
agreement and Cohen's κ shows whether the verdicts are stable enough to act on. The second judgings live in
runs/<model>/agreement.jsonl, apart from the verdicts that score, and are cached like every other model call.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from base_model_selector.judging.llm_judge import LLMJudge
from base_model_selector.judging.scoring import cohen_kappa, percent_agreement
from base_model_selector.serving.backends import Backend, ProgressFn, using
from base_model_selector.serving.engine import RetryPolicy, run_work
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import Agreement, CriterionVerdict

if TYPE_CHECKING:
    from base_model_selector.judging.verdicts import Inputs, KeyFn

DEFAULT_FRACTION = 0.10
MIN_SAMPLE = 5


def sample_fraction(configured: float, enabled: bool | None, fraction: float | None) -> float:
    """The share to re-judge: off when disabled; an explicit fraction; 10% when merely enabled; else study.yaml."""
    if enabled is False:
        return 0.0
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ConfigError(f"agreement sample {fraction}: use a fraction in (0, 1], e.g. 0.1 for 10%")
        return fraction
    if enabled:
        return configured or DEFAULT_FRACTION
    return configured


def sample_size(population: int, fraction: float) -> int:
    """ceil(fraction × population), at least MIN_SAMPLE, at most the population."""
    return min(population, max(MIN_SAMPLE, math.ceil(fraction * population)))


def choose(keys: list[str], fraction: float, seed: int) -> list[str]:
    """A seeded random sample: the same verdicts are re-judged on every run with the same seed."""
    ordered = sorted(keys)
    return sorted(random.Random(seed).sample(ordered, sample_size(len(ordered), fraction)))


async def rejudge_sample(
    study: Study,
    inputs: Inputs,
    index: Mapping[str, CriterionVerdict],
    key_of: KeyFn,
    fraction: float,
    *,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
    judge: LLMJudge | None = None,
) -> Agreement:
    """Re-judge a sample of the current criterion verdicts and compare the answers."""
    cfg = study.config.judge
    model = cfg.agreement_model or (judge.model if judge else cfg.model)
    if model is None:
        raise ConfigError(
            f"{study.paths.study_yaml}: judge.agreement_model: agreement needs a model to re-judge with; set "
            "judge.agreement_model (or judge.model), or turn the agreement sample off"
        )
    criteria = {c.id: c for c in inputs.rubric.criteria}
    population: dict[str, Any] = {}
    for pair in inputs.pairs:
        for cid in criteria:
            verdict = index.get(key_of(pair, cid))
            if verdict is not None:
                population[verdict.key] = (pair, criteria[cid], verdict)
    chosen = choose(list(population), fraction, cfg.seed) if population else []
    sink = study.paths.agreement_verdicts(inputs.model)
    async with using(study.config.backend, backend) as server:
        info = await server.show(model)
        second = LLMJudge(
            backend=server,
            model=model,
            digest=info.digest or f"name:{model}",
            seed=cfg.seed + 1,
            study_dir=study.root,
            system_prompt=study.system_prompt(),
            domain=study.config.domain,
            temperature=cfg.agreement_temperature,
            num_predict=cfg.num_predict,
            num_ctx=cfg.num_ctx,
        )
        tasks = [second.plan([population[k][0]], [population[k][1]], batched=False)[0] for k in chosen]
        second.num_ctx = second.context_size(tasks)
        await run_work(
            second.work_items(tasks),
            second.judge,
            sink,
            append=study.append,
            concurrency=max(1, min(server.slots, len(tasks) or 1)),
            retry=RetryPolicy.from_config(study.config.backend),
            progress=progress,
        )
    again = {v.key: v for v in study.read_jsonl(sink, CriterionVerdict).records}
    first_answers, second_answers, differ = [], [], []
    for key, task in zip(chosen, tasks, strict=True):
        redo = again.get(task.key)
        if redo is None:
            continue
        pair, criterion, verdict = population[key]
        first_answers.append(verdict.answer)
        second_answers.append(redo.answer)
        if verdict.answer != redo.answer:
            differ.append(f"{pair.scenario.id}/{criterion.id}: {verdict.answer.value} vs {redo.answer.value}")
    agree = len(first_answers) - len(differ)
    return Agreement(
        sample=len(first_answers),
        agree=agree,
        percent_agreement=percent_agreement(first_answers, second_answers),
        kappa=cohen_kappa(first_answers, second_answers),
        seed=cfg.seed,
        judge=f"{second.label} @ temperature {second.temperature:g}",
        disagreements=differ,
    )
