"""Summaries of the built-in presets, for `qwenfeas presets`.

Model rows are computed by the estimator itself (parameters, KV cache), so the
listing can never disagree with what a scenario using the preset reports.
"""

from __future__ import annotations

from ..errors import QwenfeasError, did_you_mean
from ..scenario import catalogue

KINDS = {"models": "model.preset", "accelerators": "hardware.preset", "systems": "hardware.system",
         "datacenters": "datacenter.preset", "grids": "datacenter.grid"}
# Any accelerator figures will do for a model row: they only feed time and power.
_PLACEHOLDER_HARDWARE = "hardware: {peak_flops: 1T, memory: 1TB, bandwidth: 1TB/s, tdp: 1W}"


def rows(kind: str) -> list[dict]:
    """One plain-number summary per preset of a kind ("models", "accelerators", ...)."""
    return [_row(kind, name) for name in catalogue.preset_names(KINDS[kind])]


def find(name: str) -> tuple[str, str, str]:
    """(kind, name as catalogued, file text) of the preset called `name` (any case), whatever its kind."""
    every = {n: kind for kind, key in KINDS.items() for n in catalogue.preset_names(key)}
    name = name.lower() if name.lower() in every else name
    if name not in every:
        raise QwenfeasError(f"no preset is called {name!r}", key="NAME",
                            hint=did_you_mean(name, every) or "list them with: qwenfeas presets")
    folder = catalogue.KINDS[KINDS[every[name]]][1]
    return every[name], name, (catalogue.PRESET_DIR / folder / f"{name}.yaml").read_text(encoding="utf-8")


def _row(kind: str, name: str) -> dict:
    from ..estimates import estimate
    from ..scenario.load import loads

    if kind == "models":
        scenario = loads(f"model: {{preset: {name}}}\ncontext: 1\n{_PLACEHOLDER_HARDWARE}\n", f"preset {name}")
        report = estimate(scenario)
        s = scenario.values
        layers = s["model.layers"]
        mix = s["model.attention.kind"]
        if "model.linear_attention.layers" in s:
            mix += f" + {s['model.linear_attention.layers']:g} linear of {layers:g}"
        if "model.attention.sliding_layers" in s:
            mix += f", {s['model.attention.sliding_layers']:g} sliding"
        return {"name": name, "params": report["model.params"], "active_params": report["model.active_params"],
                "layers": layers, "attention": mix, "kv_bytes_per_token": report["kv_cache.bytes_per_token"],
                "max_context": s.get("model.max_context"), "source": s.get("model.source", "")}
    section = {"accelerators": "hardware", "systems": "hardware", "datacenters": "datacenter", "grids": "datacenter"}[kind]
    key = KINDS[kind].split(".")[1]
    compute = ""
    if section == "hardware":  # a chip without bf16 (V100) is listed at a precision it has
        chip = name if kind == "accelerators" else catalogue.load_preset(KINDS[kind], name).value["preset"].value
        peaks = _peaks(chip)
        compute = f"precision: {{compute: {'bf16' if 'bf16' in peaks else next(iter(peaks))}}}\n"
    scenario = loads(f"model: {{layers: 1, hidden: 8, heads: 1, ffn_hidden: 8, vocab: 8}}\ncontext: 1\n{compute}"
                     f"{_PLACEHOLDER_HARDWARE if section != 'hardware' else ''}\n{section}: {{{key}: {name}}}\n",
                     f"preset {name}")
    s = scenario.values
    if kind == "accelerators":
        peaks = _peaks(name)
        return {"name": name, **{f"{p}_flops": peaks.get(p) for p in ("bf16", "fp8", "fp4")},
                "memory_bytes": s["hardware.memory"], "bandwidth_bytes_per_s": s["hardware.bandwidth"],
                "tdp_watts": s["hardware.tdp"], "scale_up_bytes_per_s": s.get("hardware.scale_up_bandwidth"),
                "scale_up_size": s.get("hardware.scale_up_size"), "system_watts": _stated(scenario, "hardware.system_power"),
                "rental_usd_per_hour": s.get("hardware.rental_price"),
                "rental_source": s.get("hardware.rental_price_source"), "source": s.get("hardware.source", "")}
    if kind == "systems":
        return {"name": name, "accelerator": s["hardware.preset"], "system_watts": _stated(scenario, "hardware.system_power"),
                "scale_up_size": s.get("hardware.scale_up_size"), "scale_up_bytes_per_s": s.get("hardware.scale_up_bandwidth"),
                "source": s.get("hardware.system_source", "")}
    if kind == "datacenters":
        return {"name": name, "pue": s["datacenter.pue"], "source": s.get("datacenter.source", "")}
    return {"name": name, "carbon_kg_per_kwh": s["datacenter.carbon"], "electricity_usd_per_kwh":
            s["datacenter.electricity"], "source": s.get("datacenter.grid_source", "")}


def _stated(scenario, key: str):
    """A value the preset states, or None when qwenfeas would derive it."""
    return scenario[key] if scenario.origins.get(key, "").startswith("preset ") else None


def _peaks(name: str) -> dict[str, float]:
    """Dense peak FLOP/s per precision, read through the unit grammar."""
    from ..scenario.units import parse_quantity

    node = catalogue.load_preset("hardware.preset", name).value.get("peak_flops")
    return {precision: parse_quantity(child.value, "flop_rate") for precision, child in node.value.items()}
