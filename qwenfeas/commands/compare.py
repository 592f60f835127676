"""Side-by-side estimates: every output of several scenarios, with ratios against the first.

The question it answers is "what does moving from plan A to plan B buy us": each row
is one output, each column one scenario, and each ratio is scenario / baseline.
"""

from __future__ import annotations

from typing import NamedTuple

from ..output.render import binding_label
from ..report import Report
from ..verdict import judge


class Row(NamedTuple):
    """One output across the scenarios: values in base units; ratio None where the baseline lacks it or is 0."""

    name: str
    unit: str
    values: list
    ratios: list


class Comparison(NamedTuple):
    names: list[str]
    files: list[str]
    rows: list[Row]
    feasible: list[bool]
    binding: list[str | None]
    binding_labels: list[str | None]  # for people: an expectation quoted


def compare(reports: list[Report]) -> Comparison:
    """The union of the reports' outputs, in display order, with each scenario's value and ratio."""
    metrics: dict[str, object] = {}
    for report in reports:
        for name, metric in report.metrics.items():
            metrics.setdefault(name, metric)
    rows = []
    for name, metric in metrics.items():
        values = [r[name] if name in r.metrics else None for r in reports]
        base = values[0]
        numeric = not isinstance(base, (str, bool))  # a choice (layout.schedule) or a flag has no ratio
        ratios = [v / base if numeric and v is not None and base else None for v in values]
        rows.append(Row(name, metric.unit, values, ratios))
    verdicts = [judge(r) for r in reports]
    return Comparison([r.name for r in reports], [r.scenario.file for r in reports], rows,
                      [v.feasible for v in verdicts], [v.binding.name if v.binding else None for v in verdicts],
                      [binding_label(v.binding) if v.binding else None for v in verdicts])

