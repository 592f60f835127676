"""Plots of a sweep: a text chart for the terminal and a PNG, SVG or PDF file.

`qwenfeas sweep --plot` prints `terminal_plot` and `--plot-file out.png` calls `write_plot_file`.
The input is plain data, one `Series` per combination of the other swept keys, so this module
knows nothing about scenarios and can be tested on its own.

There are two renderers because they serve different places. The text chart needs only numpy,
has no colour and works over ssh, in CI logs and when piped. matplotlib is an optional extra
(`pip install 'qwenfeas[plot]'`) for figures in reports; it is imported only when a file is
written, so the command line starts without it and works where it is not installed.

Both show which points are feasible and where each series crosses the feasibility boundary,
which is usually the answer a sweep is run for. An axis is logarithmic when all its values are
positive and span two decades or more (max/min >= 100), the same rule in both renderers.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np

from qwenfeas.errors import QwenfeasError
from qwenfeas.scenario.units import SECONDS_PER_YEAR, format_quantity

MAX_TERMINAL_SERIES = 8
FILE_FORMATS = (".png", ".svg", ".pdf")
INSTALL_HINT = "install the plot extra: pip install 'qwenfeas[plot]'"

_LETTERS = "ABCDEFGH"  # no 'x' or 'o': those mark infeasible points and a lone series
_LOG_SPAN = 100.0  # max/min from which an axis of positive values is drawn on a log scale


class Series(NamedTuple):
    """One line of a plot: the metric over the swept axis, with the verdict at each point."""

    label: str  # e.g. "hardware.preset=h200, hardware.mfu=0.4", or "" for a single series
    x: np.ndarray  # float64, the swept axis values, ascending
    y: np.ndarray  # float64, the metric
    feasible: np.ndarray  # bool, the verdict per point


class _Glyphs(NamedTuple):
    """The characters of a text chart's frame and of its infeasible points."""

    vertical: str
    y_tick: str
    corner: str
    horizontal: str
    x_tick: str
    infeasible: str


_UNICODE = _Glyphs("│", "┤", "└", "─", "┬", "·")
_ASCII = _Glyphs("|", "+", "+", "-", "+", "x")
_ASCII_SUBSTITUTES = str.maketrans({"µ": "u", "μ": "u", "·": ".", "×": "x", "–": "-", "—": "-", "≤": "<=", "≥": ">="})


class _Scale(NamedTuple):
    """One axis of a text chart: its range, whether it is logarithmic, and its ticks."""

    lo: float
    hi: float
    log: bool
    ticks: list[float]
    labels: list[str]

    def fraction(self, values: np.ndarray) -> np.ndarray:
        """Position of `values` along the axis, 0 at `lo` and 1 at `hi`."""
        if self.log:
            values, lo, hi = np.log10(values), math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        return (np.asarray(values, dtype=float) - lo) / (hi - lo)


# ---------------------------------------------------------------------------
# Shared by both renderers


def _checked(series: list[Series], option: str) -> list[Series]:
    """The series as float/bool arrays sorted by x; a QwenfeasError when there is nothing to plot."""
    checked = []
    for item in series:
        x = np.asarray(item.x, dtype=np.float64).ravel()
        y = np.asarray(item.y, dtype=np.float64).ravel()
        feasible = np.asarray(item.feasible, dtype=bool).ravel()
        if not x.size == y.size == feasible.size:
            raise ValueError(f"series {item.label!r}: x, y and feasible differ in length "
                             f"({x.size}, {y.size}, {feasible.size})")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError(f"series {item.label!r}: x and y must be finite numbers")
        order = np.argsort(x, kind="stable")
        if x.size:
            checked.append(Series(str(item.label), x[order], y[order], feasible[order]))
    if not checked:
        raise QwenfeasError("nothing to plot: the sweep has no points", key=option)
    return checked


def use_log_scale(values: np.ndarray) -> bool:
    """True when every value is positive and they span two decades or more."""
    values = np.asarray(values, dtype=float)
    return bool(values.size and values.min() > 0 and values.max() / values.min() >= _LOG_SPAN)


def _tick_labels(ticks: list[float], unit: str) -> list[str]:
    """Human labels for tick values, with more digits when three significant figures repeat."""
    labels = ["0" if tick == 0 else format_quantity(tick, unit) for tick in ticks]
    digits = 4
    while len(set(labels)) < len(labels) and digits <= 15:
        labels = ["0" if tick == 0 else f"{tick:.{digits}g}".replace("e+", "e") + (f" {unit}" if unit else "")
                  for tick in ticks]
        digits += 1
    return labels


def boundary_text(x: np.ndarray, feasible: np.ndarray, x_name: str, x_unit: str) -> str:
    """Where a series is feasible: "feasible up to seq_len = 6 (infeasible from 7)", "all feasible"..."""
    x, feasible = np.asarray(x, dtype=float), np.asarray(feasible, dtype=bool)
    if feasible.all():
        return "all feasible"
    if not feasible.any():
        return "none feasible"
    name = f"{x_name} = " if x_name else ""

    def value(i: int) -> str:
        return "0" if x[i] == 0 else format_quantity(x[i], x_unit)

    edges = np.flatnonzero(np.diff(feasible.astype(np.int8)))  # a run changes after each of these indices
    starts = [0, *(edges + 1)]
    ends = [*edges, len(x) - 1]
    runs = [(s, e) for s, e in zip(starts, ends, strict=True) if feasible[s]]
    if len(runs) == 1 and runs[0][0] == 0:
        end = runs[0][1]
        return f"feasible up to {name}{value(end)} (infeasible from {value(end + 1)})"
    if len(runs) == 1 and runs[0][1] == len(x) - 1:
        start = runs[0][0]
        return f"feasible from {name}{value(start)} (infeasible up to {value(start - 1)})"
    parts = []
    for start, end in runs:
        if start == end:
            parts.append(f"at {name}{value(start)}")
        elif start == 0:
            parts.append(f"up to {name}{value(end)}")
        elif end == len(x) - 1:
            parts.append(f"from {name}{value(start)}")
        else:
            parts.append(f"from {name}{value(start)} up to {value(end)}")
    return "feasible " + ", and ".join(parts)


# ---------------------------------------------------------------------------
# Text chart


def _linear_ticks(lo: float, hi: float, factor: float = 1.0, most: int = 5) -> list[float]:
    """3 to `most` round ticks (1, 2, 2.5 or 5 times a power of ten, in units of `factor`) covering lo..hi."""
    lo, hi = lo / factor, hi / factor
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    exponent = math.floor(math.log10((hi - lo) / most))
    for power in range(exponent - 1, exponent + 3):
        for mantissa in (1.0, 2.0, 2.5, 5.0):
            step = mantissa * 10.0**power
            first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
            if last - first + 1 <= most:
                return [float(f"{k * step:.12g}") * factor for k in range(first, last + 1)]
    raise AssertionError("unreachable: a step of 10x the span always fits")  # pragma: no cover


def _display_factor(values: np.ndarray, unit: str) -> float:
    """The unit in which round ticks read well: days for a duration of weeks, else the base unit."""
    if unit == "s":
        top = float(np.abs(values).max())
        for factor in (SECONDS_PER_YEAR, 86400.0, 3600.0, 60.0):  # the steps format_duration uses
            if top >= factor:
                return factor
    return 1.0


def _log_ticks(lo: float, hi: float) -> list[float]:
    """3 to 5 powers of ten covering lo..hi (which span at least two decades)."""
    first = math.floor(math.log10(lo) + 1e-9)
    last = math.ceil(math.log10(hi) - 1e-9)
    step = max(1, math.ceil((last - first) / 4))
    count = math.ceil((last - first) / step)
    return [10.0 ** (first + k * step) for k in range(count + 1)]


def _scale(values: np.ndarray, unit: str) -> _Scale:
    """The axis for `values`: log or linear, widened to round ticks at both ends."""
    log = use_log_scale(values)
    lo, hi = float(values.min()), float(values.max())
    ticks = _log_ticks(lo, hi) if log else _linear_ticks(lo, hi, _display_factor(values, unit))
    return _Scale(ticks[0], ticks[-1], log, ticks, _tick_labels(ticks, unit))


def _title(name: str, log: bool) -> str:
    """An axis title, marked "(log)" on a log scale."""
    return name + (" (log)" if log else "")


def terminal_plot(
    series: list[Series],
    x_name: str,
    x_unit: str,
    y_name: str,
    y_unit: str,
    width: int = 72,
    height: int = 20,
    ascii_only: bool = False,
) -> str:
    """A plain-text chart of the series with a legend and each series' feasibility boundary.

    `width` is the width of the chart lines (y labels included; the plotting area keeps at least
    16 columns), `height` the number of rows of the plotting area (at least 5). At most 8 series
    are drawn; the others are still listed with their boundary. `ascii_only` draws the frame with
    |+- and infeasible points with 'x', and replaces any other non-ASCII character.
    """
    data = _checked(series, "--plot")
    shown, hidden = data[:MAX_TERMINAL_SERIES], data[MAX_TERMINAL_SERIES:]
    glyphs = _ASCII if ascii_only else _UNICODE
    x_scale = _scale(np.concatenate([s.x for s in shown]), x_unit)
    y_scale = _scale(np.concatenate([s.y for s in shown]), y_unit)

    label_width = max(len(label) for label in y_scale.labels)
    left = label_width + 2  # y labels, a space, the axis
    cols, rows = max(width - left, 16), max(height, 5)
    canvas = [[" "] * cols for _ in range(rows)]
    owner = [[-1] * cols for _ in range(rows)]
    markers = "o" if len(shown) == 1 else _LETTERS
    overlap = False
    for index, item in enumerate(shown):
        columns = np.rint(x_scale.fraction(item.x) * (cols - 1)).astype(int)
        lines = rows - 1 - np.rint(y_scale.fraction(item.y) * (rows - 1)).astype(int)
        for col, row, ok in zip(columns, lines, item.feasible, strict=True):
            mark = markers[index] if ok else glyphs.infeasible
            if owner[row][col] not in (-1, index):
                mark, overlap = "*", True
            canvas[row][col], owner[row][col] = mark, index

    out = [_title(y_name, y_scale.log)]
    y_ticks = {rows - 1 - round(f * (rows - 1)): label
               for f, label in zip(y_scale.fraction(np.array(y_scale.ticks)), y_scale.labels, strict=True)}
    for row in range(rows):
        frame = f"{y_ticks[row]:>{label_width}} {glyphs.y_tick}" if row in y_ticks else " " * (left - 1) + glyphs.vertical
        out.append((frame + "".join(canvas[row])).rstrip())
    x_ticks = [round(f * (cols - 1)) for f in x_scale.fraction(np.array(x_scale.ticks))]
    axis = [glyphs.x_tick if col in x_ticks else glyphs.horizontal for col in range(cols)]
    out.append(" " * (left - 1) + glyphs.corner + "".join(axis))
    out.append(_spread(x_ticks, x_scale.labels, left, left + cols))
    x_title = _title(x_name, x_scale.log)
    out.append(" " * (left + max(0, (cols - len(x_title)) // 2)) + x_title)

    out.append("")
    if len(shown) == 1 and not shown[0].label:
        out.append(f"  {markers[0]} feasible   {glyphs.infeasible} infeasible")
        out.append("  " + boundary_text(shown[0].x, shown[0].feasible, x_name, x_unit))
    else:
        for index, item in enumerate(shown):
            out.append(f"  {markers[index]}  {item.label or y_name}")
            out.append("     " + boundary_text(item.x, item.feasible, x_name, x_unit))
        letters = markers[0] if len(shown) == 1 else f"{markers[0]}..{markers[len(shown) - 1]}"
        several = "   * points of several series" if overlap else ""
        out.append(f"  {letters} feasible   {glyphs.infeasible} infeasible{several}")
    if hidden:
        out.append(f"  not drawn (a text plot shows at most {MAX_TERMINAL_SERIES} series; --plot-file draws all):")
        for item in hidden:
            out.append(f"  -  {item.label}")
            out.append("     " + boundary_text(item.x, item.feasible, x_name, x_unit))
    text = "\n".join(line.rstrip() for line in out) + "\n"
    if ascii_only:
        text = text.translate(_ASCII_SUBSTITUTES).encode("ascii", "replace").decode("ascii")
    return text


def _spread(columns: list[int], labels: list[str], offset: int, end: int) -> str:
    """A line with each label centred under its tick column, dropping labels that would collide."""
    line = [" "] * end
    free_from = 0
    for col, label in zip(columns, labels, strict=True):
        start = min(max(offset + col - len(label) // 2, 0), max(end - len(label), 0))
        if start < free_from:
            continue
        line[start:start + len(label)] = label
        free_from = start + len(label) + 1
    return "".join(line).rstrip()


# ---------------------------------------------------------------------------
# File output (matplotlib)

_MPL_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_METADATA = {".png": {}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}  # reproducible files


def _mathtext_safe(text: str) -> str:
    """Text with '$' escaped, so matplotlib prints dollars instead of reading them as maths."""
    return text.replace("$", r"\$")


def _axis_label(name: str, unit: str) -> str:
    """A matplotlib axis label: "name (unit)"."""
    return _mathtext_safe(f"{name} ({unit})" if unit else name)


def _figure(series: list[Series], x_name: str, x_unit: str, y_name: str, y_unit: str, title: str = ""):
    """The matplotlib Figure that `write_plot_file` saves (built without pyplot: no global state)."""
    try:
        import matplotlib  # noqa: F401  (first, so a missing package is caught even if submodules are cached)
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.ticker import Formatter, MultipleLocator, NullFormatter
    except ImportError:
        raise QwenfeasError("--plot-file needs matplotlib", key="--plot-file", hint=INSTALL_HINT) from None

    class HumanUnits(Formatter):
        """Tick labels in human units, as in the text chart: "18 days", "1e24 FLOP"."""

        def __init__(self, unit: str) -> None:
            self.unit = unit

        def __call__(self, x, pos=None) -> str:
            return _mathtext_safe(_tick_labels([float(x)], self.unit)[0])

        def format_ticks(self, values) -> list[str]:
            return [_mathtext_safe(label) for label in _tick_labels([float(v) for v in values], self.unit)]

    data = _checked(series, "--plot-file")
    xs, ys = np.concatenate([s.x for s in data]), np.concatenate([s.y for s in data])
    x_log, y_log = use_log_scale(xs), use_log_scale(ys)

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xscale("log" if x_log else "linear")
    ax.set_yscale("log" if y_log else "linear")
    for axis, unit, log, values in ((ax.xaxis, x_unit, x_log, xs), (ax.yaxis, y_unit, y_log, ys)):
        axis.set_major_formatter(HumanUnits(unit))
        if log:
            axis.set_minor_formatter(NullFormatter())
        elif _display_factor(values, unit) != 1.0:  # round days, not round seconds
            ticks = _linear_ticks(float(values.min()), float(values.max()), _display_factor(values, unit), most=8)
            axis.set_major_locator(MultipleLocator(ticks[1] - ticks[0]))
    ax.set_xlabel(_axis_label(x_name, x_unit))
    ax.set_ylabel(_axis_label(y_name, y_unit))
    ax.set_title(_mathtext_safe(title or f"{y_name} over {x_name}"))
    ax.grid(True, which="major", alpha=0.35)
    if x_log or y_log:
        ax.grid(True, which="minor", alpha=0.12)

    notes = 0
    any_infeasible = False
    for index, item in enumerate(data):
        color, marker = f"C{index % 10}", _MPL_MARKERS[index % len(_MPL_MARKERS)]
        ok = item.feasible
        ax.plot(item.x, item.y, color=color, linewidth=1.5, marker=marker, markevery=list(np.flatnonzero(ok)),
                label=_mathtext_safe(item.label or y_name), zorder=2)
        if not ok.all():
            any_infeasible = True
            ax.plot(item.x[~ok], item.y[~ok], linestyle="none", marker=marker, markerfacecolor="white",
                    markeredgecolor="0.55", markeredgewidth=1.2, zorder=3)
        for i in np.flatnonzero(np.diff(ok.astype(np.int8))):
            a, b = item.x[i], item.x[i + 1]
            edge = math.sqrt(a * b) if x_log else (a + b) / 2
            ax.axvline(edge, color=color, linestyle="--", linewidth=1.0, alpha=0.8, zorder=1)
            up_to = bool(ok[i])
            text = f"feasible up to {_tick_labels([a], x_unit)[0]}" if up_to else \
                f"feasible from {_tick_labels([b], x_unit)[0]}"
            ax.annotate(_mathtext_safe(text), xy=(edge, 0.97 - 0.06 * (notes % 8)), xycoords=("data", "axes fraction"),
                        xytext=(-4 if up_to else 4, 0), textcoords="offset points", ha="right" if up_to else "left",
                        va="top", fontsize=8, color=color,
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
            notes += 1
    handles, _labels = ax.get_legend_handles_labels()
    if any_infeasible:
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                              markeredgecolor="0.55", markeredgewidth=1.2, label="infeasible (hollow)"))
    if notes:
        handles.append(Line2D([], [], color="0.4", linestyle="--", linewidth=1.0, label="feasibility boundary"))
    if len(data) > 1 or any_infeasible or notes:
        ax.legend(handles=handles, fontsize=8, loc="best")
    return fig


def check_plot_file(path: str) -> str:
    """The suffix of a chart path that can be written; a QwenfeasError otherwise.

    Called before a sweep runs too, so a bad path fails before any output.
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FILE_FORMATS:
        raise QwenfeasError(f"cannot tell the plot format from {path!r}", key="--plot-file",
                            hint="end the file name in " + ", ".join(FILE_FORMATS[:-1]) + " or " + FILE_FORMATS[-1])
    from .render import check_output_path

    check_output_path(path, "--plot-file")  # a folder, a missing folder, a name too long: before any output
    return suffix


def write_plot_file(
    path: str,
    series: list[Series],
    x_name: str,
    x_unit: str,
    y_name: str,
    y_unit: str,
    title: str = "",
) -> None:
    """Draw the series with matplotlib into `path` (.png, .svg or .pdf), atomically.

    The figure is saved to a temporary file in the same folder and renamed onto `path`, so a
    failure leaves neither a partial file nor a changed old one. Raises QwenfeasError for an
    unknown suffix, a missing folder, a write error, or when matplotlib is not installed.
    """
    path = os.fspath(path)
    suffix = check_plot_file(path)
    fig = _figure(series, x_name, x_unit, y_name, y_unit, title)
    from matplotlib import rc_context

    from qwenfeas.output.render import atomic_file

    try:
        # Text stays text in an SVG (searchable, smaller); fixed ids make the file reproducible.
        with atomic_file(path, suffix) as stream, rc_context({"svg.fonttype": "none", "svg.hashsalt": "qwenfeas"}):
            fig.savefig(stream, format=suffix[1:], dpi=150, metadata=_METADATA[suffix])
    except OSError as exc:
        raise QwenfeasError(f"cannot write the plot: {exc.strerror or exc}", file=path, key="--plot-file") from None
