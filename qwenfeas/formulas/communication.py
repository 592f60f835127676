"""First-order communication volume of parallel training, per accelerator over the whole run."""

from __future__ import annotations

from ._array import maximum, minimum, where


def ring_factor(group):
    """Share of a message each member sends in a ring all-reduce.

    Formula: 2 (g - 1) / g   (reduce-scatter then all-gather)
    Source: Patarasuk and Yuan 2009, "Bandwidth optimal all-reduce algorithms".
    """
    return 2 * (group - 1) / group


# NCCL's latency model (NVIDIA/nccl src/graph/tuning.cc, baseLat and hwLat tables, quoted in
# NVIDIA/nccl issue #1334): a collective starts at 8.4 us (Ring, Simple protocol: large messages)
# and each step between neighbours adds 0.6 us over NVLink, 5 us over the network.
COLLECTIVE_BASE_SECONDS = 8.4e-6
HOP_SECONDS_SCALE_UP = 0.6e-6
HOP_SECONDS_SCALE_OUT = 5e-6


# Compute that runs while a collective moves data runs 18.9% slower on average (at most 40%) than
# alone: SMs, HBM bandwidth and power shared with the communication kernels. Measured over GPT and
# LLaMA training kernels on 4 A100, H100, MI250 and MI210 (Lee et al. 2025, "Characterizing
# Compute-Communication Overlap in GPU-Accelerated Distributed Deep Learning: Performance and Power
# Implications", arXiv 2507.03114, abstract).
OVERLAP_COMPUTE_SLOWDOWN = 0.189


def overlap_slowdown_seconds(hidden_seconds, slowdown=OVERLAP_COMPUTE_SLOWDOWN):
    """Time compute loses while a collective runs hidden under it.

    Formula: c * s / (1 + s)
             (the compute that shares the collective's c seconds gets through c / (1 + s) seconds of
             its own work, so c s / (1 + s) of work is left for after)
    Convention: c the communication time hidden under compute; s the measured compute slowdown while
    overlapped (OVERLAP_COMPUTE_SLOWDOWN), which counts the SMs the collective takes and the memory
    bandwidth and power it shares.
    Source: Lee et al. 2025 (arXiv 2507.03114), abstract: 18.9% average, 40.0% maximum compute slowdown.
    """
    return hidden_seconds * slowdown / (1.0 + slowdown)


def paired_all_to_all_exposed(all_to_all_seconds, compute_seconds, forward_share):
    """Expert all-to-all time left exposed when a schedule pairs one micro-batch's forward with
    another's backward and hides each pass's all-to-alls under the other pass's compute.

    Formula: max(A / 2 - f C, 0) + max(A / 2 - (1 - f) C, 0)
             (the forward's dispatch and combine, half the all-to-all time A, run under the paired
             backward's (1 - f) C of compute; the backward's half under the forward's f C)
    Convention: A the all-to-all seconds of one micro-batch, forward and backward (the backward sends
    the gradients of the same tokens: the same bytes); C its compute, of which the forward runs the
    share f (1/3: one of the three GEMM passes; 1/4 under full recomputation, whose replayed forward
    runs in the backward pass).
    Source: Megatron-Core API docs, core.pipeline_parallel.combined_1f1b ("EP A2A in forward step is
    hidden by the attention/mlp computation in the backward step, and vice versa"; enabled by
    --overlap-moe-expert-parallel-comm); DeepSeek-V3 report (arXiv 2412.19437) sec. 3.2.1, Figure 4
    (DualPipe overlaps a pair of forward and backward chunks the same way).
    """
    forward = compute_seconds * forward_share
    half = all_to_all_seconds / 2.0
    return maximum(half - forward, 0.0) + maximum(half - (compute_seconds - forward), 0.0)


def collective_latency(steps_inside, steps_between, base_seconds=COLLECTIVE_BASE_SECONDS,
                       hop_inside=HOP_SECONDS_SCALE_UP, hop_between=HOP_SECONDS_SCALE_OUT):
    """Fixed time of one collective before its bytes: alpha in alpha + bytes x factor / (eta B).

    Formula: base + s_in x hop_in + s_out x hop_out
    Convention: steps of the ring between neighbours: a ring pass over g ranks in n scale-up domains
    takes g - n steps inside a domain and n - 1 across the network (`ring_steps`); a ring
    reduce-scatter, all-gather or all-to-all is one pass, an all-reduce two; a point-to-point send
    one step.
    Source: NCCL's tuning model (NVIDIA/nccl src/graph/tuning.cc, quoted in NVIDIA/nccl issue #1334):
    Ring Simple base 8.4 us, per-hop 0.6 us NVLink and 5 us network, network steps counted per node
    crossing; measured ~34 us for an 8-GPU ring all-reduce on DGX A100 (NVIDIA/nccl-tests issue
    #123) is of the same order.
    """
    return base_seconds + steps_inside * hop_inside + steps_between * hop_between


def ring_steps(group, domains):
    """Steps of one ring pass over `group` ranks spread over `domains` scale-up domains: (inside, across).

    Formula: (g - n, n - 1)
    Source: NCCL's ring latency model (src/graph/tuning.cc: intra-node and network steps).
    """
    return group - domains, domains - 1


def tensor_parallel_bytes(layers, tokens, hidden, bytes_per_value, tensor_parallel):
    """Bytes one accelerator sends for tensor-parallel all-reduces of activations.

    Formula: 4 * L * T * h * b * 2 (t - 1)/t   (two all-reduces per layer forward, two backward,
             each of the activations of the T tokens the accelerator processes)
    Convention: L is the layers on this pipeline stage; with sequence parallelism the all-reduces
    become all-gathers and reduce-scatters of the same total volume.
    Source: Shoeybi et al. 2019 (Megatron-LM), sec. 3 (f and g operators); Korthikanti et al. 2022, sec. 4.2.2.
    """
    return 4 * layers * tokens * hidden * bytes_per_value * ring_factor(tensor_parallel)


def data_parallel_bytes(params, gradient_bytes, weight_bytes, steps, group, zero_stage, micro_batches=1.0):
    """Bytes one accelerator sends per run to keep data-parallel replicas in step.

    Formula: per step, with r = (g - 1)/g over a group of g replicas and m micro-batches:
             ZeRO 0: all-reduce of gradients once                  2 P b_g r
             ZeRO 1: reduce-scatter gradients, all-gather weights  P (b_g + b_w) r
             ZeRO 2: gradients are sharded, so they are reduce-scattered after every micro-batch:
                                                                   P (m b_g + b_w) r
             ZeRO 3: and the weights are gathered for each micro-batch's forward and backward:
                                                                   m P (b_g + 2 b_w) r
    Convention: P is the accelerator's parameter share before ZeRO sharding.
    Source: Rajbhandari et al. 2020 (ZeRO), sec. 7 (stage 3: gradients reduce-scattered, parameters
    all-gathered twice: 1.5x a plain all-reduce); Patarasuk and Yuan 2009 (ring collectives).
    """
    share = (group - 1) / group
    m = micro_batches
    per_step = where(zero_stage >= 3, m * params * (gradient_bytes + 2 * weight_bytes),
                     where(zero_stage >= 2, params * (m * gradient_bytes + weight_bytes),
                           where(zero_stage >= 1, params * (gradient_bytes + weight_bytes),
                                 2 * params * gradient_bytes)))
    return steps * per_step * share


def hierarchical_data_parallel_bytes(params, gradient_bytes, weight_bytes, group, per_domain, zero_stage,
                                     micro_batches=1.0):
    """Bytes one accelerator sends per step to keep a data-parallel group in step when the group spans
    several scale-up domains: (inside a domain, between domains).

    Formula: inside  = data_parallel_bytes(P, b_g, b_w, 1, g_in, stage, m)
             between = data_parallel_bytes(P / g_in, b_g, b_w, 1, g / g_in, stage, m)
             (each collective runs in two levels: over the g_in members in the accelerator's own
             domain on the scale-up link, then over the g / g_in domains on the scale-out network
             with the 1/g_in share the first level left on this accelerator; an all-gather runs
             the levels in the other order with the same bytes)
    Convention: g_in members of the group per domain (1: every member in its own domain, the flat
    collective over the network; g: the group inside one domain); the ZeRO stage applies at both
    levels, so the weight gathers of ZeRO-3 and the gradient reduce-scatters of ZeRO-2 cross the
    network once per micro-batch with the between-domain share. A run that keeps a full copy of the
    weights in every domain (PaLM's pods, PyTorch's hybrid sharding) sends less between domains:
    the gradients only.
    Source: Patarasuk and Yuan 2009 (ring collectives, per level); Chowdhery et al. 2022 (PaLM,
    arXiv 2204.02311) sec. 4: a two-level exchange, in-pod sharded data parallelism over ICI and
    1:1 gradient transfers between corresponding hosts of the two pods over the data-centre network.
    """
    inside = data_parallel_bytes(params, gradient_bytes, weight_bytes, 1.0, per_domain, zero_stage, micro_batches)
    between = data_parallel_bytes(params / per_domain, gradient_bytes, weight_bytes, 1.0, group / per_domain,
                                  zero_stage, micro_batches)
    return inside, between


# Scale bytes an FP8 weight all-gather carries per parameter, by recipe: per-tensor scaling (delayed,
# current) sends one FP32 scale per weight tensor, nothing per parameter at the first order; MXFP8 one
# E8M0 byte per block of 32 values (OCP Microscaling Formats (MX) Specification v1.0, sec. 5: k = 32,
# scale E8M0); DeepSeek-V3's blockwise recipe one FP32 scale per 128 x 128 weight block (DeepSeek-V3
# report, arXiv 2412.19437, sec. 3.3.1).
FP8_GATHER_SCALE_BYTES = {"delayed": 0.0, "current": 0.0, "mxfp8": 1 / 32, "blockwise": 4 / (128 * 128)}


def fp8_gather_bytes(recipe):
    """Bytes per parameter of a weight all-gather sent in FP8: the E4M3 value and its share of the scales.

    Formula: 1 + scale bytes per value of the recipe (FP8_GATHER_SCALE_BYTES)
    Convention: the weights are cast to FP8 on their owner before the all-gather, once per gather;
    the gradients' reduce-scatter keeps its own precision.
    Source: Megatron-LM megatron/training/arguments.py, --fp8-param-gather ("Keep the compute param in
    fp8 ... and perform the param all-gather in fp8"); NeMo's MegatronMixedPrecision turns it on with
    fp8_params, and NeMo 2.0 / Megatron-Bridge's bf16_with_fp8_mixed and current-scaling recipes set
    fp8_param_gather = True. JAX: MaxText's quantization=fp8 (layers/quantizations.py, Fp8Quantization ->
    flax nn.Fp8DotGeneralOp) casts each gathered weight to FP8 with a per-tensor scale inside the dot;
    XLA's CollectiveQuantizer pass (openxla/xla xla/service/collective_quantizer.h, "exchanging the
    collectives with subsequent quantizations or type conversions to a narrower type", run in
    gpu_compiler.cc's collectives pipeline) moves that cast before the all-gather.
    """
    return 1.0 + FP8_GATHER_SCALE_BYTES[recipe]


def remote_destinations(top_k, nodes, node_limit):
    """Other nodes one token's routed copies go to, when copies to one node travel once.

    Formula: min(M (n - 1)/n, (n - 1)(1 - (1 - 1/n)^k))
             (k experts drawn uniformly over n nodes reach n (1 - (1 - 1/n)^k) distinct nodes; the
             token's own node is one of them with the same chance as any other; node-limited routing
             caps the nodes at M)
    Convention: n nodes spanned by the expert-parallel group; M = k when routing is not limited.
    Source: DeepSeek-V3 report (arXiv 2412.19437) sec. 2.1.2 (node-limited routing, M = 4) and
    sec. 3.2.2 (each token crosses InfiniBand once per node, then NVLink to its experts).
    """
    reached = (nodes - 1) * (1 - (1 - 1 / nodes) ** top_k)
    return minimum(node_limit * (nodes - 1) / nodes, reached)


def all_to_all_bytes(moe_layers, tokens, hidden, copies, dispatch_bytes, combine_bytes):
    """Bytes one accelerator sends in the expert all-to-alls of forward and backward.

    Formula: 2 * L_moe * T * c * h * (b_dispatch + b_combine)
             (dispatch and combine in the forward; the backward sends the gradients of both along
             the same routes)
    Convention: T tokens on this accelerator, each sent as c copies to other accelerators (or
    nodes); b the bytes per value of each direction (FP8 dispatch, BF16 combine in DeepSeek-V3).
    Source: Lepikhin et al. 2020 (GShard) sec. 3; DeepSeek-V3 report sec. 3.3.3 (FP8 dispatch of
    activations and of the gradients before the down-projection, BF16 combine).
    """
    return 2 * moe_layers * tokens * copies * hidden * (dispatch_bytes + combine_bytes)


def pipeline_bytes(tokens, hidden, bytes_per_value, tensor_parallel, sends=1.0):
    """Bytes one accelerator sends to the next pipeline stage per micro-batch, forward and backward.

    Formula: 2 * v * T * h * b / t   (activations forward, their gradients backward; with sequence
             parallelism each tensor-parallel rank sends its 1/t slice; v sends under interleaving)
    Source: Narayanan et al. 2021 (arXiv 2104.04473) sec. 4.1 (scatter/gather optimisation) and sec. 2.2.2.
    """
    return 2 * sends * tokens * hidden * bytes_per_value / tensor_parallel


def context_parallel_bytes(layers, tokens, kv_bytes_per_token_layer, context_parallel):
    """Bytes one accelerator sends passing K and V around a context-parallel ring.

    Formula: 3 * L * T * kv * (c - 1)   (each rank's K, V chunk visits the c - 1 others in the
             forward pass; the backward pass sends K, V again and their gradients)
    Convention: T is the tokens this accelerator holds; kv the K and V bytes of one token in one layer.
    Source: Liu et al. 2023, "Ring Attention with Blockwise Transformers"; Megatron-Core context parallelism.
    """
    return 3 * layers * tokens * kv_bytes_per_token_layer * (context_parallel - 1)
