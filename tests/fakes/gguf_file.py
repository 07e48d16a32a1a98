"""Small GGUF files written by the tests: the header format llama.cpp reads, with any metadata and tensor shapes.

Real GGUF models are hundreds of megabytes; the header reader and everything built on it (show, check, pull)
only need the header, so tests write files that have exactly the keys a case needs, and pad them to a size.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# value type codes of the GGUF format
_U32, _I32, _F32, _BOOL, _STRING, _ARRAY, _U64 = 4, 5, 6, 7, 8, 9, 10


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _value(value: Any) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return _BOOL, struct.pack("<?", value)
    if isinstance(value, int):
        return (_U32, struct.pack("<I", value)) if 0 <= value < 2**32 else (_U64, struct.pack("<Q", value))
    if isinstance(value, float):
        return _F32, struct.pack("<f", value)
    if isinstance(value, str):
        return _STRING, _string(value)
    if isinstance(value, list):
        inner = _value(value[0])[0] if value else _U32
        body = b"".join(_value(v)[1] for v in value)
        return _ARRAY, struct.pack("<IQ", inner, len(value)) + body
    raise TypeError(f"no GGUF type for {value!r}")


def gguf_bytes(
    metadata: dict[str, Any], tensors: Sequence[tuple[str, Sequence[int]]] = (), *, version: int = 3
) -> bytes:
    """The bytes of a GGUF header: magic, version, counts, the key-value pairs, the tensor table."""
    out = [b"GGUF", struct.pack("<IQQ", version, len(tensors), len(metadata))]
    for key, value in metadata.items():
        kind, data = _value(value)
        out += [_string(key), struct.pack("<I", kind), data]
    offset = 0
    for name, shape in tensors:
        out += [_string(name), struct.pack("<I", len(shape)), *(struct.pack("<Q", d) for d in shape)]
        out.append(struct.pack("<IQ", 0, offset))  # type F32, data offset
        offset += 32
    return b"".join(out)


def write_gguf(
    path: Path,
    metadata: dict[str, Any],
    tensors: Sequence[tuple[str, Sequence[int]]] = (),
    *,
    pad_to: int = 0,
) -> Path:
    """Write a GGUF header (padded with zero bytes to `pad_to`, standing in for the weights) and return the path."""
    data = gguf_bytes(metadata, tensors)
    path.write_bytes(data + b"\0" * max(0, pad_to - len(data)))
    return path


SMOLLM_LIKE: dict[str, Any] = {
    "general.architecture": "llama",
    "general.basename": "SmolLM2",
    "general.size_label": "135M",
    "general.name": "SmolLM2 135M Instruct",
    "general.license": "apache-2.0",
    "general.file_type": 3,
    "llama.context_length": 8192,
    "llama.block_count": 30,
    "tokenizer.chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    "tokenizer.ggml.tokens": [f"t{i}" for i in range(40)],
}
"""The metadata of a SmolLM2-135M-Instruct build, with a short vocabulary (an array too long to keep)."""
SMOLLM_TENSORS = [("token_embd.weight", (576, 49152)), ("blk.0.attn_q.weight", (576, 576))]
"""Two tensors: 576 × 49152 + 576 × 576 = 28,643,328 parameters."""
