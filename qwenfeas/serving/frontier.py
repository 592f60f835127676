"""The serving frontier of a fleet: output per accelerator against speed per user, as plain rows.

Each row is one Pareto-optimal layout and batch on the scenario's accelerators (hardware.count, or
the replica's accelerators when the fleet is not given), under the latency limits given; the best
row is the one with the most output per accelerator, which is what "how many tokens/s per
accelerator at TPOT <= 50 ms" asks.
"""

from __future__ import annotations

from typing import NamedTuple

from ..formulas import serving as S
from .layout_search import best, candidates, frontier, passing
from .limits import _figures

COLUMNS = (
    ("serving_layout.tensor", "count"), ("serving_layout.attention_data", "count"), ("serving_layout.expert", "count"),
    ("serving_layout.replicas", "count"), ("serving_layout.disaggregated", "bool"), ("serving_layout.batch", "count"),
    ("inference.concurrency", "count"), ("inference.ttft_seconds", "s"), ("inference.tpot_seconds", "s"),
    ("inference.tokens_per_second_per_user", "tokens/s"), ("inference.tokens_per_second_per_accelerator", "tokens/s"),
    ("inference.output_tokens_per_second", "tokens/s"), ("inference.cost_per_million_output_tokens_usd", "USD"),
)


class Frontier(NamedTuple):
    """The frontier rows (fastest user first), the index of the best row, and what it was asked."""

    rows: list[dict]
    best: int | None
    accelerators: float
    ttft: float | None
    tpot: float | None


def serving_frontier(report, ttft=None, tpot=None) -> Frontier:
    """The Pareto frontier of the scenario's fleet under `ttft` and `tpot` (default: the scenario's limits)."""
    s, m, d = _figures(report)
    ttft = ttft if ttft is not None else s.get("limits.ttft")
    tpot = tpot if tpot is not None else s.get("limits.tpot")
    count = s.get("hardware.count", report["inference.accelerators"] * report["serving_layout.replicas"])
    c = candidates(m, d, count)
    ok = passing(c, ttft, tpot)
    chosen = best(c, ok)
    p = c.point
    price = s["datacenter.gpu_hour"]
    cost = S.cost_per_million_tokens_usd((1 - p.prefill_share) * p.accelerators, price, p.output_rate)
    values = (c.tensor, c.attention_data, c.expert, c.replicas, c.disaggregated, p.batch, c.concurrency, p.ttft,
              p.tpot, p.per_user, p.per_accelerator, p.output_rate, cost)
    index = list(frontier(c, ok))
    rows = [{name: (bool(v[i]) if unit == "bool" else float(v[i])) for (name, unit), v in zip(COLUMNS, values,
                                                                                             strict=True)}
            for i in index]
    return Frontier(rows, index.index(chosen) if chosen is not None else None, float(count), ttft, tpot)
