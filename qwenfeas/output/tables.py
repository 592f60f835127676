"""Rich tables for people: one table per section, values in human units.

Imported only for table output, so JSON/CSV runs never load rich.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..report import SECTIONS, Report
from ..scenario.units import format_quantity


def make_console(no_color: bool = False, width: int = 120) -> Console:
    """A stdout console; wide enough not to wrap rows when output is piped."""
    console = Console(no_color=no_color or None, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(no_color=True, highlight=False, width=width)
    return console


def render(reports: list[Report], console: Console, explain: bool = False) -> None:
    """Print every report's section tables (and, with explain, formulas and sources)."""
    for index, report in enumerate(reports):
        if index:
            console.print()
        console.print(_header(report))
        for table in _tables(report, explain):
            console.print(table)
        for warning in report.warnings:
            console.print(Text(f"warning: {warning}", style="yellow"))
        if explain:
            console.print(_inputs(report))
            console.print(_sources(report))


def _header(report: Report) -> Text:
    s = report.scenario
    model = s.get("model.name") or s.get("model.preset", "custom model")
    hardware = s.get("hardware.preset", "custom accelerator")
    count = f"{s['hardware.count']:,.0f} × " if "hardware.count" in s else ""
    line = Text()
    line.append(report.name, style="bold")
    line.append(f"  ({s.file})\n", style="dim")
    line.append(f"{model}, context {format_quantity(s['context'], 'count')}")
    if "tokens" in s:
        line.append(f", {format_quantity(s['tokens'], 'count')} training tokens")
    line.append(f"; {count}{hardware}, weights {s['precision.weights']}, compute {s['precision.compute']}")
    return line


def _tables(report: Report, explain: bool):
    groups: dict[str, list] = {}
    for metric in report.metrics.values():
        groups.setdefault(metric.table, []).append(metric)
    for section, title in SECTIONS.items():
        metrics = groups.get(section)
        if not metrics:
            continue
        table = Table(title=title, title_justify="left", title_style="bold cyan", show_header=False,
                      pad_edge=False, box=None)
        table.add_column("estimate")
        table.add_column("value", justify="right", style="bold")
        table.add_column("output name", style="dim")
        for metric in metrics:
            table.add_row(metric.label, format_quantity(metric.value, metric.unit), metric.name)
        parts = [Text(), table]
        if explain:
            parts.append(_formulas(report, metrics))
        yield Group(*parts)


def _formulas(report: Report, metrics) -> Text:
    """Each metric's formula, then the same with the scenario's values in it."""
    text = Text()
    for metric in metrics:
        detail = report.explain(metric.name)
        pad = " " * (len(metric.name) + 3)
        text.append(f"  {metric.name} = ", style="bold")
        text.append(f"{detail['formula']}\n")
        text.append(f"  {pad}= {detail['substituted']}\n", style="dim")
    return text


def _inputs(report: Report) -> Group:
    from ..report import input_unit

    table = Table(title="Inputs and where they come from", title_justify="left", title_style="bold cyan",
                  box=None, pad_edge=False, header_style="dim")
    table.add_column("key")
    table.add_column("value", justify="right")
    table.add_column("from", style="dim")
    for key in sorted(report.scenario.values):
        value = report.scenario.values[key]
        shown = format_quantity(value, input_unit(key)) if isinstance(value, float) else str(value)
        table.add_row(key, shown, report.scenario.origins.get(key, ""))
    return Group(Text(), table)


def _sources(report: Report) -> Group:
    table = Table(title="Conventions and sources", title_justify="left", title_style="bold cyan",
                  box=None, pad_edge=False, show_header=False)
    table.add_column("formula", style="bold")
    table.add_column("convention and source")
    seen = set()
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
        table.add_row(metric.function.__name__, text)
    return Group(Text(), table)


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
_HEADINGS = {"kv_bytes_per_token": "KV/token (bf16)", "max_context": "window", "bandwidth_bytes_per_s": "bandwidth",
             "scale_up_bytes_per_s": "scale-up (one way)", "scale_up_size": "domain", "memory_bytes": "memory",
             "tdp_watts": "power", "system_watts": "IT power (system)", "rental_usd_per_hour": "rental",
             "accelerator": "accelerator", "bf16_flops": "bf16", "fp8_flops": "fp8", "fp4_flops": "fp4",
             "carbon_kg_per_kwh": "carbon", "electricity_usd_per_kwh": "electricity", "active_params": "active"}


def render_presets(data: dict[str, list[dict]], console: Console) -> None:
    """One table per kind of preset; peaks are dense, bandwidths one direction."""
    for kind, rows in data.items():
        table = Table(title=f"{kind} ({len(rows)})", title_justify="left", title_style="bold cyan", box=None,
                      pad_edge=False, header_style="dim")
        columns = _PRESET_COLUMNS[kind]
        for field, unit in columns:
            table.add_column(_HEADINGS.get(field, field), justify="left" if unit is None else "right",
                             overflow="fold")
        for row in rows:
            table.add_row(*("—" if row.get(f) is None else str(row[f]) if unit is None
                            else format_quantity(row[f], unit) for f, unit in columns))
        console.print(Group(Text(), table))
    console.print(Text("\nqwenfeas presets show NAME prints a preset with its sources.", style="dim"))


def render_validation(results, console: Console) -> None:
    """Each case: published value, qwenfeas's value, the error against the tolerance, and the source."""
    table = Table(title="Validation against published figures", title_justify="left", title_style="bold cyan",
                  box=None, pad_edge=False, header_style="dim")
    for heading, justify in (("case", "left"), ("published", "right"), ("qwenfeas", "right"), ("error", "right"),
                             ("tolerance", "right"), ("", "left"), ("source", "left")):
        table.add_column(heading, justify=justify, overflow="fold")
    for r in results:
        unit = r.unit
        verdict = Text("pass", style="green") if r.passed else Text("FAIL", style="bold red")
        table.add_row(f"{r.case}\n[dim]{r.metric}[/dim]", format_quantity(r.published, unit),
                      format_quantity(r.computed, unit), f"{r.error:+.2%}", f"±{r.tolerance:.1%}", verdict, r.source)
    console.print(table)
    failed = sum(not r.passed for r in results)
    console.print(f"\n{len(results) - failed} passed, {failed} failed")


def render_verdicts(verdicts, console: Console) -> None:
    """A summary row per scenario, then each failing check with what would make it pass."""
    table = Table(title="Feasibility", title_justify="left", title_style="bold cyan", box=None, pad_edge=False,
                  header_style="dim")
    for heading in ("scenario", "verdict", "binding constraint", "detail"):
        table.add_column(heading, overflow="fold")
    for verdict in verdicts:
        binding = verdict.binding
        mark = Text("feasible", style="green") if verdict.feasible else Text("infeasible", style="bold red")
        table.add_row(f"{verdict.name}\n[dim]{verdict.file}[/dim]", mark, binding.name if binding else "—",
                      binding.message if binding else "")
    console.print(Group(Text(), table))
    for verdict in verdicts:
        for check in (c for c in verdict.checks if not c.passed):
            where = f"{check.file}:{check.line}" if check.line else check.file
            console.print(Text(f"  ✗ {verdict.name}: {check.name}: {check.message}", style="red"))
            console.print(Text(f"    {where}" + (f" — {check.remedy}" if check.remedy else ""), style="dim"))


def _cell(value, unit: str) -> str:
    """One table cell: a verdict as yes/no, text as it is, a number in human units."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    return format_quantity(value, unit or "count")


def render_sweep(names: list[str], units: list[str], rows: list[list], matched: int, total: int,
                 console: Console) -> None:
    """The first rows of a sweep, in human units, and how many rows there are in all."""
    table = Table(show_edge=False, header_style="bold")
    for name, unit in zip(names, units, strict=True):
        table.add_column(name + (f" ({unit})" if unit and unit != "count" else ""), justify="right")
    for row in rows:
        table.add_row(*(_cell(v.item() if hasattr(v, "item") else v, u) for v, u in zip(row, units, strict=True)))
    console.print(table)
    shown = f"{len(rows):,} of {matched:,} rows" + (f" ({total:,} points swept)" if matched != total else "")
    more = "; all rows with --format csv or jsonl, or raise --limit" if len(rows) < matched else ""
    console.print(Text(shown + more, style="dim"))


def render_frontiers(frontiers, units: dict[str, str], console: Console) -> None:
    """One table per numeric axis: for each combination of the other axes, the feasible range along it."""
    for frontier in frontiers:
        unit = units.get(frontier.axis, "")
        table = Table(title=f"Feasible {frontier.axis} for each {' × '.join(frontier.others) or 'sweep'}",
                      title_justify="left", title_style="bold cyan", show_edge=False, header_style="bold")
        for key in frontier.others:
            table.add_column(key, justify="right")
        for label in ("smallest feasible", "largest feasible", "feasible points"):
            table.add_column(label, justify="right")
        for row in frontier.rows:
            table.add_row(*(_cell(row[k], units.get(k, "")) for k in frontier.others),
                          _cell(row["min_feasible"], unit), _cell(row["max_feasible"], unit),
                          f"{row['feasible_points']:,}")
        console.print(table)


def render_comparison(comparison, console: Console) -> None:
    """Outputs down, scenarios across, then each scenario's ratio to the first; unchanged rows dimmed."""
    base = comparison.names[0]
    table = Table(title=f"Compared with {base}", title_justify="left", title_style="bold cyan", show_edge=False,
                  header_style="bold")
    table.add_column("output", no_wrap=True)
    headers = [Text(name.replace(" [", "\n[")) for name in comparison.names]  # Text: "[...]" is not markup
    for header in headers:
        table.add_column(header, justify="right")
    for header in headers[1:]:
        table.add_column(header + "\n÷ first", justify="right")
    for row in comparison.rows:
        cells = [_cell(v, row.unit) if v is not None else "—" for v in row.values]
        ratios = ["—" if r is None else f"{r:.3g}×" for r in row.ratios[1:]]
        same = all(r is not None and abs(r - 1) < 1e-9 for r in row.ratios)
        table.add_row(row.name, *cells, *ratios, style="dim" if same else None)
    verdicts = [("feasible" if ok else "infeasible") + (f" ({b})" if b else "")
                for ok, b in zip(comparison.feasible, comparison.binding, strict=True)]
    table.add_row(Text("verdict (binding)", style="bold"), *verdicts, *([""] * (len(comparison.names) - 1)))
    console.print(table)


def render_roadmap(rows, budget, console: Console) -> None:
    """Each target's headline numbers and verdict, what would make the failing ones pass, the budget view."""
    table = Table(title="What would the Qwen roadmap take?", title_justify="left", title_style="bold cyan",
                  show_edge=False, header_style="bold")
    for label in ("scenario", "step", "params (active)", "FLOP", "time", "accel.", "KV / seq.", "power",
                  "energy", "CO2e", "cost", "capex", "verdict (binding)"):
        table.add_column(label, justify="left" if label in ("scenario", "step", "verdict (binding)") else "right",
                         no_wrap=label != "scenario", min_width=22 if label == "scenario" else None)

    def show(value, unit):
        return "—" if value is None else format_quantity(value, unit)

    target = None
    for row in rows:
        if row.target != target:
            target = row.target
            table.add_section()
            table.add_row(Text(target, style="bold"))
        h = row.headline
        verdict = Text("ok" if row.feasible else "fails", style="green" if row.feasible else "bold red")
        if row.binding:
            verdict.append(f" ({row.rule if row.binding.startswith('expect') else row.binding})", style="dim")
        table.add_row(row.name, row.step.split(":")[0], f"{show(h['params'], 'count')} ({show(h['active_params'], 'count')})",
                      show(h["compute_flops"], "FLOP").removesuffix(" FLOP"), show(h["seconds"], "s"),
                      show(h["accelerators"], "count"), show(h["kv_cache_bytes_per_sequence"], "B"),
                      show(h["facility_watts"], "W"), show(h["energy_kwh"], "kWh"), show(h["co2_kg"], "kg"),
                      show(h["cost_usd"], "USD"), show(h["capex_usd"], "USD"), verdict)
    console.print(table)
    synthetic = [row for row in rows if row.headline["synthetic_seconds"] is not None]
    if synthetic:
        console.print(Text("Synthetic data, generated on the same fleet before training", style="bold cyan"))
        for row in synthetic:
            h = row.headline
            console.print(f"  {row.name}: {show(h['synthetic_tokens'], 'count')} tokens take "
                          f"{show(h['synthetic_seconds'], 's')} and {show(h['synthetic_cost_usd'], 'USD')} of rental, "
                          f"{show(h['synthetic_fraction_of_training'], 'fraction')} of the training FLOPs")
    failing = [row for row in rows if not row.feasible]
    if failing:
        console.print(Text("Why they fail, and what would make them pass", style="bold cyan"))
        for row in failing:
            line = Text(f"  {row.name}: ", style="bold")
            line.append(row.finding)
            if row.remedy:
                line.append(f"; {row.remedy}", style="dim")
            console.print(line)
    if budget.plan_usd is not None:
        console.print(Text("The capital plan", style="bold cyan"))
        console.print(f"  plan {format_quantity(budget.plan_usd, 'USD')}; the targets built at once cost "
                      f"{format_quantity(budget.targets_usd, 'USD')} and draw "
                      f"{format_quantity(budget.targets_watts, 'W')}")
        if budget.fits_together or budget.over_plan:
            console.print(f"  inside the plan together (cheapest first): {', '.join(budget.fits_together) or 'none'}"
                          + (f"; beyond it: {', '.join(budget.over_plan)}" if budget.over_plan else ""))
        for hardware, count in budget.plan_accelerators.items():
            console.print(f"  the whole plan in {hardware}: {count:,.0f} accelerators, all in, drawing "
                          f"{format_quantity(budget.plan_watts[hardware], 'W')}, "
                          f"{format_quantity(budget.plan_annual_kwh[hardware], 'kWh')} a year at full power")
