"""Accounting: power, energy, CO2, rental and electricity cost, synthetic data and capital cost."""

from __future__ import annotations

from .architecture import Layers, attention_work
from .formulas import flops as F
from .formulas import memory as M
from .formulas import power as W
from .formulas import time as T
from .formulas._array import any_true, show
from .report import Builder


def add_accounting(b: Builder, s: dict, layers: Layers, generator_flops=None) -> None:
    """Power and training footprint; synthetic data and capex when the scenario asks for them.

    `generator_flops(preset, context)` gives a named generator model's forward FLOPs for one
    sequence (the pipeline supplies it, since it needs a whole estimate of that model).
    A `measured:` section replaces the predicted training time first, so energy, CO2 and cost
    follow from the run that happened.
    """
    if any(key.startswith("measured.") for key in s):
        _measured(b, s)
    _power(b, s)
    if "synthetic.tokens" in s:
        _synthetic(b, s, layers, generator_flops)
    if "capex.accelerator" in s:
        _capex(b, s)
    _missing_price(b, s)


_TIMED = ("measured.gpu_hours", "measured.days", "measured.tokens_per_second", "measured.flops_per_accelerator")


def _measured(b: Builder, s: dict) -> None:
    """Facts of a finished run replace the predictions they cover (DESIGN.md principle 8).

    The first of gpu_hours, days, tokens_per_second, flops_per_accelerator gives the wall-clock
    time and the accelerator-hours; MFU becomes an output derived from it and the model FLOPs;
    the others, when also given, are checked against it. measured.power is used in _power.
    The figures replaced are training.* and stay in the training table (a metric's default table).
    """
    r = b.report
    given = [key for key in _TIMED if key in s]
    if not given:
        return
    n, flops = s["hardware.count"], r.metrics.get("training.flops")
    predicted = r.metrics.get("training.seconds")
    seconds = {
        "measured.gpu_hours": lambda: T.seconds_from_accelerator_hours(s["measured.gpu_hours"], n),
        "measured.days": lambda: s["measured.days"],
        "measured.tokens_per_second": lambda: s["tokens"] / s["measured.tokens_per_second"],
        "measured.flops_per_accelerator": lambda: T.compute_seconds(flops.value, n, s["measured.flops_per_accelerator"],
                                                                    1.0),
    }
    formulas = {
        "measured.gpu_hours": "{measured.gpu_hours} × 3600 / {hardware.count}",
        "measured.days": "{measured.days}",
        "measured.tokens_per_second": "{tokens} / {measured.tokens_per_second}",
        "measured.flops_per_accelerator": "{training.flops} / ({hardware.count} × {measured.flops_per_accelerator})",
    }
    first = given[0]
    time = b.put("training.seconds", seconds[first](), "s", "wall-clock time (measured)",
                 formulas[first] + " (measured)")
    hours = s["measured.gpu_hours"] if first == "measured.gpu_hours" else T.accelerator_hours(n, time)
    b.put("training.gpu_hours", hours, "h", "accelerator-hours (measured)",
          "{measured.gpu_hours} (measured)" if first == "measured.gpu_hours"
          else "{hardware.count} × {training.seconds} / 3600 (measured)", T.accelerator_hours)
    r.measured.extend(["training.seconds", "training.gpu_hours"])
    if "training.wall_clock_seconds" in r.metrics:  # the run as it happened: its stops are already in the time
        b.put("training.wall_clock_seconds", time, "s", "wall-clock time (measured)", "{training.seconds} (measured)")
        r.measured.append("training.wall_clock_seconds")
    if "training.step_seconds" in r.metrics:
        b.put("training.step_seconds", time * s["training.batch_tokens"] / s["tokens"], "s",
              "one optimizer step, on average (measured)",
              "{training.seconds} / ({tokens} / {training.batch_tokens}) (measured)")
        r.measured.append("training.step_seconds")
    if flops is not None:
        b.put("training.mfu", flops.value / (time * n * s["hardware.peak_flops"]), "fraction",
              "model FLOPs utilisation, from the measured time",
              "{training.flops} / ({training.seconds} × {hardware.count} × {hardware.peak_flops})")
        r.measured.append("training.mfu")
    if predicted is not None:
        r.notes.append(f"measured {first.split('.')[1]} replaces the predicted training time "
                       f"({show(predicted.value / 86400, '.3g')} days -> {show(time / 86400, '.3g')} days)")
    for other in given[1:]:
        if any_true(abs(seconds[other]() / time - 1) > 0.05):
            r.warnings.append(f"{other} gives {show(seconds[other]() / 86400, '.3g')} days, {first} "
                              f"{show(time / 86400, '.3g')} days: the measured facts disagree by more than 5%")


def _missing_price(b: Builder, s: dict) -> None:
    """No rental price known: say so, in the table and the JSON, rather than assume one.

    Every estimate has a rental cost to report (serving always gives its cost per million tokens), so
    the warning depends on the price alone.
    """
    if "datacenter.gpu_hour" in s:
        return
    accelerator = s.get("hardware.preset", "this accelerator")
    b.report.warnings.append(f"no rental price is known for {accelerator}: rental costs are not reported; give "
                             "datacenter.gpu_hour (e.g. 2.50 $/h) with its source")


def _power(b: Builder, s: dict) -> None:
    r = b.report
    if "hardware.count" in s:
        n = b.put("power.accelerators", s["hardware.count"], "count", "accelerators powered", "{hardware.count}")
    else:
        n = b.put("power.accelerators", r["inference.accelerators"], "count", "accelerators powered",
                  "{inference.accelerators} (no hardware.count: one serving replica)")
    b.put("power.accelerator_watts", n * s["hardware.tdp"], "W", "accelerators at TDP",
          "{power.accelerators} × {hardware.tdp}")
    measured = "measured.power" in s
    if measured:
        it = b.put("power.it_watts", W.it_watts(n, s["measured.power"]), "W", "IT load (measured)",
                   "{power.accelerators} × {measured.power} (measured)", W.it_watts)
    else:
        it = b.put("power.it_watts", W.it_watts(n, s["hardware.system_power"]), "W",
                   "IT load, rated (accelerators in their systems)", "{power.accelerators} × {hardware.system_power}",
                   W.it_watts)
    facility = b.put("power.facility_watts", W.facility_watts(it, s["datacenter.pue"]), "W",
                     "facility power" + (" (measured)" if measured else ", rated: the upper bound"),
                     "{power.it_watts} × {datacenter.pue}", W.facility_watts)
    if not measured:
        b.put("power.sustained_training_watts", W.sustained_watts(facility, s["hardware.training_power_fraction"]),
              "W", "facility power, sustained while training", "{power.facility_watts} × "
              "{hardware.training_power_fraction}", W.sustained_watts)
        b.put("power.sustained_serving_watts", W.sustained_watts(facility, s["inference.power_fraction"]),
              "W", "facility power, sustained while serving", "{power.facility_watts} × "
              "{inference.power_fraction}", W.sustained_watts)
    if "training.seconds" not in r.metrics:
        return
    energy = b.put("training.energy_kwh", W.energy_kwh(facility, r["training.seconds"]), "kWh",
                   "training energy (facility" + (", measured power)" if measured else ", rated power)"),
                   "{power.facility_watts} × {training.seconds} / 3.6e6", W.energy_kwh, table="power")
    b.put("training.co2_kg", W.co2_kg(energy, s["datacenter.carbon"]), "kg", "training CO2e",
          "{training.energy_kwh} × {datacenter.carbon}", W.co2_kg, table="power")
    if not measured:
        sustained = b.put("training.sustained_energy_kwh", W.energy_kwh(r["power.sustained_training_watts"],
                          r["training.seconds"]), "kWh", "training energy at the sustained draw",
                          "{power.sustained_training_watts} × {training.seconds} / 3.6e6", W.energy_kwh,
                          table="power")
        b.put("training.sustained_co2_kg", W.co2_kg(sustained, s["datacenter.carbon"]), "kg",
              "training CO2e at the sustained draw", "{training.sustained_energy_kwh} × {datacenter.carbon}",
              W.co2_kg, table="power")
    if "datacenter.gpu_hour" in s:
        b.put("training.cost_usd", W.rental_cost_usd(r["training.gpu_hours"], s["datacenter.gpu_hour"]), "USD",
              "training rental cost", "{training.gpu_hours} × {datacenter.gpu_hour}", W.rental_cost_usd,
              table="power")
    b.put("training.electricity_cost_usd", W.electricity_cost_usd(energy, s["datacenter.electricity"]), "USD",
          "training electricity (owner-operator)", "{training.energy_kwh} × {datacenter.electricity}",
          W.electricity_cost_usd, table="power")


def _synthetic(b: Builder, s: dict, layers: Layers, generator_flops) -> None:
    """What generating the synthetic tokens costs on the scenario's fleet, next to training on them."""
    r = b.report
    C = s["synthetic.context"]
    generator = s.get("synthetic.generator")
    if generator is None:
        attention, _ = attention_work(r, layers, 0, C)
        sequence = F.forward_flops(r["model.matmul_params"], C, 1.0, attention)
        who = "the scenario's model"
    else:
        sequence = generator_flops(generator, C)
        who = generator
    b.term("generated_sequence_flops", sequence, "FLOP", f"forward FLOPs of one {show(C, ',.0f')}-token sequence "
           f"({who})", "2 × N × {synthetic.context} + causal attention over it", F.forward_flops)
    generated = b.put("synthetic.generated_tokens", s["synthetic.tokens"] / s["synthetic.keep"], "count",
                      "tokens generated (before filtering)", "{synthetic.tokens} / {synthetic.keep}")
    flops = b.put("synthetic.flops", F.generation_flops(generated, sequence, C),
                  "FLOP", f"generation FLOPs ({who})",
                  "{synthetic.generated_tokens} × {generated_sequence_flops} / {synthetic.context}",
                  F.generation_flops)
    n = s["hardware.count"]
    seconds = b.put("synthetic.seconds", T.compute_seconds(flops, n, s["hardware.peak_flops"], s["synthetic.mfu"]),
                    "s", "generation time on the fleet",
                    "{synthetic.flops} / ({hardware.count} × {hardware.peak_flops} × {synthetic.mfu})",
                    T.compute_seconds)
    hours = b.put("synthetic.gpu_hours", T.accelerator_hours(n, seconds), "h", "accelerator-hours",
                  "{hardware.count} × {synthetic.seconds} / 3600", T.accelerator_hours)
    energy = b.put("synthetic.energy_kwh", W.energy_kwh(r["power.facility_watts"], seconds), "kWh",
                   "generation energy (facility)", "{power.facility_watts} × {synthetic.seconds} / 3.6e6", W.energy_kwh)
    b.put("synthetic.co2_kg", W.co2_kg(energy, s["datacenter.carbon"]), "kg", "generation CO2e",
          "{synthetic.energy_kwh} × {datacenter.carbon}", W.co2_kg)
    if "datacenter.gpu_hour" in s:
        b.put("synthetic.cost_usd", W.rental_cost_usd(hours, s["datacenter.gpu_hour"]), "USD",
              "generation rental cost", "{synthetic.gpu_hours} × {datacenter.gpu_hour}", W.rental_cost_usd)
    if "training.flops" in r.metrics:
        b.put("synthetic.fraction_of_training", flops / r["training.flops"], "fraction",
              "generation FLOPs over training FLOPs", "{synthetic.flops} / {training.flops}")


def _capex(b: Builder, s: dict) -> None:
    """What building the fleet costs, all in, and what a capital budget (limits.capex) buys."""
    r = b.report
    it_each = s["hardware.system_power"]
    each = b.put("capex.per_accelerator_usd", W.capex_per_accelerator_usd(
        s["capex.accelerator"], s["capex.server"], s["capex.network"], s["capex.facility_per_mw"], it_each), "USD",
        "all-in capital cost per accelerator", "{capex.accelerator} + {capex.server} + {capex.network} + "
        "{capex.facility_per_mw} × {hardware.system_power} / 1e6", W.capex_per_accelerator_usd)
    b.put("capex.fleet_usd", r["power.accelerators"] * each, "USD", "capital cost of the fleet",
          "{power.accelerators} × {capex.per_accelerator_usd}")
    if "limits.capex" in s:
        affordable = b.put("capex.affordable_accelerators", M.floor_div(s["limits.capex"], each), "count",
                           "accelerators the capital budget buys", "floor({limits.capex} / {capex.per_accelerator_usd})")
        b.put("capex.affordable_facility_watts", W.facility_watts(W.it_watts(affordable, s["hardware.system_power"]),
              s["datacenter.pue"]), "W", "facility power they draw",
              "{capex.affordable_accelerators} × {hardware.system_power} × {datacenter.pue}", W.facility_watts)
