"""Communication per accelerator and link class, against hand arithmetic (ring collectives, all-to-all)."""

from __future__ import annotations

import pytest

from qwenfeas.formulas.communication import (
    data_parallel_bytes,
    paired_all_to_all_exposed,
    pipeline_bytes,
    remote_destinations,
)

SCENARIO = """
model: {layers: 4, hidden: 1024, heads: 8, ffn_hidden: 4096, vocab: 1000%s}
context: 2048
tokens: 1e9
training: {batch_tokens: 1M}
parallel: {tensor: 4, pipeline: 2, expert: %d}
hardware:
  count: 64
  peak_flops: 1000T
  memory: 80GB
  bandwidth: 2TB/s
  tdp: 500W
  scale_up_bandwidth: 400GB/s
  scale_up_size: 8
  scale_out_bandwidth: 400Gb/s
"""
# Achieved bandwidths: NCCL reaches ~370 of 450 GB/s on NVLink (nccl-tests issue #212), RDMA ~90%.
UP = 400e9 * 370 / 450
OUT = 50e9 * 0.90
# NCCL's latency model (src/graph/tuning.cc, NVIDIA/nccl issue #1334): 8.4 us per collective (Ring,
# Simple) plus 0.6 us per step over NVLink and 5 us per step across the network.
BASE, HOP_UP, HOP_OUT = 8.4e-6, 0.6e-6, 5e-6
STEPS = 1e9 / 1e6  # optimizer steps of the run
MICRO = 1e6 / 2048 / 8  # micro-batches per step: 1M tokens of 2,048-token sequences over 8 replicas


def test_dense_tensor_and_data_parallel_traffic(run):
    r = run(SCENARIO % ("", 1))
    dp = 64 / (4 * 2)
    tokens = 1e9 / dp  # every token of the replica passes this accelerator's tensor group
    # 4 all-reduces per layer (2 forward, 2 backward) of 2-byte activations, ring share 2(t-1)/t,
    # over the scale-up link: 2 layers per pipeline stage.
    tensor = 4 * (4 / 2) * tokens * 1024 * 2 * (2 * 3 / 4) / UP
    # latency: with sequence parallelism 8 collectives per layer (an all-gather and a reduce-scatter for
    # each of the 4 all-reduces), each a ring pass of t - 1 = 3 NVLink steps; per micro-batch, 2 layers
    tensor += STEPS * MICRO * 2 * 8 * (BASE + 3 * HOP_UP)
    assert r["communication.tensor_seconds"] == pytest.approx(tensor, rel=1e-12)
    # ZeRO-1: 1,000 steps of a 1M-token batch; per step a reduce-scatter of fp32 gradients and an
    # all-gather of bf16 weights (4 + 2 bytes per parameter of the share), ring over 8 replicas, on the
    # network since 4 x 8 accelerators span more than one 8-way node. The share: the layers' half of
    # the parameters outside the two embedding tables, plus one table (first or last stage), over t = 4.
    tables = 1000 * 1024
    share = ((r["model.params"] - 2 * tables) / 2 + tables) / 4
    data = 1000 * share * (4 + 2) * (7 / 8) / OUT
    # latency: one bucket per layer (2 on the stage), each a reduce-scatter and an all-gather; the 8
    # replicas sit 4 ranks apart, 2 per 8-GPU node, so a ring pass crosses 4 nodes: 8 - 4 = 4 NVLink
    # steps and 4 - 1 = 3 network steps
    data += 1000 * 2 * 2 * (BASE + 4 * HOP_UP + 3 * HOP_OUT)
    assert r["communication.data_seconds"] == pytest.approx(data, rel=1e-12)
    # the links run at the same time: the busier one over compute time
    assert r["communication.scale_up_seconds"] == pytest.approx(tensor, rel=1e-12)
    assert r["communication.scale_out_seconds"] > data  # plus the pipeline fill sends


def test_expert_all_to_all_leaves_the_node_when_the_group_is_bigger_than_it(run):
    moe = ", moe: {experts: 16, top_k: 2, expert_ffn_hidden: 512}"
    inside = run(SCENARIO % (moe, 2))   # 4 x 2 = 8 accelerators: one NVLink domain
    outside = run(SCENARIO % (moe, 4))  # 4 x 4 = 16: two nodes
    tokens = 1e9 / 8 / 4  # the replica's tokens, split over the tensor group (sequence parallel)
    per_copy = 2 * (4 / 2) * tokens * 1024 * (2 + 2)  # dispatch + combine, forward + backward; 2 MoE layers
    # inside: of k = 2 copies, (e - 1)/e = 1/2 go to the other accelerator of the group
    # plus latency: 4 all-to-alls (dispatch, combine; forward, backward) per MoE layer, 2 layers on the
    # stage, each one step (every peer at once) over NVLink, per micro-batch
    latency_up = STEPS * MICRO * 4 * 2 * (BASE + HOP_UP)
    assert inside["communication.expert_seconds"] == pytest.approx(per_copy * 2 * (1 / 2) / UP + latency_up,
                                                                   rel=1e-12)
    # outside: 2 of the 4 expert ranks per node; k (1 - 2/4) = 1 copy crosses the network, and
    # k (2 - 1)/4 = 0.5 goes to the other rank in the node; the two links carry theirs at once
    network, nvlink = per_copy * 1 / OUT + STEPS * MICRO * 4 * 2 * (BASE + HOP_OUT), per_copy * 0.5 / UP
    assert outside["communication.expert_seconds"] == pytest.approx(max(network, nvlink), rel=1e-12)


def test_no_link_figures_no_communication_section(run):
    r = run(SCENARIO.replace("  scale_out_bandwidth: 400Gb/s\n", "").replace("  scale_up_bandwidth: 400GB/s\n", "")
            % ("", 1))
    assert not any(name.startswith("communication.") for name in r.metrics)
    assert any("communication is not estimated" in note for note in r.notes)


@pytest.mark.parametrize(("stage", "per_step"), [
    (0, 2 * 4),              # all-reduce of fp32 gradients: 2 P b_g
    (1, 4 + 2),              # reduce-scatter gradients, all-gather bf16 weights: P (b_g + b_w)
    (2, 10 * 4 + 2),         # gradients sharded: reduce-scattered after each of m = 10 micro-batches
    (3, 10 * (4 + 2 * 2)),   # and weights gathered for each forward and backward: m P (b_g + 2 b_w)
])
def test_zero_stage_traffic_per_step(stage, per_step):
    # Rajbhandari et al. 2020, sec. 7: ZeRO-3 moves 1.5x an all-reduce (b_g + 2 b_w with b_g = b_w).
    assert data_parallel_bytes(1.0, 4, 2, 1.0, 8, stage, 10) == pytest.approx(per_step * 7 / 8)


def test_zero3_is_one_and_a_half_all_reduces_when_gradients_and_weights_share_a_format():
    assert data_parallel_bytes(1.0, 2, 2, 1.0, 64, 3) / data_parallel_bytes(1.0, 2, 2, 1.0, 64, 0) == 1.5


def test_node_limited_routing_deduplicates_copies_per_node():
    # DeepSeek-V3: 8 experts per token over 8 nodes of an EP64 group, at most 4 nodes per token.
    # Unlimited: 7 (1 - (7/8)^8) = 4.595 other nodes reached; limited: 4 x 7/8 = 3.5.
    assert remote_destinations(8, 8, 8) == pytest.approx(7 * (1 - (7 / 8) ** 8))
    assert remote_destinations(8, 8, 4) == pytest.approx(3.5)
    assert remote_destinations(1, 2, 1) == pytest.approx(0.5)  # one expert on one of two nodes


def test_pipeline_sends_activations_forward_and_gradients_back():
    # 4,096 tokens x 7,168 x 2 B each way, over t = 1: the DeepSeek-V3 stage boundary
    assert pipeline_bytes(4096, 7168, 2.0, 1) == 2 * 4096 * 7168 * 2
    assert pipeline_bytes(4096, 7168, 2.0, 8, sends=4) == 4 * 2 * 4096 * 7168 * 2 / 8


def test_context_parallel_ring_passes_each_chunk_to_the_others_three_times():
    # Llama 3 405B at 128K over CP16: 8,192 tokens per rank, 8 KV heads of 128 in 2 B for K and V
    # (4,096 B per token per layer, 512 B per tensor rank at TP8), 7.875 layers per stage
    from qwenfeas.formulas.communication import context_parallel_bytes

    assert context_parallel_bytes(7.875, 8192, 512, 16) == 3 * 7.875 * 8192 * 512 * 15
    assert context_parallel_bytes(7.875, 8192, 512, 1) == 0


@pytest.mark.parametrize(("all_to_all", "compute", "forward_share", "exposed"), [
    # Megatron-Core combined 1F1B: the forward's half under the backward's compute, the backward's under
    # the forward's. 6 s of all-to-alls, 6 s of compute, forward 1/3: 3 - 2 = 1 s and 3 - 4 -> 0
    (6.0, 6.0, 1 / 3, 1.0),
    (6.0, 12.0, 1 / 3, 0.0),  # 3 s under a 4 s forward and an 8 s backward: all hidden
    (12.0, 6.0, 1 / 3, (6 - 2) + (6 - 4)),  # both halves outlast their pass: 4 + 2 s
    (8.0, 8.0, 1 / 4, (4 - 2) + 0.0),  # full recompute: a 2 s forward, a 6 s backward
    (0.0, 5.0, 1 / 3, 0.0),
])
def test_paired_all_to_alls_hide_under_the_other_pass(all_to_all, compute, forward_share, exposed):
    assert paired_all_to_all_exposed(all_to_all, compute, forward_share) == pytest.approx(exposed, abs=1e-12)
