"""One decode step of a replica, as deployed engines run it.

step = weight matmuls + routed experts + attention (each the slower of its FLOPs and its bytes at
achievable rates) + tensor-parallel all-reduces + expert dispatch/combine + a kernel floor, and
the draft passes of speculative decoding. The busiest device sets the pace. Every argument may
be a numpy array: the layout search and the frontier evaluate all candidates in one call.
"""

from __future__ import annotations

from typing import NamedTuple

from ..formulas import kernel_efficiency as K
from ..formulas import serving as S
from ..formulas._array import minimum
from .deployment import ACTIVATION_BYTES, COMBINE_BYTES, DISPATCH_BYTES, Device, Model


class Step(NamedTuple):
    """Seconds of one decode step on the busiest device, by part."""

    weights: object
    experts: object
    attention: object
    tensor_collectives: object
    expert_collectives: object
    elementwise: object
    kernels: object
    drafts: object

    @property
    def seconds(self):
        return (self.weights + self.experts + self.attention + self.tensor_collectives + self.expert_collectives
                + self.elementwise + self.kernels + self.drafts)


def tensor_collectives(m: Model, d: Device, tensor, tokens):
    """Two all-reduces per layer over the tensor-parallel group (after attention, after the FFN).

    Source: Shoeybi et al. 2019 (Megatron-LM) sec. 3; cost per formulas.serving.collective_seconds.
    """
    return 2 * m.layers * S.collective_seconds(tokens * m.hidden * ACTIVATION_BYTES, tensor,
                                               2 * (tensor - 1) / tensor, d.link(tensor), 2, d.domain)


def expert_collectives(m: Model, d: Device, tensor, attention_data, tokens):
    """Dispatch and combine per MoE layer when attention ranks hold different tokens (attention data parallel).

    Each device sends its share of its rank's tokens to the devices holding their k experts,
    fp8 out and bf16 back. Under pure tensor parallelism every device already holds every token
    and the FFN's all-reduce combines the experts' outputs, so nothing extra moves.
    Source: DeepEP README @ 0297fc8 (FP8 dispatch, BF16 combine); DeepSeek-V3 report sec. 3.4; cost per
    formulas.serving.all_to_all_seconds.
    """
    if not m.moe:
        return 0.0 * tokens
    replica = tensor * attention_data
    remote = minimum(m.top_k, replica) * (replica - 1) / replica
    share = tokens / tensor * m.hidden * remote
    one_way = S.all_to_all_seconds(share * DISPATCH_BYTES, replica, d.link(replica), d.domain) \
        + S.all_to_all_seconds(share * COMBINE_BYTES, replica, d.link(replica), d.domain)
    return m.moe_layers * one_way * (attention_data > 1)


def weight_phase(m: Model, d: Device, tokens, tensor):
    """Weight matmuls outside the routed experts for `tokens` tokens on one tensor-parallel rank.

    Formula: max(2 N_d T / t / (peak * eta_gemm), N_d w / t / (B * 0.76))
    Source: formulas.accelerators.gemm_ceiling (eta_gemm, measured per accelerator and precision);
    formulas.serving.WEIGHT_BANDWIDTH_EFFICIENCY.
    """
    return S.phase_seconds(2 * m.dense_params * tokens / tensor, m.dense_params * m.weight_bytes / tensor,
                           d.peak, d.gemm_efficiency, d.bandwidth, S.WEIGHT_BANDWIDTH_EFFICIENCY)


def expert_phase(m: Model, d: Device, tokens, expert, expert_tp):
    """Routed experts on the busiest expert-parallel device for `tokens` tokens of the whole replica.

    Formula: max(2 P_e pairs L_moe / m / (peak * 0.55), L_moe n_e P_e w / m / (B * 0.48)), with n_e and
             pairs the busiest device's experts and token-expert pairs, m = replica / e
    Source: formulas.serving (busiest_device_experts, busiest_device_assignments, the efficiencies).
    """
    if not m.moe:
        return 0.0 * tokens
    touched = S.busiest_device_experts(m.experts, m.top_k, tokens, expert)
    pairs = S.busiest_device_assignments(tokens, m.top_k, expert)
    return S.phase_seconds(2 * m.expert_params * pairs * m.moe_layers / expert_tp,
                           m.moe_layers * touched * m.expert_params * m.expert_weight_bytes / expert_tp,
                           d.peak, S.GROUPED_GEMM_EFFICIENCY, d.bandwidth, S.EXPERT_BANDWIDTH_EFFICIENCY)


def elementwise_phase(m: Model, d: Device, tokens, tensor, attention_data):
    """Element-wise work (norms, residual adds, RoPE, activation, MoE permutation, logits) for `tokens`
    tokens on one tensor-parallel rank, at the memory-bound kernels' achievable bandwidth.

    Formula: T (E_rep + E_split / t + E_perm [a = 1]) / (0.85 B)   (with attention data parallelism the
             expert dispatch and combine write the permuted copies: counted in expert_collectives)
    Source: deployment.elementwise_bytes; formulas.kernel_efficiency.ELEMENTWISE_BANDWIDTH (FlashMLA decode
    3000 of 3350 GB/s, less a margin).
    """
    permute = m.elementwise_permute * (attention_data <= 1)
    return K.memory_bound_seconds(tokens * (m.elementwise_replicated + m.elementwise_split / tensor + permute),
                                  d.bandwidth)


def decode_step(m: Model, d: Device, tensor, attention_data, expert, batch) -> Step:
    """One decode step with `batch` sequences on a replica of tensor x attention_data accelerators.

    Formula: weights  = phase(2 N_d t_r / t, N_d w / t)          t_r = tokens per attention rank
             experts  = phase(2 P_e pairs L_moe / m, L_moe n_e P_e w / m)   busiest device, m = replica / e
             attention= phase(t_r F_a / t, b_r KV s_kv)    b_r = sequences per attention rank, s_kv the rank's
                        share of a sequence's cache read per step (1 / min(t, n_kv); (n_q / t) / n_kv when
                        inference.decode_attention is per-query-head), KV read at the accelerator's measured
                        decode-attention share of its bandwidth
             + 2 L all-reduces + 2 L_moe all-to-alls + element-wise work + kernels * 4 us, and d / L of it
             per draft token
    Convention: phases run back to back; tokens per rank count the draft tokens verified together, and
    the empty slots of a padded CUDA graph (formulas.serving.padded_batch): those compute but read no cache.
    Source: formulas.serving (each term's constants and sources); formulas.accelerators.kv_bandwidth_efficiency.
    """
    replica = tensor * attention_data
    expert_tp = replica / expert
    per_rank = batch / attention_data
    padded = S.padded_batch(per_rank, m.graph_padding)
    tokens = padded * (1 + m.draft_tokens)
    weights = weight_phase(m, d, tokens, tensor)
    experts = expert_phase(m, d, padded * attention_data * (1 + m.draft_tokens), expert, expert_tp)
    attention = S.phase_seconds(tokens * m.decode_attention_flops / tensor,
                                per_rank * m.decode_kv_bytes
                                * S.decode_kv_read_share(tensor, m.kv_heads, m.query_heads, m.per_query_head),
                                d.attention_peak, d.attention_efficiency, d.bandwidth, d.kv_efficiency)
    collectives_tp = tensor_collectives(m, d, tensor, tokens)
    collectives_ep = expert_collectives(m, d, tensor, attention_data, tokens)
    elementwise = elementwise_phase(m, d, tokens, tensor, attention_data)
    kernels = m.kernels * S.KERNEL_SECONDS + 0.0 * tokens
    core = weights + experts + attention + collectives_tp + collectives_ep + elementwise + kernels
    return Step(weights, experts, attention, collectives_tp, collectives_ep, elementwise, kernels,
                core * m.draft_tokens / m.layers)
