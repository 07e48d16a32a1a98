"""What a GGUF file says about itself: its metadata and its parameter count, read from the header alone.

Step 3 records what a model really is before it is trusted. For a GGUF file that is written in the file: the
architecture, native context, licence, name, quantisation and chat template are metadata keys, and the parameter
count is the sum of the tensors' shapes. Reading them needs no llama.cpp and no loading of the weights (gigabytes
for a real model), so `check` and `show` work even without the embedded extra, and a file that is not GGUF is
refused with a clear message before llama.cpp sees it. The file may come from anywhere, so every length and count
in it is checked against the file's size before it is trusted.

Contract: `read_gguf(path) -> GGUFHeader` (raises `GGUFError`); `quantization_name(file_type)`;
`file_sha256(path)` (memoised per path, size and modification time within the process).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MAGIC = b"GGUF"
ARRAY_KEPT = 16
"""Arrays up to this many scalars are kept (e.g. a list of languages); longer ones (the vocabulary) are skipped."""

# GGUF value types: (struct format, size) for the fixed-size ones.
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("B", 1),  # uint8
    1: ("b", 1),  # int8
    2: ("H", 2),  # uint16
    3: ("h", 2),  # int16
    4: ("I", 4),  # uint32
    5: ("i", 4),  # int32
    6: ("f", 4),  # float32
    7: ("?", 1),  # bool
    10: ("Q", 8),  # uint64
    11: ("q", 8),  # int64
    12: ("d", 8),  # float64
}
_STRING, _ARRAY = 8, 9

# llama.cpp's `llama_ftype` (general.file_type): the quantisation of most of the weights.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE",
}  # fmt: skip


class GGUFError(ValueError):
    """The file is not a GGUF file this reader understands; the message names the file and what is wrong."""


@dataclass
class GGUFHeader:
    """The metadata (scalars, strings and short arrays) and the totals of the tensor table."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensor_count: int
    parameter_count: int
    size_bytes: int
    skipped_arrays: dict[str, int] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.metadata.get(key)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) and value else None

    def arch_value(self, suffix: str) -> Any:
        """`<architecture>.<suffix>`, e.g. `llama.context_length`."""
        return self.metadata.get(f"{self.architecture}.{suffix}") if self.architecture else None


class _Reader:
    """Little-endian reads with every length checked against what is left of the file."""

    def __init__(self, stream: IO[bytes], size: int, path: Path) -> None:
        self.stream, self.size, self.path = stream, size, path

    def bytes(self, n: int, what: str) -> bytes:
        left = self.size - self.stream.tell()
        if n < 0 or n > left:
            raise GGUFError(f"{self.path}: {what} claims {n} bytes but {left} are left — the file is cut or corrupt")
        return self.stream.read(n)

    def scalar(self, kind: int, what: str) -> Any:
        fmt, size = _SCALARS[kind]
        return struct.unpack("<" + fmt, self.bytes(size, what))[0]

    def u32(self, what: str) -> int:
        return int(self.scalar(4, what))

    def u64(self, what: str) -> int:
        return int(self.scalar(10, what))

    def string(self, what: str) -> str:
        raw = self.bytes(self.u64(what), what)
        return raw.decode("utf-8", errors="replace")

    def skip(self, n: int, what: str) -> None:
        left = self.size - self.stream.tell()
        if n < 0 or n > left:
            raise GGUFError(f"{self.path}: {what} claims {n} bytes but {left} are left — the file is cut or corrupt")
        self.stream.seek(n, 1)

    def value(self, kind: int, key: str) -> tuple[Any, int | None]:
        """The value, or (None, length) for an array too long to keep."""
        if kind in _SCALARS:
            return self.scalar(kind, key), None
        if kind == _STRING:
            return self.string(key), None
        if kind != _ARRAY:
            raise GGUFError(f"{self.path}: metadata key {key!r} has unknown value type {kind}")
        inner, count = self.u32(key), self.u64(key)
        if inner == _STRING:
            if count > ARRAY_KEPT:
                for _ in range(count):
                    self.skip(self.u64(key), key)
                return None, count
            return [self.string(key) for _ in range(count)], None
        if inner not in _SCALARS:
            raise GGUFError(f"{self.path}: metadata key {key!r} is an array of unsupported type {inner}")
        size = _SCALARS[inner][1]
        if count > ARRAY_KEPT:
            self.skip(count * size, key)
            return None, count
        return [self.scalar(inner, key) for _ in range(count)], None


def read_gguf(path: str | Path) -> GGUFHeader:
    """Read the header of a GGUF file (versions 2 and 3, little-endian): metadata and parameter count."""
    path = Path(path)
    try:
        size = path.stat().st_size
        stream = path.open("rb")
    except OSError as err:
        raise GGUFError(f"{path}: cannot be read ({err.strerror or err})") from None
    with stream:
        magic = stream.read(4)
        if magic != MAGIC:
            raise GGUFError(f"{path}: not a GGUF file (it does not start with the bytes 'GGUF')")
        reader = _Reader(stream, size, path)
        version = reader.u32("version")
        if version not in (2, 3):
            hint = " (a big-endian file?)" if version > 0xFFFF else ""
            raise GGUFError(f"{path}: GGUF version {version}{hint} is not supported; versions 2 and 3 are")
        tensor_count, kv_count = reader.u64("tensor count"), reader.u64("metadata count")
        # A key-value pair takes at least 12 bytes and a tensor entry at least 24: counts beyond that are corrupt.
        if kv_count * 12 > size or tensor_count * 24 > size:
            raise GGUFError(f"{path}: the header claims {kv_count} keys and {tensor_count} tensors — corrupt")
        metadata: dict[str, Any] = {}
        skipped: dict[str, int] = {}
        for _ in range(kv_count):
            key = reader.string("a metadata key")
            value, length = reader.value(reader.u32(key), key)
            if length is not None:
                skipped[key] = length
            else:
                metadata[key] = value
        parameters = 0
        for _ in range(tensor_count):
            name = reader.string("a tensor name")
            dims = reader.u32(name)
            if dims > 8:
                raise GGUFError(f"{path}: tensor {name!r} claims {dims} dimensions — corrupt")
            count = 1
            for _ in range(dims):
                count *= reader.u64(name)
            reader.skip(12, name)  # the tensor's type (u32) and data offset (u64)
            parameters += count
    return GGUFHeader(
        path=path,
        version=version,
        metadata=metadata,
        tensor_count=tensor_count,
        parameter_count=parameters,
        size_bytes=size,
        skipped_arrays=skipped,
    )


def quantization_name(file_type: Any) -> str | None:
    """`general.file_type` as llama.cpp names it (3 → 'Q4_1'); None when absent or unknown."""
    if isinstance(file_type, bool) or not isinstance(file_type, int):
        return None
    return FILE_TYPES.get(file_type)


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """`sha256:<hex>` of the file's bytes: the model's digest, so a changed file is a new build.

    Hashing a multi-gigabyte file takes seconds, so the result is kept for the life of the process, keyed by the
    resolved path, size and modification time (a replaced file has a new one).
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with resolved.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        _DIGESTS[key] = "sha256:" + digest.hexdigest()
    return _DIGESTS[key]
