"""accounting.py by hand: what each power, energy, CO2, cost, synthetic-data and capital figure is, in
which unit and table, which formula --explain shows for it, and the figures of a measured power draw
and a serving-only fleet.

The scenario is test_estimates.py's round-number model: 100 accelerators of 1,000 TFLOP/s and 500 W
TDP with 20% system overhead (600 W each), PUE 1.25, 0.5 kg CO2e/kWh, $0.10/kWh, $2 per
accelerator-hour; 6 x 34,583,552 x 1e9 = 2.07501312e17 training FLOPs at the given 50% MFU.
"""

from __future__ import annotations

import math

import pytest
from test_estimates import GOODPUT, SMALL

import qwenfeas
from qwenfeas.formulas import flops as F
from qwenfeas.formulas import power as W
from qwenfeas.formulas import time as T

MATMUL = 34_583_552
FLOPS = 6 * MATMUL * 1e9
EXTRAS = ("synthetic: {tokens: 64M, keep: 0.5, context: 2048, mfu: 0.25}\n"
          "capex: {accelerator: 10K, server: 5K, network: 3K, facility_per_mw: 10M}\nlimits: {capex: 1B}\n")


def estimate(text: str):
    return qwenfeas.estimate(qwenfeas.loads(text, "run.yaml"))


# name -> (unit, table, the formula function --explain shows, or None for a plain product or ratio)
EVERY_FIGURE = {
    "power.accelerators": ("count", "power", None),
    "power.accelerator_watts": ("W", "power", None),
    "power.it_watts": ("W", "power", W.it_watts),
    "power.facility_watts": ("W", "power", W.facility_watts),
    "power.sustained_training_watts": ("W", "power", W.sustained_watts),
    "power.sustained_serving_watts": ("W", "power", W.sustained_watts),
    "training.energy_kwh": ("kWh", "power", W.energy_kwh),
    "training.co2_kg": ("kg", "power", W.co2_kg),
    "training.sustained_energy_kwh": ("kWh", "power", W.energy_kwh),
    "training.sustained_co2_kg": ("kg", "power", W.co2_kg),
    "training.cost_usd": ("USD", "power", W.rental_cost_usd),
    "training.electricity_cost_usd": ("USD", "power", W.electricity_cost_usd),
    "synthetic.generated_tokens": ("count", "synthetic", None),
    "synthetic.flops": ("FLOP", "synthetic", F.generation_flops),
    "synthetic.seconds": ("s", "synthetic", T.compute_seconds),
    "synthetic.gpu_hours": ("h", "synthetic", T.accelerator_hours),
    "synthetic.energy_kwh": ("kWh", "synthetic", W.energy_kwh),
    "synthetic.co2_kg": ("kg", "synthetic", W.co2_kg),
    "synthetic.cost_usd": ("USD", "synthetic", W.rental_cost_usd),
    "synthetic.fraction_of_training": ("fraction", "synthetic", None),
    "capex.per_accelerator_usd": ("USD", "capex", W.capex_per_accelerator_usd),
    "capex.fleet_usd": ("USD", "capex", None),
    "capex.affordable_accelerators": ("count", "capex", None),
    "capex.affordable_facility_watts": ("W", "capex", W.facility_watts),
}


def test_every_figure_has_its_unit_table_and_formula():
    r = estimate(SMALL + EXTRAS)
    for name, (unit, table, function) in EVERY_FIGURE.items():
        metric = r.metrics[name]
        assert (metric.unit, metric.table, metric.function) == (unit, table, function), name
    assert r.metrics["synthetic.gpu_hours"].label == "accelerator-hours"
    assert r.metrics["power.facility_watts"].label == "facility power, rated: the upper bound"
    assert r.metrics["training.energy_kwh"].label == "training energy (facility, rated power)"


def test_every_figure_by_hand():
    """The figures the table above describes, each from the source formula."""
    r = estimate(SMALL + EXTRAS)
    seconds = FLOPS / (100 * 1e15 * 0.5)
    it, facility = 100 * 600, 100 * 600 * 1.25
    kwh, sustained_kwh = facility * seconds / 3.6e6, facility * 0.82 * seconds / 3.6e6
    expected = {
        "power.accelerators": 100, "power.accelerator_watts": 100 * 500, "power.it_watts": it,
        "power.facility_watts": facility, "power.sustained_training_watts": facility * 0.82,
        "power.sustained_serving_watts": facility * 0.77,
        "training.energy_kwh": kwh, "training.co2_kg": kwh * 0.5, "training.sustained_energy_kwh": sustained_kwh,
        "training.sustained_co2_kg": sustained_kwh * 0.5, "training.cost_usd": 100 * seconds / GOODPUT / 3600 * 2,  # reserved hours: wall-clock
        "training.electricity_cost_usd": kwh * 0.1,
        # $10K + $5K + $3K + $10M per MW x 600 W = $24,000 each; a $1B budget buys floor(41,666.7)
        "capex.per_accelerator_usd": 24_000, "capex.fleet_usd": 100 * 24_000,
        "capex.affordable_accelerators": 41_666, "capex.affordable_facility_watts": 41_666 * 600 * 1.25,
    }
    for name, value in expected.items():
        assert r[name] == pytest.approx(value, rel=1e-12), name


def test_the_generated_sequence_is_an_explained_term():
    """One 2,048-token sequence of the scenario's model: 2N per token plus causal attention at
    2 x 2 layers x 8 heads x (128 + 128) = 8,192 FLOPs per key over 2,048 x 2,049 / 2 keys."""
    r = estimate(SMALL + EXTRAS)
    term = r.terms["generated_sequence_flops"]
    assert term.value == pytest.approx(2 * MATMUL * 2048 + 8192 * 2048 * 2049 / 2, rel=1e-12)
    assert (term.unit, term.function) == ("FLOP", F.forward_flops)
    assert term.label == "forward FLOPs of one 2,048-token sequence (the scenario's model)"


def test_a_named_generator_by_hand():
    """Qwen3-8B (config.json: 36 layers, hidden 4096, 32 query and 8 KV heads of 128, FFN 12,288,
    vocab 151,936, untied, QK-norm) generates 2,048-token sequences: its 8,190,735,360 weights less the
    151,936 x 4,096 input embedding are multiplied twice per token, plus 2 x 36 x 32 x (128 + 128) =
    589,824 FLOPs per attended key over 2,048 x 2,049 / 2 keys."""
    r = estimate(SMALL + "synthetic: {tokens: 64M, keep: 0.5, context: 2048, mfu: 0.25, generator: qwen3-8b}\n")
    layer = 4096 * 128 * (2 * 32 + 2 * 8) + 2 * 128 + 3 * 4096 * 12288 + 2 * 4096
    params = 36 * layer + 2 * 151_936 * 4096 + 4096  # 8,190,735,360, as test_hf_config derives it
    sequence = 2 * (params - 151_936 * 4096) * 2048 + 589_824 * 2048 * 2049 / 2
    term = r.terms["generated_sequence_flops"]
    assert term.value == pytest.approx(sequence, rel=1e-12)
    assert term.label == "forward FLOPs of one 2,048-token sequence (qwen3-8b)"
    assert r["synthetic.flops"] == pytest.approx(128e6 * sequence / 2048, rel=1e-12)
    assert r.metrics["synthetic.flops"].label == "generation FLOPs (qwen3-8b)"


def test_a_measured_power_draw_replaces_the_rated_one():
    """330 W per accelerator measured at the wall of its server (as Patterson et al. 2021 report
    GPT-3's V100s): IT 100 x 330 W, facility x 1.25; no sustained fraction applies to a measurement."""
    r = estimate(SMALL + "measured: {power: 330W}\n")
    seconds = FLOPS / (100 * 1e15 * 0.5)
    it = 100 * 330
    kwh = it * 1.25 * seconds / 3.6e6
    assert r["power.it_watts"] == it
    assert r["power.facility_watts"] == pytest.approx(it * 1.25, rel=1e-15)
    assert r["training.energy_kwh"] == pytest.approx(kwh, rel=1e-12)
    assert r["training.co2_kg"] == pytest.approx(kwh * 0.5, rel=1e-12)
    assert r["training.electricity_cost_usd"] == pytest.approx(kwh * 0.1, rel=1e-12)
    assert not any(name.startswith(("power.sustained", "training.sustained")) for name in r.metrics)
    it_metric, facility = r.metrics["power.it_watts"], r.metrics["power.facility_watts"]
    assert (it_metric.unit, it_metric.label, it_metric.formula, it_metric.function) == (
        "W", "IT load (measured)", "{power.accelerators} × {measured.power} (measured)", W.it_watts)
    assert facility.label == "facility power (measured)"
    assert r.metrics["training.energy_kwh"].label == "training energy (facility, measured power)"


def test_a_serving_fleet_powers_its_replica():
    """No hardware.count and no tokens: the accelerators powered are one serving replica's 4."""
    r = estimate(SMALL.replace("  count: 100\n", "").replace("tokens: 1e9\n", "") + "inference: {accelerators: 4}\n")
    assert "hardware.count" not in r.scenario
    metric = r.metrics["power.accelerators"]
    assert (metric.value, metric.unit) == (4, "count")
    assert metric.formula == "{inference.accelerators} (no hardware.count: one serving replica)"
    assert r["power.it_watts"] == 4 * 600
    assert r["power.facility_watts"] == pytest.approx(4 * 600 * 1.25, rel=1e-15)
    assert r["power.sustained_serving_watts"] == pytest.approx(4 * 600 * 1.25 * 0.77, rel=1e-15)
    assert "training.energy_kwh" not in r.metrics


def test_measured_figures_name_their_source():
    r = estimate(SMALL + "training: {batch_tokens: 1M}\nmeasured: {gpu_hours: 7.77}\n")
    # the given accelerator-hours are reported as given, not recomputed as 100 x (7.77 x 3600 / 100) / 3600,
    # which is 7.770000000000001 in floating point
    assert r["training.gpu_hours"] == 7.77
    assert r.metrics["training.gpu_hours"].formula == "{measured.gpu_hours} (measured)"
    assert r.metrics["training.gpu_hours"].function is T.accelerator_hours
    assert (r.metrics["training.mfu"].unit, r.metrics["training.mfu"].table) == ("fraction", "training")
    r = estimate(SMALL + "training: {batch_tokens: 1M}\nmeasured: {days: 1h}\n")
    assert r.metrics["training.gpu_hours"].formula == "{hardware.count} × {training.seconds} / 3600 (measured)"
    assert r["training.gpu_hours"] == pytest.approx(100 * 3600 / 3600, rel=1e-15)


def test_the_days_in_the_notes_are_seconds_over_86400_to_three_digits():
    """Each figure sits just above a rounding boundary (x.xx5 days), so a day of 86,401 s would
    print the digit below; the exponent form is lower-case, as every number qwenfeas prints."""
    # predicted: 6 x 34,583,552 x 71,930,252e6 FLOPs / (100 x 1 PFLOP/s x 50%) = 3.455005 days
    tokens = 71_930_252_000_000  # 6 x 34,583,552 x tokens / 5e16 / 86,400 = 3.4550050145 days
    text = SMALL.replace("tokens: 1e9", f"tokens: {tokens}") + "training: {batch_tokens: 1M}\n"
    # the first fact is the gpu_hours: 5,628.012 x 3,600 / 100 s = 2.345005 days; the days disagree
    r = estimate(text + "measured: {gpu_hours: 5628.012, days: 1.235005d}\n")
    assert "measured gpu_hours replaces the predicted training time (3.46 days -> 2.35 days)" in r.notes
    assert r.warnings == ["measured.days gives 1.24 days, measured.gpu_hours 2.35 days: the measured facts "
                          "disagree by more than 5%"]
    r = estimate(SMALL + "training: {batch_tokens: 1M}\nmeasured: {days: 1s, tokens_per_second: 500M}\n")
    assert f"measured days replaces the predicted training time ({FLOPS / 5e16 / 86400:.3g} days -> " \
           "1.16e-05 days)" in r.notes
    assert r.warnings == ["measured.tokens_per_second gives 2.31e-05 days, measured.days 1.16e-05 days: the "
                          "measured facts disagree by more than 5%"]


def test_no_rental_price_is_a_warning_naming_the_accelerator():
    r = estimate(SMALL.replace(", gpu_hour: 2 $/h", ""))
    assert "hardware.preset" not in r.scenario
    assert r.warnings == ["no rental price is known for this accelerator: rental costs are not reported; give "
                          "datacenter.gpu_hour (e.g. 2.50 $/h) with its source"]
    assert "training.cost_usd" not in r.metrics
    assert not estimate(SMALL).warnings
    assert math.isfinite(r["training.electricity_cost_usd"])  # the owner-operator's bill does not need a price


def test_synthetic_data_and_capex_without_a_price_training_run_or_budget():
    """Serving only (no tokens), no rental price, no capital budget: generation still has its time,
    hours and energy, the fleet its capital cost; nothing that needs the missing input is reported."""
    text = SMALL.replace("tokens: 1e9\n", "").replace(", gpu_hour: 2 $/h", "")
    r = estimate(text + "synthetic: {tokens: 64M, keep: 0.5, context: 2048, mfu: 0.25}\n"
                 "capex: {accelerator: 10K, server: 5K, network: 3K, facility_per_mw: 10M}\n")
    seconds = 128e6 * (2 * MATMUL * 2048 + 8192 * 2048 * 2049 / 2) / 2048 / (100 * 1e15 * 0.25)
    assert r["synthetic.gpu_hours"] == pytest.approx(100 * seconds / 3600, rel=1e-12)
    assert r["synthetic.energy_kwh"] == pytest.approx(100 * 600 * 1.25 * seconds / 3.6e6, rel=1e-12)
    assert r["capex.fleet_usd"] == pytest.approx(100 * (10e3 + 5e3 + 3e3 + 10e6 * 600 / 1e6), rel=1e-12)
    for missing in ("synthetic.cost_usd", "synthetic.fraction_of_training", "capex.affordable_accelerators",
                    "capex.affordable_facility_watts", "training.flops"):
        assert missing not in r.metrics, missing
