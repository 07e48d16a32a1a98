"""The OpenAI-compatible backend (vLLM, llama.cpp server, LM Studio) against a loopback FakeOpenAI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from base_model_selector.serving.backends import Backend, make_backend
from base_model_selector.serving.backends.openai_compat import OpenAICompatBackend
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import (
    BackendError,
    BackendUnreachable,
    ConfigError,
    ModelNotFound,
    TransientBackendError,
)
from fakes import FakeOpenAI

MODEL = "qwen3-8b"
HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "where is my parcel please"}]


def run(coro_fn: Any, *urls: str, **config: Any) -> Any:
    async def main() -> Any:
        backend = make_backend(BackendConfig(kind="openai", hosts=list(urls), **config))
        try:
            return await coro_fn(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


def test_make_backend_builds_the_openai_kind_and_satisfies_the_protocol() -> None:
    backend = make_backend(BackendConfig(kind="openai", hosts=["http://127.0.0.1:8000/v1"], parallel=3))
    assert isinstance(backend, OpenAICompatBackend) and isinstance(backend, Backend)
    assert backend.hosts == ["http://127.0.0.1:8000"], "a trailing /v1 is accepted"
    assert backend.slots == 3


def test_openai_kind_without_hosts_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match=r"backend\.hosts: the openai backend needs the server URL"):
        make_backend(BackendConfig(kind="openai"))


def test_list_and_show_read_v1_models(fake_openai: FakeOpenAI) -> None:
    assert run(lambda b: b.list_models(), fake_openai.url) == [MODEL]
    info = run(lambda b: b.show(MODEL), fake_openai.url)
    assert info.server is not None and info.server.context_tokens == 32768, "vLLM's max_model_len: per request"
    assert info.context_length is None and "native context" in info.not_reported, "not passed off as the native one"
    assert info.hosts == [fake_openai.url]
    assert info.warnings, "the missing digest is said out loud"


def test_chat_translates_options_and_reports_usage(fake_openai: FakeOpenAI) -> None:
    result = run(
        lambda b: b.chat(MODEL, HELLO, options={"temperature": 0.2, "seed": 3, "num_predict": 64}, think=False),
        fake_openai.url,
    )
    body = fake_openai.requests_to("/v1/chat/completions")[-1]
    assert body["max_tokens"] == 64 and body["temperature"] == 0.2 and body["seed"] == 3
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert result.text == "Echo: where is my parcel please"
    assert result.done_reason == "stop" and result.prompt_tokens == 7 and result.output_tokens == 6
    assert result.host == fake_openai.url


def test_max_tokens_cut_is_flagged_as_length(fake_openai: FakeOpenAI) -> None:
    result = run(lambda b: b.chat(MODEL, HELLO, options={"num_predict": 2}), fake_openai.url)
    assert result.truncated and result.text == "Echo: where"


def test_schema_goes_through_response_format(fake_openai: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"verdict": {"enum": ["YES", "NO"]}}, "required": ["verdict"]}
    result = run(lambda b: b.chat(MODEL, HELLO, schema=schema), fake_openai.url)
    body = fake_openai.requests_to("/v1/chat/completions")[-1]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert result.text == '{"verdict": "YES"}' and result.structured_output == "json_schema"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        pytest.param("http500", "HTTP 500", id="500"),
        pytest.param("503", "HTTP 503", id="503"),
        pytest.param("drop", "dropped", id="dropped-connection"),
        pytest.param("invalid_body", "not valid JSON", id="garbled-body"),
    ],
)
def test_server_faults_become_transient_errors(fake_openai: FakeOpenAI, fault: str, message: str) -> None:
    fake_openai.fail_next(1, fault)
    with pytest.raises(TransientBackendError, match=message):
        run(lambda b: b.chat(MODEL, HELLO), fake_openai.url)


def test_unknown_model_names_the_server_and_how_to_serve_it(fake_openai: FakeOpenAI) -> None:
    for call in (lambda b: b.chat("other-7b", HELLO), lambda b: b.show("other-7b"), lambda b: b.pull("other-7b")):
        with pytest.raises(ModelNotFound, match=rf"'other-7b' is not served at {fake_openai.url}.*vllm serve"):
            run(call, fake_openai.url)


def test_pull_of_a_served_model_is_present(fake_openai: FakeOpenAI) -> None:
    assert run(lambda b: b.pull(MODEL), fake_openai.url).status == "present"


def test_server_down_says_how_to_start_one() -> None:
    with pytest.raises(BackendUnreachable, match=r"no OpenAI-compatible server is reachable at http://127\.0\.0\.1:9"):
        run(lambda b: b.chat(MODEL, HELLO), "http://127.0.0.1:9")


def test_api_key_comes_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI(api_key="sk-test") as fake:
        monkeypatch.setenv("BMS_TEST_KEY", "sk-test")
        assert run(lambda b: b.chat(MODEL, HELLO), fake.url, api_key_env="BMS_TEST_KEY").text.startswith("Echo")
        monkeypatch.setenv("BMS_TEST_KEY", "sk-wrong")
        with pytest.raises(BackendError, match=r"refused the credentials.*api_key_env"):
            run(lambda b: b.chat(MODEL, HELLO), fake.url, api_key_env="BMS_TEST_KEY")
        monkeypatch.delenv("BMS_TEST_KEY")
        with pytest.raises(ConfigError, match="BMS_TEST_KEY is empty"):
            run(lambda b: b.chat(MODEL, HELLO), fake.url, api_key_env="BMS_TEST_KEY")


def test_a_gateway_rejecting_the_thinking_switch_gets_the_request_without_it() -> None:
    with FakeOpenAI(kind="openai") as strict:  # refuses fields the OpenAI API does not define
        first = run(lambda b: b.chat(MODEL, HELLO, think=False), strict.url)
        assert first.text.startswith("Echo")
        sent = strict.requests_to("/v1/chat/completions")
        assert "chat_template_kwargs" in sent[0] and "chat_template_kwargs" not in sent[-1]
        assert not strict.errors
