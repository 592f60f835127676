"""Experts that share the tensor-parallel group: the dispatcher's gather of routed tokens stays exposed
under TP overlap, against hand arithmetic.

Megatron-Core's all-to-all token dispatcher, with experts split over the tensor-parallel group (before
core 0.10), all-gathers the routed tokens over that group after the expert all-to-all and
reduce-scatters them after the experts (megatron/core/transformer/moe/token_dispatcher.py,
gather_from_sequence_parallel_region / reduce_scatter_to_sequence_parallel_region): plain collectives
on the compute stream, outside Transformer Engine's userbuffers, which overlap only its linear layers'
tensor-parallel all-gathers and reduce-scatters (ub_tp_comm_overlap).
"""

from __future__ import annotations

import pytest

from qwenfeas.training import step_time as ST
from tests.test_training_mechanisms import MOE as MECHANISMS_MOE
from tests.test_training_mechanisms import _layout

# test_training_mechanisms' MoE (4 layers, 64 experts top-4 of width 1024, hidden 2048, one HGX H100 board),
# here TP8 with the experts split over it, no expert or data parallelism, BF16, 4,096 tokens per micro-batch
MOE = MECHANISMS_MOE.replace("tensor: 1, pipeline: 1, data: 8, expert: 8,",
                             "tensor: 8, pipeline: 1, data: 1, expert: 1, expert_tensor: 8,").replace(
    "schedule: 1f1b}", "schedule: 1f1b,\n           tp_overlap: true}")
LAYOUT = _layout(tensor=8)  # one stage, 1F1B, micro-batch 1, ZeRO-1, selective recompute


def test_the_routed_token_gather_is_exposed_under_tp_overlap(run):
    result = ST.evaluate(run(MOE).training_work, LAYOUT)
    m = 1048576 / 4096
    # per layer, forward and backward: an all-gather and a reduce-scatter of the k = 4 copies of the 4,096
    # tokens (512 per rank x 8 x 4 = 16,384 x 2,048 x 2 B), each ring pass sending 7/8 of it, at NCCL's
    # 370 of 450 GB/s on NVLink: 4 collectives (2 forward, 2 backward) x 7/8 x 67.1 MB / 370 GB/s
    per_layer = 4 * 16384 * 2048 * 2 * (7 / 8) / 370e9
    assert result["exposed_seconds"] == pytest.approx(m * 4 * per_layer, rel=1e-9)
    # the rest of the tensor-parallel traffic (attention and router inputs) stays hidden
    assert result["tensor_seconds"] > result["exposed_seconds"]


def test_without_tp_overlap_all_tensor_parallel_traffic_is_exposed(run):
    result = ST.evaluate(run(MOE.replace(",\n           tp_overlap: true", "")).training_work, LAYOUT)
    assert result["exposed_seconds"] == pytest.approx(result["tensor_seconds"], rel=1e-9)


def test_only_the_hidden_collectives_slow_the_compute(run):
    # the compute under the overlapped linear-layer collectives runs slower while they run (s / (1 + s) of
    # the hidden time, s = 0.189: communication.overlap_slowdown_seconds); the exposed gather slows nothing
    work = run(MOE).training_work
    taxed = ST.evaluate(work, LAYOUT)
    work.overlap_slowdown = 0.0
    free = ST.evaluate(work, LAYOUT)
    m = 1048576 / 4096
    gather = free["exposed_seconds"] / m
    hidden = free["tensor_seconds"] / m - gather
    assert hidden < free["compute_seconds"] / m  # all of it under the compute
    assert taxed["step_seconds"] - free["step_seconds"] == pytest.approx(m * hidden * 0.189 / 1.189, rel=1e-9)
