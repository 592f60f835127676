"""Systems, not just chips: IT power per accelerator, sustained draw, and honest rental prices (issue 14, item 3).

Every expected figure is typed in from the datasheet or paper named beside it and computed here by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qwenfeas
from qwenfeas.cli import app
from qwenfeas.errors import QwenfeasError
from qwenfeas.scenario import catalogue

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODEL = "model: {preset: qwen3-8b}\ncontext: 4K\n"

# system -> (accelerator preset, IT watts per accelerator by hand, scale-up domain)
SYSTEMS = {
    "dgx-h100": ("h100-sxm", 10_200 / 8, 8),  # NVIDIA DGX H100 datasheet: ~10.2 kW maximum for 8 GPUs
    "dgx-h200": ("h200", 10_200 / 8, 8),  # NVIDIA DGX H200 datasheet: ~10.2 kW
    "dgx-b200": ("b200", 14_300 / 8, 8),  # NVIDIA DGX B200 datasheet: ~14.3 kW
    "gb200-nvl72": ("gb200", 132_000 / 72, 72),  # ~132 kW power-shelf capacity per 72-GPU rack (performance.md 8.6)
    "gb300-nvl72": ("gb300", 135_000 / 72, 72),  # NVIDIA Mission Control FAQ: 135 kW GB300 NVL72 rack budget
    "tpu-ironwood-pod": ("tpu-ironwood", 10e6 / 9216, 9216),  # Google: "nearly 10 MW" per 9,216-chip pod
    "cloudmatrix-384": ("ascend-910c", 559_000 / 384, 384),  # SemiAnalysis: ~559 kW for 384 NPUs
    "tpu-v5p-pod": ("tpu-v5p", 320 * 1.5, 6144),  # no published power: tdp estimate x (1 + default overhead 0.5)
}


def test_every_system_preset_is_checked_here():
    assert set(catalogue.preset_names("hardware.system")) == set(SYSTEMS)


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_system_gives_its_accelerator_it_power_and_domain(run, name):
    accelerator, watts, domain = SYSTEMS[name]
    r = run(MODEL + f"hardware: {{system: {name}, count: {domain}}}\n")
    s = r.scenario
    assert (s["hardware.preset"], s["hardware.scale_up_size"]) == (accelerator, domain)
    assert s["hardware.system_power"] == pytest.approx(watts, rel=1e-3)
    assert r["power.it_watts"] == pytest.approx(domain * watts, rel=1e-3)
    assert s["hardware.system_source"].strip()


def test_default_scenario_facility_power_counts_the_servers_not_a_rack_overhead(run):
    # configs/default.yaml: 20,480 H200 in DGX H200 servers (10.2 kW per 8 GPUs, NVIDIA datasheet) at PUE 1.2.
    # The old facility preset applied an NVL72 rack's 0.4 overhead instead: 20,480 x 700 x 1.4 x 1.2 = 24.1 MW.
    r = qwenfeas.estimate(qwenfeas.load(CONFIGS / "default.yaml"))
    assert r["power.facility_watts"] == pytest.approx(20_480 * 10_200 / 8 * 1.2)  # 31.33 MW
    assert r["power.facility_watts"] == pytest.approx(31.3e6, rel=0.002)


def test_keys_written_beside_a_system_win(run):
    r = run(MODEL + "hardware: {system: dgx-h100, count: 16, system_power: 1.1 kW}\n")
    assert r["power.it_watts"] == 16 * 1100
    assert r.scenario["hardware.tdp"] == 700  # still the H100's


def test_sustained_draw_is_reported_beside_the_rated_upper_bound(run):
    # 8 H100 in a DGX at PUE 1.1: rated 10.2 kW x 1.1; training at 82% of it (Latif et al. 2024: 8.4 of
    # 10.2 kW), serving at 77% (inference.power_fraction; POLCA: 30% more servers in the same power, 1 / 1.3).
    r = run(MODEL + "tokens: 1B\nhardware: {preset: h100-sxm, count: 8}\ndatacenter: {pue: 1.1}\n")
    rated = 8 * 10_200 / 8 * 1.1
    assert r["power.facility_watts"] == pytest.approx(rated)
    assert r["power.sustained_training_watts"] == pytest.approx(rated * 0.82)
    assert r["power.sustained_serving_watts"] == pytest.approx(rated * 0.77)
    assert r["training.sustained_energy_kwh"] == pytest.approx(r["training.energy_kwh"] * 0.82)


def test_overhead_is_only_the_fallback_and_says_so(write):
    s = qwenfeas.load(write(MODEL + "hardware: {preset: tpu-v5p}\n"))
    assert s["hardware.system_power"] == pytest.approx(320 * 1.5)
    assert s.origins["hardware.system_power"].startswith("= hardware.tdp")
    s = qwenfeas.load(write(MODEL + "hardware: {preset: h200}\ndatacenter: {overhead: 0.4}\n"))
    assert s["hardware.system_power"] == 1275
    assert any("datacenter.overhead" in w and "not used" in w for w in s.warnings)


def test_every_rental_price_names_its_source_and_date():
    for name in catalogue.preset_names("hardware.preset"):
        preset = catalogue.load_preset("hardware.preset", name).value
        if "rental_price" in preset:
            source = preset["rental_price_source"].value
            assert any(str(year) in source for year in range(2023, 2027)), name


def test_prices_follow_the_accelerator(run):
    def base(name):
        return MODEL + f"tokens: 1T\nhardware: {{preset: {name}, count: 64}}\n"

    h200, b200 = run(base("h200")), run(base("b200"))
    # each pays its own sourced price: $3.50 (mercatus-ai, May 2026) and $4.50 (lyceum, March 2026)
    assert h200["training.cost_usd"] == pytest.approx(h200["training.gpu_hours"] * 3.50)
    assert b200["training.cost_usd"] == pytest.approx(b200["training.gpu_hours"] * 4.50)


def test_an_unknown_price_is_a_warning_in_the_table_and_the_json(write):
    plan = write(MODEL + "tokens: 1T\nhardware: {preset: b300, count: 64}\n")
    r = qwenfeas.estimate(qwenfeas.load(plan))
    assert "training.cost_usd" not in r.metrics
    result = CliRunner().invoke(app, ["estimate", str(plan), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert "no rental price is known for b300" in json.loads(result.stdout)["warnings"][0]
    table = CliRunner().invoke(app, ["estimate", str(plan)])
    assert "no rental price is known for b300" in table.stdout
    with pytest.raises(QwenfeasError, match="needs a rental price"):
        qwenfeas.load(write(MODEL + "tokens: 1T\nhardware: {preset: b300, count: 64}\nlimits: {budget: 1M}\n"))


def test_presets_show_h800():
    result = CliRunner().invoke(app, ["presets", "show", "h800"])
    assert result.exit_code == 0, result.output
    assert "NVLink" in result.stdout and "rental_price: 2.00 $/h" in result.stdout
