"""The llamacpp backend with a real model (SmolLM2-135M-Instruct, 93 MB, CPU): facts, structured output,
truncation, reproducibility, one request at a time, and cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from base_model_selector.judging.llm_judge import VERDICT_SCHEMA, batch_schema, parse_batch, parse_single
from base_model_selector.judging.rubric import Criterion
from base_model_selector.serving.backends.gguf_source import local_file, parse_ref
from base_model_selector.serving.backends.llamacpp import LlamaCppBackend
from base_model_selector.study.config import BackendConfig
from smollm2 import SMOLLM2

pytestmark = pytest.mark.embedded
T = TypeVar("T")

QUESTION = [{"role": "user", "content": "Is water wet? Reason briefly, then answer."}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to cook."}]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def backend() -> LlamaCppBackend:
    return LlamaCppBackend(BackendConfig(kind="llamacpp", n_ctx=2048))


def test_the_facts_read_from_the_gguf_header_are_what_llama_cpp_loads() -> None:
    import llama_cpp

    info = run(backend().show(SMOLLM2))
    path = local_file(parse_ref(SMOLLM2))
    llama = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False)
    try:
        assert info.parameter_count == llama_cpp.llama_model_n_params(llama.model)
        assert info.context_length == llama_cpp.llama_model_n_ctx_train(llama.model)
        assert info.chat_template == llama.metadata["tokenizer.chat_template"]
    finally:
        llama.close()
    assert (info.architecture, info.quantization, info.license_first_line) == ("llama", "Q4_1", "apache-2.0")
    assert info.parameters_b == 0.135 and info.digest is not None and info.digest.startswith("sha256:")


def test_the_judges_json_schemas_are_enforced_by_the_grammar() -> None:
    async def go() -> tuple[str, str]:
        b = backend()
        try:
            single = await b.chat(
                SMOLLM2,
                QUESTION,
                options={"temperature": 0, "seed": 7, "num_predict": 160},
                schema=VERDICT_SCHEMA,
                think=False,
            )
            criteria = [Criterion(id=f"C{i}", category="c", question="Is it correct?") for i in (1, 2, 3)]
            batch = await b.chat(
                SMOLLM2,
                QUESTION,
                options={"temperature": 0, "seed": 7, "num_predict": 240},
                schema=batch_schema(criteria),
                think=False,
            )
            return single.text, batch.text
        finally:
            await b.aclose()

    single, batch = run(go())
    assert parse_single(single)[0].value in ("YES", "NO", "NA")
    assert set(parse_batch(batch, ["C1", "C2", "C3"])) == {"C1", "C2", "C3"}


def test_a_reply_cut_at_num_predict_is_reported_as_truncated_with_the_decode_speed() -> None:
    reply = run(backend().chat(SMOLLM2, STORY, options={"temperature": 0, "seed": 1, "num_predict": 16}))
    assert reply.truncated and reply.done_reason == "length"
    assert reply.output_tokens == 16 and reply.prompt_tokens and reply.prompt_tokens > 10
    assert reply.tokens_per_s and reply.tokens_per_s > 1
    assert reply.host == "this machine"


def test_a_reply_depends_on_its_request_alone_not_on_what_was_asked_before() -> None:
    """Sampled (temperature 0.8, seeded) so any leftover state would show; llama.cpp's prefix reuse used to."""
    options = {"temperature": 0.8, "seed": 11, "num_predict": 48}

    async def go() -> list[str]:
        b = backend()
        try:
            first = await b.chat(SMOLLM2, STORY, options=options)
            await b.chat(SMOLLM2, [{"role": "user", "content": "Write a long story about a cat."}], options=options)
            again = await b.chat(SMOLLM2, STORY, options=options)
            return [first.text, again.text]
        finally:
            await b.aclose()

    first, again = run(go())
    assert first == again and first


def test_concurrent_requests_are_answered_one_at_a_time_and_the_event_loop_stays_free() -> None:
    """Without the lock two threads in one llama.cpp context fail ("llama_decode returned -1")."""
    options = {"temperature": 0, "seed": 3, "num_predict": 32}
    prompts = [[{"role": "user", "content": f"Name {n} colours."}] for n in ("two", "three", "four")]

    async def go() -> tuple[list[str], list[str], int]:
        b = backend()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        try:
            alone = [(await b.chat(SMOLLM2, p, options=options)).text for p in prompts]
            task = asyncio.create_task(ticker())
            together = await asyncio.gather(*(b.chat(SMOLLM2, p, options=options) for p in prompts))
            task.cancel()
            return alone, [r.text for r in together], ticks
        finally:
            await b.aclose()

    alone, together, ticks = run(go())
    assert together == alone
    assert ticks >= 3, "the loop kept running while the model worked on a thread"


def test_a_cancelled_request_stops_at_the_next_token_and_the_model_keeps_working() -> None:
    async def go() -> tuple[float, str]:
        b = backend()
        try:
            long = asyncio.create_task(b.chat(SMOLLM2, STORY, options={"temperature": 0, "num_predict": 1500}))
            await asyncio.sleep(1.0)
            long.cancel()
            started = time.monotonic()
            with pytest.raises(asyncio.CancelledError):
                await long
            after = await b.chat(SMOLLM2, QUESTION, options={"temperature": 0, "seed": 1, "num_predict": 24})
            return time.monotonic() - started, after.text
        finally:
            await b.aclose()

    waited, text = run(go())
    assert text.strip()
    assert waited < 30, "the next request did not wait for 1500 tokens of the cancelled one"
