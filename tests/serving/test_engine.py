"""The work loop: bounded, resumable, retrying, and clean when stopped — with scripted workers, no servers."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from base_model_selector.serving.engine import (
    EngineReport,
    RetryPolicy,
    WorkItem,
    finished_keys,
    next_step,
    request_key,
    run_work,
)
from base_model_selector.study import storage
from base_model_selector.study.errors import (
    BackendError,
    BackendUnreachable,
    ContextOverflow,
    ModelNotFound,
    RequestRejected,
    TransientBackendError,
)

NO_WAIT = RetryPolicy(max_retries=3, base_delay_s=0.0, max_delay_s=0.0)


def items(n: int) -> list[WorkItem[int]]:
    return [WorkItem(key=f"k{i:04d}", payload=i, label=f"item-{i}") for i in range(n)]


def lines(path: Path) -> list[dict[str, Any]]:
    read = storage.read_jsonl(path)
    assert not read.torn_tail
    return read.records


def keys_in(path: Path) -> list[str]:
    return [r["key"] for r in lines(path)]


async def echo(item: WorkItem[int]) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"key": item.key, "value": item.payload * 2}


def go(*args: Any, **kwargs: Any) -> EngineReport:
    kwargs.setdefault("retry", NO_WAIT)
    return asyncio.run(run_work(*args, **kwargs))


def test_every_item_is_done_once_and_appended(tmp_path: Path) -> None:
    sink = tmp_path / "out.jsonl"
    report = go(items(25), echo, sink, concurrency=4)
    assert report.done == 25 and report.total == 25 and not report.failed and report.complete
    assert sorted(keys_in(sink)) == [f"k{i:04d}" for i in range(25)]
    assert report.overhead_ms_per_item < 2.0


def test_concurrency_is_bounded_and_used(tmp_path: Path) -> None:
    in_flight = peak = 0
    release = asyncio.Event()

    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak == 3:
            release.set()
        await release.wait()
        in_flight -= 1
        return {"key": item.key}

    go(items(12), worker, tmp_path / "o.jsonl", concurrency=3)
    assert peak == 3


def test_finished_keys_are_skipped_and_repeated_keys_run_once(tmp_path: Path) -> None:
    sink = tmp_path / "out.jsonl"
    storage.append_jsonl(sink, [{"key": "k0000"}, {"key": "k0001"}])
    calls: list[str] = []

    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        calls.append(item.key)
        return {"key": item.key}

    work = [*items(4), WorkItem(key="k0003", payload=3)]
    report = go(work, worker, sink, concurrency=2)
    assert sorted(calls) == ["k0002", "k0003"]
    assert (report.done, report.skipped, report.duplicates, report.total) == (2, 2, 1, 4)
    assert sorted(keys_in(sink)) == ["k0000", "k0001", "k0002", "k0003"]

    again = go(work, worker, sink, concurrency=2)
    assert again.done == 0 and again.skipped == 4 and len(calls) == 2, "a finished run costs no calls"


def test_done_keys_given_by_the_caller_replace_reading_the_sink(tmp_path: Path) -> None:
    report = go(items(3), echo, tmp_path / "o.jsonl", concurrency=1, done_keys={"k0001"})
    assert report.skipped == 1 and report.done == 2


def test_transient_failures_are_retried_until_they_pass(tmp_path: Path) -> None:
    failures = {"k0001": 2, "k0003": 1}

    async def flaky(item: WorkItem[int]) -> dict[str, Any]:
        if failures.get(item.key, 0) > 0:
            failures[item.key] -= 1
            raise TransientBackendError("HTTP 503")
        return {"key": item.key}

    report = go(items(5), flaky, tmp_path / "o.jsonl", concurrency=2)
    assert report.done == 5 and report.retries == 3 and not report.failed


def test_retries_are_bounded_in_count_and_the_item_is_reported_not_written(tmp_path: Path) -> None:
    attempts = 0

    async def always_503(item: WorkItem[int]) -> dict[str, Any]:
        nonlocal attempts
        if item.key == "k0002":
            attempts += 1
            raise TransientBackendError("HTTP 503 queue full")
        return {"key": item.key}

    sink = tmp_path / "o.jsonl"
    report = go(items(4), always_503, sink, concurrency=2)
    assert attempts == 4, "1 try + max_retries (3)"
    assert [f.key for f in report.failed] == ["k0002"]
    assert "gave up after 4 attempts" in report.failed[0].error and "HTTP 503" in report.failed[0].error
    assert report.failed[0].label == "item-2"
    assert "k0002" not in keys_in(sink) and report.done == 3 and not report.complete


def test_retries_are_bounded_in_time(tmp_path: Path) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def always_fails(item: WorkItem[int]) -> dict[str, Any]:
        raise TransientBackendError("timeout")

    policy = RetryPolicy(max_retries=50, base_delay_s=10, max_delay_s=10, max_elapsed_s=0.001)
    report = asyncio.run(
        run_work(items(1), always_fails, tmp_path / "o.jsonl", concurrency=1, retry=policy, sleep=fake_sleep)
    )
    assert "of retries" in report.failed[0].error
    assert sum(slept) <= 10


@pytest.mark.parametrize("retry_number", [0, 1, 3, 10])
def test_backoff_is_full_jitter_under_an_exponential_cap(retry_number: int) -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=8)
    rng = random.Random(1)
    ceiling = min(8, 0.5 * 2**retry_number)
    delays = [policy.delay(retry_number, rng) for _ in range(200)]
    assert all(0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2, "spread over the whole range"


def test_a_non_transient_failure_is_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        if item.payload == 1:
            raise BackendError("HTTP 400 bad option")
        if item.payload == 2:
            raise KeyError("bug in a worker")
        return {"key": item.key}

    report = go(items(5), worker, tmp_path / "o.jsonl", concurrency=2)
    assert sorted(f.key for f in report.failed) == ["k0001", "k0002"]
    assert report.done == 3 and report.retries == 0
    assert "BackendError: HTTP 400 bad option" in [f.error for f in report.failed]


def test_a_request_the_server_refused_fails_at_once_and_is_not_retried(tmp_path: Path) -> None:
    calls: list[int] = []

    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        calls.append(item.payload)
        if item.payload == 3:
            raise RequestRejected("server refused: 'response_format.type' must be 'json_schema'")
        return {"key": item.key}

    report = go(items(5), worker, tmp_path / "o.jsonl", concurrency=1)
    assert calls == [0, 1, 2, 3, 4], "tried once, never retried"
    assert [(f.key, f.attempts, f.retryable) for f in report.failed] == [("k0003", 1, False)]
    assert "must be 'json_schema'" in report.failed[0].error and report.retries == 0
    assert "refused by the server" in next_step(report.failed, "run")
    assert "run run again to retry" not in next_step(report.failed, "run"), "never 'run it again' alone"


def test_a_run_whose_first_requests_are_all_refused_stops_with_the_servers_message(tmp_path: Path) -> None:
    sink = tmp_path / "o.jsonl"
    calls: list[int] = []

    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        calls.append(item.payload)
        raise ContextOverflow("the prompt does not fit: raise --n_ctx")

    with pytest.raises(ContextOverflow, match=r"refused the first 3 requests of this run.*raise --n_ctx"):
        go(items(50), worker, sink, concurrency=1)
    assert len(calls) == 3, "3 requests, not 50 (and not 50 × retries)"
    assert not sink.exists() or keys_in(sink) == []


def test_transient_failures_only_say_run_again(tmp_path: Path) -> None:
    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        raise TransientBackendError("HTTP 503 busy")

    report = go(items(1), worker, tmp_path / "o.jsonl", concurrency=1)
    assert report.failed[0].retryable
    assert next_step(report.failed, "evaluate") == "run evaluate again to retry them (only the failed ones are sent)"


def test_a_worker_returning_the_wrong_key_is_a_failure_not_a_silent_duplicate(tmp_path: Path) -> None:
    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        return {"key": "same-for-all"}

    report = go(items(2), worker, tmp_path / "o.jsonl", concurrency=1)
    assert report.done == 0 and len(report.failed) == 2 and "returned key" in report.failed[0].error


@pytest.mark.parametrize(
    "fatal",
    [
        pytest.param(BackendUnreachable("Ollama is not reachable at http://x"), id="server-down"),
        pytest.param(ModelNotFound("model 'm' is not pulled"), id="model-gone"),
    ],
)
def test_a_fatal_error_stops_the_run_and_keeps_what_finished(tmp_path: Path, fatal: Exception) -> None:
    sink = tmp_path / "o.jsonl"

    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        if item.payload == 5:
            raise fatal
        if item.payload > 5:
            await asyncio.Event().wait()  # would hang forever: the run must cancel it
        return {"key": item.key}

    with pytest.raises(type(fatal)):
        go(items(20), worker, sink, concurrency=1)
    assert keys_in(sink) == [f"k{i:04d}" for i in range(5)]


def test_cancellation_writes_every_finished_result_and_nothing_half(tmp_path: Path) -> None:
    sink = tmp_path / "o.jsonl"
    finished = 0
    stop_after = asyncio.Event()

    async def worker(item: WorkItem[int]) -> dict[str, Any]:
        nonlocal finished
        if item.payload >= 7:
            await asyncio.Event().wait()
        finished += 1
        if finished == 7:
            stop_after.set()
        return {"key": item.key}

    async def main() -> None:
        task = asyncio.create_task(run_work(items(30), worker, sink, concurrency=3, retry=NO_WAIT))
        await asyncio.wait_for(stop_after.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sorted(keys_in(sink)) == [f"k{i:04d}" for i in range(7)]
    assert sink.read_text().endswith("\n")

    report = go(items(30), echo, sink, concurrency=3)
    assert report.skipped == 7 and report.done == 23
    assert sorted(keys_in(sink)) == [f"k{i:04d}" for i in range(30)], "each exactly once"


def test_a_torn_last_line_is_redone_and_repaired(tmp_path: Path) -> None:
    sink = tmp_path / "o.jsonl"
    storage.append_jsonl(sink, [{"key": "k0000"}, {"key": "k0001"}])
    with sink.open("a") as handle:
        handle.write('{"key": "k0002", "val')  # a crash mid-write
    keys, warnings = finished_keys(sink)
    assert keys == {"k0000", "k0001"} and "incomplete" in warnings[0]

    report = go(items(3), echo, sink, concurrency=2)
    assert report.done == 1 and report.warnings
    assert keys_in(sink) == ["k0000", "k0001", "k0002"]


def test_a_failing_write_stops_the_run_with_its_error(tmp_path: Path) -> None:
    def full_disk(path: Path, records: list[Any]) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        go(items(10), echo, tmp_path / "o.jsonl", concurrency=2, append=full_disk)


def test_an_async_append_is_awaited(tmp_path: Path) -> None:
    written: list[str] = []

    async def append(path: Path, records: list[Any]) -> None:
        written.extend(r["key"] for r in records)

    go(items(4), echo, tmp_path / "o.jsonl", concurrency=2, append=append)
    assert sorted(written) == ["k0000", "k0001", "k0002", "k0003"]


def test_progress_counts_up_to_the_total_and_a_broken_callback_does_not_stop_the_work(tmp_path: Path) -> None:
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        seen.append((done, total))
        if len(seen) == 2:
            raise RuntimeError("client went away")

    storage.append_jsonl(tmp_path / "o.jsonl", [{"key": "k0000"}])
    report = go(items(6), echo, tmp_path / "o.jsonl", concurrency=2, progress=progress)
    assert report.done == 5
    assert seen[0] == (1.0, 6.0) and seen[-1] == (6.0, 6.0)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_zero_items_is_an_empty_report(tmp_path: Path) -> None:
    report = go([], echo, tmp_path / "o.jsonl", concurrency=4)
    assert report.total == 0 and report.done == 0 and report.complete
    assert not (tmp_path / "o.jsonl").exists()


def test_concurrency_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        go(items(1), echo, tmp_path / "o.jsonl", concurrency=0)


def test_many_items_run_in_linear_time_with_tiny_overhead(tmp_path: Path) -> None:
    report = go(items(3000), echo, tmp_path / "o.jsonl", concurrency=16)
    assert report.done == 3000 and report.batches < 3000, "results finishing together share one fsync"
    assert report.overhead_ms_per_item < 2.0


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param(("d1", [{"role": "user", "content": "hi"}], {"t": 0}), None, True, id="stable"),
        pytest.param(
            ("d1", [{"role": "user", "content": "hi"}], {"t": 0}),
            ("d2", [{"role": "user", "content": "hi"}], {"t": 0}),
            False,
            id="new-weights",
        ),
        pytest.param(
            ("d1", [{"role": "user", "content": "hi"}], {"t": 0}),
            ("d1", [{"role": "user", "content": "hi!"}], {"t": 0}),
            False,
            id="new-message",
        ),
        pytest.param(
            ("d1", [{"role": "user", "content": "hi"}], {"t": 0, "seed": 1}),
            ("d1", [{"role": "user", "content": "hi"}], {"seed": 1, "t": 0}),
            True,
            id="option-order-irrelevant",
        ),
        pytest.param(
            ("d1", [{"role": "user", "content": "hi"}], {"t": 0}),
            ("d1", [{"role": "user", "content": "hi"}], {"t": 0.7}),
            False,
            id="new-temperature",
        ),
    ],
)
def test_request_key_changes_exactly_when_the_request_does(a: tuple, b: tuple | None, same: bool) -> None:
    first = request_key(*a)
    second = request_key(*(b or a))
    assert (first == second) is same
    assert len(first) == 32 and json.dumps(first)
