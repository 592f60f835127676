"""The fastest training layout that fits memory on the user's own accelerators.

Every combination of tensor x pipeline x expert x context x micro-batch x schedule x recompute x
ZeRO stage the scenario leaves open is evaluated at once, as numpy arrays, by the same step model
(`step_time.evaluate`) that judges a stated layout; the data-parallel degree takes what is left of
`hardware.count`, and accelerators that do not factor are left idle.
"""

from __future__ import annotations

from typing import NamedTuple

from ..formulas import flops as F
from ..formulas import pipeline as PL
from ..formulas import training_memory as TM
from ..formulas._array import where
from .step_inputs import Work
from .step_time import evaluate

# Degrees searched. Tensor parallelism stays inside one scale-up domain and divides the query heads
# (Narayanan et al. 2021, sec. 3.3: tensor parallelism across nodes is slow); context parallelism
# keeps chunks of at least _CONTEXT_CHUNK tokens, below which ring attention no longer hides its K/V
# exchange (Megatron-Core context parallelism guide); interleaving uses 2, 4 or 8 virtual stages.
_POWERS = tuple(2.0**k for k in range(13))
_CONTEXT = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
_CONTEXT_CHUNK = 1024
_MICRO_BATCH = (1.0, 2.0, 4.0)
_SCHEDULES = ((PL.ONE_F_ONE_B, 1.0), (PL.INTERLEAVED, 2.0), (PL.INTERLEAVED, 4.0), (PL.INTERLEAVED, 8.0),
              (PL.ZERO_BUBBLE, 1.0), (PL.DUALPIPE, 1.0))
_ZERO = (0.0, 1.0, 2.0, 3.0)
_RECOMPUTE = (TM.NO_RECOMPUTE, TM.SELECTIVE, TM.MODULES, TM.FULL)
KEYS = ("tensor", "pipeline", "data", "expert", "context", "micro_batch", "virtual_stages", "schedule", "zero",
        "recompute")


class Choice(NamedTuple):
    """The layout chosen, what it gives, and the runner-up."""

    layout: dict  # KEYS -> number
    result: dict  # step_time.evaluate of it
    runner_up: dict | None
    runner_up_result: dict | None
    candidates: int  # layouts evaluated
    fitting: int  # of them, those that fit memory


def candidates(w: Work, count, fixed: dict) -> dict:
    """Every layout of the open degrees (fixed ones held), as flat numpy arrays, invalid ones dropped."""
    import numpy as np

    def options(key, values):
        return (float(fixed[key]),) if key in fixed else values

    tensor = options("tensor", tuple(t for t in _POWERS if t <= w.domain and w.heads % t == 0))
    pipeline = options("pipeline", tuple(p for p in _POWERS if p <= w.layers))
    expert = options("expert", tuple(e for e in _POWERS if e <= w.experts and w.experts % e == 0) if w.moe else (1.0,))
    context = options("context", tuple(c for c in _CONTEXT if c == 1 or w.sequence / c >= _CONTEXT_CHUNK))
    micro = options("micro_batch", _MICRO_BATCH)
    schedules = _SCHEDULES
    if "schedule" in fixed:
        schedules = tuple(sv for sv in _SCHEDULES if sv[0] == fixed["schedule"])  # every schedule code is in it
        if "virtual_stages" in fixed:
            schedules = ((fixed["schedule"], float(fixed["virtual_stages"])),)
    zero = options("zero", _ZERO)
    recompute = options("recompute", _RECOMPUTE)
    index = np.arange(len(schedules), dtype=float)
    grids = np.meshgrid(np.array(tensor), np.array(pipeline), np.array(expert), np.array(context), np.array(micro),
                        index, np.array(zero), np.array(recompute, dtype=float), indexing="ij")
    t, p, e, c, mb, sched, z, rc = (g.ravel() for g in grids)
    table = np.array(schedules, dtype=float)
    schedule, v = table[sched.astype(int), 0], table[sched.astype(int), 1]
    sequences = w.batch_tokens / w.sequence
    if "data" in fixed:
        d = np.full_like(t, float(fixed["data"]))
    else:
        d = np.floor(count / (t * p * c))
        d = np.minimum(d, np.floor(sequences / mb))  # at least one micro-batch per replica
        d = np.floor(d / e) * e
    valid = (d >= 1) & (d >= e) & (np.mod(d, e) == 0) & (t * p * c * d <= count)
    valid &= (p > 1) | (schedule == PL.ONE_F_ONE_B)
    valid &= (schedule != PL.INTERLEAVED) | (w.layers / (p * v) >= 1)
    valid &= (schedule != PL.DUALPIPE) | (np.mod(p, 2) == 0)
    layout = {"tensor": t, "pipeline": p, "data": d, "expert": e, "context": c, "micro_batch": mb,
              "virtual_stages": v, "schedule": schedule, "zero": z, "recompute": rc}
    return {key: value[valid] for key, value in layout.items()}


def used_accelerators(layout: dict):
    """Accelerators a layout (or a grid of them) runs on: tensor x pipeline x context x data."""
    return layout["tensor"] * layout["pipeline"] * layout["context"] * layout["data"]


def given_time(used, recompute, given: str):
    """Training time under a given utilisation, relative: FLOPs / (used x peak x the given figure).

    Formula: 1 / used for a given MFU (model FLOPs); hardware FLOPs over model FLOPs / used for a
             given HFU (4/3 under full recomputation, else 1: formulas.flops.hardware_flops).
    Convention: the given figure holds whatever the layout, so the time falls only with the
    accelerators used and, under a given HFU, with the FLOPs the recomputation adds.
    """
    replayed = F.hardware_flops(1.0, "full") if given == "hfu" else 1.0
    return where(recompute == TM.FULL, replayed, 1.0) / used


def search(w: Work, count, fixed: dict, given: str = "") -> Choice | None:
    """The layout that fits memory with the shortest training time; None when nothing fits.

    The time is steps x the predicted step; under a given utilisation (`given` "mfu" or "hfu") it is
    the given figure's time (given_time), the predicted step breaking its ties, since that is the
    time the estimate reports for the layout.
    """
    import numpy as np

    grid = candidates(w, count, fixed)
    if not grid["tensor"].size:
        return None
    result = evaluate(w, grid)
    run = result["step_seconds"]
    fits = result["fill"] <= 1
    if not fits.any():
        return None
    score = np.where(fits, run, np.inf)
    used = used_accelerators(grid)
    first = np.where(fits, given_time(used, grid["recompute"], given), np.inf) if given else score
    # fastest; ties: more used, fewer stages
    order = np.lexsort((grid["recompute"], grid["pipeline"], -used, score, first))
    best = int(order[0])
    shape = ("tensor", "pipeline", "expert", "context")
    other = np.zeros(score.shape, dtype=bool)
    for key in shape:
        other |= grid[key] != grid[key][best]
    second = [i for i in order[1:int(fits.sum())] if other[i]][:1]

    def pick(i):
        return {key: float(grid[key][i]) for key in KEYS}, {key: float(np.asarray(value)[i]) for key, value in
                                                              result.items()}
    layout, chosen = pick(best)
    runner, runner_result = pick(second[0]) if second else (None, None)
    return Choice(layout, chosen, runner, runner_result, int(score.size), int(fits.sum()))


def why_slower(best: dict, other: dict) -> str:
    """The part of the step that makes `other` slower than `best`, in words."""
    parts = {"pipeline bubble": "bubble_seconds", "exposed communication": "exposed_seconds",
             "compute": "compute_seconds", "optimizer step": "optimizer_seconds"}
    name = max(parts, key=lambda k: other[parts[k]] - best[parts[k]])  # steps are the same for every layout
    return f"more {name}"


def fewest(w: Work, fixed: dict) -> tuple[dict, dict] | None:
    """The layout with the fewest accelerators that fits memory, whatever the count: (layout, result).

    Model states sharded by ZeRO fall as 1/d and the rest does not depend on d, so two evaluations
    (d = e and d = 2e) give each candidate's fixed and sharded bytes, and the fewest replicas follow
    in closed form (formulas.training_memory.smallest_data_parallel).
    """
    import numpy as np

    open_data = {k: v for k, v in fixed.items() if k != "data"}
    grid = candidates(w, np.inf, open_data)
    if not grid["tensor"].size:
        return None
    at_e = evaluate(w, {**grid, "data": grid["expert"]})["total_bytes"]
    at_2e = evaluate(w, {**grid, "data": 2 * grid["expert"]})["total_bytes"]
    sharded = 2 * grid["expert"] * (at_e - at_2e)
    rest = at_e - sharded / grid["expert"]
    d = TM.smallest_data_parallel(rest, sharded, w.usable, grid["expert"])
    d = np.where(d <= w.batch_tokens / (w.sequence * grid["micro_batch"]), d, np.inf)
    count = grid["tensor"] * grid["pipeline"] * grid["context"] * d
    if not np.isfinite(count).any():
        return None
    grid["data"] = np.where(np.isfinite(d), d, 1.0)
    # the step time is asked of the fewest accelerators only: count by count, smallest first, until one
    # fits (the sharded bytes fall as 1/d, so the first count nearly always does)
    for smallest in np.unique(count[np.isfinite(count)]):
        at = np.flatnonzero(count == smallest)
        result = evaluate(w, {key: value[at] for key, value in grid.items()})
        ok = result["fill"] <= 1 + 1e-9
        if ok.any():
            best = int(np.argmin(np.where(ok, result["step_seconds"], np.inf)))  # ties: the first candidate
            return ({key: float(grid[key][at[best]]) for key in KEYS},
                    {key: float(np.asarray(value)[best]) for key, value in result.items()})
    return None
