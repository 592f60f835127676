"""The scorecard (tests/scorecard/): every published run loads and estimates; `validate --cases` runs a cases file.

Whether a case is within its tolerance is NOT tested here: the scorecard reports (`make score`), it does not gate.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qwenfeas.cli import app
from qwenfeas.commands import validation

SCORECARD = Path(__file__).resolve().parent.parent / "scorecard"
CASES_FILE = SCORECARD / "cases.yaml"
CASES = validation.cases(CASES_FILE)


def test_every_scenario_file_is_a_case_and_every_case_has_its_file():
    listed = sorted(case["file"] for case in CASES)
    assert listed == sorted(p.name for p in SCORECARD.glob("*.yaml") if p.name != "cases.yaml")
    assert len({case["id"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_cites_its_source_and_states_its_tolerance(case):
    header = (SCORECARD / case["file"]).read_text(encoding="utf-8").splitlines()
    assert header[0].startswith("# Scorecard case") and header[1].startswith("# Source: ")
    assert case["source"].startswith(("[P]", "[P*]", "[S]")) and case["reference"].strip()
    assert case["conversion"].strip() and case["published"] > 0
    # the brief's bar: 25% for training throughput and GPU-hours, 35% for serving throughput
    assert case["tolerance"] == (0.35 if case["metric"].startswith("inference.") else 0.25)


def test_every_case_estimates_its_metric():
    results = validation.run(None, CASES_FILE)
    assert [r.case for r in results] == [case["id"] for case in CASES]
    for result in results:
        assert math.isfinite(result.computed) and result.computed > 0, result.case


def _kv_case(tmp_path, published):
    """A one-case file with a scenario `file:` and the Llama 3.1 405B KV cache per token computed by hand:
    2 (K and V) x 126 layers x 8 KV heads x 128 x 2 bytes (Dubey et al. 2024, Table 3) = 516,096 bytes."""
    (tmp_path / "kv.yaml").write_text("model: {preset: llama-3.1-405b}\ncontext: 1\nhardware: {preset: h100-sxm}\n")
    case = {"id": "kv", "file": "kv.yaml", "metric": "kv_cache.bytes_per_token", "published": published,
            "tolerance": 0.0, "source": "hand"}
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump([case]))
    return path


def test_cases_option_runs_another_file_relative_to_it(tmp_path):
    result = CliRunner().invoke(app, ["validate", "--cases", str(_kv_case(tmp_path, 2 * 126 * 8 * 128 * 2)),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["case"], row["computed"], row["passed"]) == ("kv", 516096, True)


def test_cases_option_reports_a_miss_and_exits_1(tmp_path):
    result = CliRunner().invoke(app, ["validate", "--cases", str(_kv_case(tmp_path, 500000))])
    assert result.exit_code == 1
    assert "0 of 1 within tolerance" in result.stdout


@pytest.mark.parametrize("text, message", [
    ("- {id: x}", "case 1 lacks metric, published, tolerance, source"),
    ("{id: x}", "a cases file is a YAML list of cases"),
    ("- [unclosed", "cases.yaml:2: not valid YAML"),
])
def test_a_bad_cases_file_is_an_input_error(tmp_path, text, message):
    path = tmp_path / "cases.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate", "--cases", str(path)])
    assert result.exit_code == 2 and message in result.stderr, result.output


_CASE = "- {id: x, file: kv.yaml, metric: kv_cache.bytes_per_token, published: 516096, tolerance: 0, source: hand}\n"


@pytest.mark.parametrize("change, message", [  # each was an internal error (exit 70) or a wrong answer
    (("published: 516096", "published: 0"), "cases.yaml:1: published: case x: must be a number greater than 0, not 0"),
    (("published: 516096", "published: .nan"), "published: case x: must be a number greater than 0, not nan"),
    (("published: 516096", "published: lots"), "published: case x: must be a number greater than 0, not 'lots'"),
    (("published: 516096", "published: true"), "published: case x: must be a number greater than 0, not True"),
    (("tolerance: 0", "tolerance: -1"), "tolerance: case x: must be a number 0 or more, not -1"),
    (("file: kv.yaml", "file: 5"), "cases.yaml:1: file: case x: must be text"),
    (("file: kv.yaml", "scenario: 5"), "cases.yaml:1: scenario: case x: must be text"),
    (("metric: kv_cache.bytes_per_token", "metric: [a]"), "metric: case x: must be text"),
    (("- {", "- 7\n- {"), "cases.yaml:1: case 1 is not a mapping of keys"),
    (("\n", "\n" + _CASE), "cases.yaml:2: id: case x is also on line 1"),
    (("- {", "# only a comment\n#- {"), "a cases file is a YAML list of cases"),
    (("- {", "- " + "[" * 60 + "]" * 60 + "\n- {"), "nested more than 50 levels deep"),
])
def test_a_mistyped_case_is_located_and_exits_2(tmp_path, change, message):
    (tmp_path / "kv.yaml").write_text("model: {preset: llama-3.1-405b}\ncontext: 1\nhardware: {preset: h100-sxm}\n")
    path = tmp_path / "cases.yaml"
    path.write_text(_CASE.replace(*change, 1))
    result = CliRunner().invoke(app, ["validate", "--cases", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "internal error" not in result.stderr


def test_the_unchanged_case_runs_and_passes(tmp_path):
    """The case above, unchanged: Llama 3.1 405B KV cache per token, 2 x 126 x 8 x 128 x 2 B (Table 3)."""
    (tmp_path / "kv.yaml").write_text("model: {preset: llama-3.1-405b}\ncontext: 1\nhardware: {preset: h100-sxm}\n")
    (tmp_path / "cases.yaml").write_text(_CASE)
    # 2 x 126 x 8 x 128 x 2 = 516,096 B
    result = CliRunner().invoke(app, ["validate", "--cases", str(tmp_path / "cases.yaml")])
    assert result.exit_code == 0, result.output


def test_an_empty_cases_option_is_an_error_not_the_bundled_cases():
    result = CliRunner().invoke(app, ["validate", "--cases", ""])
    assert result.exit_code == 2 and "--cases: needs a file name" in result.stderr and result.stdout == ""


def test_a_missing_cases_file_or_unknown_metric_is_an_input_error(tmp_path):
    result = CliRunner().invoke(app, ["validate", "--cases", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "no such file" in result.stderr
    path = _kv_case(tmp_path, 1)
    path.write_text(path.read_text().replace("kv_cache.bytes_per_token", "kv_cache.bytes_per_tokn"))
    result = CliRunner().invoke(app, ["validate", "--cases", str(path)])
    assert result.exit_code == 2 and "kv_cache.bytes_per_token" in result.stderr, result.output


# TensorRT-LLM's v1.0 perf overview (docs/source/performance/perf-overview.md @ 00f37686, "Preparing a Dataset"):
# the $num_requests trtllm-bench was given per ISL/OSL, copied from its table by hand. trtllm-bench throughput
# submits them all at once, so that many requests are in flight at most (fewer when the KV cache holds fewer).
PERF_OVERVIEW_NUM_REQUESTS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (1000, 2000): 1500,
                              (2048, 128): 3000, (2048, 2048): 1500, (5000, 500): 1500, (1000, 1000): 3000,
                              (500, 2000): 3000, (20000, 2000): 1000}
PERF_OVERVIEW_CASES = [case for case in CASES if "perf-overview.md (stored commit 00f37686" in case["reference"]]


@pytest.mark.parametrize("case", PERF_OVERVIEW_CASES, ids=[case["id"] for case in PERF_OVERVIEW_CASES])
def test_perf_overview_cases_run_the_requests_the_source_ran(case):
    inference = yaml.safe_load((SCORECARD / case["file"]).read_text(encoding="utf-8"))["inference"]
    lengths = (inference["prompt_tokens"], inference["output_tokens"])
    assert inference["concurrency"] == PERF_OVERVIEW_NUM_REQUESTS[lengths]
    # the id ends in the ISL-OSL the figure was read at
    assert case["id"].endswith(f"-{lengths[0]}-{lengths[1]}")


def test_the_perf_overview_cases_are_all_found():
    # 24 rows of the v1.0 tables are scored (Llama 3.1 8B/405B, Llama 3.3 70B, Qwen3-235B-A22B, Qwen3-30B-A3B)
    assert len(PERF_OVERVIEW_CASES) == 24
