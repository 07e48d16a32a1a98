"""Crash-safety of the files a study is made of."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from pydantic import BaseModel

from base_model_selector.study.errors import StudyError, StudyLocked
from base_model_selector.study.storage import (
    StudyLock,
    append_jsonl,
    atomic_write_json,
    atomic_write_text,
    read_json,
    read_jsonl,
    write_json_if_changed,
    write_text_if_changed,
)


class Row(BaseModel):
    key: str
    n: int


def test_atomic_write_replaces_whole_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "doc.json"
    atomic_write_json(target, {"v": 1})
    atomic_write_json(target, Row(key="k", n=2))
    assert json.loads(target.read_text()) == {"key": "k", "n": 2}
    assert [p.name for p in target.parent.iterdir()] == ["doc.json"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "doc.txt"
    atomic_write_text(target, "old")

    with pytest.raises(TypeError):
        atomic_write_text(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.txt"]


def test_jsonl_round_trips_records_in_order(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    assert append_jsonl(log, [Row(key="a", n=1), Row(key="b", n=2)]) == 2
    append_jsonl(log, [{"key": "c", "n": 3}])
    read = read_jsonl(log, Row)
    assert [r.key for r in read.records] == ["a", "b", "c"]
    assert not read.torn_tail


def test_torn_last_line_is_reported_and_skipped_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    append_jsonl(log, [Row(key="a", n=1)])
    with log.open("a") as handle:
        handle.write('{"key": "b", "n"')  # a crash mid-write
    read = read_jsonl(log, Row)
    assert [r.key for r in read.records] == ["a"]
    assert read.torn_tail
    assert "line 2 is incomplete" in read.warnings[0]


def test_append_after_a_torn_line_repairs_it_instead_of_gluing_records(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    append_jsonl(log, [Row(key="a", n=1)])
    with log.open("a") as handle:
        handle.write('{"key": "b"')
    append_jsonl(log, [Row(key="b", n=2)])
    read = read_jsonl(log, Row)
    assert [r.key for r in read.records] == ["a", "b"]
    assert not read.torn_tail
    assert log.read_text().endswith("\n")


def test_corrupt_line_in_the_middle_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text('{"key":"a","n":1}\nnot json\n{"key":"c","n":3}\n')
    with pytest.raises(StudyError, match=r"log\.jsonl: line 2"):
        read_jsonl(log, Row)


def test_read_json_names_the_file_when_it_does_not_validate(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"key": "k"}')
    with pytest.raises(StudyError, match=r"x\.json: n: Field required"):
        read_json(path, Row)


def _hold_lock(path: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event) -> None:
    with StudyLock(Path(path)).hold("run (test)"):
        ready.set()
        release.wait(10)


def test_second_writer_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path / ".lock"), ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with (
            pytest.raises(StudyLocked, match=r"pid \d+: run \(test\)"),
            StudyLock(tmp_path / ".lock", wait_s=0.2).hold("x"),
        ):
            pass
    finally:
        release.set()
        proc.join(10)
    with StudyLock(tmp_path / ".lock", wait_s=0.2).hold("after"):
        assert (tmp_path / ".lock").exists()


def test_a_derived_file_is_rewritten_only_when_its_content_changes_not_its_timestamps(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    assert write_json_if_changed(target, {"n": 3, "created_at": "2025-01-01T00:00:00+00:00", "rows": [{"at": 1}]})
    stamp = target.stat().st_mtime_ns
    later = {"n": 3, "created_at": "2026-06-06T00:00:00+00:00", "rows": [{"at": 1}]}
    assert not write_json_if_changed(target, later)
    assert target.stat().st_mtime_ns == stamp and "2025-01-01" in target.read_text(), "the old time stays"
    assert write_json_if_changed(target, later | {"n": 4})
    assert json.loads(target.read_text())["created_at"].startswith("2026"), "new content, new time"
    assert write_text_if_changed(tmp_path / "doc.md", "# A\n")
    assert not write_text_if_changed(tmp_path / "doc.md", "# A\n")
    assert write_text_if_changed(tmp_path / "doc.md", "# B\n")
