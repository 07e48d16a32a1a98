"""The judge's prompts are built for prompt caches, and its replies are read leniently but judged strictly.

Thirteen criteria × fifty responses are 650 judge calls; what a response's calls share (the instructions, the
system prompt, the scenario and the response: most of each prompt) should be evaluated once per response, which
a server's prefix cache can only do when the shared text comes first and is byte-identical across the calls.
"""

from __future__ import annotations

import pytest

from base_model_selector.judging.llm_judge import LLMJudge, Pair, ReplyInvalid, parse_batch, parse_single
from base_model_selector.judging.rubric import parse_rubric
from base_model_selector.study.types import Answer, BaselineResponse, Scenario

THIRTEEN = "categories:\n  quality: 1\ncriteria:\n" + "".join(
    f"  - id: Q{i:02d}\n    category: quality\n    question: Does the response satisfy requirement {i}?\n"
    + ("    na_invalid: true\n" if i % 3 == 0 else "")
    + (
        "    calibration_examples:\n      - type: FAIL\n        response: nope\n        reasoning: it does not\n"
        if i % 4 == 0
        else ""
    )
    for i in range(1, 14)
)


def common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    size = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first))
    return first[:size]


def judge() -> LLMJudge:
    return LLMJudge(backend=None, model="judge:7b", digest="d1", seed=7, system_prompt="Be kind. " * 200)  # type: ignore[arg-type]


def pair(response: str = "Click 'Forgot password' on the sign-in page.") -> Pair:
    return Pair(
        Scenario(id="s1", text="How do I reset my password?", topic="account"),
        BaselineResponse(key="r1", scenario_id="s1", model="m", text=response, latency_s=0.1),
    )


def test_the_13_judge_prompts_of_one_response_share_all_but_their_last_part() -> None:
    criteria = parse_rubric(THIRTEEN).criteria
    prompts = [t.prompt for t in judge().plan([pair()], criteria, batched=False)]
    assert len(prompts) == 13
    shared = common_prefix(prompts)
    assert shared.endswith("# Criterion Q"), "the shared part runs right up to the criterion"
    assert "Be kind." in shared and "How do I reset my password?" in shared and "Forgot password" in shared
    for criterion, prompt in zip(criteria, prompts, strict=True):
        own = prompt[len(shared) :]
        assert criterion.question in own and not any(c.question in shared for c in criteria)
    assert len(shared) > 0.8 * min(len(p) for p in prompts), "most of every prompt is the shared prefix"


def test_one_nonce_per_response_not_per_call() -> None:
    criteria = parse_rubric(THIRTEEN).criteria
    tasks = judge().plan([pair(), pair("Another answer.")], criteria, batched=False)
    nonces = {t.pair.response.text: set() for t in tasks}
    for t in tasks:
        nonces[t.pair.response.text].add(t.prompt.split("<<<SCENARIO ")[1].split(">>>")[0])
    assert [len(n) for n in nonces.values()] == [1, 1], "the same nonce in all 13 calls of a response"
    assert len(set().union(*nonces.values())) == 2, "and a different one for another response"


def test_the_batched_prompt_also_puts_the_criteria_last() -> None:
    criteria = parse_rubric(THIRTEEN).criteria
    (task,) = judge().plan([pair()], criteria, batched=True)
    assert task.prompt.index("<<<END RESPONSE") < task.prompt.index("# Criteria") < task.prompt.index("## Q01")


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        pytest.param('{"reasoning": "line one\nline two", "answer": "NO"}', Answer.NO, id="raw-newline-in-a-string"),
        pytest.param('{"reasoning": "tab\there", "answer": "YES"}', Answer.YES, id="raw-tab-in-a-string"),
        pytest.param('```json\n{"reasoning": "fenced", "answer": "NA"}\n```', Answer.NA, id="markdown-fence"),
        pytest.param('Here you go: {"reasoning": "prose around it", "answer": "YES"} Done.', Answer.YES, id="prose"),
        pytest.param('{ "reasoning" :"spaced" ,"answer" :"NO"}', Answer.NO, id="llama-cpp-spacing"),
    ],
)
def test_replies_are_read_leniently(reply: str, answer: Answer) -> None:
    assert parse_single(reply)[0] is answer


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        pytest.param('{"reasoning": "a\nb", "answer": "yes"}', "expected YES, NO or NA", id="lowercase-still-wrong"),
        pytest.param('```json\n{"reasoning": "x", "answer": "YES", "n": 1}\n```', "unexpected keys", id="extra-key"),
        pytest.param('I think YES because {"reasoning": broken', "not valid JSON", id="broken-json-in-prose"),
    ],
)  # fmt: skip
def test_leniency_never_changes_what_the_schema_requires(reply: str, problem: str) -> None:
    with pytest.raises(ReplyInvalid, match=problem):
        parse_single(reply)


def test_a_batched_reply_with_a_raw_newline_is_read_too() -> None:
    reply = '{"A": {"reasoning": "first\nsecond", "answer": "YES"}, "B": {"reasoning": "r", "answer": "NA"}}'
    assert parse_batch(reply, ["A", "B"]) == {"A": (Answer.YES, "first\nsecond"), "B": (Answer.NA, "r")}


def test_the_judge_budget_is_clamped_to_what_fits_the_models_context() -> None:
    import asyncio

    from base_model_selector.serving.backends import ChatResult

    sent: list[dict] = []

    class Recording:
        slots = 1

        async def chat(self, model: str, messages: list, **kw: object) -> ChatResult:
            sent.append(kw["options"])  # type: ignore[arg-type]
            return ChatResult(text='{"reasoning": "r", "answer": "YES"}', latency_s=0.1, host="h", model=model)

    criteria = parse_rubric(THIRTEEN).criteria[:1]
    small = LLMJudge(backend=Recording(), model="j", digest="d", seed=7, system_prompt="Be kind. " * 1100,  # type: ignore[arg-type]
                     num_predict=1024, max_context=4096)  # fmt: skip
    tasks = small.plan([pair()], criteria, batched=False)
    assert small.context_size(tasks) == 4096, "never beyond the model's native context"
    asyncio.run(small.judge(small.work_items(tasks)[0]))
    prompt_tokens = len(tasks[0].prompt) // 3
    assert sent[0]["num_ctx"] == 4096 and 64 <= sent[0]["num_predict"] <= 4096 - prompt_tokens < 1024
    assert tasks[0].key == small.plan([pair()], criteria, batched=False)[0].key, "the clamp is not part of the key"
