"""Tables for people: one table per section, values in human units, laid out to the console width.

Imported only for table output, so JSON/CSV runs never load rich. Layout (layout.py) keeps every
identifier whole at any width: output names, keys, preset and scenario names wrap as a whole or
move to a key under the table; prose wraps at spaces with a hanging indent.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from ..report import SECTIONS, Report
from ..scenario.units import format_quantity
from .layout import Column, table, wrap_items
from .prose import CONTINUATION, wrap_prose
from .render import binding_label


def make_console(no_color: bool = False) -> Console:
    """A stdout console: the terminal's width, or COLUMNS (else 80) when output is piped."""
    console = Console(no_color=no_color or None, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(no_color=True, highlight=False)  # rich reads COLUMNS, else 80
    return console


def emit(console: Console, lines) -> None:
    """Print laid-out lines as they are: never re-wrapped or cropped by rich, no trailing padding."""
    for line in lines:
        console.print(line, soft_wrap=True)


def render(reports: list[Report], console: Console, explain: bool = False) -> None:
    """Print every report's section tables (and, with explain, formulas and sources)."""
    width = console.width
    for index, report in enumerate(reports):
        if index:
            console.print()
        emit(console, _header(report, width))
        for metrics, title in _sections(report):
            rows = [[metric.label, format_quantity(metric.value, metric.unit), metric.name] for metric in metrics]
            columns = [Column("estimate", wrap=True), Column("value", "right", style="bold"),
                       Column("output name", style="dim")]
            console.print()
            emit(console, table(columns, rows, width, keep=0, title=title, show_header=False))
            if explain:
                emit(console, _formulas(report, metrics, width))
        for warning in report.warnings:  # e.g. no rental price known: said with the results, not only on stderr
            emit(console, [Text(line, style="yellow") for line in wrap_prose(warning, width, CONTINUATION, "warning: ")])
        if explain:
            emit(console, _inputs(report, width))
            emit(console, _sources(report, width))


def _header(report: Report, width: int) -> list[Text]:
    s = report.scenario
    model = s.get("model.name") or s.get("model.preset", "custom model")
    hardware = s.get("hardware.preset", "custom accelerator")
    count = f"{s['hardware.count']:,.0f} × " if "hardware.count" in s else ""
    line = f"{model}, context {format_quantity(s['context'], 'count')}"
    if "tokens" in s:
        line += f", {format_quantity(s['tokens'], 'count')} training tokens"
    line += f"; {count}{hardware}, weights {s['precision.weights']}, compute {s['precision.compute']}"
    return [*_title(report.name, s.file, width), *map(Text, wrap_prose(line, width))]


def _title(name: str, file: str, width: int) -> list[Text]:
    """The scenario's name and its file in parentheses: on one line when they fit the width, else the
    file on the next line, its leading folders shortened to "…/" so the file name stays whole."""
    shown = f"({file})"
    if len(name) + 2 + len(shown) <= width:
        title = Text(name, style="bold")
        title.append(f"  {shown}", style="dim")
        return [title]
    names = [Text(part, style="bold") for part in _fold(name, width)]
    return names + [Text(part, style="dim") for part in _fold(f"  ({short_path(file, width - 4)})", width)]


def short_path(path: str, room: int) -> str:
    """`path` within `room` columns: whole, else "…/" and as many trailing folders as fit before the
    file name (kept whole, even when it alone is wider)."""
    if len(path) <= room:
        return path
    parts = path.split("/")
    tail = parts[-1]
    for folder in reversed(parts[:-1]):
        if 2 + len(folder) + 1 + len(tail) > room:
            break
        tail = f"{folder}/{tail}"
    return f"…/{tail}"


def _fold(text: str, width: int) -> list[str]:
    """`text` cut into pieces of at most `width` characters (a name longer than the terminal is wide)."""
    return [text[start:start + width] for start in range(0, max(len(text), 1), width)]


def _sections(report: Report):
    groups: dict[str, list] = {}
    for metric in report.metrics.values():
        groups.setdefault(metric.table, []).append(metric)
    for section, title in SECTIONS.items():
        if groups.get(section):
            yield groups[section], title


def _formulas(report: Report, metrics, width: int) -> list[Text]:
    """Each metric's formula, then the same with the scenario's values in it, wrapped under the '='."""
    lines: list[Text] = []
    for metric in metrics:
        detail = report.explain(metric.name)
        first = f"  {metric.name} = "
        indent = " " * len(first)
        if len(first) > width // 2:  # a long name: the formula starts on the next line, so names stay whole
            lines.append(Text(first.rstrip(), style="bold"))
            first = indent = "      "
        for k, text in enumerate(wrap_prose(detail["formula"], width, indent, first)):
            lines.append(Text(text[:len(first)], style="bold") + Text(text[len(first):]) if k == 0 else Text(text))
        lines += [Text(text, style="dim") for text in wrap_prose(detail["substituted"], width, indent + "  ",
                                                                 indent[:-2] + "= ")]
    return lines


def _inputs(report: Report, width: int) -> list[Text]:
    from ..report import input_unit

    rows = []
    for key in sorted(report.scenario.values):
        value = report.scenario.values[key]
        shown = format_quantity(value, input_unit(key)) if isinstance(value, float) else str(value)
        origin = report.scenario.origins.get(key, "")
        file = report.scenario.file
        if origin.startswith(f"{file}:"):  # file:line, the file shortened to keep the table within the width
            origin = short_path(file, width // 3) + origin[len(file):]
        rows.append([key, shown, origin])
    columns = [Column("key"), Column("value", "right", wrap=True), Column("from", wrap=True, style="dim")]
    return [Text(), *table(columns, rows, width, title="Inputs and where they come from")]


def _sources(report: Report, width: int) -> list[Text]:
    rows, seen = [], set()
    for metric in list(report.metrics.values()) + list(report.terms.values()):
        if metric.function is None or metric.function in seen:
            continue
        seen.add(metric.function)
        detail = report.explain(metric.name)
        text = detail["summary"]
        if detail["convention"]:
            text += "\nConvention: " + detail["convention"]
        if detail["source"]:
            text += "\nSource: " + detail["source"]
        rows.append([metric.function.__name__, text])
    columns = [Column("formula", style="bold"), Column("convention and source", wrap=True)]
    return [Text(), *table(columns, rows, width, title="Conventions and sources")]


_PRESET_COLUMNS = {
    "models": [("name", None), ("params", "count"), ("active_params", "count"), ("layers", "count"),
               ("attention", None), ("kv_bytes_per_token", "B"), ("max_context", "count")],
    "accelerators": [("name", None), ("bf16_flops", "FLOP/s"), ("fp8_flops", "FLOP/s"), ("fp4_flops", "FLOP/s"),
                     ("memory_bytes", "B"), ("bandwidth_bytes_per_s", "B/s"), ("tdp_watts", "W"),
                     ("scale_up_bytes_per_s", "B/s"), ("scale_up_size", "count"), ("system_watts", "W"),
                     ("rental_usd_per_hour", "USD/h")],
    "systems": [("name", None), ("accelerator", None), ("system_watts", "W"), ("scale_up_size", "count"),
                ("scale_up_bytes_per_s", "B/s"), ("source", None)],
    "datacenters": [("name", None), ("pue", ""), ("source", None)],
    "grids": [("name", None), ("carbon_kg_per_kwh", "kg/kWh"), ("electricity_usd_per_kwh", "USD/kWh"),
              ("source", None)],
}
_HEADINGS = {"kv_bytes_per_token": "KV/token\n(bf16)", "max_context": "window", "bandwidth_bytes_per_s": "bandwidth",
             "scale_up_bytes_per_s": "scale-up\n(one way)", "scale_up_size": "domain", "memory_bytes": "memory",
             "tdp_watts": "power", "system_watts": "IT power\n(system)", "rental_usd_per_hour": "rental",
             "accelerator": "accelerator", "bf16_flops": "bf16", "fp8_flops": "fp8", "fp4_flops": "fp4",
             "carbon_kg_per_kwh": "carbon", "electricity_usd_per_kwh": "electricity", "active_params": "active"}


def render_presets(data: dict[str, list[dict]], console: Console) -> None:
    """One table per kind of preset; peaks are dense, bandwidths one direction."""
    for kind, rows in data.items():
        columns = [Column(_HEADINGS.get(field, field), "left" if unit is None else "right", wrap=field in ("source", "attention"))
                   for field, unit in _PRESET_COLUMNS[kind]]
        cells = [["—" if row.get(f) is None else str(row[f]) if unit is None else format_quantity(row[f], unit)
                  for f, unit in _PRESET_COLUMNS[kind]] for row in rows]
        console.print()
        emit(console, table(columns, cells, console.width, title=f"{kind} ({len(rows)})", header_style="dim"))
    console.print()
    emit(console, [Text(line, style="dim") for line in
                   wrap_prose("qwenfeas presets show NAME prints a preset with its sources.", console.width)])


def render_validation(results, console: Console, cases_file: str | None = None) -> None:
    """Each case: published value, qwenfeas's value, the error against the tolerance, and the source.

    The title names the cases file when it is not the bundled one (the scorecard, say).
    """
    columns = [Column("case"), Column("published", "right"), Column("qwenfeas", "right"), Column("error", "right"),
               Column("tolerance", "right"), Column(""), Column("source", wrap=True)]
    rows = []
    for r in results:
        verdict = Text("pass", style="green") if r.passed else Text("FAIL", style="bold red")
        rows.append([Text(r.case) + Text("\n" + r.metric, style="dim"), format_quantity(r.published, r.unit),
                     format_quantity(r.computed, r.unit), f"{r.error:+.2%}", f"±{r.tolerance:.1%}", verdict, r.source])
    title = "Validation against published figures" + (f" ({cases_file})" if cases_file else "")
    emit(console, table(columns, rows, console.width, title=title, header_style="dim"))
    passed = sum(r.passed for r in results)
    console.print(f"\n{passed} of {len(results)} within tolerance")


def render_verdicts(verdicts, console: Console) -> None:
    """A summary row per scenario, then each failing check with what would make it pass."""
    rows = []
    for verdict in verdicts:
        binding = verdict.binding
        mark = Text("feasible", style="green") if verdict.feasible else Text("infeasible", style="bold red")
        shown = Text(verdict.name) + Text("\n" + short_path(verdict.file, console.width // 2), style="dim")
        rows.append([shown, mark, binding_label(binding) if binding else "—",
                     binding.message if binding else ""])
    columns = [Column("scenario"), Column("verdict"), Column("binding constraint", wrap=True),
               Column("detail", wrap=True)]
    console.print()
    emit(console, table(columns, rows, console.width, title="Feasibility", header_style="dim"))
    for verdict in verdicts:
        for check in (c for c in verdict.checks if not c.passed):
            where = f"{check.file}:{check.line}" if check.line else check.file
            emit(console, [Text(line, style="red") for line in
                           wrap_prose(f"{binding_label(check)}: {check.message}", console.width, "      ",
                                      f"  ✗ {verdict.name}: ")])
            emit(console, [Text(line, style="dim") for line in
                           wrap_prose(where + (f" — {check.remedy}" if check.remedy else ""), console.width,
                                      "      ", "    ")])


def _cell(value, unit: str) -> str:
    """One table cell: a verdict as yes/no, text as it is, a number in human units."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    return format_quantity(value, unit or "count")


def _heading(name: str, unit: str) -> str:
    return name + (f"\n({unit})" if unit and unit != "count" else "")


def render_sweep(names: list[str], units: list[str], rows: list[list], matched: int | None, total: int,
                 console: Console, axes: int = 1) -> None:
    """The first rows of a sweep, in human units, and how many rows there are in all (None: not counted)."""
    columns = [Column(_heading(name, unit), "right") for name, unit in zip(names, units, strict=True)]
    cells = [[_cell(v.item() if hasattr(v, "item") else v, u) for v, u in zip(row, units, strict=True)] for row in rows]
    emit(console, table(columns, cells, console.width, keep=axes))
    if matched is None:
        shown = f"the first {len(rows):,} of {total:,} rows; all rows with --format csv or jsonl"
    else:
        shown = f"{len(rows):,} of {matched:,} rows" + (f" ({total:,} points swept)" if matched != total else "")
        shown += "; all rows with --format csv or jsonl, or raise --limit" if len(rows) < matched else ""
    emit(console, [Text(line, style="dim") for line in wrap_prose(shown, console.width)])


def render_frontiers(frontiers, units: dict[str, str], console: Console, limit: int | None = None) -> None:
    """One table per numeric axis: for each combination of the other axes, the feasible range along it
    (the first `limit` combinations; CSV and JSON give them all)."""
    for frontier in frontiers:
        shown = frontier.rows if limit is None else frontier.rows[:limit]
        unit = units.get(frontier.axis, "")
        columns = [Column(_heading(key, units.get(key, "")), "right") for key in frontier.others]
        columns += [Column(label, "right") for label in ("smallest\nfeasible", "largest\nfeasible", "feasible\npoints")]
        rows = [[*(_cell(row[k], units.get(k, "")) for k in frontier.others), _cell(row["min_feasible"], unit),
                 _cell(row["max_feasible"], unit), f"{row['feasible_points']:,}"] for row in shown]
        title = f"Feasible {frontier.axis} for each {' × '.join(frontier.others) or 'sweep'}"
        emit(console, [Text(line, style="bold cyan") for line in wrap_prose(title, console.width)])
        emit(console, table(columns, rows, console.width, keep=len(frontier.others)))
        if len(shown) < len(frontier.rows):
            more = f"{len(shown):,} of {len(frontier.rows):,} rows; all rows with --format csv or json, or raise --limit"
            emit(console, [Text(line, style="dim") for line in wrap_prose(more, console.width)])


def render_comparison(comparison, console: Console) -> None:
    """Outputs down, scenarios across, then each scenario's ratio to the first; unchanged rows dimmed.

    Scenario names head the columns when they fit; otherwise the columns are numbered and the
    names listed in a key under the table (a name is never cut).
    """
    base = comparison.names[0]
    headers = [name.replace(" [", "\n[") for name in comparison.names]
    columns = [Column("output")] + [Column(h, "right") for h in headers]
    columns += [Column(f"{h}\n÷ first", "right") for h in headers[1:]]
    rows = []
    for row in comparison.rows:
        cells = [_cell(v, row.unit) if v is not None else "—" for v in row.values]
        ratios = ["—" if r is None else f"{r:.3g}×" for r in row.ratios[1:]]
        same = all(r is not None and abs(r - 1) < 1e-9 for r in row.ratios)
        rows.append([Text(c, style="dim" if same else "") for c in (row.name, *cells, *ratios)])
    verdicts = [("feasible" if ok else "infeasible") + (f" ({b})" if b else "")
                for ok, b in zip(comparison.feasible, comparison.binding_labels, strict=True)]
    # A quoted expectation is long: wrap it at its spaces so the scenario columns stay narrow.
    verdicts = ["\n".join(wrap_prose(v, max(24, max(len(w) for w in v.split())))) for v in verdicts]
    rows.append([Text("verdict (binding)", style="bold"), *verdicts, *([""] * (len(comparison.names) - 1))])
    title = f"Compared with {base}"
    emit(console, [Text(line, style="bold cyan") for line in wrap_prose(title, console.width)])
    emit(console, table(columns, rows, console.width))


# The roadmap's figures: (label, headline key, unit), in reading order.
_ROADMAP_FIGURES = (("FLOP", "compute_flops", "FLOP"), ("time", "seconds", "s"), ("accel.", "accelerators", "count"),
                    ("KV / seq.", "kv_cache_bytes_per_sequence", "B"), ("power", "facility_watts", "W"),
                    ("energy", "energy_kwh", "kWh"), ("CO2e", "co2_kg", "kg"), ("cost", "cost_usd", "USD"),
                    ("capex", "capex_usd", "USD"))


def _show(value, unit: str) -> str:
    return "—" if value is None else format_quantity(value, unit).removesuffix(" FLOP" if unit == "FLOP" else "\0")


def _verdict(row) -> Text:
    verdict = Text("ok" if row.feasible else "fails", style="green" if row.feasible else "bold red")
    if row.binding:
        verdict.append(f" ({row.rule if row.binding.startswith('expect') else row.binding})", style="dim")
    return verdict


def render_roadmap(rows, budget, console: Console, wide: bool = False) -> None:
    """Each target's headline numbers and verdict, what would make the failing ones pass, the budget view.

    By default one block per target, each scenario on a few lines that wrap whole figures to the
    console width; `wide` gives one table row per scenario with every figure (about 190 columns).
    """
    width = console.width
    emit(console, [Text("What would the Qwen roadmap take?", style="bold cyan")])
    if wide:
        _roadmap_table(rows, console)
    else:
        target = None
        for row in rows:
            if row.target != target:
                target = row.target
                console.print()
                emit(console, [Text(line, style="bold") for line in wrap_prose(target, width)])
            h = row.headline
            step = row.step.split(":")[0]
            head = Text(f"  {row.name}" + (f" ({step})" if step else "") + ": ", style="bold") + _verdict(row)
            emit(console, wrap_text(head, width, "      "))
            figures = [f"{_show(h['params'], 'count')} params ({_show(h['active_params'], 'count')} active)"]
            figures += [f"{label} {_show(h[key], unit)}" for label, key, unit in _ROADMAP_FIGURES if h[key] is not None]
            emit(console, map(Text, wrap_items(figures, width, "    ")))
    _roadmap_notes(rows, budget, console)


def wrap_text(text: Text, width: int, indent: str) -> list[Text]:
    """A styled line wrapped at spaces with a hanging indent, styles kept (words are never split)."""
    lines = wrap_prose(text.plain, width, indent, "")
    out, position = [], 0
    for k, line in enumerate(lines):
        body = line[len(indent):] if k else line
        start = text.plain.index(body, position)
        out.append(Text(indent if k else "") + text[start:start + len(body)])
        position = start + len(body)
    return out


def _roadmap_table(rows, console: Console) -> None:
    labels = ["scenario", "step", "params (active)", *(label for label, _, _ in _ROADMAP_FIGURES), "verdict (binding)"]
    columns = [Column(label, "left" if label in ("scenario", "step", "verdict (binding)") else "right")
               for label in labels]
    cells, target = [], None
    for row in rows:
        if row.target != target:
            target = row.target
            cells.append([Text(target, style="bold")] + [""] * (len(columns) - 1))
        h = row.headline
        cells.append([row.name, row.step.split(":")[0], f"{_show(h['params'], 'count')} ({_show(h['active_params'], 'count')})",
                      *(_show(h[key], unit) for _, key, unit in _ROADMAP_FIGURES), _verdict(row)])
    emit(console, table(columns, cells, 10**6))  # as wide as it needs: the user asked for --wide


def _roadmap_notes(rows, budget, console: Console) -> None:
    width = console.width

    def say(text: str, style: str | None = None) -> None:
        emit(console, [Text(line, style=style or "") for line in wrap_prose(text, width, "    ", "  ")])

    synthetic = [row for row in rows if row.headline["synthetic_seconds"] is not None]
    if synthetic:
        console.print()
        emit(console, [Text("Synthetic data, generated on the same fleet before training", style="bold cyan")])
        for row in synthetic:
            h = row.headline
            say(f"{row.name}: {_show(h['synthetic_tokens'], 'count')} tokens take {_show(h['synthetic_seconds'], 's')} "
                f"and {_show(h['synthetic_cost_usd'], 'USD')} of rental, "
                f"{_show(h['synthetic_fraction_of_training'], 'fraction')} of the training FLOPs")
    failing = [row for row in rows if not row.feasible]
    if failing:
        console.print()
        emit(console, [Text("Why they fail, and what would make them pass", style="bold cyan")])
        for row in failing:
            line = Text(f"  {row.name}: ", style="bold") + Text(row.finding)
            if row.remedy:
                line.append(f"; {row.remedy}", style="dim")
            emit(console, wrap_text(line, width, "    "))
    if budget.plan_usd is not None:
        console.print()
        emit(console, [Text("The capital plan", style="bold cyan")])
        say(f"plan {format_quantity(budget.plan_usd, 'USD')}; the targets built at once cost "
            f"{format_quantity(budget.targets_usd, 'USD')} and draw {format_quantity(budget.targets_watts, 'W')}")
        if budget.fits_together or budget.over_plan:
            say(f"inside the plan together (cheapest first): {', '.join(budget.fits_together) or 'none'}"
                + (f"; beyond it: {', '.join(budget.over_plan)}" if budget.over_plan else ""))
        for hardware, count in budget.plan_accelerators.items():
            say(f"the whole plan in {hardware}: {count:,.0f} accelerators, all in, drawing "
                f"{format_quantity(budget.plan_watts[hardware], 'W')}, "
                f"{format_quantity(budget.plan_annual_kwh[hardware], 'kWh')} a year at full power")
