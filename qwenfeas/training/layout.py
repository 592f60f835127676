"""Which training layout a scenario runs: the one it states, or the fastest that fits its accelerators.

A degree (parallel.tensor, .pipeline, .expert, .context, .data) the user writes is held as written.
When the scenario writes none of them, every degree is searched for `hardware.count`, and so is the
way the layout runs (micro-batch, schedule, virtual stages, ZeRO stage, recompute) where not written.
When it writes some degrees, the others keep their documented defaults; the way it runs is searched
where silent only if part of its parallel keys is written (a schedule without its virtual stages), else the
documented defaults hold (1F1B, micro-batch 1, ZeRO-1, selective recompute): a stated layout is
checked as stated.
"""

from __future__ import annotations

from typing import NamedTuple

from ..formulas import pipeline as PL
from ..formulas import training_memory as TM
from ..formulas._array import is_array
from . import layout_search as LS

_DEGREES = ("tensor", "pipeline", "expert", "context", "data")
_HOW = ("micro_batch", "zero", "schedule", "virtual_stages")


class Chosen(NamedTuple):
    layout: dict  # layout_search.KEYS -> number (or sweep array)
    searched: bool  # qwenfeas chose some of it
    choice: LS.Choice | None  # the search, when one ran


def written(s, key: str) -> bool:
    """Whether the user (or a preset) wrote a key, as opposed to a default or a derived value (a
    loaded Scenario gives every key an origin: the file and line, the preset, "default: ..." or "= ...")."""
    origin = s.origins.get(key, "")
    return key in s and not (origin.startswith("default:") or origin.startswith("= "))


def given_utilisation(s) -> str:
    """"hfu" or "mfu" when the scenario gives that utilisation (the time then follows it), else ""."""
    return next((key for key in ("hfu", "mfu") if written(s, f"hardware.{key}")), "")


def stated(s) -> dict:
    """The layout the scenario's values give, defaults filled: 1F1B, one virtual stage."""
    layout = {key: s[f"parallel.{key}"] for key in (*_DEGREES, "micro_batch", "zero")}
    schedule = s.get("parallel.schedule", "1f1b")
    layout["schedule"] = float(PL.SCHEDULES.index(schedule))
    layout["virtual_stages"] = s.get("parallel.virtual_stages", 1.0)
    layout["recompute"] = float(TM.RECOMPUTE.index(s["training.recompute"]))
    return layout


def choose_layout(b, s, work) -> Chosen:
    """The layout to estimate, searched where the scenario leaves it open (not across a sweep)."""
    scenario = b.report.scenario
    layout = stated(s)
    any_degree = any(written(scenario, f"parallel.{k}") for k in _DEGREES)
    fixed = {key: layout[key] for key in _DEGREES} if any_degree else {}
    for key in _HOW:
        if written(scenario, f"parallel.{key}"):
            fixed[key] = layout[key]
    if written(scenario, "parallel.schedule"):  # held by the loop above; one virtual stage unless interleaved
        if layout["schedule"] != PL.INTERLEAVED:
            fixed["virtual_stages"] = 1.0
    if written(scenario, "training.recompute"):
        fixed["recompute"] = layout["recompute"]
    how_written = any(written(scenario, f"parallel.{k}") for k in ("schedule", "virtual_stages", "micro_batch", "zero"))
    if set(fixed) >= set(LS.KEYS) or (any_degree and not how_written):
        return Chosen(layout, False, None)  # stated: checked as stated, documented defaults where silent
    if any(is_array(value) for value in s.values()):
        b.report.notes.append("a sweep is estimated on the stated layout (defaults where it is silent): the layout "
                              "search runs on one scenario at a time")
        return Chosen(layout, False, None)
    choice = LS.search(work, s["hardware.count"], fixed, given_utilisation(scenario))
    if choice is None:
        b.report.notes.append("no layout of the accelerators fits memory: the stated layout is shown")
        return Chosen(layout, False, None)
    return Chosen(choice.layout, True, choice)
