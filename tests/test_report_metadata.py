"""Every metric of every bundled scenario carries what the output contract promises.

README: values are in base units and each key ends with its unit (_bytes, _watts, _kwh, _usd,
seconds) unless it is a count. So the unit recorded with a metric must match its name's suffix,
its section must be one the tables know, and its label and formula must be there for the table
and for --explain. A metric put with the wrong unit or section, or with no formula, fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_estimates import SMALL

import qwenfeas
from qwenfeas.report import SECTIONS

CONFIGS = Path(__file__).parent.parent / "configs"
# name suffix -> the unit its value is in (longest suffix first)
SUFFIX_UNITS = [("_per_second_per_user", None), ("tokens_per_second", "tokens/s"), ("_bytes", "B"),
                ("_watts", "W"), ("_kwh", "kWh"), ("_usd", "USD"), ("seconds", "s"), ("_kg", "kg"),
                ("gpu_hours", "h")]
EXTRA = SMALL + ("training: {batch_tokens: 1M}\nmeasured: {gpu_hours: 1}\n"
                 "synthetic: {tokens: 64M, keep: 0.5, context: 2048}\ncapex: {accelerator: 30K}\nlimits: {capex: 1M}\n")


def _report(name: str):
    """Built inside the test, so that mutation testing sees which functions each case calls."""
    if name == "extra":
        return qwenfeas.estimate(qwenfeas.loads(EXTRA, "extra.yaml"))
    return qwenfeas.estimate(qwenfeas.load(CONFIGS / name))


NAMES = ["extra", *(str(path.relative_to(CONFIGS)) for path in sorted(CONFIGS.rglob("*.yaml")))]


@pytest.mark.parametrize("name", NAMES)
def test_metric_units_sections_labels_and_formulas(name):
    report = _report(name)
    for metric in report.metrics.values():
        assert metric.table in SECTIONS, (name, metric.name, metric.table)
        assert isinstance(metric.label, str) and metric.label.strip(), (name, metric.name)
        assert isinstance(metric.formula, str) and metric.formula.strip(), (name, metric.name)
        for suffix, unit in SUFFIX_UNITS:
            if metric.name.endswith(suffix):
                if unit is not None:
                    assert metric.unit == unit, (name, metric.name, metric.unit)
                break
        if metric.name.endswith("flops") and not metric.name.endswith("per_key"):
            assert metric.unit == "FLOP", (name, metric.name, metric.unit)
    for term in report.terms.values():
        assert isinstance(term.formula, str) and term.formula.strip(), (name, term.name)
        assert isinstance(term.unit, str), (name, term.name)
