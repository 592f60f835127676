"""What serving needs to know about a model and an accelerator, read once from the report.

A `Model` holds per-token and per-request figures (weights read, KV read, attention FLOPs,
kernels per step); a `Device` holds the accelerator's peaks and links. Both are plain numbers,
or numpy arrays when the scenario is a sweep; decode.py and prefill.py take them with a layout.
"""

from __future__ import annotations

from typing import NamedTuple

from ..architecture import Layers, attention_work
from ..formulas import kernel_efficiency as K
from ..formulas import serving as S
from ..formulas._array import any_true, maximum
from ..formulas.accelerators import DEFAULT_SCALE_UP, gemm_ceiling, kv_bandwidth_efficiency
from ..formulas.attention_kernels import attention_efficiency, kernel_generation
from ..scenario.fields import PRECISION_BYTES

# Kernels one layer launches in a decode step: one per operation of the engines' model code
# (vLLM vllm/model_executor/models/llama.py, deepseek_v2.py, qwen3_next.py; TensorRT-LLM
# modeling_deepseekv3.py): norm, projections, rotary, attention, activation, routing, permutation.
KERNELS_SOFTMAX_ATTENTION = 6  # norm, qkv, rotary (+ qk-norm), attention, output projection, residual
KERNELS_MLA = 10  # norm, q_a + kv_a, 2 latent norms, q_b, absorb W_UK, rotary, attention, absorb W_UV, output
KERNELS_LINEAR_ATTENTION = 8  # norm, in-projection, conv, gates, delta-rule scan, gated norm, out-projection, residual
KERNELS_DENSE_FFN = 4  # norm, gate-up, activation, down
KERNELS_MOE = 8  # norm, router, top-k, permute, grouped gate-up, activation, grouped down, unpermute-reduce
KERNELS_SHARED_EXPERT = 3  # gate-up, activation, down
KERNELS_PER_STEP = 4  # embedding, final norm, LM head, sampling
ACTIVATION_BYTES = 2.0  # bf16 activations in tensor-parallel all-reduces
DISPATCH_BYTES, COMBINE_BYTES = 1.0, 2.0  # fp8 dispatch, bf16 combine (DeepEP README @ 0297fc8)


class Model(NamedTuple):
    """Per-token and per-request figures of the served model."""

    layers: object
    moe_layers: object
    hidden: object
    dense_params: object  # matmul weights every token multiplies outside the routed experts
    dense_bytes: object  # stored weights outside the routed experts
    expert_params: object  # one routed expert (0 for a dense model)
    routed_bytes: object  # all routed experts, stored
    experts: object
    top_k: object
    weight_bytes: object  # bytes per weight
    expert_weight_bytes: object  # bytes per routed-expert weight (MXFP4 experts: 0.53)
    kv_heads: object  # ways the cache can be split by heads (1 for MLA's shared latent)
    decode_kv_bytes: object  # KV read per sequence per step, mean over the output
    decode_attention_flops: object  # attention FLOPs per decoded token, mean over the output
    prefill_attention_flops: object  # attention FLOPs of one prompt
    prompt_kv_bytes: object  # KV of one prompt (moved when prefill is disaggregated)
    peak_kv_bytes: object  # KV of one request at prompt + output tokens
    kernels: object  # kernels per decode step
    elementwise_replicated: object  # element-wise bytes per token every tensor rank moves (hidden-wide, logits)
    elementwise_split: object  # element-wise bytes per token split over the tensor group (heads, FFN width)
    elementwise_permute: object  # MoE permutation bytes per token (done by dispatch/combine under expert all-to-all)
    prompt: object  # tokens prefilled per request (after prefix-cache hits)
    input_tokens: object  # prompt tokens per request, cached or not (what is billed as input)
    output: object
    draft_tokens: object
    accepted: object  # tokens per step per sequence
    graph_padding: bool = False  # decode batches padded to doubling CUDA-graph sizes (inference.graph_padding)
    query_heads: object = 1.0  # attention query heads (model.heads)
    per_query_head: bool = False  # decode attention reads each query head's KV apart (inference.decode_attention)

    @property
    def moe(self) -> bool:
        return any_true(self.expert_params > 0)


class Device(NamedTuple):
    """One accelerator: peaks, achievable fractions that are inputs, memory and links."""

    peak: object
    gemm_efficiency: object  # the best share of `peak` a dense GEMM reaches on this accelerator and precision
    attention_peak: object
    attention_efficiency: object
    prefill_attention_efficiency: object  # share of `attention_peak` the prompt's fused attention reaches
    bandwidth: object
    usable_memory: object
    scale_up: object  # link bandwidth inside the scale-up domain
    scale_out: object
    domain: object  # accelerators in one scale-up domain
    kv_efficiency: object = S.KV_BANDWIDTH_EFFICIENCY  # share of `bandwidth` decode attention reaches

    def link(self, group):
        """Bandwidth of a group's collectives: the scale-up link inside one domain, the network past it."""
        from ..formulas._array import where

        return where(group <= self.domain, self.scale_up, self.scale_out)


def read_model(r, s: dict, layers: Layers) -> Model:
    """The served model's figures from the report and the scenario."""
    L = s["model.layers"]
    moe = "model.moe.experts" in s
    w = r.terms["bytes_per_weight"].value
    w_expert = PRECISION_BYTES[s["precision.expert_weights"]]  # the routed experts may be stored apart (gpt-oss)
    expert = r.terms["expert_params"].value if moe else 0.0
    moe_layers = L - s["model.moe.dense_layers"] if moe else 0.0
    top_k = s["model.moe.top_k"] if moe else 0.0
    routed = r.terms["routed_expert_params"].value if moe else 0.0
    dense_params = r["model.matmul_params"] - top_k * moe_layers * expert
    prompt = s["inference.prompt_tokens"] * (1 - s["inference.prefix_cache_hit"])
    output = s["inference.output_tokens"]
    flops, read = attention_work(r, layers, s["inference.prompt_tokens"], output)
    mla = s["model.attention.kind"] == "mla"
    if mla:  # decode kernels attend in the absorbed latent space (MLA models here have only full layers)
        absorbed = S.mla_absorbed_flops_per_key(layers.full, s["model.heads"], s["model.attention.kv_lora_rank"],
                                                s["model.attention.rope_head_dim"])
        flops = flops * absorbed / r["model.attention_flops_per_key"]
    prefill_flops, _ = attention_work(r, layers, s["inference.prompt_tokens"] - prompt, prompt)
    per_token = r["kv_cache.bytes_per_token"]
    state = r["kv_cache.state_bytes_per_sequence"] if "kv_cache.state_bytes_per_sequence" in r.metrics else 0.0
    peak_kv = per_token * (s["inference.prompt_tokens"] + output) + state
    if any_true(layers.sliding):
        from ..formulas._array import minimum

        sliding = r.terms["sliding_kv_bytes_per_token"].value
        peak_kv = peak_kv - sliding * maximum(s["inference.prompt_tokens"] + output - minimum(
            s["inference.prompt_tokens"] + output, layers.window), 0.0)
    kernels = KERNELS_PER_STEP + (L - layers.linear) * (KERNELS_MLA if mla else KERNELS_SOFTMAX_ATTENTION) \
        + layers.linear * KERNELS_LINEAR_ATTENTION
    if moe:
        shared = KERNELS_SHARED_EXPERT * (s["model.moe.shared_experts"] > 0)
        kernels = kernels + (L - moe_layers) * KERNELS_DENSE_FFN + moe_layers * (KERNELS_MOE + shared)
    else:
        kernels = kernels + L * KERNELS_DENSE_FFN
    replicated, split, permute = elementwise_bytes(s, L, moe_layers, top_k)
    draft = s.get("inference.speculative.draft_tokens", 0.0)
    accepted = S.accepted_tokens_per_step(draft, s.get("inference.speculative.acceptance", 0.0))
    return Model(
        layers=L, moe_layers=moe_layers, hidden=s["model.hidden"], dense_params=dense_params,
        dense_bytes=(r["model.params"] - routed) * w, expert_params=expert, routed_bytes=routed * w_expert,
        experts=s["model.moe.experts"] if moe else 1.0, top_k=top_k, weight_bytes=w, expert_weight_bytes=w_expert,
        kv_heads=1.0 if mla else s["model.kv_heads"], decode_kv_bytes=read / output,
        decode_attention_flops=flops / output, prefill_attention_flops=prefill_flops,
        prompt_kv_bytes=per_token * prompt, peak_kv_bytes=peak_kv, kernels=kernels,
        elementwise_replicated=replicated, elementwise_split=split, elementwise_permute=permute, prompt=prompt,
        input_tokens=s["inference.prompt_tokens"], output=output,
        draft_tokens=draft, accepted=accepted, graph_padding=s.get("inference.graph_padding") == "doubling",
        query_heads=s["model.heads"],
        per_query_head=not mla and s.get("inference.decode_attention") == "per-query-head")


def elementwise_bytes(s: dict, layers, moe_layers, top_k):
    """HBM bytes one token's element-wise work moves in a forward pass: (on every tensor rank, split over it,
    MoE permutation).

    Formula: per layer K(h, q, kv, f, gated, k) / 3 (formulas.kernel_efficiency.elementwise_bytes_per_token_layer
             counts forward + backward, 3x the forward); the hidden-wide part (norms, residual adds, MoE
             permutation: K(h, 0, 0, 0, gated, k) / 3) runs on every tensor rank, the rest (RoPE over q and kv,
             the activation over the FFN width f) is split; plus 8 B x vocab of FP32 logits the LM head writes
             and the sampler reads. The MoE permutation (5 k h values) is returned apart: under an expert
             all-to-all the dispatch and combine kernels do it (decode.expert_collectives counts them)
    Convention: operator by operator, unfused (an engine that fuses the residual add into the norm moves
    less); bf16 activations; the FFN width of an MoE layer is k routed experts' plus the shared ones'.
    Source: formulas.kernel_efficiency.elementwise_bytes_per_token_layer (Korthikanti et al. 2022, sec. 4.1).
    """
    h, gated = s["model.hidden"], s["model.ffn_gated"]
    q, kv = s["model.heads"] * s["model.head_dim"], s["model.kv_heads"] * s["model.head_dim"]
    dense = layers - moe_layers
    width = (top_k * s["model.moe.expert_ffn_hidden"] + s["model.moe.shared_experts"]
             * s["model.moe.shared_expert_ffn_hidden"]) if "model.moe.experts" in s else 0.0
    replicated = layers * K.elementwise_bytes_per_token_layer(h, 0.0, 0.0, 0.0, gated) / 3
    permute = moe_layers * (K.elementwise_bytes_per_token_layer(h, 0.0, 0.0, 0.0, gated, top_k) / 3
                            - K.elementwise_bytes_per_token_layer(h, 0.0, 0.0, 0.0, gated) / 3)
    whole = (dense * K.elementwise_bytes_per_token_layer(h, q, kv, s.get("model.ffn_hidden", 0.0), gated)
             + moe_layers * K.elementwise_bytes_per_token_layer(h, q, kv, width, gated)) / 3
    return replicated + 8.0 * s["model.vocab"], whole - layers * K.elementwise_bytes_per_token_layer(
        h, 0.0, 0.0, 0.0, gated) / 3, permute


def read_device(r, s: dict) -> Device:
    """The accelerator's figures from the scenario (links default to none: no communication cost)."""
    inf = float("inf")
    return Device(peak=s["hardware.peak_flops"], gemm_efficiency=gemm_ceiling(s.get("hardware.preset"),
                                                                              s["precision.compute"]),
                  attention_peak=s["hardware.attention_peak_flops"],
                  attention_efficiency=s["hardware.attention_efficiency"], bandwidth=s["hardware.bandwidth"],
                  usable_memory=r.terms["usable_memory"].value,
                  scale_up=s.get("hardware.scale_up_bandwidth", inf),
                  scale_out=s.get("hardware.scale_out_bandwidth", s.get("hardware.scale_up_bandwidth", inf)),
                  domain=s.get("hardware.scale_up_size", DEFAULT_SCALE_UP),
                  kv_efficiency=kv_bandwidth_efficiency(s.get("hardware.preset"), S.KV_BANDWIDTH_EFFICIENCY),
                  # the training step's forward kernel grid, causal, a query attending the whole prompt
                  prefill_attention_efficiency=attention_efficiency(
                      kernel_generation(s.get("hardware.preset"), "fused"), r.terms["attention_kernel_head_dim"].value,
                      s["inference.prompt_tokens"], True)[0])

