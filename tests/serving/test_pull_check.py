"""Step 3: pull the chosen model and record what it really is, disagreements with the catalog included."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

from base_model_selector.cli import app
from base_model_selector.server import build_server
from base_model_selector.serving.backends import ModelInfo
from base_model_selector.serving.check import check_model, compare_with_catalog
from base_model_selector.serving.pull import pull_model
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import ModelNotFound
from base_model_selector.study.types import ModelFacts, SelectedModel, Selection
from baseline_fixture import MODEL, make_study
from fakes import FakeOllama, FakeOpenAI, ModelSpec


class StandInCatalog:
    """Anything with `.get(id_or_name_or_tag)`; the real catalog is not needed to test the comparison."""

    def __init__(self, **entries: Any) -> None:
        self.entries = entries

    def get(self, key: str) -> Any:
        return self.entries.get(key)


def entry(**overrides: Any) -> SimpleNamespace:
    facts = {"id": "qwen3-4b", "params_b": 4.0, "context_tokens": 40960, "license": "Apache-2.0", "family": "Qwen3"}
    return SimpleNamespace(**{**facts, **overrides})


def select(study: Study, tag: str, candidate_id: str) -> None:
    study.write_json(
        study.paths.selection,
        Selection(primary=SelectedModel(candidate_id=candidate_id, name="Qwen3 4B", ollama_tag=tag)),
    )


def test_check_records_real_facts_and_a_smoke_test(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    select(study, MODEL, "qwen3-4b")
    report = asyncio.run(check_model(study, catalog=StandInCatalog(**{"qwen3-4b": entry()})))

    saved = ModelFacts.model_validate_json(study.paths.model_facts(MODEL).read_text())
    assert saved == report.facts
    assert saved.context_length == 40960 and saved.quantization == "Q4_K_M" and saved.parameters_b == 4.0
    assert saved.license_first_line == "Apache License Version 2.0" and "thinking" in saved.capabilities
    assert saved.digest and saved.hosts == [fake_ollama.url]
    assert saved.smoke is not None and saved.smoke.text.startswith("Echo:") and saved.smoke.latency_s > 0
    assert saved.catalog_id == "qwen3-4b"
    assert {c.field: c.status for c in saved.comparisons} == {
        "parameters_b": "agree",
        "context_tokens": "agree",
        "license": "agree",
        "family": "agree",
    }
    assert report.disagreements == [] and "agrees on every fact" in report.summary()
    smoke_request = fake_ollama.requests_to("/api/chat")[-1]
    assert smoke_request["options"]["temperature"] == 0 and smoke_request["think"] is False


def test_disagreements_with_the_catalog_are_reported_not_hidden(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    catalog = StandInCatalog(**{MODEL: entry(params_b=8.0, context_tokens=262144, license="MIT")})
    report = asyncio.run(check_model(study, MODEL, catalog=catalog, smoke=False))
    assert sorted(c.field for c in report.disagreements) == ["context_tokens", "license", "parameters_b"]
    text = report.summary()
    assert "disagrees on 3 fact(s)" in text and "catalog '262144', server '40960'" in text
    assert report.facts.smoke is None


def test_a_model_missing_from_the_catalog_is_said_so(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    report = asyncio.run(check_model(study, MODEL, catalog=StandInCatalog(), smoke=False))
    assert report.facts.catalog_id is None and report.facts.comparisons == []
    assert "no entry for this model" in report.summary()


def test_check_of_a_model_not_pulled_gives_the_pull_command(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    with pytest.raises(ModelNotFound, match="base-model-selector pull gemma3:270m"):
        asyncio.run(check_model(study, "gemma3:270m", catalog=StandInCatalog()))
    assert not study.paths.model_facts("gemma3:270m").exists()


def test_check_against_the_shipped_catalog(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    report = asyncio.run(check_model(study, "llama3.1:8b", smoke=False))
    assert report.facts.catalog_id == "llama-3.1-8b-instruct"
    assert {c.field: c.status for c in report.facts.comparisons}["license"] == "agree"


def info(**overrides: Any) -> ModelInfo:
    base = {
        "model": "m",
        "hosts": ["h"],
        "family": "qwen3",
        "parameter_size": "4.0B",
        "context_length": 40960,
        "license_first_line": "Apache License Version 2.0",
    }
    return ModelInfo(**{**base, **overrides})


@pytest.mark.parametrize(
    ("server", "catalog", "field", "status"),
    [
        pytest.param({"parameter_size": "8.2B"}, {"params_b": 8.0}, "parameters_b", "agree", id="params-rounding"),
        pytest.param({"parameter_size": "4.0B"}, {"params_b": 8.0}, "parameters_b", "differ", id="params-other-size"),
        pytest.param({"parameter_size": None}, {}, "parameters_b", "unknown", id="params-unreported"),
        pytest.param({"context_length": 32768}, {}, "context_tokens", "differ", id="context-differs"),
        pytest.param({}, {"context_tokens": None}, "context_tokens", "unknown", id="context-not-in-catalog"),
        pytest.param(
            {"license_first_line": "Apache License"}, {"license": "Apache-2.0"}, "license", "agree", id="apache-line"
        ),
        pytest.param(
            {"license_first_line": "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT"},
            {"license": "Llama 3.1 Community License (custom)"},
            "license",
            "agree",
            id="llama-licence",
        ),
        pytest.param({"license_first_line": "MIT License"}, {"license": "MIT"}, "license", "agree", id="mit"),
        pytest.param(
            {"license_first_line": "Gemma Terms of Use"},
            {"license": "Apache-2.0"},
            "license",
            "differ",
            id="licence-changed",
        ),
        pytest.param({"family": "llama"}, {"family": "Llama 3.1"}, "family", "agree", id="family-prefix"),
        pytest.param({"family": "qwen2"}, {"family": "DeepSeek-R1 distill"}, "family", "differ", id="distill"),
    ],
)
def test_catalog_comparison_rules(server: dict[str, Any], catalog: dict[str, Any], field: str, status: str) -> None:
    checks = {c.field: c for c in compare_with_catalog(info(**server), entry(**catalog))}
    assert checks[field].status == status, checks[field]
    if status == "differ":
        assert checks[field].note


def test_pull_model_resolves_the_selected_primary(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    select(study, "gemma3:270m", "gemma-3-270m-it")
    result = asyncio.run(pull_model(study))
    assert result.model == "gemma3:270m" and result.status == "pulled"
    assert "Pulled gemma3:270m" in result.summary() and "check" in result.summary()


# ------------------------------------------------------------------ MCP and CLI shells


async def _call(name: str, args: dict[str, Any]) -> Any:
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with Client(build_server()) as client:
        result = await client.call_tool(name, args, progress_callback=on_progress)
    return result, progress


def test_pull_and_check_tools(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    pulled, progress = anyio.run(_call, "pull_model", {"study": str(study.root), "model": "gemma3:270m"})
    assert not pulled.is_error, pulled.content
    assert pulled.structured_content["status"] == "pulled" and progress, "progress notifications were sent"

    checked, _ = anyio.run(_call, "check_model", {"study": str(study.root), "model": "gemma3:270m"})
    assert not checked.is_error, checked.content
    assert checked.structured_content["facts"]["quantization"] == "Q8_0"

    unknown, _ = anyio.run(_call, "pull_model", {"study": str(study.root), "model": "nosuch:1b"})
    assert unknown.is_error and "ollama.com/library/nosuch/tags" in unknown.content[0].text


def test_cli_pull_and_check(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    runner = CliRunner()
    pulled = runner.invoke(app, ["--study", str(study.root), "pull", "gemma3:270m"])
    assert pulled.exit_code == 0, pulled.output
    assert "Pulled gemma3:270m" in pulled.output
    again = runner.invoke(app, ["--study", str(study.root), "--json", "pull", "gemma3:270m"])
    assert json.loads(again.output)["status"] == "present"
    checked = runner.invoke(app, ["--study", str(study.root), "check", MODEL])
    assert checked.exit_code == 0, checked.output
    assert "Smoke test: answered" in checked.output


def test_pull_and_check_take_the_model_as_argument_or_option_but_not_two_different_ones(tmp_path: Path) -> None:
    from base_model_selector.cli import main
    from base_model_selector.study.directory import init_study

    init_study(tmp_path / "s", domain="customer support")
    with pytest.raises(SystemExit) as exit_:
        main(["--study", str(tmp_path / "s"), "check", "a:1b", "--model", "b:2b"])
    assert exit_.value.code == 2


def test_check_on_an_openai_compatible_server_records_the_server_and_what_it_does_not_report(tmp_path: Path) -> None:
    with FakeOpenAI({"smollm2": ModelSpec()}, kind="llama-cpp-python") as fake:
        study = make_study(tmp_path / "s", [fake.url], kind="openai")
        report = asyncio.run(check_model(study, "smollm2", catalog=StandInCatalog()))
    facts = report.facts
    assert facts.server is not None and facts.server.kind == "llama-cpp-python" and facts.server.version == "0.3.36"
    assert facts.server.structured_output == "json_object+schema", "probed once, recorded in model.json"
    assert facts.family is None and facts.parameters_b is None, "nothing guessed"
    text = report.summary()
    assert "Not reported by the server: digest, parameter count, quantisation, native context" in text
    assert "Server: llama-cpp-python 0.3.36 (detected); context per request: not reported" in text
    assert "Seed-reproducible replies: no — llama-cpp-python reuses the longest matching prompt prefix" in text


def test_check_says_so_when_a_repeated_request_gets_another_reply(tmp_path: Path) -> None:
    with FakeOpenAI({"m": ModelSpec()}, kind="llama.cpp", cache_changes_replies=True) as fake:
        study = make_study(tmp_path / "s", [fake.url], kind="openai")
        noted = asyncio.run(check_model(study, "m", catalog=StandInCatalog())).facts.server
        exact = make_study(tmp_path / "s", [fake.url], kind="openai", cache_prompt=False, force=True)
        bypassed = asyncio.run(check_model(exact, "m", catalog=StandInCatalog())).facts.server
    assert noted is not None and noted.seed_reproducible == "no"
    assert noted.reproducibility.startswith("observed: the same request (temperature 0, the same seed) sent twice")
    assert "backend.cache_prompt: false" in noted.reproducibility, "and the setting that fixes it"
    assert bypassed is not None and bypassed.seed_reproducible == "yes" and bypassed.prompt_cache.startswith("off")
