"""Replies are streamed: a slow reply that keeps coming is fine, a stalled one is cut and retried, and a request the
client abandons is closed so the server stops working on it — on both backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from base_model_selector.serving.backends import make_backend
from base_model_selector.serving.backends.streaming import StreamStalled
from base_model_selector.serving.engine import RetryPolicy, WorkItem, run_work
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import TransientBackendError
from fakes import FakeOllama, FakeOpenAI, ModelSpec
from fakes.http import FakeServerBase

LONG = " ".join(f"word{i}" for i in range(40))


def openai_fake(**kw: Any) -> FakeOpenAI:
    return FakeOpenAI({"m": ModelSpec()}, **kw)


def ollama_fake(**kw: Any) -> FakeOllama:
    return FakeOllama({"m:latest": ModelSpec()}, **kw)


FAKES: dict[str, tuple[Callable[..., FakeServerBase], str]] = {
    "openai": (openai_fake, "openai"),
    "ollama": (ollama_fake, "ollama"),
}


def backend(kind: str, url: str, **config: Any) -> Any:
    return make_backend(BackendConfig(kind=kind, hosts=[url], **config))


def chat(kind: str, url: str, **config: Any) -> Any:
    async def main() -> Any:
        b = backend(kind, url, **config)
        try:
            return await b.chat("m", [{"role": "user", "content": "tell me"}])
        finally:
            await b.aclose()

    return asyncio.run(main())


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.mark.parametrize("server", ["openai", "ollama"])
def test_a_slow_reply_that_keeps_coming_is_not_cut(server: str) -> None:
    make, kind = FAKES[server]
    with make() as fake:
        fake.enqueue(LONG)
        fake.token_delay = 0.02  # 40 pieces: ~0.8 s in all, far longer than the idle timeout
        result = chat(kind, fake.url, idle_timeout_s=0.3, timeout_s=5)
    assert result.text == LONG and result.done_reason == "stop"


@pytest.mark.parametrize("server", ["openai", "ollama"])
def test_the_first_piece_may_take_as_long_as_prompt_processing_needs(server: str) -> None:
    make, kind = FAKES[server]
    with make(delay=0.5) as fake:  # no piece for 0.5 s: the server is reading the prompt
        assert chat(kind, fake.url, idle_timeout_s=0.2, timeout_s=5).text


@pytest.mark.parametrize("server", ["openai", "ollama"])
def test_a_stalled_reply_is_cut_and_its_connection_closed(server: str) -> None:
    make, kind = FAKES[server]
    with make() as fake:
        fake.enqueue(LONG)
        fake.fail_next(1, "stall")  # half the reply, then silence (the OpenAI fake still sends SSE pings)
        started = time.monotonic()
        with pytest.raises(StreamStalled, match=r"did not continue within 0\.3s.*backend\.idle_timeout_s"):
            chat(kind, fake.url, idle_timeout_s=0.3, timeout_s=5)
        assert time.monotonic() - started < 3, "cut at the idle timeout, not at the end of the stall"
        assert wait_for(lambda: fake.disconnects == 1), "the server saw the request closed and stopped"
    assert issubclass(StreamStalled, TransientBackendError), "the engine retries it"


@pytest.mark.parametrize("server", ["openai", "ollama"])
def test_a_stalled_reply_is_retried_and_the_retry_is_kept(server: str, tmp_path: Any) -> None:
    make, kind = FAKES[server]
    with make() as fake:
        fake.fail_next(1, "stall")

        async def main() -> Any:
            b = backend(kind, fake.url, idle_timeout_s=0.3)

            async def work(item: WorkItem[str]) -> dict[str, str]:
                reply = await b.chat("m", [{"role": "user", "content": item.payload}])
                return {"key": item.key, "text": reply.text}

            try:
                return await run_work(
                    [WorkItem("k1", "hello there")], work, tmp_path / "out.jsonl", concurrency=1,
                    retry=RetryPolicy(max_retries=2, base_delay_s=0),
                )  # fmt: skip
            finally:
                await b.aclose()

        report = asyncio.run(main())
    assert report.done == 1 and report.retries == 1 and not report.failed


@pytest.mark.parametrize("server", ["openai", "ollama"])
def test_cancelling_a_request_closes_its_connection_so_the_server_stops(server: str) -> None:
    make, kind = FAKES[server]
    with make() as fake:
        fake.enqueue(LONG)
        fake.token_delay = 0.05  # ~2 s of reply

        async def main() -> None:
            b = backend(kind, fake.url)
            try:
                task = asyncio.create_task(b.chat("m", [{"role": "user", "content": "tell me"}]))
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            finally:
                await b.aclose()

        asyncio.run(main())
        assert wait_for(lambda: fake.disconnects == 1, 3.0), "the server noticed and stopped streaming"


def test_a_stream_llama_cpp_python_ends_early_for_another_request_is_retryable() -> None:
    with FakeOpenAI({"m": ModelSpec()}, kind="llama-cpp-python") as fake:
        fake.enqueue(LONG)
        fake.token_delay = 0.03

        async def main() -> tuple[Any, Any]:
            first, second = backend("openai", fake.url), backend("openai", fake.url)  # two separate clients
            try:
                slow = asyncio.create_task(first.chat("m", [{"role": "user", "content": "a"}]))
                await asyncio.sleep(0.3)
                other = await second.chat("m", [{"role": "user", "content": "b"}])
                return await asyncio.gather(slow, return_exceptions=True), other
            finally:
                await first.aclose()
                await second.aclose()

        (cut,), other = asyncio.run(main())
    assert isinstance(cut, TransientBackendError) and "ended before it finished" in str(cut)
    assert other.done_reason == "stop"


def test_without_server_timings_the_rate_is_measured_from_the_first_to_the_last_token() -> None:
    with FakeOpenAI({"m": ModelSpec()}, kind="vllm", delay=0.5) as fake:  # 0.5 s of "prompt processing"
        fake.enqueue(LONG)
        fake.token_delay = 0.005
        result = chat("openai", fake.url)
    end_to_end = result.output_tokens / result.latency_s
    assert result.tokens_per_s is not None and result.tokens_per_s > 2 * end_to_end, "decode rate, not end to end"
