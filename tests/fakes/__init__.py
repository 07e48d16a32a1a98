"""Stand-ins for model servers (Ollama, OpenAI-compatible) that tests run on 127.0.0.1.

They let the suite drive the real client libraries end to end, including the failure modes of
real servers, without GPUs, network access or model downloads. See `ollama_server` and
`openai_server`; the machinery they share is in `http` (the server), `faults` (faults and slots), `replies` (models and
their text) and `schema` (structured output).
"""

from .faults import FAULT_KINDS
from .http import FakeServerBase
from .ollama_server import DEFAULT_MODELS, DEFAULT_PULLABLE, FakeOllama, normalize_name
from .openai_server import FakeOpenAI
from .replies import ModelSpec, Reply
from .schema import schema_instance

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_PULLABLE",
    "FAULT_KINDS",
    "FakeOllama",
    "FakeOpenAI",
    "FakeServerBase",
    "ModelSpec",
    "Reply",
    "normalize_name",
    "schema_instance",
]
