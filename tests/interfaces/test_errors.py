"""Every error a person or an agent can cause is one line naming the input and the fix: exit code 2 in the
CLI, a ToolError with the same message over MCP; never a traceback, never a bare "Error executing tool"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from base_model_selector.decision.decide import decide
from base_model_selector.study.directory import Study, init_study
from baseline_fixture import MODEL as BASELINE_MODEL
from baseline_fixture import add_scenarios, make_study
from decision_fixture import MODEL, STAMP, write_study
from fakes import FakeOllama
from shells import run_cli, run_tool

# /sys refuses new entries even to root, so an unwritable destination is real on CI machines that run as root.
UNWRITABLE = "/sys/base-model-selector-test/docs/evaluation.md"


def one_clear_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and len([line for line in err.splitlines() if line.strip()]) == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def decided(tmp_path: Path) -> Study:
    study = Study.open(write_study(tmp_path / "support"))
    decide(study, MODEL, decided_at=STAMP)
    return study


@pytest.mark.parametrize(
    "host", ["http://[bad", "localhost:abc", "http://ollama.example:99999", "ftp://ollama.example", "http://"]
)
def test_an_invalid_ollama_host_is_one_line_naming_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    init_study(tmp_path / "s", domain="customer support")
    monkeypatch.setenv("OLLAMA_HOST", host)
    code, _out, err = run_cli(["--study", str(tmp_path / "s"), "check", "--model", "qwen3:8b"], capsys)
    one_clear_line(code, err, f"OLLAMA_HOST={host!r}", "host:port")


def test_an_invalid_host_in_study_yaml_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_study(tmp_path / "s", domain="customer support")
    path = tmp_path / "s" / "study.yaml"
    data = yaml.safe_load(path.read_text())
    data["backend"]["hosts"] = ["http://[bad"]
    path.write_text(yaml.safe_dump(data))
    code, _out, err = run_cli(["--study", str(tmp_path / "s"), "status"], capsys)
    one_clear_line(code, err, "backend.hosts", "not a valid URL")


def test_runs_being_a_file_is_one_line_naming_it(
    tmp_path: Path, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    study = make_study(tmp_path / "s", [fake_ollama.url])
    add_scenarios(study, 2)
    (study.root / "runs").write_text("not a directory")
    code, _out, err = run_cli(["--study", str(study.root), "run", "--model", BASELINE_MODEL], capsys)
    one_clear_line(code, err, f"{study.root / 'runs'}: is a file where the study needs a directory", "move")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param("qwen3-8b=9:warm in pilots", "stars must be a whole number from 1 to 5, not '9'", id="too-many"),
        pytest.param("qwen3-8b=0:cold", "stars must be a whole number from 1 to 5", id="zero"),
        pytest.param("qwen3-8b=4:no", "justification", id="too-short"),
        pytest.param("qwen3-8b=five", "expected CANDIDATE=STARS:JUSTIFICATION", id="no-number"),
    ],
)
def test_a_bad_fit_override_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    root = tmp_path / "s"
    init_study(root, domain="empathetic coaching")
    s = ["--study", str(root)]
    assert run_cli([*s, "research", "--no-search"], capsys)[0] == 0
    code, _out, err = run_cli([*s, "table", "--override", override], capsys)
    one_clear_line(code, err, f"--override {override!r}", message)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_a_study_the_user_cannot_write_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "s"
    init_study(root, domain="empathetic coaching")
    root.chmod(0o555)
    try:
        code, _out, err = run_cli(["--study", str(root), "research", "--no-search"], capsys)
    finally:
        root.chmod(0o755)
    one_clear_line(code, err, str(root), "not writable", "permissions")


@pytest.mark.parametrize(
    ("setup", "needles"),
    [
        pytest.param("docs-is-a-file", ["docs: is a file where the study needs a directory"], id="component-file"),
        pytest.param("unwritable-docs-path", ["/sys/base-model-selector-test", "not writable"], id="unwritable"),
    ],
)
def test_a_document_that_cannot_be_written_is_one_line_in_the_cli_and_a_tool_error_over_mcp(
    decided: Study, capsys: pytest.CaptureFixture[str], setup: str, needles: list[str]
) -> None:
    if setup == "docs-is-a-file":
        (decided.root / "docs").write_text("a file where the docs folder should be")
    else:
        path = decided.paths.study_yaml
        path.write_text(
            path.read_text().replace("docs_path: docs/base-model-evaluation.md", f"docs_path: {UNWRITABLE}")
        )
    code, _out, err = run_cli(["--study", str(decided.root), "write-doc", "--model", MODEL], capsys)
    one_clear_line(code, err, *needles)
    result = run_tool("write_decision_doc", {"study": str(decided.root), "model": MODEL})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and all(n in text for n in needles), text


@pytest.mark.parametrize(
    ("tool", "args", "message"),
    [
        pytest.param("study_status", {"study": "s\x00"}, "study directory 's\\x00' contains a NUL byte", id="study"),
        pytest.param("init_study", {"study": "new\x00", "domain": "support"}, "contains a NUL byte", id="init-study"),
        pytest.param(
            "write_decision_doc", {"path": "docs/x\x00.md"}, "docs path 'docs/x\\x00.md' contains a NUL", id="docs"
        ),
        pytest.param("add_scenarios", {"path": "in\x00.jsonl"}, "path 'in\\x00.jsonl' contains a NUL byte", id="file"),
        pytest.param("decide", {"model": "qwen3:8b\x00"}, "model tag 'qwen3:8b\\x00' contains control", id="model"),
    ],
)
def test_a_nul_byte_in_an_argument_is_a_tool_error_naming_it(
    decided: Study, tool: str, args: dict[str, str], message: str
) -> None:
    arguments = {"study": str(decided.root), **args}
    if arguments["study"] != str(decided.root):
        arguments["study"] = str(decided.root.parent / args["study"])
        message = message.replace("'s\\x00'", repr(arguments["study"]))
    result = run_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and message in text, text
