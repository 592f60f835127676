"""The `qwenfeas` command: parse arguments, call the library, render, exit.

Exit codes (see errors.ExitCode): 0 success, 1 a check failed, 2 bad input
or usage, 70 internal error (a bug: please report it), 130 interrupted.
Results go to stdout; errors and warnings to stderr. Heavy modules (rich,
the formulas) are imported inside commands, so `--help` and `--version` stay fast.
"""

from __future__ import annotations

import enum
import os
import sys

import typer

from . import __version__
from .commands.exits import errors_to_exit as _errors_to_exit
from .errors import ExitCode, QwenfeasError

app = typer.Typer(
    name="qwenfeas",
    help="Feasibility estimates for frontier-scale language models: FLOPs, KV cache, memory, time, "
    "power, energy, CO2 and cost, from a YAML scenario.",
    epilog="Exit status: 0 ok, 1 a check failed, 2 bad input or usage, 70 internal error, 130 interrupted. "
    "Docs: `qwenfeas docs` prints the README installed with the package.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="markdown",
)


def _formats(name: str, *values: str) -> type[enum.StrEnum]:
    """The --format choices of one command: only the formats it really writes (others exit 2)."""
    return enum.StrEnum(name, {value: value for value in values})


Format = _formats("Format", "table", "json", "jsonl", "csv", "yaml")  # estimate
SweepFormat = _formats("SweepFormat", "table", "csv", "jsonl", "json")
CompareFormat = _formats("CompareFormat", "table", "json", "csv")
CheckFormat = _formats("CheckFormat", "table", "json", "jsonl")
ListFormat = _formats("ListFormat", "table", "json")  # roadmap, presets
ValidateFormat = _formats("ValidateFormat", "table", "json", "csv")
ShowFormat = _formats("ShowFormat", "table", "yaml", "json")


def _set_option(scope: str = "a scenario key"):
    """--set KEY=VALUE, as every command that loads scenarios takes it."""
    return typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                        help=f"Override {scope}, e.g. --set hardware.count=4096 (repeatable).")


def _hf_config_option():
    return typer.Option(None, "--hf-config", metavar="PATH",
                        help="Read the model architecture from a Hugging Face config.json (no network needed).")


def _no_color_option():
    return typer.Option(False, "--no-color", help="No colour in tables (NO_COLOR is honoured too).")


def _version(value: bool) -> None:
    if value:
        from .commands.exits import flush_stdout

        sys.stdout.write(f"qwenfeas {__version__}\n")
        flush_stdout()
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                 help="Print the version and exit."),
) -> None:
    """Feasibility estimates for frontier-scale language models."""


@app.command()
def estimate(
    files: list[str] = typer.Argument(..., metavar="FILE...", help="Scenario YAML files; '-' reads standard input."),
    output_format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    overrides: list[str] | None = _set_option(),
    hf_config: str | None = _hf_config_option(),
    explain: bool = typer.Option(False, "--explain", "-e",
                                 help="Show each formula with the scenario's values, and its source."),
    field: str | None = typer.Option(None, "--field", metavar="NAME",
                                     help="Print only this output (or input) as a bare number, one line per file."),
    no_color: bool = _no_color_option(),
) -> None:
    """Estimate FLOPs, KV cache, memory, time, power, energy, CO2 and cost for scenarios.

    Examples:

    - `qwenfeas estimate default` (a bundled scenario: default, dense-70b-pretrain, reasoning-1m, ...)
    - `qwenfeas estimate configs/*.yaml --format csv > estimates.csv`
    - `qwenfeas estimate plan.yaml --format json | jq .training.seconds`
    - `cat plan.yaml | qwenfeas estimate - --set hardware.count=4096 --explain`
    - `qwenfeas estimate plan.yaml --hf-config ~/models/Qwen3-8B/config.json`
    - `seconds=$(qwenfeas estimate plan.yaml --field training.seconds)`
    - `qwenfeas estimate plans/*.yaml --format jsonl | jq -c '{name, s: .training.seconds}'`
    """
    with _errors_to_exit():
        from .commands.estimating import bare, estimates, write

        if explain and output_format == Format.csv:  # said before any work, not dropped in silence
            raise QwenfeasError("CSV has one column per output and no room for formulas and sources",
                                key="--explain", hint="use --explain with --format table, json, jsonl or yaml")
        if field and explain:
            raise QwenfeasError("prints one bare number, so --explain has no effect on it", key="--field",
                                hint=f"drop --explain, or see the formula with --explain --format json | "
                                f"jq '.explain[\"{field}\"]'")
        if field and output_format != Format.table:
            raise QwenfeasError("prints one bare number, so --format has no effect on it", key="--field",
                                hint=f"drop --field, or use --format json | jq '.{field}'")
        reports = estimates(files, _assignments(overrides, hf_config))
        if field:
            sys.stdout.write("".join(bare(report, field) + "\n" for report in reports))
            return
        judged = [r for r in reports if any(k.startswith(("limits.", "expect")) for k in r.scenario.values)]
        verdicts = []
        if judged:  # a malformed expect: line is bad input in every format, found before any output
            from .verdict import judge

            verdicts = [judge(r) for r in judged]
        write(reports, output_format, explain, no_color)
        if verdicts and output_format == "table":
            from .output.tables import make_console, render_verdicts

            render_verdicts(verdicts, make_console(no_color))


@app.command()
def sweep(
    file: str = typer.Argument(..., metavar="FILE", help="Scenario YAML file; '-' reads standard input."),
    vary: list[str] = typer.Option(..., "--vary", "-v", metavar="KEY=VALUES",
                                   help="An axis: a list (context=32K,128K,1M) or a range (1M..100M:log:9, "
                                   "0.3..0.5:5); presets and choices as lists (hardware.preset=h200,b200). "
                                   "Repeat for a grid."),
    output_format: SweepFormat = typer.Option(SweepFormat.table, "--format", "-f",
                                              help="table (first rows), csv, jsonl or json (all rows, streamed)."),
    columns: list[str] | None = typer.Option(None, "--columns", "-c", metavar="NAMES",
                                             help="Output names, comma-separated, or 'all' (default: the axes, "
                                             "headline outputs, feasible, binding)."),
    where: list[str] | None = typer.Option(None, "--where", "-w", metavar="EXPR",
                                           help="Keep rows where NAME OP VALUE holds, as in expect: "
                                           "(e.g. 'training.seconds < 90d'; repeat to require all)."),
    feasible_only: bool = typer.Option(False, "--feasible", help="Keep only feasible rows."),
    frontier: bool = typer.Option(False, "--frontier",
                                  help="Print the feasibility boundary along each numeric axis instead of rows."),
    plot: bool = typer.Option(False, "--plot", help="Draw --y against the first numeric axis in the terminal."),
    plot_file: str | None = typer.Option(None, "--plot-file", metavar="PATH",
                                         help="Also write the chart to PATH (.png, .svg, .pdf; needs "
                                         "pip install 'qwenfeas[plot]')."),
    y: str | None = typer.Option(None, "--y", metavar="NAME", help="The output to plot (default: the first "
                                 "headline output)."),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Rows shown by the table format."),
    overrides: list[str] | None = _set_option(),
    hf_config: str | None = _hf_config_option(),
    no_color: bool = _no_color_option(),
) -> None:
    """Evaluate a scenario over a grid of values, vectorised: a million points in about a second.

    Numeric axes go through the formulas as numpy arrays; each text value (a preset, a
    precision) is one more pass. Every row carries its verdict: `feasible` and the `binding` check.

    Examples:

    - `qwenfeas sweep plan.yaml --vary context=128K..100M:log:9 --vary hardware.preset=h200,b200`
    - `qwenfeas sweep plan.yaml --vary hardware.count=8192,16384,32768 --vary hardware.mfu=0.3..0.5:5 --frontier`
    - `qwenfeas sweep plan.yaml -v tokens=10T..100T:log:50 -f csv --where 'training.seconds < 90d' | head`
    - `qwenfeas sweep plan.yaml -v context=1M..100M:log:30 --plot --y kv_cache.bytes_per_sequence`
    """
    with _errors_to_exit():
        from .commands.sweep_report import run

        run(file, vary, output_format.value, _split(columns), where or [], feasible_only, frontier, plot,
            plot_file, y, limit, _assignments(overrides, hf_config), no_color)


@app.command()
def serve(
    file: str = typer.Argument(..., metavar="FILE", help="Scenario YAML file; '-' reads standard input."),
    output_format: SweepFormat = typer.Option(SweepFormat.table, "--format", "-f",
                                              help="Output format (jsonl: one frontier row per line)."),
    tpot: str | None = typer.Option(None, "--tpot", metavar="DURATION",
                                    help="Longest time per output token, e.g. 50ms (default: limits.tpot)."),
    ttft: str | None = typer.Option(None, "--ttft", metavar="DURATION",
                                    help="Longest time to first token, e.g. 2s (default: limits.ttft)."),
    plot: bool = typer.Option(False, "--plot", help="Also draw the frontier in the terminal."),
    overrides: list[str] | None = _set_option(),
    no_color: bool = _no_color_option(),
) -> None:
    """The serving frontier: output tokens/s per accelerator against tokens/s per user.

    Over the layouts (tensor, attention-data and expert degrees, replicas, batch, aggregated or
    disaggregated) of the scenario's accelerators. The best row gives the most per accelerator
    within the limits.

    Examples:

    - `qwenfeas serve configs/published/r1-b200-throughput.yaml --tpot 50ms`
    - `qwenfeas serve plan.yaml --set hardware.count=64 --format json | jq .frontier[0]`
    """
    with _errors_to_exit():
        from .commands.serving import run
        from .scenario.units import parse_quantity

        def duration(text, option):
            if text is None:
                return None
            try:
                seconds = parse_quantity(text, "duration")
            except ValueError as exc:
                raise QwenfeasError(str(exc), key=option, hint="write e.g. 50ms or 2s") from None
            if not seconds > 0:
                raise QwenfeasError(f"must be longer than 0, got {text!r}", key=option, hint="write e.g. 50ms or 2s")
            return seconds

        run(file, overrides or [], output_format.value, duration(ttft, "--ttft"), duration(tpot, "--tpot"), plot,
            no_color)


def _assignments(overrides, hf_config) -> list[str]:
    from .scenario.load import hf_config_override

    assignments = list(overrides or [])
    if hf_config:
        assignments.insert(0, hf_config_override(hf_config))
    return assignments


def _split(values: list[str] | None) -> list[str] | None:
    """Comma-separated and repeated option values as one list."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@app.command()
def compare(
    files: list[str] = typer.Argument(..., metavar="FILE...", help="Scenario files; the first is the baseline."),
    variants: list[str] | None = typer.Option(
        None, "--with", "-w", metavar="KEY=VALUE",
        help="Compare the first file with itself under this override (repeatable: one variant each)."),
    output_format: CompareFormat = typer.Option("table", "--format", "-f", help="table, json or csv."),
    overrides: list[str] | None = _set_option("a scenario key in every file"),
    hf_config: str | None = _hf_config_option(),
    no_color: bool = _no_color_option(),
) -> None:
    """Put the estimates of several scenarios side by side, with ratios against the first.

    Examples:

    - `qwenfeas compare plan-h100.yaml plan-b200.yaml`
    - `qwenfeas compare plan.yaml --with hardware.preset=b200 --with hardware.preset=gb200`
    - `qwenfeas compare plan.yaml --with precision.compute=fp8 --format json | jq '.outputs["training.seconds"]'`
    """
    with _errors_to_exit():
        from .commands.compare import compare as side_by_side
        from .commands.estimating import estimates
        from .errors import QwenfeasError
        from .output import render as machine

        for variant in variants or []:  # named as --with, not as the --set it becomes
            key, equals, _ = variant.partition("=")
            if not equals or not key.strip():
                raise QwenfeasError(f"expected KEY=VALUE, got {variant!r}", key="--with",
                                    hint="for example --with hardware.preset=b200")
        reports = estimates(files, _assignments(overrides, hf_config), variants or [])
        if len(reports) < 2:
            raise QwenfeasError("nothing to compare with", key="compare",
                                hint="name a second file, or add a variant: --with hardware.preset=b200")
        comparison = side_by_side(reports)
        if output_format == "table":
            from .output.tables import make_console, render_comparison

            render_comparison(comparison, make_console(no_color))
        elif output_format == "csv":
            sys.stdout.write(machine.comparison_csv(comparison))
        else:
            sys.stdout.write(machine.comparison_json(comparison))


@app.command()
def roadmap(
    paths: list[str] | None = typer.Argument(None, metavar="[PATH...]",
                                             help="Roadmap scenarios (default: configs/roadmap/, else the "
                                             "bundled ones)."),
    output_format: ListFormat = typer.Option("table", "--format", "-f", help="table or json."),
    overrides: list[str] | None = _set_option("a key in every scenario"),
    wide: bool = typer.Option(False, "--wide", help="One row per scenario with every figure (needs ~190 columns)."),
    no_color: bool = _no_color_option(),
) -> None:
    """What each roadmap target would take: headline numbers, verdict, binding constraint, remedy, budget.

    Exits 0 when every target is feasible and 1 otherwise, like `check`.

    Examples:

    - `qwenfeas roadmap`
    - `qwenfeas roadmap --set datacenter.grid=eu --format json | jq '.targets[] | {name, feasible}'`
    - `qwenfeas roadmap configs/roadmap/params-10t-*.yaml --set hardware.mfu=0.45`
    """
    with _errors_to_exit():
        from .commands import roadmap as plan
        from .commands.estimating import estimates
        from .output.render import json_text, plain
        from .scenario.files import expand_paths
        from .verdict import judge

        reports = estimates(expand_paths(paths or [plan.default_path()]), list(overrides or []))
        rows, budget = plan.build(reports, [judge(report) for report in reports])
        if output_format == "table":
            from .output.tables import make_console, render_roadmap

            render_roadmap(rows, budget, make_console(no_color), wide)
        else:
            data = {"targets": [row._asdict() for row in rows], "budget": budget._asdict()}
            sys.stdout.write(json_text(plain(data)))
        if not all(row.feasible for row in rows):
            raise typer.Exit(ExitCode.CHECK_FAILED)


class PresetKind(enum.StrEnum):
    models = "models"
    accelerators = "accelerators"
    systems = "systems"
    datacenters = "datacenters"
    grids = "grids"


presets_app = typer.Typer(help="List the built-in presets, or show one with its source.",
                          context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(presets_app, name="presets")


@presets_app.callback(invoke_without_command=True)
def presets(
    ctx: typer.Context,
    kind: PresetKind | None = typer.Option(None, "--kind", "-k", help="Only this kind of preset."),
    output_format: ListFormat = typer.Option("table", "--format", "-f", help="table or json."),
    no_color: bool = _no_color_option(),
) -> None:
    """List built-in models, accelerators, systems, datacenters (facilities) and grids.

    Examples:

    - `qwenfeas presets`
    - `qwenfeas presets --kind accelerators --format json | jq '.[].name'`
    - `qwenfeas presets show qwen3-235b-a22b`
    """
    if ctx.invoked_subcommand:
        return
    with _errors_to_exit():
        from .commands import listing
        from .output.render import json_text, plain

        kinds = [kind.value] if kind else list(listing.KINDS)
        data = {k: listing.rows(k) for k in kinds}
        if output_format == "table":
            from .output.tables import make_console, render_presets

            render_presets(data, make_console(no_color))
            return
        cleaned = {k: [{f: plain(v) for f, v in row.items()} for row in rows] for k, rows in data.items()}
        sys.stdout.write(json_text(cleaned[kinds[0]] if kind else cleaned))


@presets_app.command("show")
def show_preset(
    name: str = typer.Argument(..., metavar="NAME", help="A preset name, e.g. h200 or qwen3-235b-a22b (any case)."),
    output_format: ShowFormat = typer.Option("table", "--format", "-f",
                                             help="table: the preset file with its sources, folded to the width; yaml: the "
                                             "file as it is; json: its figures."),
) -> None:
    """Print one preset: its figures, its sources and its notes.

    Examples:

    - `qwenfeas presets show b200`
    - `qwenfeas presets show kimi-k2 --format json`
    """
    with _errors_to_exit():
        from .commands import listing

        kind, name, text = listing.find(name)
        if output_format == "json":
            from .output.render import json_text, plain

            row = next(r for r in listing.rows(kind) if r["name"] == name)
            sys.stdout.write(json_text({"kind": kind, **{k: plain(v) for k, v in row.items()}}))
        elif output_format == "yaml":  # the file as it is, to copy
            sys.stdout.write(f"# {kind[:-1]} preset {name}\n{text}")
        else:  # the same YAML, long lines folded to the width (it still loads to the same preset)
            from .output.prose import fold_yaml, terminal_width

            sys.stdout.write(f"# {kind[:-1]} preset {name}\n{fold_yaml(text, terminal_width(sys.stdout))}")


@app.command()
def check(
    paths: list[str] = typer.Argument(..., metavar="PATH...",
                                      help="Scenario files, directories (searched for *.yaml, *.yml) or globs."),
    output_format: CheckFormat = typer.Option("table", "--format", "-f", help="table, json or jsonl."),
    junit: str | None = typer.Option(None, "--junit", metavar="FILE",
                                     help="Also write JUnit XML (one test case per check), atomically."),
    overrides: list[str] | None = _set_option("a scenario key in every file"),
    no_color: bool = _no_color_option(),
) -> None:
    """Check scenarios against their limits and expectations: exit 0 if all pass, 1 if one fails.

    Bad input exits 2 and writes no report. On GitHub Actions (GITHUB_ACTIONS=true) each failure is
    also printed as an ::error annotation on the line of the scenario that set it.

    Examples:

    - `qwenfeas check configs/`
    - `qwenfeas check plans/*.yaml --junit report.xml`
    - `qwenfeas check plan.yaml --set hardware.count=8192 --format json`
    """
    with _errors_to_exit():
        from .output import render as machine
        from .scenario.files import expand_paths
        from .verdict import judge

        if junit is not None:  # a report that could not be written fails now: exit 2, nothing written
            machine.check_output_path(junit, "--junit")
        from .commands.estimating import estimates

        verdicts = [judge(report) for report in estimates(expand_paths(paths), list(overrides or []))]
        if output_format == "table":
            from .output.tables import make_console, render_verdicts

            render_verdicts(verdicts, make_console(no_color))
        else:
            sys.stdout.write(machine.verdicts_json(verdicts, lines=output_format == "jsonl"))
        if junit is not None:
            machine.write_atomically(junit, machine.to_junit(verdicts))
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for verdict in verdicts:
                for failed in (c for c in verdict.checks if not c.passed):
                    sys.stderr.write(machine.github_annotation(failed, verdict))
        if not all(v.feasible for v in verdicts):
            raise typer.Exit(ExitCode.CHECK_FAILED)


@app.command()
def schema() -> None:
    """Print the JSON Schema (draft-07) of scenario files, for editors and CI validators.

    Examples:

    - `qwenfeas schema > qwenfeas.schema.json`
    - first line of a scenario: `# yaml-language-server: $schema=qwenfeas.schema.json`
    """
    with _errors_to_exit():
        from .output.render import json_text
        from .scenario.schema import scenario_schema

        sys.stdout.write(json_text(scenario_schema()))


@app.command()
def validate(
    case: list[str] | None = typer.Option(None, "--case", "-c", metavar="ID", help="Run only this case (repeatable)."),
    output_format: ValidateFormat = typer.Option("table", "--format", "-f", help="table, json or csv."),
    no_color: bool = _no_color_option(),
    cases_file: str | None = typer.Option(None, "--cases", metavar="FILE",
                                          help="Run the cases in FILE instead of the bundled ones "
                                               "(e.g. the scorecard, tests/scorecard/cases.yaml)."),
) -> None:
    """Reproduce published figures (training compute, time, KV cache, ...) and report the error of each.

    Exits 1 when any case is outside its tolerance.

    Examples:

    - `qwenfeas validate`
    - `qwenfeas validate --case gpt3-175b-training-compute --format json`
    - `qwenfeas validate --format csv > validation.csv`
    """
    with _errors_to_exit():
        from pathlib import Path

        from .commands import validation

        if cases_file is not None and not cases_file.strip():
            raise QwenfeasError("needs a file name", key="--cases", hint="for example --cases tests/scorecard/cases.yaml")
        results = validation.run(case, Path(cases_file) if cases_file is not None else None)
        if output_format == "table":
            from .output.tables import make_console, render_validation

            render_validation(results, make_console(no_color), cases_file)
        else:
            from .output.render import csv_text, json_text

            rows = [{**r._asdict(), "error": r.error, "passed": r.passed} for r in results]
            header = [*validation.Result._fields, "error", "passed"]
            sys.stdout.write(json_text(rows) if output_format == "json" else
                             csv_text(header, ([row[k] for k in header] for row in rows)))
        if not all(r.passed for r in results):
            raise typer.Exit(ExitCode.CHECK_FAILED)


@app.command()
def docs() -> None:
    """Print the README installed with the package: usage, scenario keys, conventions and sources.

    Examples:

    - `qwenfeas docs | less`
    """
    with _errors_to_exit():
        from importlib.metadata import PackageNotFoundError, metadata

        try:
            text = metadata("qwenfeas").get_payload() or metadata("qwenfeas").get("Description", "")
        except PackageNotFoundError:
            text = ""
        if not text.strip():
            from .errors import QwenfeasError

            raise QwenfeasError("this copy of qwenfeas was installed without its README (package metadata)",
                                key="docs", hint="read README.md in the qwenfeas source")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _only_invoked_command(argv: list[str]) -> typer.Typer:
    """The app with only the command named on the command line, for start-up time: typer converts
    every registered command's parameters before it runs one (about 4 ms for ten commands). When the
    first argument names no command (`--help`, `--version`, a misspelt name that needs "did you
    mean"), the whole app; for `--version`, none. Help, usage and errors are the same either way."""
    import copy

    from typer.main import get_command_name

    name = argv[1] if len(argv) > 1 else None
    commands = [c for c in app.registered_commands
                if (c.name or get_command_name(c.callback.__name__)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups and name != "--version":  # --version is eager: it needs no command
        return app
    invoked = copy.copy(app)
    invoked.registered_commands, invoked.registered_groups = commands, groups
    return invoked


def main() -> None:
    """Console-script entry point: output errors (a closed pipe, a full disk) are handled here too."""
    from .commands.exits import run

    run(_only_invoked_command(sys.argv), "qwenfeas")
