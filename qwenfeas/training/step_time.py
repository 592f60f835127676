"""One optimizer step of a training layout: its time, part by part, and its memory per accelerator.

`evaluate` is straight-line numpy-friendly arithmetic over a layout whose degrees may be numbers
(a stated layout) or arrays (every candidate of the layout search, or every point of a sweep), so
the search and the estimate share one model. The parts:

  compute    GEMMs at a roofline efficiency for their shape and precision, attention kernels,
             memory-bound element-wise work; slowed by the SMs overlapped all-to-alls take
  pipeline   the schedule's bubble on top of the micro-batches' busy time
  exposed    communication that compute does not hide: tensor-parallel collectives (unless
             overlapped), expert all-to-alls (unless the schedule overlaps them), the context ring
             beyond the attention it overlaps, the data-parallel last bucket, pipeline fill sends
  optimizer  one Adam step over this accelerator's shard
"""

from __future__ import annotations

from ..formulas import communication as C
from ..formulas import grouped_gemm as G
from ..formulas import kernel_efficiency as K
from ..formulas import pipeline as PL
from ..formulas import training_memory as TM
from ..formulas._array import any_true, ceil, maximum, minimum, where
from .step_inputs import Work

__all__ = ["amax_reductions", "evaluate"]

# Megatron's f and g operators: per layer, 2 tensor-parallel all-reduces in the forward and 2 in the
# backward (Shoeybi et al. 2019, sec. 3); sequence parallelism turns each into an all-gather and a
# reduce-scatter (Korthikanti et al. 2022, sec. 4.2.2). Full recomputation replays the forward's.
TP_FORWARD_ALL_REDUCES = 2
TP_BACKWARD_ALL_REDUCES = 2
# Expert all-to-alls per MoE layer: dispatch and combine in the forward, both again in the backward
# (Lepikhin et al. 2020, GShard, sec. 3).
EP_ALL_TO_ALLS = 4
# FP8 current scaling under sequence parallelism all-reduces the amax of every tensor it gathers over
# the tensor-parallel group, before the cast (the rank's quantizer waits on it): the inputs of the
# column-parallel GEMMs in the forward (QKV, FFN up), the output gradients of the row-parallel ones in
# the backward (attention output, FFN down) - 2 and 2 per layer with an FFN split over the group.
# Source: NVIDIA Transformer Engine @ d0067d0, pytorch/module/linear.py and layernorm_linear.py
# (set_quantizer_amax_reduction_group for sequence_parallel column/row modes), pytorch/csrc/quantizer.cpp
# (compute amax, all-reduce, then scale); docs "FP8 Current Scaling", amax reduction.
AMAX_REDUCTIONS_PER_SPLIT_GEMM_PAIR = 2  # per attention block and per split FFN, forward 1 + backward 1


def tp_replay_factor(full_recompute):
    """Tensor-parallel traffic under full recomputation over that without: the forward's collectives
    run twice. Formula: (2 F + B) / (F + B) = 6/4 = 1.5 with F = B = 2 all-reduces per layer."""
    forward, backward = TP_FORWARD_ALL_REDUCES, TP_BACKWARD_ALL_REDUCES
    return where(full_recompute, (2 * forward + backward) / (forward + backward), 1.0)


def _link(w: Work, span):
    """Achieved bandwidth of a group spanning `span` consecutive ranks: the scale-up link when the
    group stays inside one domain, else the scale-out network (see `_is_up`)."""
    return where(_is_up(w, span) > 0, w.up, w.out)


def evaluate(w: Work, lay: dict) -> dict:
    """Time of one optimizer step and memory per accelerator for a layout (numbers or arrays of candidates).

    Formula: step = m * (compute / (1 - SM share if all-to-alls overlap) + exposed TP + exposed EP
             (overlapped: each pass's all-to-alls beyond the paired pass's compute,
             communication.paired_all_to_all_exposed) + exposed CP) * (1 + bubble ratio)
             + pipeline fill sends + exposed DP + optimizer
             + 0.189/1.189 of the hidden DP (and overlapped TP) traffic, the compute it slows;
             compute = GEMMs at min(ceiling, 2M/b * 0.8 BW / peak), less tile, wave and output-write
             losses (kernel_efficiency), each grouped expert GEMM at least its local experts x 33 us of
             host launches (formulas.grouped_gemm) + attention (forward, and backward 2x, at the shares of
             the BF16 peak formulas.attention_kernels gives for the head dim, keys per query and
             kernel generation, layer kind by layer kind; an unfused kernel: the whole square's batched
             GEMMs at the BF16 ceiling and 13 + 19 B per score through HBM; either kernel's forward
             replayed under selective (Megatron-Core's core_attn) or full recompute) + element-wise
             bytes at 0.85 BW (without sequence parallelism each tensor rank moves the norms' and
             residual adds' bytes for the whole activation, Korthikanti et al. 2022 sec. 4.2.2;
             FP8 casts at the recipe's bytes, kernel_efficiency.fp8_cast_bytes;
             current scaling's amax all-reduces exposed with the tensor-parallel time,
             amax_reductions; an unfused expert epilogue's clamp and bias
             passes added: kernel_efficiency.unfused_expert_epilogue_bytes), on the slowest
             (last) stage with the LM head; m micro-batches per step and replica
    Convention: ranks ordered tensor, context, expert/data, pipeline (fastest first), so the tensor
    group spans t ranks, the context group t*c, the expert group t*c*e, the data group t*c*d; a
    group on the scale-up link when it stays in one domain; the two link classes run at once.
    Time is the slowest stage's, which holds v ceil(L/(p v)) layers (formulas.pipeline.slowest_stage_layers),
    every layer type in proportion. Memory is the first stage's, which holds
    formulas.pipeline.first_stage_layers: the short stages first and last (Llama 3, Dubey et al. 2024
    sec. 3.3.2), never more than an even L/p share; charging it the slowest stage's v ceil(L/(p v))
    layers would overstate it (DeepSeek-V3's 61 layers on 16 stages).
    Multi-token prediction: L counts each MTP depth as one more layer of the last layer's kind, the
    head runs pipeline.mtp_head_passes times on the slowest stage, and the last stage's in-flight
    micro-batch adds the MTP blocks' activations and one more set of logits per depth.
    Source: the constants' sources are in formulas.kernel_efficiency, formulas.grouped_gemm, formulas.pipeline,
    formulas.communication and this module (NCCL and DeepEP link efficiencies, DeepSeek-V3's SM
    share); GEMM output writes after the main loop: the roofline, checked on DeepGEMM's FP8 rates by
    depth (kernel_efficiency.intrinsic_ceiling); compute under hidden collectives 18.9% slower: Lee
    et al. 2025, arXiv 2507.03114; attention: FlashAttention-2 and -3's figures, cuDNN 9.13.1's on
    B200 and GB300; schedules: Narayanan et al. 2021, Qi et al. 2024, the DualPipe README.
    """
    t, p, d, e, c = lay["tensor"], lay["pipeline"], lay["data"], lay["expert"], lay["context"]
    mb, v, schedule, zero, recompute = (lay["micro_batch"], lay["virtual_stages"], lay["schedule"], lay["zero"],
                                        lay["recompute"])
    full = recompute == TM.FULL
    modules = recompute == TM.MODULES
    m = w.batch_tokens / (w.sequence * mb * d)  # micro-batches per step per replica
    m = maximum(m, 1.0)  # fewer sequences than replicas: some sit idle, the others run one micro-batch
    T = mb * w.sequence / c  # tokens of one micro-batch on this accelerator's context slice
    stage = PL.slowest_stage_layers(w.layers, p, v) / w.layers  # share of the layers on the slowest stage
    out = {"micro_batches": m}

    # --- compute of one micro-batch on the slowest (last) stage
    replay = where(full, 8.0 / 6.0, 1.0)  # full recompute replays every forward GEMM
    dense_eff = K.gemm_efficiency(T, w.compute_bytes, w.peak, w.bandwidth, w.ceiling)
    body, head_shape = _body_shapes(w, t), ((w.h, w.vocab / t, 1.0),)
    body_flops = 6 * T * w.body * stage / t * replay
    gemm = body_flops / (w.peak * dense_eff * K.layer_quantization(T, body, w.sms)) + _written(w, body_flops, T, body)
    head_eff = K.gemm_efficiency(T, 2.0, w.peak16, w.bandwidth, w.ceiling16) \
        * K.layer_quantization(T, head_shape, w.sms)
    head_passes = PL.mtp_head_passes(w.mtp, p)
    head_flops = 6 * T * w.tables / t * head_passes
    head = head_flops / (w.peak16 * head_eff) + _written(w, head_flops, T, head_shape)  # the LM head, BF16, last stage
    et = t if w.expert_tensor_split else 1.0  # expert tensor parallelism: 1 or the tensor degree
    if w.moe:
        rows = T / t * et * w.k * e / w.experts  # tokens each local expert receives (gathered over et)
        expert_flops = 6 * T / t * w.routed_active * stage * replay
        device = G.expert_device_seconds(expert_flops, rows, w.h, w.expert_ffn / et, w.gated, w.experts / e,
                                         w.compute_bytes, w.peak, w.bandwidth, w.ceiling, w.sms, w.grad_bytes)
        # each local expert is its own GEMM launch (formulas.grouped_gemm): a floor under every grouped GEMM
        experts = G.expert_gemm_seconds(device, G.expert_weight_shares(w.gated), where(full, 4.0, 3.0),
                                        w.experts / e, w.moe_layers * stage, w.expert_dispatch)
        out["expert_launch_seconds"] = experts - device
        gemm = gemm + experts
    if w.latent is not None:  # `modules` replays MLA's up-projections
        gemm = gemm + where(modules, 2 * T * w.up_projection * w.full_layers * stage / t
                            / (w.peak * dense_eff), 0.0)
    # selective recompute (Megatron-Core's core_attn) and full recompute replay the attention forward
    attention_passes = where(full | (recompute == TM.SELECTIVE), 2.0, 1.0)
    if w.unfused:  # the whole s x s square, masked half included, its scores through HBM
        attention = K.unfused_attention_seconds(T * stage / t * w.heads * w.sequence * w.full_layers,
                                                w.attention_square * T * stage / t, w.peak16, w.bandwidth,
                                                w.ceiling16, attention_passes)
    else:
        attention = sum(K.attention_training_seconds(flops * T * stage / t, w.peak16, forward, backward,
                                                     forward_passes=attention_passes)
                        for flops, forward, backward in w.attention_parts)
    bytes_dense = K.elementwise_bytes_per_token_layer(w.h, w.q_dim, w.kv_dim, w.dense_ffn, w.gated,
                                                      qk_norm=w.qk_norm)
    bytes_moe = K.elementwise_bytes_per_token_layer(w.h, w.q_dim, w.kv_dim, w.moe_width, w.gated, w.k,
                                                    qk_norm=w.qk_norm)
    replayed = where(full | modules, 4.0 / 3.0, 1.0)  # one more forward of the element-wise work (1/3 of it)
    cast_passes = where(full | modules, 2.0, 1.0)  # a replayed forward casts the GEMM inputs again
    casts = T / t * stage * (
        w.dense_layers * K.fp8_cast_bytes_per_token_layer(w.h, w.q_dim, w.kv_dim, w.dense_ffn, w.gated,
                                                          w.cast_bytes, cast_passes)
        + w.moe_layers * K.fp8_cast_bytes_per_token_layer(w.h, w.q_dim, w.kv_dim, w.moe_width, w.gated,
                                                          w.cast_bytes, cast_passes))
    out["fp8_cast_seconds"] = K.memory_bound_seconds(casts, w.bandwidth)  # within the element-wise work
    elementwise = (T / t * stage * (w.dense_layers * bytes_dense + w.moe_layers * bytes_moe) * replayed + casts
                   + T / t * 24.0 * w.vocab * head_passes)  # FP32 logits: three 8 B write-and-read round trips (logits, softmax, gradient)
    # without sequence parallelism each tensor-parallel rank runs the norms, dropouts and residual adds on the
    # whole activation, not its 1/t (Korthikanti et al. 2022, sec. 4.2.2): the t - 1 further shares
    replicated = where(w.sequence_parallel, 0.0, t - 1) * T / t * stage * w.layers \
        * K.elementwise_bytes_per_token_layer(w.h, 0.0, 0.0, 0.0, w.gated)
    elementwise = elementwise + replicated * replayed
    if w.unfused_epilogue:  # the clamp replays with the activation (modules, full), the bias with the layer (full)
        elementwise = elementwise + T / t * stage * w.moe_layers * K.unfused_expert_epilogue_bytes(
            w.expert_ffn, w.h, w.k, where(full | modules, 2.0, 1.0), where(full, 2.0, 1.0))
    elementwise = K.memory_bound_seconds(elementwise, w.bandwidth)
    compute = gemm + head + attention + elementwise
    out.update(gemm_seconds=gemm + head, attention_seconds=attention, elementwise_seconds=elementwise)

    # --- communication of one micro-batch, per link class
    zeros = 0.0 * compute
    tp_time = ep_up = ep_out = cp_time = amax = token_gather = zeros
    out_bytes = {}  # bytes per step between domains, per class (reported when the scale-out bandwidth is unknown)
    if w.links:
        tp_collectives = (TP_FORWARD_ALL_REDUCES + TP_BACKWARD_ALL_REDUCES) * where(w.sequence_parallel, 2.0, 1.0)
        passes = where(w.sequence_parallel, 1.0, 2.0)  # ring passes of one collective (all-reduce: two)
        tp_alpha = tp_collectives * _ring_latency(w, t, 1.0, passes) * where(t > 1, 1.0, 0.0)
        tp_bytes = tp_replay_factor(full) * C.tensor_parallel_bytes(w.layers * stage, T, w.h, 2.0, t)
        tp_time = tp_replay_factor(full) * w.layers * stage * tp_alpha + tp_bytes / _link(w, t)
        if w.amax_reductions:  # current scaling: each gathered tensor's amax, all-reduced before its cast
            amax = where(w.sequence_parallel & (t > 1), 1.0, 0.0) * tp_replay_factor(full) * stage \
                * amax_reductions(w) * _ring_latency(w, t, 1.0, 2.0)
            out["amax_reduction_seconds"] = amax
            tp_time = tp_time + amax
        kv_layer = 2 * w.kv_dim * 2.0
        cp_bytes = C.context_parallel_bytes(w.full_layers * stage, T, kv_layer / t, c)
        cp_time = cp_bytes / _link(w, t * c)
        out_bytes["tensor"] = m * tp_bytes * (1 - _is_up(w, t))
        out_bytes["context"] = m * cp_bytes * (1 - _is_up(w, t * c))
        if w.moe:
            span = t * c * e
            inside = _is_up(w, span) > 0
            nodes = maximum(span / w.domain, 1.0)
            per_node = e / nodes
            if w.dedup:
                remote = C.remote_destinations(w.k, nodes, w.node_limit)
                forwarded = w.k * (1 - 1 / maximum(per_node, 1.0))
            else:
                remote = w.k * (1 - per_node / e)
                forwarded = w.k * (per_node - 1) / e
            copies_out = where(inside, 0.0, remote)
            copies_up = where(inside, w.k * (e - 1) / e, forwarded)
            moe_layers = w.moe_layers * stage
            ep_out_bytes = C.all_to_all_bytes(moe_layers, T / t, w.h, copies_out, w.dispatch_bytes, 2.0)
            out_bytes["expert"] = m * where(e > 1, ep_out_bytes, 0.0)
            ep_out = ep_out_bytes / w.out
            ep_up = C.all_to_all_bytes(moe_layers, T / t, w.h, copies_up, w.dispatch_bytes, 2.0) / w.up
            # all-to-alls send to every peer at once: one step of latency each
            ep_alpha = EP_ALL_TO_ALLS * moe_layers * C.collective_latency(where(inside, 1.0, 0.0),
                                                                          where(inside, 0.0, 1.0))
            ep_up = ep_up + where(inside, ep_alpha, 0.0)
            ep_out = ep_out + where(inside, 0.0, ep_alpha)
            ep_up, ep_out = where(e > 1, ep_up, 0.0), where(e > 1, ep_out, 0.0)
            if w.expert_tensor_split:  # the k routed copies are all-gathered and reduce-scattered over et
                token_gather = C.tensor_parallel_bytes(moe_layers, T / t * et * w.k, w.h, 2.0, et) / 2 / _link(w, t)
                tp_time = tp_time + token_gather
    ep_time = maximum(ep_up, ep_out)  # the two link classes carry their shares at the same time
    overlap_ep = (schedule == PL.DUALPIPE) | w.ep_overlap
    busy = where(overlap_ep & (ep_time > 0), compute / (1 - w.all_to_all_share), compute)
    forward_share = 1.0 / (3.0 * replay)  # the forward's GEMM pass of 3 (of 4 under full recompute)
    ep_exposed = where(overlap_ep, C.paired_all_to_all_exposed(ep_time, busy, forward_share), ep_time)
    # TP overlap hides the collectives of Transformer Engine's linear layers (userbuffers); the cast waits on
    # its amax, and the dispatcher's gather of routed tokens over the expert-TP group runs outside them
    # (Megatron-Core token_dispatcher.py, gather_from_sequence_parallel_region): never overlapped
    tp_exposed = amax + token_gather if w.tp_overlap else tp_time
    if w.tp_overlap:  # compute under overlapped tensor-parallel collectives runs slower while they run
        busy = busy + C.overlap_slowdown_seconds(minimum(tp_time - amax - token_gather, busy), w.overlap_slowdown)
    cp_exposed = maximum(cp_time - attention, 0.0) if w.cp_overlap else cp_time
    micro = busy + ep_exposed + tp_exposed + cp_exposed
    if w.deepspeed and w.links:  # the 1/t slices sent between stages, all-gathered again over the tensor group
        micro = micro + where((p > 1) & (t > 1), _reassembly_seconds(w, T, t), 0.0)

    # --- the step: pipeline, then what is exposed once per step
    bubble = PL.bubble_ratio(schedule, p, m, v) * where(p > 1, 1.0, 0.0)
    pipeline_time = m * micro * (1 + bubble)
    copies = PL.weight_copies(schedule)
    tables = where(p > 1, 1.0, 2.0 - w.tied) * w.tables  # the embedding on the first stage, the head on the last
    dense_params = ((w.shared - w.tables * (2 - w.tied)) * stage + tables) / t * copies
    expert_params = w.routed * stage / (e * et) * copies
    expert_group = d * c * t / (e * et)  # replicas of one expert shard (Megatron's expert data-parallel group)
    dp_time = dp_up = dp_out = dp_alpha_time = pp_exposed = zeros
    if w.links:
        dp_span = t * c * d
        dense_in, dense_out = C.hierarchical_data_parallel_bytes(
            dense_params, w.grad_bytes, w.gather_bytes, d * c, _members_per_domain(w, dp_span, t, d * c), zero, m)
        expert_in, expert_out = C.hierarchical_data_parallel_bytes(
            expert_params, w.grad_bytes, w.gather_bytes, expert_group,
            _members_per_domain(w, dp_span, dp_span / expert_group, expert_group), zero, m)
        buckets = maximum(w.layers * stage * v, 1.0)  # one bucket per layer chunk (see `chunks` below)
        # per bucket a reduce-scatter and an all-gather (ZeRO >= 1), or one all-reduce (two ring passes)
        dp_alpha = where(zero >= 1, 2 * _ring_latency(w, d * c, t, 1.0), _ring_latency(w, d * c, t, 2.0))
        dp_alpha_time = where(d * c > 1, buckets * dp_alpha, 0.0)
        # the two levels run at once, bucket after bucket, each on its own link class
        dp_up, dp_out = (dense_in + expert_in) / w.up, (dense_out + expert_out) / w.out
        dp_time = maximum(dp_up, dp_out) + dp_alpha_time
        out_bytes["data"] = dense_out + expert_out
        pp_bytes = C.pipeline_bytes(T, w.h, 2.0, t)
        out_bytes["pipeline"] = where(p > 1, m * pp_bytes * (1 - _is_up(w, t * c * d * p)), 0.0)
        sends = pp_bytes / _link(w, t * c * d * p) \
            + 2 * C.collective_latency(_is_up(w, t * c * d * p), 1 - _is_up(w, t * c * d * p))  # forward, backward
        pp_exposed = where(p > 1, (p - 1) * sends, 0.0)  # pipeline fill and drain wait on each hop
        if w.deepspeed:  # every transfer blocks, each a data send and its meta-data send (two latencies)
            pp_exposed = PL.blocking_transfers(p, m) * (sends / 2 + C.collective_latency(
                _is_up(w, t * c * d * p), 1 - _is_up(w, t * c * d * p)))
    window = where(zero >= 2, m * compute, compute)  # what the gradient and weight traffic can hide under
    chunks = maximum(w.layers * stage * v, 1.0)  # one bucket per layer stays exposed
    # reduced after the last micro-batch (dp_overlap false, DeepSpeed's PipelineEngine): nothing hidden
    dp_exposed = dp_time if w.dp_after_backward else maximum(dp_time / chunks, dp_time - window)
    # the compute the hidden gradient and weight traffic overlaps runs slower while it runs
    dp_tax = C.overlap_slowdown_seconds(dp_time - dp_exposed, w.overlap_slowdown)
    updated = where(zero >= 1, dense_params / (d * c) + expert_params / expert_group, dense_params + expert_params)
    optimizer = K.optimizer_seconds(updated, w.bandwidth)
    step = pipeline_time + pp_exposed + dp_exposed + dp_tax + optimizer
    out.update(step_seconds=step, bubble_seconds=m * micro * bubble, optimizer_seconds=optimizer,
               exposed_seconds=m * (ep_exposed + tp_exposed + cp_exposed) + pp_exposed + dp_exposed,
               compute_seconds=m * busy + dp_tax,
               scale_up_seconds=m * (tp_time * _is_up(w, t) + cp_time * _is_up(w, t * c) + ep_up)
               + (dp_up + dp_alpha_time * _is_up(w, t * c * d)),
               scale_out_seconds=m * (tp_time * (1 - _is_up(w, t)) + cp_time * (1 - _is_up(w, t * c)) + ep_out)
               + (dp_out + dp_alpha_time * (1 - _is_up(w, t * c * d))) + pp_exposed,
               tensor_seconds=m * tp_time, context_seconds=m * cp_time, expert_seconds=m * ep_time,
               data_seconds=dp_time)
    out.update({f"scale_out_bytes_{key}": value for key, value in out_bytes.items()})

    # --- memory per accelerator: the first stage, at its share of the layers (see the docstring)
    decoder = w.layers - w.mtp  # the first stage's share of the decoder layers (MTP blocks sit on the last)
    first = PL.first_stage_layers(decoder, p, v) / decoder
    # the MTP blocks sit on the last stage in place of decoder layers (pipeline.mtp_head_passes' layouts), so
    # the first stage's share of the decoder layers stands for that stage too; without a pipeline the only
    # stage holds them
    mtp_held = where(p == 1, 1.0, 0.0)
    dense_params_first = ((w.shared - w.mtp_shared - w.tables * (2 - w.tied)) * first + tables
                          + w.mtp_shared * mtp_held) / t * copies
    weights, grads, opt = TM.model_state_bytes(dense_params_first, w.w_bytes, w.grad_bytes, w.optimizer_bytes, d * c,
                                               zero)
    routed_first = ((w.routed - w.mtp_routed) * first + w.mtp_routed * mtp_held) / (e * et) * copies
    ew, eg, eo = TM.model_state_bytes(routed_first, w.w_bytes, w.grad_bytes, w.optimizer_bytes, expert_group, zero)
    cached = 1.0 if w.low_precision else 2.0

    def per_layer(width, top_k, code):
        return TM.activation_bytes_per_layer(w.sequence / c, mb, w.h, w.heads, w.q_dim, w.kv_dim, width, w.gated, t,
                                             w.sequence_parallel, code, top_k, cached, w.dispatch_bytes, w.latent,
                                             w.unfused)
    has_dense = any_true(w.dense_layers > 0)
    dense_layer = per_layer(w.dense_ffn, 0.0, recompute) if has_dense else 0.0
    moe_layer = per_layer(w.moe_width, w.k, recompute) if w.moe else 0.0
    mtp_bytes = w.mtp_dense * dense_layer + w.mtp_moe * moe_layer  # the MTP blocks, on the last stage
    stage_bytes = first * (w.dense_layers * dense_layer + w.moe_layers * moe_layer - mtp_bytes)
    largest = maximum(per_layer(w.dense_ffn, 0.0, TM.SELECTIVE) if has_dense else 0.0,
                      per_layer(w.moe_width, w.k, TM.SELECTIVE) if w.moe else 0.0)
    stage_bytes = stage_bytes + where(full, largest, 0.0)  # the layer being replayed holds everything
    held = PL.micro_batches_in_flight(schedule, p, m, v)
    logits = TM.logits_bytes(w.sequence / c, mb, w.vocab, t) * w.head_passes  # one set per MTP depth too
    activations = maximum(held * stage_bytes, stage_bytes + mtp_bytes + logits)
    out.update(weights_bytes=weights + ew, gradients_bytes=grads + eg, optimizer_bytes=opt + eo,
               activations_bytes=activations)
    out["total_bytes"] = weights + ew + grads + eg + opt + eo + activations
    out["fill"] = out["total_bytes"] / w.usable
    return out


def _ring_latency(w: Work, group, stride, passes):
    """Latency of one ring collective over `group` ranks `stride` apart: NCCL's alpha, network steps
    counted per scale-up domain crossed (formulas.communication.collective_latency)."""
    per_domain = maximum(minimum(w.domain / stride, group), 1.0)  # the whole group when the job fits one domain
    domains = ceil(group / per_domain)
    inside, across = C.ring_steps(group, domains)
    return C.collective_latency(passes * inside, passes * across)  # one start, `passes` trips around the ring


def _reassembly_seconds(w: Work, tokens, t):
    """DeepSpeed's PipelineEngine rebuilding the tensors it sends in 1/t slices, one micro-batch.

    Formula: 3 * (T h 2 B (t - 1)/t / link(t) + ring latency)   (all-gathers over the tensor group of the
             received input, the stage's own output and the received output gradient; a middle stage's
             three, charged to the slowest stage)
    Source: microsoft/DeepSpeed @ e2fdd25, runtime/pipe/engine.py (_exec_forward_pass,
    _exec_backward_pass: PartitionedTensor.full()); formulas.pipeline.DEEPSPEED_REASSEMBLIES.
    """
    gathered = C.pipeline_bytes(tokens, w.h, 2.0, 1.0) / 2 * C.ring_factor(t) / 2
    return PL.DEEPSPEED_REASSEMBLIES * (gathered / _link(w, t) + _ring_latency(w, t, 1.0, 1.0))


def amax_reductions(w: Work):
    """Amax all-reduces in one micro-batch's forward and backward over all the layers, FP8 current scaling.

    Formula: 2 * (L + L_dense + L_moe * [shared experts or expert tensor split])
             (per attention block and per FFN split over the tensor-parallel group: the input of its
             column-parallel GEMM in the forward, the output gradient of its row-parallel GEMM in the
             backward); each one all-reduce's latency over the tensor-parallel group, exposed: the
             cast waits on it. Charged only under sequence parallelism with tensor degree > 1.
    Convention: MoE layers' routed experts without a tensor split cast their own tokens (no group).
    Source: NVIDIA Transformer Engine @ d0067d0, pytorch/module/linear.py and layernorm_linear.py
    (an amax reduction group for sequence-parallel column-mode inputs and row-mode output gradients),
    pytorch/csrc/quantizer.cpp (amax, all-reduce and wait, scale, cast); docs, "FP8 Current Scaling":
    "Tensors that are gathered across nodes (e.g. input and gradient in sequence parallelism) require
    amax synchronization before quantization".
    """
    split_ffn = where((w.moe_shared_ffn > 0) | w.expert_tensor_split, 1.0, 0.0)
    return AMAX_REDUCTIONS_PER_SPLIT_GEMM_PAIR * (w.layers + w.dense_layers + w.moe_layers * split_ffn)


def _body_shapes(w: Work, t):
    """Weights (inputs, outputs, copies) of the GEMMs outside the routed experts and the LM head, per
    tensor-parallel rank: attention projections of every layer, the dense FFN of the dense layers,
    the shared experts of the MoE layers (for kernel_efficiency.layer_quantization and _written)."""
    up = 1.0 + w.gated
    shapes = [(w.h, (w.q_dim + 2 * w.kv_dim) / t, w.layers), (w.q_dim / t, w.h, w.layers),
              (2 * w.h, w.h / t, w.mtp)]  # each MTP depth's projection M_k of [h; embedding]
    for ffn, layers in ((w.dense_ffn, w.dense_layers), (w.moe_shared_ffn, w.moe_layers)):
        shapes += [(w.h, up * ffn / t, layers), (ffn / t, w.h, layers)]  # weight 0 when absent
    return shapes


def _written(w: Work, flops, tokens, shapes):
    """Time the GEMMs of `shapes` spend writing their outputs after their main loops, for `flops` of
    them: BF16 activations, gradients accumulated at grad_bytes (kernel_efficiency.intrinsic_ceiling,
    layer_output_bytes_per_flop), at the GEMM's achievable bandwidth."""
    written = flops * K.layer_output_bytes_per_flop(tokens, shapes, 2.0, w.grad_bytes)
    return K.memory_bound_seconds(written, w.bandwidth, K.GEMM_BANDWIDTH)


def _members_per_domain(w: Work, span, stride, group):
    """Members of a data-parallel group (`group` ranks `stride` apart, spanning `span` ranks) that
    share one scale-up domain: the whole group when it stays in one domain (see `_is_up`); on TPUs
    whose data parallelism runs in two levels (TWO_LEVEL_DATA_PARALLEL_PRESETS), domain / stride when
    the group covers whole domains and the domain holds whole strides (PaLM: 3,072-chip pods, 12-way
    model parallelism, 256 replicas per pod); else 1 (a flat collective over the network)."""
    tiled = (span % w.domain == 0) & (w.domain % stride == 0) & w.two_level
    return where(_is_up(w, span) > 0, group, where(tiled, w.domain / stride, 1.0))


def _is_up(w: Work, span):
    """1 where a group of `span` consecutive ranks stays inside one scale-up domain, else 0.

    Groups tile the job from rank 0, so every group stays inside a domain when the domain is a
    multiple of the span (NVL72 with 64-rank groups straddles racks), or when the whole job fits
    in one domain (64 GB200s of one NVL72 rack all talk over NVLink).
    """
    return where((span <= w.domain) & ((w.domain % span == 0) | (w.count <= w.domain)), 1.0, 0.0)
