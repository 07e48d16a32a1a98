"""Crash-safety of the files a study is made of."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from base_model_selector.study.errors import StudyError, StudyLocked, from_os_error
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


def test_a_complete_last_line_without_its_newline_is_a_record_and_the_next_append_keeps_it(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text('{"key":"a","n":1}\n{"key":"b","n":2}')  # written by hand, or by a tool without the newline
    read = read_jsonl(log, Row)
    assert [r.key for r in read.records] == ["a", "b"] and not read.torn_tail
    append_jsonl(log, [Row(key="c", n=3)])
    assert [r.key for r in read_jsonl(log, Row).records] == ["a", "b", "c"]
    assert log.read_text().splitlines() == ['{"key":"a","n":1}', '{"key":"b","n":2}', '{"key":"c","n":3}']


def test_a_complete_last_line_that_is_not_a_valid_record_is_an_error_not_a_torn_write(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text('{"key":"a","n":1}\n{"key":"b"}')  # complete JSON, but not a Row: the repair would keep it
    with pytest.raises(StudyError, match=r"log\.jsonl: line 2 is not a valid record"):
        read_jsonl(log, Row)


@pytest.mark.parametrize(
    ("content", "line"),
    [
        pytest.param(b'{"key":"a","n":1}\n{"key":"caf\xe9","n":2}\n', 2, id="latin-1-byte"),
        pytest.param(b'{"key":"\xff\xfe","n":1}\n', 1, id="invalid-start-bytes"),
        pytest.param(b'{"key":"a","n":1}\n{"key":"\xed\xa0\x80","n":2}\n{"key":"c","n":3}\n', 2, id="surrogate"),
    ],
)
def test_invalid_utf8_in_a_complete_line_is_refused_with_file_and_line_never_replaced(
    tmp_path: Path, content: bytes, line: int
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(content)
    with pytest.raises(StudyError, match=rf"log\.jsonl: line {line} is not valid UTF-8"):
        read_jsonl(log, Row)


def test_a_crash_inside_a_multibyte_character_is_a_torn_line_not_an_encoding_error(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes('{"key":"a","n":1}\n{"key":"é'.encode()[:-1])  # cut between the two bytes of é
    read = read_jsonl(log, Row)
    assert [r.key for r in read.records] == ["a"] and read.torn_tail
    append_jsonl(log, [Row(key="b", n=2)])
    assert [r.key for r in read_jsonl(log, Row).records] == ["a", "b"]


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_an_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path, umask_022: None) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("ours")
    notes.chmod(0o664)  # group-writable, as a team keeps a shared file
    atomic_write_text(notes, "new text")
    assert notes.read_text() == "new text" and stat.S_IMODE(notes.stat().st_mode) == 0o664


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_follows_the_umask_like_any_file_a_program_creates(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "new.json", {"a": 1})
        append_jsonl(tmp_path / "new.jsonl", [{"a": 1}])
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "new.jsonl").stat().st_mode) == mode


@pytest.mark.parametrize(
    ("error", "message"),
    [
        pytest.param(
            PermissionError(errno.EACCES, "Permission denied", "/s/x.json"), "/s/x.json: not writable", id="acc"
        ),
        pytest.param(OSError(errno.EROFS, "Read-only file system", "/s/x.json"), "read-only file system", id="rofs"),
        pytest.param(OSError(errno.ENOSPC, "No space left", "/s/x.json"), "the disk is full", id="full"),
        pytest.param(IsADirectoryError(errno.EISDIR, "Is a directory", "/s/x.json"), "is a directory", id="dir"),
    ],
)
def test_os_errors_become_one_line_naming_the_path_and_the_fix(error: OSError, message: str) -> None:
    mapped = from_os_error(error)
    assert isinstance(mapped, StudyError) and message in str(mapped) and "\n" not in str(mapped)


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
