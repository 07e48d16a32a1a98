"""The study directory: creation, validation with findable errors, and path safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from base_model_selector.study.directory import Study, init_study, model_slug, resolve_inside
from base_model_selector.study.errors import ConfigError, PathRefused, StudyError


def make_study(tmp_path: Path, **kwargs: object) -> Study:
    init_study(tmp_path / "study", domain=kwargs.pop("domain", "customer support"), **kwargs)  # type: ignore[arg-type]
    return Study.open(tmp_path / "study")


def test_init_writes_a_commented_study_that_loads(tmp_path: Path) -> None:
    study = make_study(tmp_path, size_min=3, size_max=8, system_prompt="Be kind.\nBe brief.")
    text = study.paths.study_yaml.read_text()
    assert text.count("#") > 10, "the file explains its keys to the person editing it"
    assert study.config.domain == "customer support"
    assert (study.config.size_b.min, study.config.size_b.max) == (3, 8)
    assert study.system_prompt() == "Be kind.\nBe brief."


def test_init_never_overwrites_an_existing_study(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    before = study.paths.study_yaml.read_text()
    with pytest.raises(StudyError, match="already exists — edit it, or pass --force"):
        init_study(study.root, domain="other")
    assert study.paths.study_yaml.read_text() == before


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        pytest.param("domain: x y\ntemprature: 0.3\n", r"temprature \(line 2\): unknown key", id="typo"),
        pytest.param(
            "domain: ok\nbackend:\n  parallel: 0\n", r"backend\.parallel \(line 3\): Input should be", id="range"
        ),
        pytest.param("domain: ok\nsize_b:\n  min: 9\n  max: 3\n", r"size_b \(line 3\).*larger than max", id="size"),
        pytest.param("domain: ok\n  bad: [\n", r"study\.yaml \(line \d\): not valid YAML", id="syntax"),
        pytest.param("- a\n- b\n", r"top level must be a mapping", id="list"),
        pytest.param("use_case: x\n", r"domain: required key is missing", id="missing"),
        pytest.param(
            "domain: ok\nthresholds:\n  sufficient: 0.5\n  fine_tune: 0.6\n",
            r"fine_tune .* must be below",
            id="thresholds",
        ),
    ],
)
def test_malformed_study_yaml_names_file_key_and_line(tmp_path: Path, yaml_text: str, expected: str) -> None:
    (tmp_path / "study.yaml").write_text(yaml_text)
    with pytest.raises(ConfigError, match=expected) as info:
        Study.open(tmp_path)
    assert "study.yaml" in str(info.value)
    assert (tmp_path / "study.yaml").read_text() == yaml_text, "a failed load never touches the file"


def test_missing_study_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"base-model-selector init .* --domain"):
        Study.open(tmp_path / "nowhere")


def test_study_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StudyError, match="is a file"):
        Study.open(tmp_path / "file")
    with pytest.raises(StudyError, match="is a file"):
        init_study(tmp_path / "file", domain="x y")


def test_unwritable_directory_is_a_clear_error() -> None:
    # /sys refuses new entries even to root, so this holds on CI machines that run as root.
    with pytest.raises(StudyError, match="not writable"):
        init_study("/sys/base-model-selector-test", domain="x y")


def test_missing_system_prompt_file_is_reported_with_the_key(tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text("domain: ok\nsystem_prompt_file: prompt.md\n")
    with pytest.raises(ConfigError, match="system_prompt_file: cannot read"):
        Study.open(tmp_path)


@pytest.mark.parametrize(
    "untrusted",
    [
        pytest.param("../outside.txt", id="dotdot"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("a/../../outside", id="nested-dotdot"),
        pytest.param("link/escape.txt", id="symlink-out"),
        pytest.param("bad\x00name", id="nul"),
    ],
)
def test_untrusted_paths_outside_the_study_are_refused(tmp_path: Path, untrusted: str) -> None:
    study = make_study(tmp_path)
    (study.root / "link").symlink_to(tmp_path)
    with pytest.raises(PathRefused):
        study.inside(untrusted)
    with pytest.raises(PathRefused):
        study.write_text(study.root / untrusted.replace("\x00", ""), "x") if "\x00" not in untrusted else study.inside(
            untrusted
        )


def test_paths_inside_the_study_are_allowed(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    assert study.inside("notes/a.md") == study.root / "notes" / "a.md"
    assert resolve_inside(study.root, "./x/../y") == study.root / "y"


def test_docs_path_is_the_declared_one_or_inside_the_study(tmp_path: Path) -> None:
    study = make_study(tmp_path)
    assert study.docs_path() == (tmp_path / "docs" / "base-model-evaluation.md").resolve()
    assert study.docs_path("report.md") == study.root / "report.md"
    study.write_text(study.docs_path(), "# doc\n")  # the declared path may be written although outside
    with pytest.raises(PathRefused, match="outside the study directory"):
        study.docs_path("../../elsewhere.md")


@pytest.mark.parametrize(
    ("tag", "slug"),
    [("qwen3:8b", "qwen3-8b"), ("hf.co/org/Model-GGUF:Q4_K_M", "hf.co-org-model-gguf-q4_k_m"), ("  x  ", "x")],
)
def test_model_slug_is_filesystem_safe(tag: str, slug: str) -> None:
    assert model_slug(tag) == slug


def test_model_slug_rejects_a_tag_with_no_usable_characters() -> None:
    with pytest.raises(StudyError):
        model_slug("::/")
