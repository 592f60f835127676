"""Measured facts of a finished run replace the predicted time (accounting._measured), by hand.

The round-number scenario of test_estimates.py: 100 accelerators of 1,000 TFLOP/s, 1e9 tokens in
steps of 1M, 6 x 34,583,552 x 1e9 = 2.07501312e17 model FLOPs (no attention term by default).
"""

from __future__ import annotations

import pytest
from test_estimates import SMALL

import qwenfeas

FLOPS = 6 * 34_583_552 * 1e9


def run(measured: str):
    return qwenfeas.estimate(qwenfeas.loads(SMALL + "training: {batch_tokens: 1M}\n" + f"measured: {{{measured}}}\n",
                                            "run.yaml"))


@pytest.mark.parametrize(("measured", "seconds"), [
    ("gpu_hours: 1", 1 * 3600 / 100),                       # accelerator-hours over 100 accelerators
    ("days: 1h", 3600.0),                                   # the wall-clock time itself
    ("tokens_per_second: 1e7", 1e9 / 1e7),                  # tokens over throughput
    ("flops_per_accelerator: 100T", FLOPS / (100 * 1e14)),  # model FLOPs over the fleet's achieved rate
])
def test_the_first_measured_fact_gives_the_time_hours_and_mfu(measured, seconds):
    r = run(measured)
    assert r["training.seconds"] == pytest.approx(seconds, rel=1e-12)
    assert r["training.gpu_hours"] == pytest.approx(100 * seconds / 3600, rel=1e-12)
    assert r["training.mfu"] == pytest.approx(FLOPS / (seconds * 100 * 1e15), rel=1e-12)
    assert r["training.step_seconds"] == pytest.approx(seconds / 1000, rel=1e-12)  # 1e9 / 1M = 1,000 steps
    assert r["training.wall_clock_seconds"] == pytest.approx(seconds, rel=1e-12)
    assert "(measured)" in r.metrics["training.seconds"].label
    key = measured.split(":")[0]
    predicted_days, measured_days = FLOPS / (100 * 1e15 * 0.5) / 86400, seconds / 86400
    assert f"measured {key} replaces the predicted training time ({predicted_days:.3g} days -> " \
           f"{measured_days:.3g} days)" in r.notes
    assert not r.warnings


def test_measured_facts_that_disagree_are_warned_about():
    r = run("gpu_hours: 1, tokens_per_second: 1e7")  # 36 s against 100 s
    assert r["training.seconds"] == pytest.approx(36, rel=1e-12)  # the first one given wins
    assert r.warnings == [f"measured.tokens_per_second gives {100 / 86400:.3g} days, measured.gpu_hours "
                          f"{36 / 86400:.3g} days: the measured facts disagree by more than 5%"]


def test_measured_facts_within_five_percent_agree():
    r = run("gpu_hours: 1, tokens_per_second: 2.8e7")  # 36 s against 35.7 s: 0.8% apart
    assert r["training.seconds"] == pytest.approx(36, rel=1e-12)
    assert not r.warnings


def test_synthetic_data_generated_by_the_scenarios_own_model():
    """64M kept tokens at a 50% keep rate: 128M generated in 2,048-token sequences. Each sequence
    costs its prefill: 2N per token (N = 34,583,552) plus causal attention, 4,096 FLOPs per key
    (2 layers x 8 heads x 256) over 2,048 x 2,049 / 2 keys; on 100 accelerators of 1 PFLOP/s at a
    given 25% MFU; 75 kW facility, 0.5 kg/kWh, $2 per accelerator-hour."""
    r = qwenfeas.estimate(qwenfeas.loads(SMALL + "synthetic: {tokens: 64M, keep: 0.5, context: 2048, mfu: 0.25}\n",
                                         "run.yaml"))
    generated = 64e6 / 0.5
    sequence = 2 * 34_583_552 * 2048 + 2 * 2 * 8 * 256 * 2048 * 2049 / 2
    flops = generated * sequence / 2048
    seconds = flops / (100 * 1e15 * 0.25)
    kwh = 75e3 * seconds / 3.6e6
    assert r["synthetic.generated_tokens"] == generated
    assert r["synthetic.flops"] == pytest.approx(flops, rel=1e-12)
    assert r["synthetic.seconds"] == pytest.approx(seconds, rel=1e-12)
    assert r["synthetic.gpu_hours"] == pytest.approx(100 * seconds / 3600, rel=1e-12)
    assert r["synthetic.energy_kwh"] == pytest.approx(kwh, rel=1e-12)
    assert r["synthetic.co2_kg"] == pytest.approx(kwh * 0.5, rel=1e-12)
    assert r["synthetic.cost_usd"] == pytest.approx(100 * seconds / 3600 * 2, rel=1e-12)
    assert r["synthetic.fraction_of_training"] == pytest.approx(flops / FLOPS, rel=1e-12)
