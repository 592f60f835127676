"""How long the routed experts' GEMMs take when every local expert is its own GEMM launch.

Transformer Engine's default grouped GEMM, the one Megatron-Core's MoE layers call, is a loop on
the host: one cuBLASLt GEMM per local expert, spread over a few CUDA streams
(`nvte_multi_tensor_gemm` -> `multi_stream_cublas_gemm`, NVIDIA/TransformerEngine
transformer_engine/common/gemm/cublaslt_gemm.cu @ d0067d0; the single-launch CUTLASS path is
opt-in and Hopper-only there). Each expert GEMM therefore costs the host a fixed time, whatever
the few rows it multiplies, and the device cannot run the experts faster than the host issues them:
in the forward the dropless token dispatcher has just synchronised host and device to learn the
tokens per expert (NVIDIA/Megatron-LM megatron/core/transformer/moe/token_dispatcher.py @ d98e8a6,
"A synchronization is needed before expert parallel AlltoAll communication"), so the launch queue
is empty when the expert GEMMs are issued.
"""

from __future__ import annotations

from . import kernel_efficiency as K
from ._array import maximum
from .accelerators import NVIDIA_PRESETS

# One expert GEMM through TE's multi-stream path when its own work is negligible: 8 experts x 128
# tokens (N = K = 2048, 1.07 GFLOP each, SM100) take 0.267 ms through it, against 0.069 ms for one
# grouped CUTLASS launch of the same problems (NVIDIA/TransformerEngine pull request #3134, table
# "TN (fprop)", row "8e x 128 ... pure": operands pre-swizzled, only the GEMMs timed): 0.267 / 8 =
# 33 us per expert GEMM.
EXPERT_GEMM_DISPATCH_SECONDS = 0.267e-3 / 8
# Transformer Engine's CUDA path runs on the NVIDIA presets only (accelerators.NVIDIA_PRESETS). Other
# stacks issue a grouped GEMM as one operator (Ascend's npu_grouped_matmul, XLA's ragged dot on TPUs)
# and no per-expert cost of theirs is measured, so no floor is charged there.


def dispatch_seconds(preset):
    """Host time of one expert GEMM launch on an accelerator preset: EXPERT_GEMM_DISPATCH_SECONDS on an
    NVIDIA GPU (Transformer Engine's per-expert cuBLAS loop), 0 elsewhere (no measurement; one grouped
    operator). Source: TransformerEngine pull request #3134 (see EXPERT_GEMM_DISPATCH_SECONDS)."""
    return EXPERT_GEMM_DISPATCH_SECONDS if preset in NVIDIA_PRESETS else 0.0


def expert_weight_shares(gated):
    """Share of a routed expert's GEMM FLOPs in each of its weights: (up and gate, down).

    Formula: ((1 + g) / (2 + g), 1 / (2 + g))   (the up projection h x (1 + g) f, the down f x h)
    Convention: g = 1 for a gated (SwiGLU) FFN, whose gate and up weights are one GEMM
    (Megatron-Core's linear_fc1), g = 0 otherwise.
    Source: Shazeer 2020, "GLU Variants Improve Transformer" (the gated FFN's three matrices).
    """
    return (1.0 + gated) / (2.0 + gated), 1.0 / (2.0 + gated)


def expert_device_seconds(flops, rows, hidden, width, gated, local_experts, bytes_per_weight, peak_flops,
                          bandwidth, ceiling, sms, gradient_bytes):
    """Device time of the routed experts' GEMMs on one accelerator, before any launch floor.

    Formula: F / (peak * eta(M) * q) + F * w / (0.8 BW)
             eta(M) = kernel_efficiency.gemm_efficiency: the weight-stream roofline at M rows per expert,
             capped by the GEMM ceiling; q = kernel_efficiency.layer_quantization of the two expert weights
             (h x (1 + g) f up and gate, f x h down) over the G local experts launched together; w the
             bytes the GEMMs write after their main loops per FLOP (layer_output_bytes_per_flop: BF16
             activations, gradients at b_g bytes)
    Convention: F the expert GEMM FLOPs of this accelerator (forward and backward), M the tokens each
    local expert receives, f the expert width on this accelerator, g = 1 for a gated FFN.
    Source: the sources of those kernel_efficiency functions (Roofline, NVIDIA's tile and wave
    quantization guide, CUTLASS epilogues). Checked against a measurement at narrow widths: SonicMoE
    (Guo et al. 2025, arXiv 2512.14080, Figure 14) times Megatron-Core's MoE layer on one H100 at expert
    widths 256 to 2048; this device time plus the layer's permutation bytes falls with the width as
    the measured layer does (tests/test_narrow_experts.py), while the measured level is lower (see there).
    """
    shapes = ((hidden, (1.0 + gated) * width, 1.0), (width, hidden, 1.0))
    efficiency = K.gemm_efficiency(rows, bytes_per_weight, peak_flops, bandwidth, ceiling) \
        * K.layer_quantization(rows, shapes, sms, local_experts)
    written = flops * K.layer_output_bytes_per_flop(rows, shapes, 2.0, gradient_bytes)
    return flops / (peak_flops * efficiency) + K.memory_bound_seconds(written, bandwidth, K.GEMM_BANDWIDTH)


def expert_gemm_seconds(device_seconds, shares, calls, local_experts, layers, dispatch):
    """Time of the routed experts' GEMMs when each local expert is a separate launch.

    Formula: sum over weights w of c * max(D s_w / c, L n t_d)
             (each weight runs c grouped GEMMs of equal FLOPs: forward, input gradient, weight
             gradient, and the forward again under full recomputation; a grouped GEMM takes the
             longer of its device time and the host time to issue its n expert GEMMs)
    Convention: D the device time of all routed-expert GEMMs of one micro-batch on this
    accelerator (roofline and quantization already in it), s_w the weights' FLOP shares
    (`expert_weight_shares`), L the MoE layers on the stage, n the experts local to the
    accelerator, t_d the host time of one expert GEMM. The host is taken to have no lead when
    the experts are issued (the dispatcher's synchronisation in the forward; the same assumed in
    the backward).
    Source: TE's per-expert launch loop (cublaslt_gemm.cu @ d0067d0) and its measured cost
    (TransformerEngine pull request #3134, see EXPERT_GEMM_DISPATCH_SECONDS); three GEMMs per
    weight per training step: Narayanan et al. 2021, sec. 3.2.
    """
    total = 0.0
    for share in shares:
        total = total + calls * maximum(device_seconds * share / calls, layers * local_experts * dispatch)
    return total
