"""Floating-point operations of training and inference.

Conventions used throughout: one multiply-add is 2 FLOPs; a token attends to
every earlier token and to itself (causal attention); the backward pass costs
twice the forward pass (Kaplan et al. 2020, sec. 2.1).
"""

from __future__ import annotations

from ._array import maximum, minimum

UNBOUNDED = float("inf")


def matmul_params(active_params, embedding_params, tied):
    """Weights one token multiplies: the active parameters less the input embedding.

    Formula: N_active - V*h (untied embeddings); N_active (tied).
    Convention: the input embedding is a table lookup (no FLOPs) and goes; the LM
    head is a real matmul (2*V*h FLOPs per token) and stays, unlike Kaplan's N,
    which drops both. A tied matrix serves as the LM head, so it stays.
    Source: Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Table 1
    (embedding lookup FLOPs negligible).
    """
    return active_params - embedding_params * (1 - tied)


def attention_flops_per_key(layers, heads, qk_dim, v_dim):
    """Forward FLOPs one query token spends on one token it attends to.

    Formula: 2 * L * n_q * (d_qk + d_v)   (scores Q.K and the weighted sum of V)
    Convention: counted per query head, so GQA/MQA share K/V but not this cost.
    MLA is counted as attention over its decompressed heads (d_qk = d_nope +
    d_rope, d_v); absorbed-weight decode kernels instead work in the latent
    space (more FLOPs per key, fewer bytes).
    Source: PaLM, Chowdhery et al. 2022, Appendix B (the 12*L*H*Q*T term is
    3 passes x this with d_qk = d_v = Q, attending to T keys).
    """
    return 2 * layers * heads * (qk_dim + v_dim)


def attended_keys(start, steps, window=UNBOUNDED):
    """Keys attended by `steps` tokens processed after `start` earlier ones.

    Formula: sum over p = start+1 .. start+steps of min(p, W)
             = steps*start + steps*(steps + 1)/2 when no position exceeds the window W
    Convention: causal attention; each token attends to itself too, and a
    sliding-window layer to at most W tokens. A prefill of C tokens is start = 0,
    steps = C: C*(C + 1)/2, half of the C^2 a non-causal count gives (plus the diagonal).
    Source: arithmetic series; the causal mask of Vaswani et al. 2017, sec. 3.2.3;
    sliding windows: Beltagy et al. 2020 (Longformer), Jiang et al. 2023 (Mistral 7B).
    """
    first = start + 1
    last_inside = minimum(start + steps, window)
    inside = maximum(last_inside - first + 1, 0)  # positions not yet capped by the window
    return inside * (first + last_inside) / 2 + (steps - inside) * minimum(window, start + steps)


def linear_attention_flops_per_token(layers, value_heads, key_head_dim, value_head_dim):
    """Forward FLOPs of the recurrent state of linear-attention layers, per token.

    Formula: 8 * L_lin * n_v * d_k * d_v   (four passes over each d_k x d_v state:
             decay, S.k, the rank-one delta update, S.q; 2 FLOPs each)
    Convention: the recurrent form; chunked training kernels do the same work in
    matmuls. Independent of context length: this is why these layers escape the
    quadratic term. Projections are in the weights (2N).
    Source: Yang et al. 2024, "Gated Delta Networks" (arXiv 2412.06464), recurrent form.
    """
    return 8 * layers * value_heads * key_head_dim * value_head_dim


def attention_crossover_tokens(matmul_params, flops_per_key):
    """Sequence length at which causal attention FLOPs equal the weight matmuls' in a prefill.

    Formula: a * (C + 1)/2 = 2N  =>  C = 4N/a - 1   (a = attention FLOPs per attended key)
    Convention: averaged over a causal prefill or training sequence; one decoded token at
    context C crosses over at half this length (a * (C + 1) = 2N). Sliding-window and
    linear-attention layers are left out of a, which is why hybrid models cross over later.
    Source: Kaplan et al. 2020, sec. 2.1 (attention is negligible while n_ctx < 12 d_model);
    PaLM, Chowdhery et al. 2022, Appendix B.
    Never negative: a given parameter count below what the architecture's embeddings imply
    leaves N <= a/4, and attention then dominates from the first token (0).
    """
    return maximum(4 * matmul_params / flops_per_key - 1, 0.0)


def forward_flops(matmul_params, tokens, flops_per_key, keys):
    """Forward FLOPs for `tokens` tokens that attend to `keys` keys in total.

    Formula: 2 * N * tokens + a * keys   (a = attention FLOPs per key)
    Convention: matmuls with the weights plus attention scores and values; norms,
    activations and softmax are ignored (under 1% at these sizes).
    Source: Chowdhery et al. 2022 (PaLM), Appendix B. (Kaplan et al. 2020, Table 1,
    counts 2*n_layer*n_ctx*d_attn per token, half of this non-causal count.)
    """
    return 2 * matmul_params * tokens + flops_per_key * keys


def training_dense_flops(matmul_params, tokens):
    """Training FLOPs of the weight matmuls: the "6ND" rule.

    Formula: 6 * N * D   (forward 2ND, backward 4ND)
    Convention: attention score FLOPs excluded (see training_attention_flops).
    Source: Kaplan et al. 2020, sec. 2.1; Hoffmann et al. 2022 (Chinchilla), sec. 3.
    """
    return 6 * matmul_params * tokens


def mtp_matmul_params(mtp_active_params, depths, embedding_params):
    """Weights one token multiplies in the multi-token-prediction (MTP) modules, all depths.

    Formula: N_mtp,active + D * V*h   (each depth's block, norms and 2h x h projection, plus one more
             pass of the shared output head; the shared embedding is a lookup, no FLOPs)
    Convention: every depth runs over every token of the sequence (the last k tokens of depth k
             have no target, a 1/T effect, ignored); MTP weights are not in model.params (671B), so
             they are added here, not in model.matmul_params.
    Source: DeepSeek-V3 report (arXiv 2412.19437) sec. 2.2 (depth k: shared embedding, RMSNorms, M_k
    of 2h x h, one transformer block, the shared output head); Megatron-Bridge's model-FLOPs count
    (training/utils/flop_utils.py @ 067f987: mtp_num_layers more layers of the last layer's kind,
    2h^2 + 3h per depth, the logits (mtp_num_layers + 1) times).
    """
    return mtp_active_params + depths * embedding_params


def training_attention_flops(flops_per_key, sequence, tokens, convention, window=UNBOUNDED):
    """Training FLOPs of attention scores, under a stated masking convention.

    Formula: 3 * a * keys_per_token * D, with keys_per_token =
             0 (none), (T + 1)/2 (causal), T (noncausal); T = sequence length,
             each capped by the window W of a sliding-window layer
    Convention: "noncausal" is PaLM's 12*L*H*Q*T per token, which counts the
    masked half too; "causal" counts only the keys a token sees.
    Source: Chowdhery et al. 2022 (PaLM), Appendix B; Narayanan et al. 2021, sec. 5.1.
    """
    if convention == "none":
        return 0.0 * tokens
    if convention == "causal":
        keys_per_token = attended_keys(0, sequence, window) / sequence
    else:
        keys_per_token = minimum(sequence, window)
    return 3 * flops_per_key * keys_per_token * tokens


def hardware_flops(model_flops, recompute):
    """FLOPs the accelerators execute, counting recomputed forward passes.

    Formula: model FLOPs x 4/3 with full recomputation (8N instead of 6N per token), else x 1.
    Convention: model FLOPs (for MFU) never include recomputation; hardware FLOPs (for HFU) do.
    Selective recomputation replays only the attention scores, which Korthikanti et al. measure
    at 2.7% for GPT-3 175B; this count leaves it out, as it leaves out the norms and activations
    "modules" replays (the step time does charge the attention replay: training.step_time.evaluate).
    Source: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
    Transformer Models", sec. 6; Narayanan et al. 2021, sec. 5.1 (8TP per token).
    """
    return model_flops * {"none": 1.0, "selective": 1.0, "modules": 1.0, "full": 4.0 / 3.0}[recompute]


def generation_flops(generated_tokens, sequence_flops, sequence):
    """Forward FLOPs to generate synthetic training tokens.

    Formula: G * F(C) / C   (G tokens generated, F(C) the forward FLOPs of one C-token sequence)
    Convention: each generated sequence costs what its prefill would: 2N per token plus causal
    attention over the tokens before it (decoding computes the same products one token at a
    time); prompt tokens count like output tokens; G includes the tokens filtering discards;
    the filtering and reward-model scoring themselves are not counted.
    Source: Kaplan et al. 2020, sec. 2.1 (2N forward FLOPs per token), with the attention term of
    Chowdhery et al. 2022 (PaLM), Appendix B.
    """
    return generated_tokens * sequence_flops / sequence
