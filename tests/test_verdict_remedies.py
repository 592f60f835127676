"""Failing limits and what would make them pass, against hand arithmetic on a round-number scenario.

The scenario (the small model of test_estimates.py) has 35,607,552 parameters of which 34,583,552
are multiplied per token; 1e9 training tokens on 100 accelerators of 1,000 TFLOP/s at a given 50%
MFU take 6 x 34,583,552 x 1e9 / (100 x 1e15 x 0.5) = 4.15002624 s. Each accelerator's system draws
500 W x 1.2 = 600 W, the facility 100 x 600 W x PUE 1.25 = 75 kW: 75 kW x 4.15002624 s = 86.46 Wh,
0.04323 kg CO2e at 0.5 kg/kWh, and 100 x 4.15002624 / 0.99885 (goodput) / 3600 accelerator-hours at
$2/h = $0.2308.
"""

from __future__ import annotations

import math

import pytest
from test_estimates import GOODPUT, SMALL

import qwenfeas
from qwenfeas.errors import QwenfeasError
from qwenfeas.verdict import holds, judge, margins, read_condition

PLAN = SMALL.lstrip("\n")  # 11 lines: limits: and expect: go on line 12
SECONDS = 6 * 34_583_552 * 1e9 / (100 * 1000e12 * 0.5)
FACILITY_WATTS = 100 * 500 * 1.2 * 1.25
KWH = FACILITY_WATTS * SECONDS / 3.6e6
CO2_KG = KWH * 0.5
COST_USD = 100 * SECONDS / GOODPUT / 3600 * 2  # reserved hours: wall-clock, goodput included


def check(limits: str, plan: str = PLAN):
    """The one limit check of PLAN plus `limits:` (line 12 of the file)."""
    report = qwenfeas.estimate(qwenfeas.loads(plan + f"limits: {{{limits}}}\n", "plan.yaml"))
    found = [c for c in judge(report).checks if c.name != "memory"]
    assert len(found) == 1, found
    assert (found[0].file, found[0].line) == ("plan.yaml", plan.count("\n") + 1)
    return found[0]


def test_power_limit_names_the_accelerators_that_fit_and_the_pue_that_would():
    c = check("power: 70kW")
    ratio = FACILITY_WATTS / 70e3  # 1.0714
    assert (c.passed, c.ratio) == (False, pytest.approx(ratio, rel=1e-12))
    # floor(100 / 1.0714) = 93 accelerators; or all 100 in a hall of PUE 1.25 / 1.0714 = 1.1667
    assert c.remedy == "at most 93 accelerators fit the power, or all of them at a PUE of 1.17"
    assert c.message == "needs 1.07x the power (75 kW against 70 kW)"


def test_power_limit_offers_no_pue_below_one():
    c = check("power: 50kW")
    # 75 / 50 = 1.5: floor(100 / 1.5) = 66; a PUE of 1.25 / 1.5 = 0.83 is impossible, so not offered
    assert c.ratio == pytest.approx(1.5, rel=1e-12)
    assert c.remedy == "at most 66 accelerators fit the power"


def test_a_limit_that_holds():
    c = check("power: 80kW")
    assert (c.passed, c.remedy) == (True, "")
    assert c.ratio == pytest.approx(75 / 80, rel=1e-12)
    assert c.message == "75 kW is within the power of 80 kW"


def test_energy_limit_names_the_tokens_that_fit():
    c = check("energy: 0.05kWh")
    ratio = KWH / 0.05  # 1.7292
    assert c.ratio == pytest.approx(ratio, rel=1e-12)
    assert c.remedy == f"would pass with at most {1e9 / ratio / 1e6:.1f}M tokens"  # 578.3M
    assert c.remedy == "would pass with at most 578.3M tokens"


def test_co2_limit_names_the_grid_that_would_do():
    c = check("co2: 0.02kg")
    ratio = CO2_KG / 0.02  # 2.1615
    assert c.ratio == pytest.approx(ratio, rel=1e-12)
    assert c.remedy == f"would pass on a grid of at most {0.5 / ratio:.3g} kg/kWh"
    assert c.remedy == "would pass on a grid of at most 0.231 kg/kWh"


def test_accelerator_limit_on_training_gives_the_longer_time():
    c = check("accelerators: 50")
    assert c.ratio == 2
    assert c.remedy == "with 50 accelerators training takes 8.3 s"  # 2 x 4.15 s


def test_accelerator_limit_on_serving_asks_for_a_smaller_model():
    # Llama-2-70B serving 4,096 tokens: 2 x 68,976,648,192 B of weights + 327,680 B x 4,096 of cache
    # over 80 GB H100s less the 10% reserve: ceil(139.3 GB / 72 GB) = 2 accelerators against 1.
    c = check("accelerators: 1", "model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm}\n")
    assert (c.passed, c.ratio) == (False, 2)
    assert c.remedy == "serve a smaller model or a shorter context"


def test_budget_limit_names_a_price_and_a_token_count():
    c = check("budget: 0.1")
    ratio = COST_USD / 0.1  # 2.3082
    assert c.ratio == pytest.approx(ratio, rel=1e-12)
    assert c.remedy == (f"would pass at ${2 / ratio:.3g}/h per accelerator-hour or with at most "
                        f"{1e9 / ratio / 1e6:.1f}M tokens")  # $0.866/h, 433.2M


def test_deadline_offers_accelerators_a_given_mfu_and_tokens():
    c = check("deadline: 3s")
    ratio = SECONDS / 3  # 1.3833
    assert c.ratio == pytest.approx(ratio, rel=1e-12)
    # ceil(100 x 1.3833) = 139 accelerators (the layout is one accelerator per replica); the MFU is
    # given (50%), so 50% x 1.3833 = 69% is offered; 1e9 / 1.3833 = 722.9M tokens
    assert c.remedy == "would pass with 139 accelerators or MFU 69% or at most 722.9M tokens"


def test_deadline_leaves_out_an_mfu_above_one():
    c = check("deadline: 1s")
    # 4.15 x 50% > 100%: no MFU option; ceil(415.0026) = 416 accelerators; 1e9 / 4.15 = 241M tokens
    assert c.remedy == "would pass with 416 accelerators or at most 241M tokens"


def test_binding_check_is_the_one_furthest_over_its_bound():
    report = qwenfeas.estimate(qwenfeas.loads(PLAN + "limits: {power: 70kW, co2: 0.02kg, energy: 1kWh}\n", "p.yaml"))
    verdict = judge(report)
    assert not verdict.feasible
    assert verdict.binding.name == "limits.co2"  # 2.16 against 1.07
    passing = judge(qwenfeas.estimate(qwenfeas.loads(PLAN + "limits: {energy: 1kWh, co2: 1kg}\n", "p.yaml")))
    assert passing.feasible
    assert passing.binding.name == "limits.energy"  # the tightest: 86.5 Wh of 1 kWh against 43 g of 1 kg
    assert passing.binding.ratio == pytest.approx(KWH, rel=1e-12)


@pytest.mark.parametrize(("text", "passed", "ratio"), [
    ("training.seconds < 5 s", True, SECONDS / 5),
    ("training.seconds <= 4 s", False, SECONDS / 4),
    ("training.seconds > 5 s", False, 5 / SECONDS),
    ("training.seconds >= 2 s", True, 2 / SECONDS),
    ("power.facility_watts == 75 kW", True, 1.0),
    ("power.facility_watts != 75 kW", False, 1.0),
    ("training.seconds > 0", True, 0.0),
])
def test_expect_lines(text, passed, ratio):
    report = qwenfeas.estimate(qwenfeas.loads(PLAN + f"expect:\n  - {text}\n", "p.yaml"))
    c = next(c for c in judge(report).checks if c.name == "expect[0]")
    assert (c.passed, c.file, c.line) == (passed, "p.yaml", 13)
    assert c.ratio == pytest.approx(ratio, rel=1e-12)
    assert margins(report)["expect[0]"] == (pytest.approx(ratio, rel=1e-12), passed)


def test_expect_ratio_of_a_zero_value_against_a_lower_bound():
    report = qwenfeas.estimate(qwenfeas.loads(PLAN + "training: {attention_term: none}\n"
                                              "expect:\n  - training.attention_flops >= 1\n", "p.yaml"))
    c = next(c for c in judge(report).checks if c.name == "expect[0]")
    assert (c.passed, c.ratio) == (False, math.inf)


def test_conditions_over_arrays_hold_point_by_point():
    import numpy as np

    values = np.array([1.0, 2.0, 3.0])
    assert holds(values, "<", 2.0).tolist() == [True, False, False]
    assert holds(values, "==", 2.0).tolist() == [False, True, False]
    assert holds(values, "!=", 2.0).tolist() == [True, False, True]
    assert holds(values * (1 + 1e-12), "==", 2.0).tolist() == [False, True, False]  # 1e-9 relative


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("training.seconds is short", "cannot read 'training.seconds is short'", "write NAME OP VALUE"),
    ("training.secnds < 5 s", "'training.secnds' is not an output of this scenario", "training.seconds"),
    ("inference.nothing_like_this < 5", "'inference.nothing_like_this' is not an output of this scenario",
     "inference outputs need their inputs"),
    ("nowhere.at_all < 5", "'nowhere.at_all' is not an output of this scenario", "--format json"),
    ("training.seconds < soon", "training.seconds: ", None),
])
def test_unreadable_conditions_are_located_input_errors(text, message, hint):
    report = qwenfeas.estimate(qwenfeas.loads(PLAN, "p.yaml"))
    with pytest.raises(QwenfeasError) as caught:
        read_condition(report, text, file="p.yaml", line=13, key="expect[0]")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.key) == ("p.yaml", 13, "expect[0]")
    assert problem.message.startswith(message)
    if hint is not None:
        assert hint in problem.hint


def test_capex_limit_names_what_the_budget_buys():
    # $30K per accelerator + the default facility share, $11.7M per MW x 600 W = $7,020: $37,020 all in;
    # $1M buys floor(1e6 / 37,020) = 27 of them, or all 100 at $37,020 / 3.702 = $10,000 each.
    c = check("capex: 1M", PLAN + "capex: {accelerator: 30K}\n")
    assert c.ratio == pytest.approx(100 * 37_020 / 1e6, rel=1e-12)
    assert c.remedy == "the budget buys 27 accelerators at $37K each, all in; or all of them at $10K"


def test_a_limit_on_an_output_the_scenario_does_not_have_is_not_checked():
    serving = PLAN.replace("tokens: 1e9\n", "")  # no tokens: no training time to bound
    report = qwenfeas.estimate(qwenfeas.loads(serving + "limits: {deadline: 5s}\n", "p.yaml"))
    assert [c.name for c in judge(report).checks] == ["memory"]
    assert "limits.deadline" not in margins(report)


def test_latency_limits_are_checked_against_the_serving_times():
    report = qwenfeas.estimate(qwenfeas.loads("model: {preset: llama-2-70b}\ncontext: 4096\n"
                                              "hardware: {preset: h100-sxm}\nlimits: {ttft: 1ms, tpot: 1ms}\n", "p.yaml"))
    checks = {c.name: c for c in judge(report).checks}
    for key in ("ttft", "tpot"):
        assert checks[f"limits.{key}"].ratio == pytest.approx(report[f"inference.{key}_seconds"] / 1e-3, rel=1e-12)
        assert checks[f"limits.{key}"].passed is False and checks[f"limits.{key}"].remedy


def test_margins_over_a_sweep_are_element_wise():
    import numpy as np

    report = qwenfeas.estimate(qwenfeas.loads(PLAN + "limits: {power: 70kW, deadline: 5s}\n"
                                              "expect:\n  - training.seconds > 5s\n", "p.yaml",
                                              vary={"tokens": np.array([1e9, 2e9])}))
    got = margins(report)
    ratio, passed = got["limits.deadline"]  # time grows with the tokens: 4.15 s and 8.30 s against 5 s
    assert ratio.tolist() == pytest.approx([SECONDS / 5, 2 * SECONDS / 5], rel=1e-12)
    assert passed.tolist() == [True, False]
    assert got["limits.power"] == (pytest.approx(FACILITY_WATTS / 70e3, rel=1e-12), False)
    ratio, passed = got["expect[0]"]  # a lower bound: bound / value
    assert ratio.tolist() == pytest.approx([5 / SECONDS, 5 / (2 * SECONDS)], rel=1e-12)
    assert passed.tolist() == [False, True]


def test_training_memory_remedy_offers_the_largest_model_that_fits_the_layout():
    """Llama-2-70B on 8 H100s as TP8, ZeRO-1 over one replica: bf16 weights, fp32 gradients and 12 bytes of
    Adam state per parameter over 8 ranks, 18 x 68,976,648,192 / 8 = 155.2 GB, over 76 GB usable (80 GB less
    the 4 GB runtime reserve). With A the activations, the largest model at this layout is
    68,976,648,192 x (76 GB - A) / 155.2 GB."""
    report = qwenfeas.estimate(qwenfeas.loads("model: {preset: llama-2-70b}\ncontext: 4096\ntokens: 1T\n"
                                              "hardware: {preset: h100-sxm, count: 8}\nparallel: {tensor: 8}\n",
                                              "p.yaml"))
    memory = judge(report).checks[0]
    states = 68_976_648_192 * (2 + 4 + 12) / 8
    activations = report["training_memory.activations_bytes"]
    assert memory.ratio == pytest.approx((states + activations) / 76e9, rel=1e-12)
    largest = 68_976_648_192 * (76e9 - activations) / states
    assert f"at this layout the largest model that fits has {largest / 1e9:.2f}B parameters" in memory.remedy
    assert "fits on" in memory.remedy  # and the searched layout, tested in test_training_search


def test_training_memory_remedy_offers_a_smaller_micro_batch():
    """Qwen3-0.6B on one H100 with micro-batches of 64: its 18-byte states (10.7 GB) fit, the activations
    do not; each sequence's share is A / 64, so floor((76 GB - states) / (A / 64)) sequences fit."""
    report = qwenfeas.estimate(qwenfeas.loads("model: {preset: qwen3-0.6b}\ncontext: 4096\ntokens: 1T\n"
                                              "hardware: {preset: h100-sxm, count: 1}\nparallel: {micro_batch: 64}\n",
                                              "p.yaml"))
    memory = judge(report).checks[0]
    states = 596_049_920 * (2 + 4 + 12)
    per_sequence = report["training_memory.activations_bytes"] / 64
    assert memory.remedy.endswith(f"a micro-batch of {math.floor((76e9 - states) / per_sequence):,} fits")
    assert "largest model" not in memory.remedy  # the activations alone overflow: no model size helps
