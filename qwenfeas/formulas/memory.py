"""Bytes held in accelerator memory: weights and the KV cache."""

from __future__ import annotations

from ._array import ceil, maximum


def kv_cache_bytes_per_token(layers, kv_heads, head_dim, bytes_per_value):
    """KV cache one token adds, all layers, for MHA / GQA / MQA.

    Formula: 2 * L * n_kv * d * b   (a key and a value vector per KV head per layer)
    Convention: d is the model's head_dim (not h/n_q); b is the KV-cache
    precision in bytes. No paging overhead, no replication across tensor-parallel ranks.
    Source: Pope et al. 2022, "Efficiently Scaling Transformer Inference", sec. 2;
    Ainslie et al. 2023 (GQA). Llama-2-70B at bf16: 2*80*8*128*2 = 327,680 B.
    """
    return 2 * layers * kv_heads * head_dim * bytes_per_value


def mla_kv_cache_bytes_per_token(layers, kv_lora_rank, rope_head_dim, bytes_per_value):
    """KV cache one token adds, all layers, for multi-head latent attention.

    Formula: L * (r_kv + d_rope) * b   (one shared latent and one RoPE key per layer, no x2)
    Convention: the compressed cache that MLA inference engines keep.
    Source: DeepSeek-V2, arXiv 2405.04434, sec. 2.1.4 and Table 1.
    DeepSeek-V3 at bf16: 61*(512 + 64)*2 = 70,272 B.
    """
    return layers * (kv_lora_rank + rope_head_dim) * bytes_per_value


def linear_attention_state_bytes(layers, key_heads, value_heads, key_head_dim, value_head_dim, conv_kernel,
                                 bytes_per_value):
    """Recurrent state one sequence keeps in linear-attention layers, whatever its length.

    Formula: L_lin * (n_v*d_k*d_v + (2*n_k*d_k + n_v*d_v)*(kernel - 1)) * b
             (the delta-rule state, plus the short convolution's last kernel-1 inputs)
    Convention: b is precision.state (fp32 by default, as serving engines keep it).
    Source: Yang et al. 2024, "Gated Delta Networks" (arXiv 2412.06464); Qwen3-Next-80B-A3B:
    36 * (32*128*128 + 8192*3) = 19,759,104 values, 75.4 MiB at fp32.
    """
    conv_channels = 2 * key_heads * key_head_dim + value_heads * value_head_dim
    return layers * (value_heads * key_head_dim * value_head_dim + conv_channels * (conv_kernel - 1)) \
        * bytes_per_value


def weights_bytes(params, bytes_per_param):
    """Bytes of `params` weights stored at one precision.

    Formula: N * b
    Convention: b is the precision's bytes per value; for fp4 (NVFP4, +12.5%) and
    mxfp4 (+6.25%) it holds the block scales (formulas.accelerators.block_scaled_bytes);
    padding and 8-bit formats' block scales (MXFP8: +3.1%) are not counted.
    Source: definition.
    """
    return params * bytes_per_param


def floor_div(numerator, denominator):
    """Whole units of `denominator` in `numerator`, at least zero.

    Formula: max(floor(numerator / denominator), 0)
    Source: definition.
    """
    return maximum(-ceil(-numerator / denominator), 0.0) + 0.0  # + 0.0 turns -0.0 into 0.0


def accelerators_to_hold(total_bytes, memory_per_accelerator):
    """The fewest accelerators whose memory together holds `total_bytes`.

    Formula: ceil(bytes / usable memory per accelerator)
    Convention: perfect sharding over usable memory (capacity less hardware.memory_reserve);
    replication of KV heads across tensor-parallel ranks is not counted, so this is a lower bound.
    Source: definition.
    """
    return ceil(total_bytes / memory_per_accelerator)
