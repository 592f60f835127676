"""Which link a training step's collectives cross, against hand arithmetic on 16 H100s (two HGX nodes
of 8 on NVLink, 450 GB/s a direction at NCCL's 370/450; 400 Gb/s InfiniBand per GPU at 0.90) and
NCCL's latency model (8.4 us a start, 0.6 us an NVLink hop, 5 us a network hop: formulas.communication)."""

from __future__ import annotations

import pytest
from test_training_mechanisms import _layout

from qwenfeas.training import step_time as ST

UP, OUT = 450e9 * 370 / 450, 400e9 / 8 * 0.90  # achieved bytes/s on NVLink and on InfiniBand
BASE, HOP_UP, HOP_OUT = 8.4e-6, 0.6e-6, 5e-6

# 4 MoE layers, hidden 2048, 64 experts, top-4; BF16 compute, so BF16 dispatch and combine (2 + 2 B)
SIXTEEN = """
model: {layers: 4, hidden: 2048, heads: 16, ffn_hidden: 8192, vocab: 32000,
        moe: {experts: 64, top_k: 4, expert_ffn_hidden: 1024%s}}
context: 4096
tokens: 1T
training: {sequence: 4096, batch_tokens: 1048576, recompute: selective}
hardware: {preset: h100-sxm, count: 16}
parallel: {%s, zero: 1, micro_batch: 1, schedule: 1f1b}
"""


def test_an_expert_group_over_two_context_ranks_spans_both_nodes(run):
    # CP2 x EP8: the expert group is t c e = 16 consecutive ranks, both nodes. Without node-limited
    # routing a token's k = 4 copies go to the 8 expert ranks evenly: 4 x (1 - 4/8) = 2 to the other
    # node over InfiniBand, 4 x 3/8 = 1.5 to the 3 other ranks of its own node over NVLink
    work = run(SIXTEEN % ("", "tensor: 1, context: 2, data: 8, expert: 8")).training_work
    result = ST.evaluate(work, _layout(context=2, data=8, expert=8))
    tokens = 4096 / 2  # a micro-batch's tokens on one context rank
    sent = 2 * 4 * tokens * 2 * 2048 * (2 + 2)  # forward and backward, 4 layers, 2 copies, dispatch + combine
    out = sent / OUT + 4 * 4 * (BASE + HOP_OUT)  # 4 all-to-alls a layer, one network step each
    up = 2 * 4 * tokens * 1.5 * 2048 * (2 + 2) / UP
    assert up < out
    m = 1048576 / (4096 * 8)  # micro-batches per replica
    assert result["expert_seconds"] == pytest.approx(m * out, rel=1e-9)


def test_node_limited_routing_forwards_nothing_with_one_expert_rank_a_node(run):
    # TP8 x EP2: each node holds one expert rank, so a token sent to a node is already where its experts
    # are and nothing is forwarded over NVLink (DeepSeek-V3 sec. 3.2.2: IB to the node, then NVLink)
    work = run(SIXTEEN % (", node_limit: 2", "tensor: 8, data: 2, expert: 2")).training_work
    assert work.dedup
    result = ST.evaluate(work, _layout(tensor=8, data=2, expert=2))
    # NVLink carries the tensor group (8 ranks, one node) and the context group (the same 8): the rest is the experts'
    expert_up = result["scale_up_seconds"] - result["tensor_seconds"] - result["context_seconds"]
    assert result["data_seconds"] > 0  # the data group (16 ranks) runs over InfiniBand, not in scale_up_seconds
    assert expert_up == pytest.approx(0.0, abs=1e-12 * result["scale_up_seconds"])
    assert result["expert_seconds"] > 0


def test_two_way_tensor_parallelism_pays_its_collectives_starts(run):
    # TP2 with sequence parallelism: per layer 2 all-gathers and 2 reduce-scatters forward, as many backward,
    # each one ring pass over 2 ranks on NVLink: 8.4 + 0.6 us. Bytes: 4 L T h 2 B x 2 (t - 1)/t, t = 2
    work = run(SIXTEEN % ("", "tensor: 2, data: 8, expert: 8")).training_work
    assert work.sequence_parallel and not work.tp_overlap
    result = ST.evaluate(work, _layout(tensor=2, data=8, expert=8))
    per_micro_batch = 4 * 8 * (BASE + HOP_UP) + 4 * 4 * 4096 * 2048 * 2 * 1 / UP
    m = 1048576 / (4096 * 8)
    assert result["tensor_seconds"] == pytest.approx(m * per_micro_batch, rel=1e-9)
