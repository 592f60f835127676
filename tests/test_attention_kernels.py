"""Attention kernel efficiency by head dim, mask, keys per query and generation, against the papers' bars.

Every number below is read from the figures, TFLOP/s on one H100 80GB SXM5 (989 TFLOP/s dense BF16):
FlashAttention-3 (Shah et al. 2024, arXiv 2407.08608) Figure 5 forward, Figure 6 backward (no causal
mask); the FlashAttention-2 bars of the same figures; FlashAttention-2's A100 best, 73% (Dao 2023,
arXiv 2307.08691, abstract); NVIDIA's cuDNN 9.13.1 and FlashAttention-2 runs on B200 and GB300
(NVIDIA/cudnn-frontend @ bb37575). The papers and NVIDIA's benchmark count the backward as 2.5x the
forward's FLOPs; the step model counts 2x, so a backward bar B is a share B / peak x 2 / 2.5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qwenfeas.formulas import attention_kernels as AK

H100 = 989.0


def test_a_grid_point_of_flashattention3_on_h100():
    # head dim 128, causal, 8k: forward 602 (Fig. 5e); backward 559 (Fig. 6b, no mask) slowed as the
    # forward is by the mask at 8k, 602 / 646 (Fig. 5e over 5b)
    forward, backward = AK.attention_efficiency("fa3-hopper", 128, 8192, True)
    assert forward == pytest.approx(602 / H100)
    assert backward == pytest.approx(559 / H100 * 602 / 646 * 2 / 2.5)
    # head dim 64 without the mask, 4k: forward 476 (Fig. 5a), backward 453 (Fig. 6a)
    forward, backward = AK.attention_efficiency("fa3-hopper", 64, 4096, False)
    assert forward == pytest.approx(476 / H100)
    assert backward == pytest.approx(453 / H100 * 2 / 2.5)


def test_between_grid_lengths_the_rate_follows_log_length():
    # halfway between 2k and 4k in log2 (2^11.5): halfway between 521 and 579 (Fig. 5e)
    forward, _ = AK.attention_efficiency("fa3-hopper", 128, 2 ** 11.5, True)
    assert forward == pytest.approx((521 + 579) / 2 / H100)
    # a quarter of the way from 512 to 1k: 197 + (265 - 197) / 4 (Fig. 5d, head dim 64)
    forward, _ = AK.attention_efficiency("fa3-hopper", 64, 2 ** 9.25, True)
    assert forward == pytest.approx((197 + (265 - 197) / 4) / H100)


def test_outside_the_grid_the_end_values_hold():
    # a 128-token sliding window runs at the 512 bar, 128k at the 16k bar (no extrapolation)
    assert AK.attention_efficiency("fa3-hopper", 64, 128, True)[0] == pytest.approx(197 / H100)
    assert AK.attention_efficiency("fa3-hopper", 128, 131072, True)[0] == pytest.approx(616 / H100)
    assert AK.attention_efficiency("fa3-hopper", 128, 131072, False)[1] == pytest.approx(561 / H100 * 2 / 2.5)
    # head dims below 64 and above 256 take the 64 and 256 bars (Fig. 5a and 5c at 16k)
    assert AK.attention_efficiency("fa3-hopper", 32, 16384, False)[0] == pytest.approx(497 / H100)
    assert AK.attention_efficiency("fa3-hopper", 512, 16384, False)[0] == pytest.approx(756 / H100)


def test_between_head_dims_the_rate_follows_log_head_dim():
    # MLA's kernel head dim (192 + 128) / 2 = 160: log2(160) - 7 = 0.32 of the way from 128 to 256,
    # causal at 4k: 579 (Fig. 5e) toward 612 (Fig. 5f); without the mask 638 (5b) toward 736 (5c)
    share = math.log2(160) - 7
    masked, open_ = 579 + share * (612 - 579), 638 + share * (736 - 638)
    forward, backward = AK.attention_efficiency("fa3-hopper", 160, 4096, True)
    assert forward == pytest.approx(masked / H100)
    # the backward has no 256 bar: 128's 542 (Fig. 6b) holds, slowed by the mask at head dim 160
    assert backward == pytest.approx(542 / H100 * masked / open_ * 2 / 2.5)


def test_ampere_runs_flashattention2_scaled_to_its_a100_best():
    # FA2's best H100 bar is 370 (Fig. 5b, 8k-16k); on A100 its best is 73%: the grid scales by 0.73 / (370 / 989)
    scale = 0.73 / (370 / H100)
    forward, backward = AK.attention_efficiency("fa2-ampere", 128, 16384, False)
    assert forward == pytest.approx(0.73)
    assert backward == pytest.approx(322 / H100 * 2 / 2.5 * scale)  # FA2 backward bar, Fig. 6b
    # head dim 64, causal, 2k: forward 262 (Fig. 5d's FA2 bar), backward 264 x 262 / 318 (Fig. 6a; 5d over 5a)
    forward, backward = AK.attention_efficiency("fa2-ampere", 64, 2048, True)
    assert forward == pytest.approx(262 / H100 * scale)
    assert backward == pytest.approx(264 / H100 * 262 / 318 * 2 / 2.5 * scale)


# NVIDIA/cudnn-frontend @ bb37575, benchmark/sdpa_benchmark_training/artifacts: cuDNN 9.13.1 and
# FlashAttention-2 2.7.4, BF16, causal, head dim 128, 128 query heads, batch 1, on one B200 (2250 TFLOP/s
# dense BF16) and one GB300 (2500); FLOPs 4 s^2 h d / 2 forward, 2.5x that backward (its `flops`)
B200, GB300 = 2250.0, 2500.0


def test_the_cudnn_bars_are_the_csvs_times_in_flops():
    # B200 at 8k: forward 1.877 ms, backward 5.833 ms (sdpa_bf16_benchmark_results_NVIDIA_B200.csv, pyt_cudnn)
    flops = 4 * 8192 ** 2 * 128 * 128 / 2
    forward, backward = AK.attention_efficiency("cudnn-b200", 128, 8192, True)
    assert forward * B200 == pytest.approx(flops / 1.877e-3 / 1e12, rel=1e-3)  # 1171 TFLOP/s
    # the backward bar counts 2.5x the forward's FLOPs; this model's backward is 2x, so 2 / 2.5 of it
    assert backward * B200 == pytest.approx(2.5 * flops / 5.833e-3 / 1e12 * 2 / 2.5, rel=1e-3)  # 943 x 0.8


@pytest.mark.parametrize(("generation", "peak", "forward", "backward"), [
    ("cudnn-b200", B200, 856, 701),  # B200 at 4k
    ("cudnn-gb300", GB300, 1145, 893),  # GB300's own run at 4k, of its 2500
])
def test_a_grid_point_of_cudnn_on_b200_and_gb300(generation, peak, forward, backward):
    assert AK.attention_efficiency(generation, 128, 4096, True) == pytest.approx(
        (forward / peak, backward / peak * 2 / 2.5))


def test_blackwell_bars_follow_log_length_and_hold_at_the_ends():
    # halfway between 8k and 16k in log2: (1171 + 1332) / 2 forward, (943 + 1075) / 2 backward (B200)
    forward, backward = AK.attention_efficiency("cudnn-b200", 128, 2 ** 13.5, True)
    assert forward == pytest.approx((1171 + 1332) / 2 / B200)
    assert backward == pytest.approx((943 + 1075) / 2 / B200 * 0.8)
    # a quarter of the way from 32k to 64k on GB300: 1796 + (1770 - 1796) / 4
    assert AK.attention_efficiency("cudnn-gb300", 128, 2 ** 15.25, True)[0] == pytest.approx(
        (1796 + (1770 - 1796) / 4) / GB300)
    # a 128-token window at the 512 bar, a million keys at the 128k bar
    assert AK.attention_efficiency("cudnn-b200", 128, 128, True) == pytest.approx((84 / B200, 134 / B200 * 0.8))
    assert AK.attention_efficiency("cudnn-b200", 128, 1e6, True) == pytest.approx((1355 / B200, 1048 / B200 * 0.8))


def test_blackwell_has_one_measured_shape_every_head_dim_and_mask_takes_it():
    # only head dim 128 with the causal mask was measured: MLA's 160, 64, 256 and an open mask take it (16k)
    expected = (1332 / B200, 1075 / B200 * 0.8)
    for head_dim, causal in ((64, True), (160, True), (256, True), (128, False)):
        assert AK.attention_efficiency("cudnn-b200", head_dim, 16384, causal) == pytest.approx(expected)


def test_flashattention2_on_blackwell_runs_its_measured_bars():
    # the same runs' flash_attn 2.7.4: B200 at 32k 436 forward, 346 backward; GB300 at 2k 285 and 247
    assert AK.attention_efficiency("fa2-b200", 128, 32768, True) == pytest.approx((436 / B200, 346 / B200 * 0.8))
    assert AK.attention_efficiency("fa2-gb300", 128, 2048, True) == pytest.approx((285 / GB300, 247 / GB300 * 0.8))


@pytest.mark.parametrize(("preset", "generation"), [
    ("a100-sxm-80gb", "fa2-ampere"), ("a800", "fa2-ampere"), ("b200", "cudnn-b200"), ("gb200", "cudnn-b200"),
    ("b300", "cudnn-gb300"), ("gb300", "cudnn-gb300"),
    ("h100-sxm", "fa3-hopper"), ("h800", "fa3-hopper"), ("h200", "fa3-hopper"), (None, "fa3-hopper"),
])
def test_each_preset_runs_its_generation(preset, generation):
    assert AK.kernel_generation(preset, "fused") == generation


@pytest.mark.parametrize(("preset", "generation"), [
    ("a100-sxm-80gb", "fa2-ampere"), ("h100-sxm", "fa2-hopper"), ("b200", "fa2-b200"), ("gb200", "fa2-b200"),
    ("b300", "fa2-gb300"), ("gb300", "fa2-gb300"), (None, "fa2-hopper"),
])
def test_a_flashattention2_stack_runs_fa2_everywhere(preset, generation):
    assert AK.kernel_generation(preset, "flash2") == generation


def test_flashattention2_on_hopper_runs_its_own_h100_bars():
    # head dim 128, causal, 8k: FA2's forward bar 333 (Fig. 5e), backward 318 (Fig. 6b) x 333 / 370 (5e over 5b)
    forward, backward = AK.attention_efficiency("fa2-hopper", 128, 8192, True)
    assert forward == pytest.approx(333 / H100)
    assert backward == pytest.approx(318 / H100 * 333 / 370 * 2 / 2.5)


def test_arrays_of_lengths_give_each_point_its_rate():
    forward, backward = AK.attention_efficiency("fa3-hopper", 128.0, np.array([512.0, 8192.0, 1e6]), True)
    assert forward == pytest.approx(np.array([292, 602, 616]) / H100)
    assert backward == pytest.approx(np.array([316 * 292 / 467, 559 * 602 / 646, 561 * 616 / 648]) / H100 * 0.8)


SLIDING = """
model: {layers: 4, hidden: 1024, heads: 16, head_dim: 64, ffn_hidden: 4096, vocab: 1000,
        attention: {sliding_window: 128, sliding_layers: 2}}
context: 4096
tokens: 1e9
training: {recompute: none, batch_tokens: 8192, sequence: 4096}
hardware: {preset: h100-sxm, count: 1}
parallel: {tensor: 1, pipeline: 1, data: 1, zero: 1, micro_batch: 1, schedule: 1f1b}
"""


def test_sliding_window_layers_run_at_the_rate_of_their_window(run):
    r = run(SLIDING)
    attention = r.terms["step_attention_seconds"].value
    # per layer and token: 2 x 2 FLOPs per key, 16 heads of 64; a full layer sees (4096 + 1) / 2 keys,
    # a 128-token window (1 + ... + 128 + 128 x 3968) / 4096; one micro-batch of 4,096 tokens
    per_key = 2 * 2 * 16 * 64
    full = 2 * per_key * (4096 + 1) / 2 * 4096
    sliding = 2 * per_key * (128 * 129 / 2 + 128 * 3968) / 4096 * 4096
    peak = 989e12  # the h100-sxm preset's BF16 peak
    # full layers at 4k, head dim 64, causal: forward 420 (Fig. 5d), backward 453 x 420 / 476 (Fig. 6a; 5d/5a)
    full_time = full / (peak * 420 / H100) + 2 * full / (peak * 453 / H100 * 420 / 476 * 0.8)
    # the window's 128 keys sit below the grid: the 512 bars, 197 forward, 272 x 197 / 333 backward
    window_time = sliding / (peak * 197 / H100) + 2 * sliding / (peak * 272 / H100 * 197 / 333 * 0.8)
    assert attention == pytest.approx(full_time + window_time, rel=1e-9)
    # --explain's terms: the full-attention layers' kernel rates, and the grid they come from
    forward, backward = r.terms["step_attention_forward_efficiency"], r.terms["step_attention_backward_efficiency"]
    assert forward.value == pytest.approx(420 / H100)
    assert backward.value == pytest.approx(453 / H100 * 420 / 476 * 0.8)
    assert "fa3-hopper, head dim 64, causal" in forward.formula and forward.function is AK.attention_efficiency


def test_a_flashattention2_stack_on_h100_runs_fa2_bars(run):
    r = run(SLIDING.replace("attention: {sliding_window: 128, sliding_layers: 2}", "")
            .replace("sequence: 4096}", "sequence: 4096, attention_kernel: flash2}"))
    # 4 full layers, 16 heads of 64, causal at 4k: FA2's forward bar 284 (Fig. 5d), backward 279 (Fig. 6a)
    # x 284 / 321 (5d over 5a)
    full = 4 * 2 * 2 * 16 * 64 * (4096 + 1) / 2 * 4096
    expected = full / (989e12 * 284 / H100) + 2 * full / (989e12 * 279 / H100 * 284 / 321 * 0.8)
    assert r.terms["step_attention_seconds"].value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("recompute, forwards", [("none", 1), ("modules", 1), ("selective", 2), ("full", 2)])
def test_selective_and_full_recompute_replay_the_attention_forward(run, recompute, forwards):
    # Megatron-Core's selective recompute checkpoints core attention (core_attn) and replays its forward
    # in the backward; full recompute replays the whole layer; modules replays norms and activations only.
    # 4 full layers, 16 heads of 64, causal at 4k on H100: forward 420 (FA3 Fig. 5d), backward
    # 453 x 420 / 476 (Fig. 6a, slowed by the mask's forward ratio) x 2 / 2.5 (2x FLOPs counted)
    r = run(SLIDING.replace("attention: {sliding_window: 128, sliding_layers: 2}", "")
            .replace("recompute: none", f"recompute: {recompute}"))
    full = 4 * 2 * 2 * 16 * 64 * (4096 + 1) / 2 * 4096
    expected = forwards * full / (989e12 * 420 / H100) + 2 * full / (989e12 * 453 / H100 * 420 / 476 * 0.8)
    assert r.terms["step_attention_seconds"].value == pytest.approx(expected, rel=1e-9)
