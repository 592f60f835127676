"""Serving against its limits, by hand: the memory ratio, the memory remedy's every option, and the
latency remedy's layout under both latency limits.

The small dense model is test_serving's (2 layers, hidden 1024, 8 KV heads of 128, FFN 4096, vocab 1000,
bf16): its weights are 35,600,384 parameters x 2 B and one sequence's cache 2 x 2 layers x 8 heads x 128 x
2 B = 8,192 B per token, 18,874,368 B at the 2,304 tokens of prompt + output. The made-up accelerator has
80 GB, of which the runtime keeps 10% (vLLM's gpu_memory_utilization 0.9): 72 GB usable.
"""

from __future__ import annotations

import math

import pytest

from qwenfeas.scenario.units import format_quantity
from qwenfeas.serving.limits import latency_remedy, memory_ratio, memory_remedy, requested_per_replica

SMALL = """
model: {layers: 2, hidden: 1024, heads: 8, kv_heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2304
hardware: {peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W, scale_up_bandwidth: 100GB/s,
           scale_up_size: 8, count: 4}
inference: {output_tokens: 256}
serving_layout: {tensor: 1, attention_data: 2, replicas: 1}
"""
PARAMS = 2 * (1024 * 128 * 32 + 3 * 1024 * 4096 + 2 * 1024) + 2 * 1000 * 1024 + 1024
WEIGHTS = PARAMS * 2.0
SEQUENCE = 2 * 2 * 8 * 128 * 2 * 2304
USABLE = 80e9 * 0.9


def test_memory_ratio_counts_each_rank_s_share_of_the_batch_against_the_usable_memory_less_headroom(run):
    r = run(SMALL, "inference.batch=9")
    assert r["model.params"] == PARAMS
    # 9 sequences over 2 attention ranks: the busier rank holds 5 whole caches beside a full copy of the weights
    assert memory_ratio(r, 0.25) == pytest.approx((WEIGHTS + 5 * SEQUENCE) / (USABLE * 0.75), rel=1e-12)
    assert memory_ratio(r, 0.0) == pytest.approx((WEIGHTS + 5 * SEQUENCE) / USABLE, rel=1e-12)


def test_the_batch_asked_of_a_replica_is_the_concurrency_s_share_when_a_concurrency_is_given(run):
    assert requested_per_replica(run(SMALL, "inference.batch=9")) == 9
    r = run(SMALL, "inference.concurrency=6", "serving_layout.replicas=2")
    assert requested_per_replica(r) == 3 == r["serving_layout.batch"]


def test_memory_remedy_names_the_batch_the_length_and_the_replica_that_fit(run):
    # 10,000 sequences on 2 attention ranks of 1 accelerator each: 5,000 caches per device, 94.4 GB
    r = run(SMALL, "inference.batch=10000")
    usable = USABLE * 0.9  # a 10% headroom
    room = usable - WEIGHTS
    fits = 2 * math.floor(room / SEQUENCE)
    longest = math.floor(room / (5000 * SEQUENCE / 2304))
    # tensor 2 halves each cache (8 KV heads): 47.2 GB of caches + 35.6 MB of weights fit in 64.8 GB
    # that is: WEIGHTS / 2 + 5000 * SEQUENCE / 2 <= usable < WEIGHTS + 5000 * SEQUENCE
    expected = (f"at most {fits:,.0f} sequences per replica fit at 2,304 tokens each; "
                f"at batch 10,000 the longest prompt + output that fits is {format_quantity(longest, 'count')} "
                "tokens; needs 4 accelerators per replica (serving_layout.tensor 2) for batch 10,000")
    assert memory_remedy(r, 0.1) == expected
    # fits = 6,858 and longest = 1,580 here


def test_memory_remedy_offers_the_largest_model_beside_caches_that_fit_alone(run):
    # 99% headroom leaves 720 MB: 35 caches per rank (660.6 MB) fit alone, not beside the 71.2 MB of weights
    r = run(SMALL, "inference.batch=70")
    usable = USABLE * 0.01
    state = 35 * SEQUENCE
    # that is: state < usable < state + WEIGHTS
    room = usable - WEIGHTS
    fits = 2 * math.floor(room / SEQUENCE)
    longest = math.floor(room / (35 * SEQUENCE / 2304))
    largest = PARAMS * (usable - state) / WEIGHTS
    expected = (f"at most {fits:,.0f} sequences per replica fit at 2,304 tokens each; "
                f"at batch 70 the longest prompt + output that fits is {format_quantity(longest, 'count')} tokens; "
                "needs 4 accelerators per replica (serving_layout.tensor 2) for batch 70; "
                f"the largest model that fits beside these caches has {format_quantity(largest, 'count')} parameters")
    assert memory_remedy(r, 0.99) == expected
    # fits = 68 and longest = 2,262 here


QWEN = """
model: {preset: qwen3-30b-a3b}
context: 3072
precision: {weights: fp8, kv_cache: fp8, compute: fp8}
hardware: {preset: h100-sxm, count: 8}
inference: {prompt_tokens: 2048, output_tokens: 1024}
serving_layout: {tensor: 1, replicas: 1}
"""


def _binding_limits(report, count, disaggregated):
    """TTFT and TPOT limits (from a grid over the candidates' own spread) under which both limits bind:
    dropping either one makes the search pick another layout; the chosen one (dis)aggregated as asked."""
    import numpy as np

    from qwenfeas.serving.layout_search import best, candidates, passing

    s, m, d = _figures(report)
    c = candidates(m, d, count)
    for ttft in np.quantile(c.point.ttft, np.linspace(0.05, 0.95, 19)):
        for tpot in np.quantile(c.point.tpot, np.linspace(0.05, 0.95, 19)):
            i = best(c, passing(c, ttft, tpot))
            if i is not None and bool(c.disaggregated[i]) is disaggregated and \
                    i != best(c, passing(c, None, tpot)) and i != best(c, passing(c, ttft, None)):
                return float(ttft), float(tpot)
    raise AssertionError("no pair of limits binds both")


def _expected_remedy(report, count, ttft, tpot):
    """The remedy text for the best layout the search finds under both limits, written out by hand."""
    from qwenfeas.serving.layout_search import best, candidates, passing

    s, m, d = _figures(report)
    c = candidates(m, d, count)
    i = best(c, passing(c, ttft, tpot))
    p = c.point
    return (f"would pass with serving_layout tensor {c.tensor[i]:g}, attention_data {c.attention_data[i]:g}, "
            f"expert {c.expert[i]:g}, replicas {c.replicas[i]:g}, disaggregated "
            f"{'true' if c.disaggregated[i] else 'false'} and inference.concurrency {c.concurrency[i]:g}: "
            f"TTFT {format_quantity(p.ttft[i], 's')}, TPOT {format_quantity(p.tpot[i], 's')}, "
            f"{p.per_accelerator[i]:,.0f} output tokens/s per accelerator")


def _figures(report):
    from qwenfeas.serving.limits import _figures as figures

    return figures(report)


@pytest.mark.parametrize("disaggregated", [False, True])
def test_latency_remedy_searches_the_fleet_under_both_limits(run, disaggregated):
    # hardware.count 8, not the stated single-accelerator replica, is the fleet searched
    ttft, tpot = _binding_limits(run(QWEN), 8.0, disaggregated)
    r = run(QWEN, f"limits.ttft={ttft!r}s", f"limits.tpot={tpot!r}s")
    assert r.scenario["limits.ttft"] == ttft and r.scenario["limits.tpot"] == tpot
    assert latency_remedy(r, "inference.tpot_seconds") == _expected_remedy(r, 8.0, ttft, tpot)


def test_latency_remedy_without_a_fleet_searches_the_stated_replicas(run):
    # no hardware.count: the fleet is 2 accelerators per replica x 4 replicas
    sets = ("serving_layout.tensor=2", "serving_layout.replicas=4")
    text = QWEN.replace(", count: 8", "")
    ttft, tpot = _binding_limits(run(text, *sets), 8.0, False)
    r = run(text, *sets, f"limits.ttft={ttft!r}s", f"limits.tpot={tpot!r}s")
    assert "hardware.count" not in r.scenario
    assert latency_remedy(r, "inference.tpot_seconds") == _expected_remedy(r, 8.0, ttft, tpot)


def test_latency_remedy_says_so_when_no_layout_meets_the_limits(run):
    r = run(QWEN, "limits.tpot=1us")
    assert latency_remedy(r, "inference.tpot_seconds") == (
        "no serving layout on 8 accelerators meets it (tried tensor, attention-data and expert degrees, "
        "aggregated and disaggregated, batches up to what memory holds)")


def _headroom_for(usable):
    """The limits headroom that leaves `usable` bytes of the 72 GB."""
    return 1 - usable / USABLE


def test_memory_remedy_at_one_sequence_that_fits(run):
    # one attention rank with room for 1.5 caches: "at most 1"; 5 caches on tensor 2 (W/2 + 5 S/2) fit
    r = run(SMALL, "inference.batch=5", "serving_layout.attention_data=1")
    usable = WEIGHTS + 1.5 * SEQUENCE
    text = memory_remedy(r, _headroom_for(usable))
    longest = math.floor(1.5 * SEQUENCE / (5 * SEQUENCE / 2304))
    largest = PARAMS * (usable - 5 * SEQUENCE) / WEIGHTS
    assert text == (f"at most 1 sequences per replica fit at 2,304 tokens each; at batch 5 the longest prompt + output "
                    f"that fits is {format_quantity(longest, 'count')} tokens; needs 2 accelerators per replica "
                    "(serving_layout.tensor 2) for batch 5; the largest model that fits beside these caches has "
                    f"{format_quantity(largest, 'count')} parameters")
    # longest = 691 here


def test_memory_remedy_at_one_token_that_fits(run):
    # room for 1.4 tokens of the 35 caches a rank holds: the longest request is 1 token, and no layout,
    # batch or model helps (35 caches need 660 MB on 8 tensor ranks: W/8 + 35 S/8 > 71.6 MB)
    r = run(SMALL, "inference.batch=70")
    usable = WEIGHTS + 1.4 * 35 * SEQUENCE / 2304
    # that is: WEIGHTS / 8 + 35 * SEQUENCE / 8 > usable
    assert memory_remedy(r, _headroom_for(usable)) == "at batch 70 the longest prompt + output that fits is 1 tokens"


def test_memory_remedy_stops_at_128_accelerators_per_replica(run):
    # one cache per device needs S/8 (8 KV heads) beside W/t: 256-way would fit, 128-way does not, and no
    # other option applies: the fallback
    r = run(SMALL, "inference.batch=2")
    usable = (WEIGHTS / 256 + SEQUENCE / 8 + WEIGHTS / 128 + SEQUENCE / 8) / 2
    assert memory_remedy(r, _headroom_for(usable)) == "shard the cache over more accelerators (serving_layout.tensor)"
