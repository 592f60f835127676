"""The serving layouts of a fleet: every candidate evaluated at once, the best one, and the frontier.

Candidates are tensor x attention-data degrees (powers of two, tensor inside the scale-up domain),
an expert-parallel degree dividing the replica, aggregated or disaggregated prefill, and a batch
per replica from 1 up to what memory holds. They are numpy arrays evaluated in one call of
`operating_point`, the same function that computes a stated layout, so a layout named here gives
the same figures when written back into the scenario.
"""

from __future__ import annotations

from typing import NamedTuple

from .batching import Point, max_batch, operating_point
from .deployment import Device, Model

_MAX_DEGREE = 64  # largest tensor x attention-data replica tried: one NVL72-class domain


class Candidates(NamedTuple):
    """Layouts and batches as equal-length arrays, and their operating points."""

    tensor: object
    attention_data: object
    expert: object
    replicas: object
    disaggregated: object
    concurrency: object
    point: Point


def _grid(m: Model, d: Device, count: float):
    """Every (tensor, attention_data, expert, disaggregated) that holds the weights and one sequence."""
    import numpy as np

    domain = float(d.domain)
    powers = [2.0**k for k in range(7) if 2**k <= min(count, _MAX_DEGREE)]
    rows = []
    for t in powers:
        if t > domain:
            continue
        for a in powers if m.moe else [1.0]:
            replica = t * a
            if replica > min(count, _MAX_DEGREE):
                continue
            experts = [e for e in powers if e <= replica and e <= float(m.experts)] if m.moe else [1.0]
            for e in experts:
                for split in (0.0, 1.0):
                    rows.append((t, a, e, split))
    t, a, e, split = (np.array(c) for c in zip(*rows, strict=True))
    fits = max_batch(m, d, t, a)
    keep = fits >= 1
    return t[keep], a[keep], e[keep], split[keep], fits[keep]


def candidates(m: Model, d: Device, count: float, concurrency=None, batch=None) -> Candidates:
    """Every layout on `count` accelerators: at the given concurrency, at `batch` sequences per replica,
    or (neither given) at a ladder of batches up to what memory holds."""
    import numpy as np

    t, a, e, split, fits = _grid(m, d, count)
    replicas = np.floor(count / (t * a))
    if concurrency is None and batch is not None:
        per_replica = np.full(t.shape, float(batch))
    elif concurrency is None:  # batches 1, 1.41, 2, ... up to what memory holds, per replica
        ladder = np.unique(np.round(2.0 ** (np.arange(0, 40) / 2)))
        index, step = np.nonzero(ladder[None, :] <= fits[:, None])
        t, a, e, split, replicas = t[index], a[index], e[index], split[index], replicas[index]
        per_replica = ladder[step]
    else:
        per_replica = concurrency / replicas
    point = operating_point(m, d, t, a, e, replicas, per_replica * replicas, split > 0)
    if split.any():  # a disaggregated replica's prefill pool comes out of the same fleet
        pool = point.accelerators / (replicas * t * a)
        replicas = np.floor(count / (t * a * pool))
        ok = replicas >= 1
        t, a, e, split, replicas, per_replica = t[ok], a[ok], e[ok], split[ok], replicas[ok], per_replica[ok]
        if concurrency is not None:
            per_replica = concurrency / replicas
        point = operating_point(m, d, t, a, e, replicas, per_replica * replicas, split > 0)
    total = per_replica * replicas
    return Candidates(t, a, e, replicas, split > 0, total, point)


def passing(c: Candidates, ttft=None, tpot=None):
    """Which candidates keep every sequence in memory and meet the latency limits given."""
    ok = c.point.batch <= c.point.max_batch
    ok &= c.concurrency / c.replicas <= c.point.max_batch
    if ttft is not None:
        ok &= c.point.ttft <= ttft
    if tpot is not None:
        ok &= c.point.tpot <= tpot
    return ok


def best(c: Candidates, ok) -> int | None:
    """The passing candidate with the most output per accelerator (then the fewest accelerators, then
    the smallest tensor degree): an index into the candidates, or None."""
    import numpy as np

    index = np.nonzero(ok)[0]
    if not index.size:
        return None
    order = np.lexsort((c.tensor[index], c.point.accelerators[index], -c.point.per_accelerator[index]))
    return int(index[order[0]])


def frontier(c: Candidates, ok):
    """Indices of the Pareto frontier of output per accelerator against speed per user, fastest user first.

    A point stays when no other passing point is at least as fast per user and gives more per
    accelerator. Source: Pareto optimality (the throughput-latency frontier of serving papers,
    e.g. DistServe, Zhong et al. 2024, Figure 1).
    """
    import numpy as np

    index = np.nonzero(ok)[0]
    user, accel = c.point.per_user[index], c.point.per_accelerator[index]
    order = np.lexsort((-accel, -user))
    best_so_far = np.maximum.accumulate(accel[order])
    previous = np.concatenate(([-np.inf], best_so_far[:-1]))
    return index[order[accel[order] > previous]]
