"""How many disaggregated replicas a searched fleet holds, and the request rate of an operating point.

A disaggregated replica of t x a decode accelerators brings a prefill pool of X x P replicas (X its
requests/s, P the batched prefill per request): DistServe (Zhong et al. 2024) sizes the prefill instances
to keep up with the decode ones. On a fleet of N accelerators the search first places floor(N / (t a))
replicas to learn the pool at the given concurrency, then keeps floor(N / (t a (1 + X P))) of them, each
with its share of the concurrency. The figures below are worked out from those two steps and from the
steady-state formulas (Little's law, formulas.serving.steady_state), on Qwen3-30B-A3B (128 experts,
top-8, so the search tries attention-data ranks) and on test_serving's small dense model.
"""

from __future__ import annotations

import math

import pytest

from qwenfeas.serving.batching import operating_point
from qwenfeas.serving.layout_search import candidates
from qwenfeas.serving.limits import _figures
from tests.test_serving import small
from tests.test_serving_search import QWEN

# test_serving_search's Qwen3-30B-A3B scenario with prefill-heavy requests (4,096-token prompts, 256 output
# tokens) on 16 H100: the prefill pool is a large share of the fleet, so how many replicas fit depends on
# sizing the pool at the right batch
PREFILL_HEAVY = ("context=4352", "inference.prompt_tokens=4096", "inference.output_tokens=256", "hardware.count=16",
                 "hardware.scale_up_size=8")


def qwen(run):
    return _figures(run(QWEN, *PREFILL_HEAVY))


def test_a_disaggregated_fleet_keeps_the_replicas_whose_decode_and_prefill_pool_fit_in_it(run):
    s, m, d = qwen(run)
    count, concurrency = 16.0, 1024.0
    c = candidates(m, d, count, concurrency=concurrency)
    split = c.disaggregated
    assert split.any() and (~split).any()
    seen = 0
    for i in range(len(c.tensor)):
        t, a, e = c.tensor[i], c.attention_data[i], c.expert[i]
        replica = t * a
        if not split[i]:
            assert c.replicas[i] == math.floor(count / replica)
            continue
        first = math.floor(count / replica)  # replicas placed before the pool is known
        probe = operating_point(m, d, t, a, e, first, concurrency, True)
        # the pool per decode replica, from the probe's own step and batched prefill (DistServe's sizing):
        # X = b x accepted / (step x O) requests/s, each needing P replica-seconds of prefill
        pool = probe.batch * m.accepted / (probe.step_seconds * 256) * probe.prefill_per_request
        assert probe.batch == min(concurrency / first, probe.max_batch)
        assert probe.accelerators == pytest.approx(first * replica * (1 + pool), rel=1e-12)
        kept = math.floor(count / (replica * (1 + pool)))
        assert c.replicas[i] == kept >= 1
        assert c.concurrency[i] == concurrency
        assert c.point.batch[i] == min(concurrency / kept, c.point.max_batch[i])
        assert c.point.accelerators[i] == pytest.approx(
            kept * replica * (1 + c.point.batch[i] * m.accepted / (c.point.step_seconds[i] * 256)
                              * c.point.prefill_per_request[i]), rel=1e-12)
        seen += 1
    # layouts with attention-data ranks (a > 1) are among the kept disaggregated ones, and some fleets hold
    # several replicas with their pools: the count divides by t x a, not t / a
    assert seen and (c.attention_data[split] > 1).any() and (c.replicas[split] > 1).any()
    # every disaggregated layout the fleet holds is kept: the layouts of _grid whose replicas come out >= 1
    assert seen == sum(1 for i in range(len(c.tensor)) if split[i])


def test_a_disaggregated_fleet_at_a_ladder_of_batches_sizes_each_pool_at_its_batch(run):
    # no concurrency given: each candidate runs b sequences per replica, the pool sized at that batch
    s, m, d = qwen(run)
    c = candidates(m, d, 16.0)
    split = c.disaggregated
    for i in [int(j) for j in split.nonzero()[0]][::7]:
        t, a, e = c.tensor[i], c.attention_data[i], c.expert[i]
        replica = t * a
        batch = c.concurrency[i] / c.replicas[i]
        first = math.floor(16.0 / replica)
        probe = operating_point(m, d, t, a, e, first, batch * first, True)
        pool = batch * m.accepted / (probe.step_seconds * 256) * probe.prefill_per_request
        assert c.replicas[i] == math.floor(16.0 / (replica * (1 + pool))) >= 1
        assert c.point.batch[i] == batch


def test_an_operating_point_serves_littles_law_request_rate(run):
    # test_serving's small dense model on one accelerator, 16 sequences: D = 16 / step tokens/s while
    # decoding, X = D / (O + D P) requests/s (formulas.serving.steady_state); disaggregated, X = D / O
    text, sets = small(count=4)
    s, m, d = _figures(run(text, *sets))
    for split in (False, True):
        p = operating_point(m, d, 1.0, 1.0, 1.0, 4.0, 64.0, split)
        decode = 16 / p.step_seconds
        expected = decode / 256 if split else decode / (256 + decode * p.prefill_per_request)
        assert p.batch == 16
        assert p.requests_per_second == pytest.approx(expected, rel=1e-12)
        assert p.output_rate == pytest.approx(4 * 256 * expected, rel=1e-12)
        assert p.input_rate == pytest.approx(4 * 2048 * expected, rel=1e-12)
