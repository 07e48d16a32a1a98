"""Step 6's results: what the decision rests on, and every judge's record beside it.

`state()` answers, from the files alone and without calling or re-rendering anything, where step 6 stands for
the primary judge (judges.py): which current items it has judged, which a person overruled, how many remain.
Only when every (response, criterion) item has a verdict that counts — the primary's, or a person's that
replaces it — is there a pass rate: `write()` then scores them into runs/<model>/assessments.json with the
`Basis` it rests on. Until then there is no rate on a subset, only "k of n items judged".

Each judge also keeps its own record, runs/<model>/judges/<judge>.json: its coverage, its own scores once it has
judged everything, and for an LLM judge the key of every item's verdict plus a fingerprint of what those keys
were computed from. No judge's record or verdicts ever replace another's; comparisons with the primary are
reported as agreement (agreement.py).

`item_table()` lists the items with every judge's verdict side by side, for a viewer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from base_model_selector.judging import agreement as agreement_mod
from base_model_selector.judging import judges
from base_model_selector.judging.checks import check_verdicts
from base_model_selector.judging.llm_judge import LLMJudge
from base_model_selector.judging.scoring import score_response, summarise
from base_model_selector.judging.verdicts import Inputs, Item, KeyMap, VerdictStore, items, load_inputs
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import Fix, StudyError, cli_command
from base_model_selector.study.types import (
    DEFAULT_AGENT,
    Agreement,
    Answer,
    Assessment,
    AssessmentReport,
    AssessmentSummary,
    Basis,
    CriterionVerdict,
    JudgeRecord,
)

CHECKS_ONLY = "checks"


# ------------------------------------------------------------------------------------------------ LLM judge keys
def _offline_judge(study: Study, settings: dict[str, Any]) -> LLMJudge:
    """An LLM judge as a record describes it, for its fingerprint only: it never calls a server."""
    return LLMJudge(
        backend=None,  # type: ignore[arg-type]
        model=settings["model"],
        digest=settings.get("digest"),
        seed=settings["seed"],
        study_dir=study.root,
        system_prompt=study.system_prompt(),
        domain=study.config.domain,
        temperature=settings["temperature"],
        num_predict=settings["num_predict"],
    )


def llm_records(study: Study, inputs: Inputs) -> dict[str, JudgeRecord]:
    """The LLM judges whose stored keys are current: same responses, rubric, prompts and templates as now."""
    folder = study.paths.judge_record(inputs.model, "x").parent
    out: dict[str, JudgeRecord] = {}
    for path in sorted(folder.glob("llm-*.json")) if folder.is_dir() else []:
        record = study.read_json(path, JudgeRecord)
        if record is None or not record.keys or "model" not in record.settings:
            continue
        offline = _offline_judge(study, record.settings)
        fingerprint = offline.fingerprint(inputs.pairs, inputs.rubric.criteria, batched=record.settings["batched"])
        if fingerprint == record.fingerprint:
            out[record.judge] = record
    return out


def judge_keys(study: Study, inputs: Inputs) -> dict[str, KeyMap]:
    """Identity → (scenario, criterion) → verdict key, for every LLM judge whose keys are current."""
    return {identity: judge_keys_of(record) for identity, record in llm_records(study, inputs).items()}


def judge_keys_of(record: JudgeRecord) -> KeyMap:
    return {(sid, cid): key for sid, per in record.keys.items() for cid, key in per.items()}


def key_map(keys: KeyMap) -> dict[str, dict[str, str]]:
    nested: dict[str, dict[str, str]] = {}
    for (sid, cid), key in keys.items():
        nested.setdefault(sid, {})[cid] = key
    return nested


# ------------------------------------------------------------------------------------------------ where step 6 stands
@dataclass
class State:
    """The primary judge's verdicts on the current items, with the people's overrides laid over them."""

    inputs: Inputs
    items: list[Item]
    store: VerdictStore
    primary: judges.Primary
    identity: str  # the primary's identity (an LLM primary without a current record: its label)
    keys: KeyMap | None  # the LLM primary's keys, when current
    own: dict[str, CriterionVerdict]  # item key → the primary's own verdict
    counting: dict[str, CriterionVerdict] = field(default_factory=dict)  # item key → the verdict that counts
    overridden: int = 0
    changed: int = 0
    people: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def judged(self) -> int:
        return len(self.counting)

    @property
    def complete(self) -> bool:
        return self.judged == self.total

    def coverage(self) -> str:
        return f"{self.judged} of {self.total} items judged by {self.identity}"


def state(
    study: Study,
    model: str | None = None,
    mode: str | None = None,
    *,
    inputs: Inputs | None = None,
    store: VerdictStore | None = None,
    llm: tuple[str, KeyMap] | None = None,
) -> State:
    """Where step 6 stands for the primary judge (`mode`, else judge.mode), from the files alone.

    An LLM primary's keys come from `llm` (the judge just run) or from its current record; without either its
    items count as unjudged, and the fix is to run assess.
    """
    inputs = inputs or load_inputs(study, model)
    store = store or VerdictStore.read(study, inputs.model)
    primary = judges.primary_judge(study, inputs.model, mode)
    all_items = items(inputs)
    identity, keys = primary.label, None
    if llm is not None:
        identity, keys = llm
    elif primary.kind == "llm":
        settings = judges.llm_settings(study)
        batched = settings.pop("batched")  # asking per criterion or per response is how, not who: either counts
        wanted = settings | {"model": primary.model}
        matching = [r for r in llm_records(study, inputs).values() if {k: r.settings.get(k) for k in wanted} == wanted]
        if matching:
            latest = max(matching, key=lambda r: (r.settings.get("batched") == batched, r.updated_at))
            identity, keys = latest.judge, judge_keys_of(latest)
    own = store.verdicts_of(identity, all_items, keys) if (keys is not None or primary.kind != "llm") else {}
    result = State(inputs, all_items, store, primary, identity, keys, own)
    people: set[str] = set()
    for item in all_items:
        person = store.people.get(item.key)
        mine = own.get(item.key)
        if person is not None and person.judge != identity:
            result.counting[item.key] = person
            result.overridden += 1
            result.changed += mine is None or mine.answer != person.answer
            people.add(person.judge)
        elif mine is not None:
            result.counting[item.key] = mine
    result.people = sorted(people)
    return result


def finish_hint(study: Study, st: State) -> str:
    """The exact tool and command that finish step 6 for the primary judge."""
    cli = f"base-model-selector --study {study.root}"
    if st.primary.kind == "llm":
        return f"assess_responses (CLI `{cli} assess --model {st.inputs.model}`)"
    if st.identity == DEFAULT_AGENT:
        return (
            f"next_assessment_batch, then record_assessments (CLI `{cli} --json next-batch`, then `{cli} record FILE`)"
        )
    return (
        f"next_assessment_batch and record_assessments with judge={st.identity!r} (CLI `{cli} --json next-batch "
        f"--judge {st.identity}`, then `{cli} record FILE --judge {st.identity}`)"
    )


def finish_fixes(study: Study, st: State) -> tuple[Fix, ...]:
    """`finish_hint` as an error's fixes: the tool (with its arguments) and the command, for each shell to say."""
    args = {"study": str(study.root), "model": st.inputs.model}
    if st.primary.kind == "llm":
        return (Fix("assess_responses", cli_command(study.root, f"assess --model {st.inputs.model}"), args),)
    who = "" if st.identity == DEFAULT_AGENT else f" --judge {st.identity}"
    judge = {} if st.identity == DEFAULT_AGENT else {"judge": st.identity}
    return (
        Fix("next_assessment_batch", cli_command(study.root, f"--json next-batch{who}"), {**args, **judge}),
        Fix("record_assessments", cli_command(study.root, f"record FILE{who}"), {**args, **judge, "verdicts": []}),
    )


def previous_report(study: Study, model: str) -> AssessmentReport | None:
    """assessments.json as last written, or None (absent, or from a version before judges had identities)."""
    try:
        return study.read_json(study.paths.assessments(model), AssessmentReport)
    except StudyError:
        return None


# ------------------------------------------------------------------------------------------------ scores and reports
def score(inputs: Inputs, all_items: list[Item], verdicts: dict[str, CriterionVerdict]) -> list[Assessment]:
    """Score every response whose criteria all have a verdict in `verdicts` (item key → verdict)."""
    by_pair: dict[str, list[Item]] = {}
    for item in all_items:
        by_pair.setdefault(item.pair.response.key, []).append(item)
    out = []
    for pair in inputs.pairs:
        mine = by_pair.get(pair.response.key, [])
        found = [verdicts.get(i.key) for i in mine]
        if any(v is None for v in found):
            continue
        chosen = [v for v in found if v is not None]
        assessment = score_response(
            inputs.rubric,
            [*chosen, *check_verdicts(inputs.rubric, pair.response)],
            scenario_id=pair.scenario.id,
            response_key=pair.response.key,
        )
        assessment.judged_by = {v.criterion_id: v.judge for v in chosen if judges.kind(v.judge) == "human"}
        out.append(assessment)
    return out


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def responses_sha256(inputs: Inputs) -> str:
    return sha256_text("\n".join(f"{p.scenario.id} {p.response.key}" for p in inputs.pairs))


def rubric_sha256(study: Study) -> str:
    return hashlib.sha256(study.paths.rubric_yaml.read_bytes()).hexdigest()


def comparisons(study: Study, st: State, llm: dict[str, KeyMap], label_a: str) -> list[Agreement]:
    """The primary's own verdicts against every other judge's on the items both judged."""
    cfg = study.config.judge
    others: dict[str, dict[str, CriterionVerdict]] = {
        j: st.store.verdicts_of(j, st.items) for j in st.store.recording_judges() if j != st.identity
    }
    others |= {j: st.store.verdicts_of(j, st.items, k) for j, k in llm.items() if j != st.identity}
    by_key = {i.key: i for i in st.items}
    out = []
    for judge_b, theirs in sorted(others.items()):
        paired = [(by_key[k], st.own[k], v) for k, v in theirs.items() if k in st.own]
        if not paired:
            continue
        if judges.kind(judge_b) == "human":
            how = f"the {_items(len(paired))} {judge_b} chose to judge (a person's choice, not a random sample)"
        elif judges.kind(judge_b) == "agent":
            how = f"the {_items(len(paired))} {judge_b} judged, in next_assessment_batch's seeded random order"
        else:
            how = f"the {len(paired)} items both judged"
        out.append(agreement_mod.compare(label_a, judge_b, paired, sampling=how, min_kappa=cfg.min_kappa))
    return out


def write(
    study: Study,
    st: State,
    *,
    warnings: list[str],
    rejudged: Agreement | None = None,
    records: dict[str, dict[str, Any]] | None = None,
) -> AssessmentReport | None:
    """Write the records of the judges named in `records` (identity → settings) and, when every item has a
    verdict that counts, assessments.json. Returns the report, or None while items are pending.

    The agreement of an earlier LLM re-judge is kept while the primary, the rubric and the responses are the
    same (recording verdicts never re-judges); `rejudged` replaces it.
    """
    llm = judge_keys(study, st.inputs)
    for identity, judge_settings in (records or {}).items():
        _write_record(study, st, identity, judge_settings, llm)
    if not st.complete:
        return None
    settings: dict[str, Any] | None = (records or {}).get(st.identity)
    if settings is None:
        own_record = study.read_json(study.paths.judge_record(st.inputs.model, st.identity), JudgeRecord)
        settings = own_record.settings if own_record is not None else {}
    rubric_sha, responses_sha = rubric_sha256(study), responses_sha256(st.inputs)
    agreements = comparisons(study, st, llm, judges.describe(st.identity, settings))
    previous = previous_report(study, st.inputs.model)
    if rejudged is not None:
        agreements.append(rejudged)
    elif previous is not None and (
        previous.basis.judge,
        previous.basis.rubric_sha256,
        previous.basis.responses_sha256,
    ) == (
        st.identity,
        rubric_sha,
        responses_sha,
    ):
        agreements += [a for a in previous.summary.agreements if a.sampling.startswith(agreement_mod.REJUDGE)]
    warnings = list(warnings) + [a.warning for a in agreements if a.warning]
    assessments = score(st.inputs, st.items, st.counting)
    judge = st.identity if st.inputs.rubric.criteria else CHECKS_ONLY
    summary = summarise(st.inputs.rubric, assessments, model=st.inputs.model, judge=judge, warnings=warnings)
    summary.agreements = agreements
    basis = Basis(
        judge=judge,
        settings=settings,
        rubric_sha256=rubric_sha,
        responses_sha256=responses_sha,
        items=st.total,
        judged=st.judged,
        criterion_verdicts=st.judged - st.overridden,
        overridden=st.overridden,
        changed=st.changed,
        people=st.people,
        errors=sum(1 for v in st.counting.values() if v.answer is Answer.ERROR),
    )
    report = AssessmentReport(summary=summary, assessments=assessments, basis=basis)
    study.write_json(study.paths.assessments(st.inputs.model), report)
    return report


def _write_record(study: Study, st: State, identity: str, settings: dict[str, Any], llm: dict[str, KeyMap]) -> None:
    keys = st.keys if identity == st.identity else llm.get(identity)
    mine = st.store.verdicts_of(identity, st.items, keys)
    summary: AssessmentSummary | None = None
    if len(mine) == st.total:
        assessments = score(st.inputs, st.items, mine)
        summary = summarise(st.inputs.rubric, assessments, model=st.inputs.model, judge=identity)
    fingerprint = None
    if judges.kind(identity) == "llm":
        offline = _offline_judge(study, settings)
        fingerprint = offline.fingerprint(st.inputs.pairs, st.inputs.rubric.criteria, batched=settings["batched"])
    record = JudgeRecord(
        judge=identity,
        settings=settings,
        items=st.total,
        judged=len(mine),
        errors=sum(1 for v in mine.values() if v.answer is Answer.ERROR),
        summary=summary,
        fingerprint=fingerprint,
        keys=key_map(keys or {}),
    )
    study.write_json(study.paths.judge_record(st.inputs.model, identity), record)


# ------------------------------------------------------------------------------------------------ the item table
class JudgeVerdict(BaseModel):
    judge: str
    answer: Answer
    reasoning: str = ""
    comment: str | None = None
    error: str | None = None
    created_at: str


class ItemRow(BaseModel):
    """One item with what every judge said about it, and the verdict that counts for the decision."""

    item_id: str = Field(description="Pass to record_assessments to judge or overrule this item")
    scenario_id: str
    response_key: str
    criterion_id: str
    na_invalid: bool
    verdicts: list[JudgeVerdict] = Field(description="Every judge's current verdict, the primary's first")
    counts: JudgeVerdict | None = Field(description="The verdict the decision uses: a person's, else the primary's")


def item_table(
    study: Study, model: str | None = None, judge: str | None = None, *, store: VerdictStore | None = None
) -> list[ItemRow]:
    """Every item of a run with every judge's current verdict on it, for a viewer (the review page).

    Rows come in scenario order, criteria in rubric order. Each row lists the primary judge's verdict first
    (`judge`, else judge.mode), then the people's, then other judges'; `counts` is the verdict the decision uses —
    the latest person's when a person judged the item, else the primary's. Only current verdicts appear: one on an
    older response or an older wording of the criterion belongs to another item. `store`: the run's verdicts when
    the caller has read them already (the file can be large: every LLM verdict keeps its prompt).
    """
    st = state(study, model, judge, store=store)
    llm = judge_keys(study, st.inputs)
    current = {j: st.store.verdicts_of(j, st.items, k) for j, k in llm.items()}
    current |= {j: st.store.verdicts_of(j, st.items) for j in st.store.recording_judges()}
    current[st.identity] = st.own
    order = sorted(current, key=lambda j: (j != st.identity, judges.kind(j) != "human", j))
    return [
        ItemRow(
            item_id=item.id,
            scenario_id=item.pair.scenario.id,
            response_key=item.pair.response.key,
            criterion_id=item.criterion.id,
            na_invalid=item.criterion.na_invalid,
            verdicts=[_view(current[j][item.key]) for j in order if item.key in current[j]],
            counts=_view(st.counting[item.key]) if item.key in st.counting else None,
        )
        for item in st.items
    ]


def _view(v: CriterionVerdict) -> JudgeVerdict:
    return JudgeVerdict(
        judge=v.judge, answer=v.answer, reasoning=v.reasoning, comment=v.comment, error=v.error, created_at=v.created_at
    )


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"
