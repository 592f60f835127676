"""The `sweep` command's body: run the grid, filter rows, and print rows, frontiers or a chart.

The grid itself (axes, chunks, verdicts, frontiers) is in sweep.py; this module decides what
reaches stdout and stderr.
"""

from __future__ import annotations

import sys

# A sweep this large takes about a second or more: worth a progress bar on a terminal.
_PROGRESS_POINTS = 2_000_000


def run(file: str, vary: list[str], output_format: str, columns: list[str] | None, where: list[str],
        feasible_only: bool, frontier: bool, plot: bool, plot_file: str | None, y: str | None, limit: int,
        assignments: list[str], no_color: bool) -> None:
    """Evaluate `file` over the axes in `vary` and write the chosen output."""
    import itertools

    from ..errors import QwenfeasError
    from ..output.prose import write_messages
    from .sweep import Filter, Sweep, check_grid_size, column_names, column_unit, frontiers, parse_axis

    check_grid_size(vary)  # 1e4 x 1e4 x 1e4 is refused before a single axis is computed
    axes = [parse_axis(text) for text in vary]
    grid = Sweep(file, axes, assignments)
    write_messages(("warning", f"{grid.groups[0][1].file}: {warning}") for warning in grid.warnings)
    chunks = grid.chunks()
    first = next(chunks)
    names = column_names(first, columns)
    keep = Filter(where or [], feasible_only)
    keep.mask(first)  # reads the conditions: a mistake is reported before any output
    drawing = _plot_request(grid, first, names, y) if (plot or plot_file) else None
    if plot_file:  # a path or a missing extra that would fail at the end fails now, before any output
        import importlib.util

        from ..output.plot import INSTALL_HINT, check_plot_file

        check_plot_file(plot_file)
        if importlib.util.find_spec("matplotlib") is None:
            raise QwenfeasError("--plot-file needs matplotlib", key="--plot-file", hint=INSTALL_HINT)
    notes: dict[str, None] = {}
    everything = _noting(itertools.chain([first], chunks), notes)
    streaming = output_format != "table" and not frontier and not plot
    if not streaming and sys.stdout.isatty() and sys.stderr.isatty() and grid.size >= _PROGRESS_POINTS:
        everything = _with_progress(everything, grid.size)
    if drawing or frontier:
        everything = _collecting(everything, grid, drawing)
    if streaming:
        from ..output.render import write_rows

        write_rows(everything, names, output_format, sys.stdout.buffer, keep.mask)
    else:
        # Without a filter every row is kept: stop once the table is full (a 10M-point grid need not run).
        rows, matched = _first_rows(everything, names, keep.mask, limit, None if where or feasible_only else grid.size)
    write_messages(("note", f"{grid.groups[0][1].file}: at some points of the sweep: {note}") for note in notes.values())
    units = {name: column_unit(first, name) for name in {*names, *(a.key for a in axes)}}
    if frontier:
        _write_frontiers(frontiers(grid, _all_feasible(everything)), units, output_format, no_color, limit)
    elif plot:
        sys.stdout.write(_draw(everything, drawing, grid, units))
    elif not streaming:
        from ..output.tables import make_console, render_sweep

        render_sweep(names, [units[n] for n in names], rows, matched, grid.size, make_console(no_color), len(axes))
    if plot_file:
        _draw(everything, drawing, grid, units, plot_file)
        sys.stderr.write(f"wrote {plot_file}\n")


def _noting(chunks, notes: dict):
    """Pass chunks through, keeping the first note of each kind (chunks differ only in their numbers)."""
    import re

    for chunk in chunks:
        for note in chunk.report.notes:
            notes.setdefault(re.split(r"\d", note, maxsplit=1)[0], note)
        yield chunk


def _with_progress(chunks, total: int):
    """A transient progress bar on stderr (only when both streams are terminals)."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("sweeping", total=total)
        for chunk in chunks:
            yield chunk
            progress.advance(task, chunk.size)


class _collecting:
    """Pass chunks through while keeping every point's verdict and the plotted output, in grid order."""

    def __init__(self, chunks, grid, drawing) -> None:
        import numpy as np

        self.chunks, self.drawing = chunks, drawing
        self.feasible = np.zeros(grid.size, bool)
        self.y = np.zeros(grid.size) if drawing else None
        self.done = False

    def __iter__(self):
        for chunk in self.chunks:
            stop = chunk.start + chunk.size
            self.feasible[chunk.start:stop] = chunk.verdict()[0]
            if self.drawing:
                self.y[chunk.start:stop] = chunk.column(self.drawing[1])
            yield chunk
        self.done = True


def _all_feasible(collected):
    """Every point's verdict, in grid order."""
    if not collected.done:  # rows were not iterated (frontier only): run the sweep now
        for _ in collected:
            pass
    return collected.feasible


def _first_rows(chunks, names, keep, limit: int, total: int | None = None) -> tuple[list[list], int]:
    """The first `limit` kept rows, and how many rows are kept in all (`total` when known: no filter)."""
    rows, matched = [], 0
    for chunk in chunks:
        if total is not None and len(rows) >= limit:
            return rows, total
        mask = keep(chunk)
        count = chunk.size if mask is None else int(mask.sum())
        if len(rows) < limit and count:
            columns = [chunk.column(n) if mask is None else chunk.column(n)[mask] for n in names]
            rows.extend(map(list, zip(*(c[:limit - len(rows)] for c in columns), strict=True)))
        matched += count
    return rows, matched


def _plot_request(grid, first, names, y) -> tuple[str, str]:
    """(x axis, y output) of a plot, checked before the sweep runs."""
    from ..errors import QwenfeasError, did_you_mean

    numeric = [a.key for a in grid.axes if a.numeric]
    if not numeric:
        raise QwenfeasError("a plot needs a numeric axis", key="--plot", hint="vary a number, e.g. --vary context=1M..100M:log:9")
    if y is None:
        y = next((n for n in names if n in first.report.metrics and n not in numeric), None)
    if y not in first.report.metrics:
        raise QwenfeasError("not an output of this scenario", key=f"--y {y}",
                            hint=did_you_mean(str(y), first.report.metrics) or "see --columns all")
    series = grid.size // len(next(a for a in grid.axes if a.key == numeric[0]).values)
    if series > 8:
        raise QwenfeasError(f"the plot would have {series} series (one per combination of the other axes); at most 8",
                            key="--plot", hint="give the other axes fewer values, or plot a smaller sweep")
    return numeric[0], y


def _draw(collected, drawing, grid, units, path: str | None = None) -> str:
    """The terminal chart, or the chart file at `path`, from the collected points."""
    import numpy as np

    from ..output import plot as charts

    feasible = _all_feasible(collected)
    x_key, y_name = drawing
    d = [a.key for a in grid.axes].index(x_key)
    x = np.asarray(grid.axes[d].values, float)
    order = np.argsort(x)
    ys = np.moveaxis(collected.y.reshape(grid.shape), d, -1)
    ok = np.moveaxis(feasible.reshape(grid.shape), d, -1)
    others = [a for a in grid.axes if a.key != x_key]
    series = []
    for index in np.ndindex(ys.shape[:-1]):
        label = ", ".join(f"{a.key}={a.values[i]}" for a, i in zip(others, index, strict=True))
        series.append(charts.Series(label, x[order], ys[index][order], ok[index][order]))
    args = (series, x_key, units.get(x_key, ""), y_name, units.get(y_name, ""))
    if path:
        charts.write_plot_file(path, *args, title=grid.name)
        return ""
    unicode = (getattr(sys.stdout, "encoding", "") or "").lower().replace("-", "") == "utf8"
    return charts.terminal_plot(*args, ascii_only=not unicode)


def _write_frontiers(found, units, output_format, no_color: bool, limit: int) -> None:
    from ..output import render as machine

    if output_format == "table":
        from ..output.tables import make_console, render_frontiers

        render_frontiers(found, units, make_console(no_color), limit)
    elif output_format == "csv":
        sys.stdout.write(machine.frontiers_csv(found))
    else:
        sys.stdout.write(machine.frontiers_json(found))
