"""The CLI shell: init and status work as the README says; errors are one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from base_model_selector.cli import main
from base_model_selector.study.errors import ConfigError
from shells import run_cli


def test_init_then_status_lists_the_eight_steps_with_step_one_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = str(tmp_path / "s")
    code, out, _ = run_cli(["init", study, "--domain", "customer support"], capsys)
    assert code == 0 and "study.yaml" in out
    code, out, _ = run_cli(["--study", study, "status"], capsys)
    assert code == 0
    for number in range(1, 9):
        assert f" {number}. " in out
    assert "Next: Step 1" in out


def test_status_json_is_machine_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = str(tmp_path / "s")
    run_cli(["init", study, "--domain", "coding"], capsys)
    code, out, _ = run_cli(["--study", study, "--json", "status"], capsys)
    assert code == 0
    assert json.loads(out)["next_step"] == 1


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(lambda d: None, "study.yaml: not found", id="missing"),
        pytest.param(
            lambda d: (d / "study.yaml").write_text("domain: ok\nseed: 3\n"), "seed (line 2): unknown key", id="typo"
        ),
        pytest.param(lambda d: (d / "study.yaml").write_text("domain: [\n"), "not valid YAML", id="syntax"),
    ],
)
def test_bad_study_gives_one_clear_line_and_exit_code_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    setup(tmp_path)
    code, _, err = run_cli(["--study", str(tmp_path), "status"], capsys)
    assert code == 2
    assert expected in err
    assert err.startswith("error: ") and "Traceback" not in err


def test_bms_debug_reraises_with_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMS_DEBUG", "1")
    (tmp_path / "study.yaml").write_text("domain: ok\nbogus: 1\n")
    with pytest.raises(ConfigError):
        main(["--study", str(tmp_path), "status"])


def test_version_and_python_dash_m_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "base_model_selector", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.startswith("base-model-selector ")
