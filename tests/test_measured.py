"""The footprint of a run that happened: `measured:` facts replace the predictions they cover (issue 14, item 4).

Published runs are reproduced from their own stated GPU-hours (or days), power, PUE and grid intensity,
computed by hand here; the published energy and CO2 are then checked against that.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qwenfeas.cli import app

DSV3 = """
model: {preset: deepseek-v3}
context: 4K
tokens: 14.8T
hardware: {preset: h800, count: 2048}
datacenter: {pue: 1.1, carbon: 0.5306}
measured: {gpu_hours: 2.664M}
"""


def test_deepseek_v3_energy_is_hours_times_system_power_times_pue(run):
    # DeepSeek-V3 report (arXiv 2412.19437) Table 1: pre-training took 2,664K H800 GPU-hours, $5.328M at
    # $2/GPU-h, 14.8T tokens on 2,048 H800. Each H800's system share: 10.2 kW / 8 (DGX H100-class board).
    r = run(DSV3)
    hours = 2.664e6
    assert r["training.gpu_hours"] == hours
    assert r["training.seconds"] == pytest.approx(hours * 3600 / 2048, rel=1e-12)  # 54.2 days
    energy = hours * (10_200 / 8) * 1.1 / 1000  # kWh
    assert r["training.energy_kwh"] == pytest.approx(energy, rel=1e-12)  # 3.736 GWh
    assert r["training.co2_kg"] == pytest.approx(energy * 0.5306, rel=1e-12)
    assert r["training.cost_usd"] == pytest.approx(5.328e6, rel=1e-12)  # the report's own figure
    # MFU from the stated tokens: the model FLOPs over what 2.664M H800-hours offer at the bf16 peak.
    assert r["training.mfu"] == pytest.approx(r["training.flops"] / (hours * 3600 * 989e12), rel=1e-12)
    # 37B activated (report sec. 4.2) plus the MTP module a token runs, which the MFU counts (Megatron-Bridge's
    # convention): its block, 688.1M weights with 8 of 256 experts, and the output head again, 129,280 x 7,168
    # (tests/test_mtp.py works both out from the config): 36.1%
    stated = 6 * (37e9 + 688_100_352 + 129_280 * 7168) * 14.8e12 / (hours * 3600 * 989e12)
    assert r["training.mfu"] == pytest.approx(stated, rel=0.02)
    assert {"training.seconds", "training.gpu_hours", "training.mfu"} <= set(r.measured)
    assert r.metrics["training.gpu_hours"].label.endswith("(measured)")
    assert "power.sustained_training_watts" in r.metrics  # the power itself is still the rated one


def test_gpt3_per_patterson_et_al_2021(run):
    # Patterson et al. 2021, "Carbon Emissions and Large Neural Network Training" (arXiv 2104.10350), Table 4:
    # GPT-3 on 10,000 V100 for 14.8 days at 330 W average per processor, PUE 1.10, 429 gCO2e/kWh:
    # 1,287 MWh and 552 tCO2e; 3.14e23 FLOPs.
    r = run("""
        model: {layers: 96, hidden: 12288, heads: 96, ffn_hidden: 49152, ffn_gated: false, vocab: 50257,
                tied_embeddings: true}
        context: 2048
        tokens: 300B
        precision: {compute: fp16}
        hardware: {preset: v100, count: 10000}
        datacenter: {pue: 1.1, carbon: 0.429}
        measured: {days: 14.8d, power: 330W}
        """)
    energy = 10_000 * 14.8 * 24 * 0.330 * 1.1  # kWh
    assert r["training.energy_kwh"] == pytest.approx(energy, rel=1e-12)
    assert r["training.energy_kwh"] == pytest.approx(1_287e3, rel=0.003)  # the paper rounds the days
    assert r["training.co2_kg"] == pytest.approx(552e3, rel=0.003)
    assert r["training.mfu"] == pytest.approx(3.14e23 / (10_000 * 14.8 * 86400 * 125e12), rel=0.02)  # ~20%


def test_llama_65b_per_its_paper(run):
    # Touvron et al. 2023, "LLaMA" (arXiv 2302.13971), sec. 6.3 and Table 15: 65B took 1,022,362 GPU-hours
    # on A100-80GB at 400 W, PUE 1.1, US average 0.385 kg CO2e/kWh: 449 MWh, 173 tCO2eq.
    r = run("""
        model: {layers: 80, hidden: 8192, heads: 64, ffn_hidden: 22016, vocab: 32000}
        context: 2048
        tokens: 1.4T
        hardware: {preset: a100-sxm-80gb, count: 2048}
        datacenter: {pue: 1.1, carbon: 0.385}
        measured: {gpu_hours: 1022362, power: 400W}
        """)
    energy = 1_022_362 * 0.400 * 1.1
    assert r["training.energy_kwh"] == pytest.approx(energy, rel=1e-12)
    assert r["training.energy_kwh"] == pytest.approx(449e3, rel=0.002)
    assert r["training.co2_kg"] == pytest.approx(173e3, rel=0.002)


def test_bloom_per_luccioni_et_al_2022(run):
    # Luccioni et al. 2022, "Estimating the Carbon Footprint of BLOOM" (arXiv 2211.02001), sec. 4: 1,082,990
    # GPU-hours on A100-80GB at 400 W TDP give 433,196 kWh of dynamic consumption (no PUE), at Jean Zay's
    # 57 gCO2eq/kWh: 24.69 tonnes.
    r = run("""
        model: {preset: llama-2-70b}
        context: 2048
        hardware: {preset: a100-sxm-80gb, count: 384}
        datacenter: {pue: 1.0, carbon: 0.057}
        measured: {gpu_hours: 1082990, power: 400W}
        """)
    assert r["training.energy_kwh"] == pytest.approx(1_082_990 * 0.400, rel=1e-12)
    assert r["training.energy_kwh"] == pytest.approx(433_196, rel=1e-5)
    assert r["training.co2_kg"] == pytest.approx(24.69e3, rel=0.001)
    assert "training.mfu" not in r.metrics  # no tokens: no FLOPs to divide


RUN = "model: {preset: llama-3.1-405b}\ncontext: 8K\ntokens: 15.6T\nhardware: {preset: h100-sxm, count: 16384}\n"


def test_days_tokens_per_second_and_flops_per_accelerator_each_give_the_time(run):
    days = run(RUN + "measured: {days: 54d}\n")
    assert days["training.gpu_hours"] == pytest.approx(16_384 * 54 * 24)
    tokens = run(RUN + "measured: {tokens_per_second: 3.34M}\n")
    assert tokens["training.seconds"] == pytest.approx(15.6e12 / 3.34e6)
    achieved = run(RUN + "measured: {flops_per_accelerator: 400T}\n")
    assert achieved["training.mfu"] == pytest.approx(400 / 989)
    assert achieved["training.seconds"] == pytest.approx(achieved["training.flops"] / (16_384 * 400e12))


def test_facts_that_disagree_are_flagged(run):
    r = run(RUN + "measured: {days: 54d, gpu_hours: 30M}\n")
    assert r["training.gpu_hours"] == 30e6  # gpu_hours comes first
    assert any("disagree" in warning for warning in r.warnings)
    assert not run(RUN + f"measured: {{days: 54d, gpu_hours: {16_384 * 54 * 24}}}\n").warnings


def test_json_lists_the_measured_outputs(write):
    result = CliRunner().invoke(app, ["estimate", str(write(DSV3)), "-f", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"training.seconds", "training.gpu_hours", "training.mfu"} <= set(out["measured"])
    if "wall_clock_seconds" in out["training"]:  # the run as it happened, its stops included
        assert out["training"]["wall_clock_seconds"] == out["training"]["seconds"]
    assert out["training"]["gpu_hours"] == 2664000


@pytest.mark.parametrize(("rows", "tolerance"), [
    # Touvron et al. 2023, "Llama 2" (arXiv 2307.09288), Table 2: GPU-hours, power per GPU (peak, PUE folded
    # in) and tCO2eq of 7B, 13B, 34B and 70B. The card states no grid intensity: the 70B row implies it.
    ([(184_320, 400, 31.22), (368_640, 400, 62.44), (1_038_336, 350, 153.90), (1_720_320, 400, 291.42)], 0.001),
    # Llama 3 model card (April 2024): 8B 1.3M H100-hours and 70B 6.4M at 700 W, 390 and 1,900 tCO2eq
    # (the hours are rounded to two digits, hence the looser check).
    ([(1.3e6, 700, 390), (6.4e6, 700, 1900)], 0.015),
])
def test_llama_cards_are_one_intensity_times_hours_times_power(run, rows, tolerance):
    hours, watts, tonnes = rows[-1]
    intensity = tonnes * 1000 / (hours * watts / 1000)  # kg per kWh, from the largest model's row
    for hours, watts, tonnes in rows:
        r = run(f"""
            model: {{preset: llama-2-70b}}
            context: 4096
            hardware: {{preset: a100-sxm-80gb, count: 2048}}
            datacenter: {{pue: 1.0, carbon: {intensity}}}
            measured: {{gpu_hours: {hours}, power: {watts}W}}
            """)
        assert r["training.co2_kg"] == pytest.approx(tonnes * 1000, rel=tolerance)
