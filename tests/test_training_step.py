"""The step-time model against hand arithmetic: kernels, schedules, goodput, a whole step, MFU given or predicted."""

from __future__ import annotations

import math

import pytest

from qwenfeas.formulas import kernel_efficiency as K
from qwenfeas.formulas import pipeline as PL
from qwenfeas.formulas import reliability as R
from qwenfeas.formulas.training_memory import activation_bytes_per_layer, logits_bytes

# --- schedules: the DualPipe README table with F = 1, B = 2 (full backward), W = 1 --------------------

@pytest.mark.parametrize(("schedule", "v", "expected"), [
    (PL.ONE_F_ONE_B, 1, 15 / 32),              # (p - 1)(F + B) over m (F + B)
    (PL.INTERLEAVED, 4, 15 / (4 * 32)),        # Narayanan et al. 2021: (p - 1)/(v m)
    (PL.ZERO_BUBBLE, 1, 15 * (1 + 2 - 2) / (32 * 3)),  # ZB1P: (p - 1)(F + B - 2W)
    (PL.DUALPIPE, 1, (16 / 2 - 1) * (3 + 2 - 3) / (32 * 3)),  # (p/2 - 1)(F&B + B - 3W), F&B = F + B
])
def test_bubble_of_each_schedule_for_16_stages_and_32_micro_batches(schedule, v, expected):
    assert PL.bubble_ratio(schedule, 16, 32, v) == pytest.approx(expected)


def test_activations_in_flight_and_weight_copies():
    # 1F1B: the first stage holds p micro-batches; interleaving adds (p - 1)/v of a stage; DualPipe p + 1
    assert PL.micro_batches_in_flight(PL.ONE_F_ONE_B, 16, 32) == 16
    assert PL.micro_batches_in_flight(PL.INTERLEAVED, 16, 32, 4) == 16 + 15 / 4
    assert PL.micro_batches_in_flight(PL.DUALPIPE, 16, 120) == 17
    assert PL.micro_batches_in_flight(PL.ONE_F_ONE_B, 16, 4) == 4  # never more than the step has
    assert (PL.weight_copies(PL.DUALPIPE), PL.weight_copies(PL.ZERO_BUBBLE)) == (2, 1)


# --- kernels ------------------------------------------------------------------------------------------

def test_gemm_efficiency_is_the_roofline_of_its_weight_stream():
    # FP8 on an H800 (1979 TFLOP/s, 3.35 TB/s) with 64 rows: 2 * 64 / 1 B FLOP per byte at 80% of the
    # bandwidth is 343 TFLOP/s, 17% of peak: DeepGEMM measures 10-17% for M = 64 (README @ a9967bc).
    small = K.gemm_efficiency(64, 1.0, 1979e12, 3.35e12, 0.709)
    assert small == pytest.approx(2 * 64 * 3.35e12 * 0.8 / 1979e12)
    assert 0.10 <= small <= 0.18
    assert K.gemm_efficiency(8192, 1.0, 1979e12, 3.35e12, 1403 / 1979) == pytest.approx(1403 / 1979)


def test_attention_forward_once_backward_twice_at_their_own_efficiencies():
    f = 1e12
    assert K.attention_training_seconds(f, 1e15, 0.75, 0.44) == pytest.approx(f / (1e15 * 0.75) + 2 * f / (1e15 * 0.44))
    replayed = K.attention_training_seconds(f, 1e15, 0.75, 0.44, forward_passes=2.0)
    assert replayed - K.attention_training_seconds(f, 1e15, 0.75, 0.44) == pytest.approx(f / (1e15 * 0.75))


def test_element_wise_bytes_of_a_dense_and_an_moe_layer():
    # h = 1024, q = kv = 1024, SwiGLU f = 4096: forward 10h + 2(q + kv) + 3f values, x3 for the backward, 2 B
    assert K.elementwise_bytes_per_token_layer(1024, 1024, 1024, 4096, True) == 3 * 2 * (10240 + 4096 + 12288)
    # k = 8 routed copies add 5kh (FP8 casts are counted apart: test_training_fp8_recipe)
    moe = K.elementwise_bytes_per_token_layer(1024, 1024, 1024, 4096, True, 8)
    assert moe == 3 * 2 * (10240 + 4096 + 12288 + 5 * 8 * 1024)


def test_qk_norm_reads_and_writes_the_queries_and_keys_once_more():
    # OLMo-1124 1B (OLMo-core config.py at 41400c46: d 2048, 16 heads of 128, SwiGLU 5632, QK-norm):
    # without QK-norm 10h + 2(q + kv) + 3f = 20480 + 8192 + 16896 = 45568 values forward; the norms
    # on q (2048) and k (2048) read and write them: 2 x 4096 = 8192 more; x3 for the backward, 2 B
    plain = K.elementwise_bytes_per_token_layer(2048, 2048, 2048, 5632, True)
    normed = K.elementwise_bytes_per_token_layer(2048, 2048, 2048, 5632, True, qk_norm=True)
    assert plain == 3 * 2 * 45568
    assert normed == 3 * 2 * (45568 + 8192)
    # grouped-query keys: q 4096, kv 1024 (8 heads x 128 of 32 x 128), k = 8 routed copies of h 2048
    moe = K.elementwise_bytes_per_token_layer(2048, 4096, 1024, 6144, True, 8, qk_norm=True)
    assert moe == 3 * 2 * (10 * 2048 + 4 * (4096 + 1024) + 3 * 6144 + 5 * 8 * 2048)


def test_optimizer_step_streams_thirty_bytes_per_parameter():
    assert K.optimizer_seconds(1e9, 2e12) == pytest.approx(1e9 * 30 / (0.85 * 2e12))


# --- memory terms -----------------------------------------------------------------------------------

def test_last_stage_logits_and_mla_latents():
    # Llama 3 405B at 8K: 8192 x 128,256 FP32 logits over TP8 = 525 MB
    assert logits_bytes(8192, 1, 128256, 8) == 8192 * 128256 * 4 / 8
    # DeepSeek-V3 MLA under `modules`: the q latent 1536, KV latent 512, RoPE key 64 and 128 x 128 head
    # outputs are kept at 2 B (18,496 values), not the up-projected Q, K, V; norms' outputs and the
    # activation output are recomputed (R 10 -> 6, M 6f/h -> 4f/h); k = 8 FP8 copies of the token
    s, h = 4096, 7168
    got = activation_bytes_per_layer(s, 1, h, 128, 128 * 192, 128 * 128, 8 * 2048 + 2048, True, 1, True, "modules",
                                     8, 1.0, 1.0, 1536 + 512 + 64 + 128 * 128)
    expected = s * h * (6 + 2 * 18496 / h + 4 * 18432 / h * 0.5 + 8 * 1)
    assert got == pytest.approx(expected, rel=1e-12)


# --- goodput: Llama 3 sec. 3.3.4 ------------------------------------------------------------------------

def test_goodput_at_llama3_scale():
    rate = 419 / (16384 * 54 * 24)
    assert R.INTERRUPTIONS_PER_ACCELERATOR_HOUR == pytest.approx(rate)
    assert R.interruptions(16384, 54 * 86400) == pytest.approx(419)
    mtbf = 3600 / (16384 * rate)  # 11,136 s: one unexpected interruption every 3.1 h
    tau = math.sqrt(2 * 30 * mtbf)  # Young: a 30 s checkpoint every 817 s
    assert R.checkpoint_interval(30, mtbf) == pytest.approx(tau)
    assert R.goodput(30, 600, mtbf) == pytest.approx(1 / (1 + 30 / tau + (tau / 2 + 600) / mtbf))


# --- one whole step, by hand ------------------------------------------------------------------------

ONE = """
model: {layers: 2, hidden: 1024, heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2048
tokens: 1e9
training: {batch_tokens: 8192, recompute: selective}
hardware: {count: 1, peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W%s}
parallel: {tensor: 1, zero: 1, micro_batch: 1, schedule: 1f1b}
"""
LAYER = 1024 * 128 * (2 * 8 + 2 * 8) + 3 * 1024 * 4096 + 2 * 1024
PARAMS = 2 * LAYER + 2 * 1000 * 1024 + 1024
TABLE = 1000 * 1024


def test_a_step_on_one_accelerator_by_hand(run):
    r = run(ONE % "")
    m, T = 8192 / 2048, 2048  # micro-batches per step, tokens per micro-batch
    # no preset: the unmeasured GEMM ceiling 0.75 (2 x 2048 / 2 B x 2 TB/s x 0.8 / 1 PFLOP/s is far above it),
    # less the write of its best shape's output: 1 PFLOP/s over 0.8 x 2 TB/s is 625 FLOP per byte written,
    # a K = 13,312 deep GEMM writes 2 B per 2 K FLOPs
    eff = 1 / (1 / 0.75 - 625 * 2 / (2 * 13312))
    # each weight a x b writes its forward output (T x b, BF16), input gradient (T x a, BF16) and FP32
    # gradient (a x b, 4 B): QKV 1024 x 3072, O 1024 x 1024, gate and up 1024 x 8192, down 4096 x 1024, per FLOP
    # of their three GEMMs (6 T a b), charged on the FLOPs of the layers; the head likewise
    weights = ((1024, 3072), (1024, 1024), (1024, 8192), (4096, 1024))
    per_flop = sum(2 * T * (a + b) + 4 * a * b for a, b in weights) / sum(6 * T * a * b for a, b in weights)
    head_per_flop = (2 * T * (1024 + 1000) + 4 * 1024 * 1000) / (6 * T * 1024 * 1000)
    layers, head = 6 * T * (PARAMS - 2 * TABLE), 6 * T * TABLE
    gemm = (layers + head) / (1e15 * eff) + (layers * per_flop + head * head_per_flop) / (0.8 * 2e12)
    forward = 2 * 2 * 8 * (128 + 128) * (2048 + 1) / 2 * T  # causal attention, forward
    # no preset: FlashAttention-3's H100 grid, head dim 128, causal, 2,048 keys: forward 521 of 989 TFLOP/s
    # (Shah et al. 2024, Fig. 5e); backward 501 (Fig. 6b, no mask) slowed as the forward is by the mask,
    # 521 / 625 (Fig. 5b), and counted as 2x, not 2.5x, the forward's FLOPs; selective recompute
    # (Megatron-Core's core_attn) runs the forward a second time in the backward
    forward_eff, backward_eff = 521 / 989, 501 / 989 * 521 / 625 * 2 / 2.5
    attention = 2 * forward / (1e15 * forward_eff) + 2 * forward / (1e15 * backward_eff)
    elementwise = (T * 2 * 3 * 2 * (10 * 1024 + 2 * 2048 + 3 * 4096) + T * 24 * 1000) / (0.85 * 2e12)
    optimizer = PARAMS * 30 / (0.85 * 2e12)
    step = m * (gemm + attention + elementwise) + optimizer
    assert r["training.step_seconds"] == pytest.approx(step, rel=1e-9)
    steps = 1e9 / 8192
    assert r["training.seconds"] == pytest.approx(steps * step, rel=1e-9)
    flops = 6 * (PARAMS - TABLE) * 1e9  # 6ND, attention not counted (training.attention_term: none)
    assert r["training.mfu"] == pytest.approx(flops / (steps * step * 1e15), rel=1e-9)
    assert "(predicted)" in r.metrics["training.mfu"].label
    assert r["training.bubble_fraction"] == 0 and r["layout.searched"] is False


def test_a_given_mfu_overrides_the_prediction_and_says_so(run):
    r = run(ONE % ", mfu: 0.3")
    assert r["training.mfu"] == pytest.approx(0.3)
    assert "(given)" in r.metrics["training.mfu"].label
    assert r["training.seconds"] == pytest.approx(6 * (PARAMS - TABLE) * 1e9 / (1e15 * 0.3))


def test_goodput_stretches_the_wall_clock_only(run):
    r = run(ONE % "")
    assert r["training.wall_clock_seconds"] == pytest.approx(r["training.seconds"] / r["training.goodput"])
    assert 0 < r["training.goodput"] < 1


PIPE = """
model: {preset: llama-3.1-8b}
context: 4096
tokens: 1T
training: {batch_tokens: 4M, recompute: selective}
hardware: {preset: h100-sxm, count: 64}
parallel: {tensor: 8, pipeline: 4, micro_batch: 1, zero: 1, schedule: %s}
"""


def test_dualpipe_holds_two_copies_of_the_weights_and_a_smaller_bubble(run):
    one, dual = run(PIPE % "1f1b"), run(PIPE % "dualpipe")
    assert dual["training_memory.weights_bytes"] == pytest.approx(2 * one["training_memory.weights_bytes"])
    assert dual["training_memory.gradients_bytes"] == pytest.approx(2 * one["training_memory.gradients_bytes"])
    # 4M / 4096 / 2 replicas = 512 micro-batches: 1F1B idles 3/512 of busy time, DualPipe (4 - 2)/(3 x 512)
    assert one["training.bubble_fraction"] > dual["training.bubble_fraction"] > 0
    assert one["layout.schedule"] == "1f1b" and dual["layout.schedule"] == "dualpipe"


def test_a_file_named_default_is_read_as_written(tmp_path, monkeypatch):
    """Origins are "file:line"; a file called default.yaml must not pass for a default value."""
    import qwenfeas

    (tmp_path / "default.yaml").write_text(PIPE % "dualpipe")
    monkeypatch.chdir(tmp_path)
    r = qwenfeas.estimate(qwenfeas.load("default.yaml"))
    assert r["layout.schedule"] == "dualpipe" and r["layout.searched"] is False


def test_dualpipe_on_two_stages_has_no_bubble():
    # (p/2 - 1) = 0 stage pairs wait: the two directions fill each other's gaps
    assert PL.bubble_ratio(PL.DUALPIPE, 2, 8) == 0


def test_goodput_without_checkpoints_loses_only_restarts():
    # C = 0: the interval is free, every failure costs the restart alone (Young 1974 with C -> 0)
    assert R.goodput(0.0, 600.0, 36000.0) == pytest.approx(1 / (1 + 600 / 36000))


@pytest.mark.parametrize(("preset", "precision", "ceiling"), [
    # stas00/ml-engineering "Maximum Achievable Matmul FLOPS" table and AMD's ROCm blog, Table 1; Hopper
    # at its sustained rate, mamf-finder.py v4's MSMF on H200 (BF16 745, FP8 about 1337 TFLOP/s)
    ("a100-sxm-80gb", "bf16", 271 / 312), ("h100-sxm", "bf16", 745 / 989), ("h800", "fp8", 1337 / 1979),
    ("h200", "fp8", 1337 / 1979), ("h200", "bf16", 745 / 989), ("b200", "bf16", 1745 / 2250),
    ("b200", "fp8", 3433 / 4500), ("gb200", "bf16", 1822 / 2500), ("gb200", "fp8", 3616 / 5000),
    ("mi300x", "bf16", 708 / 1307), ("mi300x", "fp8", 1273 / 2615),
])
def test_gemm_ceilings_are_the_measured_maxima(preset, precision, ceiling):
    from qwenfeas.formulas.accelerators import gemm_ceiling

    assert gemm_ceiling(preset, precision) == pytest.approx(ceiling)


def test_an_unmeasured_accelerator_gets_the_estimated_ceiling():
    from qwenfeas.formulas.accelerators import gemm_ceiling

    assert gemm_ceiling("tpu-v5p", "bf16") == 0.75
    assert gemm_ceiling(None, "fp8") == 0.75
    assert gemm_ceiling("a100-sxm-80gb", "fp8") == 0.75  # no FP8 on Ampere: no measurement


def test_smallest_data_parallel_in_closed_form():
    from qwenfeas.formulas.training_memory import smallest_data_parallel

    # 100 GB sharded over d, 10 GB fixed, 30 GB usable: d >= 100 / 20 = 5, rounded up to a multiple of 4
    assert smallest_data_parallel(10e9, 100e9, 30e9, 4) == 8
    assert smallest_data_parallel(10e9, 100e9, 30e9, 1) == 5
    assert smallest_data_parallel(31e9, 100e9, 30e9, 1) == math.inf  # the fixed part alone overflows
    assert smallest_data_parallel(10e9, 0.0, 30e9, 1) == 1


def test_interleaving_with_one_virtual_stage_is_1f1b():
    # v = 1 (the default): (p - 1)/m and p micro-batches in flight
    assert PL.bubble_ratio(PL.INTERLEAVED, 16, 32) == 15 / 32
    assert PL.micro_batches_in_flight(PL.INTERLEAVED, 16, 32) == 16
    # v = 2 is the first interleaved warm-up: 16 + 15/2
    assert PL.micro_batches_in_flight(PL.INTERLEAVED, 16, 32, 2) == 16 + 15 / 2


def test_bf16_weights_halve_a_small_gemms_efficiency():
    # 2 B per weight: half the FLOPs per byte of FP8 (H100 BF16, 64 rows: 2 x 64 / 2 x 0.8 x 3.35 TB/s / 989 T)
    assert K.gemm_efficiency(64, 2.0, 989e12, 3.35e12, 0.803) == pytest.approx(64 * 0.8 * 3.35e12 / 989e12)


def test_logits_grow_with_the_micro_batch_and_moe_copies_with_the_dispatch_format():
    assert logits_bytes(4096, 2, 1000, 1) == 4096 * 2 * 1000 * 4
    s, h = 4096, 7168
    fp8 = activation_bytes_per_layer(s, 1, h, 128, 128 * 192, 128 * 128, 18432, True, 1, True, "modules", 8, 1.0, 1.0)
    bf16 = activation_bytes_per_layer(s, 1, h, 128, 128 * 192, 128 * 128, 18432, True, 1, True, "modules", 8, 1.0, 2.0)
    assert bf16 - fp8 == pytest.approx(s * h * 8 * (2 - 1))  # k = 8 copies, one more byte each
