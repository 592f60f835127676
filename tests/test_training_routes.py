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


@pytest.mark.parametrize("degrees", [{"data": 8, "expert": 8}, {"context": 2, "data": 4, "expert": 4}])
def test_an_expert_group_inside_one_node_sends_nothing_over_infiniband(run, degrees):
    # 8 H100s of one HGX node, EP8 x DP8 or CP2 x DP4 x EP4: every group stays in the node, on NVLink,
    # so all the step's traffic is scale-up traffic
    from test_training_mechanisms import MOE

    result = ST.evaluate(run(MOE).training_work, _layout(**degrees))
    assert result["expert_seconds"] > 0 and result["data_seconds"] > 0
    assert result["context_seconds"] > 0 or "context" not in degrees
    assert result["scale_out_seconds"] == 0
    parts = sum(result[f"{k}_seconds"] for k in ("tensor", "context", "expert", "data"))
    assert result["scale_up_seconds"] == pytest.approx(parts, rel=1e-12)


@pytest.mark.parametrize("degrees", [{"data": 16}, {"tensor": 8, "context": 2}])
def test_without_expert_parallelism_there_is_no_all_to_all(run, degrees):
    # EP1: every rank holds all 64 experts and routes its tokens locally, inside a node (DP16: groups of one
    # rank) or across both (TP8 x CP2: the 16 ranks a token's experts could be spread over hold them all)
    work = run(SIXTEEN % ("", "tensor: 1, data: 16, expert: 1")).training_work
    result = ST.evaluate(work, _layout(**degrees))
    assert result["expert_seconds"] == 0


def test_no_all_to_all_to_hide_takes_no_sms(run):
    # EP1 under an all-to-all-overlapping schedule: nothing to overlap, so compute keeps all its SMs
    work = run(SIXTEEN % ("", "tensor: 1, data: 16, expert: 1")).training_work
    plain = ST.evaluate(work, _layout(data=16))
    work.ep_overlap = True
    overlapped = ST.evaluate(work, _layout(data=16))
    assert overlapped["compute_seconds"] == plain["compute_seconds"]


# the two-layer model of test_training_step_report.py on one accelerator with no links
TWO = """
model: {layers: 2, hidden: 1024, heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000%s}
context: 2048
tokens: 1e9
training: {batch_tokens: 8192, recompute: selective}
hardware: {count: %d, peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W}
parallel: {%s, zero: 1, micro_batch: 1, schedule: 1f1b}
"""
LAYER = 1024 * 128 * (2 * 8 + 2 * 8) + 3 * 1024 * 4096 + 2 * 1024  # QKVO, SwiGLU FFN, two norms


def test_two_stages_of_1f1b_idle_for_one_micro_batch_in_four(run):
    # PP2, m = 8192 / 2048 = 4 micro-batches: 1F1B's bubble is (p - 1) / m = 1/4 of the busy time
    # (Narayanan et al. 2021, sec. 2.2); no links, so the step is busy time, bubble and the optimizer
    result = ST.evaluate(run(TWO % ("", 2, "tensor: 1, pipeline: 2")).training_work, _layout(pipeline=2))
    busy = result["step_seconds"] - result["optimizer_seconds"] - result["bubble_seconds"]
    assert result["bubble_seconds"] == pytest.approx(busy / 4, rel=1e-12)


def test_tied_embeddings_update_one_table(run):
    # tied: one 1000 x 1024 table, the final norm, two layers; Adam reads and writes 30 B a parameter at 0.85 x 2 TB/s
    result = ST.evaluate(run(TWO % (", tied_embeddings: true", 1, "tensor: 1")).training_work, _layout())
    params = 2 * LAYER + 1000 * 1024 + 1024
    assert result["optimizer_seconds"] == pytest.approx(params * 30 / (0.85 * 2e12), rel=1e-12)


def test_expert_states_shard_over_the_expert_data_group(run, monkeypatch):
    # CP2 x DP8 x EP8: one expert shard is held by d c t / e = 8 x 2 / 8 = 2 ranks, which share its
    # optimizer states (ZeRO-1) and all-reduce its gradients over m = 32 micro-batches' accumulation
    from qwenfeas.formulas import communication as C
    from qwenfeas.formulas import training_memory as TM

    work = run(SIXTEEN % ("", "tensor: 1, context: 2, data: 8, expert: 8")).training_work
    states, traffic = [], []
    for module, name, calls in ((TM, "model_state_bytes", states), (C, "data_parallel_bytes", traffic)):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _o=original, _c=calls: _c.append(a) or _o(*a))
    ST.evaluate(work, _layout(context=2, data=8, expert=8))
    routed = 4 * 64 * 3 * 2048 * 1024  # 4 MoE layers x 64 experts x SwiGLU 2048 x 1024
    (_dense, *_), (experts, *_, group, zero) = states
    assert (experts, group, zero) == (pytest.approx(routed / 8, rel=1e-12), 2, 1)
    # each group in two levels (inside a domain, then between domains): on a GPU cluster the inside level
    # has one member (a flat collective at the network rate), so dense over d c, experts over 2
    assert [(call[4], call[6]) for call in traffic] == [(1, 32), (16, 32), (1, 32), (2, 32)]


def test_zero_0_all_reduces_its_gradients_over_the_whole_data_group(run, monkeypatch):
    # ZeRO-0 on CP2 x DP8: one all-reduce per bucket (two ring passes) over the d c = 16 ranks that hold
    # the same weights (context ranks all-reduce their gradients too), ranks t = 1 apart
    work = run(SIXTEEN % ("", "tensor: 1, context: 2, data: 8, expert: 8")).training_work
    rings, original = [], ST._ring_latency
    monkeypatch.setattr(ST, "_ring_latency", lambda w, *a: rings.append(a) or original(w, *a))
    ST.evaluate(work, _layout(context=2, data=8, expert=8, zero=0))
    assert (16, 1, 2.0) in rings
    assert (16, 1, 1.0) in rings  # the ZeRO >= 1 branch of the same `where`, a reduce-scatter pass


@pytest.mark.parametrize(("count", "degrees", "link", "hop"), [
    (2, {"pipeline": 2}, UP, (HOP_UP, 0)),  # 2 ranks of one node: one NVLink hop
    (16, {"context": 4, "pipeline": 4}, OUT, (0, HOP_OUT)),  # 16 ranks over both nodes: one network hop
])
def test_pipeline_fill_waits_on_each_hop(run, count, degrees, link, hop):
    # per stage boundary a micro-batch's activations forward and their gradients back: 2 T h x 2 B, and two
    # sends' starts; p - 1 boundaries. With t = 1 and d = 1 every other group stays in one node, so the
    # scale-out time is the pipeline's alone (or none at all)
    text = TWO.replace("layers: 2", "layers: 4").replace("peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W",
                                                         "preset: h100-sxm")
    work = run(text % ("", count, "tensor: 1, " + ", ".join(f"{k}: {v}" for k, v in degrees.items()))).training_work
    result = ST.evaluate(work, _layout(**degrees))
    p, tokens = degrees["pipeline"], 2048 / degrees.get("context", 1)
    sends = 2 * tokens * 1024 * 2 / link + 2 * (BASE + hop[0] + hop[1])
    fill = (p - 1) * sends
    if link == OUT:
        assert result["scale_out_seconds"] == pytest.approx(fill, rel=1e-9)
    else:
        assert result["exposed_seconds"] == pytest.approx(fill, rel=1e-9)  # nothing else to expose on DP1 TP1


def test_one_layer_a_stage_leaves_its_whole_gradient_traffic_exposed(run):
    # PP2 x DP2 of the two-layer model on 4 H100s of one node: one layer a stage is one gradient bucket, and the
    # last bucket's reduce-scatter and all-gather wait for the backward to end; plus one stage boundary's fill
    text = TWO.replace("peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W", "preset: h100-sxm")
    result = ST.evaluate(run(text % ("", 4, "tensor: 1, pipeline: 2, data: 2")).training_work,
                         _layout(pipeline=2, data=2))
    fill = 2 * 2048 * 1024 * 2 / UP + 2 * (BASE + HOP_UP)
    assert result["data_seconds"] > 0
    assert result["exposed_seconds"] == pytest.approx(fill + result["data_seconds"], rel=1e-9)


def test_zero_2_hides_gradient_traffic_under_every_micro_batch(run, monkeypatch):
    # ZeRO-2 reduce-scatters each micro-batch's gradients as they are made, so its traffic overlaps all m
    # micro-batches' compute; ZeRO-1 accumulates and sends once, under the last one's. With the same (large)
    # bytes for both, the exposed times differ by (m - 1) micro-batches of compute, m = 1048576 / (4096 x 16)
    from qwenfeas.formulas import communication as C

    monkeypatch.setattr(C, "data_parallel_bytes", lambda *a, **k: 1e13)
    work = run(SIXTEEN % ("", "tensor: 1, data: 16, expert: 1")).training_work
    one, two = (ST.evaluate(work, _layout(data=16, zero=z)) for z in (1, 2))
    compute = one["gemm_seconds"] + one["attention_seconds"] + one["elementwise_seconds"]
    assert one["exposed_seconds"] - two["exposed_seconds"] == pytest.approx(15 * compute, rel=1e-9)
