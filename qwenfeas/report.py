"""Named metrics: name, value, unit, formula and source, and how each explains itself.

Each metric keeps a formula template whose `{key}` placeholders name scenario
inputs or earlier metrics; `Report.explain()` fills them with the scenario's
values, and the formula function's docstring supplies the convention and the
source. The metrics themselves are computed in estimates.py and training.py.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

from .scenario.fields import all_keys
from .scenario.load import Scenario
from .scenario.units import format_number, format_quantity

SECTIONS = {
    "model": "Model",
    "training": "Training",
    "serving_layout": "Serving layout",
    "inference": "Inference served (continuous batching at achievable rates)",
    "test_time": "Test-time compute (one reasoning query at the operating point)",
    "layout": "Training layout",
    "training_memory": "Training memory per accelerator",
    "communication": "Communication per accelerator, whole run (achieved link bandwidth)",
    "kv_cache": "KV cache",
    "memory": "Memory",
    "power": "Power & cost",
    "synthetic": "Synthetic data (generated on the same fleet)",
    "capex": "Capital cost (buying and housing the fleet)",
}

# Display unit of each scenario input kind (see units.KIND_HELP).
_INPUT_UNITS = {
    "count": "count", "integer": "count", "bytes": "B", "byte_rate": "B/s", "flop_rate": "FLOP/s",
    "power": "W", "money": "USD", "usd_per_hour": "USD/h", "usd_per_kwh": "USD/kWh",
    "carbon": "kg/kWh", "duration": "s", "fraction": "fraction",
}


class Metric(NamedTuple):
    """One estimate: its output name, value (base units), unit and how it was computed."""

    name: str
    value: object
    unit: str
    label: str
    formula: str
    function: Callable | None = None
    table: str = ""


class Report:
    """All metrics of one scenario, in display order; `terms` are intermediates for --explain."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.metrics: dict[str, Metric] = {}
        self.terms: dict[str, Metric] = {}
        self.notes: list[str] = []
        self.warnings: list[str] = []  # shown with the results (table and JSON), not only on stderr
        self.measured: list[str] = []  # output names that a `measured:` fact replaced

    @property
    def name(self) -> str:
        return self.scenario.name

    def __getitem__(self, name: str):
        return self.metrics[name].value

    def values(self) -> dict[str, object]:
        """Output name -> value, flat, in display order."""
        return {name: metric.value for name, metric in self.metrics.items()}

    def nested(self) -> dict:
        """{"name": ..., "model": {"params": ...}, ...}: the JSON shape of SCENARIO.md."""
        out: dict = {"name": self.name}
        for name, metric in self.metrics.items():
            section, key = name.split(".", 1)
            out.setdefault(section, {})[key] = metric.value
        if self.measured:
            out["measured"] = list(self.measured)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def explain(self, name: str) -> dict[str, str]:
        """The formula of a metric, with the scenario's values put in, and its source."""
        metric = self.metrics.get(name) or self.terms[name]
        symbolic = re.sub(r"\{([^}]+)\}", r"\1", metric.formula)
        substituted = re.sub(r"\{([^}]+)\}", lambda m: self._format(m.group(1)), metric.formula)
        doc = _docstring_parts(metric.function)
        return {"formula": symbolic, "substituted": substituted, "source": doc.get("Source", ""),
                "convention": doc.get("Convention", ""), "summary": doc.get("summary", "")}

    def _format(self, key: str) -> str:
        metric = self.metrics.get(key) or self.terms.get(key)
        if metric is not None and metric.unit == "s":  # inside arithmetic, keep seconds as seconds
            return format_number(metric.value) + " s"
        if metric is not None:
            return format_quantity(metric.value, metric.unit)
        value = self.scenario.get(key)
        return format_quantity(value, input_unit(key)) if isinstance(value, (int, float)) else str(value)


def input_unit(key: str) -> str:
    """The display unit of a scenario input key ("B" for hardware.memory)."""
    spec = all_keys().get(key)
    return _INPUT_UNITS.get(spec.kind, "") if spec else ""


def _docstring_parts(function) -> dict[str, str]:
    """Split a formula docstring into its summary and its "Formula/Convention/Source" paragraphs."""
    if function is None or not function.__doc__:
        return {}
    lines = function.__doc__.strip().splitlines()
    parts, current = {"summary": lines[0].strip()}, None
    for line in lines[1:]:
        text = line.strip()
        head, _, rest = text.partition(":")
        if head in ("Formula", "Convention", "Source"):
            current = head
            parts[current] = rest.strip()
        elif current and text:
            parts[current] += " " + text
        else:
            current = None
    return parts


class Builder:
    """Collects the metrics of one scenario as the wings compute them."""

    def __init__(self, scenario: Scenario) -> None:
        self.report = Report(scenario)

    def put(self, name, value, unit, label, formula, function=None, table=None):
        self.report.metrics[name] = Metric(name, value, unit, label, formula, function, table or name.split(".")[0])
        return value

    def term(self, name, value, unit, label, formula, function=None):
        """An intermediate quantity shown by --explain but not an output."""
        self.report.terms[name] = Metric(name, value, unit, label, formula, function)
        return value
