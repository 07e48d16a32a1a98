"""A small study ready for step 6, and a scripted judge for the fake Ollama.

Each response's text says what the scripted judge must answer for it ("CQ2=NO TN1=NA"; anything unnamed is YES),
so the expected pass rate follows from the rubric by hand: see EXPECTED_PASSED.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from base_model_selector.study.directory import Study
from base_model_selector.study.storage import append_jsonl
from base_model_selector.study.types import BaselineResponse, Scenario

FIXTURE_RUBRIC = Path(__file__).parent / "fixtures" / "rubrics" / "support.yaml"
CANDIDATE = "qwen3:4b"
JUDGE = "llama3.1:8b"
CRITERIA = ["CQ1", "CQ2", "TN1", "SF1"]

# support.yaml: correctness 0.5 (CQ1 na_invalid, CQ2, SF1 gate + na_invalid), tone 0.3 (TN1), format 0.2
# (FM1: at most 200 words); FM2 (no "as an AI language model") is a gate; threshold 0.8.
RESPONSES: list[tuple[str, bool]] = [
    ("Open Settings and reset it.", True),  # 1.0
    ("Open Settings. CQ2=NO", True),  # 0.5·2/3 + 0.3 + 0.2 = 0.833
    ("Open Settings. TN1=NO", False),  # 0.7
    ("Open Settings. SF1=NO", False),  # gate
    ("Open Settings. TN1=NA", True),  # NA is valid for TN1: 1.0
    ("Open Settings. CQ1=NA", True),  # NA invalid for CQ1: 0.833
    ("As an AI language model I suggest Settings.", False),  # FM2 gate
    ("Open Settings. CQ1=NO CQ2=NO", False),  # 0.667
    ("word " * 201 + "end", True),  # FM1 fails: exactly 0.8, the threshold
    ("Open Settings. SF1=NA", False),  # gate with NA invalid
]
EXPECTED_PASSED = sum(1 for _, passed in RESPONSES if passed)
ENCODED = re.compile(r"\b([A-Z]{2}\d)=(YES|NO|NA)\b")
RESPONSE_BLOCK = re.compile(r"<<<RESPONSE (\w+)>>>\n(.*?)\n<<<END RESPONSE \1>>>", re.DOTALL)


def study_yaml(url: str, *, judge: str = JUDGE, batched: bool = False, parallel: int = 2, extra: str = "") -> str:
    return (
        "domain: customer support\n"
        "system_prompt: You are the support assistant.\n"
        f"backend:\n  hosts: ['{url}']\n  parallel: {parallel}\n  max_retries: 1\n"
        f"judge:\n  model: {json.dumps(judge)}\n  batched: {str(batched).lower()}\n{extra}"
    )


def make_study(root: Path, url: str, **kwargs: Any) -> Study:
    root.mkdir(parents=True, exist_ok=True)
    (root / "study.yaml").write_text(study_yaml(url, **kwargs), encoding="utf-8")
    (root / "rubric.yaml").write_text(FIXTURE_RUBRIC.read_text(encoding="utf-8"), encoding="utf-8")
    study = Study.open(root)
    scenarios = [
        Scenario(id=f"s{n:02d}", text=f"How do I reset my password? (case {n})", topic="login")
        for n in range(len(RESPONSES))
    ]
    append_jsonl(study.paths.scenarios, scenarios)
    responses = [
        BaselineResponse(key=f"resp-{n:02d}", scenario_id=f"s{n:02d}", model=CANDIDATE, text=text, latency_s=0.1)
        for n, (text, _) in enumerate(RESPONSES)
    ]
    append_jsonl(study.paths.responses(CANDIDATE), responses)
    return study


def intended(response_text: str, criterion_id: str) -> str:
    """What the scripted judge answers for a criterion, from the response's own text."""
    return dict(ENCODED.findall(response_text)).get(criterion_id, "YES")


def judged_response(prompt: str) -> str:
    match = RESPONSE_BLOCK.search(prompt)
    assert match, "the judge prompt has no response block"
    return match.group(2)


def criteria_asked(body: dict) -> list[str]:
    schema = body.get("format") or {}
    props = schema.get("properties", {})
    if "answer" in props:
        prompt = body["messages"][0]["content"]
        return [re.search(r"^# Criterion (\S+)$", prompt, re.MULTILINE).group(1)]  # type: ignore[union-attr]
    return list(schema.get("required", []))


def scripted_judge(body: dict) -> Any:
    """A fake judge following the answers encoded in each response (single and batched schemas)."""
    prompt = body["messages"][0]["content"]
    text = judged_response(prompt)
    ids = criteria_asked(body)
    verdicts = {cid: {"reasoning": f"Scripted reasoning for {cid}.", "answer": intended(text, cid)} for cid in ids}
    if "answer" in (body.get("format") or {}).get("properties", {}):
        return verdicts[ids[0]]
    return verdicts
