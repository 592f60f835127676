"""What the training step model reads from a scenario and its report, once per estimate.

`Work` gathers the model's shape, the run's precision and batch, and the accelerator's rates and
links; `attention_forward_per_token` gives the attention FLOPs per kind of layer at the training
sequence. training.step_time evaluates layouts over them.
"""

from __future__ import annotations

from ..formulas import communication as C
from ..formulas import flops as F
from ..formulas import grouped_gemm as G
from ..formulas import kernel_efficiency as K
from ..formulas import training_memory as TM
from ..formulas._array import maximum, minimum
from ..formulas.accelerators import (
    BLACKWELL_PRESETS,
    DEFAULT_SCALE_UP,
    TWO_LEVEL_DATA_PARALLEL_PRESETS,
    ceiling_shape,
    gemm_ceiling,
    sm_share,
    streaming_multiprocessors,
)
from ..formulas.attention_kernels import attention_efficiency, kernel_generation
from ..scenario.fields import PRECISION_BYTES

__all__ = ["OVERLAP_ALL_TO_ALL_SMS", "Work", "attention_forward_per_token"]

# NCCL's achieved bus bandwidth over the line rate: ~370 of 450 GB/s on H100 NVLink (NCCL maintainer,
# NVIDIA/nccl-tests issue #212); RDMA reaches 43-58 of 50 GB/s in DeepEP's internode kernels
# (deepseek-ai/DeepEP docs/legacy.md @ 0297fc8), 0.90 taken.
SCALE_UP_EFFICIENCY = 370 / 450
SCALE_OUT_EFFICIENCY = 0.90
# SMs an overlapped all-to-all takes from compute: 20 of the H800's 132 in DeepSeek-V3 training
# (DeepSeek-V3 report, arXiv 2412.19437, sec. 3.2.2).
OVERLAP_ALL_TO_ALL_SMS = 20


class Work:
    """What the step model needs about the model, the run and the hardware, read once."""

    def __init__(self, r, s: dict, attention_forward_per_token) -> None:
        self.moe = "model.moe.experts" in s
        L = s["model.layers"]
        # multi-token prediction: each depth is one more layer of the last layer's kind (see `mtp_layers`)
        self.mtp = s.get("model.mtp_layers", 0.0)
        self.layers = L + self.mtp
        self.dense_layers = s["model.moe.dense_layers"] if self.moe else self.layers
        self.moe_layers = self.layers - self.dense_layers
        self.full_layers = r.terms["full_attention_layers"].value + self.mtp
        self.h, self.heads, self.gated = s["model.hidden"], s["model.heads"], s["model.ffn_gated"]
        self.qk_norm = s["model.qk_norm"]
        self.q_dim = s["model.heads"] * s["model.head_dim"]
        self.kv_dim = s["model.kv_heads"] * s["model.head_dim"]
        self.vocab, self.tied = s["model.vocab"], s["model.tied_embeddings"]
        self.tables = self.vocab * self.h  # one embedding matrix
        self.dense_ffn = s.get("model.ffn_hidden", 0.0)
        self.latent = None
        if s["model.attention.kind"] == "mla":
            n, d, rope, v = s["model.heads"], s["model.head_dim"], s["model.attention.rope_head_dim"], \
                s["model.attention.v_head_dim"]
            q_lora, kv_lora = s["model.attention.q_lora_rank"], s["model.attention.kv_lora_rank"]
            self.latent = q_lora + kv_lora + rope + n * v
            self.up_projection = q_lora * n * (d + rope) + kv_lora * n * (d + v)
            self.q_dim = n * (d + rope)
            self.kv_dim = n * (d + rope + v) / 2
        if self.moe:
            self.k, self.experts = s["model.moe.top_k"], s["model.moe.experts"]
            self.expert_params = r.terms["expert_params"].value
            self.routed_active = self.moe_layers * self.k * self.expert_params
            self.moe_width = (self.k * s["model.moe.expert_ffn_hidden"]
                              + s["model.moe.shared_experts"] * s["model.moe.shared_expert_ffn_hidden"])
            self.routed = r.terms["routed_expert_params"].value + self.mtp * self.experts * self.expert_params
        else:
            self.k = self.experts = self.expert_params = self.routed_active = self.moe_width = self.routed = 0.0
        mtp_all, mtp_active = (r["model.mtp_params"], r.terms["mtp_active_params"].value) \
            if "model.mtp_params" in r.metrics else (0.0, 0.0)
        self.shared = r["model.params"] + mtp_all - self.routed
        # the MTP blocks' weights outside and inside the routed experts (on the last stage, for memory)
        self.mtp_routed = self.mtp * self.experts * self.expert_params
        self.mtp_shared = mtp_all - self.mtp_routed
        self.mtp_moe, self.mtp_dense = (self.mtp, 0.0) if self.moe else (0.0, self.mtp)
        # GEMM weights one token multiplies, outside the routed experts and the LM head
        self.body = r["model.matmul_params"] + mtp_active - self.routed_active - self.tables
        self.head_passes = 1.0 + self.mtp  # the output head once for the model, once per MTP depth (memory)
        # per kind of attention layer: forward FLOPs of QK^T and PV per token (causal), and the kernel's
        # forward and backward shares of the BF16 peak at the keys each query attends
        self.attention_kernel = (kernel_generation(s.get("hardware.preset"), s["training.attention_kernel"]),
                                 r.terms["attention_kernel_head_dim"].value)
        self.attention_parts = [(flops, *attention_efficiency(*self.attention_kernel, keys, True))
                                for flops, keys in attention_forward_per_token]
        self.sequence, self.batch_tokens, self.tokens = s["training.sequence"], s["training.batch_tokens"], s["tokens"]
        self.w_bytes = PRECISION_BYTES[s["precision.weights"]]
        self.grad_bytes, self.optimizer_bytes = s["training.grad_bytes"], s["training.optimizer_bytes"]
        compute = s["precision.compute"]
        self.low_precision = PRECISION_BYTES[compute] < 2  # FP8, FP4, INT8, INT4 GEMMs
        self.compute_bytes = PRECISION_BYTES[compute]
        # the cast of each GEMM input to FP8 (kernel_efficiency.fp8_cast_bytes); other narrow formats
        # are charged delayed scaling's cast with its transposed copy
        self.fp8_recipe = s["precision.fp8_recipe"] if compute == "fp8" else None
        self.cast_bytes = (K.fp8_cast_bytes(self.fp8_recipe or "delayed",
                                            s.get("hardware.preset") in BLACKWELL_PRESETS and compute == "fp8")
                           if self.low_precision else 0.0)
        self.amax_reductions = self.fp8_recipe == "current"
        # the weights' all-gathers (ZeRO >= 1): FP8 when the recipe gathers FP8 weights, else the stored format
        self.gather_bytes = (C.fp8_gather_bytes(self.fp8_recipe)
                             if self.fp8_recipe and s["training.fp8_param_gather"] else self.w_bytes)
        self.peak = s["hardware.peak_flops"]
        # BF16 runs at peak x (compute bytes / 2): tensor-core rates double as the format halves
        # (every datasheet in presets/accelerators)
        self.peak16 = self.peak * self.compute_bytes / 2.0
        preset = s.get("hardware.preset")
        self.bandwidth = s["hardware.bandwidth"]
        # the main loop's rate: the measured ceiling less the output write of its own best shape; each
        # GEMM's writes are added back from its shape (_written)
        depth, written = ceiling_shape(preset, compute)
        self.measured_ceiling = gemm_ceiling(preset, compute, self.fp8_recipe)  # block-scaled FP8: its own rate
        self.ceiling = K.intrinsic_ceiling(self.measured_ceiling, self.peak, self.bandwidth, depth, written)
        self.ceiling16 = K.intrinsic_ceiling(gemm_ceiling(preset, "bf16"), self.peak16, self.bandwidth,
                                             *ceiling_shape(preset, "bf16"))
        self.sms = streaming_multiprocessors(preset)
        self.all_to_all_share = sm_share(preset, OVERLAP_ALL_TO_ALL_SMS)
        self.overlap_slowdown = C.OVERLAP_COMPUTE_SLOWDOWN  # of compute under a hidden collective
        self.moe_shared_ffn = (s["model.moe.shared_experts"] * s["model.moe.shared_expert_ffn_hidden"]
                               if self.moe else 0.0)
        self.expert_ffn = s["model.moe.expert_ffn_hidden"] if self.moe else 0.0
        # host time of one expert GEMM launch; none when the experts run as one fused launch
        self.expert_dispatch = 0.0 if s["parallel.fused_grouped_gemm"] else G.dispatch_seconds(preset)
        # communication is estimated per link class whose bandwidth is known: without a scale-out
        # bandwidth the traffic between domains takes no time here and is reported in bytes instead
        # (the scale_out_bytes_* results), the traffic inside a domain is still timed
        self.links = "hardware.scale_up_bandwidth" in s
        self.out_known = "hardware.scale_out_bandwidth" in s
        self.up = s.get("hardware.scale_up_bandwidth", 1.0) * SCALE_UP_EFFICIENCY
        self.out = s["hardware.scale_out_bandwidth"] * SCALE_OUT_EFFICIENCY if self.out_known else float("inf")
        self.two_level = preset in TWO_LEVEL_DATA_PARALLEL_PRESETS  # data parallelism over slices (_members_per_domain)
        self.domain = s.get("hardware.scale_up_size", DEFAULT_SCALE_UP)
        self.count = s["hardware.count"]
        self.node_limit = s.get("model.moe.node_limit", self.k)
        self.dedup = "model.moe.node_limit" in s
        self.dispatch_bytes = PRECISION_BYTES["fp8"] if self.low_precision else 2.0
        self.tp_overlap = s["parallel.tp_overlap"]
        self.ep_overlap = s["parallel.ep_overlap"]
        self.cp_overlap = s["parallel.cp_overlap"]
        self.deepspeed = s["parallel.pipeline_engine"] == "deepspeed"  # blocking p2p, gradients after the last
        # gradients reduced after the last micro-batch's backward: Megatron-LM's local DDP before Megatron-Core
        # (megatron/training.py @ 8e8d760, train_step: allreduce_gradients after forward_backward_func), and
        # DeepSpeed's PipelineEngine (ReduceGrads after the last step)
        self.dp_after_backward = self.deepspeed or not s["parallel.dp_overlap"]
        self.expert_tensor_split = "parallel.expert_tensor" in s and s["parallel.expert_tensor"] > 1
        self.usable = s["hardware.memory"] - TM.TRAINING_RESERVE_BYTES
        self.sequence_parallel = s["parallel.sequence_parallel"]
        self.unfused = s["training.attention_kernel"] == "unfused"
        self.unfused_epilogue = self.moe and s["training.expert_epilogue"] == "unfused"
        # forward FLOPs of QK^T and PV per token over the whole s x s square of the full-attention layers
        self.attention_square = r["model.attention_flops_per_key"] * s["training.sequence"] * self.full_layers \
            / maximum(r.terms["full_attention_layers"].value, 1.0)
        self.steps = self.tokens / self.batch_tokens


def attention_forward_per_token(r, s: dict, layers):
    """Forward FLOPs of attention scores and values per token at the training sequence, causal, with
    the keys one query attends, per kind of layer: [(FLOPs, keys)] for the full-attention layers
    (the sequence), the sliding-window layers (the window, when shorter) and the linear-attention
    layers (the sequence: no kernel grid of their own, they take the full layers' rate), and the
    multi-token-prediction depths (the sequence, one full-attention layer each).

    Kernels skip the masked half whatever FLOPs convention the report counts, so time uses causal.
    Under context parallelism a query still attends the whole sequence (Llama 3's all-gather of keys
    and values, Dubey et al. 2024 sec. 3.3.2), so the keys stay the sequence.
    """
    seq = s["training.sequence"]
    parts = [(F.training_attention_flops(r["model.attention_flops_per_key"], seq, 1.0, "causal") / 3, seq)]
    if "model.sliding_attention_flops_per_key" in r.metrics:
        parts.append((F.training_attention_flops(r["model.sliding_attention_flops_per_key"], seq, 1.0, "causal",
                                                 layers.window) / 3, minimum(seq, layers.window)))
    if "model.linear_attention_flops_per_token" in r.metrics:
        parts.append((r["model.linear_attention_flops_per_token"], seq))
    if "model.mtp_params" in r.metrics:  # each MTP depth attends like one full-attention layer
        parts.append((F.training_attention_flops(r["model.attention_flops_per_key"] * s["model.mtp_layers"]
                                                 / maximum(r.terms["full_attention_layers"].value, 1.0), seq,
                                                 1.0, "causal") / 3, seq))
    return parts
