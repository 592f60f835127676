"""Accounting: power, energy, CO2, rental and electricity cost, synthetic data and capital cost."""

from __future__ import annotations

from .architecture import Layers, attention_work
from .formulas import flops as F
from .formulas import memory as M
from .formulas import power as W
from .formulas import time as T
from .formulas._array import show
from .report import Builder


def add_accounting(b: Builder, s: dict, layers: Layers, generator_flops=None) -> None:
    """Power and training footprint; synthetic data and capex when the scenario asks for them.

    `generator_flops(preset, context)` gives a named generator model's forward FLOPs for one
    sequence (the pipeline supplies it, since it needs a whole estimate of that model).
    """
    _power(b, s)
    if "synthetic.tokens" in s:
        _synthetic(b, s, layers, generator_flops)
    if "capex.accelerator" in s:
        _capex(b, s)


def _power(b: Builder, s: dict) -> None:
    r = b.report
    if "hardware.count" in s:
        n = b.put("power.accelerators", s["hardware.count"], "count", "accelerators powered", "{hardware.count}")
    else:
        n = b.put("power.accelerators", r["inference.accelerators"], "count", "accelerators powered",
                  "{inference.accelerators} (no hardware.count: one serving replica)")
    b.put("power.accelerator_watts", n * s["hardware.tdp"], "W", "accelerators at TDP",
          "{power.accelerators} × {hardware.tdp}")
    it = b.put("power.it_watts", W.it_watts(n, s["hardware.tdp"], s["datacenter.overhead"]), "W", "IT load",
               "{power.accelerator_watts} × (1 + {datacenter.overhead})", W.it_watts)
    facility = b.put("power.facility_watts", W.facility_watts(it, s["datacenter.pue"]), "W", "facility power",
                     "{power.it_watts} × {datacenter.pue}", W.facility_watts)
    if "tokens" not in s:
        return
    energy = b.put("training.energy_kwh", W.energy_kwh(facility, r["training.seconds"]), "kWh",
                   "training energy (facility)", "{power.facility_watts} × {training.seconds} / 3.6e6",
                   W.energy_kwh, table="power")
    b.put("training.co2_kg", W.co2_kg(energy, s["datacenter.carbon"]), "kg", "training CO2e",
          "{training.energy_kwh} × {datacenter.carbon}", W.co2_kg, table="power")
    b.put("training.cost_usd", W.rental_cost_usd(r["training.gpu_hours"], s["datacenter.gpu_hour"]), "USD",
          "training rental cost", "{training.gpu_hours} × {datacenter.gpu_hour}", W.rental_cost_usd, table="power")
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
    b.put("synthetic.cost_usd", W.rental_cost_usd(hours, s["datacenter.gpu_hour"]), "USD", "generation rental cost",
          "{synthetic.gpu_hours} × {datacenter.gpu_hour}", W.rental_cost_usd)
    if "training.flops" in r.metrics:
        b.put("synthetic.fraction_of_training", flops / r["training.flops"], "fraction",
              "generation FLOPs over training FLOPs", "{synthetic.flops} / {training.flops}")


def _capex(b: Builder, s: dict) -> None:
    """What building the fleet costs, all in, and what a capital budget (limits.capex) buys."""
    r = b.report
    it_each = s["hardware.tdp"] * (1 + s["datacenter.overhead"])
    each = b.put("capex.per_accelerator_usd", W.capex_per_accelerator_usd(
        s["capex.accelerator"], s["capex.server"], s["capex.network"], s["capex.facility_per_mw"], it_each), "USD",
        "all-in capital cost per accelerator", "{capex.accelerator} + {capex.server} + {capex.network} + "
        "{capex.facility_per_mw} × {hardware.tdp} × (1 + {datacenter.overhead}) / 1e6", W.capex_per_accelerator_usd)
    b.put("capex.fleet_usd", r["power.accelerators"] * each, "USD", "capital cost of the fleet",
          "{power.accelerators} × {capex.per_accelerator_usd}")
    if "limits.capex" in s:
        affordable = b.put("capex.affordable_accelerators", M.floor_div(s["limits.capex"], each), "count",
                           "accelerators the capital budget buys", "floor({limits.capex} / {capex.per_accelerator_usd})")
        b.put("capex.affordable_facility_watts", W.facility_watts(W.it_watts(affordable, s["hardware.tdp"],
              s["datacenter.overhead"]), s["datacenter.pue"]), "W", "facility power they draw",
              "{capex.affordable_accelerators} × {hardware.tdp} × (1 + {datacenter.overhead}) × {datacenter.pue}",
              W.facility_watts)
