"""The OpenAI-compatible backend against each kind of server: what it learns, what it sends, how it adapts.

Every fake answers as that server's documentation says (tests/fakes/server_kinds.py), so each fallback — the
structured-output form, a field a strict gateway refuses, a model name a server would answer anyway, a context that
does not fit — is exercised here without a real server.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from base_model_selector.serving.backends import make_backend
from base_model_selector.serving.backends.servers import FACT_NAMES
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import (
    BackendUnreachable,
    ContextOverflow,
    ModelNotFound,
    RequestRejected,
    TransientBackendError,
)
from fakes import FakeOpenAI, ModelSpec

MODEL = "qwen3-8b"
HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "where is my parcel please"}]
SCHEMA = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "answer": {"type": "string", "enum": ["YES", "NO", "NA"]}},
    "required": ["reasoning", "answer"],
}
SPEC = ModelSpec(family="qwen3", parameter_size="8.2B", quantization="Q4_K_M", context_length=40960)


def run(coro_fn: Any, url: str, **config: Any) -> Any:
    async def main() -> Any:
        backend = make_backend(BackendConfig(kind="openai", hosts=[url], **config))
        try:
            return await coro_fn(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


def chats(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return fake.requests_to("/v1/chat/completions")


@pytest.mark.parametrize("kind", ["vllm", "llama.cpp", "llama-cpp-python", "lmstudio", "openai"])
def test_each_server_kind_is_detected_from_what_it_exposes(kind: str) -> None:
    with FakeOpenAI({MODEL: SPEC}, kind=kind) as fake:
        info = run(lambda b: b.show(MODEL), fake.url)
    assert info.server is not None and info.server.kind == kind and info.server.detected
    assert info.family is None, "a family is never guessed from owned_by"


def test_backend_server_in_study_yaml_is_believed_without_probing() -> None:
    with FakeOpenAI({MODEL: SPEC}, kind="llama.cpp") as fake:
        info = run(lambda b: b.show(MODEL), fake.url, server="llama.cpp")
        probed = [path for path, _ in fake.requests]
    assert info.server is not None and info.server.kind == "llama.cpp" and not info.server.detected
    assert "/api/v0/models" not in probed and "/openapi.json" not in probed


@pytest.mark.parametrize(
    ("kind", "reported", "not_reported"),
    [
        pytest.param(
            "llama.cpp",
            {"parameter_count": SPEC.parameter_count, "context_length": 40960, "runtime": 4096},
            ["digest", "quantisation", "licence", "architecture"],
            id="llama.cpp-props-and-meta",
        ),
        pytest.param(
            "vllm",
            {"runtime": 4096},
            ["digest", "parameter count", "quantisation", "native context", "licence", "architecture"],
            id="vllm-max-model-len",
        ),
        pytest.param(
            "lmstudio",
            {"quantization": "Q4_K_M", "architecture": "qwen3", "context_length": 40960, "runtime": 4096},
            ["digest", "parameter count", "licence"],
            id="lmstudio-api-v0-models",
        ),
        pytest.param("llama-cpp-python", {}, list(FACT_NAMES), id="llama-cpp-python-reports-nothing"),
    ],
)
def test_facts_are_read_from_what_each_kind_reports_and_the_rest_listed_as_not_reported(
    kind: str, reported: dict[str, Any], not_reported: list[str]
) -> None:
    with FakeOpenAI({MODEL: SPEC}, kind=kind, context=4096) as fake:
        info = run(lambda b: b.show(MODEL), fake.url)
    runtime = reported.pop("runtime", None)
    assert info.server is not None and info.server.context_tokens == runtime
    for field, value in reported.items():
        assert getattr(info, field) == value, field
    assert info.not_reported == not_reported


@pytest.mark.parametrize(
    ("kind", "form", "first_call_requests"),
    [
        pytest.param("vllm", "json_schema", 1, id="vllm"),
        pytest.param("llama.cpp", "json_schema", 1, id="llama.cpp"),
        pytest.param("lmstudio", "json_schema", 1, id="lmstudio"),
        pytest.param("llama-cpp-python", "json_object+schema", 2, id="llama-cpp-python-refuses-json-schema-with-500"),
    ],
)
def test_structured_output_goes_in_the_first_form_the_server_accepts_and_is_remembered(
    kind: str, form: str, first_call_requests: int
) -> None:
    with FakeOpenAI({MODEL: SPEC}, kind=kind) as fake:

        async def twice(b: Any) -> list[Any]:
            return [await b.chat(MODEL, HELLO, schema=SCHEMA), await b.chat(MODEL, HELLO, schema=SCHEMA)]

        first, second = run(twice, fake.url)
        sent = chats(fake)
    assert first.structured_output == second.structured_output == form
    assert first.text.startswith('{"reasoning"') and second.text == first.text, "the schema was honoured"
    assert len(sent) == first_call_requests + 1, "a refused form is tried once per host, then remembered"
    assert sent[-1]["response_format"]["type"] == form.split("+")[0]


def test_a_server_that_takes_no_schema_form_gets_the_prompt_alone_and_says_so() -> None:
    with FakeOpenAI({MODEL: SPEC}, kind="llama-cpp-python") as fake:
        fake.behaviour = dataclasses.replace(fake.behaviour, formats=frozenset({"text"}))
        result = run(lambda b: b.chat(MODEL, HELLO, schema=SCHEMA), fake.url)
        sent = chats(fake)
    assert result.structured_output == "none"
    assert [b.get("response_format", {}).get("type") for b in sent] == ["json_schema", "json_object", None]


def test_lm_studio_refusing_json_object_is_never_sent_it() -> None:
    with FakeOpenAI({MODEL: SPEC}, kind="lmstudio") as fake:
        run(lambda b: b.chat(MODEL, HELLO, schema=SCHEMA), fake.url)
        assert [b["response_format"]["type"] for b in chats(fake)] == ["json_schema"]


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        pytest.param("validation500", "HTTP 500, a validation error", id="5xx-validation"),
        pytest.param("http400", "HTTP 400", id="4xx"),
    ],
)
def test_a_refused_request_fails_at_once_with_the_servers_message_and_is_not_retried(fault: str, status: str) -> None:
    with FakeOpenAI({MODEL: SPEC}, kind="llama-cpp-python") as fake:
        fake.fail_next(1, fault)
        with pytest.raises(RequestRejected, match=rf"refused the request for {MODEL} \({status}\).*not retried") as err:
            run(lambda b: b.chat(MODEL, HELLO), fake.url)
        assert fake.chat_count == 1
    assert not isinstance(err.value, TransientBackendError)


def test_a_plain_server_error_stays_transient() -> None:
    with FakeOpenAI({MODEL: SPEC}, kind="llama-cpp-python") as fake:
        fake.fail_next(1, "http500")
        with pytest.raises(TransientBackendError, match="HTTP 500"):
            run(lambda b: b.chat(MODEL, HELLO), fake.url)


@pytest.mark.parametrize("kind", ["llama.cpp", "llama-cpp-python", "lmstudio"])
def test_a_model_name_the_server_would_answer_anyway_is_refused_before_any_generation(kind: str) -> None:
    with FakeOpenAI({MODEL: SPEC}, kind=kind) as fake:
        with pytest.raises(ModelNotFound, match=rf"'no-such-model-typo' is not served at .*it serves: {MODEL}"):
            run(lambda b: b.chat("no-such-model-typo", HELLO), fake.url)
        assert fake.chat_count == 0


@pytest.mark.parametrize(
    ("kind", "hint"),
    [
        pytest.param("llama.cpp", "llama-server -m <file.gguf> --alias no-such", id="llama.cpp"),
        pytest.param(
            "llama-cpp-python",
            "python -m llama_cpp.server --model <file.gguf> --model_alias no-such",
            id="llama-cpp-python",
        ),
        pytest.param("vllm", "vllm serve <hf-repo> --served-model-name no-such", id="vllm"),
        pytest.param("lmstudio", "lms load no-such", id="lmstudio"),
    ],
)
def test_the_start_the_server_hint_matches_the_server_kind(kind: str, hint: str) -> None:
    with FakeOpenAI({MODEL: SPEC}, kind=kind) as fake, pytest.raises(ModelNotFound) as err:
        run(lambda b: b.show("no-such"), fake.url)
    assert hint in str(err.value)
    assert kind == "vllm" or "vllm serve" not in str(err.value)


def test_a_gguf_path_listed_as_the_model_id_is_matched_by_its_file_name() -> None:
    path = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    with FakeOpenAI({path: SPEC}, kind="llama-cpp-python") as fake:
        result = run(lambda b: b.chat("SmolLM2-135M-Instruct.Q4_1", HELLO), fake.url)
        assert chats(fake)[-1]["model"] == path
    assert result.model == "SmolLM2-135M-Instruct.Q4_1", "recorded under the name the study uses"


def test_llama_cpp_python_gets_one_request_at_a_time_whatever_backend_parallel_says() -> None:
    with FakeOpenAI({MODEL: SPEC}, kind="llama-cpp-python", parallel=4) as fake:
        fake.token_delay = 0.01

        async def three(b: Any) -> tuple[int, list[Any]]:
            await b.show(MODEL)
            return b.slots, await asyncio.gather(*(b.chat(MODEL, HELLO) for _ in range(3)))

        slots, results = run(three, fake.url, parallel=4)
    assert slots == 1 and len(results) == 3
    assert fake.max_concurrent_seen == 1, "a second request would cut the first one's stream short"


@pytest.mark.parametrize(
    ("kind", "setting"),
    [
        pytest.param("vllm", "--max-model-len", id="vllm"),
        pytest.param("llama.cpp", "-c/--ctx-size", id="llama.cpp"),
        pytest.param("llama-cpp-python", "--n_ctx", id="llama-cpp-python-whose-stream-hides-the-error"),
    ],
)
def test_a_prompt_that_cannot_fit_names_the_setting_of_that_server_and_not_run_again(kind: str, setting: str) -> None:
    long = [{"role": "user", "content": "fox " * 300}]
    with (
        FakeOpenAI({MODEL: SPEC}, kind=kind, context=200) as fake,
        pytest.raises(ContextOverflow, match=setting) as err,
    ):
        run(lambda b: b.chat(MODEL, long, options={"num_predict": 16}), fake.url)
    assert "running the same command again will not help" in str(err.value)
    assert "300 tokens" in str(err.value) and "200" in str(err.value), "the server's own figures"


def test_the_reply_budget_is_clamped_to_what_fits_the_servers_context() -> None:
    prompt = [{"role": "user", "content": "word " * 100}]
    with FakeOpenAI({MODEL: SPEC}, kind="vllm", context=400) as fake:
        result = run(lambda b: b.chat(MODEL, prompt, options={"num_predict": 1024}), fake.url)
        sent = chats(fake)
    assert len(sent) == 1 and sent[0]["max_tokens"] < 400 - 100, "clamped before sending, no refusal"
    assert result.done_reason == "stop"


def test_a_refusal_with_the_servers_token_count_is_answered_once_with_the_budget_that_fits() -> None:
    prompt = [{"role": "user", "content": "word " * 100}]
    with FakeOpenAI({MODEL: SPEC}, kind="vllm", flat_errors=True) as fake:

        async def shrink_then_chat(b: Any) -> Any:
            await b.show(MODEL)  # the backend learns max_model_len 40960 ...
            fake.context = 300  # ... then the server is restarted with less: only its refusal says so
            return await b.chat(MODEL, prompt, options={"num_predict": 1024})

        result = run(shrink_then_chat, fake.url)
        sent = chats(fake)
    assert [b["max_tokens"] for b in sent] == [1024, 200], "the flat (older vLLM) error body is read too"
    assert result.done_reason == "stop"


def test_cache_prompt_false_reaches_llama_cpp_only_and_bypasses_its_cache() -> None:
    for kind in ("llama.cpp", "vllm"):
        with FakeOpenAI({MODEL: SPEC}, kind=kind) as fake:

            async def twice(b: Any) -> list[Any]:
                return [await b.chat(MODEL, HELLO), await b.chat(MODEL, HELLO)]

            results = run(twice, fake.url, cache_prompt=False)
            sent = chats(fake)
        if kind == "llama.cpp":
            assert all(b["cache_prompt"] is False for b in sent)
            assert [r.cached_tokens for r in results] == [0, 0]
        else:
            assert all("cache_prompt" not in b for b in sent), "vLLM has no such field"


def test_llama_cpp_reports_reused_prompt_tokens_and_its_decode_rate() -> None:
    with FakeOpenAI({MODEL: SPEC}, kind="llama.cpp") as fake:

        async def twice(b: Any) -> list[Any]:
            return [await b.chat(MODEL, HELLO), await b.chat(MODEL, HELLO)]

        first, second = run(twice, fake.url)
    assert first.cached_tokens == 0 and second.cached_tokens == second.prompt_tokens - 1
    assert first.tokens_per_s == 50.0, "the server's predicted_per_second, not the end-to-end rate"


def test_server_down_lists_how_to_start_each_kind_or_the_one_study_yaml_names() -> None:
    with pytest.raises(BackendUnreachable, match=r"llama-server -m.*llama_cpp\.server.*vllm serve.*lms server start"):
        run(lambda b: b.chat(MODEL, HELLO), "http://127.0.0.1:9")
    with pytest.raises(BackendUnreachable, match=r"start it \(`python -m llama_cpp\.server") as err:
        run(lambda b: b.chat(MODEL, HELLO), "http://127.0.0.1:9", server="llama-cpp-python")
    assert "vllm" not in str(err.value)
