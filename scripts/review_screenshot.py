"""Regenerate docs/images/review.png, the README's picture of the review page.

Builds the tests' reviewed example study (the customer-support example evaluated against the loopback Ollama
stand-in, no real model needed), records one person's overrule, serves its review page, and photographs it in
the system Chromium:

    uv run python scripts/review_screenshot.py [--chromium /usr/bin/chromium] [--out docs/images/review.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from base_model_selector.judging.agent_judge import AgentVerdict, record_assessments  # noqa: E402
from base_model_selector.judging.results import item_table  # noqa: E402
from base_model_selector.review.server import ReviewServer  # noqa: E402
from base_model_selector.study.directory import Study  # noqa: E402
from evaluate_fixture import CANDIDATE  # noqa: E402
from review_fixture import build_reviewed_study  # noqa: E402

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "review.png"))
    parser.add_argument("-n", type=int, default=16, help="scenarios in the example study")
    parser.add_argument("--full", action="store_true", help="the whole page, not the first screen")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        study = Study.open(build_reviewed_study(Path(tmp) / "customer-support", n=options.n))
        item = next(row for row in item_table(study, CANDIDATE) if row.criterion_id == "AC2")
        reason = "Promises a refund instead of handing it to the support team."
        record_assessments(study, [AgentVerdict(item_id=item.item_id, reasoning=reason, answer="NO")], CANDIDATE,
                           judge="human:dana")  # fmt: skip
        page_server = ReviewServer(study, CANDIDATE, reviewer="dana")
        page_server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=options.chromium, args=ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 940})
                page.goto(page_server.url)
                page.screenshot(path=options.out, full_page=options.full)
                browser.close()
        finally:
            page_server.stop()
    sys.stderr.write(f"wrote {options.out}\n")


if __name__ == "__main__":
    main()
