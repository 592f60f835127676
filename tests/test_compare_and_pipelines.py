"""`compare` side by side, and the pipeline helpers: --field, JSON Lines, stdin."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parent.parent / "configs"
PRETRAIN = str(CONFIGS / "dense-70b-pretrain.yaml")
DEFAULT = str(CONFIGS / "default.yaml")


def _run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "qwenfeas", *args], capture_output=True, text=True, input=stdin,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


def test_compare_with_a_variant_gives_datasheet_ratios():
    """Same FLOPs, count and MFU: time scales with 1 / dense bf16 peak. A100 312 TFLOP/s, B200 2,250
    (NVIDIA datasheets); power with TDP, 400 W against 1,000 W."""
    result = _run("compare", PRETRAIN, "--with", "hardware.preset=b200", "-f", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["scenarios"]] == ["llama-2-70b-pretrain",
                                                       "llama-2-70b-pretrain [hardware.preset=b200]"]
    seconds = data["outputs"]["training.seconds"]
    assert seconds["unit"] == "s"
    assert seconds["ratios"][1] == pytest.approx(312 / 2250, rel=1e-12)
    assert data["outputs"]["power.accelerator_watts"]["ratios"][1] == pytest.approx(1000 / 400, rel=1e-12)
    assert data["outputs"]["model.params"]["values"] == [68_976_648_192, 68_976_648_192]


def test_compare_two_files_as_csv_and_table():
    result = _run("compare", PRETRAIN, DEFAULT, "-f", "csv")
    rows = {r["output"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    ratio = rows["model.params"]["qwen3-max-class-pretrain / llama-2-70b-pretrain"]
    assert float(ratio) == pytest.approx(int(rows["model.params"]["qwen3-max-class-pretrain"]) / 68_976_648_192)
    table = _run("compare", PRETRAIN, "--with", "hardware.mfu=0.5", "--with", "hardware.count=4096")
    assert table.returncode == 0
    assert "verdict (binding)" in table.stdout
    # 2,048 -> 4,096 GPUs halves the time
    # at 80 columns the ratios come in a later block of the table: the last training.seconds row
    line = [row for row in table.stdout.splitlines() if row.strip().startswith("training.seconds")][-1]
    assert line.rstrip().endswith("0.5×")


def test_compare_needs_two_scenarios():
    result = _run("compare", PRETRAIN)
    assert result.returncode == 2
    assert "nothing to compare with" in result.stderr


def test_field_prints_bare_numbers_one_per_file():
    result = _run("estimate", PRETRAIN, PRETRAIN, "--field", "model.params", "--set", "hardware.count=1024")
    assert result.stdout == "68976648192\n68976648192\n"
    hours = _run("estimate", PRETRAIN, "--field", "training.gpu_hours").stdout
    goodput = float(_run("estimate", PRETRAIN, "--field", "training.goodput").stdout)
    # 6 x 68,714,504,192 matmul weights x 2e12 tokens at 43% of 312 TFLOP/s, in hours, over the goodput:
    # published GPU-hours are the fleet's wall-clock hours
    assert float(hours) == pytest.approx(6 * 68_714_504_192 * 2e12 / (0.43 * 312e12) / goodput / 3600, rel=1e-12)
    assert _run("estimate", PRETRAIN, "--field", "hardware.count").stdout == "2048\n"


def test_field_misspelt_is_an_input_error():
    result = _run("estimate", PRETRAIN, "--field", "training.secnds")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "did you mean 'training.seconds'" in result.stderr


def test_json_lines_one_object_per_file_from_stdin_and_a_file():
    text = Path(PRETRAIN).read_text()
    result = _run("estimate", "-", DEFAULT, "-f", "jsonl", stdin=text)
    lines = result.stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["llama-2-70b-pretrain", "qwen3-max-class-pretrain"]
    checks = _run("check", PRETRAIN, DEFAULT, "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line)["feasible"] for line in checks] == [True, True]


def test_compare_variants_of_a_scenario_read_from_stdin():
    result = _run("compare", "-", "--with", "hardware.count=4096", "-f", "json", stdin=Path(PRETRAIN).read_text())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["training.seconds"]["ratios"] == [1, 0.5]
