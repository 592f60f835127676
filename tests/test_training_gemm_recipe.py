"""The FP8 GEMM ceiling under each scaling recipe, against hand arithmetic from the measurements.

NVIDIA Transformer Engine docs @ d0067d0, "GEMM Profiling Tutorial" (docs/examples/gemm_profiling/
gemm_profiling.rst), pre-quantized mode on a B300 SXM6 AC, cuBLASLt through tex.generic_gemm: the
GEMMs of one layer with hidden 4096, QKV 12288, FFN 16384 and M = 31 x 512 = 15,872 tokens, per pass
(forward / data gradient / weight gradient) 2.158 / 2.329 / 2.325 ms with per-tensor FP8 (current
scaling), 2.365 / 2.397 / 2.400 ms with MXFP8; per layer 6.812 and 7.161 ms. The FP8 ceilings
themselves are per-tensor maxima (stas00/ml-engineering "Maximum Achievable Matmul FLOPS" table,
mamf-finder.py: torch._scaled_mm with scalar scales): B200 3433 of 4500 TFLOP/s, GB200 3616 of 5000;
H100/H800 at the sustained 1337 of 1979 (mamf-finder.py v4's MSMF on H200, same scalar scales).
"""

from __future__ import annotations

import pytest

from qwenfeas.formulas import kernel_efficiency as K
from qwenfeas.formulas.accelerators import gemm_ceiling

PER_TENSOR_MS = 2.158 + 2.329 + 2.325  # 6.812, the page's per-layer total
MXFP8_MS = 7.161  # the page's per-layer total (its three passes sum to 7.162: rounding)
RATE = PER_TENSOR_MS / MXFP8_MS


def test_the_block_scaled_rate_is_the_measured_time_ratio():
    # one layer's GEMM FLOPs: three passes of 2 M a b over QKV 4096 x 12288, out 4096 x 4096,
    # FFN up 4096 x 16384 and down 16384 x 4096
    flops = 3 * 2 * 15872 * 4096 * (12288 + 4096 + 16384 + 16384)
    per_tensor, mxfp8 = flops / (PER_TENSOR_MS * 1e-3), flops / (MXFP8_MS * 1e-3)
    # B300: FP8 dense peak 4,500 TFLOP/s (NVIDIA HGX B300, 72 PFLOPS sparse per 8 GPUs, halved)
    assert per_tensor / 4500e12 == pytest.approx(0.6255, abs=5e-4)  # 2,815 TFLOP/s
    assert mxfp8 / 4500e12 == pytest.approx(0.5950, abs=5e-4)  # 2,677 TFLOP/s
    assert K.BLOCK_SCALED_GEMM_RATE == pytest.approx(mxfp8 / per_tensor, rel=1e-12)
    assert K.BLOCK_SCALED_GEMM_RATE == pytest.approx(0.9513, abs=5e-5)
    # each pass is slower under MXFP8 on its own, the forward most
    for per_tensor_ms, mxfp8_ms in ((2.158, 2.365), (2.329, 2.397), (2.325, 2.400)):
        assert mxfp8_ms > per_tensor_ms


@pytest.mark.parametrize(("recipe", "block_scaled_tensor_cores", "expected"), [
    ("mxfp8", True, 0.8 * 6.812 / 7.161),
    ("blockwise", True, 0.8 * 6.812 / 7.161),  # TE runs blockwise on Blackwell's MXFP8 tensor cores
    ("current", True, 0.8),
    ("delayed", True, 0.8),
    (None, True, 0.8),  # no recipe (serving): the per-tensor figure
    ("mxfp8", False, 0.8),  # no block-scaled tensor cores measured: the per-tensor figure
    ("blockwise", False, 0.8),
])
def test_recipe_ceiling_scales_only_block_scaled_recipes_on_blackwell(recipe, block_scaled_tensor_cores, expected):
    assert K.recipe_ceiling(0.8, recipe, block_scaled_tensor_cores) == pytest.approx(expected, rel=1e-12)


def test_recipe_ceiling_takes_another_measured_rate():
    assert K.recipe_ceiling(0.8, "mxfp8", True, 0.5) == pytest.approx(0.4, rel=1e-12)
    assert K.recipe_ceiling(0.8, "current", True, 0.5) == 0.8


@pytest.mark.parametrize(("preset", "precision", "recipe", "expected"), [
    ("b200", "fp8", "mxfp8", 3433 / 4500 * RATE),  # 0.7629 x 0.9513 = 0.7258
    ("b200", "fp8", "blockwise", 3433 / 4500 * RATE),
    ("b200", "fp8", "current", 3433 / 4500),
    ("b200", "fp8", "delayed", 3433 / 4500),
    ("gb200", "fp8", "mxfp8", 3616 / 5000 * RATE),
    ("gb300", "fp8", "mxfp8", 0.75 * RATE),  # unmeasured ceiling, measured block-scaled rate (B300)
    ("b300", "fp8", "current", 0.75),
    ("h800", "fp8", "blockwise", 1337 / 1979),  # Hopper: no same-kernel measurement, per-tensor kept
    ("h100-sxm", "fp8", "current", 1337 / 1979),
    ("mi355x", "fp8", "mxfp8", 0.75),  # MXFP8 on CDNA 4: no measurement
    ("b200", "bf16", "mxfp8", 1745 / 2250),  # the recipe concerns FP8 GEMMs only
    ("b200", "fp4", "mxfp8", 5702 / 9000),
    ("b200", "int8", "mxfp8", 3433 / 4500),
])
def test_gemm_ceiling_by_recipe(preset, precision, recipe, expected):
    assert gemm_ceiling(preset, precision, recipe) == pytest.approx(expected, rel=1e-12)


def test_without_a_recipe_the_ceiling_is_per_tensor():
    assert gemm_ceiling("b200", "fp8") == pytest.approx(3433 / 4500, rel=1e-12)


# --- in the step model ------------------------------------------------------------------------------------

SCENARIO = """
model: {layers: 2, hidden: 4096, heads: 32, kv_heads: 8, ffn_hidden: 14336, vocab: 32000}
context: 4096
tokens: 4096M
training: {sequence: 4096, batch_tokens: 32K, recompute: none}
precision: {compute: fp8, fp8_recipe: %s}
hardware: {preset: %s, count: 8}
parallel: {tensor: 1, pipeline: 1, data: 8, zero: 1, micro_batch: 1, schedule: 1f1b}
"""


def test_the_step_model_reads_the_recipes_ceiling(work):
    _, w = work(SCENARIO % ("mxfp8", "b200"))
    measured = 3433 / 4500 * RATE
    assert w.measured_ceiling == pytest.approx(measured, rel=1e-12)
    # its main loop's rate (kernel_efficiency.intrinsic_ceiling): the output write of the best shape,
    # 2 B per value at depth 13,312, taken out at 0.8 x 8 TB/s against 4.5 PFLOP/s
    ridge = 4.5e15 / (0.8 * 8e12)
    assert w.ceiling == pytest.approx(1 / (1 / measured - ridge * 2 / (2 * 13312)), rel=1e-12)
    _, hopper = work(SCENARIO % ("blockwise", "h800"))
    assert hopper.measured_ceiling == pytest.approx(1337 / 1979, rel=1e-12)
    # Hopper's FP8 measurement has its own shape: 1536 x 2816 x 10240, FP8 output (1 B per value), taken
    # out at 0.8 x 3.35 TB/s against 1979 TFLOP/s
    hopper_ridge = 1979e12 / (0.8 * 3.35e12)
    assert hopper.ceiling == pytest.approx(1 / (1979 / 1337 - hopper_ridge * 1 / (2 * 10240)), rel=1e-12)


def test_mxfp8_gemms_take_longer_than_per_tensor_ones_on_blackwell(run):
    mx, current = run(SCENARIO % ("mxfp8", "b200")), run(SCENARIO % ("current", "b200"))
    assert mx.terms["step_gemm_seconds"].value > current.terms["step_gemm_seconds"].value
    # on Hopper the blockwise recipe keeps the per-tensor GEMM time
    block, per_tensor = run(SCENARIO % ("blockwise", "h800")), run(SCENARIO % ("current", "h800"))
    assert block.terms["step_gemm_seconds"].value == pytest.approx(per_tensor.terms["step_gemm_seconds"].value,
                                                                   rel=1e-12)


def test_explain_shows_the_ceiling_and_its_source(run):
    r = run(SCENARIO % ("mxfp8", "b200"))
    term = r.terms["step_gemm_ceiling"]
    assert term.value == pytest.approx(3433 / 4500 * RATE, rel=1e-12)
    assert term.function is K.recipe_ceiling
    assert "× 0.9513 (mxfp8" in term.formula and "(0.7629, per-tensor scales)" in term.formula
    assert "{step_gemm_ceiling}" in r.metrics["training.step_seconds"].formula
    assert "72.6% of the peak" in r.explain("training.step_seconds")["substituted"]
    assert "GEMM Profiling Tutorial" in r.explain("step_gemm_ceiling")["source"]
    hopper = run(SCENARIO % ("current", "h100-sxm")).terms["step_gemm_ceiling"]
    assert hopper.function is gemm_ceiling and "×" not in hopper.formula
    assert hopper.value == pytest.approx(1337 / 1979, rel=1e-12)
