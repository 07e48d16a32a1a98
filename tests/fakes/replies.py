"""What a fake model is and what it says: model specs, scripted replies, token counting and text helpers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

_UNITS = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


_BYTES_PER_PARAM = {"Q4_0": 0.56, "Q4_K_M": 0.6, "Q5_K_M": 0.71, "Q6_K": 0.82, "Q8_0": 1.06}


@dataclass(frozen=True)
class ModelSpec:
    """What a fake server knows about one model; every field has a plausible default.

    `digest` (64 hex chars) defaults to the sha256 of the model name and `size` (bytes) to an
    estimate from the parameter count and quantization; use `resolved_digest` / `resolved_size`.
    `model_info` holds extra keys merged into Ollama's `/api/show` `model_info`.
    """

    family: str = "llama"
    arch: str | None = None
    parameter_size: str = "8.0B"
    quantization: str = "Q4_K_M"
    context_length: int = 8192
    license: str = "Apache License 2.0"
    capabilities: tuple[str, ...] = ("completion",)
    digest: str | None = None
    size: int | None = None
    template: str = "{{ .System }}\n{{ .Prompt }}"
    parameters: str = 'stop "<|end|>"\ntemperature 0.7'
    model_info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return self.arch or self.family

    @property
    def parameter_count(self) -> int:
        """Parameters as an integer, parsed from `parameter_size` ("8.0B" -> 8_000_000_000)."""
        match = re.fullmatch(r"\s*([0-9.]+)\s*([KMBT]?)\s*", self.parameter_size.upper())
        if not match:
            return 0
        return int(float(match.group(1)) * _UNITS.get(match.group(2), 1))

    def resolved_digest(self, name: str) -> str:
        return self.digest or hashlib.sha256(name.encode()).hexdigest()

    def resolved_size(self) -> int:
        if self.size is not None:
            return self.size
        return int(self.parameter_count * _BYTES_PER_PARAM.get(self.quantization.upper(), 2.0)) or 1


@dataclass(frozen=True)
class Reply:
    """A scripted model reply. `content` may be text or a JSON-able value (serialised for you).

    `tool_calls` items are ``{"name": str, "arguments": dict}``.
    """

    content: Any = ""
    thinking: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] | None = None


ReplyLike = str | dict | list | Reply


Responder = Callable[[dict], ReplyLike | None]


def as_reply(value: ReplyLike) -> Reply:
    """Normalise whatever a script or responder returned into a `Reply` with text content."""
    if not isinstance(value, Reply):
        value = Reply(content=value)
    if not isinstance(value.content, str):
        value = Reply(content=json.dumps(value.content), thinking=value.thinking, tool_calls=value.tool_calls)
    return value


class ServerBusy(Exception):
    """No slot became free (queue full, slot wait timed out, or the server is stopping)."""


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def count_tokens(text: str) -> int:
    """Approximate a token count by whitespace-separated words."""
    return len(text.split())


def truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    """Cut `text` after `limit` whitespace-separated tokens, keeping the original spacing.

    Returns the (possibly cut) text and whether it was cut. A limit of None or below zero means
    no limit, as Ollama's ``num_predict: -1`` does.
    """
    if limit is None or limit < 0:
        return text, False
    matches = list(re.finditer(r"\S+", text))
    if len(matches) <= limit:
        return text, False
    if limit == 0:
        return "", True
    return text[: matches[limit - 1].end()], True


def stream_pieces(text: str) -> list[str]:
    """Split text into stream deltas (a word with its trailing space); they concatenate back to it."""
    return re.findall(r"\s+(?=\S)|\S+\s*", text) or ([text] if text else [])


def first_words(text: str, n: int = 20) -> str:
    return " ".join(text.split()[:n])


def message_text(content: Any) -> str:
    """Text of a chat message content: a string, or OpenAI's list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def last_user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def prompt_tokens(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(count_tokens(message_text(m.get("content"))) for m in messages if isinstance(m, dict))


def echo_text(messages: Any) -> str:
    """The default reply: deterministic and derived from the last user message."""
    return f"Echo: {first_words(last_user_text(messages))}".rstrip()


def truncated_json(text: str) -> str:
    """A prefix of a JSON document that is guaranteed not to parse."""
    cut = text[: max(1, len(text) // 2)]
    with contextlib.suppress(ValueError):
        json.loads(cut)
        cut = text + "{"
    return cut
