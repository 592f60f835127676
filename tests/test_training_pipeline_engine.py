"""DeepSpeed's PipelineEngine (parallel.pipeline_engine: deepspeed), priced from its 2021 code.

Source: microsoft/DeepSpeed @ e2fdd25 (2021-09-29). runtime/pipe/schedule.py, TrainSchedule: step k of
stage s is a forward when k and s have the same parity, else a backward; a forward step receives its
input from stage s - 1 and sends the previous backward's input gradient back; a backward step sends the
previous forward's output to stage s + 1 and receives its output gradient; ReduceGrads follows the last
step. runtime/pipe/p2p.py: sends and receives are synchronous (async_op unsupported). engine.py: the
output is sent in 1/t slices (PartitionedTensor over the tensor group), each slice after its meta-data
tensor, and the receiver, and the sender again before its backward, all-gather the whole tensor.

Hand arithmetic: A100 SXM 80GB preset: NVLink 300 GB/s per direction at NCCL's 370/450; 8 GPUs per
domain; NCCL latency 8.4 us + 0.6 us per NVLink step (formulas.communication.collective_latency).
"""

from __future__ import annotations

import pytest

from qwenfeas.formulas.pipeline import blocking_transfers, bubble_ratio


def _deepspeed_steps(stage, stages, micro_batches):
    """The commands of one stage, step by step, as TrainSchedule.steps yields them (transfers and passes)."""
    def step_to_micro_batch(step):
        if step % 2 == stage % 2:  # forward
            return (step - stage % 2) // 2 - stage // 2, True
        if step % 2 == 0:  # even step, odd stage: backward
            return step // 2 - stages + (stage + 1) // 2, False
        return (step - 1) // 2 - stages + 1 + stage // 2, False

    def valid(i):
        return 0 <= i < micro_batches

    ops, previous = [], -1
    for step in range(2 * (micro_batches + stages - 1)):
        micro, forward = step_to_micro_batch(step)
        if forward and stage > 0:
            ops += [("recv", stage - 1, "act")] if valid(micro) else []
            ops += [("send", stage - 1, "grad")] if valid(previous) else []
        elif not forward and stage < stages - 1:
            ops += [("send", stage + 1, "act")] if valid(previous) else []
            ops += [("recv", stage + 1, "grad")] if valid(micro) else []
        if valid(micro):
            ops.append(("pass", 1.0 if forward else 3.0))  # backward = recomputed forward + 2 forwards
        previous = micro
    return ops


def _simulated_step(stages, micro_batches, transfer):
    """Time of one step when every send waits for its receive (a rendezvous) and takes `transfer`."""
    ops = [_deepspeed_steps(s, stages, micro_batches) for s in range(stages)]
    position, clock, ready, seen = [0] * stages, [0.0] * stages, {}, [{} for _ in range(stages)]
    moved = True
    while moved:
        moved = False
        for s in range(stages):
            while position[s] < len(ops[s]):
                op = ops[s][position[s]]
                if op[0] == "pass":
                    clock[s] += op[1]
                else:
                    kind, peer, what = op
                    channel = (s, peer, what) if kind == "send" else (peer, s, what)
                    index = seen[s].get(op, 0)
                    sides = ready.setdefault(channel, ([], []))
                    mine, theirs = (sides[0], sides[1]) if kind == "send" else (sides[1], sides[0])
                    if len(mine) <= index:
                        mine.append(clock[s])
                    if len(theirs) <= index:
                        break  # the peer has not reached its side of this transfer yet
                    clock[s] = max(mine[index], theirs[index]) + transfer
                    seen[s][op] = index + 1
                position[s] += 1
                moved = True
    assert position == [len(o) for o in ops]  # no deadlock
    return max(clock)


@pytest.mark.parametrize("stages, micro_batches", [(2, 8), (3, 1), (3, 5), (4, 1), (4, 8), (6, 12), (9, 20)])
def test_blocking_transfers_count_the_transfers_a_simulation_of_the_schedule_waits_on(stages, micro_batches):
    free = _simulated_step(stages, micro_batches, 0.0)
    # without transfers the schedule runs 1F1B's (m + p - 1)(F + B): no bubble of its own
    assert free == pytest.approx((micro_batches + stages - 1) * 4.0)
    assert free == pytest.approx(micro_batches * 4.0 * (1 + bubble_ratio(0, stages, micro_batches)))
    transfer = 1e-3
    waited = (_simulated_step(stages, micro_batches, transfer) - free) / transfer
    assert blocking_transfers(stages, micro_batches) == pytest.approx(waited, abs=1e-6)


def test_one_stage_sends_nothing():
    assert blocking_transfers(1.0, 32.0) == 0.0


SCENARIO = """
model: {{layers: 8, hidden: 4096, heads: 32, kv_heads: 32, ffn_hidden: 16384, ffn_gated: false, vocab: 32000}}
context: 2048
tokens: 1B
training: {{sequence: 2048, batch_tokens: 64K, recompute: full}}
hardware: {{preset: a100-sxm-80gb, count: {count}}}
parallel: {{tensor: {tensor}, pipeline: {pipeline}, data: 1, zero: 1, micro_batch: 1, schedule: 1f1b,
           sequence_parallel: false, pipeline_engine: {engine}}}
"""
LINK = 300e9 * 370 / 450  # NVLink, NCCL's achieved share
SEND = 8.4e-6 + 0.6e-6  # one point-to-point step inside the node


def test_every_send_of_every_micro_batch_waits_under_deepspeed(run):
    """p = 4, t = 1, d = 1 inside one node: the exposed communication is the pipeline's alone."""
    steps = 1e9 / 64e3
    m = 64e3 / 2048  # 32 micro-batches of one sequence
    hop = 2048 * 4096 * 2 / LINK  # one activation (or its gradient), BF16
    megatron = run(SCENARIO.format(count=4, tensor=1, pipeline=4, engine="megatron"))
    deepspeed = run(SCENARIO.format(count=4, tensor=1, pipeline=4, engine="deepspeed"))
    # Megatron: the fill and drain, (p - 1) hops each way
    assert megatron["training.exposed_communication_seconds"] / steps == pytest.approx(3 * 2 * (hop + SEND))
    # DeepSpeed: 4 m + 2 p - 8 = 128 blocking transfers, each a data send and its meta-data send
    assert deepspeed["training.exposed_communication_seconds"] / steps == pytest.approx(
        (4 * m + 2 * 4 - 8) * (hop + 2 * SEND))
    # with one rank per stage there is nothing to re-gather: the step differs by the transfers alone
    assert deepspeed["training.step_seconds"] - megatron["training.step_seconds"] == pytest.approx(
        (4 * m + 2 * 4 - 8) * (hop + 2 * SEND) - 3 * 2 * (hop + SEND), rel=1e-9)


def test_without_a_pipeline_the_tensor_group_sends_and_gathers_nothing(run):
    megatron, deepspeed = (run(SCENARIO.format(count=2, tensor=2, pipeline=1, engine=e))
                           for e in ("megatron", "deepspeed"))
    assert deepspeed["training.step_seconds"] == megatron["training.step_seconds"]


def test_deepspeed_gathers_the_sliced_tensors_again_over_the_tensor_group(run):
    """p = 2, t = 2: three all-gathers of the whole activation per micro-batch, inside the bubble's scaling."""
    m = 64e3 / 2048
    megatron = run(SCENARIO.format(count=4, tensor=2, pipeline=2, engine="megatron"))
    deepspeed = run(SCENARIO.format(count=4, tensor=2, pipeline=2, engine="deepspeed"))
    hop = 2048 * 4096 * 2 / 2 / LINK  # a 1/t slice
    # an all-gather over 2 ranks: each receives half of T h 2 B, one ring step of latency
    gather = 2048 * 4096 * 2 * (1 / 2) / LINK + SEND
    pipeline = (2 * m * (hop + 2 * SEND)) - 1 * 2 * (hop + SEND)  # p = 2: 2 m transfers against one fill
    extra = m * (1 + 1 / m) * 3 * gather + pipeline
    assert deepspeed["training.step_seconds"] - megatron["training.step_seconds"] == pytest.approx(extra, rel=1e-9)


@pytest.mark.parametrize("engine, dp_overlap", [("deepspeed", "true"), ("megatron", "false")])
def test_gradients_reduced_after_the_last_micro_batch_are_all_exposed(run, engine, dp_overlap):
    """No pipeline, two data-parallel replicas: every byte of the gradient reduction is exposed, under
    DeepSpeed's engine whatever dp_overlap says, and under Megatron-LM's 2021 local DDP (dp_overlap: false)."""
    def layout(engine, overlap):
        return SCENARIO.format(count=2, tensor=1, pipeline=1, engine=engine).replace(
            "data: 1", f"data: 2, dp_overlap: {overlap}")
    after, overlapped = run(layout(engine, dp_overlap)), run(layout("megatron", "true"))
    data = after["communication.data_seconds"]
    assert data == overlapped["communication.data_seconds"]  # the same bytes, only their exposure differs
    assert after["training.exposed_communication_seconds"] == pytest.approx(data, rel=1e-12)
    assert overlapped["training.exposed_communication_seconds"] < 0.5 * data  # hidden under the backward
