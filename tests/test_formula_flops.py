"""qwenfeas.formulas.flops against hand arithmetic and brute-force sums.

Attention key counts are checked against an explicit loop over positions (each token attends to
itself and the tokens before it, at most W of them in a sliding-window layer), so the closed forms
in the module are tested against their definition rather than against themselves.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qwenfeas.formulas.flops import (
    attended_keys,
    attention_crossover_tokens,
    attention_flops_per_key,
    forward_flops,
    generation_flops,
    hardware_flops,
    linear_attention_flops_per_token,
    matmul_params,
    training_attention_flops,
    training_dense_flops,
)


def keys_by_loop(start, steps, window=math.inf):
    """Keys attended by tokens at positions start+1 .. start+steps, one by one."""
    return sum(min(position, window) for position in range(start + 1, start + steps + 1))


def test_matmul_params_drop_the_input_embedding_unless_it_is_tied():
    # Llama-2-70B: 68,976,648,192 parameters, untied 32000 x 8192 input embedding (a lookup).
    assert matmul_params(68_976_648_192, 32000 * 8192, False) == 68_976_648_192 - 262_144_000
    # Qwen3-0.6B ties it to the LM head, a real matmul: nothing is dropped.
    assert matmul_params(596_049_920, 151936 * 1024, True) == 596_049_920
    assert matmul_params(10, 3, np.array([False, True])).tolist() == [7, 10]


def test_attention_flops_per_key_counts_scores_and_values_per_query_head():
    # Llama-2-70B: 2 x 80 layers x 64 heads x (128 + 128) = 2,621,440 FLOPs per attended key.
    assert attention_flops_per_key(80, 64, 128, 128) == 2 * 80 * 64 * 256
    # DeepSeek-V3 MLA: Q.K over d_nope + d_rope = 192, the value sum over d_v = 128.
    assert attention_flops_per_key(61, 128, 192, 128) == 2 * 61 * 128 * (192 + 128)
    # hand-made: 2 x 3 layers x 5 heads x (7 + 11) = 540
    assert attention_flops_per_key(3, 5, 7, 11) == 540
    assert attention_flops_per_key(np.array([1, 2]), 1, 1, 1).tolist() == [4, 8]


@pytest.mark.parametrize(("start", "steps", "window"), [
    (0, 10, math.inf),  # a causal prefill: 10 x 11 / 2
    (0, 1, math.inf),
    (5, 3, math.inf),   # three decoded tokens after 5 cached ones
    (0, 10, 4),         # 1 + 2 + 3 + 4 x 7: the window caps positions 4..10
    (2, 5, 4),          # 3 + 4 + 4 + 4 + 4
    (5, 3, 4),          # every position is past the window: 3 x 4
    (3, 1, 4),          # position 4: exactly the window
    (0, 4, 4),          # positions 1..4: the last one reaches the window
    (0, 4, 5),          # the window is never reached
    (100, 0, 8),        # no tokens
])
def test_attended_keys_match_the_loop(start, steps, window):
    assert attended_keys(start, steps, window) == keys_by_loop(start, steps, window)


def test_attended_keys_without_a_window_argument_is_causal():
    assert attended_keys(0, 2048) == 2048 * 2049 / 2
    assert attended_keys(1500, 1000) == keys_by_loop(1500, 1000)


def test_attended_keys_broadcast_over_arrays():
    starts = np.array([0, 2, 5])
    windows = np.array([4.0, 4.0, np.inf])
    assert attended_keys(starts, 5, windows).tolist() == [keys_by_loop(0, 5, 4), keys_by_loop(2, 5, 4),
                                                        keys_by_loop(5, 5)]


def test_linear_attention_state_flops_of_qwen3_next():
    # 36 Gated DeltaNet layers x 32 value heads x 128 x 128 state, 4 passes of 2 FLOPs each.
    assert linear_attention_flops_per_token(36, 32, 128, 128) == 8 * 36 * 32 * 128 * 128
    assert linear_attention_flops_per_token(2, 3, 5, 7) == 8 * 210


def test_crossover_is_where_causal_attention_equals_the_matmuls():
    # Hand-made: N = 1000 weights, a = 10 FLOPs per key: a (C + 1)/2 = 2N at C = 399.
    assert attention_crossover_tokens(1000, 10) == 399
    assert 10 * (attention_crossover_tokens(1000, 10) + 1) / 2 == 2 * 1000
    assert attention_crossover_tokens(np.array([1000, 2000]), 10).tolist() == [399, 799]


def test_forward_flops_are_two_n_per_token_plus_attention():
    # 2 x 1000 x 7 tokens + 10 FLOPs x 28 keys (7 tokens attend to 1..7)
    assert forward_flops(1000, 7, 10, keys_by_loop(0, 7)) == 14_000 + 280


def test_six_nd():
    # Llama-2-70B on 2T tokens: 6 x 68,714,504,192 matmul weights x 2e12 = 8.2457e23 FLOPs.
    assert training_dense_flops(68_714_504_192, 2e12) == 6 * 68_714_504_192 * 2e12
    assert training_dense_flops(np.array([1.0, 2.0]), 3).tolist() == [18.0, 36.0]


def test_training_attention_follows_the_convention():
    # Hand-made: a = 10 FLOPs per key, sequence 8, 1000 tokens; 3 passes (forward + 2x backward).
    assert training_attention_flops(10, 8, 1000, "none") == 0
    assert training_attention_flops(10, 8, 1000, "causal") == 3 * 10 * (9 / 2) * 1000
    assert training_attention_flops(10, 8, 1000, "noncausal") == 3 * 10 * 8 * 1000


def test_sliding_window_training_attention_caps_the_keys_per_token():
    # window 4 over sequences of 8: causal keys 1+2+3+4+4+4+4+4 = 26 per sequence, 26/8 per token;
    # non-causal: every token sees min(8, 4) = 4 keys.
    assert training_attention_flops(10, 8, 1000, "causal", 4) == pytest.approx(3 * 10 * (26 / 8) * 1000, rel=1e-15)
    assert training_attention_flops(10, 8, 1000, "noncausal", 4) == 3 * 10 * 4 * 1000
    assert training_attention_flops(10, 8, 1000, "noncausal", 16) == 3 * 10 * 8 * 1000


def test_training_attention_broadcasts():
    tokens = np.array([1000.0, 2000.0])
    assert training_attention_flops(10, 8, tokens, "none").tolist() == [0.0, 0.0]
    assert training_attention_flops(10, 8, tokens, "causal").tolist() == [135_000.0, 270_000.0]


@pytest.mark.parametrize(("recompute", "factor"), [("none", 1), ("selective", 1), ("full", 4 / 3)])
def test_hardware_flops_add_a_forward_pass_under_full_recomputation(recompute, factor):
    # 6N -> 8N per token with full recomputation (Narayanan et al. 2021, sec. 5.1).
    assert hardware_flops(6e21, recompute) == pytest.approx(6e21 * factor, rel=1e-15)
    assert hardware_flops(6.0, "full") == 8.0


def test_generation_costs_a_prefill_per_sequence():
    # 10,000 generated tokens in sequences of 100 whose forward pass costs 5e6 FLOPs: 100 sequences.
    assert generation_flops(10_000, 5e6, 100) == 100 * 5e6
