"""Loading scenarios: layering of presets, extends, the file and --set; defaults and origins."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import qwenfeas
from qwenfeas.errors import QwenfeasError

MINIMAL = "model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm}\n"


def test_file_keys_override_the_preset_and_origins_say_where_values_came_from(write):
    path = write("model:\n  preset: llama-2-70b\n  layers: 40\ncontext: 4096\nhardware: {preset: h100-sxm}\n")
    s = qwenfeas.load(path)
    assert s["model.layers"] == 40
    assert s["model.hidden"] == 8192
    assert s.origins["model.layers"] == f"{path}:3"
    assert s.origins["model.hidden"] == "preset llama-2-70b"
    assert s.origins["hardware.mfu"].startswith("default: ")


def test_extends_layers_base_then_file_then_set(write):
    write("model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm, count: 64}\n", "base.yaml")
    path = write("extends: base.yaml\nname: child\nhardware: {count: 128}\ntokens: 1T\n", "child.yaml")
    s = qwenfeas.load(path, ["hardware.count=256"])
    assert s.name == "child"
    assert s["context"] == 4096
    assert s["hardware.count"] == 256
    assert s.origins["hardware.count"] == "--set"
    assert qwenfeas.load(path)["hardware.count"] == 128


def test_null_removes_an_inherited_value(write):
    path = write(MINIMAL + "tokens: 1T\n")
    s = qwenfeas.load(path, ["tokens=null", "hardware.count=8"])
    assert "tokens" not in s


def test_set_can_switch_the_preset(write):
    s = qwenfeas.load(write(MINIMAL), ["model.preset=qwen3-235b-a22b"])
    assert s["model.layers"] == 94
    assert s["model.qk_norm"] is True


def test_head_dim_and_kv_heads_are_derived(write):
    s = qwenfeas.load(write("model: {layers: 2, hidden: 1024, heads: 8, ffn_hidden: 10, vocab: 5}\ncontext: 8\n"
                            "hardware: {preset: h100-sxm}\n"))
    assert s["model.head_dim"] == 128
    assert s["model.kv_heads"] == 8
    assert s["model.attention.kind"] == "mha"


def test_yaml_11_traps_are_read_as_the_user_meant(write):
    # PyYAML would read 7e10 as text, 017 as 15 (octal) and `no` as false.
    path = write('model: {preset: llama-2-70b, params: 7e10}\ncontext: "4096"\ntokens: 017T\n'
                 "name: no\nhardware: {preset: h100-sxm, count: 8}\n")
    s = qwenfeas.load(path)
    assert s["model.params"] == 7e10
    assert s["context"] == 4096
    assert s["tokens"] == 17e12
    assert s.name == "no"


def test_name_defaults_to_the_file_stem(write):
    assert qwenfeas.load(write(MINIMAL, "my-plan.yaml")).name == "my-plan"


def test_reads_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(MINIMAL))
    s = qwenfeas.load("-")
    assert s.name == "stdin" and s.file == "<stdin>"


def test_every_problem_in_a_file_is_reported_together(write):
    path = write("model: {preset: llama-2-70b, layrs: 3}\ncontext: -1\nhardware: {preset: h100-sxm, mfu: 2}\n")
    with pytest.raises(QwenfeasError) as info:
        qwenfeas.load(path)
    keys = [p.key for p in info.value.problems]
    assert keys == ["model.layrs", "context", "hardware.mfu"]
    assert [p.line for p in info.value.problems] == [1, 2, 3]


def test_missing_precision_on_a_preset_names_what_it_has(write):
    with pytest.raises(QwenfeasError) as info:
        qwenfeas.load(write(MINIMAL + "precision: {compute: fp4}\n"))
    problem = info.value.problems[0]
    assert problem.key == "precision.compute"
    assert "bf16" in problem.message and "fp8" in problem.message


def test_context_beyond_the_model_window_warns(write):
    s = qwenfeas.load(write(MINIMAL.replace("4096", "1M")))
    assert any("exceeds the model's window of 4,096" in w for w in s.warnings)


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_configs_load_and_estimate(path):
    report = qwenfeas.estimate(qwenfeas.load(path))
    assert report["model.params"] > 0
    assert report["power.facility_watts"] > 0


def test_every_preset_loads_and_cites_a_source(write):
    from qwenfeas.scenario import catalogue

    for name in catalogue.preset_names("model.preset"):
        s = qwenfeas.load(write(f"model: {{preset: {name}}}\ncontext: 1000\nhardware: {{preset: h100-sxm}}\n"))
        assert s["model.source"]
    for name in catalogue.preset_names("hardware.preset"):
        compute = "fp16" if name == "v100" else "bf16"  # Volta has no bf16
        s = qwenfeas.load(write(f"model: {{preset: llama-2-70b}}\ncontext: 1000\nhardware: {{preset: {name}}}\n"
                                f"precision: {{compute: {compute}}}\n"))
        assert s["hardware.source"]
        assert s["hardware.peak_flops"] > 0
