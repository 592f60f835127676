"""Synthetic data, capital cost, and the roadmap report, against hand arithmetic."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from qwenfeas.errors import QwenfeasError
from qwenfeas.estimates import estimate
from qwenfeas.scenario import expand_paths, load, loads
from qwenfeas.verdict import judge

ROADMAP = Path(__file__).parent.parent / "configs" / "roadmap"

# Llama-2-70B on 2,048 A100s (312 TFLOP/s bf16, 400 W), the system power (400 W x 1.5) and the facility written
# out so the arithmetic is visible.
PLAN = """
name: plan
model: {preset: llama-2-70b}
context: 4096
tokens: 2T
hardware: {preset: a100-sxm-80gb, count: 2048, mfu: 0.4, system_power: 600W}
parallel: {tensor: 8, pipeline: 4}
datacenter: {pue: 1.2, carbon: 0.5, gpu_hour: 2, electricity: 0.1}
"""


def _run(*args):
    return subprocess.run([sys.executable, "-m", "qwenfeas", *args], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


def test_synthetic_generation_by_the_models_own_weights():
    """Llama-2-70B: 68,714,504,192 matmul weights; attention 2 x 80 layers x 64 heads x (128 + 128) =
    2,621,440 FLOP per key. A causal 4,096-token sequence costs 2N + a (4,096 + 1) / 2 per token."""
    report = estimate(loads(PLAN + "synthetic: {tokens: 1T, keep: 0.5, context: 4096, mfu: 0.2}\n"))
    per_token = 2 * 68_714_504_192 + 2_621_440 * 4097 / 2
    flops = 2e12 * per_token  # 1T kept at 50%: 2T generated
    assert report["synthetic.generated_tokens"] == 2e12
    assert report["synthetic.flops"] == pytest.approx(flops, rel=1e-12)
    seconds = flops / (2048 * 312e12 * 0.2)
    assert report["synthetic.seconds"] == pytest.approx(seconds, rel=1e-12)
    assert report["synthetic.cost_usd"] == pytest.approx(2048 * seconds / 3600 * 2, rel=1e-12)
    facility = 2048 * 400 * 1.5 * 1.2
    assert report["synthetic.energy_kwh"] == pytest.approx(facility * seconds / 3.6e6, rel=1e-12)
    assert report["synthetic.co2_kg"] == pytest.approx(facility * seconds / 3.6e6 * 0.5, rel=1e-12)
    assert report["synthetic.fraction_of_training"] == pytest.approx(flops / report["training.flops"], rel=1e-12)


def test_a_named_generator_costs_what_that_model_would():
    """Generating with qwen3-235b-a22b costs exactly what the same tokens cost a scenario of that model."""
    named = estimate(loads(PLAN + "synthetic: {tokens: 1T, generator: qwen3-235b-a22b, context: 8192}\n"))
    own = estimate(loads(PLAN.replace("llama-2-70b", "qwen3-235b-a22b")
                         + "synthetic: {tokens: 1T, context: 8192}\n"))
    assert named["synthetic.flops"] == pytest.approx(own["synthetic.flops"], rel=1e-12)
    # and the generator is not the trained model: 22B active against Llama's 69B
    assert named["synthetic.flops"] < estimate(loads(PLAN + "synthetic: {tokens: 1T, context: 8192}\n"))[
        "synthetic.flops"] / 2


def test_synthetic_mistakes_are_input_errors():
    with pytest.raises(QwenfeasError, match="did you mean 'qwen3-235b-a22b'"):
        loads(PLAN + "synthetic: {tokens: 1T, generator: qwen3-235b-a22}\n")
    with pytest.raises(QwenfeasError, match="synthetic.tokens: missing"):
        loads(PLAN + "synthetic: {keep: 0.5}\n")


def test_capital_cost_and_what_a_budget_buys():
    """$10K chip + $5K server + $3K network + $11.7M/MW x (400 W x 1.5) = $25,020 per A100, all in."""
    report = estimate(loads(PLAN + "capex: {accelerator: 10K, server: 5K, network: 3K}\nlimits: {capex: 52B}\n"))
    each = 10e3 + 5e3 + 3e3 + 11.7e6 * 600 / 1e6  # $25,020
    assert report["capex.per_accelerator_usd"] == pytest.approx(each, rel=1e-12)
    assert report["capex.fleet_usd"] == pytest.approx(2048 * each, rel=1e-12)
    assert report["capex.affordable_accelerators"] == math.floor(52e9 / each)  # 2,078,337
    assert report["capex.affordable_facility_watts"] == pytest.approx(math.floor(52e9 / each) * 600 * 1.2, rel=1e-12)


def test_capex_limit_fails_with_what_the_budget_buys():
    report = estimate(loads(PLAN + "capex: {accelerator: 30K}\nlimits: {capex: 50M}\n"))
    check = next(c for c in judge(report).checks if c.name == "limits.capex")
    assert not check.passed
    each = 30e3 + 11.7e6 * 600 / 1e6  # $37,020
    assert check.ratio == pytest.approx(2048 * each / 50e6, rel=1e-12)
    assert f"{math.floor(50e6 / each):,}" in check.remedy  # 1,350 accelerators


def test_capex_limit_needs_prices():
    with pytest.raises(QwenfeasError, match="capex.accelerator is not set"):
        loads(PLAN + "limits: {capex: 52B}\n")


def test_roadmap_report_agrees_with_estimate_and_changes_with_set(tmp_path):
    cheap = PLAN + "roadmap: {target: params 70B, step: today}\nlimits: {deadline: 90d}\n"
    tight = (PLAN.replace("name: plan", "name: tight") + "roadmap: {target: params 70B, step: target}\n"
             "capex: {accelerator: 30K}\nlimits: {deadline: 20d, capex: 1B}\n")
    (tmp_path / "a.yaml").write_text(cheap)
    (tmp_path / "b.yaml").write_text(tight)
    result = _run("roadmap", str(tmp_path), "-f", "json")
    assert result.returncode == 1  # one target fails its deadline
    data = json.loads(result.stdout)
    rows = {row["name"]: row for row in data["targets"]}
    assert (rows["plan"]["feasible"], rows["tight"]["feasible"]) == (True, False)
    assert rows["tight"]["binding"] == "limits.deadline"
    assert "accelerators" in rows["tight"]["remedy"]
    single = json.loads(_run("estimate", str(tmp_path / "b.yaml"), "-f", "json").stdout)
    assert rows["tight"]["headline"]["seconds"] == single["training"]["seconds"]
    # and both are 6ND of Llama-2-70B's 68,714,504,192 multiplied weights over 2,048 A100s at a given 40% MFU
    assert rows["tight"]["headline"]["seconds"] == pytest.approx(6 * 68_714_504_192 * 2e12 / (2048 * 312e12 * 0.4),
                                                                 rel=1e-12)
    assert rows["tight"]["headline"]["facility_watts"] == pytest.approx(2048 * 600 * 1.2, rel=1e-12)
    assert rows["tight"]["headline"]["capex_usd"] == single["capex"]["fleet_usd"]
    assert data["budget"]["plan_usd"] == 1e9 and data["budget"]["fits_together"] == ["tight"]
    # twice the accelerators halves the time: 37.3 days / 2 is within 20 days, and the verdict flips
    faster = json.loads(_run("roadmap", str(tmp_path / "b.yaml"), "-f", "json", "--set", "hardware.count=4096",
                             "--set", "parallel.data=128").stdout)
    assert faster["targets"][0]["feasible"] is True


def test_every_roadmap_scenario_has_a_verdict_and_a_binding_constraint():
    files = expand_paths([ROADMAP])
    assert len(files) >= 8
    for path in files:
        scenario = load(path)
        assert "roadmap.target" in scenario and "roadmap.step" in scenario, path
        verdict = judge(estimate(scenario))
        assert verdict.binding is not None, path
    table = _run("roadmap")
    assert table.returncode in (0, 1), table.stderr
    assert "What would the Qwen roadmap take?" in table.stdout
