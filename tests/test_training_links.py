"""Which link a data-parallel group uses: a job that fits in one scale-up domain never leaves it.

Hand arithmetic: GB200 NVL72 links 72 GPUs on NVLink5 at 900 GB/s per direction (NVIDIA GB200
NVL72 specification); a GPU's scale-out port is 400 Gb/s = 50 GB/s (one ConnectX-7 per GPU,
DGX GB200 user guide). ZeRO-1 data parallelism moves P * (b_grad + b_w) * (n - 1) / n bytes per
step (reduce-scatter of FP32 gradients, all-gather of BF16 weights; Rajbhandari et al. 2020).
"""

from __future__ import annotations

import pytest

SCENARIO = """
model: {{layers: 4, hidden: 4096, heads: 32, kv_heads: 8, ffn_hidden: 14336, vocab: 32000}}
context: 4096
tokens: 4096M
training: {{sequence: 4096, batch_tokens: 4096K, recompute: none}}
hardware: {{preset: gb200, count: {count}}}
parallel: {{tensor: 1, pipeline: 1, data: {count}, zero: 1, micro_batch: 1, schedule: 1f1b}}
"""


def test_a_job_inside_one_nvl72_rack_reduces_gradients_over_nvlink(run):
    report = run(SCENARIO.format(count=64))
    assert report["communication.scale_out_seconds"] == 0
    P = report["model.params"]
    steps = 4096e6 / 4096e3
    per_step = P * (4 + 2) * 63 / 64  # bytes each GPU sends per step
    # NCCL latency (src/graph/tuning.cc): per layer bucket a reduce-scatter and an all-gather, each
    # 8.4 us + 63 NVLink ring steps x 0.6 us; 4 buckets per step
    latency = 4 * 2 * (8.4e-6 + 63 * 0.6e-6)
    assert report["communication.data_seconds"] == pytest.approx(
        steps * (per_step / (900e9 * 370 / 450) + latency), rel=1e-9)


def test_a_64_rank_group_across_two_racks_straddles_them(run):
    """128 GPUs on NVL72 racks: the 128-rank data group cannot stay in a 72-GPU domain."""
    report = run(SCENARIO.format(count=128))
    P = report["model.params"]
    steps = 4096e6 / 4096e3
    per_step = P * (4 + 2) * 127 / 128
    # latency: the ring spans 2 racks (72 + 56 GPUs): 126 NVLink steps and 1 network step per pass
    latency = 4 * 2 * (8.4e-6 + 126 * 0.6e-6 + 1 * 5e-6)
    assert report["communication.data_seconds"] == pytest.approx(
        steps * (per_step / (50e9 * 0.90) + latency), rel=1e-9)
    assert report["communication.scale_out_seconds"] >= report["communication.data_seconds"]
