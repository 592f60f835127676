"""Training, inference, test-time, power and cost estimates against hand arithmetic.

The small model below has round numbers so every expected value can be worked
out on paper: 2 layers, hidden 1024, 8 heads of 128, 8 KV heads (MHA), FFN 4096
(SwiGLU), vocab 1000, untied embeddings.
"""

from __future__ import annotations

import math

import pytest

SMALL = """
model: {layers: 2, hidden: 1024, heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2048
tokens: 1e9
hardware:
  count: 100
  peak_flops: 1000T
  memory: 80GB
  bandwidth: 2TB/s
  tdp: 500W
  mfu: 50%
datacenter: {pue: 1.25, overhead: 0.2, carbon: 0.5 kg/kWh, electricity: 0.1 $/kWh, gpu_hour: 2 $/h}
"""
LAYER = 1024 * 128 * (2 * 8 + 2 * 8) + 3 * 1024 * 4096 + 2 * 1024  # attention + FFN + norms
PARAMS = 2 * LAYER + 2 * 1000 * 1024 + 1024
MATMUL = PARAMS - 1000 * 1024  # the input embedding is a lookup
PER_KEY = 2 * 2 * 8 * (128 + 128)  # forward FLOPs per attended token: 2 * L * heads * (d_qk + d_v)
# Goodput of SMALL (searched layout DP100, ZeRO-1): a checkpoint writes the BF16 weights (2 B x PARAMS) and this
# accelerator's 1/100 of the FP32 master weights and Adam moments (12 B x PARAMS / 100) at Llama 3's 2 TB/s over
# 16,384 GPUs; failures at 419 per 16,384 GPUs x 54 days; restart 600 s; Young's interval tau = sqrt(2 C MTBF).
_CHECKPOINT = (2 * PARAMS + 12 * PARAMS / 100) / (2e12 / 16384)
_MTBF = 3600 / (100 * 419 / (16384 * 54 * 24))
_TAU = (2 * _CHECKPOINT * _MTBF) ** 0.5
GOODPUT = 1 / (1 + _CHECKPOINT / _TAU + (_TAU / 2 + 600) / _MTBF)  # 0.99885


def test_parameters_and_matmul_weights(run):
    report = run(SMALL)
    assert report["model.params"] == PARAMS
    assert report["model.matmul_params"] == MATMUL
    assert report["model.attention_flops_per_key"] == PER_KEY


def test_training_time_hours_energy_co2_and_cost_follow_their_definitions(run):
    r = run(SMALL)
    flops = 6 * MATMUL * 1e9
    seconds = flops / (100 * 1000e12 * 0.5)
    facility = 100 * 500 * (1 + 0.2) * 1.25
    kwh = facility * seconds / 3.6e6
    assert r["training.flops"] == pytest.approx(flops, rel=1e-12)
    assert r["training.seconds"] == pytest.approx(seconds, rel=1e-9)
    assert r["training.goodput"] == pytest.approx(GOODPUT, rel=1e-12)
    assert r["training.wall_clock_seconds"] == pytest.approx(seconds / GOODPUT, rel=1e-9)
    # published GPU-hours are reservation hours: the whole fleet for the wall-clock time
    assert r["training.gpu_hours"] == pytest.approx(100 * seconds / GOODPUT / 3600, rel=1e-9)
    assert r["power.facility_watts"] == pytest.approx(facility, rel=1e-9)
    assert r["power.it_watts"] == pytest.approx(100 * 500 * 1.2, rel=1e-9)
    assert r["training.energy_kwh"] == pytest.approx(kwh, rel=1e-9)
    assert r["training.co2_kg"] == pytest.approx(kwh * 0.5, rel=1e-9)
    assert r["training.cost_usd"] == pytest.approx(100 * seconds / GOODPUT / 3600 * 2, rel=1e-9)
    assert r["training.electricity_cost_usd"] == pytest.approx(kwh * 0.1, rel=1e-9)


@pytest.mark.parametrize(
    ("convention", "keys_per_token"),
    [("none", 0.0), ("causal", (2048 + 1) / 2), ("noncausal", 2048.0)],
)
def test_training_attention_term_follows_the_stated_convention(run, convention, keys_per_token):
    r = run(SMALL, f"training.attention_term={convention}")
    attention = 3 * PER_KEY * keys_per_token * 1e9
    assert r["training.attention_flops"] == pytest.approx(attention, rel=1e-12)
    if convention == "noncausal":
        # PaLM (Appendix B) writes it 12*L*H*Q*T per token, in its own symbols: L 2, H 8, Q 128, T 2048.
        assert r["training.attention_flops"] == pytest.approx(12 * 2 * 8 * 128 * 2048 * 1e9, rel=1e-12)
    assert r["training.flops"] == pytest.approx(6 * MATMUL * 1e9 + attention, rel=1e-12)


def test_full_recomputation_gives_8n_hardware_flops_and_leaves_model_flops(run):
    plain = run(SMALL)
    recomputed = run(SMALL, "training.recompute=full")
    assert recomputed["training.flops"] == plain["training.flops"]
    assert recomputed["training.hardware_flops"] == pytest.approx(8 * MATMUL * 1e9, rel=1e-12)
    assert recomputed["training.seconds"] == plain["training.seconds"]  # MFU counts model FLOPs


def test_prefill_and_decode_flops_with_causal_attention(run):
    r = run(SMALL)
    C = 2048
    P = C - 1  # the prompt: the context less the one output token decoded by default
    # Prefill: every token multiplies the weights; token i attends to i + 1 keys (itself included).
    assert r["inference.prefill_flops"] == pytest.approx(2 * MATMUL * P + PER_KEY * P * (P + 1) / 2, rel=1e-12)
    # One decoded token with C cached attends to C + 1 keys.
    assert r["inference.flops_per_token"] == pytest.approx(2 * MATMUL + PER_KEY * (C + 1), rel=1e-12)


def test_memory_and_the_fewest_accelerators_that_hold_it(run):
    r = run(SMALL, "precision.weights=fp8", "precision.kv_cache=fp4", "hardware.memory=1MB",
            "hardware.memory_reserve=20%")
    assert r["memory.weights_bytes"] == PARAMS * 1
    kv_sequence = 2 * 2 * 8 * 128 * (4 + 8 / 16) / 8 * 2048  # NVFP4: 4-bit values and an 8-bit scale per 16
    usable = 1e6 * (1 - 0.2)
    assert r["kv_cache.bytes_per_sequence"] == kv_sequence
    assert r["memory.min_accelerators"] == math.ceil((PARAMS + kv_sequence) / usable)
    assert r["kv_cache.accelerators_per_sequence"] == pytest.approx(kv_sequence / usable)


def test_moe_memory_counts_all_experts_and_a_token_touches_top_k(run):
    r = run("""
        model:
          layers: 4
          hidden: 512
          heads: 4
          vocab: 1000
          ffn_hidden: 2048
          moe: {experts: 16, top_k: 2, shared_experts: 1, expert_ffn_hidden: 256, dense_layers: 1}
        context: 1024
        hardware: {preset: h100-sxm}
    """)
    expert = 3 * 512 * 256
    attention_and_norms = 4 * (4 * 512 * 512 + 2 * 512)
    outer = 2 * 1000 * 512 + 512
    dense = 3 * 512 * 2048
    total = outer + attention_and_norms + dense + 3 * (512 * 16 + 16 * expert + expert)
    active = outer + attention_and_norms + dense + 3 * (512 * 16 + 2 * expert + expert)
    assert r["model.params"] == total
    assert r["model.active_params"] == active
    assert r["memory.routed_expert_bytes"] == 3 * 16 * expert * 2
    assert r["memory.active_weights_bytes"] == active * 2


def test_precision_compute_selects_the_preset_peak(run):
    text = "model: {preset: llama-2-70b}\ncontext: 4096\ntokens: 1T\nhardware: {preset: h100-sxm, count: 8, mfu: 0.4}\n"
    bf16 = run(text)
    fp8 = run(text, "precision.compute=fp8")
    # H100 SXM datasheet, dense: 989 TFLOP/s bf16, 1979 TFLOP/s fp8.
    assert bf16["training.seconds"] / fp8["training.seconds"] == pytest.approx(1979 / 989)


def test_serving_scenario_without_count_powers_one_replica(run):
    r = run("model: {preset: qwen3-235b-a22b}\ncontext: 128K\nhardware: {preset: h200}\n")
    # 470 GB of bf16 weights + 24.6 GB of cache over 141 GB H200s less vLLM's 10% reserve: 4 accelerators.
    assert r["memory.min_accelerators"] == 4
    assert r["power.accelerators"] == 4
    assert r["power.accelerator_watts"] == 4 * 700
    assert "training.flops" not in r.metrics


def test_training_attention_uses_the_training_sequence_not_the_serving_context(run):
    short = run(SMALL, "training.attention_term=causal", "training.sequence=512", "context=1M")
    assert short["training.attention_flops"] == pytest.approx(3 * PER_KEY * (512 + 1) / 2 * 1e9, rel=1e-12)


def test_attention_crossover_and_cache_only_accelerators(run):
    r = run(SMALL)
    # causal prefill: a (C + 1) / 2 = 2N
    crossover = 4 * MATMUL / PER_KEY - 1
    assert r["model.attention_crossover_tokens"] == pytest.approx(crossover, rel=1e-12)
    # at that length a causal prefill token spends on attention what it spends on the weights
    assert PER_KEY * (r["model.attention_crossover_tokens"] + 1) / 2 == pytest.approx(2 * MATMUL, rel=1e-12)
    big = run(SMALL, "context=100M")
    assert big["kv_cache.min_accelerators"] == math.ceil(2 * 2 * 8 * 128 * 2 * 100e6 / (80e9 * 0.9))


def test_a_hybrid_model_crosses_over_later_than_its_attention_only_twin(run):
    hybrid = run("model: {preset: qwen3-next-80b-a3b}\ncontext: 1M\nhardware: {preset: h200}\n")
    twin = run("model: {preset: qwen3-next-80b-a3b, linear_attention: null}\ncontext: 1M\nhardware: {preset: h200}\n")
    # 12 of 48 layers attend: a quarter of the per-key cost, four times the crossover (plus the -1)
    assert hybrid["model.attention_flops_per_key"] * 4 == twin["model.attention_flops_per_key"]
    assert hybrid["model.attention_crossover_tokens"] + 1 == pytest.approx(
        4 * (twin["model.attention_crossover_tokens"] + 1) * hybrid["model.matmul_params"] / twin["model.matmul_params"])


def test_sliding_window_training_attention_counts_both_kinds_of_layer(run):
    """gpt-oss-120b (config.json): 36 layers alternating full and 128-token sliding-window attention,
    64 query heads of 64. Each kind costs a = 2 x 18 x 64 x (64 + 64) = 294,912 FLOPs per key; a
    causal token of a 4,096-token sequence sees (4096 + 1)/2 keys on average in a full layer and
    (1 + ... + 128 + 128 x 3968)/4096 in a sliding one; 3 passes (forward, 2x backward) over 1T tokens."""
    r = run("model: {preset: gpt-oss-120b}\ncontext: 8192\ntokens: 1T\n"
            "training: {attention_term: causal, sequence: 4096}\nhardware: {preset: h100-sxm, count: 1024}\n")
    a = 2 * 18 * 64 * (64 + 64)
    full_keys = (4096 + 1) / 2
    window_keys = (128 * 129 / 2 + (4096 - 128) * 128) / 4096
    assert r["training.attention_flops"] == pytest.approx(3 * 1e12 * (a * full_keys + a * window_keys), rel=1e-12)


def test_mla_attention_work_uses_the_value_width_for_the_weighted_sum(run):
    """DeepSeek-V3: scores over d_nope + d_rope = 128 + 64 per head, the value sum over v_head_dim 128:
    2 x 61 layers x 128 heads x (192 + 128) = 4,997,120 FLOPs per attended key (not 2 x 61 x 128 x 384)."""
    r = run("model: {preset: deepseek-v3}\ncontext: 8192\nhardware: {preset: h100-sxm}\n")
    assert r["model.attention_flops_per_key"] == 2 * 61 * 128 * ((128 + 64) + 128)
