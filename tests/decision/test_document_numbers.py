"""Every number in the decision document, checked against the study's files.

A study is evaluated end to end against the loopback Ollama (LLM judge with an agreement re-judge), then judged
in part by the agent (a comparison) and overruled on a few items by a person; the document is rendered and read
back. Every table row and every figure in its prose is recomputed here from the files — scenarios, responses,
verdicts.jsonl with the judge record's keys, agreement.jsonl, assessments.json (itself checked against the
verdicts), decision.json, study.yaml, rubric.yaml, notes.md — with formulas written out in this test, and the
test fails on any table row it did not check.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from base_model_selector.decision.decide import decide
from base_model_selector.decision.report import write_decision_doc
from base_model_selector.evaluate import evaluate
from base_model_selector.judging.agent_judge import AgentVerdict, next_assessment_batch, record_assessments
from base_model_selector.judging.assessment import assess_responses
from base_model_selector.study.directory import Study
from evaluate_fixture import CANDIDATE, prepared_study, scripted
from fakes import FakeOllama

ROW = re.compile(r"^\|(.*)\|$")


def pct(text: str) -> float:
    assert text.endswith("%"), text
    return float(text[:-1]) / 100


def close(shown: str, value: float) -> bool:
    """A percentage as the document shows it (0 or 1 decimals) matches the exact value."""
    return abs(pct(shown) - value) <= 0.0005 + 1e-12


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cells(line: str) -> list[str]:
    body = ROW.match(line.strip())
    assert body, line
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body.group(1))]


def tables(text: str) -> dict[str, list[list[str]]]:
    """Heading → the body rows of the tables under it (header and delimiter rows dropped)."""
    out: dict[str, list[list[str]]] = defaultdict(list)
    heading, lines = "", text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            below = lines[i + 1] if i + 1 < len(lines) else ""
            if not re.match(r"^\|[-| ]+\|$", below):  # not a header row
                out[heading].append(cells(line))
    return out


def wilson(p: float, n: int) -> tuple[float, float]:
    """The Wilson score interval at 95% for an observed rate p over n, written out."""
    z = 1.959963984540054
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - half) / (1 + z * z / n)), min(1.0, (centre + half) / (1 + z * z / n))


def first_settling(p: float, n: int, cuts: list[float]) -> int:
    """The smallest total at which the interval (at the same rate) crosses no cut-off: a linear scan."""
    while any(low < c <= high for low, high in [wilson(p, n)] for c in cuts):
        n += 1
    return n


def kappa(pairs: list[tuple[str, str]]) -> float | None:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[x] * second[x] for x in set(first) | set(second)) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("numbers") / "support"
    with FakeOllama(responder=scripted) as fake:
        fake.add_model(CANDIDATE)
        study = prepared_study(root, fake.url, n=12)
        assert asyncio.run(evaluate(study, CANDIDATE)).complete
        batch = next_assessment_batch(study, CANDIDATE, k=30)
        ids = [i for r in batch.responses for i in r.item_ids]
        agent = [
            AgentVerdict(item_id=i, reasoning="Judged.", answer="NO" if n % 3 else "YES") for n, i in enumerate(ids)
        ]
        record_assessments(study, agent, CANDIDATE)
        person = [
            AgentVerdict(item_id=ids[0], reasoning="Wrong.", answer="NO", comment="checked by hand"),
            AgentVerdict(item_id=ids[1], reasoning="Right.", answer="YES"),
        ]
        record_assessments(study, person, CANDIDATE, judge="human:dana")
        assert asyncio.run(assess_responses(study, CANDIDATE)).state == "complete"
    decide(study, CANDIDATE)
    write_decision_doc(study, CANDIDATE, qualitative_notes="Polite; vague on plans.", failure_patterns={"AC1": "x"})
    return study


def test_every_number_in_the_document_matches_the_files(judged: Study) -> None:
    study = judged
    text = study.docs_path().read_text(encoding="utf-8")
    rows = tables(text)
    checked: set[tuple[str, int]] = set()

    def check(heading: str, index: int) -> list[str]:
        checked.add((heading, index))
        return rows[heading][index]

    cfg = yaml.safe_load(study.paths.study_yaml.read_text(encoding="utf-8"))
    rubric = yaml.safe_load(study.paths.rubric_yaml.read_text(encoding="utf-8"))
    run = study.paths.run_dir(CANDIDATE)
    scenarios = {s["id"]: s for s in jsonl(study.paths.scenarios)}
    responses = {r["key"]: r for r in jsonl(run / "responses.jsonl")}
    latest = {r["scenario_id"]: r for r in jsonl(run / "responses.jsonl")}
    verdicts = jsonl(run / "verdicts.jsonl")
    report = json.loads((run / "assessments.json").read_text(encoding="utf-8"))
    decision_bytes = (run / "decision.json").read_bytes()
    decision = json.loads(decision_bytes)
    [primary_record] = [json.loads(p.read_text()) for p in (run / "judges").glob("llm-*.json")]
    assessments = report["assessments"]
    criteria = [c["id"] for c in rubric["criteria"]]

    # assessments.json agrees with verdicts.jsonl: the primary's verdict by its key, a person's where they judged.
    by_key = {v["key"]: v for v in verdicts if v["judge"].startswith("llm:")}
    people: dict[tuple[str, str], dict] = {}
    for v in verdicts:
        if v["judge"].startswith("human:"):
            people[(v["response_key"], v["criterion_id"])] = v
    overridden = changed = primary_count = errors = 0
    for a in assessments:
        for cid in criteria:
            mine = by_key[primary_record["keys"][a["scenario_id"]][cid]]
            person = people.get((a["response_key"], cid))
            counts = person or mine
            assert a["answers"][cid] == counts["answer"], (a["scenario_id"], cid)
            overridden += person is not None
            changed += person is not None and person["answer"] != mine["answer"]
            primary_count += person is None
            errors += counts["answer"] == "ERROR"
        assert a["response_key"] == latest[a["scenario_id"]]["key"]
    assert overridden == 2

    # Evaluation Results
    n, passed = len(assessments), sum(a["passed"] for a in assessments)
    scen, assessed, shown_passed, rate, interval, label = check("Evaluation Results", 0)
    low, high = wilson(passed / n, n)
    th = cfg["thresholds"]
    band = (
        "Likely sufficient"
        if passed / n >= th["sufficient"]
        else "Fine-tune"
        if passed / n >= th["fine_tune"]
        else "Full pipeline"
    )
    assert (int(scen), int(assessed), int(shown_passed)) == (len(scenarios), n, passed)
    assert close(rate, passed / n) and label.startswith(band)
    shown_low, shown_high = interval.split(" – ")
    assert close(shown_low, low) and close(shown_high, high)
    assert f"A person's verdict replaced the judge's on {overridden} items, changing the answer on {changed};" in text
    assert f"Thresholds: ≥ {th['sufficient']:.0%} likely sufficient; ≥ {th['fine_tune']:.0%} fine-tune" in text
    assert f"rubric score is ≥ {rubric['pass_threshold']:.0%}" in text

    # Failure Analysis, by criterion
    items = criteria + [c["id"] for c in rubric.get("checks", [])]
    failures = {cid: sum(cid in a["failed_criteria"] for a in assessments) for cid in items}
    errs = {cid: sum(a["answers"].get(cid) == "ERROR" for a in assessments) for cid in items}
    gates = {c["id"] for c in rubric["criteria"] if c.get("safety_gate")} | {
        c["id"] for c in rubric.get("checks", []) if c.get("gate")
    }
    shown = rows["Failure Analysis"]
    assert len(shown) == sum(1 for f in failures.values() if f)
    for i, row in enumerate(shown):
        check("Failure Analysis", i)
        cid = row[0].removesuffix(" (gate)")
        assert row[0].endswith("(gate)") == (cid in gates)
        assert row[2].startswith(f"{failures[cid]}/{n}") and close(row[3], failures[cid] / n)
        assert (f"(judge errors: {errs[cid]})" in row[2]) == bool(errs[cid])

    # Failures by taxonomy cell
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for a in assessments:
        s = scenarios[a["scenario_id"]]
        cell = " / ".join(x for x in (s["topic"], s.get("subtopic"), s.get("style"), s.get("edge_case")) if x)
        for key in (("topic", s["topic"]), ("style", s.get("style") or "(none)"),
                    ("edge_case", s.get("edge_case") or "(none)"), ("cell", cell)):  # fmt: skip
            tally[key][0] += 1
            tally[key][1] += not a["passed"]
    for i, (dim, value, n_cell, failed, rate_cell) in enumerate(rows["Failures by Taxonomy Cell"]):
        check("Failures by Taxonomy Cell", i)
        total, bad = tally[(dim, value)]
        assert (int(n_cell), int(failed)) == (total, bad) and close(rate_cell, bad / total)
    non_cell = sum(1 for d, _ in tally if d != "cell")
    failed_cells = sum(1 for (d, _), (_, f) in tally.items() if d == "cell" and f)
    assert len(rows["Failures by Taxonomy Cell"]) == non_cell + min(10, failed_cells)

    gate_counts = Counter(g for a in assessments for g in set(a["failed_gates"]))
    shown_gates = re.search(r"- Safety gates failed: (.*)\.\n", text).group(1)  # type: ignore[union-attr]
    assert shown_gates == (
        ", ".join(f"{g} ({c})" for g, c in sorted(gate_counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"
    )
    assert f"- Judge ERRORs (unusable judge replies, counted as failures): {errors}" in text
    truncated = sorted(a["scenario_id"] for a in assessments if responses[a["response_key"]]["truncated"])
    assert f"- Truncated responses (hit `num_predict`): {len(truncated)}" in text

    # Category Scores and the chart
    weights = rubric["categories"]
    for i, (name, weight, mean, below) in enumerate(rows["Category Scores"]):
        check("Category Scores", i)
        scores = [a["category_scores"][name] for a in assessments]
        assert close(weight, weights[name])
        assert abs(float(mean) - sum(scores) / n) <= 0.005 + 1e-9  # shown to 2 decimals
        assert below == f"{sum(s < 1 - 1e-9 for s in scores)}/{n}"
    chart = re.search(r"x-axis \[(.*)\]\n.*\n    bar \[(.*)\]", text)
    assert chart is not None
    labels = [x.strip().strip('"') for x in chart.group(1).split(",")]
    rates = [float(x) for x in chart.group(2).split(",")]
    assert sorted(labels) == sorted(items)
    for cid, value in zip(labels, rates, strict=True):
        assert abs(value - 100 * failures[cid] / n) <= 0.05

    # Judge Reliability
    identity = primary_record["judge"]
    assert f"**{identity} (temperature 0, seed {cfg['judge']['seed']})**: {primary_count} criterion verdicts" in text
    assert f"a person's verdict (human:dana) on {overridden} items, {changed} of which changed" in text
    assert f"Judge errors (unusable replies, counted as failures): {errors}." in text
    own = {
        (a["scenario_id"], cid): by_key[primary_record["keys"][a["scenario_id"]][cid]]
        for a in assessments
        for cid in criteria
    }
    by_item = {(v["scenario_id"], v["criterion_id"]): v for v in verdicts if v["judge"] == "agent:default"}
    rejudged = {v["key"]: v for v in jsonl(run / "agreement.jsonl")}
    expected: dict[str, list[tuple[str, str, str]]] = {
        "agent:default": [(own[k]["answer"], v["answer"], k[1]) for k, v in by_item.items()],
        "human:dana": [
            (own[(v["scenario_id"], v["criterion_id"])]["answer"], v["answer"], v["criterion_id"])
            for v in people.values()
        ],
    }

    def rejudge_pairs(cid: str | None) -> list[tuple[str, str, str]]:
        """The re-judge's verdicts (agreement.jsonl) paired with the primary's on the same items."""
        return [
            (own[(v["scenario_id"], v["criterion_id"])]["answer"], v["answer"], v["criterion_id"])
            for v in rejudged.values()
            if cid in (None, v["criterion_id"])
        ]

    for i, row in enumerate(rows["Judge Reliability"]):
        check("Judge Reliability", i)
        if len(row) == 5:  # per criterion: B's name, the criterion, items, agreement, κ
            name, cid, compared, agreement, shown_kappa = row
            pairs = [p for p in expected.get(name, []) if p[2] == cid] if name in expected else rejudge_pairs(cid)
        else:
            a_label, b_label, compared, _how, agreement, shown_kappa = row
            assert a_label.startswith(identity)
            name = b_label.split(" ")[0]
            if name.startswith("llm:"):
                assert b_label.endswith(f"(temperature 0.7, seed {cfg['judge']['seed'] + 1})")
                pairs = rejudge_pairs(None)
            else:
                pairs = expected[name]
        answers = [(a, b) for a, b, _ in pairs if "ERROR" not in (a, b)]
        assert int(compared) == len(answers), row
        assert close(agreement, sum(a == b for a, b in answers) / len(answers))
        k = kappa(answers)
        assert shown_kappa == ("undefined" if k is None else f"{k:.2f}")

    # Run Metrics
    used = [responses[a["response_key"]] for a in assessments]
    (count, p50, p95, speed, tokens, cut, hosts) = check("Run Metrics", 0)
    latencies = [r["latency_s"] for r in used]
    assert int(count) == len(used)
    assert (
        p50 == f"{round(nearest_rank(latencies, 50), 3):.2f} s"
        and p95 == f"{round(nearest_rank(latencies, 95), 3):.2f} s"
    )
    speeds = [r["tokens_per_s"] for r in used if r["tokens_per_s"]]
    assert speed == (f"{nearest_rank(speeds, 50):.1f}" if speeds else "—")
    assert int(tokens) == sum(r["output_tokens"] or 0 for r in used) and int(cut) == len(truncated)
    assert hosts == ", ".join(sorted({r["host"] for r in used if r["host"]}))

    # Reproducibility
    repro = {row[0]: row[1] for row in rows["Reproducibility"] if not row[0].startswith("`")}
    files = [row for row in rows["Reproducibility"] if row[0].startswith("`")]
    for i in range(len(rows["Reproducibility"])):
        check("Reproducibility", i)
    g, s = cfg["generation"], cfg["scenarios"]
    assert repro["Model digest"] == used[0]["digest"]
    assert repro["Generation options"] == (
        f"temperature={g['temperature']}, seed={g['seed']}, num_predict={g['num_predict']}, "
        f"num_ctx={g.get('num_ctx')}, think={g['think']}"
    )
    prompt = (study.root / cfg["system_prompt_file"]).read_text(encoding="utf-8").strip()
    assert repro["System prompt sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
    writers = Counter(a["model"] for a in jsonl(study.paths.scenario_attempts) if a["outcome"] == "accepted")
    assert repro["Scenarios"] == f"n={s['n']}, seed={s['seed']}; " + "; ".join(
        f"generator {m} ({c})" for m, c in writers.items()
    )
    settings = primary_record["settings"]
    assert repro["Judge"] == (
        f"{identity} (temperature={settings['temperature']}, seed={settings['seed']}, "
        f"num_predict={settings['num_predict']}, batched={settings['batched']}, "
        f"structured_output={settings['structured_output']})"
    )
    assert repro["Pass rule"] == f"response score ≥ {rubric['pass_threshold']} and no gate failed"
    assert repro["Decision thresholds"] == f"sufficient={th['sufficient']}, fine_tune={th['fine_tune']}"
    assert repro["Decided at"] == decision["decided_at"]
    assert len(files) == 12
    for name, digest in files:
        path = study.root / name.strip("`")
        assert digest == (hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "(absent)"), name
    assert text.rstrip().endswith(
        f"decision-sha256={hashlib.sha256(decision_bytes).hexdigest()} "
        f"notes-sha256={hashlib.sha256(study.paths.notes_md.read_bytes()).hexdigest()} -->"
    )

    # Selected Model (from model.json) and Next Steps
    facts = json.loads((run / "model.json").read_text(encoding="utf-8"))
    selected = check("Selected Model", 0)
    assert selected[3] == (f"{facts['context_length']:,} tokens" if facts["context_length"] else "unknown")
    verdict = decision["verdict"]
    if verdict["settle_more"]:
        assert f"Add about {verdict['settle_more']} scenarios ({verdict['settle_total']} in total" in text
        assert verdict["settle_total"] == first_settling(passed / n, n, [th["fine_tune"], th["sufficient"]])

    unchecked = [(h, i, rows[h][i]) for h in rows for i in range(len(rows[h])) if (h, i) not in checked]
    assert unchecked == [], "table rows no test checked"
    assert len(checked) >= 30
