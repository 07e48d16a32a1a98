"""Crash-safe files: atomic replacement, append-only JSONL, and an advisory study lock.

A study is worth days of model time, so no write may leave a half-written file behind. Whole documents are
written to a temporary file in the same directory, fsynced and renamed over the target; logs are JSONL to
which only complete lines are appended and fsynced. A crash can therefore leave at most one torn last line in a
log, which readers report and skip and the next append repairs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from base_model_selector.study.errors import StudyError, StudyLocked

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see either the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    _fsync_dir(path.parent)


def to_jsonable(obj: Any) -> Any:
    """Pydantic models become plain JSON data; everything else passes through."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    return obj


def dumps_line(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(obj), ensure_ascii=False, indent=2) + "\n")


def _content(value: Any) -> Any:
    """JSON data without its timestamps (`*_at` keys), which say when, not what."""
    if isinstance(value, dict):
        return {k: _content(v) for k, v in value.items() if not (k.endswith("_at") and isinstance(v, str))}
    if isinstance(value, list):
        return [_content(v) for v in value]
    return value


def write_json_if_changed(path: Path, obj: Any) -> bool:
    """Write `obj` atomically unless the file already holds the same content (timestamps aside); True if written."""
    data = to_jsonable(obj)
    try:
        if _content(json.loads(path.read_bytes())) == _content(data):
            return False
    except (OSError, ValueError):
        pass  # absent or unreadable: write it
    atomic_write_json(path, data)
    return True


def write_text_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds exactly it; True if written."""
    try:
        if path.read_bytes() == text.encode("utf-8"):
            return False
    except OSError:
        pass
    atomic_write_text(path, text)
    return True


def read_json(path: Path, model: type[M]) -> M:
    """Load one JSON document written by this tool, naming the file when it does not validate."""
    try:
        return model.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise StudyError(
            f"{path}: {where}: {first['msg']} — the file is not in the expected format; "
            "delete it and re-run the step that writes it"
        ) from err
    except ValueError as err:
        raise StudyError(f"{path}: not valid JSON ({err}); delete it and re-run the step that writes it") from err


def _repair_torn_tail(path: Path) -> None:
    """Cut an incomplete last line (left by a crash mid-write) so the next append starts on a fresh line."""
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # Walk back to the last newline; everything after it is the torn record.
        pos = size - 1
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            handle.seek(start)
            data = handle.read(pos - start)
            idx = data.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        else:
            keep = 0
        log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted write", path, size - keep)
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())


def append_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Append complete JSON lines and fsync them; returns how many were written."""
    lines = [dumps_line(r) + "\n" for r in records]
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _repair_torn_tail(path)
    with path.open("a", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(lines))
        handle.flush()
        os.fsync(handle.fileno())
    return len(lines)


@dataclass
class JsonlRead:
    """What a JSONL log holds, plus an honest account of what could not be read."""

    records: list[Any] = field(default_factory=list)
    torn_tail: bool = False
    warnings: list[str] = field(default_factory=list)


def read_jsonl(path: Path, model: type[M] | None = None) -> JsonlRead:
    """Read every complete line; a torn last line is reported, a corrupt middle line is an error."""
    result = JsonlRead()
    if not path.exists():
        return result
    raw = path.read_text(encoding="utf-8", errors="replace")
    lines = raw.split("\n")
    ends_clean = raw.endswith("\n") or raw == ""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_last = number == len(lines) and not ends_clean
        try:
            data = json.loads(line)
            record = model.model_validate(data) if model is not None else data
        except (ValueError, ValidationError) as err:
            if is_last:
                result.torn_tail = True
                result.warnings.append(
                    f"{path}: line {number} is incomplete (an interrupted write); it was skipped and will be redone"
                )
                continue
            raise StudyError(
                f"{path}: line {number} is not a valid record ({str(err).splitlines()[0]}); "
                "fix or delete that line, then re-run"
            ) from err
        result.records.append(record)
    return result


@dataclass
class StudyLock:
    """An advisory lock on a study so two writers (a CLI and an MCP server) never interleave their writes.

    Readers (status, tables) never take it. The holder's pid and purpose are written into the lock file so the
    refusal message can say who holds it.
    """

    path: Path
    wait_s: float = 2.0

    @contextlib.contextmanager
    def hold(self, purpose: str) -> Iterator[None]:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + self.wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
                        raise StudyLocked(
                            f"{self.path.parent}: the study is busy ({holder}); wait for it to finish or stop "
                            "it, then retry"
                        ) from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {purpose}".encode(), 0)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
