"""The serving layout search and its frontier, by enumeration and by hand.

Which layouts are tried (powers of two, tensor inside the scale-up domain, attention-data and expert
degrees only for an MoE, aggregated and disaggregated), how many replicas a fleet holds, the ladder of
batches, the latency filter at its boundaries, the Pareto frontier's order and ties, and the frontier
rows' cost and limits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qwenfeas.serving.batching import Point, operating_point
from qwenfeas.serving.layout_search import Candidates, _grid, candidates, frontier, passing
from qwenfeas.serving.limits import _figures

QWEN = """
model: {preset: qwen3-30b-a3b}
context: 2048
precision: {weights: fp8, kv_cache: fp8, compute: fp8}
hardware: {preset: h100-sxm, count: 4, scale_up_size: 2}
inference: {prompt_tokens: 1024, output_tokens: 1024}
"""
# the small dense model of test_serving: 71.2 MB of bf16 weights, 8,192 B of cache per token
SMALL = """
model: {layers: 2, hidden: 1024, heads: 8, kv_heads: 8, head_dim: 128, ffn_hidden: 4096, vocab: 1000}
context: %(context)d
hardware: {peak_flops: 1000T, memory: %(memory)s, bandwidth: 2TB/s, tdp: 500W, scale_up_bandwidth: 100GB/s,
           scale_up_size: 8, count: 4}
inference: {output_tokens: %(output)d}
datacenter: {gpu_hour: 2 $/h}
"""
WEIGHTS = 2.0 * (2 * (1024 * 128 * 32 + 3 * 1024 * 4096 + 2 * 1024) + 2 * 1000 * 1024 + 1024)


def figures(run, text, *sets):
    return _figures(run(text, *sets))


def test_the_grid_is_every_power_of_two_layout_inside_the_domain_and_the_fleet(run):
    # 4 H100 with a scale-up domain of 2: tensor 1 or 2; attention-data ranks up to the fleet; expert
    # degrees dividing the replica; each aggregated and disaggregated. Qwen3-30B-A3B fits on one GPU.
    s, m, d = figures(run, QWEN)
    t, a, e, split, fits = _grid(m, d, 4.0)
    got = sorted(zip(t.tolist(), a.tolist(), e.tolist(), split.tolist(), strict=True))
    expected = sorted((ti, ai, ei, sp) for ti, ai in ((1, 1), (1, 2), (1, 4), (2, 1), (2, 2))
                      for ei in (1, 2, 4) if ei <= ti * ai for sp in (0.0, 1.0))
    assert got == expected and len(got) == 22
    assert (fits >= 1).all()


def test_expert_degrees_stop_at_the_number_of_experts(run):
    # a small MoE of 4 experts on 8 accelerators: expert degrees 1, 2 and 4 (never 8), within the replica
    text = SMALL % {"context": 2304, "memory": "80GB", "output": 256}
    text = text.replace("vocab: 1000}", "vocab: 1000, moe: {experts: 4, top_k: 2, expert_ffn_hidden: 1024}}")
    s, m, d = figures(run, text, "hardware.count=8")
    t, a, e, split, fits = _grid(m, d, 8.0)
    assert sorted(set(e.tolist())) == [1.0, 2.0, 4.0]
    assert ((e <= t * a) & (e <= 4)).all() and (e[(t * a == 8)] == 4).any()


def test_a_dense_model_gets_tensor_degrees_only(run):
    text = SMALL % {"context": 2304, "memory": "80GB", "output": 256}
    s, m, d = figures(run, text)
    t, a, e, split, fits = _grid(m, d, 4.0)
    assert sorted(zip(t.tolist(), a.tolist(), e.tolist(), split.tolist(), strict=True)) == [
        (tp, 1.0, 1.0, sp) for tp in (1.0, 2.0, 4.0) for sp in (0.0, 1.0)]


def test_a_layout_whose_memory_holds_exactly_one_sequence_is_kept(run):
    # usable = weights + 1.5 caches on one GPU: 1 sequence fits at tensor 1
    sequence = 8192 * 2304
    memory = (WEIGHTS + 1.5 * sequence) / 0.9
    s, m, d = figures(run, SMALL % {"context": 2304, "memory": f"{memory:.0f}B", "output": 256})
    t, a, e, split, fits = _grid(m, d, 2.0)
    assert fits[t == 1].tolist() == [1.0, 1.0]
    c = candidates(m, d, 2.0)
    assert c.point.batch[c.tensor == 1].tolist() == [1.0, 1.0]  # the ladder's first rung is 1


def test_the_batch_ladder_climbs_by_root_two_to_what_memory_holds(run):
    # 1 TB of memory and 16-token requests: millions of sequences fit, so the ladder runs to its top rung
    s, m, d = figures(run, SMALL % {"context": 16, "memory": "1TB", "output": 8})
    c = candidates(m, d, 4.0)
    ladder = sorted({round(2.0 ** (i / 2)) for i in range(40)})
    assert ladder[:6] == [1, 2, 3, 4, 6, 8] and ladder[-1] == round(2 ** 19.5)
    aggregated = (c.tensor == 1) & ~c.disaggregated
    assert c.concurrency[aggregated].tolist() == [4.0 * b for b in ladder]  # 4 replicas of 1 GPU
    assert (c.replicas[aggregated] == 4).all()
    assert c.point.batch[aggregated].tolist() == [float(b) for b in ladder]
    tensor2 = (c.tensor == 2) & ~c.disaggregated
    assert (c.replicas[tensor2] == 2).all()


def test_a_given_concurrency_is_shared_by_the_replicas_and_a_prefill_pool_takes_its_accelerators(run):
    s, m, d = figures(run, SMALL % {"context": 2304, "memory": "80GB", "output": 256})
    c = candidates(m, d, 4.0, concurrency=8.0)
    assert (c.concurrency == 8.0).all()
    for i in range(len(c.tensor)):
        t = c.tensor[i]
        if not c.disaggregated[i]:
            assert c.replicas[i] == math.floor(4 / t)
        else:  # the pool's accelerators come out of the fleet: replicas of t (1 + pool) accelerators
            first = math.floor(4 / t)
            pool = operating_point(m, d, t, 1.0, 1.0, first, 8.0, True).accelerators / (first * t)
            assert c.replicas[i] == math.floor(4 / (t * pool)) >= 1
        assert c.point.batch[i] == pytest.approx(min(8.0 / c.replicas[i], c.point.max_batch[i]))
    # a disaggregated tensor-2 replica with its pool does not fit twice in 4 GPUs: one replica
    assert c.replicas[(c.tensor == 2) & c.disaggregated].tolist() == [1.0]


def _fake(ttft, tpot, batch, max_batch, concurrency, replicas, user=None, accel=None):
    n = len(ttft)
    z = np.zeros(n)
    user = np.asarray(user if user is not None else z, float)
    accel = np.asarray(accel if accel is not None else z, float)
    point = Point(np.asarray(max_batch, float), np.asarray(batch, float), z, z, z, z, np.asarray(ttft, float),
                  np.asarray(tpot, float), user, accel, z, z, z, np.ones(n))
    return Candidates(np.ones(n), np.ones(n), np.ones(n), np.asarray(replicas, float), np.zeros(n, bool),
                      np.asarray(concurrency, float), point)


def test_passing_keeps_the_limits_and_the_memory_at_their_boundaries():
    c = _fake(ttft=[1.0, 1.0, 2.0, 1.0, 1.0], tpot=[0.05, 0.06, 0.05, 0.05, 0.05], batch=[4, 4, 4, 5, 4],
              max_batch=[4, 4, 4, 4, 4], concurrency=[8, 8, 8, 8, 10], replicas=[2, 2, 2, 2, 2])
    # row 0 sits on every boundary and passes; 1 misses TPOT, 2 TTFT, 3 holds more than fits, 4 asks
    # 5 per replica of 4
    assert passing(c, 1.0, 0.05).tolist() == [True, False, False, False, False]
    assert passing(c, None, 0.05).tolist() == [True, False, True, False, False]
    assert passing(c, 1.0, None).tolist() == [True, True, False, False, False]
    assert passing(c).tolist() == [True, True, True, False, False]


def test_the_frontier_keeps_the_most_output_at_each_speed_fastest_user_first():
    # (user, accelerator) speeds: 30/100 and 20/300 and 10/500 are the frontier; 30/50 ties the fastest
    # user with less output, 20/250 and 10/300 are beaten, 5/600 is slower but gives more
    user = [10, 30, 20, 30, 20, 10, 5]
    accel = [500, 100, 300, 50, 250, 300, 600]
    c = _fake(ttft=[0] * 7, tpot=[0] * 7, batch=[1] * 7, max_batch=[1] * 7, concurrency=[1] * 7, replicas=[1] * 7,
              user=user, accel=accel)
    ok = np.ones(7, bool)
    assert frontier(c, ok).tolist() == [1, 2, 0, 6]
    ok[1] = False  # without the fastest, the 30/50 tie is the fastest and stays
    assert frontier(c, ok).tolist() == [3, 2, 0, 6]


def test_the_frontier_rows_carry_the_limits_the_fleet_and_the_decode_cost(run):
    from qwenfeas.serving.frontier import serving_frontier
    from qwenfeas.serving.layout_search import best

    text = SMALL % {"context": 2304, "memory": "80GB", "output": 256}
    r = run(text, "limits.ttft=2s", "limits.tpot=20ms")
    f = serving_frontier(r)
    assert (f.ttft, f.tpot, f.accelerators) == (2.0, 0.02, 4.0)
    s, m, d = _figures(r)
    c = candidates(m, d, 4.0)
    ok = passing(c, 2.0, 0.02)
    index = frontier(c, ok).tolist()
    assert len(f.rows) == len(index) and f.best == index.index(best(c, ok))
    p = c.point
    for row, i in zip(f.rows, index, strict=True):
        assert row["serving_layout.disaggregated"] is bool(c.disaggregated[i])
        assert row["inference.tpot_seconds"] == pytest.approx(p.tpot[i]) and p.tpot[i] <= 0.02
        assert row["inference.ttft_seconds"] <= 2.0
        cost = (1 - p.prefill_share[i]) * p.accelerators[i] * 2 / 3600 / p.output_rate[i] * 1e6
        assert row["inference.cost_per_million_output_tokens_usd"] == pytest.approx(cost, rel=1e-12)
    # limits given to the call override the scenario's
    g = serving_frontier(r, ttft=5.0, tpot=0.05)
    assert (g.ttft, g.tpot) == (5.0, 0.05)
    assert len(g.rows) == len(frontier(c, passing(c, 5.0, 0.05)))
    # a TTFT limit that binds: every row meets it, and it changes the frontier
    median = float(np.median(p.ttft))
    k = serving_frontier(r, ttft=median)  # TPOT: the scenario's 20 ms
    assert k.rows and all(row["inference.ttft_seconds"] <= median for row in k.rows)
    assert len(k.rows) == len(frontier(c, passing(c, median, 0.02)))
    assert frontier(c, passing(c, median, 0.02)).tolist() != frontier(c, passing(c, None, 0.02)).tolist()
    # no hardware.count: the fleet is the stated replicas' accelerators
    h = serving_frontier(run(text.replace(", count: 4", ""), "serving_layout.tensor=2", "serving_layout.replicas=3"))
    assert h.accelerators == 6.0 and (h.ttft, h.tpot) == (None, None)
    # limits nothing meets: no rows, no best
    none = serving_frontier(r, tpot=1e-9)
    assert none.rows == [] and none.best is None
