"""Communication per link class when the cluster spans several scale-up domains: the traffic inside a
domain is timed on its link even when the scale-out bandwidth is unknown, and TPU data parallelism over
slices runs in two levels (in-slice on ICI, between slices on the data-centre network). Hand arithmetic."""

from __future__ import annotations

import pytest
from test_communication import BASE, HOP_OUT, HOP_UP, SCENARIO, STEPS, UP

from qwenfeas.formulas.communication import data_parallel_bytes, hierarchical_data_parallel_bytes

# PaLM 540B (Chowdhery et al. 2022, Table 1: 540.35B parameters; sec. 4: 12-way model parallelism and
# 256-way sharded data parallelism in each 3,072-chip pod, two pods, 4 chips per host)
PALM_PARAMS = 540.35e9


def test_palm_cross_pod_gradients_match_the_paper_per_host():
    # sec. 4: "each pair of hosts exchange approximately 1.3 GB of gradients in every training step".
    # A chip's model-parallel share is P / 12; in the pod its 256 replicas reduce-scatter the bf16
    # gradients, leaving P / 12 / 256 = P / 3,072 on the chip; the two pods then all-reduce that shard,
    # ring share 2 (2 - 1) / 2 = 1: P / 3,072 x 2 B per chip, 4 chips per host.
    share = PALM_PARAMS / 12
    inside, between = hierarchical_data_parallel_bytes(share, 2.0, 2.0, 512, 256, 0)
    assert between == pytest.approx(PALM_PARAMS / 3072 * 2, rel=1e-12)
    assert 4 * between / 2**30 == pytest.approx(1.31, abs=0.005)  # 1.41e9 B per host = 1.31 GiB: "1.3 GB"
    # in the pod: a reduce-scatter and an all-gather of the whole share over 256, 2 x 255/256 of it
    assert inside == pytest.approx(2 * share * 2 * 255 / 256, rel=1e-12)


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_one_level_when_the_group_is_all_inside_or_all_outside(stage):
    # g_in = g: every member in the accelerator's own domain, nothing crosses; g_in = 1: the flat
    # collective crosses (Rajbhandari et al. 2020 sec. 7 stage volumes, ring share (g - 1)/g)
    flat = data_parallel_bytes(1e9, 4.0, 2.0, 1.0, 64, stage, 5.0)
    assert hierarchical_data_parallel_bytes(1e9, 4.0, 2.0, 64, 64, stage, 5.0) == (pytest.approx(flat), 0.0)
    assert hierarchical_data_parallel_bytes(1e9, 4.0, 2.0, 64, 1, stage, 5.0) == (0.0, pytest.approx(flat))


def test_zero3_gathers_cross_between_domains_once_per_micro_batch():
    # ZeRO-3 over 16 = 4 domains x 4: per micro-batch the weights are gathered twice and the gradients
    # reduce-scattered once, at both levels: inside m P (b_g + 2 b_w) 3/4, between m (P/4) (b_g + 2 b_w) 3/4
    inside, between = hierarchical_data_parallel_bytes(1e9, 4.0, 2.0, 16, 4, 3, 3.0)
    assert inside == pytest.approx(3 * 1e9 * 8 * 3 / 4, rel=1e-12)
    assert between == pytest.approx(3 * 1e9 / 4 * 8 * 3 / 4, rel=1e-12)
    # one micro-batch unless told: a third of that
    assert hierarchical_data_parallel_bytes(1e9, 4.0, 2.0, 16, 4, 3) == (pytest.approx(inside / 3),
                                                                          pytest.approx(between / 3))


def test_without_a_scale_out_bandwidth_the_traffic_inside_a_domain_is_still_timed(run):
    # the test_communication cluster (TP4 PP2 DP8 on 8-GPU domains) without its network figure
    r = run(SCENARIO.replace("  scale_out_bandwidth: 400Gb/s\n", "") % ("", 1))
    # TP4 stays in its 8-way domain: the same NVLink time as with the network known
    # (test_communication.test_dense_tensor_and_data_parallel_traffic)
    tokens = 1e9 / 8
    tensor = 4 * (4 / 2) * tokens * 1024 * 2 * (2 * 3 / 4) / UP + STEPS * (1e6 / 2048 / 8) * 2 * 8 * (BASE + 3 * HOP_UP)
    assert r["communication.tensor_seconds"] == pytest.approx(tensor, rel=1e-12)
    # the data-parallel ring crosses domains: its bytes are not timed (latency only) and the note
    # gives them: ZeRO-1, fp32 gradients and bf16 weights of the stage's share over 8 replicas
    tables = 1000 * 1024
    share = ((r["model.params"] - 2 * tables) / 2 + tables) / 4
    assert r["communication.data_seconds"] == pytest.approx(1000 * 2 * 2 * (BASE + 4 * HOP_UP + 3 * HOP_OUT),
                                                            rel=1e-12)
    note = next(n for n in r.notes if "between scale-up domains is not estimated" in n)
    assert f"data-parallel {share * (4 + 2) * 7 / 8 / 1e9:,.3g} GB" in note
    assert "tensor-parallel" not in note  # TP stays inside its domain
    # the pipeline's sends cross too (stages are 32 ranks apart): per step the replica's 1M / 8 tokens'
    # activations forward and gradients backward, 2 B each, the rank's 1/4 slice (Narayanan et al. 2021)
    assert f"pipeline {2 * 1e6 / 8 * 1024 * 2 / 4 / 1e9:,.3g} GB" in note
    assert "not estimated" in r.metrics["communication.scale_out_seconds"].label


def test_without_a_scale_out_bandwidth_the_expert_copies_that_leave_the_node_are_reported(run):
    # EP4 x TP4 = 16 ranks over two 8-way nodes: of k = 2 copies, k (1 - 2/4) = 1 crosses the network
    # (test_communication.test_expert_all_to_all_leaves_the_node_when_the_group_is_bigger_than_it);
    # per step the replica's 1M / 8 tokens over the tensor group, dispatch + combine at 2 + 2 B,
    # forward and backward, 2 MoE layers on the stage
    moe = ", moe: {experts: 16, top_k: 2, expert_ffn_hidden: 512}"
    r = run(SCENARIO.replace("  scale_out_bandwidth: 400Gb/s\n", "") % (moe, 4))
    note = next(n for n in r.notes if "between scale-up domains is not estimated" in n)
    assert f"expert all-to-all {2 * 2 * 1e6 / 8 / 4 * 1 * 1024 * (2 + 2) / 1e9:,.3g} GB" in note


def test_without_a_scale_out_bandwidth_the_context_ring_that_leaves_the_node_is_reported(run):
    # TP4 x CP4 = 16 ranks over two 8-way nodes, DP 64 / (4 x 2 x 4) = 2: each rank's K and V visit the
    # 3 others forward, and K, V and their gradients backward (3 (c - 1) sends); per step the replica's
    # 1M / 2 tokens over 4 context ranks, 2 layers on the stage, K and V of 8 heads x 128 at 2 B over t = 4
    text = SCENARIO.replace("  scale_out_bandwidth: 400Gb/s\n", "").replace("expert: %d}", "expert: %d, context: 4}")
    note = next(n for n in run(text % ("", 1)).notes if "between scale-up domains is not estimated" in n)
    assert f"context-parallel {3 * 2 * 1e6 / 2 / 4 * (2 * 1024 * 2 / 4) * 3 / 1e9:,.3g} GB" in note
    # TP2 x CP4 = 8 ranks: the ring stays in the node, timed, not reported
    inside = run(text.replace("tensor: 4", "tensor: 2") % ("", 1))
    assert not any("context-parallel" in n for n in inside.notes)


TPU = """
model: {layers: 4, hidden: 1024, heads: 8, ffn_hidden: 4096, vocab: 1000}
context: 2048
tokens: 1e9
training: {batch_tokens: 1M}
parallel: {tensor: 4, pipeline: 1, data: 32, zero: 1, micro_batch: 1}
hardware: {preset: %s, count: 128, scale_up_size: 64, scale_out_bandwidth: 100Gb/s}
"""


def test_tpu_data_parallelism_runs_in_two_levels_over_slices(run):
    # TP4 DP32 on two 64-chip slices: 16 replicas per slice reduce-scatter and all-gather over ICI
    # (ZeRO-1: fp32 gradients and bf16 weights, (g_in - 1)/g_in = 15/16), and the two slices exchange
    # the 1/16 shard over the data-centre network (ring share 1/2). The levels run at once: the slower
    # one sets the time. ICI: the tpu-v4 preset's 270 GB/s (6 links x 45 GB/s one way) at NCCL's 370/450;
    # network 100 Gb/s at 0.90. Latency per bucket (one per layer): a reduce-scatter and an all-gather,
    # each a ring pass over 32 ranks in 2 slices: 30 ICI steps and 1 network step.
    r = run(TPU % "tpu-v4")
    share = r["model.params"] / 4  # no pipeline: the whole model, both tables, over t = 4
    ici, dcn = 270e9 * 370 / 450, 100e9 / 8 * 0.90
    inside = share * (4 + 2) * 15 / 16 / ici
    between = share / 16 * (4 + 2) * 1 / 2 / dcn
    latency = 4 * 2 * (BASE + 30 * HOP_UP + 1 * HOP_OUT)
    assert r["communication.data_seconds"] == pytest.approx(STEPS * (max(inside, between) + latency), rel=1e-12)


def test_tpu_slices_that_split_the_data_group_unevenly_keep_the_flat_ring(run):
    # TP4 DP24 = 96 chips on 64-chip slices: the group does not cover whole slices, so the ring over the
    # 24 replicas crosses the network (23/24 of the share); latency: 16 replicas in the first slice,
    # 24 - 2 = 22 ICI steps and 1 network step per pass
    r = run(TPU.replace("count: 128", "count: 96").replace("data: 32", "data: 24") % "tpu-v4")
    share = r["model.params"] / 4
    latency = 4 * 2 * (BASE + 22 * HOP_UP + 1 * HOP_OUT)
    assert r["communication.data_seconds"] == pytest.approx(
        STEPS * (share * (4 + 2) * 23 / 24 / (100e9 / 8 * 0.90) + latency), rel=1e-12)


def test_tpu_slices_that_split_the_tensor_group_keep_the_flat_ring(run):
    # TP16 DP3 = 48 chips on 24-chip slices: 24 is no multiple of 16, so groups straddle slices and the
    # ring over the 3 replicas crosses the network (2/3 of the share); latency: 1.5 replicas per slice,
    # 2 slices, 3 - 2 = 1 ICI step and 1 network step per pass
    text = TPU.replace("heads: 8", "heads: 16").replace("tensor: 4", "tensor: 16").replace("data: 32", "data: 3")
    r = run(text.replace("count: 128, scale_up_size: 64", "count: 48, scale_up_size: 24") % "tpu-v4")
    share = r["model.params"] / 16
    latency = 4 * 2 * (BASE + 1 * HOP_UP + 1 * HOP_OUT)
    assert r["communication.data_seconds"] == pytest.approx(
        STEPS * (share * (4 + 2) * 2 / 3 / (100e9 / 8 * 0.90) + latency), rel=1e-12)


def test_tpu_expert_shards_run_their_own_two_levels(run):
    # 16 experts over EP4 in TP4 DP32 on 64-chip slices, experts not split over the tensor group: an
    # expert shard has d c t / e = 32 replicas (Megatron's expert data-parallel group) over the 128 ranks,
    # 4 apart, 16 per slice; the dense weights' replicas 16 per slice of 32 too. Both groups' levels add
    # up on their links, and the slower link sets the time.
    moe = "vocab: 1000, moe: {experts: 16, top_k: 2, expert_ffn_hidden: 512}"
    # at 10 Gb/s the network is the slower level
    text = TPU.replace("vocab: 1000", moe).replace("data: 32,", "data: 32, expert: 4,")
    r = run(text.replace("100Gb/s", "10Gb/s") % "tpu-v4")
    routed = r.terms["routed_expert_params"].value
    dense, experts = (r["model.params"] - routed) / 4, routed / 4
    ici, dcn = 270e9 * 370 / 450, 10e9 / 8 * 0.90
    inside = (dense + experts) * 15 / 16 * (4 + 2)
    between = (dense + experts) / 16 * (4 + 2) / 2
    latency = 4 * 2 * (BASE + 30 * HOP_UP + 1 * HOP_OUT)
    assert between / dcn > inside / ici
    assert r["communication.data_seconds"] == pytest.approx(
        STEPS * (max(inside / ici, between / dcn) + latency), rel=1e-12)
    # without the network figure the between-slice bytes, dense and expert, are what the note reports
    unknown = run(text.replace(", scale_out_bandwidth: 100Gb/s", "") % "tpu-v4")
    note = next(n for n in unknown.notes if "between scale-up domains is not estimated" in n)
    assert f"data-parallel {between / 1e9:,.3g} GB" in note


def test_tpu_v3_keeps_the_flat_ring(run):
    # TPU v3 has no Multislice (Google Cloud docs: v4 and later): the ring over all 32 replicas crosses
    # the network, 31/32 of the share at the network rate
    r = run(TPU % "tpu-v3")
    share = r["model.params"] / 4
    latency = 4 * 2 * (BASE + 30 * HOP_UP + 1 * HOP_OUT)
    assert r["communication.data_seconds"] == pytest.approx(
        STEPS * (share * (4 + 2) * 31 / 32 / (100e9 / 8 * 0.90) + latency), rel=1e-12)
