"""Unfused attention (scores written to memory, as before FlashAttention) against hand arithmetic.

The byte counts per score element follow the operator sequence of a pre-FlashAttention layer
(Korthikanti et al. 2022, sec. 4.1; Dao et al. 2022, sec. 2.2): forward S written, softmax reads S
and writes P, dropout reads P and writes its mask and P', PV reads P' (2 + 4 + 5 + 2 = 13 B); the
backward's dP', P' read for dV, dropout's backward, softmax's backward, dS read twice (19 B).
"""

from __future__ import annotations

import pytest

import qwenfeas
from qwenfeas.errors import QwenfeasError
from qwenfeas.formulas import kernel_efficiency as K

# A two-layer model on one accelerator with no preset: a BF16 peak of 1000 TFLOP/s, 2 TB/s of HBM and
# the unmeasured GEMM ceiling of 0.75 (formulas.kernel_efficiency.GEMM_CEILING_UNMEASURED), taken as
# its main loop's rate: less the output write of a K = 13,312 GEMM at 1000 TFLOP/s over 0.8 x 2 TB/s
# (kernel_efficiency.intrinsic_ceiling), since the score traffic below counts the GEMMs' S and dP' writes.
SCENARIO = """
model: {layers: 2, hidden: 1024, heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2048
tokens: 1e9
training: {batch_tokens: 8192, recompute: %s%s}
hardware: {count: 1, peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W}
parallel: {tensor: 1, zero: 1, micro_batch: 1, schedule: 1f1b}
"""
PEAK, BANDWIDTH, ELEMENTWISE = 1000e12, 2e12, 0.85
CEILING = 1 / (1 / 0.75 - 1000e12 / (0.8 * 2e12) * 2 / (2 * 13312))
TOKENS = 2048  # one micro-batch of one 2,048-token sequence
# scores of one micro-batch: tokens x heads x keys (the whole square) x layers
SCORES = TOKENS * 8 * 2048 * 2
# forward FLOPs of QK^T and PV over the whole square: 2 x 128 each per head and key, 8 heads, 2 layers
SQUARE_FLOPS = TOKENS * 2048 * (2 * 128 + 2 * 128) * 8 * 2


def test_the_formula_adds_the_square_gemms_and_the_score_traffic():
    # 1e12 forward FLOPs at 0.8 of 1 PFLOP/s, 1e9 scores through 2 TB/s at 0.85
    once = K.unfused_attention_seconds(1e9, 1e12, 1e15, 2e12, 0.8)
    assert once == pytest.approx(3 * 1e12 / 0.8e15 + 1e9 * (13 + 19) / (0.85 * 2e12))
    replayed = K.unfused_attention_seconds(1e9, 1e12, 1e15, 2e12, 0.8, forward_passes=2.0)
    assert replayed == pytest.approx(4 * 1e12 / 0.8e15 + 1e9 * (2 * 13 + 19) / (0.85 * 2e12))


@pytest.mark.parametrize(("recompute", "passes"), [("none", 1), ("selective", 2), ("full", 2)])
def test_an_unfused_layer_pays_the_whole_square_and_its_scores_in_memory(run, recompute, passes):
    r = run(SCENARIO % (recompute, ", attention_kernel: unfused"))
    gemms = (passes + 2) * SQUARE_FLOPS / (PEAK * CEILING)
    traffic = SCORES * (13 * passes + 19) / (ELEMENTWISE * BANDWIDTH)
    assert r.terms["step_attention_seconds"].value == pytest.approx(gemms + traffic)
    assert "unfused" in r.terms["step_attention_seconds"].label


def test_fused_is_the_default_and_costs_less(run):
    fused = run(SCENARIO % ("selective", ""))
    stated = run(SCENARIO % ("selective", ", attention_kernel: fused"))
    unfused = run(SCENARIO % ("selective", ", attention_kernel: unfused"))
    assert fused["training.step_seconds"] == stated["training.step_seconds"]
    # FlashAttention's causal forward (keys (s + 1) / 2 per token) and backward 2x, no preset: FlashAttention-3
    # on H100 at head dim 128, 2,048 keys, causal: forward 521 of 989 TFLOP/s (Shah et al. 2024, Fig. 5e),
    # backward 501 (Fig. 6b, no mask) x 521 / 625 (the mask's toll on the forward, Fig. 5b and 5e) x 2 / 2.5;
    # selective recompute (Megatron-Core's core_attn) runs the forward twice
    causal = SQUARE_FLOPS * (2048 + 1) / 2 / 2048
    assert fused.terms["step_attention_seconds"].value == pytest.approx(
        2 * causal / (PEAK * 521 / 989) + 2 * causal / (PEAK * 501 / 989 * 521 / 625 * 2 / 2.5))
    assert unfused["training.step_seconds"] > fused["training.step_seconds"]


def test_an_unknown_kernel_is_a_clear_error(write):
    path = write(SCENARIO % ("full", ", attention_kernel: flash4"))
    with pytest.raises(QwenfeasError) as caught:
        qwenfeas.load(path, [])
    message = str(caught.value)
    assert "training.attention_kernel" in message and "fused, flash2, unfused" in message


def test_tensor_and_pipeline_split_the_unfused_square(run):
    # TP2 PP2 on 4 accelerators: each rank holds 8 / 2 = 4 heads, the slowest stage 1 of the 2 layers,
    # so a rank's square is a quarter of the one-accelerator square: SQUARE_FLOPS / 4 and SCORES / 4
    text = SCENARIO.replace("count: 1", "count: 4").replace("tensor: 1", "tensor: 2, pipeline: 2")
    r = run(text % ("none", ", attention_kernel: unfused"))
    assert (r["layout.tensor"], r["layout.pipeline"], r["layout.data"]) == (2, 2, 1)
    gemms = 3 * SQUARE_FLOPS / 4 / (PEAK * CEILING)  # forward once, backward twice, no replay
    traffic = SCORES / 4 * (13 + 19) / (ELEMENTWISE * BANDWIDTH)
    assert r.terms["step_attention_seconds"].value == pytest.approx(gemms + traffic)


def test_only_the_unfused_kernel_keeps_the_scores_without_recomputation(run):
    # Korthikanti et al. 2022 (sec. 4.1) count 5as/h bytes per s*b*h for the scores, softmax, dropout
    # mask and output: 5 x heads x s^2 per sequence = 5 x 8 x 2048^2 bytes per layer, 2 layers, one
    # micro-batch in flight (1F1B on one stage). FlashAttention (Dao et al. 2022, sec. 3.1) stores none.
    fused = run(SCENARIO % ("none", ""))
    unfused = run(SCENARIO % ("none", ", attention_kernel: unfused"))
    scores = 5 * 8 * 2048**2 * 2
    assert (unfused["training_memory.activations_bytes"] - fused["training_memory.activations_bytes"]
            == pytest.approx(scores, rel=1e-12))
    selective = run(SCENARIO % ("selective", ""))
    assert fused["training_memory.activations_bytes"] == selective["training_memory.activations_bytes"]


def test_the_layout_search_sees_the_kernel_memory(run):
    # 4.9 GB less the 4 GB runtime reserve leaves 0.9 GB: the fused layer without recomputation fits
    # (weights, gradients, optimizer states and 184 MB of activations: 0.83 GB), the unfused one does
    # not (+ 2 x 5 x 8 x 2048^2 = 0.34 GB of scores), so its search recomputes the scores instead.
    text = SCENARIO.replace("recompute: %s%s", "attention_kernel: %s").replace("80GB", "4.9GB")  # recompute open
    fused = run(text % "fused")
    unfused = run(text % "unfused")
    assert fused["layout.recompute"] == "none"
    assert unfused["layout.recompute"] == "selective"
