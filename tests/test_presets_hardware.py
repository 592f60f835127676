"""Accelerator, facility and grid presets against the figures their sources publish.

Every expected value below is typed in from the datasheet, spec page or paper
named in the comment beside it, independently of the YAML file, so a slip in
either shows up as a failure. Dense = without 2:4 structured sparsity; where a
vendor quotes only the sparse figure, the comment shows the halving.
Scale-up bandwidth is one direction: vendors quote both directions summed, and
the comment shows that figure and the halving.
"""

from __future__ import annotations

import pytest

import qwenfeas
from qwenfeas.errors import QwenfeasError
from qwenfeas.scenario import catalogue

T = 1e12  # TFLOP/s
GB = 1e9
GiB = 2.0**30
Gbit = 1e9 / 8  # one gigabit per second, in bytes per second
PRECISIONS = ("fp32", "bf16", "fp16", "fp8", "int8", "fp4", "int4")


def chip(peak, memory, bandwidth, tdp, scale_up, scale_up_size, scale_out=None):
    return {"peak": peak, "memory": memory, "bandwidth": bandwidth, "tdp": tdp,
            "scale_up": scale_up, "scale_up_size": scale_up_size, "scale_out": scale_out}


CHIPS = {
    # NVIDIA A100 datasheet: BF16/FP16 312 TFLOPS dense (624 sparse), FP32 19.5, 80 GB HBM2e, 2,039 GB/s,
    # 400 W max TDP, NVLink3 600 GB/s (both directions); DGX A100: 8 x ConnectX-6 200 Gb/s HDR.
    "a100-sxm-80gb": chip({"bf16": 312 * T, "fp16": 312 * T, "fp32": 19.5 * T}, 80 * GB, 2039 * GB, 400,
                          600 * GB / 2, 8, 200 * Gbit),
    # NVIDIA H100 datasheet (SXM): BF16 1,979 / FP8 3,958 TFLOPS sparse -> 989 / 1,979 dense, FP32 67,
    # 80 GB, 3.35 TB/s, 700 W, NVLink4 900 GB/s; DGX H100: 8 x ConnectX-7 400 Gb/s.
    "h100-sxm": chip({"bf16": 989 * T, "fp16": 989 * T, "fp8": 1979 * T, "fp32": 67 * T}, 80 * GB, 3.35e12, 700,
                     900 * GB / 2, 8, 400 * Gbit),
    # NVIDIA H800 product brief: the H100 SXM5's tensor cores, HBM3 and TDP; NVLink 400 GB/s both directions;
    # one 400 Gb/s ConnectX-7 per GPU (DeepSeek-V3 report, sec. 3.1).
    "h800": chip({"bf16": 989 * T, "fp16": 989 * T, "fp8": 1979 * T, "fp32": 67 * T}, 80 * GB, 3.35e12, 700,
                 400 * GB / 2, 8, 400 * Gbit),
    # NVIDIA H100 datasheet (PCIe): BF16 1,513 / FP8 3,026 sparse -> 756 / 1,513 dense, FP32 51, 80 GB,
    # 2 TB/s, 300-350 W, PCIe Gen5 128 GB/s (both directions).
    "h100-pcie": chip({"bf16": 756 * T, "fp16": 756 * T, "fp8": 1513 * T, "fp32": 51 * T}, 80 * GB, 2e12, 350,
                      128 * GB / 2, 8),
    # NVIDIA H200 product page: H100 compute, 141 GB HBM3e, 4.8 TB/s, 700 W, NVLink 900 GB/s; DGX H200 as DGX H100.
    "h200": chip({"bf16": 989 * T, "fp16": 989 * T, "fp8": 1979 * T, "fp32": 67 * T}, 141 * GB, 4.8e12, 700,
                 900 * GB / 2, 8, 400 * Gbit),
    # HGX H20 spec as reported by SemiAnalysis / The Register (2023): FP8 296, BF16 148 TFLOPS
    # (H100 = 6.68x = 989/148, so dense), 96 GB HBM3, 4.0 TB/s, 400 W, NVLink 900 GB/s, 8-way HGX.
    "h20": chip({"bf16": 148 * T, "fp16": 148 * T, "fp8": 296 * T}, 96 * GB, 4e12, 400, 900 * GB / 2, 8),
    # NVIDIA DGX B200 datasheet: per 8 GPUs 72 PFLOPS FP8 / 144 PFLOPS FP4 sparse -> 4.5 / 9 PFLOPS dense per
    # GPU, 1,440 GB (180 GB per GPU), 64 TB/s; 1000 W max TGP; NVLink5 1.8 TB/s; 8 x ConnectX-7 400 Gb/s.
    "b200": chip({"bf16": 2250 * T, "fp16": 2250 * T, "fp8": 4500 * T, "fp4": 9000 * T}, 180 * GB, 8e12, 1000,
                 1800 * GB / 2, 8, 400 * Gbit),
    # NVIDIA HGX page, HGX B300: FP4 "144 | 108 PFLOPS" sparse | dense per 8 GPUs -> 13.5 dense per GPU;
    # FP8 72 and BF16 36 PFLOPS sparse -> 4.5 / 2.25 dense per GPU. Blackwell Ultra datasheet, HGX B300:
    # 270 GB, 7.7 TB/s, up to 1,100 W; NVLink5 1.8 TB/s. DGX B300: 8 x ConnectX-8 800 Gb/s.
    "b300": chip({"bf16": 2250 * T, "fp16": 2250 * T, "fp8": 4500 * T, "fp4": 13500 * T}, 270 * GB, 7.7e12, 1100,
                 1800 * GB / 2, 8, 800 * Gbit),
    # NVIDIA GB200 NVL72 page / Blackwell datasheet: NVFP4 "1,440 | 720 PFLOPS" per rack -> 10 dense per GPU;
    # FP8 10, BF16 5 PFLOPS sparse per GPU -> 5 / 2.5 dense; 186 GB, 8 TB/s, up to 1,200 W; NVLink5 1.8 TB/s,
    # 72 GPUs. DGX GB200: one ConnectX-7 400 Gb/s per GPU.
    "gb200": chip({"bf16": 2500 * T, "fp16": 2500 * T, "fp8": 5000 * T, "fp4": 10000 * T}, 186 * GB, 8e12, 1200,
                  1800 * GB / 2, 72, 400 * Gbit),
    # NVIDIA GB300 NVL72 page: FP4 "1,440 | 1,080 PFLOPS" per rack -> 15 dense per GPU; Blackwell Ultra
    # datasheet GB300: FP8 10, BF16 5 PFLOPS sparse -> 5 / 2.5 dense, 279 GB, 8 TB/s, up to 1,400 W;
    # NVLink5 1.8 TB/s, 72 GPUs; ConnectX-8 800 Gb/s per GPU.
    "gb300": chip({"bf16": 2500 * T, "fp16": 2500 * T, "fp8": 5000 * T, "fp4": 15000 * T}, 279 * GB, 8e12, 1400,
                  1800 * GB / 2, 72, 800 * Gbit),
    # AMD MI300X product page: FP16/BF16 1,307.4, OCP-FP8 2,614.9 TFLOPS dense, 192 GB HBM3, 5.3 TB/s, 750 W peak
    # TBP, 7 Infinity Fabric links x 128 GB/s (both directions) -> 7 x 64 one way.
    "mi300x": chip({"bf16": 1307.4 * T, "fp16": 1307.4 * T, "fp8": 2614.9 * T}, 192 * GB, 5.3e12, 750,
                   7 * 128 * GB / 2, 8),
    # AMD MI325X product page: MI300X compute, 256 GB HBM3E, 6 TB/s, 1000 W peak TBP, same Infinity Fabric.
    "mi325x": chip({"bf16": 1307.4 * T, "fp16": 1307.4 * T, "fp8": 2614.9 * T}, 256 * GB, 6e12, 1000,
                   7 * 128 * GB / 2, 8),
    # AMD MI355X product page: FP16/BF16 2.5, OCP-FP8 5 PFLOPS dense (10.1 with sparsity), MXFP4 10.1 PFLOPS,
    # 288 GB HBM3E, 8 TB/s, 1400 W TBP, 7 Infinity Fabric links x 153 GB/s (both directions).
    "mi355x": chip({"bf16": 2500 * T, "fp16": 2500 * T, "fp8": 5000 * T, "fp4": 10100 * T}, 288 * GB, 8e12, 1400,
                   7 * 153 * GB / 2, 8),
    # CANN Ascend910B2.ini: 24 cube cores x 16^3 MAC x 2 x 1.8 GHz = 353.9 TFLOPS FP16/BF16; 64 GB HBM2e,
    # 1.6 TB/s (cann/ops-nn#6033); 400 W is an unverified estimate; HCCS 7 x 56 = 392 GB/s read as both
    # directions; Atlas 800T A2 has 8 NPUs.
    "ascend-910b": chip({"bf16": 353.9 * T, "fp16": 353.9 * T}, 64 * GB, 1.6e12, 400, 7 * 56 * GB / 2, 8),
    # Zuo et al. 2025, arXiv 2506.12708 sec. 3: 910C 752 TFLOPS BF16, 128 GB, 3.2 TB/s, UB > 392 GB/s
    # unidirectional to all 384 NPUs, RDMA 400 Gb/s unidirectional; 800 W is an estimate (2 x ~400 W dies).
    "ascend-910c": chip({"bf16": 752 * T, "fp16": 752 * T}, 128 * GB, 3.2e12, 800, 392 * GB, 384, 400 * Gbit),
    # Cloud TPU docs, v5p: 459 TFLOPS BF16 and FP8 (Google lists FP8 at the BF16 rate), 95 GiB, 2765 GB/s,
    # bidirectional ICI 1200 GB/s per chip, largest slice 6144 chips, DCN 50 Gb/s per chip;
    # 320 W estimated from TPU v4's measured 192 W max x 459/275.
    "tpu-v5p": chip({"bf16": 459 * T, "fp8": 459 * T}, 95 * GiB, 2765 * GB, 320, 1200 * GB / 2, 6144, 50 * Gbit),
    # Cloud TPU docs, v6e: 918 TFLOPS BF16 (TPU7x table: FP8 918), 32 GB, 1638 GB/s, bidirectional ICI
    # 800 GB/s per chip, 256-chip pod; 350 W estimated from Ironwood's estimate and Google's 2x perf/W.
    "tpu-v6e": chip({"bf16": 918 * T, "fp8": 918 * T}, 32 * GB, 1638 * GB, 350, 800 * GB / 2, 256),
    # Cloud TPU docs, TPU7x: 2307 TFLOPS BF16, 4614 FP8, 192 GiB, bidirectional ICI 1200 GB/s per chip,
    # 9216-chip pod; Google blog: 7.37 TB/s; 850 W estimated from ~10 MW per 9,216-chip pod.
    "tpu-ironwood": chip({"bf16": 2307 * T, "fp8": 4614 * T}, 192 * GiB, 7.37e12, 850, 1200 * GB / 2, 9216),
    # NVIDIA A800 datasheet: the A100 80GB SXM's 312 TFLOPS BF16/FP16 dense, 19.5 FP32, 80 GB, 2,039 GB/s,
    # 400 W, with NVLink 400 GB/s (both directions); HDR 200 Gb/s per GPU as DGX A100.
    "a800": chip({"bf16": 312 * T, "fp16": 312 * T, "fp32": 19.5 * T}, 80 * GB, 2039 * GB, 400, 400 * GB / 2, 8,
                 200 * Gbit),
    # NVIDIA V100 SXM2 datasheet: 125 TFLOPS tensor FP16, 15.7 FP32, 32 GB HBM2, 900 GB/s, 300 W, NVLink2
    # 300 GB/s (both directions); DGX-1: 8 GPUs, 4 x 100 Gb/s EDR per 8 GPUs.
    "v100": chip({"fp16": 125 * T, "fp32": 15.7 * T}, 32 * GB, 900 * GB, 300, 300 * GB / 2, 8, 4 * 100 * Gbit / 8),
    # Cloud TPU docs: v3 123 TFLOPS BF16, 32 GiB, 900 GB/s, 1024-chip pod; scaling book: 4 ICI links x 1e11 B/s
    # one way; Jouppi et al. 2021 Table 1: TDP 450 W.
    "tpu-v3": chip({"bf16": 123 * T}, 32 * GiB, 900 * GB, 450, 4 * 1e11, 1024),
    # Cloud TPU docs, v4: 275 TFLOPS BF16, 32 GiB, 1200 GB/s, measured max 192 W, 4096-chip pod; scaling
    # book: 6 ICI links x 4.5e10 B/s one way.
    "tpu-v4": chip({"bf16": 275 * T}, 32 * GiB, 1200 * GB, 192, 6 * 4.5e10, 4096),
    # AMD MI250X data sheet: 383 TFLOPS FP16/BF16 matrix, 95.7 FP32 matrix, 128 GB HBM2e, 3.2768 TB/s, 560 W,
    # Infinity Fabric up to 800 GB/s aggregate (read as both directions); Frontier: 4 per node, one 200 Gb/s
    # Slingshot NIC each.
    "mi250x": chip({"bf16": 383 * T, "fp16": 383 * T, "fp32": 95.7 * T}, 128 * GB, 3.2768e12, 560, 800 * GB / 2, 4,
                   200 * Gbit),
}

# The format each chip really lacks in hardware, beyond "whatever is not listed" (tested below too).
MISSING_FORMATS = {
    "a100-sxm-80gb": ("fp8", "fp4"),  # Ampere: no FP8, no FP4
    "h100-sxm": ("fp4",), "h800": ("fp4",), "h100-pcie": ("fp4",), "h200": ("fp4",), "h20": ("fp4",),  # Hopper: no FP4
    "mi300x": ("fp4",), "mi325x": ("fp4",),  # CDNA3: no FP4
    "ascend-910b": ("fp8", "fp4"), "ascend-910c": ("fp8", "fp4"),  # Da Vinci (910 series): no FP8
    "tpu-v5p": ("fp4",), "tpu-v6e": ("fp4",), "tpu-ironwood": ("fp4",),
    "a800": ("fp8", "fp4"), "mi250x": ("fp8", "fp4"),  # Ampere, CDNA2
    "v100": ("bf16", "fp8", "fp4"),  # Volta: no BF16 either
    "tpu-v3": ("fp8", "fp4"), "tpu-v4": ("fp8", "fp4"),
}

BASE = "model: {{preset: llama-2-70b}}\ncontext: 4096\nhardware: {{preset: {name}}}\n"


@pytest.fixture
def load(write):
    """load(name, *overrides) -> Scenario using accelerator preset `name`."""

    def _load(name: str, *overrides: str):
        if "bf16" not in CHIPS.get(name, {}).get("peak", {"bf16": 0}):  # V100: fp16 only
            overrides = ("precision.compute=fp16", *overrides)
        return qwenfeas.load(write(BASE.format(name=name)), list(overrides))

    return _load


def test_every_accelerator_preset_is_checked_here():
    assert set(catalogue.preset_names("hardware.preset")) == set(CHIPS)


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_peak_flops_match_the_datasheet_at_every_listed_precision(load, name):
    for precision, flops in CHIPS[name]["peak"].items():
        s = load(name, f"precision.compute={precision}")
        assert s["hardware.peak_flops"] == pytest.approx(flops, rel=1e-12), precision


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_memory_bandwidth_and_power_match_the_datasheet(load, name):
    s, want = load(name), CHIPS[name]
    assert s["hardware.memory"] == pytest.approx(want["memory"], rel=1e-12)
    assert s["hardware.bandwidth"] == pytest.approx(want["bandwidth"], rel=1e-12)
    assert s["hardware.tdp"] == pytest.approx(want["tdp"], rel=1e-12)


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_scale_up_is_one_direction_and_scale_out_matches_the_platform(load, name):
    s, want = load(name), CHIPS[name]
    assert s["hardware.scale_up_bandwidth"] == pytest.approx(want["scale_up"], rel=1e-12)
    assert s["hardware.scale_up_size"] == want["scale_up_size"]
    if want["scale_out"] is None:
        assert "hardware.scale_out_bandwidth" not in s
    else:
        assert s["hardware.scale_out_bandwidth"] == pytest.approx(want["scale_out"], rel=1e-12)


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_precisions_the_chip_lacks_are_refused(load, name):
    lacking = [p for p in PRECISIONS if p not in CHIPS[name]["peak"]]
    assert set(MISSING_FORMATS.get(name, ())) <= set(lacking)
    for precision in lacking:
        with pytest.raises(QwenfeasError, match=f"no dense {precision} peak"):
            load(name, f"precision.compute={precision}")


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_every_accelerator_preset_names_its_source(load, name):
    s = load(name)
    assert s["hardware.source"].strip()
    assert s.origins["hardware.memory"] == f"preset {name}"


@pytest.mark.parametrize(("name", "vendor_bidirectional"), [
    ("a100-sxm-80gb", 600 * GB),  # NVLink3
    ("h100-sxm", 900 * GB),  # NVLink4: 18 links x 50 GB/s
    ("h800", 400 * GB),  # NVLink cut for export: 400 GB/s
    ("h200", 900 * GB),
    ("h20", 900 * GB),
    ("b200", 1800 * GB),  # NVLink5
    ("b300", 1800 * GB),
    ("gb200", 1800 * GB),
    ("gb300", 1800 * GB),
    ("tpu-v5p", 1200 * GB),  # "Bidirectional ICI bandwidth per chip"
    ("tpu-v6e", 800 * GB),
    ("tpu-ironwood", 1200 * GB),
])
def test_scale_up_bandwidth_is_half_the_vendor_bidirectional_figure(load, name, vendor_bidirectional):
    assert load(name)["hardware.scale_up_bandwidth"] == pytest.approx(vendor_bidirectional / 2, rel=1e-12)


def test_h100_nvlink_is_450_gigabytes_per_second_one_way(load):
    assert load("h100-sxm")["hardware.scale_up_bandwidth"] == 450e9


def test_tpu_memory_is_in_gibibytes(load):
    assert load("tpu-v5p")["hardware.memory"] == 95 * 2**30
    assert load("tpu-ironwood")["hardware.memory"] == 192 * 2**30


# --- facility and grid presets ------------------------------------------------------------------

FACILITIES = {  # a facility sets the PUE only: IT overhead belongs to the system (hardware.system_power)
    # Google data-centre efficiency page: fleet PUE 1.10.
    "hyperscale": {"pue": 1.1},
    # Uptime Institute Global Data Center Survey 2024: average PUE 1.56.
    "global-average": {"pue": 1.56},
}

GRIDS = {
    # MEE & NBS 2023 national electricity CO2 factor 0.5306 kg/kWh; China Briefing 2024 industrial ~$0.088/kWh.
    "china": {"carbon": 0.5306, "electricity": 0.088},
    # EIA FAQ id=74: 0.81 lb = 0.367 kg CO2/kWh (2023); EIA: industrial 8.06 cents/kWh (2023).
    "us": {"carbon": 0.367, "electricity": 0.0806},
    # EEA: 2023 intensity 58% below 1990's 510 g -> ~0.21 kg CO2e/kWh; Eurostat non-household ~EUR 0.19 = $0.205.
    "eu": {"carbon": 0.21, "electricity": 0.205},
}


def test_every_facility_and_grid_preset_is_checked_here():
    assert set(catalogue.preset_names("datacenter.preset")) == set(FACILITIES)
    assert set(catalogue.preset_names("datacenter.grid")) == set(GRIDS)


@pytest.mark.parametrize("facility", sorted(FACILITIES))
@pytest.mark.parametrize("grid", sorted(GRIDS))
def test_facility_and_grid_presets_fill_their_own_keys(write, facility, grid):
    path = write(BASE.format(name="h100-sxm") + f"datacenter: {{preset: {facility}, grid: {grid}}}\n")
    s = qwenfeas.load(path)
    for key, value in FACILITIES[facility].items():
        assert s[f"datacenter.{key}"] == pytest.approx(value), key
        assert s.origins[f"datacenter.{key}"] == f"preset {facility}"
    for key, value in GRIDS[grid].items():
        assert s[f"datacenter.{key}"] == pytest.approx(value), key
        assert s.origins[f"datacenter.{key}"] == f"preset {grid}"
    assert s["datacenter.source"].strip()
    assert s["datacenter.grid_source"].strip()


@pytest.mark.parametrize("grid", sorted(GRIDS))
def test_a_grid_alone_leaves_the_facility_defaults(write, grid):
    s = qwenfeas.load(write(BASE.format(name="h100-sxm") + f"datacenter: {{grid: {grid}}}\n"))
    assert s.origins["datacenter.pue"].startswith("default: ")
    assert s.origins["datacenter.overhead"].startswith("default: ")
    assert "datacenter.source" not in s


def test_keys_written_beside_a_facility_preset_win(write):
    path = write(BASE.format(name="h100-sxm") + "datacenter: {preset: global-average, grid: eu, pue: 1.3}\n")
    s = qwenfeas.load(path)
    assert s["datacenter.pue"] == 1.3
    assert "overhead" not in (catalogue.PRESET_DIR / "datacenters" / "global-average.yaml").read_text()


def test_presets_feed_the_energy_estimate(run):
    # 64 H100s for 1T tokens in a global-average facility: each GPU's share of a DGX H100 (10.2 kW / 8, NVIDIA
    # DGX H100 datasheet) times the survey PUE 1.56.
    report = run("model: {preset: llama-2-70b}\ncontext: 4096\ntokens: 1T\n"
                 "hardware: {preset: h100-sxm, count: 64}\ndatacenter: {preset: global-average, grid: china}\n")
    assert report["power.facility_watts"] == pytest.approx(64 * 10_200 / 8 * 1.56)
