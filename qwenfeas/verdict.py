"""Verdicts: a report's estimates against the scenario's limits and expectations.

Each limit and each `expect:` line becomes a Check: pass or fail, by how much,
and, for a failing limit, the smallest change along one axis that would pass it
(closed forms: time falls as 1/accelerators, cost and energy grow with tokens).
A scenario is feasible when every check passes and the model fits in memory.
Expectations use a small grammar, `NAME OP VALUE` with OP one of < <= > >= == !=,
and VALUE read with the unit of NAME; nothing is evaluated as code.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from .errors import QwenfeasError, did_you_mean
from .formulas._array import is_array, maximum, where
from .report import SECTIONS, Report
from .scenario.units import format_quantity, parse_quantity

_EXPECTATION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*(.+?)\s*$")


def _close(a, b):
    """a == b to 1e-9 relative, element-wise over a sweep."""
    return abs(a - b) <= 1e-9 * maximum(abs(a), abs(b))


_OPERATORS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
              ">=": lambda a, b: a >= b, "==": _close, "!=": lambda a, b: ~_close(a, b) if is_array(a)
              else not _close(a, b)}
# display unit of a metric -> unit kind its bound is read as
_KINDS = {"s": "duration", "B": "bytes", "W": "power", "USD": "money", "kWh": "energy", "kg": "mass",
          "fraction": "fraction", "FLOP": "count", "count": "count", "h": "count", "tokens/s": "count"}


class Check(NamedTuple):
    """One limit or expectation and how the scenario fares against it."""

    name: str  # "limits.deadline", "expect[0]" or "memory"
    rule: str  # "training.seconds <= 90 days"
    passed: bool
    ratio: float  # how far along the bound: above 1 fails an upper bound
    message: str  # "needs 3.4x the accelerators available"
    remedy: str  # what would make it pass; empty when it passes
    file: str
    line: int | None


class Verdict(NamedTuple):
    """All checks of one scenario, whether it is feasible, and what binds it."""

    name: str
    file: str
    checks: list[Check]

    @property
    def feasible(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def binding(self) -> Check | None:
        """The failing check furthest over its bound, or, when all pass, the tightest one."""
        failing = [c for c in self.checks if not c.passed]
        pool = failing or self.checks
        return max(pool, key=lambda c: c.ratio) if pool else None


def judge(report: Report) -> Verdict:
    """Check a report against its scenario's limits, expectations and memory."""
    s = report.scenario
    checks = [_memory(report)]
    for key, check in _LIMITS.items():
        if f"limits.{key}" in s:
            result = check(report, s[f"limits.{key}"])
            if result is not None:
                checks.append(result)
    checks.extend(_expectation(report, index, text) for index, text in enumerate(s.get("expect", ())))
    return Verdict(s.name, s.file, checks)


def _where(report: Report, key: str) -> tuple[str, int | None]:
    return report.scenario.locations.get(key, (report.scenario.file, None))


def _upper(report, key: str, limit: float, what: str, remedy) -> Check | None:
    """A check that the output `limits.KEY` bounds stays at or below `limit`."""
    metric = LIMIT_METRICS[key]
    if metric not in report.metrics:
        return None
    value = report[metric]
    unit = report.metrics[metric].unit
    ratio = value / limit
    passed = ratio <= 1
    message = (f"{format_quantity(value, unit)} is within the {what} of {format_quantity(limit, unit)}" if passed
               else f"needs {ratio:.3g}x the {what} ({format_quantity(value, unit)} against {format_quantity(limit, unit)})")
    file, line = _where(report, f"limits.{key}")
    return Check(f"limits.{key}", f"{metric} <= {format_quantity(limit, unit)}", passed, ratio, message,
                 "" if passed else remedy(ratio), file, line)


def _deadline(report, limit):
    s = report.scenario

    def remedy(ratio):
        # time falls about as 1/accelerators (more data-parallel replicas); the layout must still tile them
        step = math.prod(report[f"layout.{k}"] for k in ("tensor", "pipeline", "context", "expert"))
        needed = (s["hardware.count"] - report["layout.idle_accelerators"]) * ratio
        count = math.ceil(needed * (1 - 1e-12) / step) * step
        options = [f"{count:,.0f} accelerators" + (f" (a multiple of the layout's {step:g})" if step > 1 else "")]
        if "(given)" in report.metrics["training.mfu"].label and report["training.mfu"] * ratio <= 1:
            options.append(f"MFU {report['training.mfu'] * ratio:.0%}")
        options.append(f"at most {format_quantity(s['tokens'] / ratio, 'count')} tokens")
        text = "would pass with " + " or ".join(options)
        from .training.step import faster_on_count

        first = faster_on_count(report)  # the user's own count first
        return f"{first}; {text}" if first else text
    return _upper(report, "deadline", limit, "deadline", remedy)


def _budget(report, limit):
    s = report.scenario

    def remedy(ratio):
        return (f"would pass at {format_quantity(s['datacenter.gpu_hour'] / ratio, 'USD/h')} per accelerator-hour "
                f"or with at most {format_quantity(s['tokens'] / ratio, 'count')} tokens")
    return _upper(report, "budget", limit, "budget", remedy)


def _power(report, limit):
    s = report.scenario

    def remedy(ratio):
        count = math.floor(report["power.accelerators"] / ratio)
        text = f"at most {count:,} accelerators fit the power"
        if s["datacenter.pue"] / ratio >= 1:
            text += f", or all of them at a PUE of {s['datacenter.pue'] / ratio:.2f}"
        return text
    return _upper(report, "power", limit, "power", remedy)


def _accelerators(report, limit):
    def remedy(ratio):
        if "training.seconds" in report.metrics:
            return (f"with {limit:,.0f} accelerators training takes "
                    f"{format_quantity(report['training.seconds'] * ratio, 's')}")
        return "serve a smaller model or a shorter context"
    return _upper(report, "accelerators", limit, "accelerators available", remedy)


def _energy(report, limit):
    s = report.scenario
    return _upper(report, "energy", limit, "energy",
                  lambda ratio: f"would pass with at most {format_quantity(s['tokens'] / ratio, 'count')} tokens")


def _co2(report, limit):
    s = report.scenario
    return _upper(report, "co2", limit, "CO2 limit",
                  lambda ratio: f"would pass on a grid of at most {s['datacenter.carbon'] / ratio:.3g} kg/kWh")


def _capex(report, limit):
    def remedy(ratio):
        each = report["capex.per_accelerator_usd"]
        return (f"the budget buys {report['capex.affordable_accelerators']:,.0f} accelerators at "
                f"{format_quantity(each, 'USD')} each, all in; or all of them at {format_quantity(each / ratio, 'USD')}")
    return _upper(report, "capex", limit, "capital budget", remedy)


# the output each limit bounds from above
LIMIT_METRICS = {"deadline": "training.seconds", "budget": "training.cost_usd", "power": "power.facility_watts",
                 "accelerators": "power.accelerators", "energy": "training.energy_kwh", "co2": "training.co2_kg",
                 "capex": "capex.fleet_usd", "ttft": "inference.ttft_seconds", "tpot": "inference.tpot_seconds"}


def _latency(key: str, what: str):
    def check(report, limit):
        from .serving.limits import latency_remedy

        return _upper(report, key, limit, what, lambda ratio: latency_remedy(report, key))
    return check


_LIMITS = {"deadline": _deadline, "capex": _capex, "budget": _budget, "power": _power, "accelerators": _accelerators,
           "energy": _energy, "co2": _co2, "ttft": _latency("ttft", "time-to-first-token limit"),
           "tpot": _latency("tpot", "time-per-output-token limit")}


def _memory_ratio(report: Report, headroom):
    """Training memory per accelerator over its usable share, or serving accelerators needed over those given."""
    if "training_memory.fill" in report.metrics:
        return report["training_memory.fill"] / (1 - headroom)
    from .serving.limits import memory_ratio

    return memory_ratio(report, headroom)


def margins(report: Report) -> dict[str, tuple]:
    """Every check of `judge` as (ratio, passed), element-wise over a sweep: the verdict without the words.

    The ratio is how far along its bound a value is (above 1 fails an upper bound); it ranks
    the checks to name the binding one.
    """
    s = report.scenario
    ratio = _memory_ratio(report, s.get("limits.memory_headroom", 0.0))
    out = {"memory": (ratio, ratio <= 1)}
    for key, metric in LIMIT_METRICS.items():
        if f"limits.{key}" in s and metric in report.metrics:
            ratio = report[metric] / s[f"limits.{key}"]
            out[f"limits.{key}"] = (ratio, ratio <= 1)
    for index, text in enumerate(s.get("expect", ())):
        name, operator, bound = read_condition(report, text, **_location(report, f"expect[{index}]"))
        value = report[name]
        out[f"expect[{index}]"] = (_condition_ratio(value, operator, bound), _OPERATORS[operator](value, bound))
    return out


def _memory(report: Report) -> Check:
    """The model must fit: training memory per accelerator, or the serving replica."""
    s = report.scenario
    headroom = s.get("limits.memory_headroom", 0.0)
    file, line = _where(report, "limits.memory_headroom")
    if "training_memory.fill" in report.metrics:
        ratio = _memory_ratio(report, headroom)
        passed = ratio <= 1
        label = report.metrics["training_memory.fill"].label
        remedy = ""
        if not passed:
            remedy = _training_memory_remedy(report, headroom)
        return Check("memory", "training memory per accelerator fits", passed, ratio,
                     f"training memory {label}", remedy, file, line)
    from .serving.limits import memory_remedy, requested_per_replica

    batch = requested_per_replica(report)
    ratio = _memory_ratio(report, headroom)
    passed = ratio <= 1
    remedy = "" if passed else memory_remedy(report, headroom)
    return Check("memory", f"weights and {batch:g} sequence caches per replica fit", passed, ratio,
                 f"each accelerator needs {ratio:.0%} of its usable memory", remedy, file, line)


def _training_memory_remedy(report: Report, headroom: float) -> str:
    """What fits instead: the layout found by the search, a smaller model, a smaller micro-batch.

    Model states grow with the parameter count and activations with the micro-batch,
    so at the stated layout the largest of each that fits is a ratio.
    """
    room = report.terms["training_usable_memory"].value * (1 - headroom)
    states = sum(report[f"training_memory.{k}_bytes"] for k in ("weights", "gradients", "optimizer"))
    activations = report["training_memory.activations_bytes"]
    options = []
    if "training_layout_on_count" in report.terms:  # the user's own count first
        options.append(report.terms["training_layout_on_count"].label)
    if "training_memory.min_accelerators" in report.metrics:
        layout = " × ".join(f"{report[f'training_memory.min_{k}_parallel']:g}"
                            for k in ("tensor", "pipeline", "context", "data"))
        options.append(f"fits on {report['training_memory.min_accelerators']:,.0f} accelerators as tensor × "
                       f"pipeline × context × data = {layout}")
    if room > activations:
        options.append(f"at this layout the largest model that fits has "
                       f"{format_quantity(report['model.params'] * (room - activations) / states, 'count')} parameters")
    per_sequence = activations / report["layout.micro_batch"]
    if room > states and room - states >= per_sequence:
        options.append(f"a micro-batch of {math.floor((room - states) / per_sequence):,} fits")
    return "; ".join(options) or "shard more: raise parallel.tensor, parallel.pipeline or parallel.zero"


def _location(report: Report, key: str) -> dict:
    file, line = _where(report, key)
    return {"file": file, "line": line, "key": key}


def read_condition(report: Report, text: str, file=None, line=None, key=None) -> tuple[str, str, float]:
    """Read `NAME OP VALUE` (an `expect:` line or a sweep's --where) as (name, operator, bound).

    VALUE is read in the unit of NAME's output ("90d" for seconds, "1.5 TB" for bytes).
    """
    match = _EXPECTATION.match(text)
    if not match:
        raise QwenfeasError(f"cannot read {text!r}", file=file, line=line, key=key,
                            hint="write NAME OP VALUE, e.g. 'training.seconds < 90d' (OP: < <= > >= == !=)")
    name, operator, bound_text = match.groups()
    if name not in report.metrics:
        raise QwenfeasError(f"{name!r} is not an output of this scenario", file=file, line=line, key=key,
                            hint=_unknown_output_hint(report, name))
    try:
        bound = parse_quantity(bound_text, _KINDS.get(report.metrics[name].unit, "number"))
    except ValueError as exc:
        raise QwenfeasError(f"{name}: {exc}", file=file, line=line, key=key) from None
    return name, operator, bound


def holds(value, operator: str, bound: float):
    """Whether `value OP bound` holds, element-wise over a sweep."""
    return _OPERATORS[operator](value, bound)


def _condition_ratio(value, operator: str, bound: float):
    """How far along its bound a value is: value / bound for < and <=, bound / value otherwise."""
    if not bound:
        return 0.0 * value
    if operator in ("<", "<="):
        return value / bound
    if is_array(value):
        return where(value != 0, bound / where(value != 0, value, 1.0), math.inf)
    return bound / value if value else math.inf


def _expectation(report: Report, index: int, text: str) -> Check:
    key = f"expect[{index}]"
    file, line = _where(report, key)
    name, operator, bound = read_condition(report, text, file, line, key)
    unit = report.metrics[name].unit
    value = report[name]
    passed = _OPERATORS[operator](value, bound)
    ratio = _condition_ratio(value, operator, bound)
    shown = f"{name} = {format_quantity(value, unit)}"
    message = f"{shown} {'holds' if passed else 'fails'} {operator} {format_quantity(bound, unit)}"
    return Check(key, text.strip(), passed, ratio, message, "", file, line)


def _unknown_output_hint(report: Report, name: str) -> str:
    hint = did_you_mean(name, report.metrics)
    if hint:
        return hint
    section = name.split(".", 1)[0]
    if section in SECTIONS:
        return f"this scenario has no {name}: {section} outputs need their inputs (training needs tokens)"
    return "list the outputs with: qwenfeas estimate FILE --format json"
