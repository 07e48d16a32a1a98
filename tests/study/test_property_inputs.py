"""Arbitrary bytes and Unicode into the files people write (study.yaml, taxonomy.yaml, rubric.yaml) and the
logs the tool reads back (JSONL): either a clear project error or a result, never a traceback, and never a
record lost to a crash, a missing newline or the next append. Property-based (hypothesis), kept fast."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base_model_selector.judging.rubric import load_rubric
from base_model_selector.scenarios.taxonomy import load_taxonomy
from base_model_selector.study import storage
from base_model_selector.study.directory import Study
from base_model_selector.study.errors import BMSError, StudyError

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer-support"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
STRUCTURES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _spliced(original: bytes) -> st.SearchStrategy[bytes]:
    """The shipped file with a few bytes replaced, inserted or cut: near-valid input, the common typo."""
    return st.tuples(st.integers(0, len(original)), st.integers(0, 40), st.binary(max_size=12)).map(
        lambda t: original[: t[0]] + t[2] + original[t[0] + t[1] :]
    )


def _documents(name: str) -> st.SearchStrategy[bytes]:
    original = (EXAMPLE / name).read_bytes()
    structured = STRUCTURES.map(lambda data: yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "replace"))
    return st.binary(max_size=200) | structured | _spliced(original) | st.just(b"[" * 5000) | st.just(b"\xff\xfe")


def _loads_or_clear_error(load: object, path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        load(path)  # type: ignore[operator]
    except BMSError as err:
        message = str(err)
        assert message and path.name in message, message
        assert "Traceback" not in message


@FAST
@given(content=_documents("study.yaml"))
def test_any_study_yaml_opens_or_fails_with_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "system_prompt.md").write_text("You help.", encoding="utf-8")
    _loads_or_clear_error(lambda p: Study.open(p.parent), tmp_path / "study.yaml", content)


@FAST
@given(content=_documents("taxonomy.yaml"))
def test_any_taxonomy_loads_or_fails_with_a_clear_error(tmp_path: Path, content: bytes) -> None:
    _loads_or_clear_error(load_taxonomy, tmp_path / "taxonomy.yaml", content)


@FAST
@given(content=_documents("rubric.yaml"))
def test_any_rubric_loads_or_fails_with_a_clear_error(tmp_path: Path, content: bytes) -> None:
    _loads_or_clear_error(load_rubric, tmp_path / "rubric.yaml", content)


@FAST
@given(
    content=st.binary(max_size=300) | st.lists(st.sampled_from([b"{}", b'{"a":1}', b"\n", b"\xe9", b"["])).map(b"".join)
)
def test_any_bytes_in_a_jsonl_log_read_as_records_or_one_clear_error(tmp_path: Path, content: bytes) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(content)
    try:
        read = storage.read_jsonl(log)
    except StudyError as err:
        assert "log.jsonl: line " in str(err)
        return
    assert all(isinstance(w, str) for w in read.warnings)


RECORDS = st.lists(
    st.fixed_dictionaries({"id": st.text(max_size=8), "text": st.text(st.characters(exclude_categories=()))}),
    min_size=1,
    max_size=6,
)


@FAST
@given(records=RECORDS, more=RECORDS, cut=st.floats(0, 1), drop_newline=st.booleans())
def test_no_record_is_lost_to_a_crash_a_missing_newline_or_the_next_append(
    tmp_path: Path, records: list[dict[str, str]], more: list[dict[str, str]], cut: float, drop_newline: bool
) -> None:
    log = tmp_path / "log.jsonl"
    log.unlink(missing_ok=True)
    storage.append_jsonl(log, records)
    data = log.read_bytes()
    end = len(data) - 1 if drop_newline else int(len(data) * cut)  # a crash at any byte, or a lost newline
    log.write_bytes(data[:end])
    lines = data.split(b"\n")
    whole = [json.loads(line) for i, line in enumerate(lines[:-1]) if len(b"\n".join(lines[: i + 1])) <= end]

    read = storage.read_jsonl(log)
    assert read.records == whole, "every record fully on disk is read, in order"
    storage.append_jsonl(log, more)
    assert storage.read_jsonl(log).records == whole + more, "the append kept them all and added its own"
