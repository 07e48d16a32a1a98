"""configure_study / `set` and init_study / `init`: every study.yaml key settable, validated, comments kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from base_model_selector.cli import app
from base_model_selector.study.directory import Study, configure_study, init_study
from base_model_selector.study.errors import ConfigError, StudyError
from base_model_selector.study.settings import setting_keys
from base_model_selector.study.yamledit import set_keys
from shells import run_cli, run_tool


def comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    init_study(tmp_path / "s", domain="customer support")
    return tmp_path / "s"


def test_configure_sets_keys_and_keeps_every_comment_of_the_file(root: Path) -> None:
    before = (root / "study.yaml").read_text(encoding="utf-8")
    result = configure_study(
        root,
        {
            "judge.model": "llama3.1:8b",
            "backend": {"parallel": 4, "hosts": ["http://gpu-1:11434", "http://gpu-2:11434"]},
            "generation.num_ctx": 8192,  # absent from the file: inserted in its section
            "system_prompt": "You are Ledgerly's support assistant.\n\nAnswer from the facts below: “€29”, 100% sure.",
        },
    )
    after = (root / "study.yaml").read_text(encoding="utf-8")
    assert comments(after) == comments(before)
    config = Study.open(root).config
    assert config.judge.model == "llama3.1:8b" and config.backend.parallel == 4
    assert config.backend.hosts == ["http://gpu-1:11434", "http://gpu-2:11434"]
    assert config.generation.num_ctx == 8192
    assert (
        config.system_prompt
        == "You are Ledgerly's support assistant.\n\nAnswer from the facts below: “€29”, 100% sure."
    )
    assert result.changed["backend.parallel"].before == 1 and result.changed["backend.parallel"].after == 4
    untouched = [line for line in before.splitlines() if "temperature: 0.7" in line]
    assert untouched and untouched[0] in after.splitlines()


def test_an_unknown_key_is_refused_with_its_name_and_the_nearest_key(root: Path) -> None:
    before = (root / "study.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'judge\.modle' is not a study\.yaml key \(did you mean 'judge\.mode'\?\)"):
        configure_study(root, {"judge.modle": "agent"})
    assert (root / "study.yaml").read_text(encoding="utf-8") == before


def test_a_bad_value_names_the_key_and_line_and_writes_nothing(root: Path) -> None:
    before = (root / "study.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match=r"study\.yaml: backend\.parallel \(line \d+\): Input should be greater"):
        configure_study(root, {"backend.parallel": 0})
    with pytest.raises(ConfigError, match=r"judge\.mode"):
        configure_study(root, {"judge.mode": "human"})
    assert (root / "study.yaml").read_text(encoding="utf-8") == before


def test_a_broken_key_can_be_fixed_through_configure(root: Path) -> None:
    path = root / "study.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("parallel: 1", "parallel: -3"), encoding="utf-8")
    with pytest.raises(ConfigError):
        Study.open(root)
    configure_study(root, {"backend.parallel": 2})
    assert Study.open(root).config.backend.parallel == 2


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        pytest.param("a: 1  # keep me\n", {"a": 2}, "a: 2  # keep me\n", id="trailing-comment"),
        pytest.param("s:\n  x: 1\nt: 2\n", {"s.y": "v"}, 's:\n  x: 1\n  y: "v"\nt: 2\n', id="insert-in-section"),
        pytest.param("t: 2\n", {"s.y": None}, "t: 2\ns:\n  y: null\n", id="new-section"),
        pytest.param("s:\nt: 2\n", {"s.y": True}, "s:\n  y: true\nt: 2\n", id="empty-section"),
        pytest.param("l: [a, b]\n", {"l": ["c"]}, 'l: ["c"]\n', id="flow-list"),
        pytest.param(
            "p: |\n  one\n  two\n\n# next\nq: 1\n", {"p": "1\n2"}, "p: |-\n  1\n  2\n\n# next\nq: 1\n", id="block"
        ),
        pytest.param("p: x\n", {"p": 'say "hi"\\now\x07'}, 'p: "say \\"hi\\"\\\\now\\x07"\n', id="escapes"),
    ],
)
def test_yaml_keys_are_edited_in_place(text: str, values: dict, expected: str) -> None:
    edited = set_keys(text, values, name="f.yaml")
    assert edited == expected
    data = yaml.safe_load(edited)
    for key, value in values.items():
        node = data
        for part in key.split("."):
            node = node[part]
        assert node == value


def test_every_schema_key_is_settable_by_its_dotted_name() -> None:
    keys = setting_keys()
    assert {"judge.model", "backend.parallel", "scenarios.generator_model", "generation.num_ctx", "docs_path"} <= set(
        keys
    )
    assert "judge" not in keys, "sections are not keys"


def test_init_takes_every_key_a_person_sets_at_creation(tmp_path: Path) -> None:
    path = init_study(
        tmp_path / "s",
        domain="sql analytics",
        max_turns=6,
        tokens_per_message=300,
        judge_mode="agent",
        judge_model="llama3.1:8b",
        backend_kind="openai",
        hosts=["http://vllm:8000"],
        parallel=8,
        n_scenarios=30,
        settings={"generation": {"num_ctx": 16384}, "research.web_search": False},
    )
    cfg = Study.open(path.parent).config
    assert (cfg.max_turns, cfg.tokens_per_message, cfg.judge.mode, cfg.judge.model) == (6, 300, "agent", "llama3.1:8b")
    assert (cfg.backend.kind, cfg.backend.hosts, cfg.backend.parallel) == ("openai", ["http://vllm:8000"], 8)
    assert (cfg.scenarios.n, cfg.generation.num_ctx, cfg.research.web_search) == (30, 16384, False)
    assert comments(path.read_text(encoding="utf-8"))[0].startswith("# study.yaml")


def test_init_from_an_example_copies_its_person_written_files(tmp_path: Path) -> None:
    init_study(tmp_path / "s", example="sql-analyst", settings={"scenarios.n": 12})
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == ["rubric.yaml", "study.yaml", "system_prompt.md", "taxonomy.yaml"]
    study = Study.open(tmp_path / "s")
    assert study.config.scenarios.n == 12 and len(study.system_prompt()) > 500


def test_init_needs_a_domain_or_an_example_and_says_both_ways(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a domain") as info:
        init_study(tmp_path / "s")
    assert "--example customer-support" in str(info.value)
    assert 'call init_study(study="' in info.value.render("mcp") and 'example="customer-support"' in info.value.render(
        "mcp"
    )
    with pytest.raises(StudyError, match="no example study named 'nope'; the examples are: customer-support"):
        init_study(tmp_path / "s", example="nope")
    assert not (tmp_path / "s").exists()


def test_init_from_an_example_refuses_to_overwrite_a_persons_file(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "rubric.yaml").write_text("mine\n", encoding="utf-8")
    with pytest.raises(StudyError, match=r"rubric\.yaml: already exists"):
        init_study(tmp_path / "s", example="customer-support")
    assert (tmp_path / "s" / "rubric.yaml").read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "s" / "study.yaml").exists()


def test_cli_init_example_and_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["init", str(tmp_path / "s"), "--example", "customer-support", "--set", "scenarios.n=20"])
    assert made.exit_code == 0, made.output
    changed = runner.invoke(
        app, ["--study", str(tmp_path / "s"), "set", "judge.model=llama3.1:8b", "backend.parallel=4"]
    )
    assert changed.exit_code == 0, changed.output
    assert "backend.parallel: 1 → 4" in changed.output
    config = Study.open(tmp_path / "s").config
    assert (config.scenarios.n, config.judge.model, config.backend.parallel) == (20, "llama3.1:8b", 4)
    code, _, err = run_cli(["--study", str(tmp_path / "s"), "set", "judge.modle=x"], capsys)
    assert code == 2 and "'judge.modle' is not a study.yaml key" in err


def test_configure_study_tool_sets_keys_and_names_a_bad_one(root: Path) -> None:
    done = run_tool("configure_study", {"study": str(root), "settings": {"scenarios.n": 30}})
    assert not done.is_error, done.content
    assert done.structured_content["changed"] == {"scenarios.n": {"before": 50, "after": 30}}
    refused = run_tool("configure_study", {"study": str(root), "settings": {"scenarios.count": 30}})
    assert refused.is_error and "'scenarios.count' is not a study.yaml key" in refused.content[0].text
