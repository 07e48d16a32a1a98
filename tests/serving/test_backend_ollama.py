"""The Ollama backend, driven through the official client against a loopback FakeOllama."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import ollama
import pytest

from base_model_selector.serving.backends import Backend, make_backend
from base_model_selector.serving.backends.ollama import OllamaBackend, map_error
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import (
    BackendUnreachable,
    ModelNotFound,
    RequestRejected,
    TransientBackendError,
)
from fakes import FakeOllama, ModelSpec

MODEL = "qwen3:4b"
HELLO = [{"role": "user", "content": "hello there, where is my parcel?"}]


def backend_for(*urls: str, parallel: int = 1) -> OllamaBackend:
    backend = make_backend(BackendConfig(hosts=list(urls), parallel=parallel))
    assert isinstance(backend, OllamaBackend)
    return backend


def run(coro_fn: Any, *urls: str, parallel: int = 1) -> Any:
    """Run `coro_fn(backend)` on a fresh backend and close it."""

    async def main() -> Any:
        backend = backend_for(*urls, parallel=parallel)
        try:
            return await coro_fn(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_backend_satisfies_the_protocol_and_counts_slots_across_hosts() -> None:
    backend = backend_for("http://127.0.0.1:1", "http://127.0.0.1:2", parallel=4)
    assert isinstance(backend, Backend)
    assert backend.slots == 8


def test_show_reports_the_real_facts_from_api_show(fake_ollama: FakeOllama) -> None:
    info = run(lambda b: b.show(MODEL), fake_ollama.url)
    assert info.family == "qwen3"
    assert info.parameter_size == "4.0B" and info.parameters_b == 4.0
    assert info.quantization == "Q4_K_M"
    assert info.context_length == 40960, "read from model_info['<arch>.context_length']"
    assert info.license_first_line == "Apache License Version 2.0"
    assert "thinking" in info.capabilities
    assert info.digest and len(info.digest) == 64
    assert info.hosts == [fake_ollama.url]


def test_list_models_names_the_pulled_tags(fake_ollama: FakeOllama) -> None:
    assert run(lambda b: b.list_models(), fake_ollama.url) == ["llama3.1:8b", "qwen3:4b"]


def test_chat_returns_text_tokens_timing_and_host(fake_ollama: FakeOllama) -> None:
    result = run(lambda b: b.chat(MODEL, HELLO, options={"temperature": 0, "seed": 1}), fake_ollama.url)
    assert result.text == "Echo: hello there, where is my parcel?"
    assert result.done_reason == "stop" and not result.truncated
    assert result.prompt_tokens == 6 and result.output_tokens == 7
    assert result.tokens_per_s and result.tokens_per_s > 0
    assert result.host == fake_ollama.url and result.model == MODEL
    sent = fake_ollama.requests_to("/api/chat")[-1]
    assert sent["options"] == {"temperature": 0, "seed": 1} and sent["stream"] is True, (
        "streamed: an idle timeout, and closing it stops the server"
    )


def test_num_predict_cut_is_reported_as_length(fake_ollama: FakeOllama) -> None:
    result = run(lambda b: b.chat(MODEL, HELLO, options={"num_predict": 3}), fake_ollama.url)
    assert result.done_reason == "length" and result.truncated
    assert result.text == "Echo: hello there,"


def test_schema_goes_to_format_and_the_reply_text_comes_back_unjudged(fake_ollama: FakeOllama) -> None:
    schema = {"type": "object", "properties": {"answer": {"enum": ["YES", "NO"]}}, "required": ["answer"]}
    fake_ollama.fail_next(1, "invalid_json")
    result = run(lambda b: b.chat(MODEL, HELLO, schema=schema, think=False), fake_ollama.url)
    sent = fake_ollama.requests_to("/api/chat")[-1]
    assert sent["format"] == schema and sent["think"] is False
    assert result.text.startswith("{"), "a reply that fails the schema is the judge's business, not an error"


def test_thinking_is_returned_separately(fake_ollama: FakeOllama) -> None:
    result = run(lambda b: b.chat(MODEL, HELLO, think=True), fake_ollama.url)
    assert result.thinking and result.thinking.startswith("Thinking about")
    assert result.text.startswith("Echo:")


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        pytest.param("http500", TransientBackendError, "HTTP 500", id="http-500"),
        pytest.param("503", TransientBackendError, "HTTP 503", id="queue-full-503"),
        pytest.param("drop", TransientBackendError, "dropped", id="dropped-connection"),
        pytest.param("invalid_body", TransientBackendError, "not valid JSON", id="garbled-body"),
    ],
)
def test_server_faults_become_transient_errors(fake_ollama: FakeOllama, fault: str, error: type, message: str) -> None:
    fake_ollama.fail_next(1, fault)
    with pytest.raises(error, match=message):
        run(lambda b: b.chat(MODEL, HELLO), fake_ollama.url)


def test_a_refused_request_is_not_retryable(fake_ollama: FakeOllama) -> None:
    with pytest.raises(RequestRejected, match=r"does not support thinking.*not retried") as info:
        run(lambda b: b.chat("llama3.1:8b", HELLO, think=True), fake_ollama.url)
    assert not isinstance(info.value, TransientBackendError)


def test_timeout_is_transient_and_names_the_setting() -> None:
    async def main(url: str) -> None:
        backend = OllamaBackend(BackendConfig(hosts=[url], timeout_s=0.2))
        try:
            await backend.chat(MODEL, HELLO)
        finally:
            await backend.aclose()

    with FakeOllama(delay=2.0) as fake, pytest.raises(TransientBackendError, match=r"backend\.timeout_s"):
        asyncio.run(main(fake.url))


@pytest.mark.parametrize("call", ["show", "chat", "pull", "list_models"])
def test_ollama_down_says_how_to_start_it(call: str) -> None:
    url = closed_port_url()
    calls = {
        "show": lambda b: b.show(MODEL),
        "chat": lambda b: b.chat(MODEL, HELLO),
        "pull": lambda b: b.pull(MODEL),
        "list_models": lambda b: b.list_models(),
    }
    with pytest.raises(BackendUnreachable) as info:
        run(calls[call], url)
    assert str(info.value).startswith(f"Ollama is not reachable at {url} — start it with `ollama serve`")
    assert "OLLAMA_HOST" in str(info.value)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(httpx.ConnectError("refused"), BackendUnreachable, id="raw-connect-error-from-a-stream"),
        pytest.param(ConnectionError("Failed to connect"), BackendUnreachable, id="client-connection-error"),
        pytest.param(ConnectionResetError("reset"), TransientBackendError, id="reset"),
        pytest.param(httpx.RemoteProtocolError("peer closed"), TransientBackendError, id="dropped"),
        pytest.param(httpx.ReadTimeout("slow"), TransientBackendError, id="timeout"),
        pytest.param(ollama.ResponseError("busy", 503), TransientBackendError, id="503"),
        pytest.param(ollama.ResponseError("model 'x' not found", 404), ModelNotFound, id="404"),
        pytest.param(ollama.ResponseError("bad option", 400), RequestRejected, id="400-refused-not-retried"),
    ],
)
def test_client_errors_map_onto_the_contract(error: BaseException, expected: type) -> None:
    mapped = map_error(error, "http://h:11434", "m:1b")
    assert type(mapped) is expected


def test_model_not_pulled_gives_the_pull_commands(fake_ollama: FakeOllama) -> None:
    for call in (lambda b: b.show("gemma3:270m"), lambda b: b.chat("gemma3:270m", HELLO)):
        with pytest.raises(ModelNotFound) as info:
            run(call, fake_ollama.url)
        assert "`base-model-selector pull gemma3:270m`" in str(info.value)
        assert "ollama pull gemma3:270m" in str(info.value)


# ------------------------------------------------------------------ pull


def test_pull_of_a_present_model_returns_at_once_without_downloading(fake_ollama: FakeOllama) -> None:
    result = run(lambda b: b.pull(MODEL), fake_ollama.url)
    assert result.status == "present" and result.pulled_on == []
    assert fake_ollama.requests_to("/api/pull") == []
    assert "already present" in result.summary()


def test_pull_reports_byte_progress_up_to_the_total(fake_ollama: FakeOllama) -> None:
    seen: list[tuple[float, float | None, str]] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        seen.append((done, total, message))

    result = run(lambda b: b.pull("gemma3:270m", progress), fake_ollama.url)
    assert result.status == "pulled" and result.pulled_on == [fake_ollama.url]
    assert fake_ollama.has_model("gemma3:270m")
    done_values = [d for d, _, _ in seen]
    assert done_values == sorted(done_values), "bytes only go up"
    assert seen[-1][0] == seen[-1][1] and seen[-1][0] > 200_000_000
    assert any("pulling" in message for _, _, message in seen)


def test_pull_of_an_unknown_tag_says_where_to_find_valid_ones(fake_ollama: FakeOllama) -> None:
    with pytest.raises(ModelNotFound, match=r"'nosuch:7b' is not a tag.*https://ollama.com/library/nosuch/tags"):
        run(lambda b: b.pull("nosuch:7b"), fake_ollama.url)


def test_interrupted_pull_is_a_clear_error_and_the_retry_resumes(fake_ollama: FakeOllama) -> None:
    fake_ollama.interrupt_next_pull(after_lines=3)
    with pytest.raises(TransientBackendError, match=r"interrupted at \d+%.*run the same pull again"):
        run(lambda b: b.pull("gemma3:270m"), fake_ollama.url)
    assert not fake_ollama.has_model("gemma3:270m")

    first: list[float] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        if total and not first:
            first.append(done)

    result = run(lambda b: b.pull("gemma3:270m", progress), fake_ollama.url)
    assert result.status == "pulled" and fake_ollama.has_model("gemma3:270m")
    assert first and first[0] > 0, "the second pull started where the first stopped"


# ------------------------------------------------------------------ several hosts


def test_requests_spread_across_hosts() -> None:
    with FakeOllama(delay=0.05) as one, FakeOllama(delay=0.05) as two:

        async def burst(b: OllamaBackend) -> list[str]:
            results = await asyncio.gather(*(b.chat(MODEL, HELLO) for _ in range(8)))
            return [r.host for r in results]

        hosts = run(burst, one.url, two.url, parallel=2)
        assert hosts.count(one.url) == 4 and hosts.count(two.url) == 4
        assert one.chat_count == 4 and two.chat_count == 4


def test_a_host_lacking_the_model_is_named() -> None:
    lacking = FakeOllama(models={"llama3.1:8b": ModelSpec()}, pullable={MODEL: ModelSpec(family="qwen3")})
    with FakeOllama() as one, lacking as two:
        with pytest.raises(ModelNotFound) as info:
            run(lambda b: b.show(MODEL), one.url, two.url)
        message = str(info.value)
        assert f"missing on {two.url} (present on {one.url};" in message
        assert f"run `base-model-selector pull {MODEL}`" in message
        assert f"OLLAMA_HOST={two.url} ollama pull {MODEL}" in message

        result = run(lambda b: b.pull(MODEL), one.url, two.url)
        assert result.pulled_on == [two.url] and two.has_model(MODEL)
        assert one.requests_to("/api/pull") == []


def test_hosts_with_different_builds_are_warned_about() -> None:
    with FakeOllama() as one, FakeOllama(models={MODEL: ModelSpec(digest="f" * 64)}) as two:
        info = run(lambda b: b.show(MODEL), one.url, two.url)
    assert info.warnings and "different builds" in info.warnings[0]
