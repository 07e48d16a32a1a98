"""Crash-safe files: atomic replacement, append-only JSONL, and an advisory study lock.

A study is worth days of model time, so no write may leave a half-written file behind. Whole documents are
written to a temporary file in the same directory, fsynced and renamed over the target; logs are JSONL to
which only complete lines are appended and fsynced. A crash can therefore leave at most one torn last line in a
log, which readers report and skip and the next append repairs.

What counts as complete is decided once (`_complete`) and shared by the reader and the repair: a line is a
record when it is valid UTF-8 and parses as JSON, whether or not its newline made it to disk (a person's editor
may drop it). The reader counts such a last line, and the repair gives it its newline instead of cutting it, so
a record the reader counted is never dropped by the next append. Anything else after the last newline is a torn
write: reported, skipped, and cut before the next append. Invalid UTF-8 in a complete line is refused with the
file and line, never silently replaced.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from base_model_selector.study.errors import StudyError, StudyLocked, from_os_error
from base_model_selector.study.untrusted import inert

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
    """Replace `path` with `text` so that readers see either the old or the new file, never a mix.

    The file keeps the mode (and, where allowed, the owner) of the one it replaces, so a team's 0664 notes.md
    stays 0664; a new file gets the usual mode for the user's umask, like any file an editor creates. A failure
    of the disk or of permissions is a `StudyNotWritable` naming the file and the fix.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temporary(path)
    except OSError as err:
        raise from_os_error(err, path) from err
    try:
        _copy_ownership(fd, path)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError):
            raise from_os_error(err, path) from err
        raise
    _fsync_dir(path.parent)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, exclusive temporary file next to `path`; created with mode 0666 so the umask applies, as it does to
    any file a program creates (mkstemp's fixed 0600 would make every study file private)."""
    for _attempt in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(path.parent))


def _copy_ownership(fd: int, path: Path) -> None:
    """Give the temporary file the mode, owner and group of the file it will replace, if there is one."""
    try:
        current = path.stat()
    except OSError:  # no file yet (or unreadable): the umask decides, as for any new file
        return
    os.fchmod(fd, stat.S_IMODE(current.st_mode))
    with contextlib.suppress(OSError):  # only root may give a file away; others keep their own ownership
        os.fchown(fd, current.st_uid, current.st_gid)


def to_jsonable(obj: Any) -> Any:
    """Pydantic models become plain JSON data; everything else passes through."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    return obj


def _dumps(data: Any, **options: Any) -> str:
    """JSON as readable UTF-8; text with a lone surrogate (which UTF-8 cannot hold) is \\u-escaped instead."""
    text = json.dumps(data, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, **options)
    return text


def dumps_line(obj: Any) -> str:
    return _dumps(to_jsonable(obj), separators=(",", ":"), sort_keys=False)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, _dumps(to_jsonable(obj), indent=2) + "\n")


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
    except OSError as err:
        raise from_os_error(err, path) from err
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise StudyError(
            f"{path}: {where}: {first['msg']} — the file is not in the expected format; "
            "delete it and re-run the step that writes it"
        ) from err
    except ValueError as err:
        raise StudyError(f"{path}: not valid JSON ({err}); delete it and re-run the step that writes it") from err


def _complete(line: bytes) -> bool:
    """Whether a line holds a whole record: valid UTF-8 that parses as JSON. A write cut short never does (a
    record is a JSON object, and no proper prefix of one parses), so this tells a torn tail from a record."""
    try:
        json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def _repair_torn_tail(path: Path) -> None:
    """Make the file end on a line boundary before an append: a complete last record gets its missing newline,
    an incomplete one (left by a crash mid-write) is cut."""
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # Walk back to the last newline; everything after it is the last line.
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
        handle.seek(keep)
        if _complete(handle.read(size - keep)):
            handle.seek(size)
            handle.write(b"\n")
        else:
            log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted write", path, size - keep)
            handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())


def append_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Append complete JSON lines and fsync them; returns how many were written."""
    lines = [dumps_line(r) + "\n" for r in records]
    if not lines:
        return 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            _repair_torn_tail(path)
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise from_os_error(err, path) from err
    return len(lines)


@dataclass
class JsonlRead:
    """What a JSONL log holds, plus an honest account of what could not be read."""

    records: list[Any] = field(default_factory=list)
    torn_tail: bool = False
    warnings: list[str] = field(default_factory=list)


def read_jsonl(path: Path, model: type[M] | None = None) -> JsonlRead:
    """Read every complete line (the last one too, with or without its newline); a torn last line is reported
    and skipped; a corrupt line anywhere else, a complete line that is not a valid record, and invalid UTF-8
    are errors naming the file and line."""
    result = JsonlRead()
    if not path.exists():
        return result
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise from_os_error(err, path) from err
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if number == len(lines) and not _complete(line):  # after the last newline: a torn write
            result.torn_tail = True
            result.warnings.append(
                f"{path}: line {number} is incomplete (an interrupted write); it was skipped and will be redone"
            )
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise StudyError(
                f"{path}: line {number} is not valid UTF-8 (byte {err.start + 1} of the line); the tool never "
                "guesses at text it reads back — re-save that line as UTF-8 or delete it, then re-run"
            ) from None
        try:
            data = json.loads(text)
            record = model.model_validate(data) if model is not None else data
        except (ValueError, ValidationError, RecursionError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise StudyError(
                f"{path}: line {number} is not a valid record ({first}); fix or delete that line, then re-run"
            ) from err
        result.records.append(record)
    return result


@dataclass
class StudyLock:
    """An advisory lock on a study so two writers (a CLI and an MCP server) never interleave their writes.

    Readers (status, tables) never take it. The holder's pid and purpose are written into the lock file so the
    refusal message can say who holds it. A waiter polls for at most `wait_s`, then gets `StudyLocked`.

    Async code takes it with `hold_async`, which waits with `asyncio.sleep`: in an MCP server a second call
    waiting for the lock must not freeze the event loop, where a running baseline times its requests (a blocked
    loop once turned 0.4 s replies into 2.2 s ones, and the document's p95 with them). Synchronous tools run in
    worker threads, where `hold` may sleep.
    """

    path: Path
    wait_s: float = 2.0
    poll_s: float = 0.05

    @contextlib.contextmanager
    def hold(self, purpose: str) -> Iterator[None]:
        fd = self._open()
        try:
            for pause in self._pauses(fd):
                time.sleep(pause)
            with self._held(fd, purpose):
                yield
        finally:
            os.close(fd)

    @contextlib.asynccontextmanager
    async def hold_async(self, purpose: str) -> AsyncIterator[None]:
        import asyncio

        fd = self._open()
        try:
            for pause in self._pauses(fd):
                await asyncio.sleep(pause)
            with self._held(fd, purpose):
                yield
        finally:
            os.close(fd)

    def _pauses(self, fd: int) -> Iterator[float]:
        """How long to wait before each new try, until the lock is taken; StudyLocked once `wait_s` is up. The
        caller sleeps the way its context allows (a thread blocks, a coroutine yields to the event loop)."""
        deadline = time.monotonic() + self.wait_s
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise self._busy(fd)
            yield self.poll_s

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:  # the first write of every step: an unwritable study is named here
            denied = err.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
            raise from_os_error(err, self.path.parent if denied else self.path) from err

    def _busy(self, fd: int) -> StudyLocked:
        holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
        return StudyLocked(
            f"{self.path.parent}: the study is busy ({inert(holder, 200)}); wait for it to finish or stop it, "
            "then retry"
        )

    @contextlib.contextmanager
    def _held(self, fd: int, purpose: str) -> Iterator[None]:
        import fcntl

        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {purpose}".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False when another open file holds it."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
