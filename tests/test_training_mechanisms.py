"""Mechanisms of the step model against hand arithmetic from their sources: the slowest pipeline stage,
tile and wave quantization, collective latency, the SMs overlapped collectives take, reservation hours."""

from __future__ import annotations

import pytest

from qwenfeas.formulas import accelerators as A
from qwenfeas.formulas import communication as C
from qwenfeas.formulas import kernel_efficiency as K
from qwenfeas.formulas import pipeline as PL
from qwenfeas.formulas import training_memory as TM
from qwenfeas.training import step_time as ST
from qwenfeas.training.step import reserved_hours

# --- the slowest pipeline stage (Megatron's uniform split) ----------------------------------------------


@pytest.mark.parametrize(("layers", "stages", "virtual", "expected"), [
    (61, 16, 1, 4),       # DeepSeek-V3: 61 layers on PP16, ceil(61/16) = 4 on the slowest stage
    (126, 8, 8, 16),      # Llama 3.1 405B PP8 VP8: 64 chunks of ceil(126/64) = 2 layers, 8 chunks per device
    (126, 16, 1, 8),      # Llama 3 405B PP16: ceil(7.875) = 8
    (96, 12, 1, 8),       # Nemotron-4 340B PP12: even, 96/12
    (61, 1, 2, 61),       # one stage holds every layer, whatever the chunks
])
def test_the_slowest_stage_holds_whole_chunks(layers, stages, virtual, expected):
    assert PL.slowest_stage_layers(layers, stages, virtual) == expected


def test_without_virtual_stages_a_stage_is_one_chunk():
    # 10 layers on 4 stages: ceil(10/4) = 3 (with 2 chunks per device it would be 2 x ceil(10/8) = 4)
    assert PL.slowest_stage_layers(10, 4) == 3


def test_the_slowest_stage_over_arrays():
    import numpy as np
    got = PL.slowest_stage_layers(61.0, np.array([1.0, 2.0, 16.0, 61.0]), np.array([1.0, 1.0, 1.0, 1.0]))
    assert list(got) == [61, 31, 4, 1]


# --- the first pipeline stage (Llama 3's short stages first and last) -----------------------------------


@pytest.mark.parametrize(("layers", "stages", "virtual", "expected"), [
    # Llama 3 405B, 126 layers on PP16 (Dubey et al. 2024, Tables 3-4; sec. 3.3.2 "we reduce one Transformer
    # layer each from the first and the last stages"): 16 x 8 = 128 slots, 2 short, one each: 7, not 7.875
    (126, 16, 1, 7),
    (126, 16, 4, 7),      # 64 chunks of 2: the first chunk holds 1, the device's other three 2 each
    (126, 8, 8, 15),      # 64 chunks of 2, 2 short: the first device holds 1 + 7 x 2 = 15 (even 15.75)
    (96, 12, 1, 8),       # Nemotron-4 340B PP12: no short stage, 96/12
    (61, 16, 1, 3),       # DeepSeek-V3: 64 slots, 3 short, floor(3/2) = 1 from the first: 3 (even 3.8125)
    (127, 16, 1, 127 / 16),  # one short stage: the last; the first keeps the even share
    (4, 8, 1, 0.5),       # more stages than layers: the first chunk would empty, the even share stays
    (6, 8, 1, 0.75),      # 8 slots, 2 short: giving one up would empty the first 1-layer chunk
    (61, 1, 2, 61),       # one stage holds every layer
])
def test_the_first_stage_gives_up_its_share_of_the_missing_layers(layers, stages, virtual, expected):
    assert PL.first_stage_layers(layers, stages, virtual) == pytest.approx(expected)


def test_without_virtual_stages_the_first_stage_is_one_chunk():
    # 10 layers on 4 stages: chunks of 3, 2 short, the first gives up 1: 2 (with 2 chunks per device, 8
    # chunks of 2 lack 6, which would empty the first chunk: the even 2.5)
    assert PL.first_stage_layers(10, 4) == 2
    assert PL.first_stage_layers(10, 4, 2) == 2.5


def test_the_first_stage_over_arrays():
    import numpy as np
    got = PL.first_stage_layers(126.0, np.array([1.0, 2.0, 16.0]), np.array([1.0, 1.0, 1.0]))
    assert list(got) == [126, 63, 7]  # 126 / 2 = 63 even: nothing short


def test_llama3_first_stage_memory_holds_seven_of_the_layers(run):
    # Llama 3 405B on PP16 (TP8, DP64, ZeRO-1): the first stage's BF16 weights are 7 of the 126 layers' weights
    # plus the 128,256 x 16,384 embedding, over TP8 (an even share would be 7.875; Table 3: 126 layers, hidden 16,384, 128 query and 8 KV
    # heads of 128, FFN 53,248, SwiGLU, untied)
    h, heads, kv, head, ffn, vocab = 16384, 128, 8, 128, 53248, 128256
    layer = h * head * (2 * heads + 2 * kv) + 3 * h * ffn + 2 * h
    r = run("model: {preset: llama-3.1-405b}\ncontext: 8192\ntokens: 15.6T\n"
            "training: {sequence: 8192, batch_tokens: 16777216, recompute: full}\n"
            "hardware: {preset: h100-sxm, count: 8192}\n"
            "parallel: {tensor: 8, pipeline: 16, context: 1, data: 64, zero: 1, schedule: 1f1b, micro_batch: 1}\n")
    # (the final RMSNorm's h weights ride with the layers: 7/126 of them)
    assert r["training_memory.weights_bytes"] == pytest.approx((7 * layer + 7 / 126 * h + vocab * h) * 2 / 8,
                                                               rel=1e-12)


# --- tile and wave quantization (NVIDIA "Matrix Multiplication Background", sec. 3) --------------------

def test_wave_quantization_of_a_tile_aligned_gemm_on_an_a100():
    # 4096 x 5120 output in 256 x 128 tiles: 16 x 40 = 640 tiles over 108 SMs -> 6 waves = 648 tile slots
    assert K.quantization_efficiency(4096, 5120, 108) == pytest.approx(640 / 648)


def test_tile_quantization_of_a_ragged_gemm():
    # 1000 rows need ceil(1000/256) = 4 tiles of 256 (1024 rows), one column tile: 4 tiles, one wave of 108
    assert K.quantization_efficiency(1000, 128, 108) == pytest.approx(1000 * 128 / (108 * 256 * 128))


def test_a_grouped_gemm_launches_the_tiles_of_all_its_experts_at_once():
    # 16 local experts x (512 x 768): 2 x 6 = 12 tiles each, 192 tiles over 132 SMs -> 2 waves = 264 slots
    assert K.quantization_efficiency(512, 768, 132, groups=16) == pytest.approx(192 / 264)


def test_no_sm_count_no_quantization():
    assert K.quantization_efficiency(1000, 100, None) == 1.0


def test_a_layer_weighs_its_three_gemms_by_their_flops():
    # one 4096 x 2048 weight (a = 4096 inputs, b = 2048 outputs), 1024 tokens, 132 SMs:
    # forward 1024 x 2048 -> 4 x 16 = 64 tiles (one wave: 64/132); input gradient 1024 x 4096 -> 128 tiles
    # (128/132); weight gradient 4096 x 2048 -> 16 x 16 = 256 tiles (two waves: 256/264). Equal FLOPs each.
    e = (64 / 132, 128 / 132, 256 / 264)
    expected = 3 / sum(1 / x for x in e)
    assert K.layer_quantization(1024, ((4096, 2048, 1.0),), 132) == pytest.approx(expected)


def test_a_missing_weight_counts_for_nothing():
    alone = K.layer_quantization(1024, ((4096, 2048, 1.0),), 132)
    assert K.layer_quantization(1024, ((4096, 2048, 1.0), (4096, 0.0, 5.0)), 132) == pytest.approx(alone)


# --- collective latency (NCCL's tuning model: 8.4 us base, 0.6 us per NVLink step, 5 us per network step)

def test_a_ring_over_two_nodes():
    # 16 ranks on 2 nodes: 14 steps inside, 1 across
    assert C.ring_steps(16, 2) == (14, 1)
    assert C.collective_latency(14, 1) == pytest.approx(8.4e-6 + 14 * 0.6e-6 + 5e-6)


def test_an_8_gpu_all_reduce_is_of_the_measured_order():
    # two ring passes of 7 NVLink steps: 8.4 + 14 x 0.6 = 16.8 us; measured ~34 us on DGX A100 with the
    # LL protocol and one channel (nccl-tests issue #123): same order, not the same protocol
    assert C.collective_latency(14, 0) == pytest.approx(16.8e-6)


def test_full_recompute_replays_the_forward_tensor_parallel_collectives():
    # Megatron: 2 all-reduces forward, 2 backward per layer; replaying the forward adds 2: 6/4
    assert ST.tp_replay_factor(True) == pytest.approx((2 * 2 + 2) / (2 + 2))
    assert ST.tp_replay_factor(False) == 1.0


# --- SMs of the accelerators and the share overlapped communication takes -------------------------------

@pytest.mark.parametrize(("preset", "sms"), [("a100-sxm-80gb", 108), ("h100-sxm", 132), ("h800", 132),
                                             ("b200", 148), ("gb300", 160), ("mi300x", 304), ("tpu-v5p", None)])
def test_sm_counts_from_the_architecture_documents(preset, sms):
    assert A.streaming_multiprocessors(preset) == sms


def test_collective_sm_share():
    assert A.sm_share("h100-sxm", 16) == pytest.approx(16 / 132)  # Megatron nccl_ub docstring: NVL+IB 16
    assert A.sm_share("b200", 20) == pytest.approx(20 / 148)
    assert A.sm_share("tpu-v5p", 16) == pytest.approx(16 / 132)  # no SM count: the H100 reference


def _layout(**degrees):
    """A stated layout: one stage, 1F1B, micro-batch 1, ZeRO-1, selective recompute, the given degrees."""
    base = {"tensor": 1.0, "pipeline": 1.0, "data": 1.0, "expert": 1.0, "context": 1.0, "micro_batch": 1.0,
            "virtual_stages": 1.0, "schedule": 0.0, "zero": 1.0, "recompute": 1.0}
    return {**base, **{key: float(value) for key, value in degrees.items()}}


def _with_and_without_overlap_slowdown(text, run, **degrees):
    """The step of a stated layout with the compute that overlapped collectives slow, and without."""
    work = run(text).training_work
    layout = _layout(**degrees)
    taxed = ST.evaluate(work, layout)
    work.overlap_slowdown = 0.0
    return taxed, ST.evaluate(work, layout)


# Lee et al. 2025 (arXiv 2507.03114): compute overlapped with communication runs 18.9% slower on average;
# over a hidden collective of c seconds it gets through c / 1.189 of its work, leaving c x 0.189 / 1.189
SLOWED = 0.189 / 1.189


DP = """
model: {layers: 8, hidden: 4096, heads: 32, ffn_hidden: 16384, vocab: 32000}
context: 4096
tokens: 1T
training: {sequence: 4096, batch_tokens: 4M, recompute: selective}
hardware: {preset: h100-sxm, count: 32}
parallel: {tensor: 1, pipeline: 1, data: 32, zero: 1, micro_batch: 1, schedule: 1f1b}
"""


def test_hidden_data_parallel_traffic_slows_the_compute_under_it(run):
    taxed, free = _with_and_without_overlap_slowdown(DP, run, data=32)
    # one stage, no tensor/expert/context groups: what is exposed is the data-parallel last bucket, so the
    # hidden traffic is data - exposed; the compute under it runs 18.9% slower while it runs
    hidden = taxed["data_seconds"] - taxed["exposed_seconds"]
    assert hidden > 0
    assert taxed["step_seconds"] - free["step_seconds"] == pytest.approx(hidden * SLOWED, rel=1e-9)


def test_overlap_slowdown_by_hand():
    assert C.OVERLAP_COMPUTE_SLOWDOWN == 0.189
    assert C.overlap_slowdown_seconds(2.0) == pytest.approx(2.0 * 0.189 / 1.189)
    assert C.overlap_slowdown_seconds(1.0, 0.4) == pytest.approx(0.4 / 1.4)  # the paper's maximum, 40%


def test_reserved_hours_are_the_fleet_for_the_wall_clock():
    # DeepSeek-V3: 2,048 H800 for 3.7 days per trillion tokens = 181,862 GPU-hours (report: 180K)
    assert reserved_hours(2048, 3.7 * 86400) == pytest.approx(2048 * 3.7 * 24)


TP = """
model: {layers: 8, hidden: 4096, heads: 32, ffn_hidden: 16384, vocab: 32000}
context: 4096
tokens: 1T
training: {sequence: 4096, batch_tokens: 1048576, recompute: selective}
hardware: {preset: h100-sxm, count: 8}
parallel: {tensor: 8, pipeline: 1, data: 1, zero: 1, micro_batch: 1, schedule: 1f1b, tp_overlap: true}
"""


def test_overlapped_tensor_parallel_collectives_slow_the_compute_under_them(run):
    taxed, free = _with_and_without_overlap_slowdown(TP, run, tensor=8)
    m = free["micro_batches"]  # 1,048,576 tokens / 4,096 = 256 sequences on one replica
    assert m == 256
    tp, busy = free["tensor_seconds"] / m, free["compute_seconds"] / m
    # the compute under the (hidden) collectives runs 18.9% slower while they run, at most the compute
    assert taxed["step_seconds"] - free["step_seconds"] == pytest.approx(m * min(tp, busy) * SLOWED, rel=1e-9)
    assert taxed["exposed_seconds"] == free["exposed_seconds"] == 0


def test_tensor_parallel_all_reduces_without_sequence_parallelism_by_hand(run):
    r = run(TP.replace("tp_overlap: true", "sequence_parallel: false"))
    work = r.training_work
    layout = _layout(tensor=8)
    result = ST.evaluate(work, layout)
    # per micro-batch and layer, 4 ring all-reduces (2 forward, 2 backward) of 4,096 tokens x 4,096 x 2 B,
    # ring share 2 x 7/8, at NCCL's 370 of 450 GB/s; each all-reduce one 8.4 us start and 2 x 7 NVLink steps
    per_micro = 8 * 4 * (4096 * 4096 * 2 * (2 * 7 / 8) / 370e9 + 8.4e-6 + 14 * 0.6e-6)
    assert result["tensor_seconds"] == pytest.approx(256 * per_micro, rel=1e-9)


def test_micro_batches_per_step_follow_the_micro_batch_size(run):
    r = run(TP)
    layout = _layout(tensor=8, micro_batch=2)
    assert ST.evaluate(r.training_work, layout)["micro_batches"] == 1048576 / (4096 * 2)


MOE = """
model: {layers: 4, hidden: 2048, heads: 16, ffn_hidden: 8192, vocab: 32000,
        moe: {experts: 64, top_k: 4, expert_ffn_hidden: 1024}}
context: 4096
tokens: 1T
training: {sequence: 4096, batch_tokens: 1048576, recompute: selective}
hardware: {preset: h100-sxm, count: 8}
parallel: {tensor: 1, pipeline: 1, data: 8, expert: 8, zero: 1, micro_batch: 1, schedule: 1f1b}
"""


def test_overlapped_all_to_alls_take_20_of_132_sms_and_hide_under_compute(run):
    r = run(MOE)
    work = r.training_work
    work.overlap_slowdown = 0.0  # leave the data-parallel slowdown out of the comparison
    layout = _layout(data=8, expert=8)
    exposed = ST.evaluate(work, layout)
    work.ep_overlap = True
    hidden = ST.evaluate(work, layout)
    m = exposed["micro_batches"]  # 256 sequences over 8 replicas
    assert m == 32
    busy = exposed["compute_seconds"] / m / (1 - 20 / 132)  # DeepSeek-V3 sec. 3.2.2: 20 of 132 SMs
    ep = exposed["expert_seconds"] / m
    assert hidden["compute_seconds"] == pytest.approx(m * busy, rel=1e-12)
    # each pass's half of the all-to-alls beyond the paired pass's (slowed) compute stays exposed:
    # the forward's under the backward's 2/3 of it, the backward's under the forward's 1/3 (selective)
    paired = max(ep / 2 - busy / 3, 0) + max(ep / 2 - 2 * busy / 3, 0)
    assert hidden["exposed_seconds"] - exposed["exposed_seconds"] == pytest.approx(m * (paired - ep), rel=1e-9)


def test_overlapped_all_to_alls_beyond_the_forward_stay_exposed(run):
    work = run(MOE).training_work
    work.overlap_slowdown = 0.0
    layout = _layout(data=8, expert=8)
    first = ST.evaluate(work, layout)
    # slow the link until the all-to-alls take about as long as the compute (their bytes scale with 1/BW)
    work.up = work.out = work.up * first["expert_seconds"] / first["compute_seconds"]
    exposed = ST.evaluate(work, layout)
    work.ep_overlap = True
    hidden = ST.evaluate(work, layout)
    m = exposed["micro_batches"]
    busy = exposed["compute_seconds"] / m / (1 - 20 / 132)
    ep = exposed["expert_seconds"] / m
    # the backward's all-to-alls outlast the forward they hide under, the forward's do not
    assert busy / 3 < ep / 2 < 2 * busy / 3
    paired = max(ep / 2 - busy / 3, 0) + max(ep / 2 - 2 * busy / 3, 0)
    assert paired > max(ep - busy, 0)  # more than a perfect overlap of the sums would leave
    assert hidden["exposed_seconds"] - exposed["exposed_seconds"] == pytest.approx(m * (paired - ep), rel=1e-9)
    # full recompute: the forward runs 1 of the 4 GEMM passes, the replay runs with the backward
    full = {**layout, "recompute": float(TM.FULL)}
    hidden = ST.evaluate(work, full)
    work.ep_overlap = False
    exposed = ST.evaluate(work, full)
    busy = exposed["compute_seconds"] / m / (1 - 20 / 132)
    ep = exposed["expert_seconds"] / m
    paired = max(ep / 2 - busy / 4, 0) + max(ep / 2 - 3 * busy / 4, 0)
    assert hidden["exposed_seconds"] - exposed["exposed_seconds"] == pytest.approx(m * (paired - ep), rel=1e-9)


def test_overlapped_tensor_collectives_on_a_b200_at_most_the_compute(run):
    taxed, free = _with_and_without_overlap_slowdown(TP.replace("h100-sxm", "b200"), run, tensor=8)
    m = free["micro_batches"]
    tp, busy = free["tensor_seconds"] / m, free["compute_seconds"] / m
    assert taxed["step_seconds"] - free["step_seconds"] == pytest.approx(m * min(tp, busy) * SLOWED, rel=1e-9)


def test_fewer_sequences_than_replicas_run_one_micro_batch(run):
    # 4 sequences over 8 replicas: half the replicas idle, the others run one micro-batch (not a half)
    work = run(DP).training_work
    work.batch_tokens = 4 * 4096
    assert ST.evaluate(work, _layout(data=8))["micro_batches"] == 1


def test_interleaving_puts_whole_chunks_on_the_slowest_stage(run):
    # 10 layers: one stage holds 10, two stages 5 each, two stages of 4 chunks each ceil(10/8) = 2 x 4 = 8.
    # The LM head H is the same in all three, so GEMM time reads 10x + H, 5x + H, 8x + H.
    work = run(TP.replace("layers: 8", "layers: 10")).training_work
    one = ST.evaluate(work, _layout(tensor=8))["gemm_seconds"]
    two = ST.evaluate(work, _layout(tensor=8, pipeline=2))["gemm_seconds"]
    chunks = ST.evaluate(work, _layout(tensor=8, pipeline=2, schedule=1, virtual_stages=4))["gemm_seconds"]
    assert (chunks - two) / (one - two) == pytest.approx(3 / 5, rel=1e-12)


def test_expert_tensor_parallelism_gathers_the_routed_copies_only_when_it_splits_experts(run):
    text = MOE.replace("tensor: 1,", "tensor: 2,").replace("data: 8,", "data: 4,").replace("expert: 8,", "expert: 4,")
    layout = _layout(tensor=2, data=4, expert=4)

    def tensor(extra):
        return ST.evaluate(run(text.replace("schedule: 1f1b", "schedule: 1f1b" + extra)).training_work,
                           layout)["tensor_seconds"]
    whole = tensor("")
    assert tensor(", expert_tensor: 1") == pytest.approx(whole, rel=1e-12)  # whole experts: nothing more
    assert tensor(", expert_tensor: 2") > whole * 1.01  # split experts: k copies gathered and scattered


def test_context_parallel_ring_hides_under_attention_unless_told_not_to(run):
    text = TP.replace("context: 4096", "context: 8192").replace("sequence: 4096", "sequence: 8192").replace(
        "tensor: 8, pipeline: 1", "tensor: 4, context: 2, pipeline: 1").replace(", tp_overlap: true", "")
    layout = _layout(tensor=4, context=2)
    ring = ST.evaluate(run(text).training_work, layout)
    exposed = ST.evaluate(run(text.replace("schedule: 1f1b", "schedule: 1f1b, cp_overlap: false")).training_work,
                          layout)
    m = ring["micro_batches"]
    cp, attention = ring["context_seconds"] / m, ring["attention_seconds"]
    # overlapped: only the ring time beyond the attention kernels it runs beside is exposed
    assert exposed["exposed_seconds"] - ring["exposed_seconds"] == pytest.approx(
        m * (cp - max(cp - attention, 0.0)), rel=1e-9)
    assert cp > 0


MLA = """
model: {layers: 2, hidden: 1024, heads: 8, head_dim: 64, ffn_hidden: 4096, vocab: 1000,
        attention: {kind: mla, kv_lora_rank: 256, q_lora_rank: 384, rope_head_dim: 32, v_head_dim: 64}}
context: 2048
tokens: 1e9
training: {batch_tokens: 8192, recompute: %s}
hardware: {count: 2, peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W}
parallel: {tensor: 2, zero: 1, micro_batch: 1, schedule: 1f1b}
"""


def test_modules_recompute_replays_mla_up_projections_by_hand(run):
    selective, modules = run(MLA % "selective"), run(MLA % "modules")
    # MLA up-projections: q_lora x heads x (head_dim + rope) + kv_lora x heads x (head_dim + v_head_dim)
    up = 384 * 8 * (64 + 32) + 256 * 8 * (64 + 64)
    # replayed forward: 2 T FLOPs per weight, 2 layers on the stage, split over TP2, at the unmeasured
    # ceiling 0.75 of 1 PFLOP/s less the output write of its K = 13,312 best shape at 1 PFLOP/s / (0.8 x 2 TB/s)
    # = 625 FLOP/B (no preset: no SM count, no quantization); 4 micro-batches of 2,048 tokens
    replay = 4 * 2 * 2048 * up * 2 / 2 / (1e15 / (1 / 0.75 - 625 * 2 / (2 * 13312)))
    difference = modules["training.step_seconds"] - selective["training.step_seconds"]
    gemm = 4 * (ST.evaluate(modules.training_work, _layout(tensor=2, recompute=2))["gemm_seconds"]
                - ST.evaluate(selective.training_work, _layout(tensor=2))["gemm_seconds"])
    assert gemm == pytest.approx(replay, rel=1e-9)
    assert difference > 0


def test_full_recompute_replays_every_forward_gemm_but_the_lm_head(run):
    work = run(MOE).training_work
    layout = _layout(data=8, expert=8)
    selective = ST.evaluate(work, layout)["gemm_seconds"]
    full = ST.evaluate(work, {**layout, "recompute": 3.0})["gemm_seconds"]
    # the LM head by hand: 6 T V h FLOPs in BF16 on an H100 at its sustained 745/989 ceiling times the quantization
    # of its three GEMMs (4,096 tokens, h = 2,048, V = 32,000; 256 x 128 tiles on 132 SMs): forward
    # 16 x 250 = 4,000 tiles in 31 waves, input gradient 16 x 16 = 256 in 2, weight gradient 8 x 250 = 2,000 in 16
    quantization = 3 / (4092 / 4000 + 264 / 256 + 2112 / 2000)
    # the ceiling less its measured shape's output write (MSMF 1536 x 2816 x 6144: K = 6,144, 989 TFLOP/s over
    # 0.8 x 3.35 TB/s per byte),
    # then the head's own writes: T x V and T x h in BF16, the h x V gradient in FP32
    ridge = 989e12 / (0.8 * 3.35e12)
    main = 1 / (989 / 745 - ridge * 2 / (2 * 6144))
    written = 2 * 4096 * (2048 + 32000) + 4 * 2048 * 32000
    head = 6 * 4096 * 32000 * 2048 / (989e12 * main * quantization) + written / (0.8 * 3.35e12)
    # every other GEMM (dense and expert) runs its forward once more: 8/6 of its time
    assert full - head == pytest.approx((selective - head) * 8 / 6, rel=1e-9)


def test_short_sequences_stream_their_weights_by_hand(run):
    """256-token micro-batches on 1 PFLOP/s with 2 TB/s: every GEMM, the BF16 LM head too, is held to its weight
    stream, 2 x 256 / 2 B x 0.8 x 2 TB/s = 0.4096 PFLOP/s, below the 0.75 ceiling (roofline)."""
    from test_training_step import ONE, PARAMS, TABLE
    r = run(ONE.replace("context: 2048", "context: 256") % "")
    efficiency = 2 * 256 / 2 * 0.8 * 2e12 / 1e15
    layers, head = 6 * 256 * (PARAMS - 2 * TABLE), 6 * 256 * TABLE
    # and each GEMM writes its output after its main loop: activations and input gradients in BF16, the FP32
    # weight gradient (QKV 1024 x 3072, O 1024 x 1024, gate and up 1024 x 8192, down 4096 x 1024), per FLOP of their GEMMs
    weights = ((1024, 3072), (1024, 1024), (1024, 8192), (4096, 1024))
    per_flop = sum(2 * 256 * (a + b) + 4 * a * b for a, b in weights) / sum(6 * 256 * a * b for a, b in weights)
    head_per_flop = (2 * 256 * (1024 + 1000) + 4 * 1024 * 1000) / (6 * 256 * 1024 * 1000)
    written = layers * per_flop + head * head_per_flop
    gemm = ST.evaluate(r.training_work, _layout())["gemm_seconds"]
    assert gemm == pytest.approx((layers + head) / (1e15 * efficiency) + written / (0.8 * 2e12), rel=1e-12)


# --- GEMM output writes: the epilogue after each tile's main loop -----------------------------------------

def test_intrinsic_ceiling_reproduces_deepgemm_falling_with_depth():
    # DeepGEMM FP8 on an H800 (1979 TFLOP/s, 3.35 TB/s), M = 4096 (README @ a9967bc): 1520 TFLOP/s at
    # N x K = 7168 x 16384 taken as the ceiling at its depth; writing BF16 outputs at 0.8 x 3.35 TB/s costs
    # 1979e12 / 2.68e12 = 738.4 FLOP per byte, b_out / (2K) bytes per FLOP
    ridge = 1979e12 / (0.8 * 3.35e12)
    main = K.intrinsic_ceiling(1520 / 1979, 1979e12, 3.35e12, reference_depth=16384)
    assert 1 / main == pytest.approx(1979 / 1520 - ridge * 2 / (2 * 16384), rel=1e-12)

    def rate(depth):  # TFLOP/s of one M x N x K GEMM: main loop, then the 2 M N bytes of output
        return 1979 / (1 / main + ridge * 2 / (2 * depth))
    assert rate(16384) == pytest.approx(1520, rel=1e-12)
    assert rate(2048) == pytest.approx(1223.5, rel=1e-3)  # measured 1168 (N 7168)
    assert rate(512) == pytest.approx(733.0, rel=1e-3)  # measured 775 (N 32768)
    assert abs(rate(2048) / 1168 - 1) < 0.06 and abs(rate(512) / 775 - 1) < 0.06


def test_output_bytes_per_flop_of_a_layer_by_hand():
    # one 4096 x 2048 weight, 1024 tokens: forward writes 1024 x 2048, input gradient 1024 x 4096 (BF16),
    # the FP32 weight gradient 4096 x 2048; three GEMMs of 2 x 1024 x 4096 x 2048 FLOPs
    written = 2 * 1024 * 2048 + 2 * 1024 * 4096 + 4 * 4096 * 2048
    assert K.layer_output_bytes_per_flop(1024, ((4096, 2048, 1.0),)) == pytest.approx(
        written / (3 * 2 * 1024 * 4096 * 2048), rel=1e-12)
    # copies weigh both sums alike; an absent weight (size 0) adds nothing
    assert K.layer_output_bytes_per_flop(1024, ((4096, 2048, 3.0), (4096, 0.0, 5.0))) == pytest.approx(
        written / (6 * 1024 * 4096 * 2048), rel=1e-12)
    # a 1 x 1 weight is still a weight: 2 x 1024 x (1 + 1) + 4 bytes over 6 x 1024 FLOPs
    assert K.layer_output_bytes_per_flop(1024, ((1.0, 1.0, 1.0),)) == pytest.approx((4096 + 4) / 6144, rel=1e-12)
    # FP8 activations (1 B) and BF16 gradients (2 B) halve every write
    assert K.layer_output_bytes_per_flop(1024, ((4096, 2048, 1.0),), 1.0, 2.0) == pytest.approx(
        written / 2 / (6 * 1024 * 4096 * 2048), rel=1e-12)


def test_ceilings_are_taken_at_the_depth_of_their_best_shape():
    # stas00/ml-engineering table: A100 best 1024 x 10240 x 5120 (M x N x K), H100's burst maximum
    # 2048 x 2048 x 13312; Hopper's sustained (MSMF) shapes: BF16 1536 x 2816 x 6144 with a BF16 output, FP8
    # 1536 x 2816 at K = 10240 with an FP8 output (1 B)
    assert A.ceiling_shape("a100-sxm-80gb", "bf16") == (5120, 2)
    assert A.ceiling_shape("h100-sxm", "bf16") == A.ceiling_shape("h200", "fp16") == (6144, 2)
    assert A.ceiling_shape("h800", "fp8") == A.ceiling_shape("h100-sxm", "int8") == (10240, 1)
    assert A.ceiling_shape("a100-sxm-80gb", "fp8") == (5120, 2)  # no low-precision shape: the BF16 one
    assert A.ceiling_shape("b200", "fp8") == (13312, 2)  # best shape not listed: the H100 burst depth
    assert A.ceiling_shape("tpu-v5p", "bf16") == (13312, 2)


def test_attention_time_on_a_b200_by_hand(run):
    text = TP.replace("h100-sxm", "b200").replace("tensor: 8,", "tensor: 1,").replace("count: 8", "count: 1")
    r = run(text)
    work = r.training_work
    result = ST.evaluate(work, _layout())
    # 8 layers of causal attention at 4,096 tokens: QK^T and PV, 2 x 2 FLOPs per key and head dimension, 32
    # heads of 128, (4096 + 1)/2 keys on average; the kernel runs cuDNN 9.13.1's B200 bars at 4k
    # (NVIDIA/cudnn-frontend @ bb37575): forward 856 TFLOP/s (twice: the layout's selective recompute
    # replays it), backward twice the FLOPs at 701 TFLOP/s counted at 2.5x the forward, so 701 x 2 / 2.5
    forward = 8 * 2 * 2 * 4096 * (4096 + 1) / 2 * 4096
    expected = 2 * forward / 856e12 + 2 * forward / (701e12 * 2 / 2.5)
    assert result["attention_seconds"] == pytest.approx(expected, rel=1e-9)


def test_weight_gradients_write_at_the_gradient_precision(run):
    """BF16 gradients (2 B) instead of FP32 (4 B): each weight's gradient write shrinks by 2 B per element, on
    the layers and the LM head alike, 2 x (all matmul weights) bytes less per micro-batch at 0.8 x 2 TB/s."""
    from test_training_step import ONE, PARAMS, TABLE
    fp32 = ST.evaluate(run(ONE % "").training_work, _layout())["gemm_seconds"]
    bf16 = ST.evaluate(run(ONE.replace("recompute: selective", "recompute: selective, grad_bytes: 2")
                           % "").training_work, _layout())["gemm_seconds"]
    assert fp32 - bf16 == pytest.approx(2 * (PARAMS - TABLE) / (0.8 * 2e12), rel=1e-9)
