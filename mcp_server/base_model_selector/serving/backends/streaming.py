"""Replies read as they are produced, with an idle timeout: a slow reply may take as long as it needs, a stalled one
is cut.

A whole-reply timeout punishes the wrong thing: a long answer on a slow CPU is fine, while a server that stopped
producing tokens should be given up on quickly. Both backends therefore stream every reply and wait at most
`first_s` for its first piece (prompt processing happens before it) and `idle_s` between pieces. When the wait runs
out, or the caller is cancelled, the response is closed; closing the connection is what tells llama.cpp, vLLM,
llama-cpp-python and Ollama to stop working on the request, so an abandoned reply does not keep a slot busy while
its retry queues behind it.

Contract: `paced(iterator, first_s=, idle_s=, what=)` yields the iterator's items and raises `StreamStalled` (a
`TransientBackendError`) when one does not arrive in time. `sse_events(lines)` turns `text/event-stream` lines into
the JSON events of an OpenAI-style stream (comments such as keep-alive pings are not progress), and `OpenAIStream`
folds those events into the reply. `decode_rate(tokens, first_at, last_at)` is tokens per second of generation.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from base_model_selector.serving.backends.base import ChatResult
from base_model_selector.study.errors import TransientBackendError

T = TypeVar("T")


class StreamStalled(TransientBackendError):
    """No piece of the reply arrived within the wait; the request was closed and may be retried."""


async def paced(iterator: AsyncIterator[T], *, first_s: float, idle_s: float, what: str) -> AsyncIterator[T]:
    """The iterator's items, waiting at most `first_s` for the first and `idle_s` for each later one."""
    first = True
    while True:
        wait = first_s if first else idle_s
        try:
            item = await asyncio.wait_for(iterator.__anext__(), wait)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            where = "to start" if first else "to continue"
            setting = "backend.timeout_s" if first else "backend.idle_timeout_s"
            raise StreamStalled(
                f"{what} did not {where.removeprefix('to ')} within {wait:g}s (the reply stalled); the request was "
                f"closed and is retried — raise {setting} in study.yaml if the server is just slow {where}"
            ) from None
        first = False
        yield item


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any] | None]:
    """The JSON events of a server-sent-event stream; None for `data: [DONE]`. Comments and blank lines are
    skipped, so they never count as progress."""
    async for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            yield None
            return
        try:
            event = json.loads(payload)
        except ValueError as err:
            raise TransientBackendError(f"a streamed piece is not valid JSON ({err}): {payload[:120]!r}") from None
        if isinstance(event, dict):
            yield event


@dataclass
class OpenAIStream:
    """An OpenAI-style chat reply put together from its streamed chunks."""

    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    pieces: int = 0
    first_at: float | None = None
    last_at: float | None = None
    error: str | None = None

    def add(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("error"), (dict, str)):
            error = event["error"]
            self.error = str(error.get("message") if isinstance(error, dict) else error)
            return
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        if isinstance(event.get("timings"), dict):
            self.timings = event["timings"]
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            content = delta.get("content")
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if content or thinking:
                now = time.perf_counter()
                self.first_at = self.first_at if self.first_at is not None else now
                self.last_at = now
                self.pieces += 1
            if content:
                self.text.append(content)
            if thinking:
                self.thinking.append(thinking)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def result(self, host: str, model: str, form: str | None, latency: float) -> ChatResult:
        """The reply with its counts: usage where sent, else llama.cpp's timings, else one token per piece
        (llama-cpp-python streams one token per chunk and sends no usage); the decode rate from the server's
        timings, else measured between the first and the last piece."""
        usage, timings = self.usage, self.timings
        output = usage.get("completion_tokens") or timings.get("predicted_n") or self.pieces or None
        prompt = usage.get("prompt_tokens")
        if prompt is None and timings:
            prompt = int(timings.get("prompt_n") or 0) + int(timings.get("cache_n") or 0) or None
        cached = timings.get("cache_n")
        if cached is None:
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
        rate = timings.get("predicted_per_second")
        if not isinstance(rate, (int, float)):
            rate = decode_rate(output, self.first_at, self.last_at)
        return ChatResult(
            text="".join(self.text),
            thinking="".join(self.thinking) or None,
            done_reason=self.finish_reason,
            prompt_tokens=prompt,
            cached_tokens=cached if isinstance(cached, int) else None,
            output_tokens=output,
            latency_s=round(latency, 4),
            tokens_per_s=round(rate, 2)
            if isinstance(rate, (int, float))
            else decode_rate(output, self.first_at, self.last_at),
            structured_output=form,
            host=host,
            model=model,
        )


def decode_rate(tokens: int | None, first_at: float | None, last_at: float | None) -> float | None:
    """Tokens per second between the first and the last generated piece: generation only, no prompt processing."""
    if not tokens or tokens < 2 or first_at is None or last_at is None or last_at <= first_at:
        return None
    return round((tokens - 1) / (last_at - first_at), 2)
