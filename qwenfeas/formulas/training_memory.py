"""Memory one accelerator needs to train: model states, activations, and the smallest layout that fits."""

from __future__ import annotations

from ._array import ceil, maximum, where

# activation recomputation, coded for numpy layouts
RECOMPUTE = ("none", "selective", "modules", "full")
NO_RECOMPUTE, SELECTIVE, MODULES, FULL = range(4)

# Memory the training runtime keeps beside model states and activations: the CUDA context and
# cuBLAS workspaces, NCCL communicator buffers, and expert-parallel dispatch buffers. No primary
# source gives a figure per GPU; the performance reference budgets "a few GB" (ZeRO, Rajbhandari et
# al. 2020, sec. 3.2, on temporary buffers; DeepEP README @ 0297fc8 on its buffers).
TRAINING_RESERVE_BYTES = 4e9


def model_state_bytes(params, weight_bytes, grad_bytes, optimizer_bytes, data_parallel, zero_stage):
    """Weights, gradients and optimizer states one accelerator holds: (weights, gradients, optimizer).

    Formula: P * (w, g, o), where ZeRO shards over the d data-parallel replicas:
             stage 0: w, g, o;  stage 1: w, g, o/d;  stage 2: w, g/d, o/d;  stage 3: w/d, g/d, o/d
    Convention: P is this accelerator's share of the parameters after tensor, pipeline and expert
    parallelism; w, g, o are bytes per parameter (default 2, 4, 12: Megatron-LM's 18 bytes per
    parameter for mixed-precision Adam). Buffers for communication are not counted.
    Source: Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
    Models", sec. 5 and Figure 1; Megatron-LM megatron/training/theoretical_memory_usage.py.
    """
    return (params * weight_bytes / where(zero_stage >= 3, data_parallel, 1),
            params * grad_bytes / where(zero_stage >= 2, data_parallel, 1),
            params * optimizer_bytes / where(zero_stage >= 1, data_parallel, 1))


def activation_bytes_per_layer(sequence, micro_batch, hidden, heads, q_dim, kv_dim, ffn_width, gated,
                               tensor_parallel, sequence_parallel, recompute, routed_top_k=0,
                               cached_bytes=2.0, dispatch_bytes=2.0, latent_dim=None, unfused_attention=False):
    """Activations one transformer layer keeps for the backward pass, per micro-batch, in bytes.

    Formula: none:      s*b*h * (R + (A + M + X)/t + 5*a*s/(h*t))   (unfused attention kernel)
                        s*b*h * (R + (A + M + X)/t)                 (fused kernel: no s x s scores)
             selective: s*b*h * (R + (A + M + X)/t)
             modules:   s*b*h * (R - 4/t' + (A' + M' + X)/t)   (recompute the norms, the activation
                        function and MLA's up-projections: Megatron-Core --recompute-modules
                        layernorm moe_act mla_up_proj), + 5*a*s/(h*t) with an unfused kernel
             full:      2*s*b*h / (t with sequence parallelism, else 1)
             R = 10 (10/t with sequence parallelism): layer-norm inputs, the inputs of the QKV and
             first FFN matmuls, dropout masks;
             A = 4*(q + kv)/h: Q, K, V and the output projection's input (8 for MHA, q = kv = h);
               under `modules` with MLA (latent_dim = q latent + KV latent + RoPE key + the heads'
               value width) A' = 2 * latent_dim / h: the latents, not the up-projected heads;
             M = (2*(1 + gated) + 2) * f/h * c/2: the FFN's up-projection and activation outputs,
               M' = 2*(1 + gated) * f/h * c/2 without the activation output;
             X = k * (b_dispatch + 2): an MoE layer's k copies of each token at the experts' inputs
               (at the dispatch precision) and outputs (16-bit); under `modules` X' = k * b_dispatch:
               the routing weight scales the recomputed activation, so its gradient needs no expert
               output (DeepEP's combine carries no weight gradient)
    Convention: 16-bit activations, except matmul inputs cached at c bytes (1 under an FP8 recipe:
    Transformer Engine keeps the FP8 cast of a Linear's input for its weight gradient). For GPT's 4h
    GELU FFN, M = 16 and the bracket is Korthikanti's 34 + 5as/h. The 5as/h term (QK^T, softmax,
    dropout mask and output, the a x s x s score matrices) is kept only by an unfused attention
    kernel (unfused_attention=True) whose forward is not replayed ("none", and "modules", which replays
    norms and activations only): "selective" and "full" recompute those scores, and a
    fused kernel (FlashAttention) never writes them to memory at all, keeping only its O(s) softmax
    statistics, so with it "none" holds what "selective" holds.
    Source: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
    Models", sec. 4 and Table 2; Dao et al. 2022, "FlashAttention", sec. 3.1 (tiling and
    recomputation: the score matrix is never materialised in HBM); DeepSeek-V3 report (arXiv 2412.19437) sec. 3.2.3 (recompute RMSNorm
    and MLA up-projections) and sec. 3.3.3 (FP8 activation caching, FP8 dispatch).
    """
    t = tensor_parallel
    sbh = sequence * micro_batch * hidden
    shard = where(sequence_parallel, t, 1.0)
    attention = 4 * (q_dim + kv_dim) / hidden
    if latent_dim is not None:
        attention_modules = 2 * latent_dim / hidden
    else:
        attention_modules = attention
    scale = cached_bytes / 2.0
    moe = routed_top_k * (dispatch_bytes + 2)
    kept = sbh * (10.0 / shard + (attention + (2 * (1 + gated) + 2) * ffn_width / hidden * scale + moe) / t)
    modules = sbh * (6.0 / shard + (attention_modules + 2 * (1 + gated) * ffn_width / hidden * scale
                                    + routed_top_k * dispatch_bytes) / t)
    if isinstance(recompute, str):
        recompute = RECOMPUTE.index(recompute)
    scores = sbh * 5 * heads * sequence / (hidden * t)
    stored = where(unfused_attention, where((recompute == NO_RECOMPUTE) | (recompute == MODULES), scores, 0.0), 0.0)
    return where(recompute == FULL, 2 * sbh / shard,
                 where(recompute == MODULES, modules + stored, kept + stored))


def logits_bytes(sequence, micro_batch, vocab, tensor_parallel):
    """The last stage's FP32 logits for one micro-batch, held for the loss and its gradient.

    Formula: s * b * V * 4 / t   (the LM head is split over the vocabulary across the tensor group)
    Source: Megatron-LM vocab-parallel cross entropy (Shoeybi et al. 2019, sec. 3); Korthikanti et
    al. 2022, sec. 4.3 (output layer activations).
    """
    return sequence * micro_batch * vocab * 4.0 / tensor_parallel


def smallest_data_parallel(fixed_bytes, sharded_bytes, usable_bytes, multiple_of):
    """Fewest data-parallel replicas for which fixed + sharded / d fits in usable memory.

    Formula: d = ceil(sharded / (usable - fixed)), rounded up to a multiple of `multiple_of`
             (the expert-parallel degree); infinite when the fixed part alone does not fit
    Convention: every ZeRO-sharded term falls as 1/d; the rest does not depend on d.
    Source: algebra on model_state_bytes.
    """
    room = usable_bytes - fixed_bytes
    d = ceil(maximum(sharded_bytes, 0.0) / where(room > 0, room, 1.0))
    d = ceil(maximum(d, 1.0) / multiple_of) * multiple_of
    return where(room > 0, d, float("inf"))
