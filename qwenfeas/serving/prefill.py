"""Prefill of the prompts on a replica: compute-bound at achievable GEMM and attention rates, batched across requests.

Only the prompt is prefilled (`inference.prompt_tokens`, less what the prefix cache already holds).
Engines schedule new requests' prompts together, up to a token budget per iteration (TensorRT-LLM's
max_num_tokens, vLLM's max_num_batched_tokens), so one pass reads the weights once for several
prompts and the routed experts see many tokens at once. With attention data parallelism every
attention rank keeps its own requests; without a balancing scheduler their prefills take turns (TensorRT-LLM's
ADP balance blog), while a disaggregated prefill pool runs every rank's prompts in the same pass.
"""

from __future__ import annotations

from ..formulas import serving as S
from ..formulas._array import maximum, minimum
from .decode import elementwise_phase, expert_collectives, expert_phase, tensor_collectives, weight_phase
from .deployment import Device, Model


def prompts_per_pass(m: Model, attention_data, waiting, together):
    """Prompts one prefill pass takes: (per prefilling attention rank, whole replica).

    Formula: k = max(min(w / a, max(B / P, 1)), 1) per rank;  k * r in the replica
             (w requests waiting in the replica, a attention ranks, r of them prefilling in the same pass)
    Convention: B = formulas.serving.PREFILL_TOKEN_BUDGET tokens per rank and pass; a prompt longer than B
    runs alone (chunked, at the same cost per token when compute-bound). An aggregated replica admits
    at most its decode batch at once (r = 1: without a balancing scheduler, attention-data-parallel ranks
    prefill in turn while the others wait at the next MoE layer); a disaggregated prefill pool has every
    rank prefilling together (r = a) and no decode batch to bound it.
    Source: TensorRT-LLM "Tuning Max Batch Size and Max Num Tokens" guide (context requests packed up to
    max_num_tokens); TensorRT-LLM tech blog 10, "ADP Balance Strategy" (baseline: contexts processed
    rank after rank, total time(ctx) x N; disaggregated serving avoids the imbalance).
    """
    per_rank = maximum(minimum(waiting / attention_data, maximum(S.PREFILL_TOKEN_BUDGET / maximum(m.prompt, 1.0), 1.0)),
                       1.0)
    return per_rank, per_rank * together


def prefill_pass_seconds(m: Model, d: Device, tensor, attention_data, expert, waiting=1.0, together=1.0):
    """Seconds one prefill pass holds the replica (the time its prompts wait for their first token).

    Formula: k = prompts per rank, n = prompts in the replica (prompts_per_pass);
             phase(2 N_d k P / t, N_d w / t) + phase(2 P_e pairs(n P) L_moe / m, L_moe n_e(n P) P_e w / m)
             + k F_attn(P) / (t * attention peak * eta_fwd) + collectives and element-wise work of k P
             tokens + kernels * 4 us
    Convention: prefill attention runs the training step's forward kernel at the prompt's length
    (formulas.attention_kernels: FlashAttention-3's causal grid by head dim and length, FA2's on
    Ampere, cuDNN 9.13.1's on Blackwell), not the decode kernels' hardware.attention_efficiency; every
    layer at the full-attention layers' rate (a sliding window's shorter keys are not told apart);
    a lone prompt (waiting = 1) is a pass of one.
    Source: formulas.serving constants; formulas.attention_kernels; prompts_per_pass.
    """
    per_rank, replica_prompts = prompts_per_pass(m, attention_data, waiting, together)
    tokens = per_rank * m.prompt
    weights = weight_phase(m, d, tokens, tensor)
    experts = expert_phase(m, d, replica_prompts * m.prompt, expert, tensor * attention_data / expert)
    attention = per_rank * m.prefill_attention_flops / (tensor * d.attention_peak * d.prefill_attention_efficiency)
    return (weights + experts + attention + tensor_collectives(m, d, tensor, tokens)
            + expert_collectives(m, d, tensor, attention_data, tokens) + elementwise_phase(m, d, tokens, tensor, attention_data)
            + m.kernels * S.KERNEL_SECONDS)


def prefill_seconds(m: Model, d: Device, tensor, attention_data, expert):
    """Seconds one prompt holds the replica when it is prefilled alone (a single user's wait).

    Formula: prefill_pass_seconds with one prompt waiting
    Source: prefill_pass_seconds.
    """
    return prefill_pass_seconds(m, d, tensor, attention_data, expert)


def prefill_seconds_per_request(m: Model, d: Device, tensor, attention_data, expert, waiting, together):
    """Replica-seconds of prefill each request costs when `waiting` requests are prefilled in passes.

    Formula: pass seconds / prompts in the pass
    Convention: what continuous batching charges per request (formulas.serving.steady_state) and what
    sizes a disaggregated prefill pool: batched prefill throughput, not one prompt's latency.
    Source: prompts_per_pass; Zhong et al. 2024 (DistServe) sec. 3 (prefill instances batch prompts).
    """
    _, replica_prompts = prompts_per_pass(m, attention_data, waiting, together)
    return prefill_pass_seconds(m, d, tensor, attention_data, expert, waiting, together) / replica_prompts


def kv_transfer_seconds(m: Model, d: Device):
    """Moving one prompt's KV cache from a prefill to a decode replica (disaggregated serving).

    Formula: KV bytes of the prompt / (0.8 * scale-out bandwidth)
    Source: Zhong et al. 2024, "DistServe" (OSDI), sec. 4 (KV transfer between phases);
    Patel et al. 2024, "Splitwise" (ISCA), sec. 4.
    """
    return m.prompt_kv_bytes / (S.LINK_EFFICIENCY * d.scale_out)
