"""The GGUF header reader: the facts `check` records come from the file itself, and a bad file is refused."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from base_model_selector.serving.backends.gguf import GGUFError, file_sha256, quantization_name, read_gguf
from base_model_selector.serving.backends.llamacpp import model_info
from fakes.gguf_file import SMOLLM_LIKE, SMOLLM_TENSORS, gguf_bytes, write_gguf


def test_header_gives_metadata_and_counts_parameters_from_the_tensor_shapes(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", SMOLLM_LIKE, SMOLLM_TENSORS, pad_to=4096)
    header = read_gguf(path)
    assert header.architecture == "llama"
    assert header.arch_value("context_length") == 8192
    assert header.get("general.license") == "apache-2.0"
    assert header.parameter_count == 576 * 49152 + 576 * 576
    assert header.size_bytes == 4096
    # the vocabulary is an array too long to keep: skipped, but its length is known
    assert "tokenizer.ggml.tokens" not in header.metadata
    assert header.skipped_arrays == {"tokenizer.ggml.tokens": 40}


def test_model_info_states_what_check_compares_with_the_catalog(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", SMOLLM_LIKE, SMOLLM_TENSORS)
    info = model_info("pkg:x/m.gguf", read_gguf(path), "sha256:abc")
    assert (info.architecture, info.family, info.parameter_size) == ("llama", "smollm2", "135M")
    assert info.parameter_count == 576 * 49152 + 576 * 576
    assert (info.quantization, info.context_length, info.license_first_line) == ("Q4_1", 8192, "apache-2.0")
    assert info.name == "SmolLM2 135M Instruct"
    assert info.chat_template == SMOLLM_LIKE["tokenizer.chat_template"]
    assert info.catalog_names[:2] == ["smollm2-135m", "smollm2-135m-instruct"]
    assert info.hosts == ["this machine"] and info.digest == "sha256:abc"
    assert info.warnings == []


def test_a_gguf_without_a_chat_template_is_flagged(tmp_path: Path) -> None:
    meta = {k: v for k, v in SMOLLM_LIKE.items() if k != "tokenizer.chat_template"}
    info = model_info("m.gguf", read_gguf(write_gguf(tmp_path / "m.gguf", meta)), None)
    assert info.chat_template is None
    assert any("no chat template" in w for w in info.warnings)


def test_quantization_names_follow_llama_cpp() -> None:
    assert [quantization_name(t) for t in (0, 1, 2, 7, 15, 32)] == ["F32", "F16", "Q4_0", "Q8_0", "Q4_K_M", "BF16"]
    assert quantization_name(None) is None and quantization_name(999) is None and quantization_name(True) is None


def test_a_file_that_is_not_gguf_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(GGUFError, match=r"weights\.bin: not a GGUF file"):
        read_gguf(path)


def test_an_unsupported_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 1, 0, 0))
    with pytest.raises(GGUFError, match="version 1 is not supported"):
        read_gguf(path)


def test_a_cut_file_is_refused_not_read_past_its_end(tmp_path: Path) -> None:
    data = gguf_bytes(SMOLLM_LIKE, SMOLLM_TENSORS)
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GGUFError, match="the file is cut or corrupt"):
        read_gguf(path)


def test_a_lying_string_length_is_refused_without_allocating_it(tmp_path: Path) -> None:
    """A hostile file may claim a 2**62-byte key; the reader checks it against the file size first."""
    path = tmp_path / "evil.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**62) + b"x" * 64)
    with pytest.raises(GGUFError, match="claims 4611686018427387904 bytes"):
        read_gguf(path)


def test_absurd_counts_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "counts.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 2**40))
    with pytest.raises(GGUFError, match="corrupt"):
        read_gguf(path)


def test_digest_is_the_sha256_of_the_file_and_changes_with_it(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", SMOLLM_LIKE, pad_to=3 << 20)
    assert file_sha256(path) == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    before = file_sha256(path)
    write_gguf(path, {**SMOLLM_LIKE, "general.name": "another build"}, pad_to=(3 << 20) + 1)
    assert file_sha256(path) != before
