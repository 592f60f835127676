"""The estimate command: output formats, names of SCENARIO.md, explain, pipes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qwenfeas import __version__
from qwenfeas.cli import app

ROOT = Path(__file__).parent.parent
DEFAULT = str(ROOT / "configs" / "default.yaml")
PRETRAIN = str(ROOT / "configs" / "dense-70b-pretrain.yaml")
REQUIRED = [  # SCENARIO.md, "Output names": these must exist
    "model.params", "model.active_params", "training.flops", "training.seconds", "training.gpu_hours",
    "training.energy_kwh", "training.co2_kg", "training.cost_usd", "kv_cache.bytes_per_token",
    "kv_cache.bytes_per_sequence", "memory.weights_bytes", "inference.flops_per_token", "power.facility_watts",
]


def invoke(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def test_json_holds_every_required_name_as_a_plain_number():
    result = invoke("estimate", DEFAULT, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "qwen3-max-class-pretrain"
    for name in REQUIRED:
        section, key = name.split(".")
        assert isinstance(data[section][key], (int, float)), name


def test_json_is_a_list_for_several_files_and_csv_has_dotted_headers():
    result = invoke("estimate", DEFAULT, PRETRAIN, "-f", "json")
    data = json.loads(result.stdout)
    assert [d["name"] for d in data] == ["qwen3-max-class-pretrain", "llama-2-70b-pretrain"]
    rows = list(csv.DictReader(io.StringIO(invoke("estimate", DEFAULT, PRETRAIN, "-f", "csv").stdout)))
    assert len(rows) == 2
    assert set(REQUIRED) <= set(rows[0])
    for row, record in zip(rows, data, strict=True):
        assert float(row["training.flops"]) == record["training"]["flops"]


def test_yaml_output_matches_json():
    as_json = json.loads(invoke("estimate", PRETRAIN, "-f", "json").stdout)
    as_yaml = yaml.safe_load(invoke("estimate", PRETRAIN, "-f", "yaml").stdout)
    assert as_yaml == as_json


def test_table_shows_every_section_in_human_units():
    result = invoke("estimate", PRETRAIN)
    assert result.exit_code == 0
    for title in ("Model", "Training", "Inference", "KV cache", "Memory", "Power & cost"):
        assert title in result.stdout
    assert "328 kB" in result.stdout  # Llama-2-70B KV cache per token, 327,680 B
    assert "\x1b[" not in result.stdout  # no colour codes when not on a terminal


def test_explain_substitutes_values_and_cites_sources():
    result = invoke("estimate", PRETRAIN, "--explain")
    assert "kv_cache.bytes_per_token" in result.stdout
    assert "2 × 80 × 8 × 128 × 2 B" in result.stdout  # the formula with Llama-2-70B's values
    assert "Pope et al. 2022" in result.stdout
    assert "default: " in result.stdout  # inputs say where defaults come from
    data = json.loads(invoke("estimate", PRETRAIN, "-f", "json", "--explain").stdout)
    detail = data["explain"]["training.seconds"]
    assert detail["formula"].startswith("training.flops / (hardware.count")
    assert "PaLM" in detail["source"]
    line = Path(PRETRAIN).read_text().splitlines().index("  count: 2048") + 1
    assert data["inputs"]["hardware.count"] == {"value": 2048, "from": f"{PRETRAIN}:{line}"}


def test_set_override_changes_the_estimate():
    base = json.loads(invoke("estimate", PRETRAIN, "-f", "json").stdout)
    doubled = json.loads(invoke("estimate", PRETRAIN, "-f", "json", "--set", "hardware.count=4096").stdout)
    assert doubled["training"]["seconds"] == pytest.approx(base["training"]["seconds"] / 2)
    for report, count in ((base, 2048), (doubled, 4096)):  # reserved: the whole fleet for the wall-clock time
        assert report["training"]["gpu_hours"] == pytest.approx(count * report["training"]["wall_clock_seconds"] / 3600)


def test_stdin_dash():
    text = Path(PRETRAIN).read_text()
    result = invoke("estimate", "-", "-f", "json", input=text)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["name"] == "llama-2-70b-pretrain"


def test_version_and_help():
    assert invoke("--version").stdout.strip() == f"qwenfeas {__version__}"
    assert "Examples" in invoke("estimate", "--help").stdout


def test_installed_entry_points_and_a_closed_pipe():
    python = sys.executable
    module = subprocess.run([python, "-m", "qwenfeas", "estimate", PRETRAIN, "-f", "json"],
                            capture_output=True, text=True, check=True)
    assert json.loads(module.stdout)["model"]["params"] == 68_976_648_192
    # A reader that stops early (| head -c1) is not an error and prints no traceback.
    script = f'"{python}" -m qwenfeas estimate "{DEFAULT}" "{PRETRAIN}" -f csv | head -c1'
    piped = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
