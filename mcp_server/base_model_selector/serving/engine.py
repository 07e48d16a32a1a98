"""The one concurrent, resumable work loop behind every batch of model calls.

A baseline is 50+ model calls, its judging hundreds more, and scenario writing some dozens: each can take
minutes to hours, fail part-way, or be stopped with Ctrl-C. Every such batch runs through `run_work`, so they
all get the same guarantees: requests in flight are bounded (sized to the server's parallel slots), transient
failures are retried with exponential backoff and full jitter (bounded in count and time), every result is
appended to its JSONL log the moment it finishes, a restart skips what is already there, and cancellation stops
cleanly with every finished result on disk and nothing half-written.

Contract (stable; steps 4, 5 and 6 code against it):

    items = [WorkItem(key=request_key(digest, messages, options, extra), payload=..., label="scn-12"), ...]
    report = await run_work(items, worker, sink_path, append=study.append, concurrency=backend.slots,
                            retry=RetryPolicy.from_config(study.config.backend), progress=progress)

- `worker(item) -> record` does one item: a pydantic model (or dict) whose field `key` equals `item.key`.
  Raising `TransientBackendError` means "try again"; `BackendUnreachable` / `ModelNotFound` (`retry.fatal`) stop
  the whole run (every other item would fail the same way) and re-raise after the finished results are saved;
  `RequestRejected` (the server refused the request itself: a 4xx, a validation error, a prompt that does not fit)
  is never retried — the item fails at once with the server's message — and when the first
  `retry.stop_after_rejections` items of a run are all refused and none has succeeded, the run stops and re-raises
  (the refusal is systematic: a setting, not an item, is wrong). Any other exception marks just that item failed
  (in the report, never in the sink) and the run goes on. `FailedItem.retryable` says whether running the step
  again can help; `next_step(failed, command)` words the advice accordingly.
- Finished keys are read once from `sink` (field `key`; a torn last line is skipped and redone) unless
  `done_keys` is given. Items whose key is finished, or repeated within `items`, are skipped.
- `append(path, records)` is the study's fsync'd JSONL append (`Study.append` / `storage.append_jsonl`). It runs
  in a worker thread, one batch at a time, so a slow disk never stalls the requests in flight; records
  finishing during a write go out together in the next one.
- `progress(done, total, message)` is awaited after each write (done counts skipped items too).
- Returns an `EngineReport`; on cancellation re-raises `CancelledError` after the finished results are written.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, Field

from base_model_selector.study import storage
from base_model_selector.study.errors import BackendUnreachable, ModelNotFound, RequestRejected, TransientBackendError

if TYPE_CHECKING:
    from base_model_selector.serving.backends import ProgressFn
    from base_model_selector.study.config import BackendConfig

log = logging.getLogger(__name__)

P = TypeVar("P")
Record = Any
"""What a worker returns: a pydantic model or a dict with a `key` field."""


def request_key(digest: str | None, messages: Any, options: Any = None, *extra: Any) -> str:
    """A stable hash of what determines a model reply: weights (digest), messages, options, anything else.

    Identical requests give identical keys, so a re-run with nothing changed makes no model calls, and a
    changed system prompt, temperature or model build makes new ones.
    """
    blob = json.dumps([digest, messages, options, list(extra)], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class WorkItem(Generic[P]):
    """One unit of work: its resume key, what the worker needs, and a label for messages (e.g. a scenario ID)."""

    key: str
    payload: P
    label: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try an item: bounded in attempts and in total time, with exponential backoff + full jitter."""

    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_elapsed_s: float = 600.0
    transient: tuple[type[BaseException], ...] = (TransientBackendError,)
    fatal: tuple[type[BaseException], ...] = (BackendUnreachable, ModelNotFound)
    rejected: tuple[type[BaseException], ...] = (RequestRejected,)
    stop_after_rejections: int = 3

    @classmethod
    def from_config(cls, backend: BackendConfig) -> RetryPolicy:
        return cls(max_retries=backend.max_retries, max_elapsed_s=max(600.0, 2 * backend.timeout_s))

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Full jitter (uniform in [0, min(cap, base·2^n)]): retries from many workers do not arrive together."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**retry_number))
        return (rng or random).uniform(0, ceiling)


class FailedItem(BaseModel):
    key: str
    label: str = ""
    error: str
    attempts: int
    retryable: bool = Field(
        default=True, description="False when the server refused the request itself: running again cannot help"
    )


def next_step(failed: Sequence[FailedItem], command: str) -> str:
    """What to do about failed items: run again when only transient faults failed them, else fix what the server
    refused first (each failure's message names the fix) — never "run it again" for a request that cannot pass."""
    if all(f.retryable for f in failed):
        return f"run {command} again to retry them (only the failed ones are sent)"
    refused = sum(1 for f in failed if not f.retryable)
    return (
        f"{refused} request(s) were refused by the server and will fail again as they are: fix what their message "
        f"names (a setting in study.yaml or on the server), then run {command} again"
    )


class EngineReport(BaseModel):
    """What a run did. `failed` items are not in the sink; re-running the same step retries exactly them."""

    sink: str
    total: int = Field(description="Items asked for (after removing repeated keys)")
    done: int = Field(default=0, description="Finished and written in this run")
    skipped: int = Field(default=0, description="Already finished before this run")
    duplicates: int = Field(default=0, description="Items whose key repeated an earlier item")
    failed: list[FailedItem] = Field(default_factory=list)
    retries: int = 0
    elapsed_s: float = 0.0
    busy_s: float = Field(default=0.0, description="Sum of the time workers spent on items (incl. retries)")
    overhead_ms_per_item: float = Field(
        default=0.0, description="Engine time between one item's end and the next one's start, per item"
    )
    write_ms_per_batch: float = 0.0
    batches: int = 0
    warnings: list[str] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed and self.done + self.skipped >= self.total

    def summary(self) -> str:
        text = f"{self.done} done, {self.skipped} already done, {len(self.failed)} failed of {self.total}"
        if self.retries:
            text += f"; {self.retries} retries"
        return text + f"; {self.elapsed_s:.1f}s"


def finished_keys(sink: Path) -> tuple[set[str], list[str]]:
    """Keys already in a JSONL sink (read once), and warnings such as a torn last line that will be redone."""
    read = storage.read_jsonl(sink)
    keys = {r["key"] for r in read.records if isinstance(r, dict) and isinstance(r.get("key"), str)}
    return keys, list(read.warnings)


def _key_of(record: Record) -> Any:
    return record.get("key") if isinstance(record, dict) else getattr(record, "key", None)


@dataclass
class _Run:
    report: EngineReport
    pending: list[Record] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False
    gap_s: float = 0.0
    gaps: int = 0
    write_s: float = 0.0


async def run_work(
    items: Sequence[WorkItem[Any]],
    worker: Callable[[WorkItem[Any]], Awaitable[Record]],
    sink: Path,
    *,
    append: Callable[[Path, list[Record]], Any] = storage.append_jsonl,
    concurrency: int,
    retry: RetryPolicy | None = None,
    progress: ProgressFn | None = None,
    done_keys: set[str] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> EngineReport:
    """Run `worker` over `items` not yet in `sink`, at most `concurrency` at once. See the module docstring."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    policy = retry or RetryPolicy()
    started = time.perf_counter()
    warnings: list[str] = []
    if done_keys is None:
        done_keys, warnings = finished_keys(sink)
    todo: list[WorkItem[Any]] = []
    seen: set[str] = set()
    skipped = duplicates = 0
    for item in items:
        if item.key in seen:
            duplicates += 1
        elif item.key in done_keys:
            skipped += 1
            seen.add(item.key)
        else:
            todo.append(item)
            seen.add(item.key)
    run = _Run(EngineReport(sink=str(sink), total=len(seen), skipped=skipped, duplicates=duplicates, warnings=warnings))
    report = run.report
    rng = random.Random()
    async_append = inspect.iscoroutinefunction(append)

    async def tell(message: str) -> None:
        if progress is None:
            return
        try:
            await progress(float(report.done + report.skipped), float(report.total), message)
        except Exception as err:  # a broken progress channel must not stop the work
            log.warning("progress report failed: %r", err)

    rejections = [0]  # refusals in a row before any success

    def fail(item: WorkItem[Any], err: BaseException, attempts: int, note: str = "") -> None:
        reason = f"{type(err).__name__}: {err}" + (f" ({note})" if note else "")
        retryable = not isinstance(err, policy.rejected)
        report.failed.append(
            FailedItem(key=item.key, label=item.label, error=reason, attempts=attempts, retryable=retryable)
        )
        log.warning("item %s failed: %s", item.label or item.key, reason)

    async def attempt(item: WorkItem[Any]) -> Record | None:
        first = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                record = await worker(item)
            except policy.fatal:
                raise
            except policy.rejected as err:
                fail(item, err, tries, "refused by the server; not retried")
                rejections[0] += 1
                if rejections[0] >= policy.stop_after_rejections and report.done == 0 and not run.pending:
                    raise type(err)(
                        f"the server refused the first {rejections[0]} requests of this run, so it stopped: {err}"
                    ) from err
                return None
            except policy.transient as err:
                if tries > policy.max_retries:
                    fail(item, err, tries, f"gave up after {tries} attempts")
                    return None
                pause = policy.delay(tries - 1, rng)
                if time.monotonic() - first + pause > policy.max_elapsed_s:
                    fail(item, err, tries, f"gave up after {time.monotonic() - first:.0f}s of retries")
                    return None
                report.retries += 1
                await sleep(pause)
                continue
            except Exception as err:
                fail(item, err, tries)
                return None
            if _key_of(record) != item.key:
                fail(item, ValueError(f"the worker returned key {_key_of(record)!r} for item {item.key!r}"), tries)
                return None
            rejections[0] = -(10**9)  # one success: later refusals are about their items, not the run
            return record

    queue = iter(todo)

    async def work_loop() -> None:
        last_end: float | None = None
        for item in queue:  # one shared iterator: each item goes to exactly one worker
            begin = time.perf_counter()
            if last_end is not None:
                run.gap_s += begin - last_end
                run.gaps += 1
            record = await attempt(item)
            last_end = time.perf_counter()
            report.busy_s += last_end - begin
            if record is not None:
                run.pending.append(record)
                run.wake.set()

    async def write(batch: list[Record]) -> None:
        begin = time.perf_counter()
        if async_append:
            await append(sink, batch)
        else:
            await asyncio.to_thread(append, sink, batch)
        run.write_s += time.perf_counter() - begin
        report.batches += 1
        report.done += len(batch)

    async def writer() -> None:
        while True:
            await run.wake.wait()
            run.wake.clear()
            while run.pending:
                batch, run.pending = run.pending, []
                await write(batch)
                await tell(f"{report.done} new, {len(report.failed)} failed")
            if run.closing and not run.pending:
                return

    await tell(f"{skipped} of {report.total} already done" if skipped else f"0 of {report.total} done")
    workers = [asyncio.create_task(work_loop()) for _ in range(min(concurrency, len(todo)))]
    writer_task = asyncio.create_task(writer())
    work = asyncio.gather(*workers)
    watched: set[asyncio.Future[Any]] = {work, writer_task}
    try:
        finished, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if writer_task in finished:  # the writer only ends early when a write failed: stop the workers
            writer_task.result()
        work.result()
    except BaseException:
        work.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if work.done() and not work.cancelled():
            work.exception()  # retrieved, so asyncio does not log it a second time
        await _drain(run, writer_task)
        _finish(run, started)
        log.warning("stopped after %s; finished results are saved in %s", report.summary(), sink)
        raise
    await _drain(run, writer_task)
    return _finish(run, started)


async def _drain(run: _Run, writer_task: asyncio.Task[None]) -> None:
    """Let the writer put every finished record on disk, even while being cancelled (it is quick)."""
    run.closing = True
    run.wake.set()
    interrupted = False
    while not writer_task.done():
        try:
            await asyncio.shield(writer_task)
        except asyncio.CancelledError:
            interrupted = True
    if interrupted:
        raise asyncio.CancelledError
    writer_task.result()


def _finish(run: _Run, started: float) -> EngineReport:
    report = run.report
    report.elapsed_s = round(time.perf_counter() - started, 4)
    report.busy_s = round(report.busy_s, 4)
    report.overhead_ms_per_item = round(1000 * run.gap_s / run.gaps, 4) if run.gaps else 0.0
    report.write_ms_per_batch = round(1000 * run.write_s / report.batches, 3) if report.batches else 0.0
    return report
