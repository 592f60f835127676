"""Serving against its limits: memory at the requested batch, latency targets, and what would pass.

Remedies come from the same layout search and operating point as the estimate, so a layout or
batch named here gives the figures it promises when written back into the scenario.
"""

from __future__ import annotations

import math

from ..formulas._array import ceil
from ..scenario.units import format_quantity
from .batching import kv_per_device, max_batch, weights_per_device
from .deployment import read_device, read_model


def _figures(report):
    from ..architecture import attention_layers

    s = report.scenario.values
    return s, read_model(report, s, attention_layers(s)), read_device(report, s)


def requested_per_replica(report):
    """Sequences each replica is asked to hold: inference.batch, or the concurrency's share (which may queue)."""
    s = report.scenario
    if "inference.concurrency" in s:
        return report["serving_layout.batch"]
    return s["inference.batch"]


def memory_ratio(report, headroom):
    """Memory one device needs for its weights and its attention rank's caches, over its usable share.

    Formula: (W_dense / t + W_routed / (t a) + ceil(b / a) * KV(P + O) / min(t, n_kv)) / (usable * (1 - headroom))
    Source: serving.batching (weights_per_device, kv_per_device).
    """
    s, m, d = _figures(report)
    t, a = report["serving_layout.tensor"], report["serving_layout.attention_data"]
    needed = weights_per_device(m, t, a) + ceil(requested_per_replica(report) / a) * kv_per_device(m, t)
    return needed / (d.usable_memory * (1 - headroom))


def memory_remedy(report, headroom) -> str:
    """What fits instead: fewer sequences, shorter requests at this batch, a larger replica, a smaller model."""
    s, m, d = _figures(report)
    t, a = report["serving_layout.tensor"], report["serving_layout.attention_data"]
    usable = d.usable_memory * (1 - headroom)
    room = usable - weights_per_device(m, t, a)
    options = []
    fits = max_batch(m, d, t, a, headroom)
    batch = requested_per_replica(report)
    if fits >= 1:
        options.append(f"at most {fits:,.0f} sequences per replica fit at {_tokens(s)} tokens each")
    per_rank = math.ceil(batch / a)
    per_token = kv_per_device(m, t) / (s["inference.prompt_tokens"] + s["inference.output_tokens"])
    if room > 0 and per_token > 0:
        longest = math.floor(room / (per_rank * per_token))
        if longest >= 1:
            options.append(f"at batch {batch:,.0f} the longest prompt + output that fits is "
                           f"{format_quantity(longest, 'count')} tokens")
    for size in (2.0**k for k in range(1, 8)):
        wider = t * size
        if weights_per_device(m, wider, a) + per_rank * kv_per_device(m, wider) <= usable:
            options.append(f"needs {wider * a:g} accelerators per replica (serving_layout.tensor {wider:g}) for "
                           f"batch {batch:,.0f}")
            break
    state = per_rank * kv_per_device(m, t)
    if usable > state:
        largest = report["model.params"] * (usable - state) / weights_per_device(m, t, a)
        options.append(f"the largest model that fits beside these caches has {format_quantity(largest, 'count')} "
                       "parameters")
    return "; ".join(options) or "shard the cache over more accelerators (serving_layout.tensor)"


def _tokens(s) -> str:
    return f"{s['inference.prompt_tokens'] + s['inference.output_tokens']:,.0f}"


def latency_remedy(report, key: str) -> str:
    """A layout and concurrency on the same accelerators that meets limits.ttft and limits.tpot, or why none does."""
    from .layout_search import best, candidates, passing

    s, m, d = _figures(report)
    count = s.get("hardware.count", report["inference.accelerators"] * report["serving_layout.replicas"])
    c = candidates(m, d, count)
    ok = passing(c, s.get("limits.ttft"), s.get("limits.tpot"))
    chosen = best(c, ok)
    if chosen is None:
        return (f"no serving layout on {count:,.0f} accelerators meets it (tried tensor, attention-data and expert "
                "degrees, aggregated and disaggregated, batches up to what memory holds)")
    p = c.point
    return (f"would pass with serving_layout tensor {c.tensor[chosen]:g}, attention_data "
            f"{c.attention_data[chosen]:g}, expert {c.expert[chosen]:g}, replicas {c.replicas[chosen]:g}, "
            f"disaggregated {'true' if c.disaggregated[chosen] else 'false'} and inference.concurrency "
            f"{c.concurrency[chosen]:g}: TTFT {format_quantity(p.ttft[chosen], 's')}, TPOT "
            f"{format_quantity(p.tpot[chosen], 's')}, {p.per_accelerator[chosen]:,.0f} output tokens/s per accelerator")
