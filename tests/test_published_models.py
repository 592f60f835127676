"""Parameter counts and KV cache against published architectures, computed by hand here.

Each expected value is written out from the model's published config, term by
term, so a reader can check it with a calculator. Sources:
- Llama-2-70B: Touvron et al. 2023, Table 1; meta-llama/Llama-2-70b-hf config.json
  (80 layers, hidden 8192, 64 heads, 8 KV heads, FFN 28672, vocab 32000, untied).
- DeepSeek-V3: deepseek-ai/DeepSeek-V3 inference/configs/config_671B.json
  (61 layers, hidden 7168, 128 heads, q_lora 1536, kv_lora 512, nope 128, rope 64,
  v 128, 256 experts x 2048, top-8, 1 shared, 3 dense layers of 18432, vocab 129280).
- Qwen3-235B-A22B: Qwen3 Technical Report Table 2; Qwen/Qwen3-235B-A22B config.json
  (94 layers, hidden 4096, 64 heads, 4 KV heads, head_dim 128, 128 experts x 1536,
  top-8, vocab 151936, untied, QK-norm).
"""

from __future__ import annotations

import pytest

LLAMA2_70B_BY_HAND = """
model:
  layers: 80
  hidden: 8192
  heads: 64
  kv_heads: 8
  head_dim: 128
  ffn_hidden: 28672
  vocab: 32000
  tied_embeddings: false
context: 4096
tokens: 2T
hardware: {preset: a100-sxm-80gb, count: 2048}
"""

# Llama-2-70B, per layer:
#   attention  q 8192*8192 + k,v 2*8192*(8*128) + o 8192*8192 = 150,994,944
#   SwiGLU FFN 3*8192*28672                                   = 704,643,072
#   2 RMSNorms 2*8192                                         =      16,384
#   layer                                                     = 855,654,400
# whole: 80 layers 68,452,352,000 + embedding and LM head 2*32000*8192 = 524,288,000
#        + final norm 8,192                                   = 68,976,648,192
LLAMA2_70B_PARAMS = 80 * (2 * 8192 * 8192 + 2 * 8192 * 8 * 128 + 3 * 8192 * 28672 + 2 * 8192) \
    + 2 * 32000 * 8192 + 8192


def test_llama2_70b_parameters_match_the_published_count(run):
    report = run(LLAMA2_70B_BY_HAND)
    assert report["model.params"] == LLAMA2_70B_PARAMS
    assert report["model.params"] == pytest.approx(68.98e9, rel=0.005)
    assert report["model.active_params"] == LLAMA2_70B_PARAMS  # dense: every weight is used
    assert report["model.non_embedding_params"] == LLAMA2_70B_PARAMS - 2 * 32000 * 8192


def test_llama2_70b_kv_cache_is_327680_bytes_per_token_at_bf16(run):
    # 2 (K and V) * 80 layers * 8 KV heads * 128 * 2 bytes
    report = run(LLAMA2_70B_BY_HAND)
    assert report["kv_cache.bytes_per_token"] == 2 * 80 * 8 * 128 * 2  # 327,680
    assert report["kv_cache.bytes_per_sequence"] == 327_680 * 4096


def test_llama2_70b_training_flops_is_6nd_without_the_attention_term(run):
    report = run(LLAMA2_70B_BY_HAND)
    # 6ND with N the weights a token multiplies: the input embedding is a lookup.
    assert report["training.flops"] == 6 * (LLAMA2_70B_PARAMS - 32000 * 8192) * 2e12
    assert report["training.flops"] == pytest.approx(6 * 68.98e9 * 2e12, rel=0.005)
    assert report["training.attention_flops"] == 0


def test_preset_and_hand_written_architecture_agree(run):
    by_hand = run(LLAMA2_70B_BY_HAND)
    preset = run("model: {preset: llama-2-70b}\ncontext: 4096\ntokens: 2T\n"
                 "hardware: {preset: a100-sxm-80gb, count: 2048}\n")
    assert preset.values() == by_hand.values()
    assert preset["model.params"] == LLAMA2_70B_PARAMS  # and both are the count worked out above


def test_deepseek_v3_mla_cache_and_parameters(run):
    report = run("model: {preset: deepseek-v3}\ncontext: 128K\nhardware: {preset: h100-sxm}\n")
    # MLA caches one latent (512) and one RoPE key (64) per layer, no factor 2: 61*576*2 bytes.
    assert report["kv_cache.bytes_per_token"] == 61 * (512 + 64) * 2  # 70,272
    mla = (7168 * 1536 + 1536 + 1536 * 128 * (128 + 64)     # query: down, norm, up
           + 7168 * (512 + 64) + 512 + 512 * 128 * (128 + 128)  # KV: down (+RoPE key), norm, up
           + 128 * 128 * 7168)                                 # output
    expert = 3 * 7168 * 2048
    moe_all = 7168 * 256 + 256 * expert + expert      # router + 256 routed + 1 shared
    moe_active = 7168 * 256 + 8 * expert + expert     # router + top-8 + 1 shared
    common = 2 * 129280 * 7168 + 61 * (mla + 2 * 7168) + 3 * 3 * 7168 * 18432 + 7168
    assert report["model.params"] == common + 58 * moe_all  # 671,026,404,352
    assert report["model.params"] == pytest.approx(671e9, rel=0.015)   # "671B" (V3 report)
    assert report["model.active_params"] == common + 58 * moe_active  # 37,552,282,624
    assert report["model.active_params"] == pytest.approx(37e9, rel=0.02)  # "37B activated"


def test_qwen3_235b_a22b_keeps_head_dim_128_apart_from_hidden_over_heads(run):
    report = run("model: {preset: qwen3-235b-a22b}\ncontext: 100M\nhardware: {preset: b200}\n")
    # 2 * 94 layers * 4 KV heads * 128 * 2 bytes; hidden/heads would give 64 and half this.
    assert report["kv_cache.bytes_per_token"] == 2 * 94 * 4 * 128 * 2  # 192,512
    # 100M tokens of context: 19.25 TB for one sequence.
    assert report["kv_cache.bytes_per_sequence"] == 192_512 * 100e6
    attention = 4096 * 64 * 128 * 2 + 2 * 4096 * 4 * 128 + 2 * 128  # q, o + k, v + QK-norm
    expert = 3 * 4096 * 1536
    layer_all = attention + 2 * 4096 + 4096 * 128 + 128 * expert
    layer_active = attention + 2 * 4096 + 4096 * 128 + 8 * expert
    outer = 2 * 151936 * 4096 + 4096
    assert report["model.params"] == 94 * layer_all + outer  # 235,093,634,560
    assert report["model.active_params"] == 94 * layer_active + outer  # 22,190,763,520
    assert report["model.params"] == pytest.approx(235e9, rel=0.015)
    assert report["model.active_params"] == pytest.approx(22e9, rel=0.015)


def test_mqa_and_mha_kv_heads(run):
    base = "model: {layers: 2, hidden: 256, heads: 4, ffn_hidden: 512, vocab: 100, attention: {kind: %s}}\n" \
           "context: 10\nhardware: {preset: h100-sxm}\n"
    assert run(base % "mha")["kv_cache.bytes_per_token"] == 2 * 2 * 4 * 64 * 2
    assert run(base % "mqa")["kv_cache.bytes_per_token"] == 2 * 2 * 1 * 64 * 2


def test_tied_embeddings_count_the_matrix_once_and_as_the_lm_head(run):
    # Qwen3-0.6B (config.json): 28 layers, hidden 1024, 16 heads, 8 KV heads, head_dim 128,
    # FFN 3072, vocab 151936, tied. Stated: 0.6B total, 0.44B non-embedding (Qwen3 report Table 1).
    report = run("""
        model: {layers: 28, hidden: 1024, heads: 16, kv_heads: 8, head_dim: 128, ffn_hidden: 3072,
                vocab: 151936, tied_embeddings: true, qk_norm: true}
        context: 32K
        hardware: {preset: h100-sxm}
    """)
    layer = 1024 * 128 * (2 * 16 + 2 * 8) + 2 * 128 + 3 * 1024 * 3072 + 2 * 1024
    assert report["model.params"] == 28 * layer + 151936 * 1024 + 1024
    assert report["model.params"] == pytest.approx(0.6e9, rel=0.015)
    assert report["model.non_embedding_params"] == pytest.approx(0.44e9, rel=0.01)
    assert report["model.matmul_params"] == report["model.active_params"]  # the matrix is the LM head
