"""Parameter counts of decoder-only transformers from their architecture."""

from __future__ import annotations

from ._array import where


def attention_params(hidden, heads, kv_heads, head_dim, qkv_bias=False, qk_norm=False, output_gate=False):
    """Weights of one multi-head / grouped-query / multi-query attention block.

    Formula: h*n_q*d (Q) + 2*h*n_kv*d (K, V) + n_q*d*h (output)
             [+ h*n_q*d output gate] [+ (n_q + 2*n_kv)*d with QKV bias] [+ 2*d with QK-norm]
    Convention: MHA has n_kv = n_q, MQA n_kv = 1. The head width d is its own
    key, not h/n_q: Qwen3 models use d = 128 with n_q*d != h. A gated
    attention's query projection also emits the gate, doubling its size.
    Source: Vaswani et al. 2017, sec. 3.2.2; Ainslie et al. 2023 (GQA);
    Qwen2.5, Qwen3 and Qwen3-Next config.json (attention bias, head_dim, q/k RMSNorm, gate).
    """
    weights = hidden * head_dim * ((2 + output_gate) * heads + 2 * kv_heads)
    return weights + qkv_bias * (heads + 2 * kv_heads) * head_dim + qk_norm * 2 * head_dim


def linear_attention_params(hidden, key_heads, value_heads, key_head_dim, value_head_dim, conv_kernel):
    """Weights of one Gated DeltaNet (linear attention) block.

    Formula: h*(2*K + 2*V) (q, k, v and output-gate projections) + h*2*n_v (beta and decay)
             + (2*K + V)*kernel (short convolution) + 2*n_v (decay bias, A) + d_v (gated norm)
             + V*h (output), with K = n_k*d_k and V = n_v*d_v
    Convention: as in Qwen3-Next's Gated DeltaNet layers.
    Source: Yang et al. 2024, "Gated Delta Networks" (arXiv 2412.06464); Hugging Face
    transformers configuration_qwen3_next.py and modeling_qwen3_next.py.
    """
    keys, values = key_heads * key_head_dim, value_heads * value_head_dim
    return (hidden * (2 * keys + 2 * values) + hidden * 2 * value_heads + (2 * keys + values) * conv_kernel
            + 2 * value_heads + value_head_dim + values * hidden)


def lightning_attention_params(hidden, heads, head_dim):
    """Weights of one lightning-attention (linear attention) block of MiniMax-01 / MiniMax-M1.

    Formula: h*3*n*d (q, k, v) + h*n*d (sigmoid output gate) + n*d*h (output) + n*d (output RMSNorm)
    Convention: no short convolution and no learned decay (the decay is a fixed per-head
    slope); biases none.
    Source: MiniMax, "MiniMax-01: Scaling Foundation Models with Lightning Attention"
    (arXiv 2501.08313) sec. 2.2; MiniMax-M1 config.json and modeling_minimax_m1.py
    (qkv_proj, output_gate, out_proj, norm). Checked: MiniMax-M1 456.1B total vs 456B stated.
    """
    width = heads * head_dim
    return 5 * hidden * width + width


def kda_params(hidden, heads, head_dim, conv_kernel, full_rank_gate=False):
    """Weights of one Kimi Delta Attention (KDA) block.

    Formula: 3*h*n*d (q, k, v) + 3*n*d*kernel (short convolutions) + h*d + d*n*d (low-rank
             channel-wise decay gate) + h*n (beta) + output gate (h*d + d*n*d, or h*n*d full
             rank) + n + n*d (A_log, dt_bias) + d (gated output norm) + n*d*h (output)
    Convention: one head count for keys and values (KDA has no grouped heads); the decay
    gate's rank is the head width, as in Kimi Linear.
    Source: Kimi Team, "Kimi Linear: An Expressive, Efficient Attention Architecture"
    (arXiv 2510.26692) sec. 3; moonshotai/Kimi-Linear-48B-A3B modeling_kimi.py (q/k/v_proj,
    q/k/v_conv1d, f_a/f_b_proj, b_proj, g_a/g_b_proj, A_log, dt_bias, o_norm, o_proj).
    """
    width = heads * head_dim
    gate = where(full_rank_gate, hidden * width, hidden * head_dim + head_dim * width)
    return (3 * hidden * width + 3 * width * conv_kernel + hidden * head_dim + head_dim * width + hidden * heads
            + gate + heads + width + head_dim + width * hidden)


def mla_attention_params(hidden, heads, nope_head_dim, rope_head_dim, v_head_dim, kv_lora_rank, q_lora_rank,
                         output_gate=False):
    """Weights of one multi-head latent attention (MLA) block.

    Formula: Q:  h*r_q + r_q + r_q*n*(d_nope + d_rope)   (h*n*(d_nope + d_rope) when r_q = 0)
             KV: h*(r_kv + d_rope) + r_kv + r_kv*n*(d_nope + d_v)
             O:  n*d_v*h   [+ h*n*d_v for a sigmoid output gate]
    Convention: the "+ r_q" and "+ r_kv" terms are the RMSNorms on the
    compressed query and KV latents. The output gate (Kimi K3's MLA) is one full-rank
    projection of the hidden state, as in gated attention.
    Source: DeepSeek-AI, "DeepSeek-V2", arXiv 2405.04434, sec. 2.1;
    DeepSeek-V3 inference/configs/config_671B.json; Qiu et al. 2025, "Gated Attention for
    Large Language Models" (arXiv 2505.06708) for the gate.
    """
    qk_dim = nope_head_dim + rope_head_dim
    query = where(q_lora_rank > 0, hidden * q_lora_rank + q_lora_rank + q_lora_rank * heads * qk_dim,
                  hidden * heads * qk_dim)
    key_value = hidden * (kv_lora_rank + rope_head_dim) + kv_lora_rank + kv_lora_rank * heads * (nope_head_dim + v_head_dim)
    return query + key_value + (1 + output_gate) * heads * v_head_dim * hidden


def ffn_params(hidden, ffn_hidden, gated=True):
    """Weights of one dense feed-forward block.

    Formula: 3*h*f when gated (SwiGLU: gate, up, down), else 2*h*f.
    Convention: no biases (Llama, Qwen, DeepSeek use none).
    Source: Shazeer 2020, "GLU Variants Improve Transformer"; Touvron et al. 2023 (Llama 2).
    """
    return (2 + gated) * hidden * ffn_hidden


def moe_ffn_params(hidden, experts, top_k, shared_experts, expert_ffn_hidden, shared_ffn_hidden, gated=True,
                   shared_gate=False, expert_hidden=None):
    """Weights of one mixture-of-experts FFN layer: (all, used by one token).

    Formula: all    = h*E (router) + E*ffn(r, f_e) + S*ffn(h, f_s) [+ h shared-expert gate]
                      [+ 2*h*r + r: down- and up-projection to a latent width r, and its norm]
             active = the same with k routed experts instead of E
    Convention: the router is counted in both (every token is scored against
    every expert); shared experts are always active. r = h (no latent) unless given.
    Source: Fedus et al. 2022 (Switch Transformer); DeepSeek-AI, "DeepSeekMoE",
    arXiv 2401.06066 (shared experts); Qwen3 Technical Report, Table 2; latent experts as in
    Kimi K3's config.json (routed_expert_hidden_size, latent_moe_use_norm).
    """
    latent = hidden if expert_hidden is None else expert_hidden
    expert = ffn_params(latent, expert_ffn_hidden, gated)
    shared = shared_experts * ffn_params(hidden, shared_ffn_hidden, gated)
    projection = where(latent != hidden, 2 * hidden * latent + latent, 0)
    fixed = hidden * experts + shared + shared_gate * hidden + projection
    return fixed + experts * expert, fixed + top_k * expert


def mtp_params(layers, attention, ffn, hidden):
    """Weights of the multi-token-prediction (MTP) modules, apart from the main model.

    Formula: L_mtp * (attention + FFN + 2h (block norms) + 2h*h (projection of [h; embedding]) + 3h
             (the two input norms and the output norm))
    Convention: each module is one softmax-attention block with the model's FFN (all experts of an
    MoE) and shares the embedding and output head with the main model, which are not counted again.
    Source: DeepSeek-V3 Technical Report (arXiv 2412.19437) sec. 2.2 and README_WEIGHTS.md (11.5B
    unique MTP weights; 11.6B by this formula); Qwen3.5 and GLM-4.5 config.json (mtp_num_hidden_layers,
    num_nextn_predict_layers).
    """
    return layers * (attention + ffn + 2 * hidden + 2 * hidden * hidden + 3 * hidden)


def transformer_params(embedding, tied, layers, attention, dense_layers, dense_ffn, moe_layers, moe_ffn, hidden):
    """Parameters of a whole decoder-only transformer.

    Formula: V*h*(2 if untied else 1) + attention (all layers) + L*2h + L_dense*dense FFN
             + L_moe*MoE FFN + h (final norm)
    Convention: two RMSNorms per layer (before attention, before the FFN), each h
    weights; no positional-embedding weights (RoPE). Pass the MoE layer's
    "all" weights for the total, its "active" weights for the per-token count.
    Source: Touvron et al. 2023 (Llama 2, RMSNorm + RoPE); checked against
    stated counts: Llama-2-70B 68.98e9, Qwen3-235B-A22B 235.09e9 / 22.19e9 active.
    """
    return embedding * (2 - tied) + attention + layers * 2 * hidden + dense_layers * dense_ffn \
        + moe_layers * moe_ffn + hidden
