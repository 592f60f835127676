"""Sweeps: one scenario over a Cartesian grid of values, evaluated in vectorised chunks.

Numeric axes (`--vary context=1M..100M:log:9`) become numpy arrays that go through the
same loader checks and the same formulas as a single estimate: no Python loop over
points. Text axes (presets, precisions, recompute policy) pick one scenario per value,
since a preset changes many figures at once. The grid is evaluated in chunks of points,
so memory stays flat however large the sweep, and every chunk carries the verdict of
each point: feasible or not, and the check that binds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ..errors import QwenfeasError, did_you_mean
from ..estimates import estimate
from ..formulas._array import is_array
from ..report import Report, input_unit
from ..scenario.fields import all_keys
from ..scenario.files import read_text
from ..scenario.load import Scenario, loads, range_problem
from ..scenario.units import parse_quantity
from ..verdict import holds, margins, read_condition

CHUNK_POINTS = 1 << 16  # 64K points: 512 KB per float column, inside a core's L2 cache
# The largest grid one run evaluates. The loader checks the swept keys against each other as whole
# broadcast arrays (8 bytes a point each), so 10M points keep a run within a few hundred MB; rows
# are then streamed in chunks. A bigger grid is refused before anything is allocated.
MAX_POINTS = 10_000_000
# Counts a scenario may give that do not move what depends on them (the architecture does): a
# sweep over them would show flat times and costs, so it is refused with a hint.
_NOT_SWEPT = {
    "model.params": "a given total only relabels the model: time, memory and cost follow the architecture",
    "model.active_params": "a given active count only relabels the model: FLOPs and time follow the architecture",
}
VARY = "--vary"
FEASIBLE, BINDING = "feasible", "binding"
# Shown when --columns is not given, if the scenario computes them.
HEADLINE = ("training.seconds", "training.cost_usd", "training_memory.fill", "kv_cache.bytes_per_sequence",
            "memory.min_accelerators", "inference.batch_tokens_per_second", "test_time.seconds",
            "power.facility_watts")
_TEXT_KINDS = ("text", "choice", "bool")
_AXIS_HINT = "write KEY=VALUES: a list (context=32K,128K,1M) or a range (context=1M..100M:log:9, hardware.mfu=0.3..0.5:5)"


class Axis(NamedTuple):
    """One swept key and its values: numbers in base units, or text for presets and choices."""

    key: str
    values: tuple
    numeric: bool


def parse_axis(text: str) -> Axis:
    """Read `KEY=VALUES`: comma-separated values and ranges `A..B:N` (linear) or `A..B:log:N`."""
    key, sep, values = (part.strip() for part in text.partition("="))
    if not sep or not key or not values:
        raise QwenfeasError(f"cannot read {text!r}", file=VARY, hint=_AXIS_HINT)
    spec = all_keys().get(key)
    if spec is None:
        raise QwenfeasError("not a scenario key", file=VARY, key=key,
                            hint=did_you_mean(key, all_keys()) or "see qwenfeas schema for the keys")
    if spec.kind == "expectations":
        raise QwenfeasError("expectations cannot be swept", file=VARY, key=key)
    if key in _NOT_SWEPT:
        raise QwenfeasError(f"cannot be swept: {_NOT_SWEPT[key]}", file=VARY, key=key,
                            hint="sweep the architecture instead, e.g. --vary model.layers=32..128:5 or "
                            "--vary model.moe.experts=64,128,256 (or the data: --vary tokens=10T..100T:log:5)")
    items = [item.strip() for item in values.split(",")]
    if not all(items):
        raise QwenfeasError(f"an empty value in {values!r}", file=VARY, key=key, hint=_AXIS_HINT)
    if spec.kind in _TEXT_KINDS:
        return Axis(key, tuple(dict.fromkeys(items)), False)
    counts = [_range_count(item, key) if ".." in item else 1 for item in items]
    if sum(counts) > MAX_POINTS:  # before allocating anything: 1..1e12:1000000000000 is 8 TB of floats
        raise _too_many(f"{sum(counts):,} values on one axis", key)
    parts = [_range(item, key, spec.kind) if ".." in item else np.array([_number(item, key, spec.kind)])
             for item in items]
    numbers = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if spec.kind == "integer":
        numbers = np.round(numbers)
    for bound in (numbers.min(), numbers.max()):  # the extremes decide whether every value is in range
        problem = range_problem(spec, float(bound))
        if problem:
            raise QwenfeasError(problem[0], file=VARY, key=key, hint=problem[1])
    return Axis(key, _distinct(numbers), True)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Repeated values once, in the order given. A long axis comes from ranges, which are monotonic:
    dropping equal neighbours is enough there, and costs one pass instead of a sort (10M values:
    0.05 s and 10 MB instead of seconds and hundreds of MB)."""
    if len(values) <= 100_000:
        _, first = np.unique(values, return_index=True)
        return values[np.sort(first)]
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values if keep.all() else values[keep]


def check_grid_size(texts: list[str]) -> None:
    """Refuse a grid over MAX_POINTS from the axes' text alone, before any axis is computed."""
    size = 1
    for text in texts:
        _, _, values = text.partition("=")
        size *= max(1, sum(_range_count(item, "") if ".." in item else 1 for item in values.split(",")))
    if size > MAX_POINTS:
        raise _too_many(f"{size:,} points")


def _too_many(what: str, key: str | None = None) -> QwenfeasError:
    return QwenfeasError(f"the sweep is too large: {what}; at most {MAX_POINTS:,} points in one run", file=VARY,
                         key=key, hint="use fewer values per axis (e.g. :log:100 instead of :log:100000), or "
                         "split the sweep over several runs with --set")


def _range_count(text: str, key: str) -> int:
    """The N of a range START..STOP:N or START..STOP:log:N, read before any value is computed."""
    count = text.rpartition(":")[2].strip()
    return int(count) if count.isdigit() and len(count) < 20 else 1  # a malformed range is reported by _range


def _number(text: str, key: str, kind: str) -> float:
    try:
        return parse_quantity(text, kind)
    except ValueError as exc:
        raise QwenfeasError(str(exc), file=VARY, key=key) from None


def _range(text: str, key: str, kind: str) -> np.ndarray:
    start_text, _, rest = text.partition("..")
    stop_text, *options = rest.split(":")
    scale = options[0] if len(options) == 2 else "lin"
    if len(options) not in (1, 2) or scale not in ("lin", "log") or not options[-1].isdigit() \
            or int(options[-1]) < 2:
        raise QwenfeasError(f"cannot read the range {text!r}", file=VARY, key=key,
                            hint="a range is START..STOP:N (N evenly spaced points, N >= 2) or START..STOP:log:N")
    start, stop, count = _number(start_text, key, kind), _number(stop_text, key, kind), int(options[-1])
    if scale == "log":
        if start <= 0 or stop <= 0:
            raise QwenfeasError(f"a log range needs positive ends, got {text!r}", file=VARY, key=key)
        return np.geomspace(start, stop, count)
    return np.linspace(start, stop, count)


class Chunk:
    """Estimates for a run of consecutive grid points, as arrays of equal length."""

    def __init__(self, sweep: Sweep, combo: tuple, report: Report, start: int, size: int) -> None:
        self.sweep, self.combo, self.report, self.start, self.size = sweep, combo, report, start, size
        self._verdict = None

    def column(self, name: str) -> np.ndarray:
        """One output, input, swept key, `feasible` or `binding`, one value per point."""
        if name in (FEASIBLE, BINDING):
            return self.verdict()[name == BINDING]
        if name in self.sweep.text_keys:
            return np.full(self.size, self.combo[self.sweep.text_keys.index(name)])
        value = self.report[name] if name in self.report.metrics else self.report.scenario[name]
        if isinstance(value, str):
            return np.full(self.size, value)
        if isinstance(value, bool):  # a yes/no output (serving_layout.disaggregated)
            return np.full(self.size, value)
        return np.broadcast_to(np.asarray(value, dtype=float), (self.size,))

    def verdict(self) -> tuple[np.ndarray, np.ndarray]:
        """(feasible, binding check name) of each point: the failing check furthest over its bound,
        or the tightest one when all pass (as `check` names it)."""
        if self._verdict is None:
            checks = margins(self.report)
            shape = (len(checks), self.size)
            ratios = np.broadcast_to(np.stack([np.broadcast_to(np.asarray(r, float), (self.size,))
                                               for r, _ in checks.values()]), shape)
            passed = np.stack([np.broadcast_to(np.asarray(p, bool), (self.size,)) for _, p in checks.values()])
            feasible = passed.all(axis=0)
            tightest = np.argmax(ratios, axis=0)
            worst_failing = np.argmax(np.where(passed, -np.inf, ratios), axis=0)
            names = np.array(list(checks))
            self._verdict = (feasible, names[np.where(feasible, tightest, worst_failing)])
        return self._verdict


class Sweep:
    """A scenario file and its axes; iterate `chunks()` for the estimates of every grid point.

    Points are ordered as nested loops over the axes, the last fastest: text axes first
    (one scenario each), then numeric axes, each group in the order given.
    """

    def __init__(self, path: str, axes: list[Axis], overrides: list[str] | tuple[str, ...] = ()) -> None:
        keys = [a.key for a in axes]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise QwenfeasError("swept twice", file=VARY, key=repeated[0], hint="give each key one --vary")
        self.axes = [a for a in axes if not a.numeric] + [a for a in axes if a.numeric]  # grid order
        self.shape = tuple(len(a.values) for a in self.axes)
        if math.prod(self.shape) > MAX_POINTS:  # refused before the loader broadcasts the axes together
            raise _too_many(" × ".join(f"{n:,}" for n in self.shape) + f" = {math.prod(self.shape):,} points")
        self.numeric = [a for a in self.axes if a.numeric]
        self.text_keys = [a.key for a in self.axes if not a.numeric]
        self._grid_shape = tuple(len(a.values) for a in self.numeric)
        grids = {a.key: np.asarray(a.values, float).reshape([-1 if i == d else 1 for i in range(len(self.numeric))])
                 for d, a in enumerate(self.numeric)}
        label, text = read_text(path)
        self.groups: list[tuple[tuple, Scenario]] = []
        problems = []
        for combo in itertools.product(*(a.values for a in self.axes if not a.numeric)):
            sets = [*overrides, *(f"{k}={v}" for k, v in zip(self.text_keys, combo, strict=True))]
            try:
                self.groups.append((combo, loads(text, label, sets, grids)))
            except QwenfeasError as error:
                for problem in error.problems:
                    if problem.file == "--set" and problem.key in self.text_keys:
                        problem = problem._replace(file=VARY)  # a swept value, not an override
                    if problem not in problems:
                        problems.append(problem)
        if problems:
            raise QwenfeasError(problems=problems)
        self.points_per_group = math.prod(self._grid_shape)
        self.size = len(self.groups) * self.points_per_group
        self.name = self.groups[0][1].name

    @property
    def warnings(self) -> list[str]:
        return list(dict.fromkeys(w for _, s in self.groups for w in s.warnings))

    def chunks(self, points: int = CHUNK_POINTS) -> Iterator[Chunk]:
        """The grid in order, `points` at a time (never crossing from one text-axis value to the next)."""
        for g, (combo, scenario) in enumerate(self.groups):
            for start in range(0, self.points_per_group, points):
                stop = min(start + points, self.points_per_group)
                values = scenario.values
                if self._grid_shape:
                    index = np.unravel_index(np.arange(start, stop), self._grid_shape)
                    values = {k: np.broadcast_to(v, self._grid_shape)[index] if is_array(v) else v
                              for k, v in values.items()}
                point = Scenario(scenario.name, scenario.file, values, scenario.origins, [], scenario.locations)
                yield Chunk(self, combo, estimate(point), g * self.points_per_group + start, stop - start)

    def axis_values(self, flat_index: np.ndarray) -> dict[str, np.ndarray]:
        """The swept values at flat grid positions: which point a row of the output is."""
        multi = np.unravel_index(flat_index, self.shape)
        return {a.key: np.asarray(a.values)[i] for a, i in zip(self.axes, multi, strict=True)}


def column_names(chunk: Chunk, requested: list[str] | None) -> list[str]:
    """The output columns: the axes and headline outputs by default, `all`, or the names asked for."""
    report = chunk.report
    axes = [a.key for a in chunk.sweep.axes]
    if not requested:
        return [*axes, *(m for m in HEADLINE if m in report.metrics), FEASIBLE, BINDING]
    if requested == ["all"]:
        return [*axes, *(m for m in report.metrics if m not in axes), FEASIBLE, BINDING]
    requested = [*(a for a in axes if a not in requested), *requested]  # rows are always labelled by their axes
    known = {*axes, *report.metrics, *report.scenario.values, FEASIBLE, BINDING}
    for name in requested:
        if name not in known:
            raise QwenfeasError("not an output, input or swept key of this sweep", file="--columns", key=name,
                                hint=did_you_mean(name, known) or "list the outputs with: qwenfeas estimate FILE "
                                "--format json, or use --columns all")
        value = report.scenario.get(name)
        if name not in report.metrics and isinstance(value, dict):
            raise QwenfeasError("is a table, not one number", file="--columns", key=name)
    return requested


def column_unit(chunk: Chunk, name: str) -> str:
    """Display unit of a column ("" for text and verdict columns)."""
    if name in chunk.report.metrics:
        return chunk.report.metrics[name].unit
    if name in (FEASIBLE, BINDING) or name in chunk.sweep.text_keys:
        return ""
    return input_unit(name)


class Filter:
    """`--where` conditions (the `expect:` grammar, NAME OP VALUE), all of which a row must meet."""

    def __init__(self, texts: list[str], only_feasible: bool = False) -> None:
        self.texts, self.only_feasible, self._conditions = list(texts), only_feasible, None

    def mask(self, chunk: Chunk) -> np.ndarray | None:
        """Which points of the chunk to keep; None keeps them all."""
        if self._conditions is None:
            self._conditions = [read_condition(chunk.report, t, file="--where", key=t) for t in self.texts]
        keep = None
        for name, operator, bound in self._conditions:
            met = np.broadcast_to(np.asarray(holds(chunk.report[name], operator, bound), bool), (chunk.size,))
            keep = met if keep is None else keep & met
        if self.only_feasible:
            keep = chunk.verdict()[0] if keep is None else keep & chunk.verdict()[0]
        return keep


class Frontier(NamedTuple):
    """Along one numeric axis, for each combination of the other axes: the feasible range."""

    axis: str
    others: list[str]
    rows: list[dict]  # {other key: value, ..., "min_feasible": v | None, "max_feasible": v | None, "feasible": k}


def frontiers(sweep: Sweep, feasible: np.ndarray) -> list[Frontier]:
    """The feasibility boundary along each numeric axis, from every point's verdict in grid order."""
    grid = feasible.reshape(sweep.shape)
    result = []
    for d, axis in enumerate(sweep.axes):  # a few axes; each reduced whole by numpy
        if not axis.numeric:
            continue
        along = np.moveaxis(grid, d, -1).reshape(-1, len(axis.values))  # one row per combination of the others
        values = np.asarray(axis.values, dtype=object)
        count = along.sum(axis=1)
        found = count > 0
        lowest = np.where(found, values[np.argmax(along, axis=1)], None)
        highest = np.where(found, values[along.shape[1] - 1 - np.argmax(along[:, ::-1], axis=1)], None)
        others = [a for i, a in enumerate(sweep.axes) if i != d]
        index = np.unravel_index(np.arange(len(along)), [len(a.values) for a in others]) if others else ()
        columns = {a.key: np.asarray(a.values, dtype=object)[i].tolist() for a, i in zip(others, index, strict=True)}
        columns.update(min_feasible=lowest.tolist(), max_feasible=highest.tolist(), feasible_points=count.tolist())
        rows = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
        result.append(Frontier(axis.key, [a.key for a in others], rows))
    return result
