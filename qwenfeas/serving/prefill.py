"""Prefill of one request's prompt on a replica: compute-bound at achievable GEMM and attention rates.

Only the prompt is prefilled (`inference.prompt_tokens`, less what the prefix cache already holds).
With attention data parallelism the prompt's attention and dense layers run on one attention rank
while the others wait at the next expert dispatch: the whole replica is held for this time.
"""

from __future__ import annotations

from ..formulas import serving as S
from .decode import expert_collectives, expert_phase, tensor_collectives, weight_phase
from .deployment import Device, Model


def prefill_seconds(m: Model, d: Device, tensor, attention_data, expert):
    """Seconds one prompt holds the replica.

    Formula: phase(2 N_d P / t, N_d w / t) + phase(2 P_e pairs(P) L_moe / m, L_moe n_e(P) P_e w / m)
             + F_attn(P) / (t * attention peak * 0.67) + collectives of P tokens + kernels * 4 us
    Convention: the prompt runs as one chunk (a chunked prefill re-reads the weights per chunk, which a
    compute-bound prefill hides); prefill attention kernels reach the generic 67% (FlashMLA,
    FlashAttention-3), not the decode kernels' hardware.attention_efficiency.
    Source: formulas.serving constants; Agrawal et al. 2024 (Sarathi-Serve) for chunked prefill.
    """
    P = m.prompt
    replica = tensor * attention_data
    expert_tp = replica / expert
    weights = weight_phase(m, d, P, tensor)
    experts = expert_phase(m, d, P, expert, expert_tp)
    attention = m.prefill_attention_flops / (tensor * d.attention_peak * S.ATTENTION_EFFICIENCY)
    return (weights + experts + attention + tensor_collectives(m, d, tensor, P)
            + expert_collectives(m, d, tensor, attention_data, P) + m.kernels * S.KERNEL_SECONDS)


def kv_transfer_seconds(m: Model, d: Device):
    """Moving one prompt's KV cache from a prefill to a decode replica (disaggregated serving).

    Formula: KV bytes of the prompt / (0.8 * scale-out bandwidth)
    Source: Zhong et al. 2024, "DistServe" (OSDI), sec. 4 (KV transfer between phases);
    Patel et al. 2024, "Splitwise" (ISCA), sec. 4.
    """
    return m.prompt_kv_bytes / (S.LINK_EFFICIENCY * d.scale_out)
