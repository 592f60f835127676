"""The presets command: listing, JSON for scripts, show with sources, did-you-mean."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qwenfeas.cli import app
from qwenfeas.scenario import catalogue


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_lists_every_kind_as_tables():
    result = invoke("presets")
    assert result.exit_code == 0, result.output
    for title in ("models", "accelerators", "datacenters", "grids"):
        assert title in result.stdout
    assert "qwen3-235b-a22b" in result.stdout and "h200" in result.stdout


def test_json_rows_hold_computed_counts_and_sources():
    models = json.loads(invoke("presets", "--kind", "models", "--format", "json").stdout)
    assert [m["name"] for m in models] == catalogue.preset_names("model.preset")
    llama = next(m for m in models if m["name"] == "llama-2-70b")
    assert llama["params"] == 68_976_648_192  # computed, see test_published_models.py
    assert llama["kv_bytes_per_token"] == 327_680
    assert all(m["source"] for m in models)
    everything = json.loads(invoke("presets", "--format", "json").stdout)
    assert set(everything) == {"models", "accelerators", "systems", "datacenters", "grids"}


def test_show_prints_the_preset_file_with_its_source():
    result = invoke("presets", "show", "llama-2-70b")
    assert result.exit_code == 0
    assert "source:" in result.stdout and "Touvron et al. 2023" in result.stdout
    data = json.loads(invoke("presets", "show", "llama-2-70b", "--format", "json").stdout)
    assert data["kind"] == "models" and data["layers"] == 80


def test_show_suggests_a_close_name_and_exits_2():
    result = invoke("presets", "show", "qwen3-253b-a22b")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "did you mean 'qwen3-235b-a22b'" in result.stderr
