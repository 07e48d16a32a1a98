"""Behaviour of the fake model servers, driven through the real `ollama` and `httpx` clients.

The rest of the suite trusts `FakeOllama` and `FakeOpenAI` to behave like Ollama and vLLM-style
servers, failures included. These tests pin that behaviour down through the same client code the
tool uses, so a fake that drifts from the real wire format fails here first.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
import jsonschema
import ollama
import pytest

from fakes import FakeOllama, FakeOpenAI, ModelSpec, Reply, schema_instance

MODEL = "qwen3:4b"
QUESTION = [{"role": "user", "content": "Which river flows through Vienna and Budapest?"}]


def ollama_client(fake: FakeOllama) -> ollama.Client:
    return ollama.Client(host=fake.url, timeout=5, verify=False)  # plain HTTP: skip loading CA certs (slow)


def http_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=5, verify=False)


def chat_text(client: ollama.Client, **kwargs: Any) -> str:
    return client.chat(model=MODEL, messages=QUESTION, **kwargs).message.content or ""


SCHEMAS = [
    pytest.param(
        {
            "type": "object",
            "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "rationale": {"type": "string"}},
            "required": ["score", "rationale"],
            "additionalProperties": False,
        },
        id="flat-object-with-bounds",
    ),
    pytest.param(
        {
            "$defs": {
                "Verdict": {"enum": ["pass", "fail"], "type": "string"},
                "Item": {
                    "type": "object",
                    "properties": {"verdict": {"$ref": "#/$defs/Verdict"}, "note": {"type": "string", "minLength": 12}},
                    "required": ["verdict", "note"],
                },
            },
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2}},
            "required": ["items"],
        },
        id="defs-ref-enum-array",
    ),
    pytest.param(
        {
            "type": "object",
            "properties": {
                "kind": {"const": "judgement"},
                "weight": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 0}]},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "uniqueItems": True},
                "ok": {"type": "boolean"},
                "when": {"type": "string", "format": "date-time"},
            },
            "required": ["kind", "weight", "tags", "ok", "when"],
        },
        id="const-anyof-unique-array-format",
    ),
    pytest.param(
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"type": ["string", "null"], "maxLength": 3}}, "required": ["b"]},
            ]
        },
        id="allof-type-list",
    ),
]


# --------------------------------------------------------------------------- Ollama: model management


def test_root_and_version_answer_like_ollama(fake_ollama: FakeOllama) -> None:
    with http_client(fake_ollama.url) as http:
        assert http.get("/").text == "Ollama is running"
        assert http.get("/api/version").json() == {"version": "0.12.0"}
        assert http.get("/api/nope").status_code == 404


def test_list_reports_present_models_with_details(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        models = {m.model: m for m in client.list().models}
    assert set(models) == {"llama3.1:8b", "qwen3:4b"}
    qwen = models[MODEL]
    assert qwen.details is not None
    assert (qwen.details.family, qwen.details.parameter_size, qwen.details.quantization_level) == (
        "qwen3",
        "4.0B",
        "Q4_K_M",
    )
    assert qwen.size and qwen.size > 1_000_000_000
    assert qwen.digest and len(qwen.digest) == 64


def test_show_reports_architecture_context_length_and_capabilities(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        shown = client.show(MODEL)
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == "qwen3"
    assert shown.modelinfo["qwen3.context_length"] == 40960
    assert shown.modelinfo["general.parameter_count"] == 4_000_000_000
    assert shown.capabilities == ["completion", "tools", "thinking"]
    assert shown.license == "Apache License Version 2.0"
    assert shown.details is not None and shown.details.quantization_level == "Q4_K_M"
    assert shown.modified_at is not None


def test_a_name_without_tag_means_latest() -> None:
    with FakeOllama(models={"mistral": ModelSpec(family="llama", arch="llama")}) as fake, ollama_client(fake) as client:
        assert [m.model for m in client.list().models] == ["mistral:latest"]
        assert client.show("mistral").details is not None
        assert chat_text_for(client, "mistral:latest").startswith("Echo:")


def chat_text_for(client: ollama.Client, model: str) -> str:
    return client.chat(model=model, messages=QUESTION).message.content or ""


def test_show_of_an_unknown_model_raises_404(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client, pytest.raises(ollama.ResponseError) as info:
        client.show("nope:1b")
    assert info.value.status_code == 404
    assert "nope:1b" in info.value.error


def test_pull_streams_progress_and_the_model_is_present_afterwards(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        assert not fake_ollama.has_model("gemma3:270m")
        lines = list(client.pull("gemma3:270m", stream=True))
        statuses = [line.status for line in lines]
        assert statuses[0] == "pulling manifest"
        assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
        progress = [line for line in lines if line.digest]
        weights = [line for line in progress if line.digest == progress[0].digest]
        assert len(weights) > 2
        assert [w.completed for w in weights] == sorted(w.completed or 0 for w in weights)
        assert weights[-1].completed == weights[-1].total
        assert "gemma3:270m" in [m.model for m in client.list().models]


def test_pull_without_stream_returns_success(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        assert client.pull("gemma3:270m").status == "success"
        assert client.show("gemma3:270m").capabilities == ["completion"]


@pytest.mark.parametrize(
    ("stream", "status_code"),
    [
        pytest.param(True, -1, id="streamed-error-line"),
        pytest.param(False, 500, id="http-500"),
    ],
)
def test_pull_of_a_model_the_registry_lacks_raises_response_error(
    fake_ollama: FakeOllama, stream: bool, status_code: int
) -> None:
    with ollama_client(fake_ollama) as client, pytest.raises(ollama.ResponseError) as info:
        result = client.pull("no-such-model:7b", stream=stream)
        if stream:
            list(result)
    assert info.value.error == "pull model manifest: file does not exist"
    assert info.value.status_code == status_code
    assert not fake_ollama.has_model("no-such-model:7b")


def test_an_interrupted_pull_resumes_where_it_stopped(fake_ollama: FakeOllama) -> None:
    fake_ollama.interrupt_next_pull(after_lines=3)
    seen: list[ollama.ProgressResponse] = []
    with ollama_client(fake_ollama) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            for line in client.pull("gemma3:270m", stream=True):
                seen.append(line)
        progress = [line for line in seen if line.digest]
        assert len(progress) == 3
        stopped_at = progress[-1].completed
        assert stopped_at and 0 < stopped_at < (progress[-1].total or 0)
        assert not fake_ollama.has_model("gemma3:270m")

        resumed = [line for line in client.pull("gemma3:270m", stream=True) if line.digest]
        assert resumed[0].completed == stopped_at
        assert fake_ollama.has_model("gemma3:270m")


# --------------------------------------------------------------------------- Ollama: chat


def test_chat_returns_an_echo_and_stats_in_nanoseconds(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        response = client.chat(model=MODEL, messages=QUESTION)
    assert response.message.role == "assistant"
    assert response.message.content == "Echo: Which river flows through Vienna and Budapest?"
    assert response.done is True
    assert response.done_reason == "stop"
    assert response.prompt_eval_count == 7
    assert response.eval_count == 8
    assert response.eval_duration and response.eval_duration >= 1_000_000  # ns, not seconds
    assert response.total_duration and response.total_duration >= response.eval_duration


def test_streamed_chat_yields_content_chunks_then_a_done_chunk(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        whole = chat_text(client)
        chunks = list(client.chat(model=MODEL, messages=QUESTION, stream=True))
    assert len(chunks) > 3
    assert all(not c.done for c in chunks[:-1])
    assert "".join(c.message.content or "" for c in chunks) == whole
    final = chunks[-1]
    assert final.done and final.done_reason == "stop"
    assert final.eval_count == 8 and final.total_duration


@pytest.mark.parametrize("schema", SCHEMAS)
def test_chat_with_a_schema_format_returns_json_valid_for_it(fake_ollama: FakeOllama, schema: dict) -> None:
    with ollama_client(fake_ollama) as client:
        content = chat_text(client, format=schema)
    jsonschema.validate(json.loads(content), schema)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_schema_instances_validate(schema: dict) -> None:
    jsonschema.validate(schema_instance(schema), schema)


def test_chat_with_json_format_returns_a_json_object(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        assert isinstance(json.loads(chat_text(client, format="json")), dict)


def test_scripted_replies_come_first_in_order_then_the_responder() -> None:
    def responder(request: dict) -> str | None:
        return f"{request['model']} says hi" if request["model"] == MODEL else None

    with FakeOllama(responder=responder) as fake, ollama_client(fake) as client:
        fake.enqueue("first", {"score": 4})
        assert chat_text(client) == "first"
        assert json.loads(chat_text(client)) == {"score": 4}
        assert chat_text(client) == "qwen3:4b says hi"
        assert chat_text_for(client, "llama3.1:8b").startswith("Echo: ")


def test_a_scripted_reply_overrides_the_schema(fake_ollama: FakeOllama) -> None:
    fake_ollama.enqueue("not json at all")
    with ollama_client(fake_ollama) as client:
        assert chat_text(client, format={"type": "object"}) == "not json at all"


def test_num_predict_cuts_the_reply_and_reports_length(fake_ollama: FakeOllama) -> None:
    fake_ollama.enqueue("one two three four five six")
    with ollama_client(fake_ollama) as client:
        response = client.chat(model=MODEL, messages=QUESTION, options={"num_predict": 4})
    assert response.message.content == "one two three four"
    assert response.done_reason == "length"
    assert response.eval_count == 4


def test_thinking_is_returned_only_by_thinking_models(fake_ollama: FakeOllama) -> None:
    fake_ollama.enqueue(Reply(content="Danube", thinking="Both are capitals on one river."))
    with ollama_client(fake_ollama) as client:
        response = client.chat(model=MODEL, messages=QUESTION, think=True)
        assert (response.message.content, response.message.thinking) == ("Danube", "Both are capitals on one river.")
        with pytest.raises(ollama.ResponseError) as info:
            client.chat(model="llama3.1:8b", messages=QUESTION, think=True)
    assert info.value.status_code == 400


def test_scripted_tool_calls_reach_the_client(fake_ollama: FakeOllama) -> None:
    fake_ollama.enqueue(Reply(tool_calls=({"name": "lookup", "arguments": {"q": "Danube"}},)))
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    with ollama_client(fake_ollama) as client:
        message = client.chat(model=MODEL, messages=QUESTION, tools=[tool]).message
    assert message.tool_calls is not None
    assert (message.tool_calls[0].function.name, message.tool_calls[0].function.arguments) == (
        "lookup",
        {"q": "Danube"},
    )


def test_generate_answers_the_prompt(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        response = client.generate(model=MODEL, prompt="Say hello")
        streamed = "".join(
            part.response or "" for part in client.generate(model=MODEL, prompt="Say hello", stream=True)
        )
    assert response.response == streamed == "Echo: Say hello"
    assert response.done_reason == "stop"


@pytest.mark.parametrize("stream", [pytest.param(False, id="whole"), pytest.param(True, id="stream")])
def test_chat_with_a_missing_model_raises_404_naming_it(fake_ollama: FakeOllama, stream: bool) -> None:
    with ollama_client(fake_ollama) as client, pytest.raises(ollama.ResponseError) as info:
        result = client.chat(model="gemma3:270m", messages=QUESTION, stream=stream)
        if stream:
            list(result)
    assert info.value.status_code == 404
    assert "gemma3:270m" in info.value.error
    assert fake_ollama.chat_count == 0


def test_requests_are_recorded_with_their_bodies(fake_ollama: FakeOllama) -> None:
    with ollama_client(fake_ollama) as client:
        client.list()
        chat_text(client, options={"temperature": 0})
    assert [path for path, _ in fake_ollama.requests] == ["/api/tags", "/api/chat"]
    [body] = fake_ollama.requests_to("/api/chat")
    assert body["model"] == MODEL and body["options"] == {"temperature": 0}
    assert fake_ollama.chat_count == 1


# --------------------------------------------------------------------------- Ollama: faults and load

OLLAMA_FAULTS = [
    pytest.param("http500", False, ollama.ResponseError, 500, id="http500"),
    pytest.param("http500", True, ollama.ResponseError, 500, id="http500-stream"),
    pytest.param("503", False, ollama.ResponseError, 503, id="busy-503"),
    pytest.param("drop", False, httpx.RemoteProtocolError, None, id="drop-before-response"),
    pytest.param("drop", True, httpx.RemoteProtocolError, None, id="drop-mid-stream"),
    pytest.param("invalid_body", False, json.JSONDecodeError, None, id="invalid-body"),
    pytest.param("invalid_body", True, json.JSONDecodeError, None, id="invalid-stream-line"),
]


@pytest.mark.parametrize(("kind", "stream", "error", "status_code"), OLLAMA_FAULTS)
def test_ollama_faults_surface_as_the_client_errors_of_real_failures(
    fake_ollama: FakeOllama, kind: str, stream: bool, error: type[Exception], status_code: int | None
) -> None:
    fake_ollama.fail_next(1, kind)
    with ollama_client(fake_ollama) as client:
        with pytest.raises(error) as info:
            result = client.chat(model=MODEL, messages=QUESTION, stream=stream)
            if stream:
                list(result)
        if status_code is not None:
            assert isinstance(info.value, ollama.ResponseError) and info.value.status_code == status_code
        assert chat_text(client).startswith("Echo:"), "the fault applies to one request only"


@pytest.mark.parametrize("stream", [pytest.param(False, id="whole"), pytest.param(True, id="stream")])
def test_invalid_json_fault_returns_content_that_does_not_parse(fake_ollama: FakeOllama, stream: bool) -> None:
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}
    fake_ollama.fail_next(1, "invalid_json")
    with ollama_client(fake_ollama) as client:
        if stream:
            content = "".join(c.message.content or "" for c in client.chat(MODEL, QUESTION, format=schema, stream=True))
        else:
            content = chat_text(client, format=schema)
        with pytest.raises(json.JSONDecodeError):
            json.loads(content)
        jsonschema.validate(json.loads(chat_text(client, format=schema)), schema)


def test_faults_leave_scripted_replies_for_the_retry(fake_ollama: FakeOllama) -> None:
    fake_ollama.enqueue("scripted")
    fake_ollama.fail_next(2, "http500")
    with ollama_client(fake_ollama) as client:
        for _ in range(2):
            with pytest.raises(ollama.ResponseError):
                chat_text(client)
        assert chat_text(client) == "scripted"
    assert fake_ollama.chat_count == 3


def test_fail_every_k_th_request(fake_ollama: FakeOllama) -> None:
    fake_ollama.fail_every(3, "503")
    outcomes = []
    with ollama_client(fake_ollama) as client:
        for _ in range(6):
            try:
                chat_text(client)
                outcomes.append("ok")
            except ollama.ResponseError as err:
                outcomes.append(err.status_code)
    assert outcomes == ["ok", "ok", 503, "ok", "ok", 503]


def test_parallel_slots_bound_concurrent_chats() -> None:
    async def six_at_once(fake: FakeOllama) -> list[str]:
        async with ollama.AsyncClient(host=fake.url, timeout=5, verify=False) as client:
            replies = await asyncio.gather(*(client.chat(model=MODEL, messages=QUESTION) for _ in range(6)))
        return [r.message.content or "" for r in replies]

    with FakeOllama(parallel=2, delay=0.2) as fake:
        started = time.monotonic()
        replies = asyncio.run(six_at_once(fake))
        elapsed = time.monotonic() - started
    assert len(replies) == 6 and all(r.startswith("Echo:") for r in replies)
    assert fake.max_concurrent_seen == 2
    assert 0.55 < elapsed < 3


def test_a_full_queue_answers_503() -> None:
    async def two_at_once(fake: FakeOllama) -> list[Any]:
        async with ollama.AsyncClient(host=fake.url, timeout=5, verify=False) as client:
            calls = (client.chat(model=MODEL, messages=QUESTION) for _ in range(2))
            return await asyncio.gather(*calls, return_exceptions=True)

    with FakeOllama(parallel=1, delay=0.3, max_queue=0) as fake:
        results = asyncio.run(two_at_once(fake))
    errors = [r for r in results if isinstance(r, ollama.ResponseError)]
    assert len(errors) == 1 and errors[0].status_code == 503
    assert "server busy" in errors[0].error


def test_stop_returns_promptly_while_a_request_is_in_flight() -> None:
    outcome: list[BaseException | str] = []

    def call(url: str) -> None:
        try:
            with httpx.Client(timeout=5, verify=False) as http:
                outcome.append(http.post(f"{url}/api/chat", json={"model": MODEL, "messages": QUESTION}).text)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    fake = FakeOllama(delay=20).start()
    caller = threading.Thread(target=call, args=(fake.url,))
    caller.start()
    deadline = time.monotonic() + 3
    while fake.chat_count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    caller.join(5)
    assert time.monotonic() - started < 3
    assert not caller.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError)


# --------------------------------------------------------------------------- OpenAI-compatible


def openai_chat(http: httpx.Client, **extra: Any) -> httpx.Response:
    return http.post("/v1/chat/completions", json={"model": "qwen3-8b", "messages": QUESTION, **extra})


def sse_events(response: httpx.Response) -> list[str]:
    return [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]


def test_openai_lists_models(fake_openai: FakeOpenAI) -> None:
    with http_client(fake_openai.url) as http:
        listing = http.get("/v1/models").json()
    assert listing["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in listing["data"]] == [("qwen3-8b", "model", "vllm")]


def test_openai_chat_reports_the_reply_and_usage(fake_openai: FakeOpenAI) -> None:
    with http_client(fake_openai.url) as http:
        body = openai_chat(http).json()
    [choice] = body["choices"]
    assert body["object"] == "chat.completion" and body["model"] == "qwen3-8b"
    assert choice["message"] == {"role": "assistant", "content": "Echo: Which river flows through Vienna and Budapest?"}
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 8, "total_tokens": 15}


def test_openai_stream_sends_sse_chunks_ending_with_done(fake_openai: FakeOpenAI) -> None:
    with http_client(fake_openai.url) as http:
        whole = openai_chat(http).json()["choices"][0]["message"]["content"]
        with http.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": "qwen3-8b", "messages": QUESTION, "stream": True, "stream_options": {"include_usage": True}},
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("content", "") for d in deltas) == whole
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 8


@pytest.mark.parametrize("schema", SCHEMAS)
def test_openai_json_schema_response_format_gives_valid_json(fake_openai: FakeOpenAI, schema: dict) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}}
    with http_client(fake_openai.url) as http:
        content = openai_chat(http, response_format=response_format).json()["choices"][0]["message"]["content"]
        json_object = openai_chat(http, response_format={"type": "json_object"}).json()
    jsonschema.validate(json.loads(content), schema)
    assert isinstance(json.loads(json_object["choices"][0]["message"]["content"]), dict)


def test_openai_max_tokens_cuts_the_reply(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue("one two three four five")
    with http_client(fake_openai.url) as http:
        body = openai_chat(http, max_tokens=2).json()
    assert body["choices"][0]["message"]["content"] == "one two"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


def test_openai_unknown_model_is_404_model_not_found(fake_openai: FakeOpenAI) -> None:
    with http_client(fake_openai.url) as http:
        response = http.post("/v1/chat/completions", json={"model": "x", "messages": QUESTION})
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["message"], error["type"], error["code"]) == (
        "The model `x` does not exist.",
        "invalid_request_error",
        "model_not_found",
    )


def test_openai_rejects_prompts_beyond_the_context_length() -> None:
    with FakeOpenAI(models={"tiny": ModelSpec(context_length=10)}) as fake, http_client(fake.url) as http:
        response = http.post("/v1/chat/completions", json={"model": "tiny", "messages": QUESTION, "max_tokens": 8})
    assert response.status_code == 400
    assert "maximum context length is 10 tokens" in response.json()["error"]["message"]


def test_openai_api_key_is_enforced_when_set() -> None:
    with FakeOpenAI(api_key="sk-test") as fake, http_client(fake.url) as http:
        assert http.get("/v1/models").status_code == 401
        assert http.get("/v1/models", headers={"Authorization": "Bearer sk-test"}).status_code == 200


OPENAI_FAULTS = [
    pytest.param("http500", False, 500, id="http500"),
    pytest.param("503", False, 503, id="busy-503"),
    pytest.param("drop", False, httpx.RemoteProtocolError, id="drop-before-response"),
    pytest.param("drop", True, httpx.RemoteProtocolError, id="drop-mid-stream"),
    pytest.param("invalid_body", False, json.JSONDecodeError, id="invalid-body"),
    pytest.param("invalid_json", False, "content", id="invalid-json-content"),
]


@pytest.mark.parametrize(("kind", "stream", "expected"), OPENAI_FAULTS)
def test_openai_faults(fake_openai: FakeOpenAI, kind: str, stream: bool, expected: Any) -> None:
    fake_openai.fail_next(1, kind)
    payload = {"model": "qwen3-8b", "messages": QUESTION, "stream": stream, "response_format": {"type": "json_object"}}
    with http_client(fake_openai.url) as http:
        if isinstance(expected, int):
            response = http.post("/v1/chat/completions", json=payload)
            assert response.status_code == expected
            assert response.json()["error"]["type"] == "server_error"
        elif expected == "content":
            content = http.post("/v1/chat/completions", json=payload).json()["choices"][0]["message"]["content"]
            with pytest.raises(json.JSONDecodeError):
                json.loads(content)
        else:
            with pytest.raises(expected), http.stream("POST", "/v1/chat/completions", json=payload) as response:
                events = sse_events(response) if stream else [response.read().decode()]
                for event in events:
                    if event != "[DONE]":
                        json.loads(event)
        assert openai_chat(http).status_code == 200, "the fault applies to one request only"


def test_openai_parallel_slots_bound_concurrent_requests() -> None:
    async def six_at_once(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=5, verify=False) as http:
            calls = (
                http.post("/v1/chat/completions", json={"model": "qwen3-8b", "messages": QUESTION}) for _ in range(6)
            )
            return [r.status_code for r in await asyncio.gather(*calls)]

    with FakeOpenAI(parallel=2, delay=0.2) as fake:
        assert asyncio.run(six_at_once(fake.url)) == [200] * 6
    assert fake.max_concurrent_seen == 2
    assert fake.chat_count == 6


@pytest.mark.parametrize(
    ("kind", "request_extra", "status", "says"),
    [
        pytest.param("llama-cpp-python", {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
                     500, "validation error", id="llama-cpp-python-refuses-json-schema-with-500"),
        pytest.param("lmstudio", {"response_format": {"type": "json_object"}},
                     400, "'response_format.type' must be 'json_schema' or 'text'", id="lmstudio-refuses-json-object"),
        pytest.param("llama.cpp", {"messages": [{"role": "user", "content": "w " * 50}]},
                     400, "exceed_context_size_error", id="llama.cpp-overflow"),
        pytest.param("vllm", {"max_tokens": 40}, 400, "maximum context length is 30", id="vllm-counts-the-reply"),
        pytest.param("llama.cpp", {"model": "anything-at-all"}, 200, "Echo", id="llama.cpp-answers-any-name"),
        pytest.param("vllm", {"model": "anything-at-all"}, 404, "does not exist", id="vllm-checks-the-name"),
    ],
)  # fmt: skip
def test_each_openai_server_kind_accepts_and_refuses_as_documented(
    kind: str, request_extra: dict[str, Any], status: int, says: str
) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi there"}], **request_extra}
    with FakeOpenAI({"m": ModelSpec()}, kind=kind, context=30) as fake:
        response = httpx.post(f"{fake.url}/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == status and says in response.text


def test_llama_cpp_python_hides_an_overflow_in_an_empty_stream() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "w " * 50}], "stream": True}
    with FakeOpenAI({"m": ModelSpec()}, kind="llama-cpp-python", context=30) as fake:
        response = httpx.post(f"{fake.url}/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 200 and response.text == ""
