"""qwenfeas check: verdicts, exit codes, JUnit, annotations, and what would make a plan pass."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

import qwenfeas
from qwenfeas.cli import app
from qwenfeas.errors import QwenfeasError
from qwenfeas.verdict import judge

PLAN = """model: {preset: llama-2-70b}
context: 4096
tokens: 2T
hardware: {preset: a100-sxm-80gb, count: 2048, mfu: 0.4}
parallel: {zero: 3, tensor: 1}
training: {recompute: full}
limits:
  deadline: %s
"""  # FSDP-style: fits memory at any accelerator count, so counts can be compared one by one


def invoke(*args, env=None):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
def plans(tmp_path):
    folder = tmp_path / "plans"
    (folder / "nested").mkdir(parents=True)
    (folder / "ok.yaml").write_text(PLAN % "90d")
    (folder / "nested" / "late.yml").write_text(PLAN % "10d")
    (folder / "notes.txt").write_text("not a scenario")
    return folder


def test_a_failing_scenario_exits_1_and_names_its_binding_constraint(plans, tmp_path):
    junit = tmp_path / "report.xml"
    result = invoke("check", str(plans), "--junit", str(junit))
    assert result.exit_code == 1, result.output
    assert "late" in result.stdout and "limits.deadline" in result.stdout
    rows = {row["name"]: row for row in json.loads(invoke("check", str(plans), "-f", "json").stdout)}
    assert rows["late"]["feasible"] is False and rows["late"]["binding"] == "limits.deadline"
    assert rows["ok"]["feasible"] is True
    suites = ET.parse(junit).getroot()
    assert suites.tag == "testsuites"
    assert (suites.get("tests"), suites.get("failures")) == ("4", "1")  # memory + deadline, twice
    failing = [case for case in suites.iter("testcase") if case.find("failure") is not None]
    assert [case.get("classname") for case in failing] == ["late"]


def test_removing_the_failing_file_exits_0(plans):
    (plans / "nested" / "late.yml").unlink()
    assert invoke("check", str(plans)).exit_code == 0


def test_a_malformed_file_exits_2_naming_it_and_leaves_no_report(plans, tmp_path):
    (plans / "broken.yaml").write_text("model: {preset: llama-2-70b}\ncontext: [1, 2\n")
    junit = tmp_path / "report.xml"
    result = invoke("check", str(plans), "--junit", str(junit))
    assert result.exit_code == 2
    assert f"{plans / 'broken.yaml'}:" in result.stderr
    assert not junit.exists()
    assert not list(tmp_path.glob(".qwenfeas-*"))


def test_globs_and_missing_paths(plans):
    assert invoke("check", str(plans / "*.yaml")).exit_code == 0  # only ok.yaml at the top
    missing = invoke("check", str(plans / "nothing-*.yaml"))
    assert missing.exit_code == 2 and "no file matches" in missing.stderr


def test_deadline_remedy_count_passes_when_plugged_back_and_one_fewer_does_not(write):
    report = qwenfeas.estimate(qwenfeas.load(write(PLAN % "20d")))
    check = next(c for c in judge(report).checks if c.name == "limits.deadline")
    assert not check.passed
    count = int(check.remedy.split("with ")[1].split(" accelerators")[0].replace(",", ""))
    # By hand: 6ND with N = 68,976,648,192 - 32,000 x 8,192 (the embedding lookup), D = 2T, on
    # A100s at 312 TFLOP/s and MFU 0.4; time falls as 1/accelerators: the fewest that meet 20 days.
    seconds_on_2048 = 6 * (68_976_648_192 - 32_000 * 8_192) * 2e12 / (2048 * 312e12 * 0.4)
    assert count == math.ceil(2048 * seconds_on_2048 / (20 * 86400))  # 3,824; 37.34 days -> 20 days
    for n, feasible in ((count, True), (count - 1, False)):
        r = qwenfeas.estimate(qwenfeas.load(write(PLAN % "20d"), [f"hardware.count={n}"]))
        assert judge(r).feasible is feasible, n


def test_expectations_with_units_pass_and_fail(write):
    path = write(PLAN % "90d" + "expect:\n  - training.seconds < 60d\n  - kv_cache.bytes_per_token > 320KiB\n"
                 "  - power.facility_watts <= 1 MW\n")
    checks = {c.name: c for c in judge(qwenfeas.estimate(qwenfeas.load(path))).checks}
    assert checks["expect[0]"].passed            # 34.7 days
    assert not checks["expect[1]"].passed        # 327,680 B is 320 KiB exactly
    assert not checks["expect[2]"].passed        # 1.35 MW
    assert checks["expect[2]"].line == 12


def test_an_expectation_on_a_misspelt_output_is_an_input_error_with_did_you_mean(write):
    path = write(PLAN % "90d" + "expect:\n  - training.secnds < 60d\n")
    with pytest.raises(QwenfeasError) as info:
        judge(qwenfeas.estimate(qwenfeas.load(path)))
    problem = info.value.problems[0]
    assert (problem.key, problem.line) == ("expect[0]", 10)
    assert "did you mean 'training.seconds'" in problem.hint
    result = invoke("check", str(path))
    assert result.exit_code == 2 and "did you mean" in result.stderr


def test_serving_replica_too_small_fails_memory_with_the_longest_context_that_fits(write):
    path = write("model: {preset: qwen3-235b-a22b}\ncontext: 128K\nhardware: {preset: h200}\n"
                 "inference: {accelerators: 2}\n")
    check = judge(qwenfeas.estimate(qwenfeas.load(path))).checks[0]
    assert check.name == "memory" and not check.passed
    assert "needs 4 accelerators per replica (serving_layout.tensor 4)" in check.remedy
    assert "longest" not in check.remedy  # on 2 GPUs the weights alone overflow: no context fits


def test_github_actions_annotations_point_at_the_failing_line(plans):
    result = invoke("check", str(plans), env={"GITHUB_ACTIONS": "true"})
    line = next(x for x in result.stderr.splitlines() if x.startswith("::error "))
    assert f"file={plans / 'nested' / 'late.yml'}".replace(":", "%3A") in line
    assert ",line=8," in line and "needs" in line


def test_memory_remedies_give_the_largest_model_that_fits_and_check_out(write):
    # Llama-2-70B at TP8 x PP1 over 8 A100s overflows; the remedy's largest model must fit when used.
    text = ("model: {preset: llama-2-70b}\ncontext: 4096\ntokens: 2T\nhardware: {preset: a100-sxm-80gb, count: 8}\n"
            "parallel: {tensor: 8}\n")
    report = qwenfeas.estimate(qwenfeas.load(write(text)))
    check = judge(report).checks[0]
    assert not check.passed and "largest model that fits has" in check.remedy
    states = sum(report[f"training_memory.{k}_bytes"] for k in ("weights", "gradients", "optimizer"))
    room = 80e9 * 0.9 - report["training_memory.activations_bytes"]
    largest = report["model.params"] * room / states
    smaller = qwenfeas.estimate(qwenfeas.load(write(text), [f"model.params={largest * 0.999:.0f}"]))
    assert smaller["training_memory.fill"] <= 1


def test_a_serving_batch_that_does_not_fit_fails_memory(write):
    text = "model: {preset: qwen3-235b-a22b}\ncontext: 128K\nhardware: {preset: h200}\ninference: {accelerators: 8, batch: %d}\n"
    fits = qwenfeas.estimate(qwenfeas.load(write(text % 1)))
    largest = int(fits["inference.max_batch"])
    assert judge(qwenfeas.estimate(qwenfeas.load(write(text % largest)))).feasible
    too_many = qwenfeas.estimate(qwenfeas.load(write(text % (largest + 1))))
    assert not judge(too_many).feasible
    assert any("does not fit" in note for note in too_many.notes)
