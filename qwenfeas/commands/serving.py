"""`qwenfeas serve`: the serving frontier of a scenario's fleet, as a table, JSON, CSV or a chart."""

from __future__ import annotations

import sys

from ..estimates import estimate
from ..output.prose import write_messages
from ..output.render import csv_text, json_text
from ..scenario.load import load
from ..scenario.units import format_quantity
from ..serving.frontier import COLUMNS, serving_frontier


def run(file: str, overrides: list[str], output_format: str, ttft, tpot, plot: bool, no_color: bool) -> None:
    """Print the frontier of FILE's fleet; the best row (most output per accelerator) is marked."""
    scenario = load(file, overrides)
    write_messages(("warning", f"{scenario.file}: {warning}") for warning in scenario.warnings)
    result = serving_frontier(estimate(scenario), ttft, tpot)
    if not result.rows:
        write_messages([("note", f"{scenario.file}: no layout on {result.accelerators:,.0f} accelerators meets "
                                 "the limits")])
    if output_format == "json":
        sys.stdout.write(json_text({"name": scenario.name, "accelerators": result.accelerators,
                                    "ttft_limit_seconds": result.ttft, "tpot_limit_seconds": result.tpot,
                                    "best": result.best, "frontier": result.rows}))
    elif output_format == "jsonl":
        sys.stdout.write(json_text([{"best": i == result.best, **row} for i, row in enumerate(result.rows)], lines=True))
    elif output_format == "csv":
        names = [name for name, _ in COLUMNS]
        sys.stdout.write(csv_text(["best", *names], [[i == result.best, *(row[n] for n in names)]
                                                     for i, row in enumerate(result.rows)]))
    else:
        _table(scenario.name, result, no_color)
    if plot and result.rows:
        _plot(result)


def _table(name: str, result, no_color: bool) -> None:
    from rich.text import Text

    from ..output.layout import Column, table
    from ..output.prose import wrap_prose
    from ..output.tables import emit, make_console

    limits = ", ".join(f"{k} <= {format_quantity(v, 's')}" for k, v in (("TTFT", result.ttft), ("TPOT", result.tpot))
                       if v is not None) or "no latency limit"
    rows = []
    for i, row in enumerate(result.rows):
        rows.append(["best" if i == result.best else "", _layout(row), _number(row["serving_layout.batch"]),
                     format_quantity(row["inference.ttft_seconds"], "s"),
                     format_quantity(row["inference.tpot_seconds"], "s"),
                     _number(row["inference.tokens_per_second_per_user"]),
                     _number(row["inference.tokens_per_second_per_accelerator"]),
                     format_quantity(row["inference.cost_per_million_output_tokens_usd"], "USD")])
    headers = ("", "layout", "batch", "TTFT", "TPOT", "tok/s/user", "tok/s/accel.", "$/M out")
    console = make_console(no_color)  # fits the terminal, or COLUMNS when piped: no header is ever cut
    emit(console, table([Column(h, "left" if h == "layout" else "right") for h in headers], rows, console.width,
                        title=f"{name}: serving frontier on {result.accelerators:,.0f} accelerators ({limits})"))
    legend = "layout: tensor x attention-data, expert degree, replicas; 'split' = disaggregated prefill"
    emit(console, map(Text, wrap_prose(legend, console.width, "  ", "")))  # wrapped at the console width


def _layout(row) -> str:
    text = (f"{row['serving_layout.tensor']:g}x{row['serving_layout.attention_data']:g} "
            f"e{row['serving_layout.expert']:g} x{row['serving_layout.replicas']:g}")
    return text + (" split" if row["serving_layout.disaggregated"] else "")


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _plot(result) -> None:
    import numpy as np

    from ..output.plot import Series, terminal_plot

    user = np.array([row["inference.tokens_per_second_per_user"] for row in result.rows])
    accel = np.array([row["inference.tokens_per_second_per_accelerator"] for row in result.rows])
    order = np.argsort(user)
    series = [Series("", user[order], accel[order], np.ones(user.size, bool))]
    sys.stdout.write(terminal_plot(series, "inference.tokens_per_second_per_user", "tokens/s",
                                   "inference.tokens_per_second_per_accelerator", "tokens/s") + "\n")
