"""Edges of the formulas that the published-model tests do not reach, by hand.

Defaults (a function called without its optional argument), clamps (a value floored at zero or at
its physical limit), numpy broadcasting of a scalar condition, and the branches only some
architectures take (latent MoE experts, a gated MLA output, a one-rank query). Found by
`make mutants`: each test here kills mutants that every other test let live.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qwenfeas.formulas import _array as A
from qwenfeas.formulas import pipeline as PL
from qwenfeas.formulas.flops import attention_crossover_tokens
from qwenfeas.formulas.kernel_efficiency import gemm_efficiency
from qwenfeas.formulas.params import kda_params, mla_attention_params, moe_ffn_params
from qwenfeas.formulas.reliability import goodput
from qwenfeas.formulas.serving import accepted_tokens_per_step, cost_per_million_tokens_usd
from qwenfeas.formulas.training_memory import activation_bytes_per_layer, logits_bytes, smallest_data_parallel


def test_is_array_means_a_numpy_array_with_dimensions():
    assert A.is_array(np.array([1.0, 2.0])) is True
    assert A.is_array(np.array(1.0)) is False      # 0-d: one number
    assert A.is_array(np.float64(1.0)) is False    # a numpy scalar: one number
    assert A.is_array(1.0) is False


def test_show_prints_a_number_or_a_range():
    assert A.show(np.array([3.0, 3.0])) == "3"          # all equal: one number, in the spec
    assert A.show(np.array([1.0, 64.0])) == "1 to 64"
    assert A.show(np.array([0.5, 0.5]), ".0%") == "50%"
    assert A.show(1e-20) == "1e-20"                     # the default spec is "g", lower case


def test_where_broadcasts_a_scalar_condition_over_either_array():
    assert A.where(False, np.array([1.0, 2.0]), 0.0).tolist() == [0.0, 0.0]
    assert A.where(True, 0.0, np.array([1.0, 2.0])).tolist() == [0.0, 0.0]
    assert A.where(True, 1.0, 2.0) == 1.0


def test_attention_crossover_is_never_negative():
    # 4N/a - 1 with N = 100, a = 400 is 0; with a = 1,000 it would be -0.6: attention dominates at once.
    assert attention_crossover_tokens(100, 400) == 0
    assert attention_crossover_tokens(100, 1000) == 0
    assert attention_crossover_tokens(100, 200) == 1


def test_gemm_efficiency_of_a_memory_bound_decode_step():
    # 2 FLOPs per weight per row; the weights stream at b bytes each: 64 rows of bf16 (2 B) on a
    # 989 TFLOP/s, 3.35 TB/s H100 reach 2 x 64 / 2 x 3.35e12 / 989e12 = 21.7% of peak; fp8 twice that.
    assert gemm_efficiency(64, 2, 989e12, 3.35e12, 0.76, bandwidth_efficiency=1.0) == pytest.approx(
        2 * 64 / 2 * 3.35e12 / 989e12, rel=1e-12)
    assert gemm_efficiency(64, 1, 989e12, 3.35e12, 0.76, bandwidth_efficiency=1.0) == pytest.approx(
        2 * 64 * 3.35e12 / 989e12, rel=1e-12)
    assert gemm_efficiency(4096, 2, 989e12, 3.35e12, 0.76, bandwidth_efficiency=1.0) == 0.76  # the ceiling


def test_kda_decay_and_output_gates_are_low_rank_unless_asked():
    # hand-made: hidden 10, 2 heads of 3 (width 6), kernel 4
    h, n, d, kernel = 10, 2, 3, 4
    width = n * d
    common = 3 * h * width + 3 * width * kernel + h * d + d * width + h * n + n + width + d + width * h
    assert kda_params(h, n, d, kernel) == common + h * d + d * width
    assert kda_params(h, n, d, kernel, full_rank_gate=True) == common + h * width


def test_mla_with_a_gated_output_and_a_one_rank_query():
    # hand-made: hidden 100, 2 heads, d_nope 3, d_rope 5, d_v 7, r_kv 11
    key_value = 100 * (11 + 5) + 11 + 11 * 2 * (3 + 7)
    output = 2 * 7 * 100
    one_rank_query = 100 * 1 + 1 + 1 * 2 * 8  # a query latent of width 1 is still a latent
    assert mla_attention_params(100, 2, 3, 5, 7, 11, 1) == one_rank_query + key_value + output
    gated = mla_attention_params(100, 2, 3, 5, 7, 11, 0, output_gate=True)
    assert gated == 100 * 2 * 8 + key_value + 2 * output  # the gate is a second h x (n d_v) projection


def test_moe_experts_on_a_latent_width():
    """Kimi K3's config (routed_expert_hidden_size): experts work at a latent width r, reached by a
    down- and an up-projection and a norm; hand-made hidden 10, r 4, 3 experts of width 5, top 2."""
    every, active = moe_ffn_params(10, 3, 2, 0, 5, 0, expert_hidden=4)
    projection = 2 * 10 * 4 + 4
    assert (every, active) == (10 * 3 + projection + 3 * 3 * 4 * 5, 10 * 3 + projection + 2 * 3 * 4 * 5)
    assert moe_ffn_params(10, 3, 2, 0, 5, 0, expert_hidden=10) == moe_ffn_params(10, 3, 2, 0, 5, 0)


def test_pipeline_schedules_without_virtual_stages_and_dualpipe_with_one_stage():
    # interleaving with the default v = 1 is plain 1F1B: (p - 1)/m; DualPipe on 1 stage has no bubble
    assert PL.bubble_ratio(PL.INTERLEAVED, 4, 8) == 3 / 8
    assert PL.bubble_ratio(PL.DUALPIPE, 1, 8) == 0
    assert PL.bubble_ratio(PL.DUALPIPE, 4, 8) == 2 / 24
    assert PL.micro_batches_in_flight(PL.INTERLEAVED, 4, 16) == 4  # 1F1B's p, not 1F1B's warm-up doubled


def test_goodput_with_checkpoints_faster_than_a_second():
    # C = 1 us, MTBF = 1 s: tau = sqrt(2e-6) = 1.414 ms; no restart cost
    tau = math.sqrt(2 * 1e-6 * 1.0)
    assert goodput(1e-6, 0.0, 1.0) == pytest.approx(1 / (1 + 1e-6 / tau + (tau / 2) / 1.0), rel=1e-12)


def test_speculative_decoding_with_every_draft_accepted():
    # acceptance 1: every one of d drafts is taken, plus the verified token: d + 1
    assert accepted_tokens_per_step(3, 1.0) == pytest.approx(4, rel=1e-9)
    assert accepted_tokens_per_step(3, 0.5) == pytest.approx(1 + 0.5 + 0.25 + 0.125, rel=1e-12)
    assert accepted_tokens_per_step(0, 0.9) == pytest.approx(1, rel=1e-12)


def test_cost_per_million_tokens():
    # 8 accelerators at $2/h make 1,000 tokens/s: $16/h over 3.6M tokens/h = $4.44 per million
    assert cost_per_million_tokens_usd(8, 2.0, 1000.0) == pytest.approx(16 / 3.6, rel=1e-12)


def test_logits_per_micro_batch():
    # FP32 logits of 2 sequences of 4,096 tokens over a 32,000-word vocabulary, split over 4 ranks
    assert logits_bytes(4096, 2, 32000, 4) == 4096 * 2 * 32000 * 4 / 4


def test_smallest_data_parallel_with_less_than_a_byte_of_room():
    # nothing to shard needs one replica, however little room is left
    assert smallest_data_parallel(0.0, 0.0, 0.5, 1) == 1


def test_recomputed_modules_keep_the_dispatched_copies_at_their_precision():
    """`modules` recomputation (DeepSeek-V3 sec. 3.2.3): per s*b*h, 6 (norm inputs recomputed) + A + M'
    + k x b_dispatch. Hand-made s 16, b 1, h 8, a 4, q = kv = 8 (A = 8), plain FFN of 32 (M' = 2 x 4 = 8),
    top-3 routing dispatched in FP8 (1 byte): 6 + 8 + 8 + 3 = 25; in bf16 (2 bytes): 6 + 8 + 8 + 6 = 28."""
    sbh = 16 * 1 * 8
    fp8 = activation_bytes_per_layer(16, 1, 8, 4, 8, 8, 32, False, 1, False, "modules", 3, dispatch_bytes=1.0)
    assert fp8 == sbh * 25
    bf16 = activation_bytes_per_layer(16, 1, 8, 4, 8, 8, 32, False, 1, False, "modules", 3, dispatch_bytes=2.0)
    assert bf16 == sbh * 28
