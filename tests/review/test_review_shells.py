"""The review page from its two shells: `base-model-selector review` prints the URL first and stops on Ctrl-C;
the MCP tool `open_review` returns the URL, serves from the server's process, and stops with the server."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from base_model_selector.review.server import ReviewServer
from base_model_selector.server import build_server
from base_model_selector.study.directory import Study
from evaluate_fixture import CANDIDATE
from review_fixture import REVIEWER
from shells import run_cli

URL_LINE = r"^http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{32}/$"


def test_cli_review_prints_the_url_first_serves_the_page_and_stops_on_ctrl_c(reviewed: Study) -> None:
    command = [sys.executable, "-c", "from base_model_selector.cli import main; main()"]
    args = ["--study", str(reviewed.root), "review", "--model", CANDIDATE, "--no-open", "--port", "0"]
    args += ["--reviewer", REVIEWER]
    proc = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.match(URL_LINE, url), url
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200 and f"human:{REVIEWER}" in response.text
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "Review page stopped." in err
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_cli_review_on_a_taken_port_is_one_line_and_exit_2(reviewed: Study, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--study", str(reviewed.root), "review", "--model", CANDIDATE, "--no-open", "--port", str(port)]
        code, _, err = run_cli(args, capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and f"port {port}" in err and "--port 0" in err


def test_cli_review_without_a_model_names_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from base_model_selector.study.directory import init_study

    init_study(tmp_path / "s", domain="customer support")
    code, _, err = run_cli(["--study", str(tmp_path / "s"), "review", "--no-open"], capsys)
    assert code == 2 and "select" in err


def test_open_review_returns_the_url_reuses_the_page_and_stops_it_with_the_server(reviewed: Study) -> None:
    async def session() -> tuple[dict, dict, int]:
        async with Client(build_server()) as client:
            args = {"study": str(reviewed.root), "model": CANDIDATE, "reviewer": REVIEWER}
            first = await client.call_tool("open_review", args)
            again = await client.call_tool("open_review", args)
            assert not first.is_error, first.content
            async with httpx.AsyncClient() as http:
                status = (await http.get(first.structured_content["url"])).status_code
            return first.structured_content, again.structured_content, status

    first, again, status = anyio.run(session)
    assert status == 200
    assert first["url"] == again["url"], "one page per study while it runs"
    assert first["reviewer"] == f"human:{REVIEWER}" and first["model"] == CANDIDATE
    with pytest.raises(httpx.ConnectError):
        httpx.get(first["url"], timeout=2)


def test_open_review_refuses_a_study_that_is_not_one_with_the_fix(tmp_path: Path) -> None:
    async def call() -> object:
        async with Client(build_server()) as client:
            return await client.call_tool("open_review", {"study": str(tmp_path / "nowhere")})

    result = anyio.run(call)
    assert result.is_error and "init" in result.content[0].text  # type: ignore[attr-defined]


def test_the_page_prints_nothing_on_stdout(reviewed: Study, capfd: pytest.CaptureFixture[str]) -> None:
    """In the MCP server stdout is the protocol; uvicorn's default logging would write access lines there."""
    page = ReviewServer(reviewed, CANDIDATE)
    page.start()
    try:
        for url in (page.url, page.url + "static/review.js", page.url + "missing", page.url.replace(page.token, "x")):
            httpx.get(url)
    finally:
        page.stop()
    assert capfd.readouterr().out == ""
