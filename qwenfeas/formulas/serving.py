"""Serving as deployed engines run it: decode steps, prefill, continuous batching and their costs.

Every function takes plain numbers or numpy arrays of one shape. The constants below are
mechanism-level figures with their primary source; none is fitted to a serving benchmark.
"""

from __future__ import annotations

import math

from ._array import ceil, maximum, minimum, where

# Achievable fractions of the datasheet peaks (performance reference, sections 1-4).
WEIGHT_BANDWIDTH_EFFICIENCY = 0.76
"""Large-matrix weight streaming (decode GEMMs, N*K large): 2.4-2.7 TB/s of 3.35 TB/s on H800
(DeepGEMM README @ a9967bc, FP8 M=64/128 'Memory bandwidth' column), midpoint."""
EXPERT_BANDWIDTH_EFFICIENCY = 0.48
"""Small-N weight streaming (routed-expert matrices): 1.5-1.7 TB/s of 3.35 TB/s on H800
(DeepGEMM README @ a9967bc, small-N rows), midpoint."""
KV_BANDWIDTH_EFFICIENCY = 0.90
"""Decode attention reading the KV cache: FlashMLA 3000 GB/s of 3.35 TB/s on H800 (FlashMLA README @ 066b5ba6);
the default where formulas.accelerators.KV_BANDWIDTH_MEASURED has no measurement for the accelerator."""
GROUPED_GEMM_EFFICIENCY = 0.55
"""MoE grouped GEMM, masked layout: 47-62% of FP8 peak (DeepGEMM README @ a9967bc, grouped tables), midpoint."""
LINK_EFFICIENCY = 0.80
"""NCCL busbw over NVLink: ~370 of 450 GB/s on 8x H100 (NCCL maintainer, NVIDIA/nccl-tests issue #212)."""
COLLECTIVE_BASE_SECONDS = 6.6e-6
"""NCCL base latency of one collective, ring LL protocol (NVIDIA/nccl src/graph/tuning.cc baseLat)."""
SCALE_UP_HOP_SECONDS = 0.6e-6
"""NCCL per-hop latency over NVLink, LL protocol (tuning.cc hwLat)."""
SCALE_OUT_HOP_SECONDS = 5e-6
"""NCCL per-hop latency over the network, tree LL protocol (tuning.cc hwLat)."""
PREFILL_TOKEN_BUDGET = 8192
"""Prompt tokens one engine iteration schedules per attention rank: TensorRT-LLM's max_num_tokens default
(NVIDIA/TensorRT-LLM tensorrt_llm/builder.py, BuildConfig.max_num_tokens = 8192; the "Tuning Max Batch Size
and Max Num Tokens" guide: the scheduler packs context requests up to this budget)."""
KERNEL_SECONDS = 4e-6
"""Time one small kernel occupies the GPU in a decode step: 4-6 us per launch (susun-blog.com,
'pegainfer (3): From Launch Overhead to CUDA Graph', CUDA 13), low end: CUDA graphs hide the CPU side."""


def accepted_tokens_per_step(draft_tokens, acceptance):
    """Tokens a sequence advances per decode step with speculative decoding.

    Formula: (1 - a^(d + 1)) / (1 - a)   (d draft tokens, each accepted with probability a while
             every earlier one was; the verifying step always yields one token); d + 1 when a = 1
    Convention: acceptances independent, as Leviathan et al. assume; with no drafts it is 1.
    Source: Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding"
    (ICML), eq. 1; DeepSeek-V3 report (arXiv 2412.19437) sec. 5.4.3: MTP's 2nd token accepted 85-90%.
    """
    a = minimum(acceptance, 1.0 - 1e-12)
    return (1 - a ** (draft_tokens + 1)) / (1 - a)


LARGEST_GRAPH_BATCH = 8192.0
"""Largest decode batch TensorRT-LLM's v1.0 perf overview captures a CUDA graph for (its llm_options.yml:
cuda_graph_config batch_sizes 1, 2, 4, ... 8192, enable_padding: true; NVIDIA/TensorRT-LLM
docs/source/performance/perf-overview.md @ 00f37686)."""


def padded_batch(batch, doubling):
    """Sequences a decode step computes when the engine pads its batch to a captured CUDA graph.

    Formula: 2^ceil(log2 b) for b <= 8192 when batches are padded to doubling sizes, else b
    Convention: graphs captured at powers of two (TensorRT-LLM's coarse list above 128: 256, 512,
    1024, 2048; its perf overview also captures 384); the empty slots run the GEMMs, element-wise work
    and collectives but read no KV cache; a batch past the largest graph runs unpadded.
    Source: NVIDIA/TensorRT-LLM tech blog 20, "Tuning CUDA Graph Batch Sizes for Higher Output Throughput"
    (padding to the next captured size wastes up to 50% of a step; finer sizes gave up to 1.3x output
    throughput aggregated, 1.5x disaggregated); the perf overview's llm_options.yml (LARGEST_GRAPH_BATCH).
    """
    power = 2.0 ** ceil(_log(maximum(batch, 1.0)) / math.log(2.0) - 1e-9)
    return where(doubling & (batch <= LARGEST_GRAPH_BATCH), maximum(power, batch), batch)


def kv_shards(tensor, kv_heads):
    """Ways a sequence's KV cache is split over a tensor-parallel group.

    Formula: min(t, n_kv)   (each rank keeps its heads' K and V; past n_kv ranks, heads are replicated)
    Convention: MLA's latent is one shared "head" (n_kv = 1): every tensor-parallel rank holds all of it,
    which is why DeepSeek serves attention data-parallel.
    Source: vLLM `get_num_kv_heads` (KV heads replicated when tensor parallel size > num_key_value_heads);
    DeepSeek-V3 report sec. 3.4.2 (attention TP4 + DP80 in decoding).
    """
    return minimum(tensor, kv_heads)


def decode_kv_read_share(tensor, kv_heads, query_heads, per_query_head):
    """Share of one sequence's KV cache a tensor-parallel rank reads from memory in one decode step.

    Formula: grouped:         1 / min(t, n_kv)          (each KV head's cache read once, kv_shards)
             per query head:  (n_q / t) / n_kv          (each of the rank's n_q / t query heads reads its
                                                         KV head's cache: g = n_q / n_kv times the grouped
                                                         read while t <= n_kv)
    Convention: no reuse through L2 counted (the kernel's source documents none; each block streams its
    KV head's whole cache); MLA's latent is always read once (deployment.read_model never asks for
    per-query-head reads on MLA).
    Source: TensorRT-LLM release/0.5.0 @ 11e14500f35dd781b535ba009c906f55ecfee3b5,
    cpp/tensorrt_llm/kernels/decoderMaskedMultiheadAttention/decoderMaskedMultiheadAttentionLaunch.h
    (grid = num_heads x batch x seq_len_tile: one thread block per query head) and
    decoderMaskedMultiheadAttentionTemplate.h (block hi loads K and V of head hi_kv = hi / (n_q / n_kv) for
    every cached timestep); the grouped form is XQA's (release/v0.7.1 decoderXQARunner.h: CTAs per KV head,
    8 query heads per KV head; docs/source/blogs/XQA-kernel.md: "reducing data loading", Llama-70B on one
    H200 at 128/2048 from 1,227 to 2,941 output tok/s/GPU).
    """
    return where(per_query_head, query_heads / (kv_heads * tensor), 1.0 / kv_shards(tensor, kv_heads))


def mla_absorbed_flops_per_key(layers, heads, kv_lora_rank, rope_head_dim):
    """Forward FLOPs one decoded token spends on one cached token in MLA's absorbed form.

    Formula: 2 * L * n * (2 * r_kv + d_rope)   (scores over the r_kv latent plus the RoPE key,
             then the weighted sum of latents, per query head)
    Convention: decode kernels fold W_UK into the query and W_UV into the output, so attention runs
    over the 576-wide latent: more FLOPs per key than the 320-wide decompressed heads, far fewer bytes.
    Source: DeepSeek-V2 report (arXiv 2405.04434) sec. 2.1.2 (absorbing W_UK, W_UV); FlashMLA README.
    """
    return 2 * layers * heads * (2 * kv_lora_rank + rope_head_dim)


def busiest_device_experts(experts, top_k, tokens, expert_parallel):
    """Distinct routed experts one MoE layer runs on its busiest device in a step.

    Formula: touched = E * (1 - (1 - k/E)^T);  m = touched / e;
             busiest = min(E/e, m + sqrt(2 m ln e))   (1 device: touched)
    Convention: uniform independent routing; the most-loaded device sets the pace of expert
    parallelism, and its excess over the mean is the balls-into-bins maximum.
    Source: Raab and Steger 1998, "Balls into Bins: A Simple and Tight Analysis" (max load
    m + sqrt(2 m ln n) for m >> ln n); occupancy of E bins by T draws of k.
    """
    touched = experts * (1 - (1 - top_k / experts) ** tokens)
    mean = touched / expert_parallel
    spread = (2 * mean * _log(expert_parallel)) ** 0.5
    return minimum(experts / expert_parallel, mean + spread)


def busiest_device_assignments(tokens, top_k, expert_parallel):
    """Token-expert pairs the busiest device computes in one MoE layer.

    Formula: m = T * k / e;  m + sqrt(2 m ln e)
    Convention: as busiest_device_experts (uniform routing, balls-into-bins maximum).
    Source: Raab and Steger 1998.
    """
    mean = tokens * top_k / expert_parallel
    return mean + (2 * mean * _log(expert_parallel)) ** 0.5


def _log(x):
    try:
        return math.log(x)
    except TypeError:  # a numpy array
        import numpy as np

        return np.log(x)


def collective_latency_seconds(group, hops_per_member, scale_up_domain):
    """Fixed latency of one collective: NCCL's base cost plus one hop per step around the group.

    Formula: base + hops * (n - 1) * hop, with hop = NVLink's inside a scale-up domain, the network's past it
             (hops = 2 for an all-reduce: reduce-scatter then all-gather; 1 for an all-gather)
    Convention: small messages (decode activations) sit in this latency regime.
    Source: NVIDIA/nccl src/graph/tuning.cc (baseLat, hwLat; quoted in NVIDIA/nccl issue #1334).
    """
    hop = where(group <= scale_up_domain, SCALE_UP_HOP_SECONDS, SCALE_OUT_HOP_SECONDS)
    return where(group > 1, COLLECTIVE_BASE_SECONDS + hops_per_member * (group - 1) * hop, 0.0)


def collective_seconds(message_bytes, group, factor, link_bandwidth, hops_per_member, scale_up_domain):
    """One collective: latency plus bytes over the achievable link bandwidth.

    Formula: alpha(n) + bytes * factor / (eta * B)   (factor: all-reduce 2(n-1)/n, all-gather and
             all-to-all (n-1)/n; eta = 0.8)
    Source: NVIDIA/nccl-tests doc/PERFORMANCE.md (bus-bandwidth factors); NVIDIA/nccl-tests issue #212.
    """
    return (collective_latency_seconds(group, hops_per_member, scale_up_domain)
            + message_bytes * factor / (LINK_EFFICIENCY * link_bandwidth))


def all_to_all_seconds(message_bytes, group, link_bandwidth, scale_up_domain):
    """One all-to-all (MoE dispatch or combine): each member sends to all the others at once.

    Formula: base + hop + bytes / (eta * B)   (bytes: what one member sends to the others; one hop of
             latency, NVLink's inside a scale-up domain, the network's past it; none for a group of one)
    Convention: the sends are concurrent, not passed around a ring, so the latency does not grow with
             n - 1 hops: DeepEP's low-latency dispatch takes 77 us at EP8 and 194 us at EP256 with the same
             128 tokens per rank (2.5x for a 32x larger group, the growth being bandwidth).
    Source: NVIDIA/nccl src/graph/tuning.cc (baseLat, hwLat); deepseek-ai/DeepEP docs/legacy.md @ 0297fc8
    (low-latency kernels, EP8 to EP256).
    """
    hop = where(group <= scale_up_domain, SCALE_UP_HOP_SECONDS, SCALE_OUT_HOP_SECONDS)
    return where(group > 1, COLLECTIVE_BASE_SECONDS + hop, 0.0) + message_bytes / (LINK_EFFICIENCY * link_bandwidth)


def phase_seconds(flops, bytes_moved, peak_flops, flops_efficiency, bandwidth, bandwidth_efficiency):
    """One phase of a step on one device: the slower of its compute and its memory traffic.

    Formula: max(FLOPs / (peak * eta_c), bytes / (B * eta_m))
    Convention: a phase is one kind of kernel (weight matmuls, routed experts, attention); phases
    run one after another, so a step is their sum, not one roofline over all of them.
    Source: Williams et al. 2009, "Roofline"; achievable fractions from the constants above.
    """
    return maximum(flops / (peak_flops * flops_efficiency), bytes_moved / (bandwidth * bandwidth_efficiency))


def steady_state(step_seconds, batch, tokens_per_step, output_tokens, prefill_seconds):
    """Continuous batching in steady state: (requests/s, TPOT, share of time spent on prefill).

    Formula: decode rate D = b * a / s (tokens/s while decoding); requests X = D / (O + D * P);
             prefill share f = X * P;  TPOT = (b / X - P) / O   (a request lives b / X: its own prefill,
             then O tokens, each slowed by the other requests' prefills)
    Convention: each finishing sequence is replaced by a new one whose prefill (P seconds of the
    whole replica, chunked into the decode steps) stalls decoding; a = tokens per step per sequence.
    A lone sequence (b = 1) decodes at s / a.
    Source: Little's law (b = X * latency); Agrawal et al. 2024, "Taming Throughput-Latency Tradeoff
    in LLM Inference with Sarathi-Serve" (OSDI), chunked prefills piggybacked on decode batches.
    """
    decode_rate = batch * tokens_per_step / step_seconds
    requests = decode_rate / (output_tokens + decode_rate * prefill_seconds)
    return requests, (batch / requests - prefill_seconds) / output_tokens, requests * prefill_seconds


def cost_per_million_tokens_usd(accelerators, price_per_hour, tokens_per_second):
    """Rental cost of a million tokens.

    Formula: n * price / 3600 / (tokens/s) * 1e6
    Convention: the accelerators are rented by the hour whether busy or not; a rental price holds power.
    Source: definition.
    """
    return accelerators * price_per_hour / 3600.0 / tokens_per_second * 1e6

