"""Continuous batching: a layout and a concurrency in, the steady-state operating point out.

The batch a replica decodes is the concurrency it is given, capped by the sequences whose KV
cache fits beside the weights at the requests' full prompt + output length; requests beyond it
wait in a queue. Aggregated replicas interleave prefills with decode steps; disaggregated ones
(DistServe, Splitwise) prefill on accelerators of their own, sized to keep up.
"""

from __future__ import annotations

from typing import NamedTuple

from ..formulas import memory as M
from ..formulas import serving as S
from ..formulas._array import maximum, minimum, where
from .decode import decode_step
from .deployment import Device, Model
from .prefill import kv_transfer_seconds, prefill_pass_seconds, prefill_seconds_per_request


class Point(NamedTuple):
    """The steady state of a deployment (per replica unless said otherwise)."""

    max_batch: object  # sequences whose caches fit in one replica
    batch: object  # sequences decoding in one replica
    step_seconds: object
    prefill_seconds: object  # one prefill pass: what a request waits for before its first token
    prefill_per_request: object  # replica-seconds of prefill per request, batched prefills shared out
    requests_per_second: object  # per replica
    ttft: object
    tpot: object
    per_user: object  # output tokens/s a user sees: output tokens / request latency
    per_accelerator: object  # output tokens/s per accelerator, prefill accelerators included
    output_rate: object  # output tokens/s of the whole deployment
    input_rate: object  # prompt tokens/s of the whole deployment (prefix-cache hits included)
    prefill_share: object  # share of accelerator time spent prefilling
    accelerators: object  # in use, prefill pool included


def weights_per_device(m: Model, tensor, attention_data):
    """Weight bytes one device holds: the dense part over the tensor group, the routed experts over the replica.

    Formula: W_dense / t + W_routed / (t * a)
    Convention: attention data-parallel ranks each keep a copy of the dense weights.
    Source: DeepSeek-V3 report sec. 3.4.2 (attention TP with DP, experts EP over the deployment unit).
    """
    return m.dense_bytes / tensor + m.routed_bytes / (tensor * attention_data)


def kv_per_device(m: Model, tensor):
    """KV bytes one sequence occupies on each device of its attention rank, at prompt + output tokens.

    Formula: KV(P + O) / min(t, n_kv)   (heads replicated past n_kv; MLA's latent on every rank)
    Source: formulas.serving.kv_shards.
    """
    return m.peak_kv_bytes / S.kv_shards(tensor, m.kv_heads)


def max_batch(m: Model, d: Device, tensor, attention_data, headroom=0.0):
    """Sequences whose full-length caches fit in one replica beside its weights.

    Formula: a * floor((usable * (1 - headroom) - weights per device) / KV per device per sequence)
    Convention: engines reserve a request's cache up to prompt + output tokens (TensorRT-LLM's
    guaranteed-no-evict scheduler); vLLM's paged cache allocates as it grows, so it may pack more.
    Source: Kwon et al. 2023, "Efficient Memory Management for LLM Serving with PagedAttention" (SOSP).
    """
    room = d.usable_memory * (1 - headroom) - weights_per_device(m, tensor, attention_data)
    return attention_data * M.floor_div(room, kv_per_device(m, tensor))


def operating_point(m: Model, d: Device, tensor, attention_data, expert, replicas, concurrency,
                    disaggregated) -> Point:
    """The steady state of `replicas` replicas serving `concurrency` requests in flight.

    Formula: b = min(concurrency / replicas, max batch); aggregated: X, TPOT, f from
             formulas.serving.steady_state with the batched prefill per request; disaggregated:
             X = b * a / (s * O), TPOT = s / a, the prefill pool = X * batched prefill per request * replica
             accelerators; TTFT = one prefill pass (+ KV transfer) + one step + queue
    Convention: a request that finds no room waits; per-user speed is output tokens over the whole request
    latency (Little's law: concurrency / total request rate), as serving benchmarks report it.
    Source: Little's law; Zhong et al. 2024 (DistServe); Patel et al. 2024 (Splitwise).
    """
    replica = tensor * attention_data
    fits = max_batch(m, d, tensor, attention_data)
    wanted = concurrency / replicas
    batch = maximum(minimum(wanted, fits), 1.0)
    step = decode_step(m, d, tensor, attention_data, expert, batch).seconds
    waiting = where(disaggregated, float("inf"), batch)  # a prefill pool is not bounded by the decode batch
    together = where(disaggregated, attention_data, 1.0)  # attention ranks prefilling in the same pass
    prefill = prefill_pass_seconds(m, d, tensor, attention_data, expert, waiting, together)
    per_request = prefill_seconds_per_request(m, d, tensor, attention_data, expert, waiting, together)
    aggregated_x, aggregated_tpot, aggregated_share = S.steady_state(step, batch, m.accepted, m.output, per_request)
    split_x = batch * m.accepted / (step * m.output)
    pool = split_x * per_request  # prefill replicas per decode replica, at batched prefill throughput
    requests = where(disaggregated, split_x, aggregated_x)
    tpot = where(disaggregated, step / m.accepted, aggregated_tpot)
    share = where(disaggregated, pool / (1 + pool), aggregated_share)
    accelerators = replicas * replica * where(disaggregated, 1 + pool, 1.0)
    queue = maximum(wanted - batch, 0.0) / requests
    ttft = prefill + where(disaggregated, kv_transfer_seconds(m, d), 0.0) + step + queue
    output_rate = requests * m.output * replicas
    return Point(fits, batch, step, prefill, per_request, requests, ttft, tpot,
                 output_rate / maximum(concurrency, batch * replicas), output_rate / accelerators, output_rate,
                 requests * m.input_tokens * replicas, share, accelerators)


def smallest_replica(m: Model, d: Device, least):
    """The fewest tensor-parallel accelerators that hold the weights and one full-length sequence.

    Formula: R = least while R <= n_kv; past n_kv the cache stops shrinking (heads replicate), so
             R = max(least, ceil(W / (usable - KV / n_kv))), and no R works when KV / n_kv >= usable
    Convention: `least` is the count with perfect sharding (memory.min_accelerators); when nothing
    works it is returned, and the memory check fails with a remedy.
    Source: algebra on weights_per_device and kv_per_device.
    """
    from ..formulas._array import ceil

    weights = m.dense_bytes + m.routed_bytes
    room = d.usable_memory - m.peak_kv_bytes / m.kv_heads
    wider = maximum(least, ceil(weights / where(room > 0, room, 1.0)))
    return where(least <= m.kv_heads, least, where(room > 0, wider, least))
