"""What an OpenAI-compatible server's error answer means: retry it, fix a setting, or serve another model.

The servers answer errors in different shapes (OpenAI's `{"error": {...}}`, older vLLM's flat `{"object":
"error", "message": ...}`, LM Studio's `{"error": "..."}`, FastAPI's `{"detail": ...}`) and not always with the
status one would expect: llama-cpp-python answers a request it cannot parse with HTTP 500 and a pydantic
validation message. Retrying such a request only repeats the refusal (the 160 requests and two minutes of the
first real run), so the kind of error is read from the status *and* the body.

Contract: `classify(status, body, host, model, kind) -> BMSError`: `ModelNotFound` (404, `model_not_found`),
`ContextOverflow` (the prompt does not fit: the message names the setting that sizes this kind's context, and the
server's figures when it gave them), `RequestRejected` (401/403, any other 4xx, a 5xx whose body is a validation
error: never retried, the server's words and the fix), `TransientBackendError` (408, 409, 429 and other 5xx).
"""

from __future__ import annotations

import json
import re
from typing import Any

from base_model_selector.serving.backends import servers
from base_model_selector.study.errors import (
    BMSError,
    ContextOverflow,
    ModelNotFound,
    RequestRejected,
    TransientBackendError,
)

TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_VALIDATION = re.compile(r"\bvalidation errors?\b|literal_error|Input should be|Extra inputs are not permitted", re.I)
_OVERFLOW = re.compile(
    r"context_length_exceeded|exceed_context_size|maximum context length|exceeds? (the )?(available )?context"
    r"|context (window|size|length) (of|is|exceeded)|longer than the model'?s context",
    re.I,
)


def classify(code: int, data: Any, host: str, model: str | None, kind: str) -> BMSError:
    """The project error an HTTP error answer stands for (see the module docstring)."""
    text, err_code, err_type, error = server_message(data)
    if code == 404 or err_code == "model_not_found":
        if model is None:
            return RequestRejected(f"{host} answered {code} ({text}); is it an OpenAI-compatible server?")
        return ModelNotFound(f"model '{model}' is not served at {host} ({text})")
    if code in (401, 403):
        return RequestRejected(
            f"{host} refused the credentials (HTTP {code}: {text}); set backend.api_key_env in study.yaml to the "
            "environment variable holding the key, and export it"
        )
    if code < 500 and (_OVERFLOW.search(f"{text} {err_code} {err_type}") or "n_ctx" in error):
        return overflow(text, error, host, model, kind)
    if code in TRANSIENT_STATUS or code >= 500:
        if not _VALIDATION.search(text):
            return TransientBackendError(f"{host} answered HTTP {code} for {model}: {text}")
        code_text = f"HTTP {code}, a validation error"
    else:
        code_text = f"HTTP {code}"
    return RequestRejected(
        f"{host} refused the request for {model} ({code_text}): {text} — sending it again cannot help, so it "
        f"is not retried; change what the message names (study.yaml, or start {servers.KINDS[kind].label} "
        "with other settings)"
    )


def overflow(text: str, error: dict[str, Any], host: str, model: str | None, kind: str) -> ContextOverflow:
    """A prompt that does not fit, with the server's figures and the setting that sizes this kind's context."""
    context = _first_int(error.get("n_ctx"), text, r"maximum context length is (\d+)", r"context size \((\d+)")
    prompt = _first_int(
        error.get("n_prompt_tokens"),
        text,
        r"\((\d+) in the messages",
        r"request has (\d+) input tokens",
        r"request \((\d+) tokens\)",
        r"Requested tokens \((\d+)\)",
    )
    sizes = ""
    if prompt and context:
        sizes = f" The prompt has {prompt} tokens and the server allows {context} per request."
    elif context:
        sizes = f" The server allows {context} tokens per request."
    return ContextOverflow(
        f"{host}: the request for {model} does not fit the server's context ({text}).{sizes} Raise "
        f"{servers.KINDS[kind].context_setting}, or lower the reply budget (generation.num_predict, "
        "judge.num_predict) or shorten the prompt; running the same command again will not help",
        context=context,
        prompt_tokens=prompt,
    )


def server_message(data: Any) -> tuple[str, Any, Any, dict[str, Any]]:
    """(message, code, type, the error object) from whichever error body shape the server sent."""
    if isinstance(data, str):
        return data.strip()[:400] or "(empty body)", None, None, {}
    if not isinstance(data, dict):
        return str(data)[:400], None, None, {}
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message") or json.dumps(error)[:400]
        return " ".join(str(message).split())[:600], error.get("code"), error.get("type"), error
    if isinstance(error, str):
        return error, None, None, {}
    if "message" in data:
        return " ".join(str(data["message"]).split())[:600], data.get("code"), data.get("type"), data
    if "detail" in data:
        return str(data["detail"])[:400], None, None, {}
    return json.dumps(data)[:400], None, None, {}


def _first_int(value: Any, text: str, *patterns: str) -> int | None:
    if isinstance(value, int) and value > 0:
        return value
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return int(match.group(1))
    return None
