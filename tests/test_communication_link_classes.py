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
    assert "not estimated" in r.metrics["communication.scale_out_seconds"].label


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


def test_tpu_v3_keeps_the_flat_ring(run):
    # TPU v3 has no Multislice (Google Cloud docs: v4 and later): the ring over all 32 replicas crosses
    # the network, 31/32 of the share at the network rate
    r = run(TPU % "tpu-v3")
    share = r["model.params"] / 4
    latency = 4 * 2 * (BASE + 30 * HOP_UP + 1 * HOP_OUT)
    assert r["communication.data_seconds"] == pytest.approx(
        STEPS * (share * (4 + 2) * 31 / 32 / (100e9 / 8 * 0.90) + latency), rel=1e-12)
