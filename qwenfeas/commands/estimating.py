"""The estimate command's body, shared with compare, roadmap and check: load, estimate, print.

Warnings and notes go to stderr once each (variants of one file share them); results to stdout.
"""

from __future__ import annotations

import sys


def estimates(files, assignments: list[str], variants: list[str] = ()) -> list:
    """Load and estimate every file (and variants of the first), printing warnings and notes on stderr."""
    from ..estimates import estimate as run_estimate
    from ..scenario.files import read_text, stdin_at_most_once
    from ..scenario.load import load_all, loads

    if variants:  # compare --with: the first file again, with one more override (read once: it may be stdin)
        label, text = read_text(stdin_at_most_once(files)[0])
        scenarios = [loads(text, label, assignments), *load_all(files[1:], assignments)]
        for variant in variants:
            scenario = loads(text, label, [*assignments, variant])
            scenario.name = f"{scenarios[0].name} [{variant}]"
            scenarios.append(scenario)
    else:
        scenarios = load_all(files, assignments)
    # Variants of one file (compare --with) often share a warning or note: each is printed once.
    _messages(("warning", f"{scenario.file}: {warning}") for scenario in scenarios for warning in scenario.warnings)
    reports = [run_estimate(scenario) for scenario in scenarios]
    _messages(("note", f"{report.scenario.file}: {note}") for report in reports for note in report.notes)
    return reports


def _messages(messages) -> None:
    """Warnings or notes on stderr, wrapped to the width (the wrapping is loaded only when there are some)."""
    messages = list(messages)
    if messages:
        from ..output.prose import write_messages

        write_messages(messages)


def bare(report, name: str) -> str:
    """One output or input of a report as a bare number (whole numbers without a decimal point)."""
    from ..errors import QwenfeasError, did_you_mean
    from ..output.render import plain

    if name in report.metrics:
        value = report[name]
    elif isinstance(report.scenario.get(name), (int, float, str)):
        value = report.scenario[name]
    else:
        raise QwenfeasError("not an output or input of this scenario", file=report.scenario.file, key=name,
                            hint=did_you_mean(name, [*report.metrics, *report.scenario.values])
                            or "list the outputs with: qwenfeas estimate FILE --format json")
    value = plain(value)
    return repr(value) if isinstance(value, float) else str(value)


def write(reports, output_format: str, explain: bool, no_color: bool) -> None:
    """The reports in one output format on stdout (tables through rich, the rest as plain text)."""
    if output_format == "table":
        from ..output.tables import make_console, render

        render(reports, make_console(no_color), explain)
        return
    from ..output import render as machine

    if output_format == "json":
        text = machine.to_json(reports, explain)
    elif output_format == "jsonl":
        text = machine.to_jsonl(reports, explain)
    elif output_format == "yaml":
        text = machine.to_yaml(reports, explain)
    else:
        text = machine.to_csv(reports)
    sys.stdout.write(text)
    sys.stdout.flush()
