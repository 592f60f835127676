"""qwenfeas.formulas.memory, .time and .power against hand arithmetic from published configs and datasheets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qwenfeas.formulas import memory as M
from qwenfeas.formulas import power as P
from qwenfeas.formulas import time as T


def test_kv_cache_per_token_of_grouped_query_attention():
    # Llama-2-70B at bf16: K and V x 80 layers x 8 KV heads x 128 x 2 bytes (Pope et al. 2022, sec. 2).
    assert M.kv_cache_bytes_per_token(80, 8, 128, 2) == 2 * 80 * 8 * 128 * 2
    # hand-made, every factor different: 2 x 3 x 5 x 7 x 0.5 bytes (fp4)
    assert M.kv_cache_bytes_per_token(3, 5, 7, 0.5) == 105
    assert M.kv_cache_bytes_per_token(np.array([1, 2]), 1, 1, 1).tolist() == [2, 4]


def test_mla_cache_holds_one_latent_and_one_rope_key_per_layer():
    # DeepSeek-V3: 61 layers x (kv_lora_rank 512 + qk_rope_head_dim 64) x 2 bytes, no factor 2.
    assert M.mla_kv_cache_bytes_per_token(61, 512, 64, 2) == 61 * 576 * 2
    assert M.mla_kv_cache_bytes_per_token(3, 5, 7, 11) == 3 * 12 * 11


def test_linear_attention_state_of_qwen3_next():
    # 36 Gated DeltaNet layers: a 32 x 128 x 128 delta-rule state, and the short convolution's last
    # 3 inputs of 2 x 16 x 128 + 32 x 128 = 8192 channels; fp32.
    assert M.linear_attention_state_bytes(36, 16, 32, 128, 128, 4, 4) == 36 * (32 * 128 * 128 + 8192 * 3) * 4
    # hand-made, every factor different: 2 layers x (5 x 3 x 7 + (2 x 4 x 3 + 5 x 7) x (11 - 1)) x 2 bytes
    assert M.linear_attention_state_bytes(2, 4, 5, 3, 7, 11, 2) == 2 * (105 + 59 * 10) * 2


def test_weights_bytes():
    # Llama-2-70B at fp8: one byte per parameter; at fp4 half of that.
    assert M.weights_bytes(68_976_648_192, 1) == 68_976_648_192
    assert M.weights_bytes(68_976_648_192, 0.5) == 34_488_324_096


@pytest.mark.parametrize(("numerator", "denominator", "expected"), [
    (10, 3, 3), (9, 3, 3), (2, 3, 0), (-5, 3, 0), (0, 3, 0), (353_536 * 327_680 + 1, 327_680, 353_536)])
def test_floor_div_counts_whole_units_and_never_goes_negative(numerator, denominator, expected):
    got = M.floor_div(numerator, denominator)
    assert got == expected
    assert math.copysign(1, got) == 1  # never -0.0 (it prints as "-0")


def test_floor_div_of_arrays():
    got = M.floor_div(np.array([10.0, -5.0, -0.5]), 3.0)
    assert got.tolist() == [3.0, 0.0, 0.0]
    assert not np.signbit(got).any()


def test_accelerators_to_hold():
    # 140 GB of Llama-2-70B bf16 weights over 80 GB H100s less a 10% reserve (72 GB usable): 2.
    assert M.accelerators_to_hold(2 * 68_976_648_192, 72e9) == 2
    assert M.accelerators_to_hold(144e9, 72e9) == 2  # exactly two
    assert M.accelerators_to_hold(144e9 + 1, 72e9) == 3
    assert M.accelerators_to_hold(np.array([1.0, 73e9]), 72e9).tolist() == [1.0, 2.0]


def test_compute_time_divides_over_accelerators_peak_and_mfu():
    # 6ND of Llama-2-70B on 2T tokens over 2,048 A100s at 312 TFLOP/s bf16 and 50% MFU.
    flops = 6 * 68_714_504_192 * 2e12
    assert T.compute_seconds(flops, 2048, 312e12, 0.5) == pytest.approx(flops / (2048 * 312e12 / 2), rel=1e-15)
    assert T.compute_seconds(12.0, 2, 3.0, 0.5) == 4.0


def test_memory_time_divides_over_accelerators():
    # One decode step of Llama-2-70B on 4 H100s (3.35 TB/s each): 137.95 GB of bf16 weights spread
    # over four memories is read in a quarter of one accelerator's time.
    weights = 2 * 68_976_648_192
    assert T.memory_seconds(weights, 4, 3.35e12) == pytest.approx(weights / (4 * 3.35e12), rel=1e-15)
    assert T.memory_seconds(weights, 1, 3.35e12) == pytest.approx(4 * T.memory_seconds(weights, 4, 3.35e12))
    assert T.memory_seconds(np.array([8.0, 8.0]), np.array([1, 2]), 2.0).tolist() == [4.0, 2.0]


def test_accelerator_hours():
    # Llama-2-70B's stated 1,720,320 A100-hours are 2,048 GPUs for 840 hours.
    assert T.accelerator_hours(2048, 840 * 3600) == 1_720_320
    assert T.accelerator_hours(3, 7200) == 6


def test_power_chain_from_board_to_grid():
    # A DGX H100 is rated 10.2 kW for its 8 GPUs (NVIDIA DGX H100 datasheet): 1,275 W per GPU with its
    # share of CPUs, NICs and switches; in a PUE-1.2 hall 8 of them draw 10.2 kW x 1.2 from the grid.
    it = P.it_watts(8, 10_200 / 8)
    assert it == 10_200
    assert P.facility_watts(it, 1.2) == pytest.approx(12_240, rel=1e-15)
    assert P.it_watts(16, 10_200 / 8) == 20_400
    # without a published system figure: the board power plus 50% for hosts, network and storage
    assert P.it_watts(8, P.system_watts(700, 0.5)) == 8 * 700 * 1.5
    # 82% of the rating sustained while training (Latif et al. 2024: 8.4 of 10.2 kW)
    assert P.sustained_watts(10_200, 0.82) == pytest.approx(8_364, rel=1e-15)


def test_energy_carbon_and_money():
    # 1 MW for one hour is 1,000 kWh; at 0.5 kg/kWh 500 kg; at $0.08/kWh $80.
    kwh = P.energy_kwh(1e6, 3600)
    assert kwh == 1000
    assert P.co2_kg(kwh, 0.5) == 500
    assert P.electricity_cost_usd(kwh, 0.08) == pytest.approx(80, rel=1e-15)
    # 1,720,320 A100-hours at $2/h
    assert P.rental_cost_usd(1_720_320, 2) == 3_440_640


def test_capex_per_accelerator():
    # $30K chip + $10K server share + $5K network + $11.7M per MW x 1.5 kW of IT load = $62,550
    assert P.capex_per_accelerator_usd(30e3, 10e3, 5e3, 11.7e6, 1500) == pytest.approx(62_550, rel=1e-15)
    assert P.capex_per_accelerator_usd(1, 2, 4, 1e6, 8) == 15
