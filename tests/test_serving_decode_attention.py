"""Decode attention that reads the KV cache once per query head (TensorRT-LLM before XQA) against hand arithmetic.

TensorRT-LLM release/0.5.0 (@ 11e14500) launches its masked multi-head attention kernel on a grid of
num_heads x batch thread blocks; block hi streams the K and V of KV head hi / (n_q / n_kv) for every cached
token. A GQA model with g = n_q / n_kv query heads per KV head therefore reads its cache g times a step;
XQA (v0.7+) gives each KV head's group one pass. Llama 2 70B's published config (meta-llama/Llama-2-70b-hf
config.json: 80 layers, 64 attention heads, 8 key-value heads, hidden 8192, so head dim 128) gives g = 8.
"""

from __future__ import annotations

import pytest

LLAMA2_70B = ("model: {preset: llama-2-70b}\ncontext: 2176\nprecision: {weights: fp8, kv_cache: fp8, compute: fp8}\n"
              "hardware: {preset: h200, count: 2}\nserving_layout: {tensor: 2, replicas: 1}\n"
              "inference: {prompt_tokens: 128, output_tokens: 2048, batch: 512")


def test_each_rank_reads_its_kv_heads_once_grouped_and_once_per_query_head_otherwise():
    # Llama 2 70B: 64 query heads, 8 KV heads. One rank (t = 1) holds all 8 KV heads: grouped it reads the
    # cache once, per query head 64 / 8 = 8 times. Two ranks: half the cache each, grouped 1/2; per query
    # head each rank's 32 query heads read 1/8 of the cache each = 4. Sixteen ranks: KV heads replicated,
    # each rank holds 1 of 8 (1/8 of the cache) and its 64 / 16 = 4 query heads read it 4 times = 1/2.
    import numpy as np

    from qwenfeas.formulas import serving as S

    assert S.decode_kv_read_share(1, 8, 64, False) == 1.0
    assert S.decode_kv_read_share(1, 8, 64, True) == 8.0
    assert S.decode_kv_read_share(2, 8, 64, False) == 0.5
    assert S.decode_kv_read_share(2, 8, 64, True) == 4.0
    assert S.decode_kv_read_share(16, 8, 64, False) == 1 / 8
    assert S.decode_kv_read_share(16, 8, 64, True) == 0.5
    # multi-head attention (n_q = n_kv): one query head per KV head, both kernels read the cache once
    assert S.decode_kv_read_share(4, 32, 32, True) == S.decode_kv_read_share(4, 32, 32, False) == 1 / 4
    assert np.allclose(S.decode_kv_read_share(np.array([1.0, 2.0, 16.0]), 8, 64, np.array([True, False, True])),
                       [8.0, 0.5, 0.5])


def test_llama2_70b_on_two_h200_reads_its_fp8_cache_eight_times_per_step_without_xqa(run):
    # FP8 cache: 80 layers x 2 (K, V) x 8 heads x 128 x 1 B = 163,840 B a token. With 128-token prompts the
    # t-th of 2048 outputs attends 128 + t keys: 128 + 2047 / 2 + 1 = 1152.5 on average. Batch 512 on TP2:
    # grouped, each rank reads half of 512 sequences' caches; per query head, its 32 query heads each read
    # their KV head's eighth: 4 caches' worth, 8x the grouped read. Both at 0.90 of H200's 4.8 TB/s
    # (FlashMLA's share, the default decode-attention rate); memory-bound (the attention FLOPs,
    # 2 x 80 x 64 x 256 x 1152.5 x 512 / 2 = 7.7e11, take 1.2 ms at 0.67 of 989 TFLOP/s).
    cache = 512 * 80 * 2 * 8 * 128 * 1 * (128 + (2048 - 1) / 2 + 1)
    grouped, per_head = run(LLAMA2_70B + "}\n"), run(LLAMA2_70B + ", decode_attention: per-query-head}\n")
    assert grouped.terms["decode_attention_seconds"].value == pytest.approx(cache / 2 / (4.8e12 * 0.90), rel=1e-3)
    assert per_head.terms["decode_attention_seconds"].value == pytest.approx(
        cache * 64 / (8 * 2) / (4.8e12 * 0.90), rel=1e-3)
    # only the attention phase changes: the weights, collectives and the kernel floor are the same
    for part in ("weights", "tensor_collectives", "elementwise", "kernels"):
        assert per_head.terms[f"decode_{part}_seconds"].value == grouped.terms[f"decode_{part}_seconds"].value
    assert per_head["inference.step_seconds"] - grouped["inference.step_seconds"] == pytest.approx(
        cache * (4 - 0.5) / (4.8e12 * 0.90), rel=1e-3)
    # the cache held is the same: the kernel reads it more often, it does not store more of it
    assert per_head["inference.max_batch"] == grouped["inference.max_batch"]


def test_mla_reads_its_shared_latent_once_whatever_the_kernel_setting(run):
    # MLA decode kernels attend in the absorbed latent space (FlashMLA): all 128 query heads of a token
    # read the one 576-wide latent together, so a per-query-head setting has nothing to multiply.
    base = ("model: {preset: deepseek-v3}\ncontext: 2048\nprecision: {weights: fp8, kv_cache: fp8, compute: fp8}\n"
            "hardware: {preset: h200, count: 8}\nserving_layout: {tensor: 8, replicas: 1}\n"
            "inference: {prompt_tokens: 1024, output_tokens: 1024, batch: 64")
    grouped, per_head = run(base + "}\n"), run(base + ", decode_attention: per-query-head}\n")
    assert per_head.terms["decode_attention_seconds"].value == grouped.terms["decode_attention_seconds"].value


def test_an_unknown_decode_attention_kernel_is_refused_with_its_choices(write):
    import qwenfeas
    from qwenfeas.errors import QwenfeasError

    path = write(LLAMA2_70B + ", decode_attention: xqa}\n")
    with pytest.raises(QwenfeasError) as caught:
        qwenfeas.load(path)
    message = str(caught.value)
    assert "decode_attention" in message and "grouped" in message and "per-query-head" in message
