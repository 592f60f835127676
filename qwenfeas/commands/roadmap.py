"""The roadmap report: each target's headline numbers, verdict and remedy on one screen, and the budget view.

Scenarios say which roadmap target they test (`roadmap.target`, `roadmap.step`); this module
reads their estimates and verdicts and adds what no single scenario shows: whether the targets
fit inside one capital plan (`limits.capex`) at the same time, and the power that plan buys.
"""

from __future__ import annotations

from typing import NamedTuple

from ..report import Report
from ..scenario.units import SECONDS_PER_YEAR
from ..verdict import Verdict

# The headline of each kind of scenario: (work, its time) in order of preference.
_COMPUTE = ("training.flops", "test_time.flops", "inference.prefill_flops")
_SECONDS = ("training.seconds", "test_time.seconds", "inference.prefill_seconds")


class Row(NamedTuple):
    """One scenario of the roadmap: which target, its headline numbers and its verdict."""

    target: str
    step: str
    name: str
    file: str
    headline: dict  # output-style names -> plain numbers (None when the scenario has no such figure)
    feasible: bool
    binding: str | None
    rule: str  # the binding check's rule, e.g. "training.seconds <= 365 days"
    finding: str  # the binding check's message
    remedy: str  # what would make it pass (empty when it passes)


class Budget(NamedTuple):
    """The capital plan against the targets that would have to be built at once."""

    plan_usd: float | None
    targets_usd: float  # sum of the capital cost of every `target` step
    targets_watts: float  # their facility power
    fits_together: list[str]  # targets inside the plan, cheapest first, until it runs out
    over_plan: list[str]
    plan_accelerators: dict  # accelerator -> how many the whole plan buys at its all-in price
    plan_watts: dict  # accelerator -> facility power of that fleet
    plan_annual_kwh: dict  # accelerator -> that fleet's energy in a year at full power


_STEP_ORDER = {"today": 0, "target": 1}


def build(reports: list[Report], verdicts: list[Verdict]) -> tuple[list[Row], Budget]:
    """Rows grouped by target (in order of first appearance; today, target, then variants), and the
    budget view over the scenarios that price their fleet."""
    rows = [_row(report, verdict) for report, verdict in zip(reports, verdicts, strict=True)]
    first = {}
    for row in rows:
        first.setdefault(row.target, len(first))
    order = sorted(range(len(rows)), key=lambda i: (first[rows[i].target],
                                                     _STEP_ORDER.get(rows[i].step.split(":")[0], 2), i))
    return [rows[i] for i in order], _budget([reports[i] for i in order], [rows[i] for i in order])


def _hardware(report: Report) -> str:
    return report.scenario.get("hardware.preset", "custom accelerator")


def _first(report: Report, names) -> float | None:
    return next((report[n] for n in names if n in report.metrics), None)


def _row(report: Report, verdict: Verdict) -> Row:
    s = report.scenario
    headline = {
        "params": report["model.params"],
        "active_params": report["model.active_params"],
        "compute_flops": _first(report, _COMPUTE),
        "seconds": _first(report, _SECONDS),
        "accelerators": report["power.accelerators"],
        "kv_cache_bytes_per_sequence": report["kv_cache.bytes_per_sequence"],
        "facility_watts": report["power.facility_watts"],
        "energy_kwh": _first(report, ("training.energy_kwh", "test_time.energy_kwh")),
        "co2_kg": _first(report, ("training.co2_kg",)),
        "cost_usd": _first(report, ("training.cost_usd", "test_time.cost_usd")),
        "capex_usd": _first(report, ("capex.fleet_usd",)),
        "synthetic_tokens": report.scenario.get("synthetic.tokens"),
        "synthetic_seconds": _first(report, ("synthetic.seconds",)),
        "synthetic_cost_usd": _first(report, ("synthetic.cost_usd",)),
        "synthetic_fraction_of_training": _first(report, ("synthetic.fraction_of_training",)),
    }
    binding = verdict.binding
    return Row(s.get("roadmap.target", report.name), s.get("roadmap.step", ""), report.name, s.file,
               {k: (float(v) if v is not None else None) for k, v in headline.items()}, verdict.feasible,
               binding.name if binding else None, binding.rule if binding else "", binding.message if binding else "",
               binding.remedy if binding else "")


def _budget(reports: list[Report], rows: list[Row]) -> Budget:
    plans = {r.scenario["limits.capex"] for r in reports if "limits.capex" in r.scenario}
    plan = max(plans) if plans else None
    targets = [(row, report) for row, report in zip(rows, reports, strict=True)
               if row.step == "target" and row.headline["capex_usd"] is not None]
    spent, fits, over = 0.0, [], []
    for row, _ in sorted(targets, key=lambda pair: pair[0].headline["capex_usd"]):
        cost = row.headline["capex_usd"]
        if plan is not None and spent + cost <= plan:
            spent += cost
            fits.append(row.name)
        else:
            over.append(row.name)
    priced = [r for r in reports if "capex.affordable_accelerators" in r.metrics]
    bought = {_hardware(r): r["capex.affordable_accelerators"] for r in priced}
    watts = {_hardware(r): r["capex.affordable_facility_watts"] for r in priced}
    return Budget(plan, sum(row.headline["capex_usd"] for row, _ in targets),
                  sum(row.headline["facility_watts"] for row, _ in targets), fits, over, bought, watts,
                  {name: w * SECONDS_PER_YEAR / 3.6e6 for name, w in watts.items()})


def default_path() -> str:
    """configs/roadmap in the working directory, else the bundled roadmap scenarios (package data)."""
    from pathlib import Path

    from ..scenario.files import bundled_configs

    here = Path("configs/roadmap")
    folder = bundled_configs()
    return str(here if here.is_dir() or folder is None else folder / "roadmap")
