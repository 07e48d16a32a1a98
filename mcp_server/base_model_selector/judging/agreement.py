"""Judge agreement: how often a second judge gives the same verdict as the judge the decision rests on.

A pass rate is only as trustworthy as the judge behind it. Two kinds of second judge are compared with the
primary (A) on the items both judged:

- a **re-judge** by an LLM (`judge.agreement_model`, else the judge model), of a seeded random sample of the
  primary's verdicts (default 10%, at least 5), kept in runs/<model>/agreement.jsonl apart from the verdicts that
  score and cached like every model call. Its temperature is recorded and shown: 0.7 by default when it is the
  primary's own model (at 0 a greedy judge repeats itself, which measures nothing), 0 when it is another judge;
- every **other judge** that judged some of the same items: an agent, a person, another LLM.

Each comparison names both judges with their settings, says how the items were drawn, and reports percent
agreement and Cohen's κ overall and per criterion where there are enough items. κ below `judge.min_kappa`
(0.6 by default) on at least 5 items is a warning, repeated wherever the pass rate is shown. ERROR verdicts are
no judgement, so an item where either judge has one is left out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from base_model_selector.judging import judges
from base_model_selector.judging.llm_judge import LLMJudge
from base_model_selector.judging.scoring import cohen_kappa, percent_agreement
from base_model_selector.serving.backends import Backend, ProgressFn, using
from base_model_selector.serving.engine import RetryPolicy, run_work
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ConfigError
from base_model_selector.study.types import Agreement, Answer, CriterionAgreement, CriterionVerdict

if TYPE_CHECKING:
    from base_model_selector.judging.verdicts import Inputs, Item

DEFAULT_FRACTION = 0.10
MIN_SAMPLE = 5
MIN_PER_CRITERION = 10  # fewer items of one criterion say too little for a per-criterion κ
SAME_MODEL_TEMPERATURE = 0.7
REJUDGE = "re-judge"


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
    """A seeded random sample: the same items are re-judged on every run with the same seed."""
    ordered = sorted(keys)
    return sorted(random.Random(seed).sample(ordered, sample_size(len(ordered), fraction)))


Pairing = tuple["Item", CriterionVerdict, CriterionVerdict]


def compare(
    judge_a: str,
    judge_b: str,
    paired: Sequence[Pairing],
    *,
    sampling: str,
    min_kappa: float,
    seed: int | None = None,
) -> Agreement:
    """Agreement of B with A over (item, A's verdict, B's verdict) triples; ERROR on either side is left out."""
    usable = [(i, a, b) for i, a, b in paired if Answer.ERROR not in (a.answer, b.answer)]
    first = [a.answer for _, a, _ in usable]
    second = [b.answer for _, _, b in usable]
    per: dict[str, list[tuple[Answer, Answer]]] = {}
    for item, a, b in usable:
        per.setdefault(item.criterion.id, []).append((a.answer, b.answer))
    by_criterion = [
        CriterionAgreement(
            criterion_id=cid,
            n=len(pairs),
            agree=sum(1 for x, y in pairs if x == y),
            percent_agreement=percent_agreement([x for x, _ in pairs], [y for _, y in pairs]),
            kappa=cohen_kappa([x for x, _ in pairs], [y for _, y in pairs])
            if len(pairs) >= MIN_PER_CRITERION
            else None,
        )
        for cid, pairs in per.items()
    ]
    kappa = cohen_kappa(first, second)
    warning = None
    if kappa is not None and kappa < min_kappa and len(usable) >= MIN_SAMPLE:
        warning = (
            f"low judge agreement: {judge_b} vs {judge_a}, Cohen's κ = {kappa:.2f} on {len(usable)} items "
            f"(below judge.min_kappa {min_kappa:g}) — sharpen the criteria and calibration examples or change the "
            "judge before acting on the pass rate"
        )
    return Agreement(
        judge_a=judge_a,
        judge_b=judge_b,
        sampling=sampling,
        sample=len(usable),
        agree=sum(1 for x, y in zip(first, second, strict=True) if x == y),
        percent_agreement=percent_agreement(first, second),
        kappa=kappa,
        seed=seed,
        by_criterion=by_criterion,
        min_kappa=min_kappa,
        warning=warning,
        disagreements=[
            f"{i.pair.scenario.id}/{i.criterion.id}: {a.answer.value} vs {b.answer.value}"
            for i, a, b in usable
            if a.answer != b.answer
        ],
    )


def rejudge_temperature(study: Study, model: str, primary_model: str | None) -> float:
    configured = study.config.judge.agreement_temperature
    if configured is not None:
        return configured
    return SAME_MODEL_TEMPERATURE if model == primary_model else 0.0


async def rejudge_sample(
    study: Study,
    inputs: Inputs,
    all_items: list[Item],
    primary: Mapping[str, CriterionVerdict],
    judge_a: str,
    fraction: float,
    *,
    backend: Backend | None = None,
    progress: ProgressFn | None = None,
    judge: LLMJudge | None = None,
) -> tuple[Agreement, int]:
    """Re-judge a seeded sample of the primary's verdicts (item key → verdict) with an LLM and compare them.

    Returns the agreement and the judge calls actually made (0 when every re-judgement was already stored).
    """
    cfg = study.config.judge
    primary_model = judge.model if judge else None
    model = cfg.agreement_model or primary_model or cfg.model
    if model is None:
        raise ConfigError(
            f"{study.paths.study_yaml}: judge.agreement_model: agreement needs a model to re-judge with; set "
            "judge.agreement_model (or judge.model), or turn the agreement sample off"
        )
    by_key = {i.key: i for i in all_items}
    population = sorted(k for k, v in primary.items() if k in by_key and v.answer is not Answer.ERROR)
    chosen = choose(population, fraction, cfg.seed) if population else []
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
            temperature=rejudge_temperature(study, model, primary_model),
            num_predict=cfg.num_predict,
            num_ctx=cfg.num_ctx,
        )
        tasks = [second.plan([by_key[k].pair], [by_key[k].criterion], batched=False)[0] for k in chosen]
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
    paired = [(by_key[k], primary[k], again[t.key]) for k, t in zip(chosen, tasks, strict=True) if t.key in again]
    agreement = compare(
        judge_a,
        judges.describe(second.label, second.settings()),
        paired,
        sampling=(
            f"{REJUDGE}: a seeded random sample (seed {cfg.seed}) of {fraction:.0%} of the {len(population)} items "
            f"{judge_a.split(' ')[0]} judged (at least {MIN_SAMPLE}), judged again"
        ),
        min_kappa=cfg.min_kappa,
        seed=cfg.seed,
    )
    return agreement, second.calls
