"""Hostile and accidental input (issue 15): bounded reads, special files, alias bombs, input errors that
used to be internal errors. Each must end in a clear one-line error (exit 2), never a hang, a traceback,
an exit 70, or a device replaced by a regular file.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenfeas.cli import app
from qwenfeas.errors import MAX_PROBLEMS, MAX_QUOTED
from qwenfeas.scenario.source import MAX_INPUT_BYTES

ROOT = Path(__file__).parent.parent
DEFAULT = str(ROOT / "configs" / "default.yaml")
VALID = "model: {preset: llama-2-70b}\ncontext: 4096\nhardware: {preset: h100-sxm}\n"
HANG_GUARD = 120  # seconds: only so that a regression fails instead of hanging the suite; never asserted


def invoke(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def run(*args, cwd=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "qwenfeas", *args], capture_output=True, cwd=cwd, input=stdin,
                          timeout=HANG_GUARD, env={"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1"})


def one_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


# --- bounded reads ----------------------------------------------------------------------------------

def test_a_device_as_scenario_is_read_only_up_to_the_cap():
    one_error(invoke("estimate", "/dev/zero"), "/dev/zero", "larger than 4 MiB")


def test_a_regular_file_over_the_cap_is_refused_from_its_size(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)  # sparse: nothing is written, the size alone refuses it
    one_error(invoke("estimate", str(big)), "larger than 4 MiB")


@pytest.mark.parametrize("base", ["/dev/zero", "/dev/urandom"])
def test_extends_refuses_a_device(tmp_path, base):
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"extends: {base}\ncontext: 4096\n")
    one_error(invoke("estimate", str(plan)), "extends", "not a regular file")


def test_extends_to_a_fifo_without_a_writer_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "base.yaml")
    (tmp_path / "plan.yaml").write_text("extends: base.yaml\ncontext: 4096\n")
    result = run("estimate", "plan.yaml", cwd=tmp_path)
    assert result.returncode == 2 and b"not a regular file" in result.stderr


def test_a_fifo_without_a_writer_as_scenario_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "plan.yaml")
    result = run("estimate", "plan.yaml", cwd=tmp_path)
    assert result.returncode == 2 and b"empty" in result.stderr


def test_hf_config_from_a_device_is_refused():
    one_error(invoke("estimate", DEFAULT, "--hf-config", "/dev/zero"), "not a regular file")


def test_invalid_utf8_on_stdin_is_an_input_error():
    result = run("estimate", "-", stdin=b"context: \xff\xfe 4096\n")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[0].startswith("<stdin>: is not UTF-8 text")


# --- alias expansion ------------------------------------------------------------------------------

def _alias_bomb(levels: int, width: int = 10) -> str:
    lines = ["a0: &a0 {k: 1}"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} {{" + ", ".join(f"k{j}: *a{level - 1}" for j in range(width)) + "}")
    return "\n".join(lines) + f"\nmodel: *a{levels}\n"


@pytest.mark.parametrize("levels", [6, 8, 30])
def test_nested_aliases_through_extends_are_refused_without_expanding_them(tmp_path, levels):
    (tmp_path / "base.yaml").write_text(_alias_bomb(levels))
    (tmp_path / "plan.yaml").write_text("extends: base.yaml\ncontext: 4096\n")
    one_error(invoke("estimate", str(tmp_path / "plan.yaml")), "more than 100,000 values once its aliases are expanded")


def test_a_few_shared_aliases_are_still_fine(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("shared: &h {preset: h100-sxm}\n" if False else
                    "model: {preset: llama-2-70b}\ncontext: &c 4096\ntraining: {sequence: *c}\n"
                    "hardware: {preset: h100-sxm}\n")
    assert invoke("estimate", str(path), "--field", "training.sequence").stdout.strip() == "4096"


# --- writing never replaces a special file ----------------------------------------------------------

def test_junit_to_dev_null_leaves_the_device():
    before = os.stat("/dev/null")
    result = run("check", DEFAULT, "--junit", "/dev/null")
    assert result.returncode in (0, 1), result.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_junit_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    (tmp_path / "report.xml").write_text("old")
    os.chmod(tmp_path / "report.xml", 0o640)
    os.symlink("report.xml", tmp_path / "link.xml")
    result = run("check", DEFAULT, "--junit", "link.xml", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert os.path.islink(tmp_path / "link.xml")
    assert (tmp_path / "report.xml").read_text().startswith("<?xml")
    assert stat.S_IMODE(os.stat(tmp_path / "report.xml").st_mode) == 0o640  # a replaced file keeps its mode


def test_junit_to_a_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "report.xml"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the command starts
    try:
        result = run("check", DEFAULT, "--junit", str(fifo))
        received = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert result.returncode in (0, 1), result.stderr
    assert received.startswith(b"<?xml") and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_junit_to_a_fifo_nobody_reads_fails_before_any_work(tmp_path):
    os.mkfifo(tmp_path / "report.xml")
    result = run("check", DEFAULT, "--junit", "report.xml", cwd=tmp_path)
    assert result.returncode == 2 and b"nobody reads" in result.stderr and result.stdout == b""


# --- input errors that used to be internal errors -----------------------------------------------------

@pytest.mark.parametrize("model_type", [["llama"], {}, 7])  # null: test_cli_first_use.py ("empty (null)")
def test_a_config_json_with_a_bad_model_type(tmp_path, model_type):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": model_type}))
    one_error(invoke("estimate", DEFAULT, "--hf-config", str(config)), "model_type", "is not supported")


def test_full_attention_interval_zero_is_not_a_crash(tmp_path):
    """An interval of 0 (it used to divide by zero) derives no linear-attention layers: a complete
    config estimates as 48 full-attention layers; one without its MoE fields is an input error."""
    fields = {"model_type": "qwen3_next", "num_hidden_layers": 48, "full_attention_interval": 0, "hidden_size": 2048,
              "num_attention_heads": 16, "vocab_size": 151936}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(fields))
    one_error(invoke("estimate", DEFAULT, "--hf-config", str(config)), "model.moe.experts: missing")
    config.write_text(json.dumps({**fields, "num_key_value_heads": 2, "head_dim": 256, "num_experts": 512,
                                  "num_experts_per_tok": 10, "moe_intermediate_size": 512}))
    result = invoke("estimate", DEFAULT, "--hf-config", str(config), "--format", "json")
    assert result.exit_code == 0, result.stderr
    # every layer attends: 2 x 48 layers x 16 heads x (256 + 256) FLOPs per key (none is linear attention)
    assert json.loads(result.stdout)["model"]["attention_flops_per_key"] == 2 * 48 * 16 * (256 + 256)


def test_a_config_json_is_read_as_json(tmp_path):
    """Escaped emoji and a 1,024-character key are valid JSON that PyYAML refuses."""
    fields = {"model_type": "qwen3", "num_hidden_layers": 28, "hidden_size": 1024, "num_attention_heads": 16,
              "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072, "vocab_size": 151936,
              "tie_word_embeddings": True, "comment": "\U0001F600", "k" * 1024: 1}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(fields))  # ensure_ascii: the emoji is written as a surrogate pair escape
    plan = tmp_path / "plan.yaml"
    plan.write_text("context: 4096\nhardware: {preset: h100-sxm}\n")
    result = invoke("estimate", str(plan), "--hf-config", str(config), "--field", "model.params")
    assert result.exit_code == 0, result.output
    # Qwen3-0.6B's published shape: 596M parameters with tied embeddings (its model card says 0.6B)
    assert 0.59e9 < float(result.stdout) < 0.60e9


def test_a_symlink_loop_in_extends(tmp_path):
    os.symlink("b.yaml", tmp_path / "a.yaml")
    os.symlink("a.yaml", tmp_path / "b.yaml")
    (tmp_path / "plan.yaml").write_text("extends: a.yaml\n")
    one_error(invoke("estimate", str(tmp_path / "plan.yaml")), "extends")


def test_extends_cannot_be_set_and_junit_cannot_be_empty():
    one_error(invoke("estimate", DEFAULT, "--set", "extends=x.yaml"), "extends: cannot be set with --set")
    one_error(invoke("check", DEFAULT, "--junit", ""), "--junit: needs a file name")


def test_the_attention_crossover_is_never_negative():
    """C = 4N/a - 1 (PaLM, App. B): N = 46.8e9 matmul weights, a = 3.08e6 FLOP per key gives 60,779 tokens;
    N = 1,000 (a count far below what the architecture implies) would give -0.9987: clamped to 0."""
    import numpy as np

    from qwenfeas.formulas.flops import attention_crossover_tokens

    assert attention_crossover_tokens(46.8e9, 3.08e6) == pytest.approx(4 * 46.8e9 / 3.08e6 - 1)
    assert attention_crossover_tokens(1000, 3.08e6) == 0
    assert attention_crossover_tokens(np.array([1000.0, 46.8e9]), 3.08e6).tolist() == pytest.approx(
        [0, 4 * 46.8e9 / 3.08e6 - 1])


# --- messages ------------------------------------------------------------------------------------

def test_a_long_value_is_cut_in_the_error_line(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(VALID.replace("4096", "9" * 100_000 + "x"))
    result = invoke("estimate", str(path))
    one_error(result, "characters]")
    assert max(len(line) for line in result.stderr.splitlines()) < 3 * MAX_QUOTED + 100


def test_many_unknown_keys_are_counted_not_all_spelled_out(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(VALID + "".join(f"key{i}: 1\n" for i in range(5_000)))
    result = invoke("estimate", str(path))
    one_error(result, "more problems")
    assert len(result.stderr.splitlines()) <= 2 * MAX_PROBLEMS + 1


@pytest.mark.parametrize(("name", "text"), [
    ("plan.yaml", "".join(f"key{i}: 1\n" for i in range(50_000))),
    ("plan.yaml", "expect: [" + ", ".join(["x"] * 50_000) + "]\n"),
    ("config.json", "{" + ", ".join(f'"k{i}": {i}' for i in range(50_000)) + "}"),
])
def test_a_document_with_more_values_than_any_scenario_is_refused_before_parsing(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    one_error(invoke("estimate", str(path)), "the document is too large")


@pytest.mark.parametrize(("text", "hint"), [
    ("model: *nowhere\n", "define the anchor"),
    ("context: 4096\n---\ncontext: 8192\n", "one YAML document"),
    ("context: 'open\n", "close the quote"),
    ("%YAML 9.9\n---\ncontext: 1\n", None),
])
def test_a_yaml_error_has_a_fitting_hint_or_none(tmp_path, text, hint):
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    result = invoke("estimate", str(path))
    one_error(result, "not valid YAML")
    lines = result.stderr.splitlines()
    if hint is None:
        assert len(lines) == 1
    else:
        assert len(lines) == 2 and lines[1].startswith("  hint: ") and hint in lines[1]


@pytest.mark.parametrize("axis", ["context=1..1e12:log:1000", "parallel.micro_batch=1..4096:5"])
def test_sweeping_the_batch_shape_is_not_an_internal_error(axis):
    """Found by the fuzzer: the idle-replica note compared a swept array as one number (exit 70)."""
    result = invoke("sweep", str(ROOT / "configs" / "dense-70b-pretrain.yaml"), "-v", axis, "-f", "csv")
    assert result.exit_code == 0 and "internal error" not in result.stderr, result.stderr
