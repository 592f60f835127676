"""FP8 weight all-gathers (training.fp8_param_gather) against hand arithmetic from their sources.

Megatron-Core --fp8-param-gather / Transformer Engine FP8 parameters, and XLA's CollectiveQuantizer
(openxla/xla xla/service/collective_quantizer.h: the cast to a narrower type that follows an
all-gather is moved before it) send 1 byte per weight value in the all-gather, plus the recipe's
scales: none per value for per-tensor scaling (one FP32 scalar per tensor), one E8M0 byte per 32
values for MXFP8 (OCP MX spec v1.0), one FP32 scale per 128 x 128 weight block for DeepSeek-V3's
blockwise recipe (arXiv 2412.19437 sec. 3.3.1). The gradients' reduce-scatter keeps its format.
"""

from __future__ import annotations

import pytest
from test_communication import SCENARIO as BASE

import qwenfeas
from qwenfeas.formulas.communication import fp8_gather_bytes

# test_communication's dense scenario (4 layers, TP4 PP2 over 64 accelerators, 8-way NVLink domains,
# 400 Gb/s network) with FP8 GEMMs, the schedule and micro-batch pinned, the ZeRO stage given
SCENARIO = BASE.replace("vocab: 1000%s}", "vocab: 1000}").replace(
    "parallel: {tensor: 4, pipeline: 2, expert: %d}",
    "precision: {compute: fp8}\nparallel: {tensor: 4, pipeline: 2, zero: %d, schedule: 1f1b, micro_batch: 1}")
OUT = 50e9 * 0.90  # 400 Gb/s at RDMA's ~90% (as tests/test_communication.py)
STEPS = 1e9 / 1e6
MICRO = 1e6 / 2048 / 8  # micro-batches per step per replica: 1M tokens, 2,048-token sequences, 8 replicas


@pytest.mark.parametrize(("recipe", "expected"), [
    ("delayed", 1.0), ("current", 1.0),          # one FP32 scale per tensor: nothing per value
    ("mxfp8", 1 + 1 / 32),                       # E8M0 byte per 32 values
    ("blockwise", 1 + 4 / (128 * 128)),          # FP32 scale per 128 x 128 block
])
def test_bytes_per_parameter_of_an_fp8_weight_all_gather(recipe, expected):
    assert fp8_gather_bytes(recipe) == pytest.approx(expected, rel=1e-15)


def _share(r):
    """The accelerator's parameter share before sharding: half the layers' weights (2 stages) plus one
    embedding table (first or last stage), over t = 4 (as tests/test_communication.py)."""
    tables = 1000 * 1024
    return ((r["model.params"] - 2 * tables) / 2 + tables) / 4


@pytest.mark.parametrize(("zero", "gathers"), [(1, 1.0), (3, 2.0 * MICRO)])
def test_fp8_gathers_send_one_byte_per_weight_instead_of_two(run, zero, gathers):
    bf16 = run(SCENARIO % zero)
    fp8 = run(SCENARIO % zero, "training.fp8_param_gather=true")
    # ZeRO-1 gathers the weights once per step; ZeRO-3 twice per micro-batch (forward and backward).
    # Each gather saves 2 - 1 bytes per parameter of the share, ring share 7/8 over 8 replicas, on the
    # network; the gradients' reduce-scatter and every latency term are unchanged.
    saved = STEPS * gathers * _share(bf16) * (2 - 1) * (7 / 8) / OUT
    assert bf16["communication.data_seconds"] - fp8["communication.data_seconds"] == pytest.approx(saved, rel=1e-9)


def test_blockwise_fp8_gathers_carry_their_block_scales(run):
    bf16 = run(SCENARIO % 1, "precision.fp8_recipe=blockwise")
    fp8 = run(SCENARIO % 1, "precision.fp8_recipe=blockwise", "training.fp8_param_gather=true")
    saved = STEPS * _share(bf16) * (2 - 1 - 4 / 16384) * (7 / 8) / OUT
    assert bf16["communication.data_seconds"] - fp8["communication.data_seconds"] == pytest.approx(saved, rel=1e-9)


def test_without_fp8_gemms_the_flag_is_a_warning_and_changes_nothing(run, write):
    text = SCENARIO.replace("precision: {compute: fp8}", "precision: {compute: bf16}") % 1
    scenario = qwenfeas.load(write(text), ["training.fp8_param_gather=true"])
    assert any("training.fp8_param_gather" in w and "not used" in w for w in scenario.warnings)
    assert qwenfeas.estimate(scenario)["communication.data_seconds"] == run(text)["communication.data_seconds"]


def test_the_explanation_shows_the_gathered_bytes(run):
    r = run(SCENARIO % 1, "training.fp8_param_gather=true")
    assert r.terms["step_weight_gather_bytes"].value == 1.0
    # the data-parallel time's formula names it, so --explain prints its value beside the time
    assert "{step_weight_gather_bytes}" in r.metrics["communication.data_seconds"].formula
    assert "step_weight_gather_bytes" not in run(SCENARIO % 1).metrics["communication.data_seconds"].formula
    assert "step_weight_gather_bytes" not in run(SCENARIO % 1).terms
