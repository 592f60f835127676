"""Serving metrics by hand: one sequence's FLOPs, bytes and speed, a reasoning query's cost at the
operating point, the notes a layout or a queue earns, and a searched layout.

The small dense model is test_serving's: 2 layers, hidden 1024, 8 heads and 8 KV heads of 128, FFN 4096
SwiGLU, vocab 1000, bf16; 35,600,384 parameters, 33,552,384 of them in matmuls (the input embedding is a
lookup); attention 2 x 2 layers x 8 heads x (128 + 128) = 8,192 FLOPs per attended key; a cache of
8,192 B per token. 500 W accelerators, 20% system overhead, PUE 1.25, $2 an hour.
"""

from __future__ import annotations

import numpy as np
import pytest

SMALL = """
model: {layers: 2, hidden: 1024, heads: 8, kv_heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: 2304
hardware: {peak_flops: 1000T, memory: 80GB, bandwidth: 2TB/s, tdp: 500W, scale_up_bandwidth: 100GB/s,
           scale_up_size: 8, count: 1}
inference: {output_tokens: 256}
datacenter: {pue: 1.25, overhead: 0.2, gpu_hour: 2 $/h}
"""
PARAMS = 2 * (1024 * 128 * 32 + 3 * 1024 * 4096 + 2 * 1024) + 2 * 1000 * 1024 + 1024
MATMUL = PARAMS - 1000 * 1024
PER_KEY = 2 * 2 * 8 * (128 + 128)
KV = 2 * 2 * 8 * 128 * 2


def keys(start, steps):
    """Keys `steps` causal tokens attend to after `start` cached ones: sum of start + i, i = 1..steps."""
    return steps * start + steps * (steps + 1) / 2


def test_one_decoded_token_at_full_context(run):
    r = run(SMALL)
    assert r["model.matmul_params"] == MATMUL
    assert r["inference.flops_per_token"] == pytest.approx(2 * MATMUL + PER_KEY * 2305)
    assert r["inference.bytes_per_token"] == pytest.approx(MATMUL * 2 + KV * 2305)
    alone = r["inference.decode_seconds_per_token"]
    assert alone == pytest.approx(r["inference.step_seconds"])  # batch 1, no drafts
    assert r["inference.decode_tokens_per_second"] == pytest.approx(1 / alone)
    assert r["inference.prefill_flops"] == pytest.approx(2 * MATMUL * 2048 + PER_KEY * keys(0, 2048))


def test_a_reasoning_query_costs_its_share_of_the_deployment(run):
    # 1,024 reasoning tokens after a 1,280-token prompt, one query on one accelerator
    r = run(SMALL, "test_time=1024")
    assert r["test_time.prompt_tokens"] == 1280
    flops = 2 * MATMUL * 1280 + PER_KEY * keys(0, 1280) + 2 * MATMUL * 1024 + PER_KEY * keys(1280, 1024)
    assert r["test_time.flops"] == pytest.approx(flops, rel=1e-12)
    read = PARAMS * 2 + MATMUL * 2 * 1024 + KV * keys(1280, 1024)  # the prefill reads every weight once
    assert r["test_time.read_bytes"] == pytest.approx(read, rel=1e-12)
    ttft, tpot = r["inference.ttft_seconds"], r["inference.tpot_seconds"]
    assert r["test_time.seconds"] == pytest.approx(ttft + 1024 * tpot, rel=1e-12)
    queries = r["inference.output_tokens_per_second"] / 256  # requests/s of the deployment
    watts = 500 * 1.2 * 0.77 * 1.25  # sustained share of the system's power, facility overhead
    assert r["test_time.energy_kwh"] == pytest.approx(watts / queries / 3.6e6, rel=1e-12)
    assert r["test_time.cost_usd"] == pytest.approx(1 / queries / 3600 * 2, rel=1e-12)


def test_a_concurrency_past_the_caches_is_noted_as_queued(run):
    # 3,810 sequences fit (test_serving); 5,000 asked
    r = run(SMALL, "inference.concurrency=5000")
    assert any("concurrency 5000 exceeds what the caches hold (3810 sequences at prompt + output tokens)" in n
               for n in r.notes)


def test_a_layout_unlike_the_stated_replica_is_noted(run):
    r = run(SMALL, "hardware.count=4", "inference.accelerators=2", "serving_layout.tensor=4")
    assert any("serving_layout tensor × attention_data (4) is not inference.accelerators (2)" in n for n in r.notes)
    assert r["serving_layout.replicas"] == 1  # floor(4 / 4)


def test_a_fleet_with_no_layout_gets_the_best_one_searched(run):
    from qwenfeas.serving.layout_search import best, candidates, passing
    from qwenfeas.serving.limits import _figures

    r = run(SMALL, "hardware.count=4", "inference.batch=16")
    s, m, d = _figures(r)
    c = candidates(m, d, 4.0, None, 16.0)
    i = best(c, passing(c))
    assert (r["serving_layout.tensor"], r["serving_layout.replicas"]) == (c.tensor[i], c.replicas[i])
    assert r["inference.concurrency"] == c.concurrency[i]
    assert "searched" in r.metrics["serving_layout.tensor"].label
    # a stated layout is not searched, and its replicas fill the fleet
    stated = run(SMALL, "hardware.count=4", "serving_layout.tensor=2")
    assert stated["serving_layout.replicas"] == 2 and "searched" not in stated.metrics["serving_layout.tensor"].label


QWEN = """
model: {preset: qwen3-30b-a3b}
context: 3072
precision: {weights: fp8, kv_cache: fp8, compute: fp8}
hardware: {preset: h100-sxm, count: 8}
inference: {prompt_tokens: 2048, output_tokens: 1024, concurrency: 256}
"""


def test_a_searched_layout_meets_the_scenario_s_limits_or_else_is_the_best_that_fits(run):
    from qwenfeas.serving.layout_search import best, candidates, passing
    from qwenfeas.serving.limits import _figures

    r = run(QWEN)
    s, m, d = _figures(r)
    c = candidates(m, d, 8.0, 256.0, s["inference.batch"])
    p = c.point
    # limits under which both bind (dropping either picks another layout), from the fitting layouts' spread
    fit = passing(c)
    pairs = [(float(x), float(y)) for x in np.quantile(p.ttft[fit], np.linspace(0.05, 0.95, 19))
             for y in np.quantile(p.tpot[fit], np.linspace(0.05, 0.95, 19))]
    ttft, tpot = next((x, y) for x, y in pairs if best(c, passing(c, x, y)) is not None
                      and best(c, passing(c, x, y)) != best(c, passing(c, None, y))
                      and best(c, passing(c, x, y)) != best(c, passing(c, x, None)))
    chosen = best(c, passing(c, ttft, tpot))
    limited = run(QWEN, f"limits.ttft={ttft!r}s", f"limits.tpot={tpot!r}s")
    layout = ("tensor", "attention_data", "expert", "replicas")
    assert [limited[f"serving_layout.{k}"] for k in layout] == [c.tensor[chosen], c.attention_data[chosen],
                                                               c.expert[chosen], c.replicas[chosen]]
    assert limited["serving_layout.disaggregated"] == bool(c.disaggregated[chosen])
    assert limited.metrics["serving_layout.tensor"].unit == "count" == limited.metrics["inference.accelerators"].unit
    # limits nothing meets: the best layout that fits, as if no limit were given
    impossible = run(QWEN, "limits.tpot=1us")
    free = best(c, fit)
    assert [impossible[f"serving_layout.{k}"] for k in layout] == [c.tensor[free], c.attention_data[free],
                                                                  c.expert[free], c.replicas[free]]
