"""qwenfeas.formulas.params against counts worked out by hand from published config.json files.

Every expected value is arithmetic written out in the test from the named model's Hugging Face
config.json (the field names are given where they differ from qwenfeas's); the totals are also
checked against the count the model's authors state. Each function is also called with numpy
arrays, since sweeps broadcast it.
"""

from __future__ import annotations

import numpy as np
import pytest

from qwenfeas.formulas.params import (
    attention_params,
    ffn_params,
    linear_attention_params,
    mla_attention_params,
    moe_ffn_params,
    transformer_params,
)

# Qwen2.5-7B config.json: hidden_size 3584, num_attention_heads 28, num_key_value_heads 4,
# head dim 3584 / 28 = 128, intermediate_size 18944, num_hidden_layers 28, vocab_size 152064,
# tie_word_embeddings false; Qwen2 layers have a bias on q_proj, k_proj and v_proj (not o_proj).
QWEN25_7B_ATTENTION = (3584 * 3584            # q_proj weight
                       + 2 * 3584 * 4 * 128   # k_proj, v_proj weights
                       + 3584 * 3584          # o_proj weight
                       + 3584 + 2 * 4 * 128)  # q_proj bias (28 x 128) + k_proj, v_proj biases (4 x 128 each)


def test_qkv_bias_covers_the_query_heads_and_both_key_and_value_heads():
    # 12,845,056 + 3,670,016 + 12,845,056 + 4,608 = 29,364,736
    assert attention_params(3584, 28, 4, 128, qkv_bias=True) == QWEN25_7B_ATTENTION
    assert attention_params(3584, 28, 4, 128, qkv_bias=True) - attention_params(3584, 28, 4, 128) == 4608


def test_qwen25_7b_total_is_its_exact_published_count():
    """Qwen2.5-7B's safetensors hold 7,615,616,512 parameters (the model card's "7.61B"; 6.53B
    non-embedding): the QKV biases' 4,608 per layer are part of that exact count."""
    layer_ffn = 3 * 3584 * 18944
    total = transformer_params(embedding=152064 * 3584, tied=False, layers=28, attention=28 * QWEN25_7B_ATTENTION,
                               dense_layers=28, dense_ffn=layer_ffn, moe_layers=0, moe_ffn=0, hidden=3584)
    assert total == 7_615_616_512


def test_qk_norm_adds_two_head_width_weight_vectors():
    # Qwen3-8B config.json: hidden 4096, 32 heads, 8 KV heads, head_dim 128, q_norm and k_norm (128 each).
    assert attention_params(4096, 32, 8, 128, qk_norm=True) == 4096 * 128 * (32 + 8 + 8 + 32) + 2 * 128


def test_gated_attention_doubles_the_query_projection():
    # Qwen3-Next-80B-A3B config.json: hidden 2048, 16 heads, 2 KV heads, head_dim 256; q_proj emits
    # the query and its output gate (2 x 16 x 256), plus q_norm/k_norm of 256 each.
    q_proj, kv_proj, o_proj = 2048 * 2 * 16 * 256, 2 * 2048 * 2 * 256, 16 * 256 * 2048
    assert attention_params(2048, 16, 2, 256, qk_norm=True, output_gate=True) == q_proj + kv_proj + o_proj + 512


def test_grouped_query_attention_without_extras_llama2_70b():
    # Llama-2-70B: hidden 8192, 64 heads, 8 KV heads, head 128: 150,994,944 per layer.
    assert attention_params(8192, 64, 8, 128) == 8192 * 8192 + 2 * 8192 * 8 * 128 + 8192 * 8192


def test_attention_params_broadcast_over_arrays():
    kv_heads = np.array([1, 4, 28])
    got = attention_params(3584, 28, kv_heads, 128, qkv_bias=True)
    expected = [3584 * 128 * (2 * 28 + 2 * k) + (28 + 2 * k) * 128 for k in (1, 4, 28)]
    assert got.tolist() == expected


def test_gated_deltanet_block_of_qwen3_next():
    """Qwen3-Next-80B-A3B: linear_num_key_heads 16, linear_num_value_heads 32, head dims 128 and 128,
    linear_conv_kernel_dim 4, hidden 2048. Key width K = 2048, value width V = 4096."""
    in_proj_qkvz = 2048 * (2 * 2048 + 2 * 4096)  # q, k (K each), v and the output gate z (V each)
    in_proj_ba = 2048 * 2 * 32                   # beta and the decay input, one per value head
    conv1d = (2 * 2048 + 4096) * 4               # depthwise over q, k, v channels, no bias
    dt_bias_and_a_log = 2 * 32
    norm = 128
    out_proj = 4096 * 2048
    # 25,165,824 + 131,072 + 32,768 + 64 + 128 + 8,388,608 = 33,718,464
    assert linear_attention_params(2048, 16, 32, 128, 128, 4) == \
        in_proj_qkvz + in_proj_ba + conv1d + dt_bias_and_a_log + norm + out_proj


def test_gated_deltanet_keeps_key_and_value_widths_apart():
    """Hand-made widths, all different, so that swapping any two arguments changes the count:
    hidden 100, 2 key heads of 3, 5 value heads of 7, kernel 11 -> K = 6, V = 35."""
    expected = 100 * (12 + 70) + 100 * 10 + (12 + 35) * 11 + 10 + 7 + 35 * 100
    assert linear_attention_params(100, 2, 5, 3, 7, 11) == expected


def test_mla_of_deepseek_v3():
    """DeepSeek-V3 config: hidden 7168, 128 heads, qk_nope_head_dim 128, qk_rope_head_dim 64,
    v_head_dim 128, kv_lora_rank 512, q_lora_rank 1536."""
    query = 7168 * 1536 + 1536 + 1536 * 128 * (128 + 64)
    key_value = 7168 * (512 + 64) + 512 + 512 * 128 * (128 + 128)
    output = 128 * 128 * 7168
    assert mla_attention_params(7168, 128, 128, 64, 128, 512, 1536) == query + key_value + output


def test_mla_keeps_every_width_apart_and_projects_the_query_directly_without_a_query_rank():
    """Hand-made widths (DeepSeek's own configs have d_nope = d_v, which would hide a swap):
    hidden 1000, 10 heads, d_nope 30, d_rope 7, d_v 20, r_kv 50; with r_q = 0 (DeepSeek-V2-Lite has
    q_lora_rank null) the query is one h x n x (d_nope + d_rope) projection."""
    key_value = 1000 * (50 + 7) + 50 + 50 * 10 * (30 + 20)
    output = 10 * 20 * 1000
    assert mla_attention_params(1000, 10, 30, 7, 20, 50, 0) == 1000 * 10 * 37 + key_value + output
    low_rank_query = 1000 * 60 + 60 + 60 * 10 * 37
    assert mla_attention_params(1000, 10, 30, 7, 20, 50, 60) == low_rank_query + key_value + output
    ranks = np.array([0, 60])
    assert mla_attention_params(1000, 10, 30, 7, 20, 50, ranks).tolist() == [
        1000 * 10 * 37 + key_value + output, low_rank_query + key_value + output]


def test_ffn_gated_and_plain():
    # Llama-2-70B SwiGLU: gate, up, down of 8192 x 28672. GPT-3 175B: up and down of 12288 x 49152.
    assert ffn_params(8192, 28672) == 3 * 8192 * 28672  # 704,643,072
    assert ffn_params(12288, 49152, gated=False) == 2 * 12288 * 49152


def test_moe_layer_of_qwen2_57b_a14b_with_a_gated_shared_expert():
    """Qwen2-57B-A14B config: hidden 3584, 64 experts, 8 per token, moe_intermediate_size 2560,
    one shared expert of shared_expert_intermediate_size 20480 behind a sigmoid gate (3584 -> 1)."""
    router, expert, shared, gate = 3584 * 64, 3 * 3584 * 2560, 3 * 3584 * 20480, 3584
    every, active = moe_ffn_params(3584, 64, 8, 1, 2560, 20480, shared_gate=True)
    assert every == router + 64 * expert + shared + gate
    assert active == router + 8 * expert + shared + gate


def test_moe_layer_of_qwen3_30b_a3b_has_no_shared_expert():
    # Qwen3-30B-A3B: hidden 2048, 128 experts, 8 per token, moe_intermediate_size 768.
    every, active = moe_ffn_params(2048, 128, 8, 0, 768, 0)
    assert (every, active) == (2048 * 128 + 128 * 3 * 2048 * 768, 2048 * 128 + 8 * 3 * 2048 * 768)


def test_moe_layer_with_plain_experts():
    # Hand-made: hidden 10, 4 experts of width 3, top 2, two plain (2-matrix) shared experts of 5.
    assert moe_ffn_params(10, 4, 2, 2, 3, 5, gated=False) == (40 + 4 * 60 + 2 * 100, 40 + 2 * 60 + 2 * 100)


def test_transformer_total_tied_and_untied():
    # Qwen3-0.6B (tie_word_embeddings true): vocab 151936, hidden 1024, 28 layers, 16 heads,
    # 8 KV heads, head_dim 128, QK-norm, FFN 3072. One embedding matrix serves as the LM head.
    attention = 1024 * 128 * (2 * 16 + 2 * 8) + 2 * 128
    ffn = 3 * 1024 * 3072
    tied = transformer_params(151936 * 1024, True, 28, 28 * attention, 28, ffn, 0, 0, 1024)
    assert tied == 151936 * 1024 + 28 * (attention + ffn + 2 * 1024) + 1024  # 596,049,920: the stated "0.6B"
    untied = transformer_params(151936 * 1024, False, 28, 28 * attention, 28, ffn, 0, 0, 1024)
    assert untied - tied == 151936 * 1024


def test_transformer_total_counts_dense_and_moe_layers_apart():
    # DeepSeek-V3: 3 dense layers (FFN 18432) and 58 MoE layers; hand-made round stand-ins for the
    # blocks keep the arithmetic visible: embedding 100, attention 7 for all, dense FFN 11, MoE FFN 13.
    total = transformer_params(100, False, 61, 7, 3, 11, 58, 13, 5)
    assert total == 2 * 100 + 7 + 61 * 2 * 5 + 3 * 11 + 58 * 13 + 5
    counts = transformer_params(100, np.array([False, True]), 61, 7, 3, 11, 58, 13, 5)
    assert counts.tolist() == [total, total - 100]


@pytest.mark.parametrize("hidden", [3584, 4096])
def test_attention_params_scale_linearly_in_hidden_for_fixed_heads(hidden):
    # Every weight matrix has one side of length hidden; the biases and norms do not.
    base = attention_params(hidden, 28, 4, 128, qkv_bias=True, qk_norm=True)
    assert attention_params(2 * hidden, 28, 4, 128, qkv_bias=True, qk_norm=True) - base == \
        hidden * 128 * (2 * 28 + 2 * 4)
