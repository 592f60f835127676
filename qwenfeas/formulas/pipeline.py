"""Pipeline schedules: idle time (the bubble), activations in flight, copies of the weights.

A schedule is coded as a number so that a layout search can carry it in a numpy array:
0 = 1F1B, 1 = interleaved 1F1B (virtual stages), 2 = zero-bubble (ZB-H1), 3 = DualPipe.
"""

from __future__ import annotations

from ._array import ceil, maximum, minimum, where

SCHEDULES = ("1f1b", "interleaved", "zero-bubble", "dualpipe")
ONE_F_ONE_B, INTERLEAVED, ZERO_BUBBLE, DUALPIPE = range(4)


def bubble_ratio(schedule, stages, micro_batches, virtual_stages=1.0):
    """Pipeline idle time over the busy time of one step.

    Formula: 1F1B:        (p - 1) / m
             interleaved: (p - 1) / (v m)
             zero-bubble: (p - 1) / (3 m)   (ZB-H1, T_F = T_B = T_W)
             DualPipe:    (p - 2) / (3 m)   (bubble (p/2 - 1)(F&B + B - 3W))
    Convention: p stages, m micro-batches per step, v model chunks per device. Time units as in the
    DualPipe table: a forward chunk F = 1, a full backward B = 2 (input and weight gradients), its
    weight part W = 1, and an overlapped forward-and-backward pair F&B = F + B = 3 (communication
    hidden); a micro-batch's busy time is F + B = 3. 1F1B's bubble (p - 1)(F + B) then reads
    (p - 1)/m, ZB1P's (p - 1)(F + B - 2W) reads (p - 1)/(3m).
    Source: Narayanan et al. 2021 (arXiv 2104.04473) sec. 2.2; Qi et al. 2024, "Zero Bubble Pipeline
    Parallelism" (arXiv 2401.10241) sec. 3; deepseek-ai/DualPipe README @ 89f5de1 (bubble table).
    """
    p, m = stages, micro_batches
    plain = (p - 1) / m
    return where(schedule == ONE_F_ONE_B, plain,
                 where(schedule == INTERLEAVED, plain / virtual_stages,
                       where(schedule == ZERO_BUBBLE, plain / 3, maximum(p - 2, 0.0) / (3 * m))))


def micro_batches_in_flight(schedule, stages, micro_batches, virtual_stages=1.0):
    """Micro-batches whose activations the busiest (first) stage holds at once, in units of one
    micro-batch through a whole stage.

    Formula: 1F1B and ZB-H1: min(p, m); interleaved with v > 1: min(p + (p - 1)/v, m);
             DualPipe: min(p + 1, m)
    Convention: interleaving with one chunk per device (v = 1) is plain 1F1B (p in flight): the
    interleaved warm-up of 2(p - 1) + (v - 1)p chunks exists only for v > 1 (Megatron-LM runs the
    non-interleaved 1F1B schedule when no virtual stages are set).
    Source: Narayanan et al. 2021 sec. 2.2 (1F1B keeps p in flight; interleaving raises the first
    stage's warm-up by (p - 1)/v of a stage); Qi et al. 2024, Table 1 (ZB-H1 at 1F1B's memory);
    DualPipe README @ 89f5de1 (activations: p + 1); Megatron-LM core/pipeline_parallel/schedules.py
    (get_forward_backward_func: the interleaved schedule only with a virtual pipeline size).
    """
    p = stages
    interleaved = (schedule == INTERLEAVED) & (virtual_stages > 1)
    held = where(interleaved, p + (p - 1) / virtual_stages, where(schedule == DUALPIPE, p + 1, p))
    return where(held < micro_batches, held, micro_batches)


def weight_copies(schedule):
    """Copies of a stage's parameters each device holds: 2 for DualPipe (both directions), else 1.

    Source: deepseek-ai/DualPipe README @ 89f5de1 ("Parameter: 2x"); DeepSeek-V3 report sec. 3.2.1.
    """
    return where(schedule == DUALPIPE, 2.0, 1.0)


def slowest_stage_layers(layers, stages, virtual_stages=1.0):
    """Transformer layers on the pipeline stage that holds the most of them.

    Formula: min(L, v * ceil(L / (p v)))
             (each of the p v model chunks takes ceil(L / (p v)) layers until they run out; the
             slowest device holds v full chunks, and the pipeline runs at its pace)
    Convention: L layers, p stages, v model chunks per device (1 without interleaving). When L is a
    multiple of p v every stage holds L / p. DeepSeek-V3's 61 layers on 16 stages: 4 on the
    slowest (a 5% longer stage than 61/16).
    Source: Megatron-LM's uniform layer split (Narayanan et al. 2021, arXiv 2104.04473, sec. 2.2:
    each device holds v chunks of L / (p v) layers); the uneven remainder as in DeepSeek-V3
    (arXiv 2412.19437, sec. 3.2.1, 61 layers over PP16).
    """
    return minimum(virtual_stages * ceil(layers / (stages * virtual_stages)), layers)


def mtp_head_passes(depths, stages):
    """Passes of the output head the slowest pipeline stage runs, per micro-batch, with D MTP depths.

    Formula: 1 + D / p   (the model's own head on the last stage; the D further passes of the MTP
             depths on the last stage too, which the layout offsets by giving that stage fewer
             decoder layers, so the pipeline's pace carries their average share over p stages)
    Convention: the MTP blocks themselves take layer slots of the split (training.step_inputs.Work.layers
    = L + D); the head's logits are held on the last stage whole (Work.head_passes, for memory).
    Source: Megatron-Bridge DeepSeek-V3 recipes (recipes/deepseek/h100/deepseek_v3.py @ 067f987,
    _get_deepseek_v3_pipeline_layout): PP16 gives the last stage ["decoder", "mtp", "loss"] against 4
    decoders elsewhere, PP8 5 decoders + mtp + loss against 8; DeepSeek-V3 report (arXiv 2412.19437)
    sec. 2.2: MTP shares the output head on the last PP rank.
    """
    return 1.0 + depths / stages


def first_stage_layers(layers, stages, virtual_stages=1.0):
    """Transformer layers on the first pipeline stage, the one whose memory the training model checks.

    Formula: min(L / p, v c - floor(d / 2)) when floor(d / 2) < c, else L / p;
             c = ceil(L / (p v)) layers per full chunk, d = p v c - L the layers the chunks lack
             (the short chunks are the first and the last, which also hold the embedding and the LM
             head: the first gives up floor(d / 2) of its chunk's c layers, the last the rest)
    Convention: L layers, p stages, v model chunks per device. L a multiple of p v (d = 0) and one
    missing layer (d = 1) keep the even share L / p, the bound used when the split is not stated;
    a deficit that would empty the first chunk keeps it too. Llama 3 405B, 126 layers on 16 stages:
    c = 8, d = 2, 7 layers on the first stage (v = 4: c = 2, d = 2, chunks of 1 + 2 + 2 + 2 = 7),
    against an even 7.875.
    Source: Dubey et al. 2024, "The Llama 3 Herd of Models", sec. 3.3.2 (memory imbalance: "we reduce
    one Transformer layer each from the first and the last stages"; 126 layers, Table 3, on PP16,
    Table 4).
    """
    chunk = ceil(layers / (stages * virtual_stages))
    short = (stages * virtual_stages * chunk - layers) // 2
    even = layers / stages
    return where(short < chunk, minimum(even, virtual_stages * chunk - short), even)


# Tensors DeepSpeed's PipelineEngine all-gathers over the tensor-parallel group per micro-batch to rebuild
# what it sent in 1/t slices: the received input (forward), its own output and the received output
# gradient (backward, before autograd). deepspeed/runtime/pipe/engine.py @ e2fdd25 (2021-09-29),
# _exec_forward_pass and _exec_backward_pass, PartitionedTensor.full().
DEEPSPEED_REASSEMBLIES = 3


def blocking_transfers(stages, micro_batches):
    """Point-to-point transfers on the critical path of one step of DeepSpeed's 1F1B TrainSchedule.

    Formula: p = 1:  0
             p = 2:  2 m
             p >= 3: max(4 m + 2 p - 8, 2 (p - 1))
             (each micro-batch's four blocking transfers, receive input, send input gradient, send
             output, receive output gradient, run one after another between compute; with the fill and
             drain, 2 (p - 1) alone when m = 1)
    Convention: p stages, m micro-batches per step; each transfer a synchronous torch.distributed
    send/recv that compute waits on (no overlap); counts from a step-by-step simulation of the schedule
    with rendezvous sends (each transfer's time added to the simulated step over the transfer-free
    one: p = 4, m = 8: 32; p = 35, m = 240: 1022; p = 2, m = 8: 16), which also shows the schedule's
    bubble is 1F1B's (p - 1)/m.
    Source: microsoft/DeepSpeed @ e2fdd25 (2021-09-29): runtime/pipe/schedule.py TrainSchedule.steps
    (RecvActivation, SendGrad, SendActivation, RecvGrad around each pass; ReduceTiedGrads and ReduceGrads
    after the last micro-batch), runtime/pipe/p2p.py send/recv (async_op unsupported: dist.send, dist.recv).
    """
    p, m = stages, micro_batches
    steady = maximum(4 * m + 2 * p - 8, 2 * (p - 1))
    return where(p >= 3, steady, where(p == 2, 2 * m, 0.0))
