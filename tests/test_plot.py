"""Sweep plots: the plain-text chart and the matplotlib file (PNG, SVG, PDF)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from qwenfeas.errors import QwenfeasError
from qwenfeas.output.plot import Series, _figure, boundary_text, terminal_plot, use_log_scale, write_plot_file

X = np.arange(1.0, 11.0)


def upto6(y=None, label="") -> Series:
    """x = 1..10, feasible for x <= 6."""
    return Series(label, X, X * 1e3 if y is None else y, X <= 6)


def two_series() -> list[Series]:
    return [
        Series("hardware.preset=h200", X, X * 2.0, X <= 6),
        Series("hardware.preset=b200", X, X * 3.0, X >= 3),
    ]


def plot_lines(text: str) -> list[str]:
    """The lines of the chart area and its frame (up to the x axis), without the legend."""
    lines = text.splitlines()
    axis = next(i for i, line in enumerate(lines) if re.search(r"[└+]", line) and set(line.strip()) <= set("└┬─+-"))
    return lines[1:axis]


# ---------------------------------------------------------------------------
# Text chart


def test_terminal_plot_has_axis_titles_ticks_and_no_colour():
    text = terminal_plot([upto6()], "seq_len", "count", "training time", "s")
    lines = text.splitlines()
    assert lines[0] == "training time"  # y title above
    assert any(line.strip() == "seq_len" for line in lines)  # x title below
    assert "\x1b" not in text
    y_ticks = [line for line in plot_lines(text) if "┤" in line]
    assert 3 <= len(y_ticks) <= 5
    assert any("h" in line.split("┤")[0] for line in y_ticks)  # human units: 1e4 s -> hours
    x_axis = next(line for line in lines if "└" in line)
    assert 3 <= x_axis.count("┬") <= 5


def test_terminal_plot_respects_width_and_height():
    text = terminal_plot(two_series(), "x", "", "y", "W", width=60, height=12)
    assert all(len(line) <= 60 for line in text.splitlines()[:16])
    assert len(plot_lines(text)) == 12


@pytest.mark.parametrize(("ys", "y_log"), [
    (X * 1e22, False),  # 1e22..1e23: one decade -> linear
    (X**2 * 1e22, True),  # 1e22..1e24: two decades -> log
    (X - 5.0, False),  # negative values -> linear
])
def test_log_scale_only_when_values_span_two_decades(ys, y_log):
    assert use_log_scale(ys) is y_log
    text = terminal_plot([upto6(ys)], "tokens", "count", "compute", "FLOP")
    assert (text.splitlines()[0] == "compute (log)") is y_log
    assert "tokens (log)" not in text  # x = 1..10 spans one decade


def test_log_axis_title_and_decade_ticks():
    xs = np.array([1e3, 1e4, 1e5, 1e6])
    series = Series("", xs, xs * 1e18, np.array([True, True, False, False]))
    text = terminal_plot([series], "tokens", "count", "compute", "FLOP")
    assert text.splitlines()[0] == "compute (log)"
    assert "tokens (log)" in text
    assert "1e21 FLOP" in text and "1e24 FLOP" in text
    linear = terminal_plot([upto6()], "tokens", "count", "compute", "FLOP")
    assert "(log)" not in linear


def test_boundary_line_names_the_last_feasible_x():
    text = terminal_plot([upto6()], "seq_len", "", "memory", "B")
    assert "feasible up to seq_len = 6 (infeasible from 7)" in text


@pytest.mark.parametrize(("feasible", "expected"), [
    (X <= 6, "feasible up to n = 6 (infeasible from 7)"),
    (X >= 4, "feasible from n = 4 (infeasible up to 3)"),
    (np.ones(10, bool), "all feasible"),
    (np.zeros(10, bool), "none feasible"),
    ((X <= 2) | (X >= 9), "feasible up to n = 2, and from n = 9"),
    (X == 5, "feasible at n = 5"),
])
def test_boundary_text(feasible, expected):
    assert boundary_text(X, feasible, "n", "") == expected


def test_boundary_uses_human_units():
    x = np.array([1, 2, 4, 8]) * 86400.0
    assert boundary_text(x, x <= 2 * 86400, "deadline", "s") == "feasible up to deadline = 2 days (infeasible from 4 days)"


def test_two_series_have_their_own_markers_and_legend():
    text = terminal_plot(two_series(), "x", "", "y", "W")
    area = "\n".join(plot_lines(text))
    assert "A" in area and "B" in area
    assert "·" in area  # both series have infeasible points
    assert "  A  hardware.preset=h200" in text and "  B  hardware.preset=b200" in text
    assert "feasible up to x = 6 (infeasible from 7)" in text
    assert "feasible from x = 3 (infeasible up to 2)" in text
    assert "· infeasible" in text  # the legend says which symbol marks infeasible points


def test_single_series_marks_feasible_and_infeasible_points():
    text = terminal_plot([upto6()], "x", "", "y", "")
    area = "\n".join(plot_lines(text))
    assert area.count("o") == 6
    assert area.count("·") == 4
    assert "o feasible   · infeasible" in text


def test_ascii_fallback_is_pure_ascii():
    xs = np.array([1e-6, 1e-4, 1e-2])  # format_quantity writes microseconds with a 'µ'
    series = [Series("", xs, np.array([1e-6, 1e-5, 1e-3]), np.array([True, False, False])),
              Series("µ-batch=2 — second", xs, np.array([2e-6, 2e-5, 2e-3]), np.array([True, True, False]))]
    text = terminal_plot(series, "step", "s", "latency", "s", ascii_only=True)
    assert text.isascii()
    area = "\n".join(plot_lines(text))
    assert "x" in area and "x infeasible" in text
    assert "|" in area and "+" in area
    assert "·" in terminal_plot(series, "step", "s", "latency", "s")  # and the default is Unicode


@pytest.mark.parametrize("series", [
    Series("", np.array([4.0]), np.array([2.5e9]), np.array([True])),  # one point
    Series("", X, np.full(10, 7.0), X <= 6),  # constant y
    Series("", X - 5, -X * 3, X <= 6),  # zero and negative values
    Series("", np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([True, False])),  # all zero
])
def test_degenerate_series_still_plot(series):
    text = terminal_plot([series], "x", "", "y", "W")
    assert "(log)" not in text
    assert sum(line.count("┤") for line in plot_lines(text)) >= 3
    assert re.search(r"[o·]", "\n".join(plot_lines(text)))


def test_more_than_eight_series_lists_the_rest():
    series = [Series(f"k={i}", X, X * (i + 1), X <= i) for i in range(10)]
    text = terminal_plot(series, "x", "", "y", "")
    assert "  H  k=7" in text
    assert "not drawn" in text and "  -  k=9" in text
    assert "feasible up to x = 9 (infeasible from 10)" in text


def test_nothing_to_plot_is_a_qwenfeas_error():
    with pytest.raises(QwenfeasError, match="nothing to plot"):
        terminal_plot([Series("", np.array([]), np.array([]), np.array([], bool))], "x", "", "y", "")


def test_mismatched_arrays_are_a_programming_error():
    with pytest.raises(ValueError, match="differ in length"):
        terminal_plot([Series("", X, X[:3], X <= 6)], "x", "", "y", "")


# ---------------------------------------------------------------------------
# File output


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


def test_png_is_written_and_loads(mpl, tmp_path):
    from matplotlib import image

    path = tmp_path / "sweep.png"
    write_plot_file(str(path), two_series(), "seq_len", "count", "time", "s", title="a sweep")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(path)
    assert pixels.shape[0] > 0 and pixels.shape[1] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]  # no temporary file left


def test_svg_has_axis_labels_and_human_log_ticks(mpl, tmp_path):
    xs = np.array([1e3, 1e4, 1e5, 1e6])
    series = [Series("", xs, xs * 1e18, np.array([True, True, False, False]))]
    path = tmp_path / "sweep.svg"
    write_plot_file(str(path), series, "training tokens", "count", "training compute", "FLOP")
    svg = path.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert "training tokens (count)" in svg and "training compute (FLOP)" in svg
    assert "1e22 FLOP" in svg and "1e24 FLOP" in svg
    assert "feasible up to 10,000" in svg


def test_pdf_is_written(mpl, tmp_path):
    path = tmp_path / "sweep.pdf"
    write_plot_file(str(path), [upto6()], "x", "", "y", "W")
    assert path.read_bytes()[:5] == b"%PDF-"


def test_figure_scales_labels_and_boundary(mpl):
    xs = np.array([1e3, 1e4, 1e5, 1e6])
    log_series = [Series("a", xs, xs * 2, np.array([True, True, False, False])), Series("b", xs, xs * 3, xs > 0)]
    ax = _figure(log_series, "tokens", "count", "memory", "B").axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "tokens (count)" and ax.get_ylabel() == "memory (B)"
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["a", "b"]
    boundaries = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(boundaries) == 1
    assert boundaries[0].get_xdata()[0] == pytest.approx(np.sqrt(1e4 * 1e5))  # between 10,000 and 100,000
    assert any("feasible up to 10,000" in text.get_text() for text in ax.texts)

    ax = _figure([upto6()], "x", "", "y", "W").axes[0]
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "x"
    boundary = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    assert boundary.get_xdata()[0] == pytest.approx(6.5)


def test_dollars_are_printed_not_read_as_mathtext(mpl, tmp_path):
    label = "price from $2^^3 to $4"  # as mathtext, "2^^3 to " is a syntax error that fails the save
    path = tmp_path / "cost.svg"
    write_plot_file(str(path), [Series(label, X, X * 1e6, X <= 6)], "x", "", "cost", "USD")
    assert label in path.read_text(encoding="utf-8")


def test_close_ticks_get_more_digits_not_repeated_labels():
    x = np.array([1.0, 2.0, 3.0])
    text = terminal_plot([Series("", x, 1e24 + x * 1e19, x < 3)], "x", "", "compute", "FLOP")
    labels = [line.split("┤")[0].strip() for line in plot_lines(text) if "┤" in line]
    assert len(set(labels)) == len(labels) >= 3
    assert all(label.endswith(" FLOP") and "e+" not in label for label in labels)


@pytest.mark.parametrize("name", ["sweep.jpg", "sweep", "sweep.png.txt"])
def test_bad_suffix_is_refused_before_anything_is_written(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(QwenfeasError) as info:
        write_plot_file(str(path), [upto6()], "x", "", "y", "")
    problem = info.value.problems[0]
    assert problem.key == "--plot-file"
    assert ".png" in problem.hint and ".svg" in problem.hint and ".pdf" in problem.hint
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_names_the_path(tmp_path):
    path = tmp_path / "no" / "such" / "sweep.png"
    with pytest.raises(QwenfeasError) as info:
        write_plot_file(str(path), [upto6()], "x", "", "y", "")
    assert info.value.problems[0].file == str(path)
    assert info.value.problems[0].key == "--plot-file"
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_file_and_keeps_the_old_one(mpl, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "sweep.png"
    path.write_bytes(b"old plot")

    def broken_savefig(self, stream, **kwargs):
        stream.write(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(QwenfeasError, match="No space left") as info:
        write_plot_file(str(path), [upto6()], "x", "", "y", "")
    assert info.value.problems[0].file == str(path)
    assert path.read_bytes() == b"old plot"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]


def test_path_that_is_a_folder_leaves_no_temporary_file(mpl, tmp_path):
    (tmp_path / "sweep.png").mkdir()
    with pytest.raises(QwenfeasError) as info:
        write_plot_file(str(tmp_path / "sweep.png"), [upto6()], "x", "", "y", "")
    assert info.value.problems[0].file == str(tmp_path / "sweep.png")
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]


def test_missing_matplotlib_asks_for_the_plot_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(QwenfeasError, match="--plot-file needs matplotlib") as info:
        write_plot_file(str(tmp_path / "sweep.png"), [upto6()], "x", "", "y", "")
    assert info.value.problems[0].hint == "install the plot extra: pip install 'qwenfeas[plot]'"
    assert info.value.problems[0].key == "--plot-file"
    assert list(tmp_path.iterdir()) == []


def test_terminal_plot_does_not_import_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert "feasible up to" in terminal_plot([upto6()], "x", "", "y", "")


def test_svg_is_reproducible(mpl, tmp_path):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    for path in (first, second):
        write_plot_file(str(path), two_series(), "x", "", "y", "W")
    assert first.read_bytes() == second.read_bytes()
