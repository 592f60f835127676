"""qwenfeas.formulas.communication and the layout search of .training_memory, by hand.

These are the formulas under the training wing's communication and smallest-layout figures; they
are tested here directly so that a wrong factor is caught whatever orchestrates them. Ring
collectives: Patarasuk and Yuan 2009 (a ring all-reduce sends 2 (g - 1)/g of the message, a
reduce-scatter or an all-gather (g - 1)/g). ZeRO: Rajbhandari et al. 2020, sec. 7.
"""

from __future__ import annotations

import numpy as np
import pytest

from qwenfeas.formulas.communication import (
    context_parallel_bytes,
    data_parallel_bytes,
    ring_factor,
    tensor_parallel_bytes,
)
from qwenfeas.formulas.training_memory import activation_bytes_per_layer, model_state_bytes, smallest_data_parallel


@pytest.mark.parametrize(("group", "factor"), [(1, 0.0), (2, 1.0), (4, 1.5), (8, 1.75)])
def test_ring_all_reduce_share(group, factor):
    assert ring_factor(group) == factor


def test_tensor_parallel_all_reduces():
    # 4 all-reduces per layer (2 forward, 2 backward) of T x h activations at b bytes, ring over t:
    # hand-made 3 layers, 5 tokens, hidden 7, 2 bytes, t = 4 -> 4 x 3 x 5 x 7 x 2 x 1.5 = 1,260 bytes
    assert tensor_parallel_bytes(3, 5, 7, 2, 4) == 1260
    assert tensor_parallel_bytes(3, 5, 7, 2, 1) == 0  # no tensor parallelism, no traffic
    assert tensor_parallel_bytes(3, 5, 7, 2, np.array([1, 2, 4])).tolist() == [0, 840, 1260]


@pytest.mark.parametrize(("zero", "per_step"), [
    (0, 2 * 4),       # all-reduce of fp32 gradients: 2 x P x 4 B
    (1, 4 + 2),       # reduce-scatter the gradients, all-gather the updated bf16 weights
    (2, 4 + 2),
])
def test_data_parallel_traffic_by_zero_stage(zero, per_step):
    # P = 1,000 parameters, 10 steps, ring over 8 replicas: each sends 7/8 of every collective.
    assert data_parallel_bytes(1000, 4, 2, 10, 8, zero) == pytest.approx(10 * 1000 * per_step * 7 / 8, rel=1e-15)


def test_zero_2_and_3_reduce_scatter_gradients_every_micro_batch():
    # ZeRO-2 keeps only its gradient shard, so each of m micro-batches reduce-scatters: P (m b_g + b_w).
    # ZeRO-3 also gathers the weights for each micro-batch's forward and backward: m P (b_g + 2 b_w).
    # P = 1,000, fp32 gradients, bf16 weights, 10 steps of m = 4, ring over 8.
    assert data_parallel_bytes(1000, 4, 2, 10, 8, 2, 4) == pytest.approx(10 * 1000 * (4 * 4 + 2) * 7 / 8, rel=1e-15)
    assert data_parallel_bytes(1000, 4, 2, 10, 8, 3, 4) == pytest.approx(10 * 4 * 1000 * (4 + 2 * 2) * 7 / 8,
                                                                          rel=1e-15)
    # ZeRO-1 all-reduces the accumulated gradients once per step, however many micro-batches.
    assert data_parallel_bytes(1000, 4, 2, 10, 8, 1, 4) == pytest.approx(10 * 1000 * 6 * 7 / 8, rel=1e-15)
    assert data_parallel_bytes(1000, 4, 2, 10, 8, 0, 4) == pytest.approx(10 * 2 * 1000 * 4 * 7 / 8, rel=1e-15)


def test_zero_3_costs_one_and_a_half_plain_all_reduces():
    # ZeRO paper, sec. 7.2.2: one micro-batch, equal widths: stage 3 moves 3 P values, plain data
    # parallelism 2 P (a reduce-scatter and two all-gathers against one all-reduce).
    plain = data_parallel_bytes(1000, 2, 2, 1, 8, 0)
    assert data_parallel_bytes(1000, 2, 2, 1, 8, 3) == pytest.approx(1.5 * plain, rel=1e-15)


def test_zero_1_moves_what_a_plain_all_reduce_moves():
    # ZeRO paper, sec. 7.2.1: reduce-scatter + all-gather = one all-reduce (equal widths).
    plain = data_parallel_bytes(1000, 2, 2, 1, 8, 0)
    assert plain == 2 * 1000 * 2 * 7 / 8
    assert data_parallel_bytes(1000, 2, 2, 1, 8, 1) == pytest.approx(plain, rel=1e-15)


def test_data_parallel_traffic_broadcasts_over_zero_stages_and_groups():
    got = data_parallel_bytes(1000, 4, 2, 10, np.array([1, 2, 8]), np.array([0, 0, 1]))
    assert got.tolist() == pytest.approx([0.0, 10 * 1000 * 8 / 2, 10 * 1000 * 6 * 7 / 8], rel=1e-15)


def test_context_parallel_ring_passes_each_chunk_to_the_other_ranks():
    # Each rank's K, V chunk of T tokens visits the c - 1 others forward; backward sends K, V and their
    # gradients: 3 x L x T x kv x (c - 1). Hand-made: 3 layers, 5 tokens, 7 bytes, c = 4.
    assert context_parallel_bytes(3, 5, 7, 4) == 3 * 3 * 5 * 7 * 3
    assert context_parallel_bytes(3, 5, 7, 1) == 0
    # Llama-2-70B layer (8 KV heads x 128 x K and V x 2 bytes = 4,096 B per token), 80 layers,
    # 8,192 tokens per rank, c = 2: 3 x 80 x 8192 x 4096 bytes.
    assert context_parallel_bytes(80, 8192, 2 * 8 * 128 * 2, 2) == 3 * 80 * 8192 * 4096
    assert context_parallel_bytes(1, 1, 1, np.array([1, 2, 8])).tolist() == [0, 3, 21]


@pytest.mark.parametrize(("stage", "expected"), [
    (0, (3 * 2, 3 * 4, 3 * 12)),
    (1, (3 * 2, 3 * 4, 3 * 12 / 4)),
    (2, (3 * 2, 3 * 4 / 4, 3 * 12 / 4)),
    (3, (3 * 2 / 4, 3 * 4 / 4, 3 * 12 / 4)),
])
def test_model_states_shard_by_stage(stage, expected):
    # 3 parameters, 2/4/12 bytes each (bf16 weights, fp32 gradients, Adam), 4 replicas.
    assert model_state_bytes(3, 2, 4, 12, 4, stage) == pytest.approx(expected, rel=1e-15)


def test_model_states_broadcast_over_stages():
    weights, grads, optimizer = model_state_bytes(3.0, 2, 4, 12, 4, np.array([0, 3]))
    assert (weights.tolist(), grads.tolist(), optimizer.tolist()) == ([6.0, 1.5], [12.0, 3.0], [36.0, 9.0])


def test_activations_without_recomputation_keep_the_attention_scores():
    # Korthikanti et al. 2022, eq. 2: s b h (34 + 5 a s / h) for a GPT layer without parallelism;
    # hand-made s 16, b 2, h 8, a 4, q = kv = h, plain 4h FFN.
    sbh = 16 * 2 * 8
    # (an unfused kernel, as Korthikanti's Megatron-LM ran; a fused one keeps no scores: 34 only)
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 1, False, "none",
                                      unfused_attention=True) == sbh * (34 + 5 * 4 * 16 / 8)
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 1, False, "none") == sbh * 34
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 1, False, "selective") == sbh * 34
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 1, False, "full") == 2 * sbh


def test_activation_terms_each_divide_as_stated():
    # t = 2 with sequence parallelism: everything / 2; without it the 10 replicated bytes stay.
    sbh = 16 * 2 * 8
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 2, True, "selective") == sbh * 34 / 2
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 2, False, "selective") == sbh * (10 + 24 / 2)
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 2, True, "full") == 2 * sbh / 2
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 2, False, "full") == 2 * sbh
    # gated FFN of width 32: (2 x 2 + 2) x 32/8 = 24 instead of 16; GQA q = 8, kv = 2: 4 x 10/8 = 5
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 2, 32, True, 1, False, "selective") == sbh * (10 + 5 + 24)
    # an MoE layer adds 4 k: top-3 routing, 12 more per sbh
    assert activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 1, False, "selective", 3) == sbh * (34 + 12)


def test_activations_broadcast_over_sequence_parallelism():
    sbh = 16 * 2 * 8
    got = activation_bytes_per_layer(16, 2, 8, 4, 8, 8, 32, False, 2, np.array([False, True]), "selective")
    assert got.tolist() == [sbh * 22, sbh * 17]


def test_smallest_data_parallel_degree():
    # 100 GB of ZeRO-sharded states and 40 GB fixed in 70 GB usable: 100 / 30 -> 4 replicas.
    assert smallest_data_parallel(40, 100, 70, 1) == 4
    assert smallest_data_parallel(40, 90, 70, 1) == 3          # exactly 30 each
    assert smallest_data_parallel(40, 0, 70, 1) == 1           # nothing to shard: one replica
    assert smallest_data_parallel(40, 10, 70, 1) == 1


def test_smallest_data_parallel_degree_is_rounded_up_to_the_expert_degree():
    # Expert parallelism splits the data-parallel replicas into groups of e: d must be a multiple of e.
    assert smallest_data_parallel(40, 100, 70, 8) == 8   # 4 -> 8
    assert smallest_data_parallel(40, 100, 70, 3) == 6   # 4 -> 6
    assert smallest_data_parallel(40, 10, 70, 8) == 8    # 1 -> 8
    assert smallest_data_parallel(40, 90, 70, 3) == 3    # already a multiple


def test_no_data_parallel_degree_fits_when_the_fixed_part_does_not():
    assert smallest_data_parallel(70, 100, 70, 1) == float("inf")   # no room left at all
    assert smallest_data_parallel(80, 100, 70, 1) == float("inf")
    assert smallest_data_parallel(69.5, 1, 70, 1) == 2              # half a unit of room still counts


def test_smallest_data_parallel_broadcasts():
    got = smallest_data_parallel(np.array([40.0, 40.0, 80.0, 40.0]), 100.0, 70.0, np.array([1, 8, 1, 3]))
    assert got.tolist() == [4.0, 8.0, float("inf"), 6.0]
